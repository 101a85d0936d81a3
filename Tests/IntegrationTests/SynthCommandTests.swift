import Foundation
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit synth` as a user or a script meets it.
@Suite("recruit synth")
struct SynthCommandTests {
    static let codeLists = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("codelists").path

    func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("recruit-synth-cli-\(UUID().uuidString)")
    }

    @Test("writes an extract and prints a summary; --json gives one object")
    func writesExtract() throws {
        let out = tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        let human = try RecruitCLI.run(["synth", "--out", out.path, "--patients", "1500", "--practices", "2", "--codelists", Self.codeLists])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("Wrote canonical extract to \(out.path)"))
        #expect(human.stdout.contains("1,500 patients in 2 practices"))
        // No progress bar when stderr is not a terminal: at most warnings.
        #expect(!human.stderr.contains("\r") && !human.stderr.contains("synth ["), "\(human.stderr)")
        #expect(human.stderr.split(separator: "\n").allSatisfy { $0.contains("warning") }, "\(human.stderr)")
        for name in ["extract.json", "patients.csv", "events.csv", "prescriptions.csv"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path))
        }
        let json = try RecruitCLI.run(["synth", "--out", out.path, "--patients", "1500", "--practices", "2", "--codelists", Self.codeLists,
                                       "--json", "--profile", "cprd-gold"])
        #expect(json.status == 0)
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        #expect(value["patients"] == .int(1500))
        #expect(value["profile"] == .string("cprd-gold"))
        // The folder now holds the cprd-gold extract only.
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(names == ["Clinical.txt", "Patient.txt", "Therapy.txt", "extract.json", "medical.txt", "product.txt"])
    }

    @Test("--truth writes every person's work status beside the extract, the same for the same seed, never inside it")
    func truthFile() throws {
        let root = tempDir()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("extract"), truth = root.appendingPathComponent("extract.truth.csv")
        let args = ["synth", "--out", out.path, "--patients", "3000", "--practices", "2", "--codelists", Self.codeLists, "--truth", truth.path]
        let result = try RecruitCLI.run(args)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("work status written to \(truth.path)"), "\(result.stdout)")
        let text = try String(contentsOf: truth, encoding: .utf8)
        let rows = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.first == ["patient_id", "practice_id", "work_status"])
        let patients = try String(contentsOf: out.appendingPathComponent("patients.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(2).map(String.init) }
        // One row per patient, with the extract's own patient and practice ids, in its order.
        #expect(rows.dropFirst().map { Array($0.prefix(2)) } == patients)
        let statuses = Set(rows.dropFirst().map { $0[2] })
        #expect(statuses.isSubset(of: Set(SyntheticWorkStatus.allCases.map(\.rawValue))))
        #expect(statuses.isSuperset(of: ["in_work", "out_of_work", "not_working_age", "not_registered"]), "\(statuses)")
        // Nothing of it in the extract folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["events.csv", "extract.json", "patients.csv", "prescriptions.csv"])
        // The same seed gives the same bytes.
        #expect(try RecruitCLI.run(args).status == 0)
        #expect(try String(contentsOf: truth, encoding: .utf8) == text)
    }

    @Test("a missing code list is skipped with a warning on stderr")
    func missingListWarns() throws {
        let out = tempDir(), lists = tempDir()
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: lists) }
        try FileManager.default.createDirectory(at: lists, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.codeLists + "/chronic-pain.csv", toPath: lists.appendingPathComponent("chronic-pain.csv").path)
        let result = try RecruitCLI.run(["synth", "--out", out.path, "--patients", "300", "--codelists", lists.path])
        #expect(result.status == 0)
        #expect(result.stderr.contains("code list cancer is missing"))
    }

    @Test("usage errors exit 2 with a message", arguments: [
        (["--extract-date", "31/10/2026"], "--extract-date must be a date"),
        (["--profile", "emis"], "--profile must be one of canonical, cprd-gold"),
        (["--patients", "0"], "--patients 0: must be at least 1"),
        (["--profile", "cprd-gold", "--inject-errors", "0.01"], "canonical profile only"),
        (["--inject-errors", "0.9"], "--inject-errors 0.9: must be a rate"),
        (["--codelists", "/nonexistent-recruit-codelists"], "no such folder"),
        (["--truth", "INSIDE/truth.csv"], "truth.csv: must be outside the extract folder"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let out = tempDir()
        var args = ["synth", "--out", out.path, "--patients", "10"]
        if !arguments.contains("--codelists") { args += ["--codelists", Self.codeLists] }
        let result = try RecruitCLI.run(args + arguments.map { $0.replacingOccurrences(of: "INSIDE", with: out.path) })
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("--help documents every option")
    func help() throws {
        let result = try RecruitCLI.run(["synth", "--help"])
        #expect(result.status == 0)
        for option in ["--out", "--patients", "--practices", "--seed", "--extract-date", "--profile", "--codelists", "--inject-errors", "--truth", "--json"] {
            #expect(result.stdout.contains(option), "\(option)")
        }
        #expect(try RecruitCLI.run(["--help"]).stdout.contains("synth"))
    }
}
