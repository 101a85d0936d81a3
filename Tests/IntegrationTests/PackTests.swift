import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit pack`: from the list to letters and back.
@Suite("Packs: screening sheets, feedback files, mail-merge", .enabled(if: TestDatabase.isAvailable), .serialized)
struct PackTests {
    typealias S = RunScenario

    static func pack(_ runID: Int, _ out: URL, _ db: Database, _ extra: [String] = []) throws -> RecruitCLI.Result {
        try RecruitCLI.run(["pack", "\(runID)", "--out", out.path, "--study", "IPS for chronic pain (test)", "--contact", "call 0161 000 0000",
                            "--reply-by", "2026-08-01",
                            "--template", TestDatabase.repositoryRoot.appendingPathComponent("templates/invitation-letter.md").path] + extra,
                           schema: db.schema)
    }

    static func read(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    @Test("a pack for an issued run: every invitee once in each file of their practice, nothing but the id, age band, sex and evidence")
    func everyInviteeOnce() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try RetainedSnapshotTests.extract(S.d).write(to: db)
            let runID = try #require(try S.run(db, cohort, mode: .issue).runID)
            let out = try TestDatabase.temporaryDirectory("pack")
            let result = try Self.pack(runID, out, db, ["--json"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("README.txt").path))
            for (practice, ids) in [("A81001", ["a1", "a2"]), ("B82002", ["b1", "b2"])] {
                let folder = out.appendingPathComponent(practice)
                let sheet = Self.read(folder.appendingPathComponent("screening.html"))
                let feedback = Self.read(folder.appendingPathComponent("feedback.csv")).split(separator: "\n").map(String.init)
                let merge = Self.read(folder.appendingPathComponent("mailmerge.csv")).split(separator: "\n").map(String.init)
                #expect(feedback.first == "practice_id,patient_id,run_id,outcome,date,reason_code,reason,channel")
                #expect(Array(feedback.dropFirst()) == ids.map { "\(practice),\($0),\(runID),,,,," })
                #expect(merge.dropFirst().map { String($0.prefix { $0 != "," }) } == ids)
                for id in ids {
                    #expect(sheet.components(separatedBy: "<td>\(id)</td>").count == 2, "\(id) once on the sheet")
                }
                // Not listed: the person without a fit note ("a1x"), and nothing but the allowed facts.
                #expect(!sheet.contains("a1x") && !sheet.contains("b1x"))
                #expect(sheet.contains("45-54"), "the age band (born 1980, aged 46 at D)")
                #expect(!sheet.contains("1980"), "no year of birth")
                #expect(sheet.contains("Chronic pain condition: ") && sheet.contains("Persistent pain medication: "), "the evidence")
                #expect(sheet.contains("run \(runID)") && sheet.contains("Practice <strong>\(practice)</strong>"))
                #expect(sheet.contains("<strong>2</strong> recent_life_event") && sheet.contains("<span class=\"box\"></span>5</span>"),
                        "the reason codes as numbered boxes, with their legend")
                let letter = Self.read(folder.appendingPathComponent("letter.html"))
                #expect(letter.contains("<strong>IPS for chronic pain (test)</strong>") && letter.contains("1 August 2026"))
                #expect(letter.contains("«Title» «Surname»") && !letter.contains("{{"))
            }
            #expect(try S.auditActions(db).last == "pack")
            // A second pack into the same folder is refused: nothing is overwritten.
            let again = try Self.pack(runID, out, db)
            #expect(again.status == 1 && again.stderr.contains("is not empty"), "\(again.stderr)")
        }
    }

    @Test("feedback.csv filled in imports unchanged; rows left empty are skipped and reported, never guessed")
    func feedbackRoundTrip() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try RetainedSnapshotTests.extract(S.d).write(to: db)
            let runID = try #require(try S.run(db, cohort, mode: .issue).runID)
            let out = try TestDatabase.temporaryDirectory("pack")
            #expect(try Self.pack(runID, out, db).status == 0)
            // Outcomes are dated on or after the day the run was made (today), and not after today.
            let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
            let date = LocalDate(year: parts.year!, month: parts.month!, day: parts.day!)!
            // A81001: a1 screened out, a2 left empty.
            let a = out.appendingPathComponent("A81001/feedback.csv")
            var text = Self.read(a).replacingOccurrences(of: "A81001,a1,\(runID),,,,", with: "A81001,a1,\(runID),screened_out,\(date),recent_life_event,")
            try Data(text.utf8).write(to: a)
            let partial = try RecruitCLI.run(["feedback", "import", a.path, "--json"], schema: db.schema)
            #expect(partial.status == 0, "\(partial.stdout)\(partial.stderr)")
            let report = LoadTests.json(partial.stdout)
            #expect(report["rows"] as? Int == 1)
            #expect(report["skipped_empty_lines"] as? [Int] == [3])
            #expect((report["warnings"] as? [String])?.contains { $0.hasPrefix("1 row left empty (no outcome, date or reason) skipped") } == true, "\(report)")
            #expect(try S.count(db, "contact_outcomes") == 1)
            #expect((report["reason_codes"] as? [String: [String: Int]]) == ["screened_out": ["recent_life_event": 1]])
            #expect(try db.connection.query("SELECT reason_code FROM contact_outcomes")[0].string("reason_code") == "recent_life_event")
            // B82002: every row filled, as the practice returns it.
            let b = out.appendingPathComponent("B82002/feedback.csv")
            text = Self.read(b).replacingOccurrences(of: ",\(runID),,,,", with: ",\(runID),invited,\(date),,")
            try Data(text.utf8).write(to: b)
            let full = try RecruitCLI.run(["feedback", "import", b.path, "--json"], schema: db.schema)
            #expect(full.status == 0, "\(full.stderr)")
            #expect(LoadTests.json(full.stdout)["rows"] as? Int == 2)
            // A file left wholly empty imports nothing and says so.
            let empty = try RecruitCLI.run(["feedback", "import", out.appendingPathComponent("A81001/feedback.csv").path + ".none"], schema: db.schema)
            #expect(empty.status != 0)
            let blank = out.appendingPathComponent("blank.csv")
            try Data("practice_id,patient_id,run_id,outcome,date,reason_code,reason\nA81001,a2,\(runID),,,,\n".utf8).write(to: blank)
            let nothing = try RecruitCLI.run(["feedback", "import", blank.path], schema: db.schema)
            #expect(nothing.status == 1 && nothing.stderr.contains("nothing to import"), "\(nothing.stderr)")
        }
    }

    @Test("a template naming a field recruit does not have is refused with its line; a draft run gets no pack")
    func refusals() throws {
        let bad = "# {{study_name}}\n\nDear {{patient_name}},\n{{ reply_by }} {{nhs_number}}\n"
        let error = try #require(throws: RecruitError.self) { try LetterTemplate(text: bad, file: "letter.md") }
        #expect(error.message.contains("letter.md:3: unknown field 'patient_name'"), "\(error.message)")
        #expect(error.message.contains("letter.md:4: unknown field 'nhs_number'"), "\(error.message)")
        #expect(!error.message.contains("unknown field 'reply_by'"), "spaces inside the braces are allowed")
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try RetainedSnapshotTests.extract(S.d).write(to: db)
            let draft = try #require(try S.run(db, cohort, mode: .draft).runID)
            let out = try TestDatabase.temporaryDirectory("pack")
            let refused = try Self.pack(draft, out, db)
            #expect(refused.status == 1 && refused.stderr.contains("run \(draft) is a draft: packs are made for issued runs"), "\(refused.stderr)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: out.path))?.isEmpty ?? true)
            let dir = try TestDatabase.temporaryDirectory("template")
            try Data(bad.utf8).write(to: dir.appendingPathComponent("bad.md"))
            let cli = try RecruitCLI.run(["pack", "\(draft)", "--out", out.path, "--study", "x", "--contact", "y",
                                          "--template", dir.appendingPathComponent("bad.md").path], schema: db.schema)
            #expect(cli.status == 1 && cli.stderr.contains("bad.md:3: unknown field 'patient_name'"), "\(cli.stderr)")
        }
    }

    @Test("Chromium: the screening sheet and the letter render, print to PDF with one page per 18 invitees, and fetch nothing")
    func printed() throws {
        let browser: String
        switch Chromium.located {
        case .success(let path): browser = path
        case .failure(let failure): try Test.cancel(Comment(rawValue: failure.reason + ": the pack's printing not checked"))
        }
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], (1...45).map { "p\($0)" }).write(to: db)
            let runID = try #require(try S.run(db, cohort, mode: .issue).runID)
            let out = try TestDatabase.temporaryDirectory("pack")
            #expect(try Self.pack(runID, out, db).status == 0)
            for (file, pages) in [("screening.html", 3), ("letter.html", 1)] {
                let page = out.appendingPathComponent("A81001/\(file)")
                let html = Self.read(page)
                #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script") && !html.contains("<link"),
                        "\(file) refers to nothing outside itself")
                let dom = try Chromium.run(browser, ["--dump-dom"], page: page).stdout
                #expect(dom.contains("</html>"), "\(file) renders")
                let pdf = out.appendingPathComponent("\(file).pdf")
                try Chromium.run(browser, ["--no-pdf-header-footer", "--print-to-pdf=\(pdf.path)"], page: page)
                let text = String(decoding: (try? Data(contentsOf: pdf)) ?? Data(), as: UTF8.self)
                let count = text.components(separatedBy: "/Type /Page").count - 1 - (text.components(separatedBy: "/Type /Pages").count - 1)
                #expect(count == pages, "\(file): \(count) page(s) printed")
            }
        }
    }

    @Test("an unknown reason code, or a code for an outcome that takes none, refuses the whole file with its line; nothing recorded")
    func unknownReasonCode() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try RetainedSnapshotTests.extract(S.d).write(to: db)
            let runID = try #require(try S.run(db, cohort, mode: .issue).runID)
            let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
            let date = LocalDate(year: parts.year!, month: parts.month!, day: parts.day!)!
            let file = try TestDatabase.temporaryDirectory("codes").appendingPathComponent("feedback.csv")
            try Data("""
                practice_id,patient_id,run_id,outcome,date,reason_code,reason
                A81001,a1,\(runID),screened_out,\(date),bereavement,
                A81001,a2,\(runID),invited,\(date),clinical,
                B82002,b1,\(runID),screened_out,\(date),capacity,

                """.utf8).write(to: file)
            let result = try RecruitCLI.run(["feedback", "import", file.path, "--json"], schema: db.schema)
            #expect(result.status == 1, "\(result.stdout)")
            let problems = LoadTests.json(result.stdout)["problems"] as? [[String: Any]] ?? []
            #expect(problems.map { $0["line"] as? Int } == [2, 3], "\(problems)")
            #expect((problems.first?["message"] as? String)?.hasPrefix("not a reason code for screened_out (clinical, recent_life_event, safeguarding, capacity, other)") == true)
            #expect((problems.last?["message"] as? String)?.hasPrefix("no reason code is recorded for invited") == true)
            #expect(try S.count(db, "contact_outcomes") == 0 && S.count(db, "contact_imports") == 0)
        }
    }
}
