import Foundation
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit codelists …` as a user or a script runs it: output, --json and exit codes.
@Suite("recruit codelists")
struct CodeListsCommandTests {
    /// No database anywhere: counts must be skipped, not attempted.
    static func noDatabase(_ dir: URL) -> ([String], [String: String]) {
        (["--cluster-dir", dir.appendingPathComponent("no-cluster").path], ["PGHOST": "", "DATABASE_URL": "", "PGSERVICE": ""])
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("check: the shipped lists pass (exit 0); --json says ok")
    func checkShipped() throws {
        let dir = TestDatabase.repositoryRoot.appendingPathComponent("codelists").path
        let result = try RecruitCLI.run(["codelists", "check", "--codelists", dir])
        #expect(result.status == 0, "\(result.allOutput)")
        #expect(result.stdout.contains("9 list(s)") && result.stdout.contains("0 error(s)"))
        let report = try json(try RecruitCLI.run(["codelists", "check", "--codelists", dir, "--json"]).stdout)
        #expect(report["ok"] as? Bool == true && report["locked"] as? Bool == true)
    }

    @Test("check: problems are printed with file and line, exit 1; --json lists them")
    func checkProblems() throws {
        let dir = try CodeListFixtures.folder(["pain.csv": "code,term,code_system\n22298007,Bad digit,snomed\nN245.,a,read2\nN245.,b,read2\n"])
        let result = try RecruitCLI.run(["codelists", "check", "--codelists", dir.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("pain.csv:2: SNOMED CT id \"22298007\" fails its Verhoeff check digit"))
        #expect(result.stdout.contains("pain.csv:4: duplicate code \"N245.\" (read2), first on line 3"))
        #expect(result.stderr.contains("2 problem(s)"))
        let json = try RecruitCLI.run(["codelists", "check", "--codelists", dir.path, "--json"])
        #expect(json.status == 1)
        let problems = try #require(try self.json(json.stdout)["problems"] as? [[String: Any]])
        #expect(problems.contains { $0["file"] as? String == "pain.csv" && $0["line"] as? Int == 2 && $0["severity"] as? String == "error" })
    }

    @Test("usage errors exit 2", arguments: [
        ["codelists", "import", "x", "f.csv"],
        ["codelists", "import", "x", "f.csv", "--system", "read3"],
        ["codelists", "import", "x", "--system", "read2"],
        ["codelists", "import", "x", "f.csv", "--system", "read2", "--status", "reviewed"],
        ["codelists", "frobnicate"],
    ])
    func usage(arguments: [String]) throws {
        let result = try RecruitCLI.run(arguments)
        #expect(result.status == 2, "\(result.allOutput)")
    }

    @Test("a missing folder or list is refused: exit 1")
    func missing() throws {
        #expect(try RecruitCLI.run(["codelists", "check", "--codelists", "/nonexistent-codelists"]).status == 1)
        let dir = try CodeListFixtures.folder([:])
        let show = try RecruitCLI.run(["codelists", "show", "nope", "--codelists", dir.path])
        #expect(show.status == 1 && show.stderr.contains("nope.csv does not exist"))
    }

    @Test("import prints the cleaning and the diff; list and show report it; --json parses")
    func importListShow() throws {
        let dir = try CodeListFixtures.folder([:])
        let lib = dir.appendingPathComponent("lib")
        let source = dir.appendingPathComponent("pain.csv")
        try Data("code,term\nN245.00,Leg pain\nN245.11,Pain in leg\n".utf8).write(to: source)
        let (db, env) = Self.noDatabase(dir)
        let result = try RecruitCLI.run(["codelists", "import", "pain", source.path, "--system", "read2", "--codelists", lib.path,
                                         "--source", "https://example.org/pain.csv", "--version", "1", "--note", "kept whole", "-q"] + db,
                                        environment: env)
        #expect(result.status == 0, "\(result.allOutput)")
        #expect(result.stdout.contains("cleaned: 7-character Read v2 codes (code + term id) cut to the 5-character code: 2"))
        #expect(result.stdout.contains("+ read2 N245.  Leg pain"))
        #expect(result.stdout.contains("Patient counts skipped"))

        let list = try json(try RecruitCLI.run(["codelists", "list", "--codelists", lib.path, "--json"]).stdout)
        let item = try #require((list["lists"] as? [[String: Any]])?.first)
        #expect(item["name"] as? String == "pain" && item["codes"] as? Int == 1 && item["lock"] as? String == "locked")
        let show = try RecruitCLI.run(["codelists", "show", "pain", "--codelists", lib.path])
        #expect(show.stdout.contains("source:  https://example.org/pain.csv"))
        #expect(show.stdout.contains("note:    kept whole"))
        #expect(show.stdout.contains("read2,N245.,Leg pain"))
        let showJSON = try json(try RecruitCLI.run(["codelists", "show", "pain", "--codelists", lib.path, "--json"]).stdout)
        #expect((showJSON["codes"] as? [[String: Any]])?.first?["code"] as? String == "N245.")

        let imported = try json(try RecruitCLI.run(["codelists", "import", "pain", source.path, "--system", "read2", "--codelists", lib.path,
                                                    "--dry-run", "--json", "-q"] + db, environment: env).stdout)
        #expect(imported["written"] as? Bool == false)
    }

    @Test("lock: a hand edit fails check until it is locked; lock refuses while other problems remain")
    func lockAfterHandEdit() throws {
        let dir = try CodeListFixtures.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\n"])
        #expect(try RecruitCLI.run(["codelists", "lock", "--codelists", dir.path, "-q"]).status == 0)
        #expect(try RecruitCLI.run(["codelists", "check", "--codelists", dir.path]).status == 0)
        let url = dir.appendingPathComponent("pain.csv")
        try Data("code,term,code_system\nN245.,Leg pain,read2\nN246.,Calf,read2\n".utf8).write(to: url)
        let check = try RecruitCLI.run(["codelists", "check", "--codelists", dir.path])
        #expect(check.status == 1 && check.stdout.contains("pain.csv: SHA-256"))
        let lock = try RecruitCLI.run(["codelists", "lock", "--codelists", dir.path, "-q"])
        #expect(lock.status == 0 && lock.stdout.contains("locked pain.csv"))
        #expect(try RecruitCLI.run(["codelists", "check", "--codelists", dir.path]).status == 0)
        try Data("code,term,code_system\nN245.00,Leg pain,read2\n".utf8).write(to: url)
        let refused = try RecruitCLI.run(["codelists", "lock", "--codelists", dir.path, "-q"])
        #expect(refused.status == 1 && refused.stderr.contains("pain.csv:2: Read v2 code \"N245.00\""))
    }

    @Test("diff against a git revision: codes added and removed with terms; counts skipped without a database")
    func diffAgainstGit() throws {
        guard let git = ProcessRunner.which("git") else { return }
        let dir = try CodeListFixtures.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\nN246.,Calf pain,read2\n"])
        let g = { (args: [String]) throws in
            let out = try ProcessRunner.run(git, ["-c", "user.name=t", "-c", "user.email=t@example.org"] + args, currentDirectory: dir)
            #expect(out.status == 0, "\(out.stderr)")
        }
        try g(["init", "-q"])
        try g(["add", "pain.csv"])
        try g(["commit", "-q", "-m", "first"])
        try Data("code,term,code_system\nN245.,Pain in leg,read2\nN247.,Thigh pain,read2\n".utf8).write(to: dir.appendingPathComponent("pain.csv"))
        let (db, env) = Self.noDatabase(dir)
        let result = try RecruitCLI.run(["codelists", "diff", "pain", "--codelists", dir.path, "-q"] + db, environment: env)
        #expect(result.status == 0, "\(result.allOutput)")
        #expect(result.stdout == """
            pain: compared with git HEAD: 1 added, 1 removed, 1 term(s) changed, 1 unchanged
            + read2 N247.  Thigh pain
            - read2 N246.  Calf pain
            ~ read2 N245.  Leg pain → Pain in leg
            Patient counts skipped: no database configured (--database, DATABASE_URL or PGHOST) and the embedded cluster is not running.

            """)
        let bad = try RecruitCLI.run(["codelists", "diff", "pain", "--codelists", dir.path, "--against", "no-such-rev", "-q"] + db, environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("neither a file nor a git revision"))
    }

    @Test("the build script rebuilds the shipped lists byte for byte")
    func buildScriptReproducesShippedLists() throws {
        let root = TestDatabase.repositoryRoot
        let reference = root.deletingLastPathComponent().appendingPathComponent("shared/reference-codelists")
        guard FileManager.default.fileExists(atPath: reference.appendingPathComponent("SOURCES.md").path) else {
            print("note: \(reference.path) is absent: the build-script test is skipped")
            return
        }
        let out = try TestDatabase.temporaryDirectory("codelists-build")
        var env = ProcessInfo.processInfo.environment
        env["OUT"] = out.path
        env["REF"] = reference.path
        let run = try ProcessRunner.run("/bin/bash", [root.appendingPathComponent("scripts/build-codelists.sh").path, RecruitCLI.executable.path],
                                        environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        let shipped = root.appendingPathComponent("codelists")
        let names = try FileManager.default.contentsOfDirectory(atPath: shipped.path).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == names)
        for name in names {
            #expect(FileManager.default.contents(atPath: out.appendingPathComponent(name).path) ==
                    FileManager.default.contents(atPath: shipped.appendingPathComponent(name).path), "\(name) differs")
        }
    }
}

@Suite("recruit codelists diff with a database", .enabled(if: TestDatabase.isAvailable))
struct CodeListsDiffDatabaseTests {
    @Test("diff counts the patients each added and removed code touches in the loaded data")
    func diffCountsPatients() throws {
        let dir = try CodeListFixtures.folder([
            "pain.csv": "code,term,code_system\nN245.,Leg pain,read2\nN247.,Thigh pain,read2\n42010211000001106,Co-codamol,dmd\n",
            "old.csv": "code,term,code_system\nN245.,Leg pain,read2\nN246.,Calf pain,read2\n",
        ])
        try TestDatabase.withSchema { db in
            try CodeListFixtures.load(db, events: [("p1", "N247.", "read2"), ("p1", "N247.", "read2"), ("p2", "N247.", "read2"),
                                                   ("p3", "N247.", "ctv3"), ("p3", "N246.", "read2")],
                                      prescriptions: [("p4", "42010211000001106", "dmd"), ("p2", "42010211000001106", "dmd")])
            try CodeListFixtures.load(db, practice: "P002", events: [("p1", "N246.", "read2")])
            let result = try RecruitCLI.run(["codelists", "diff", "pain", "--codelists", dir.path,
                                             "--against", dir.appendingPathComponent("old.csv").path, "-q"], schema: db.schema)
            #expect(result.status == 0, "\(result.allOutput)")
            #expect(result.stdout.contains("+ read2 N247.  Thigh pain  [2 patients]"))
            #expect(result.stdout.contains("+ dmd 42010211000001106  Co-codamol  [2 patients]"))
            #expect(result.stdout.contains("- read2 N246.  Calf pain  [2 patients]"))
            #expect(result.stdout.contains("Patients in the loaded data touched by the added codes: 3; by the removed codes: 2."))
            #expect(!result.allOutput.contains("p1") && !result.allOutput.contains("p2"))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(
                try RecruitCLI.run(["codelists", "diff", "pain", "--codelists", dir.path, "--against",
                                    dir.appendingPathComponent("old.csv").path, "--json", "-q"], schema: db.schema).stdout.utf8)) as? [String: Any])
            #expect(json["patients_touched_by_added"] as? Int == 3)
            #expect(json["counts_skipped"] == nil)
        }
    }
}
