import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// No log line, message or command output names a patient (hardening issue):
/// a synthetic extract with planted bad rows goes through the whole pipeline
/// with `--verbose`, and every patient id of the extract is looked for in
/// everything every command printed, and in the exported audit trail.
@Suite("Disclosure", .enabled(if: TestDatabase.isAvailable), .serialized)
struct DisclosureTests {
    @Test("the whole pipeline, verbose, prints no patient id, and the audit trail holds none")
    func noPatientIDAnywhere() throws {
        let dir = try TestDatabase.temporaryDirectory("disclosure")
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = TestDatabase.repositoryRoot
        let cohort = root.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
        try TestDatabase.withSchema { db in
            var outputs: [(String, String)] = []
            func cli(_ args: [String], expect status: Int32 = 0) throws {
                let r = try RecruitCLI.run(args, schema: db.schema, currentDirectory: root)
                #expect(r.status == status, "recruit \(args.joined(separator: " ")): \(r.allOutput)")
                outputs.append((args.joined(separator: " "), r.allOutput))
            }
            let extract = dir.appendingPathComponent("extract").path
            try cli(["synth", "--out", extract, "--patients", "3000", "--practices", "3", "--seed", "11",
                     "--inject-errors", "0.002", "--verbose"])
            try cli(["load", extract, "--verbose", "--dry-run"])
            try cli(["load", extract, "--verbose", "--json"])
            let run = dir.appendingPathComponent("run").path
            try cli(["run", cohort, "--out", run, "--issue", "--verbose", "--json"])
            try cli(["run", cohort, "--out", dir.appendingPathComponent("dry").path, "--dry-run", "--verbose"])
            try cli(["runs", "list", "--verbose", "--json"])
            try cli(["runs", "show", "1", "--verbose"])
            try cli(["run", "--reproduce", "1", "--out", dir.appendingPathComponent("again").path, "--verbose"])
            try cli(["report", "yields", "--out", dir.appendingPathComponent("report").path, "--verbose"])
            try cli(["audit", "show", "--json", "--verbose"])
            let export = dir.appendingPathComponent("audit.jsonl").path
            try cli(["audit", "export", export, "--verbose"])
            try cli(["audit", "verify", "--verbose"])
            try cli(["db", "status", "--verbose"])

            // The run invited somebody, so the check below has ids to look for in its output.
            let invitations = try String(contentsOfFile: run + "/invitations.csv", encoding: .utf8)
            #expect(invitations.split(separator: "\n").count > 1)
            // Every patient id of the extract (ids of digits only could match a count or a hash by chance).
            let patients = try String(contentsOfFile: extract + "/patients.csv", encoding: .utf8)
            let ids = patients.split(separator: "\n").dropFirst()
                .compactMap { $0.split(separator: ",", omittingEmptySubsequences: false).first.map(String.init) }
                .filter { $0.count >= 6 && $0.contains { $0.isLetter } }
            #expect(ids.count > 2500)
            let audit = try String(contentsOfFile: export, encoding: .utf8)
            for (command, text) in outputs + [("the exported audit trail", audit)] {
                let leaked = ids.filter { text.contains($0) }
                #expect(leaked.count == 0, "\(command) printed patient ids")  // the count only: a failure must not print them either
            }
        }
    }
}
