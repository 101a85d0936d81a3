import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Newly eligible (issue 21): each list row says whether the person is listed
/// for the first time by the cohort (`first_listed`), and the run counts them.
@Suite("Runs: first listed (newly eligible)", .enabled(if: TestDatabase.isAvailable))
struct FirstListedTests {
    typealias S = RunScenario

    /// The stored flags of a run as "practice/patient" → flag (nil: NULL).
    static func stored(_ db: Database, _ runID: Int) throws -> [String: Bool?] {
        var out: [String: Bool?] = [:]
        for row in try db.connection.query("SELECT practice_id, patient_id, first_listed FROM run_invitations WHERE run_id = \(runID)") {
            out["\(row.string("practice_id"))/\(row.string("patient_id"))"] = .some(row.bool("first_listed"))
        }
        return out
    }

    /// The `first_listed` column of a list file as "practice/patient" → its text.
    static func column(in directory: URL, file: String = "invitations.csv") throws -> [String: String] {
        let lines = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = lines.first, let k = header.firstIndex(of: "first_listed") else { return [:] }
        #expect(k == 2)
        return Dictionary(uniqueKeysWithValues: lines.dropFirst().map { ("\($0[0])/\($0[1])", $0[k]) })
    }

    /// Imports a history file of people invited for the cohort before recruit.
    static func importHistory(_ db: Database, _ rows: [(String, String, String)], name: String = "history.csv") throws {
        let text = "practice_id,patient_id,index_date\n" + rows.map { "\($0.0),\($0.1),\($0.2)\n" }.joined()
        let url = try TestDatabase.temporaryDirectory("history").appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        _ = try HistoryImporter(database: db, logger: TestDatabase.quietLogger).importFile(url, kind: .invitations, cohort: "chronic-pain-out-of-work")
    }

