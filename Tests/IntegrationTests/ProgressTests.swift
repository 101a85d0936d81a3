import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Progress is drawn on a terminal only: never on a non-terminal, under -q, or with --json.
@Suite("Progress on a terminal", .enabled(if: TestDatabase.isAvailable), .serialized)
struct ProgressTests {
    @Test("a run and a report draw their stages on a pseudo-terminal; not with --json, -q, or when standard error is not a terminal")
    func terminalOnly() throws {
        let lists = try CodeListFixture.referenceDirectory().path
        let cohort = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
        try TestDatabase.withSchema { db in
            try RunScenario.extract(["A81001"], ["p1", "p2"]).write(to: db)
            let out = try TestDatabase.temporaryDirectory("progress")
            let run = try PseudoTerminal.run(["run", cohort, "--codelists", lists, "--out", out.appendingPathComponent("a").path, "--issue"],
                                             schema: db.schema)
            #expect(run.status == 0, "\(run.terminal)")
            #expect(run.terminal.contains("run: evaluating chronic-pain-out-of-work over 1 practice(s), one statement"), "\(run.terminal)")
            #expect(run.terminal.contains("run: recording the run"), "\(run.terminal)")
            #expect(run.terminal.contains("\r\u{1B}[K"), "drawn in place")
            #expect(run.stdout.contains("invited: 2"), "the result stays on standard output")
            let report = try PseudoTerminal.run(["report", "yields", "--out", out.appendingPathComponent("r").path], schema: db.schema)
            #expect(report.status == 0, "\(report.terminal)")
            #expect(report.terminal.contains("report yields: reading the runs' yields and outcomes"), "\(report.terminal)")

            let json = try PseudoTerminal.run(["run", cohort, "--codelists", lists, "--out", out.appendingPathComponent("b").path, "--dry-run", "--json"],
                                              schema: db.schema)
            #expect(json.status == 0, "\(json.terminal)")
            #expect(!json.terminal.contains("run: evaluating"), "\(json.terminal)")
            #expect(!json.stdout.contains("\r") && (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil)
            let quiet = try PseudoTerminal.run(["run", cohort, "--codelists", lists, "--out", out.appendingPathComponent("c").path, "--dry-run", "-q"],
                                               schema: db.schema)
            #expect(quiet.status == 0 && !quiet.terminal.contains("run: evaluating"), "\(quiet.terminal)")
            // Not a terminal (a pipe or a file, as under cron): nothing drawn.
            let plain = try RecruitCLI.run(["run", cohort, "--codelists", lists, "--out", out.appendingPathComponent("d").path, "--dry-run"],
                                           schema: db.schema)
            #expect(plain.status == 0 && !plain.stderr.contains("run: evaluating") && !plain.stderr.contains("\u{1B}[K"), "\(plain.stderr)")
        }
    }
}