    @Test("the first issued run marks everyone first listed, in the database, both lists and the summary")
    func firstRun() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1", "p2"]).write(to: db)
            let outcome = try S.run(db, cohort, mode: .issue)
            let runID = try #require(outcome.runID)
            #expect(try Self.stored(db, runID) == ["A81001/p1": true, "A81001/p2": true, "B82002/p1": true, "B82002/p2": true])
            #expect(try Self.column(in: outcome.outputDirectory) == ["A81001/p1": "true", "A81001/p2": "true", "B82002/p1": "true", "B82002/p2": "true"])
            #expect(try Self.column(in: outcome.outputDirectory, file: "practices/B82002/invitations.csv") == ["B82002/p1": "true", "B82002/p2": "true"])
            #expect(outcome.summary.newlyEligible == 4)
            #expect(outcome.summary.byPractice == [.init(practiceID: "A81001", invited: 2, newlyEligible: 2),
                                                   .init(practiceID: "B82002", invited: 2, newlyEligible: 2)])
            #expect(outcome.manifest.counts.newlyEligible == 4 && outcome.manifest.counts.newlyEligibleByPractice == ["A81001": 2, "B82002": 2])
            let run = try RunRecord.load(runID, on: db.connection)
            #expect(run.practices.map(\.newlyEligible) == [2, 2] && run.newlyEligible == 4)
        }
    }

    @Test("a later run of the cohort marks the people an issued run listed before false and the new ones true; counts per practice")
    func laterRun() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        let later = S.d.adding(days: 366)  // past the re-invitation interval: run 1's invitees are listed again
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1", "p2"]).write(to: db)
            let first = try #require(try S.run(db, cohort, mode: .issue, practices: ["A81001"]).runID)
            try S.extract(["A81001", "B82002"], ["p1", "p2", "p3"], extractDate: later).write(to: db)
            let second = try S.run(db, cohort)
            let secondID = try #require(second.runID)
            #expect(try S.invited(second) == ["A81001/p1", "A81001/p2", "A81001/p3", "B82002/p1", "B82002/p2", "B82002/p3"])
            let expected: [String: Bool?] = ["A81001/p1": false, "A81001/p2": false, "A81001/p3": true,
                                             "B82002/p1": true, "B82002/p2": true, "B82002/p3": true]
            #expect(try Self.stored(db, secondID) == expected)
            #expect(try Self.column(in: second.outputDirectory) == expected.mapValues { $0! ? "true" : "false" })
            #expect(try Self.column(in: second.outputDirectory, file: "practices/A81001/invitations.csv")
                    == ["A81001/p1": "false", "A81001/p2": "false", "A81001/p3": "true"])
            #expect(second.summary.newlyEligible == 4)
            #expect(second.summary.byPractice.map(\.newlyEligible) == [1, 3] && second.summary.byPractice.map(\.invited) == [3, 3])
            #expect(try RunRecord.load(secondID, on: db.connection).practices.map(\.newlyEligible) == [1, 3])

            // runs show and runs why say it.
            let show = try RecruitCLI.run(["runs", "show", String(secondID)], schema: db.schema)
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.contains("NEWLY ELIGIBLE"), "\(show.stdout)")
            #expect(show.stdout.split(separator: "\n").contains { $0.split(separator: " ") == ["TOTAL", "6", "4"] }, "\(show.stdout)")
            let before = try RecruitCLI.run(["runs", "why", String(secondID), "p1", "--practice", "A81001"], schema: db.schema)
            #expect(before.status == 0 && before.stdout.contains("Listing: listed before by run \(first)\n"), "\(before.stdout)")
            let new = try RecruitCLI.run(["runs", "why", String(secondID), "p3", "--practice", "A81001"], schema: db.schema)
            #expect(new.status == 0 && new.stdout.contains("Listing: first listed by this cohort in this run\n"), "\(new.stdout)")
            let json = try RecruitCLI.run(["runs", "why", String(secondID), "p2", "--practice", "A81001", "--json"], schema: db.schema)
            let e = try JSONDecoder().decode(PatientExplanation.self, from: Data(json.stdout.utf8))
            #expect(e.listing?.firstListed == false && e.listing?.before?.runID == first && e.listing?.before?.runs == 1)
        }
    }

    @Test("history invitations count as listed before; a draft or a dry run does not make anyone listed before")
    func historyAndDrafts() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1", "p2", "p3"]).write(to: db)
            // Invited by a search made before recruit, outside the re-invitation interval (still listed, not first).
            try Self.importHistory(db, [("A81001", "p1", "2025-03-31")])
            // Another cohort's history and run are not this cohort's.
            try db.connection.execute("""
                INSERT INTO history_invitations (import_id, cohort_name, practice_id, patient_id, index_date)
                SELECT import_id, 'another-study', 'A81001', 'p2', '2025-03-31' FROM contact_imports LIMIT 1
                """)
            let draft = try S.run(db, cohort)
            let draftID = try #require(draft.runID)
            #expect(try Self.stored(db, draftID) == ["A81001/p1": false, "A81001/p2": true, "A81001/p3": true])
            #expect(draft.summary.newlyEligible == 2)
            let why = try RecruitCLI.run(["runs", "why", String(draftID), "p1"], schema: db.schema)
            #expect(why.stdout.contains("Listing: listed before in imported history (index date 2025-03-31)\n"), "\(why.stdout)")
            // The draft and a dry run listed p2 and p3, but nothing of theirs was sent: a later run still lists them first.
            try S.run(db, cohort, mode: .dryRun)
            let next = try S.run(db, cohort, mode: .issue, indexDate: S.d.adding(days: 1))
            #expect(try Self.stored(db, try #require(next.runID)) == ["A81001/p1": false, "A81001/p2": true, "A81001/p3": true])
            #expect(try Self.column(in: next.outputDirectory) == ["A81001/p1": "false", "A81001/p2": "true", "A81001/p3": "true"])
        }
    }

    @Test("a superseded issued run's people were listed before (its list was sent): the run that replaces it flags them false")
    func superseded() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1"]).write(to: db)
            let first = try #require(try S.run(db, cohort, mode: .issue).runID)
            let second = try S.run(db, cohort, mode: .issue, practices: ["A81001"], supersede: first)
            #expect(try S.invited(second) == ["A81001/p1"])
            #expect(try Self.stored(db, try #require(second.runID)) == ["A81001/p1": false])
            #expect(second.summary.newlyEligible == 0 && second.summary.byPractice == [.init(practiceID: "A81001", invited: 1, newlyEligible: 0)])
        }
    }

    @Test("a reproduction prints the stored flags, not flags recomputed on what was issued or imported since; a run made before the flags prints none")
    func reproduction() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        let later = S.d.adding(days: 366)
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1", "p2"]).write(to: db)
            _ = try S.run(db, cohort, mode: .issue)
            try S.extract(["A81001"], ["p1", "p2", "p3"], extractDate: later).write(to: db)
            let outcome = try S.run(db, cohort, mode: .issue)
            let runID = try #require(outcome.runID)
            let original = try Self.column(in: outcome.outputDirectory)
            #expect(original == ["A81001/p1": "false", "A81001/p2": "false", "A81001/p3": "true"])
            // Since: p3 turns up in imported history (recorded after the run's history instant).
            try Self.importHistory(db, [("A81001", "p3", "2025-06-30")])
            let out = try TestDatabase.temporaryDirectory("reproduce")
            let result = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(runID, into: out, wait: false)
            #expect(result.result == .identical, "\(result.differing)")
            #expect(try Self.column(in: out) == original)
            #expect(try Self.column(in: out, file: "practices/A81001/invitations.csv") == original)
            let manifest = try RunManifest.read(from: out.appendingPathComponent("run.json"))
            #expect(manifest.counts.newlyEligible == 1)

            // The stored flags are what is printed: a draft (superseding the run, so its people are listed again)
            // whose stored flags are changed reproduces with the changed flags.
            let draft = try S.run(db, cohort, indexDate: later.adding(days: 1), supersede: runID)
            let draftID = try #require(draft.runID)
            #expect(try Self.stored(db, draftID) == ["A81001/p1": false, "A81001/p2": false, "A81001/p3": false])
            try db.connection.execute("UPDATE run_invitations SET first_listed = NOT first_listed WHERE run_id = \(draftID) AND patient_id = 'p2'")
            let flipped = try TestDatabase.temporaryDirectory("reproduce")
            let changed = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(draftID, into: flipped, wait: false)
            #expect(changed.result == .different && changed.differing == ["invitations.csv", "practices/A81001/invitations.csv"])
            #expect(try Self.column(in: flipped) == ["A81001/p1": "false", "A81001/p2": "true", "A81001/p3": "false"])

            // A run recorded before sql/0020 (its flags NULL, its counts without them) reproduces without the column.
            try db.connection.execute("UPDATE run_invitations SET first_listed = NULL WHERE run_id = \(draftID)")
            try db.connection.execute("UPDATE runs SET counts = counts - 'newly_eligible' - 'newly_eligible_by_practice' WHERE run_id = \(draftID)")
            let old = try TestDatabase.temporaryDirectory("reproduce")
            _ = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(draftID, into: old, wait: false)
            let header = try String(contentsOf: old.appendingPathComponent("invitations.csv"), encoding: .utf8).split(separator: "\n")[0]
            #expect(header.hasPrefix("practice_id,patient_id,chronic_pain_code,"), "\(header)")
            #expect(try S.invitations(in: old) == (try S.invitations(in: draft.outputDirectory)))
            let record = try RunRecord.load(draftID, on: db.connection)
            #expect(record.newlyEligible == nil && record.practices.map(\.newlyEligible) == [nil])
            let show = try RecruitCLI.run(["runs", "show", String(draftID)], schema: db.schema)
            #expect(show.stdout.contains("(newly eligible: not recorded;"), "\(show.stdout)")
        }
    }
}
