import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Recording, issuing and superseding runs, and what criteria 11 and 12 then
/// make of them across runs.
@Suite("Runs: recording, issuing, superseding", .enabled(if: TestDatabase.isAvailable))
struct RunRecordingTests {
    typealias S = RunScenario

    @Test("a run is recorded as a draft with its loads, list, evidence, yield, definition and code lists; outputs are hashed")
    func draftRecord() throws {
        let lists = try CodeListFixture.referenceDirectory()
        let cohort = try S.cohort(codeLists: lists)
        var x = S.extract(["A81001", "B82002"], ["p1", "p2"])
        x.event("B82002", "p2", S.d.adding(days: -10), "B1...")  // cancer: removed at step 8
        try TestDatabase.withSchema { db in
            let loadID = try x.write(to: db)
            let outcome = try S.run(db, cohort)
            let runID = try #require(outcome.runID)
            let run = try RunRecord.load(runID, on: db.connection)
            #expect(run.status == .draft && run.issuedAt == nil)
            #expect(run.practices.map(\.practiceID) == ["A81001", "B82002"])
            #expect(run.practices.allSatisfy { $0.loadID == loadID && $0.extractDate == S.d && !$0.stale })
            #expect(run.practices.map(\.invited) == [2, 1])
            #expect(run.indexDate == S.d && run.cohortSHA256 == cohort.definition.sha256)
            #expect(run.parameters == cohort.parameters)
            #expect(run.codelists.map(\.name).sorted() == cohort.codeLists.map(\.name).sorted())
            #expect(run.codelists.allSatisfy { $0.codelistVersionID != nil })
            #expect(try S.count(db, "codelist_versions") == cohort.codeLists.count)
            #expect(try S.count(db, "codelist_codes") == cohort.codeLists.reduce(0) { $0 + $1.codes.count })
            #expect(try db.connection.query("SELECT definition FROM cohort_definitions")[0].string("definition") == cohort.definition.text)
            // The list with evidence, and the yield with labels.
            let evidence = try db.connection.query("""
                SELECT evidence->'chronic_pain'->>'code' AS code, evidence->'pain_medication'->>'count' AS n
                FROM run_invitations WHERE run_id = \(runID) AND practice_id = 'A81001' AND patient_id = 'p1'
                """)[0]
            #expect(evidence.string("code") == "N245." && evidence.string("n") == "3")
            let total = try RunRecord.yields(of: runID, on: db.connection).filter { $0.row.practiceID == "__total__" }
            #expect(total.map(\.row.remaining) == [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3])
            #expect(total[5].label == "Chronic pain condition")
            // The files: all practices, one per practice, yield, run.json with every hash.
            #expect(try S.invited(outcome) == ["A81001/p1", "A81001/p2", "B82002/p1"])
            #expect(try S.invitations(in: outcome.outputDirectory, file: "practices/B82002/invitations.csv") == ["B82002/p1"])
            let manifest = try RunManifest.read(from: outcome.outputDirectory.appendingPathComponent("run.json"))
            #expect(manifest.runID == runID && manifest.status == .draft)
            #expect(manifest.snapshots.map(\.loadID) == [loadID, loadID])
            #expect(Set(manifest.outputs.keys) == ["invitations.csv", "yield.csv", "practices/A81001/invitations.csv", "practices/B82002/invitations.csv"])
            for (path, sha) in manifest.outputs {
                #expect(try Hashing.sha256Hex(fileAt: outcome.outputDirectory.appendingPathComponent(path)) == sha)
            }
            #expect(run.outputs == manifest.outputs)
            #expect(manifest.counts.invited == 3 && manifest.counts.invitedByPractice == ["A81001": 2, "B82002": 1])
            #expect(manifest.codelists.allSatisfy { $0.codelistVersionID != nil })
            let actions = try S.auditActions(db)
            #expect(actions.filter { $0 == "codelist.version" }.count == cohort.codeLists.count)
            #expect(Array(actions.suffix(2)) == ["cohort.definition", "run"])
            let payload = try db.connection.query("SELECT payload->>'run_json_sha256' AS sha, payload::text AS p FROM audit_log WHERE action = 'run'")[0]
            #expect(payload.string("sha") == outcome.runJSONSHA256)
            #expect(try Hashing.sha256Hex(fileAt: outcome.outputDirectory.appendingPathComponent("run.json")) == outcome.runJSONSHA256)
            #expect(!payload.string("p").contains("p1") && !payload.string("p").contains("p2"))
            // A second run stores no new definition or code-list version.
            try S.run(db, cohort)
            #expect(try S.count(db, "codelist_versions") == cohort.codeLists.count && S.count(db, "cohort_definitions") == 1)
        }
    }

    @Test("a run whose outputs cannot be written records nothing: no run, no definition, no code list, no audit entry")
    func unwritableOutputs() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1"]).write(to: db)
            let file = try TestDatabase.temporaryDirectory("blocked").appendingPathComponent("not-a-folder")
            try Data("x".utf8).write(to: file)
            let error = try #require(throws: RecruitError.self) { try S.run(db, cohort, mode: .issue, out: file) }
            #expect(error.kind == .environment && error.message.hasPrefix("cannot "))
            for table in ["runs", "run_practices", "run_invitations", "run_yields", "cohort_definitions", "codelist_versions", "audit_log"] {
                #expect(try S.count(db, table) == 0, "\(table)")
            }
        }
    }

    @Test("with the shipped, locked code lists the run records each list's manifest version, lock and stored codes; a reproduction reads them back")
    func shippedCodeLists() throws {
        let shipped = TestDatabase.repositoryRoot.appendingPathComponent("codelists")
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1"]).write(to: db)
            let cohort = try CohortValidator.resolve(try CohortParser.parse(fileAt: S.cohortFile),
                                                     codeLists: DirectoryCodeListSource(directory: shipped, connection: db.connection))
            let outcome = try S.run(db, cohort)
            let recorded = outcome.manifest.codelists
            #expect(recorded.map(\.name) == cohort.codeLists.map(\.name))
            #expect(recorded.allSatisfy { $0.locked == true && $0.codelistVersionID != nil })
            // Every list has codes and a manifest version (unemployment: SNOMED CT only, its Read v2 and CTV3 still empty).
            #expect(recorded.filter { $0.codes > 0 && $0.version != nil }.map(\.name) == recorded.map(\.name))
            let stored = try db.connection.query("""
                SELECT v.name, v.version, count(c.code) AS n FROM codelist_versions v LEFT JOIN codelist_codes c USING (codelist_version_id)
                GROUP BY v.codelist_version_id ORDER BY v.name
                """)
            #expect(stored.map { $0.string("name") } == recorded.map(\.name).sorted())
            #expect(stored.map { $0.int("n") ?? 0 } == recorded.sorted { $0.name < $1.name }.map(\.codes))
            let reproduction = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(outcome.runID!, into: nil, wait: false)
            #expect(reproduction.result == .identical)
        }
    }

    @Test("a dry run writes the outputs and records nothing but an audit entry")
    func dryRun() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1"]).write(to: db)
            let outcome = try S.run(db, cohort, mode: .dryRun)
            #expect(outcome.runID == nil && outcome.manifest.status == .dryRun)
            #expect(try S.invited(outcome) == ["A81001/p1"])
            #expect(try S.count(db, "runs") == 0 && S.count(db, "cohort_definitions") == 0 && S.count(db, "codelist_versions") == 0)
            #expect(try S.auditActions(db) == ["run.dry_run"])
        }
    }

    @Test("issue: the run is frozen, its files read-only; issuing again, or a second issue for the practice, is refused")
    func issueAndReissue() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1"]).write(to: db)
            let first = try S.run(db, cohort)
            let runID = try #require(first.runID)
            let issued = try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(runID, supersede: nil, wait: false)
            #expect(issued.supersededRunID == nil && issued.frozenFiles == 5)
            let run = try RunRecord.load(runID, on: db.connection)
            #expect(run.status == .issued && run.issuedAt == issued.issuedAt)
            let manifest = try RunManifest.read(from: first.outputDirectory.appendingPathComponent("run.json"))
            #expect(manifest.status == .issued && manifest.issuedAt == issued.issuedAt)
            #expect(try Hashing.sha256Hex(fileAt: first.outputDirectory.appendingPathComponent("run.json")) == issued.runJSONSHA256)
            let mode = try FileManager.default.attributesOfItem(atPath: first.outputDirectory.appendingPathComponent("invitations.csv").path)[.posixPermissions] as? Int
            #expect(mode == 0o444)
            #expect(try S.auditActions(db).last == "run.issue")

            // Frozen in the database.
            for statement: SQL in ["UPDATE runs SET index_date = index_date + 1 WHERE run_id = \(runID)",
                                   "DELETE FROM run_invitations WHERE run_id = \(runID)",
                                   "INSERT INTO run_invitations (run_id, practice_id, patient_id) VALUES (\(runID), 'A81001', 'extra')",
                                   "UPDATE run_yields SET remaining = 0 WHERE run_id = \(runID)",
                                   "UPDATE run_practices SET load_id = load_id WHERE run_id = \(runID)"] {
                let error = try #require(throws: PostgresError.self) { try db.connection.execute(statement) }
                #expect(error.message.contains("is issued and frozen"))
            }
            // Issuing it again.
            let again = try #require(throws: RecruitError.self) {
                try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(runID, supersede: nil, wait: false)
            }
            #expect(again.message.hasPrefix("run \(runID) was issued already"))
            // Its output folder is frozen.
            let folder = try #require(throws: RecruitError.self) { try S.run(db, cohort, out: first.outputDirectory) }
            #expect(folder.message.contains("holds the outputs of issued run \(runID)"))

            // A second run issued at once for the same cohort and D: refused before evaluating, nothing recorded.
            let runs = try S.count(db, "runs"), audit = try S.count(db, "audit_log")
            let second = try #require(throws: RecruitError.self) { try S.run(db, cohort, mode: .issue, practices: ["B82002"]) }
            #expect(second.kind == .refused)
            #expect(second.message.hasPrefix("cohort chronic-pain-out-of-work was already issued for index date 2026-07-01: run \(runID) (issued "))
            #expect(second.message.hasSuffix("for practice B82002"))
            #expect(second.remedy == .give(.supersede, "\(runID)", purpose: "to replace it, which is recorded"))
            #expect(try S.count(db, "runs") == runs && S.count(db, "audit_log") == audit)
            // A draft of it may be made, but not issued.
            let draft = try #require(try S.run(db, cohort, practices: ["B82002"]).runID)
            let refused = try #require(throws: RecruitError.self) {
                try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(draft, supersede: nil, wait: false)
            }
            #expect(refused.message.contains("already issued for index date 2026-07-01: run \(runID)"))
            #expect(try RunRecord.load(draft, on: db.connection).status == .draft)
            // Its list left run 1's invitee out (recently invited): the draft was made without --supersede.
            #expect(try RunRecord.load(draft, on: db.connection).invited == 0)
            let late = try #require(throws: RecruitError.self) {
                try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(draft, supersede: runID, wait: false)
            }
            #expect(late.message.contains("was made without superseding run \(runID) after run \(runID) was issued"))
            #expect(late.remedy == .give(.supersede, "\(runID)"))
        }
    }

    @Test("supersede: recorded; the superseded run's shared practices leave criterion 11, its others keep theirs")
    func supersede() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001", "B82002"], ["p1", "p2"]).write(to: db)
            let first = try #require(try S.run(db, cohort, mode: .issue).runID)
            // Superseding for A81001 only: run 1's A81001 invitees are listed again, recorded.
            let second = try S.run(db, cohort, mode: .issue, practices: ["A81001"], supersede: first)
            let secondID = try #require(second.runID)
            #expect(try S.invited(second) == ["A81001/p1", "A81001/p2"])
            #expect(second.issued?.supersededRunID == first && second.issued?.supersededPractices == ["A81001"])
            let old = try RunRecord.load(first, on: db.connection)
            #expect(old.practices.map(\.supersededByRunID) == [secondID, nil])
            #expect(old.practices[0].supersededAt == second.issued?.issuedAt)
            #expect(try RunRecord.load(secondID, on: db.connection).supersedesRunID == first)
            #expect(Array(try S.auditActions(db).suffix(3)) == ["run", "run.issue", "run.supersede"])
            let entry = try db.connection.query("""
                SELECT payload->>'superseded_run_id' AS r, payload->'practices' = '["A81001"]'::jsonb AS p
                FROM audit_log WHERE action = 'run.supersede'
                """)[0]
            #expect(entry.int("r") == first && entry.bool("p") == true)
            // Now the issued run covering A81001 is run 2: a third issue must name it, not run 1.
            let third = try #require(throws: RecruitError.self) { try S.run(db, cohort, mode: .issue, practices: ["A81001"], supersede: first) }
            #expect(third.message.contains("covers none of this run's practices (A81001) that it has not been superseded for already"))
            let fourth = try #require(throws: RecruitError.self) { try S.run(db, cohort, mode: .issue, practices: ["A81001", "B82002"]) }
            #expect(fourth.message.contains("run \(first) (issued ") && fourth.message.contains("for practice B82002; run \(secondID) (issued "))
            #expect(fourth.message.hasSuffix("supersede them one at a time"))
            // A later run (draft) sees run 2's invitees in A81001 and run 1's in B82002 as recently invited.
            let later = try S.run(db, cohort, indexDate: S.d.adding(days: 1), allowStale: false)
            #expect(try S.invited(later).isEmpty)
            // --supersede of a draft, or of another cohort's run, is refused.
            let draft = try #require(later.runID)
            let notIssued = try #require(throws: RecruitError.self) { try S.run(db, cohort, supersede: draft) }
            #expect(notIssued.message == "run \(draft) is a draft, not issued; only an issued run is superseded")
            #expect(notIssued.subject == .init(.supersede, "\(draft)"))
        }
    }

    @Test("the same patient is not re-invited within the interval, and is invited again after it (runs a year apart on two snapshots)")
    func reinvitationInterval() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        let d2 = S.d.adding(days: 365), d3 = S.d.adding(days: 366)
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1", "p2"]).write(to: db)
            let first = try S.run(db, cohort, mode: .issue, practices: ["A81001"])
            #expect(try S.invited(first) == ["A81001/p1", "A81001/p2"])
            // A second search in the same month invites nobody twice (a draft, same snapshot, D + 20).
            let sameMonth = try S.run(db, cohort, indexDate: S.d.adding(days: 20))
            #expect(try S.invited(sameMonth).isEmpty)
            #expect(sameMonth.manifest.counts.steps[11].remaining == 0 && sameMonth.manifest.counts.steps[10].remaining == 2)
            // A year later, a new snapshot: D2 = D + 365 is still within [D2 - 365, D2]; p3 is new.
            var next = S.extract(["A81001"], ["p1", "p2", "p3"], extractDate: d2)
            try next.write(to: db)
            let atYear = try S.run(db, cohort, mode: .issue)
            #expect(try S.invited(atYear) == ["A81001/p3"])
            // A day later (D + 366, another snapshot): run 1's invitations are out of the window; run 2's p3 is not.
            next = S.extract(["A81001"], ["p1", "p2", "p3"], extractDate: d3)
            try next.write(to: db)
            let after = try S.run(db, cohort, mode: .issue)
            #expect(try S.invited(after) == ["A81001/p1", "A81001/p2"])
        }
    }

    @Test("feedback exclusions across runs: contact-ending outcomes exclude for good; others do not; later outcomes do not change a run")
    func feedbackAcrossRuns() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        let later = S.d.adding(days: 400)
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1", "p2", "p3", "p4", "p5"]).write(to: db)
            let first = try #require(try S.run(db, cohort, mode: .issue).runID)
            // Feedback on run 1 (rows as the feedback importer writes them).
            let importID = try db.connection.query("""
                INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user)
                VALUES ('feedback', 'chronic-pain-out-of-work', 'feedback.csv', 'x', 4, 'test') RETURNING import_id
                """)[0].int("import_id")!
            for (patient, outcome) in [("p1", "declined"), ("p2", "responded"), ("p3", "opted_out"), ("p4", "screened_out"), ("p5", "invited")] {
                try db.connection.execute("""
                    INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome, outcome_date)
                    VALUES (\(importID), 'chronic-pain-out-of-work', 'A81001', \(patient), \(first), \(outcome), \(S.d.adding(days: 20)))
                    """)
            }
            try S.extract(["A81001"], ["p1", "p2", "p3", "p4", "p5"], extractDate: later).write(to: db)
            let second = try S.run(db, cohort, mode: .issue)
            #expect(try S.invited(second) == ["A81001/p2", "A81001/p5"])
            #expect(second.manifest.counts.steps.map(\.remaining).suffix(2) == [5, 2])
            // An outcome recorded after run 2 was made does not change run 2 (reproduced identically) but counts for run 3.
            try db.connection.execute("""
                INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome, outcome_date)
                VALUES (\(importID), 'chronic-pain-out-of-work', 'A81001', 'p2', \(second.runID!), 'consented', \(later))
                """)
            let reproduction = try RunReproducer(database: db, logger: TestDatabase.quietLogger).reproduce(second.runID!, into: nil, wait: false)
            #expect(reproduction.result == .identical)
            // A year and a day later, a new snapshot: run 2's invitations are out of the window, p2's consent is not.
            try S.extract(["A81001"], ["p1", "p2", "p3", "p4", "p5"], extractDate: later.adding(days: 366)).write(to: db)
            let third = try S.run(db, cohort)
            #expect(try S.invited(third) == ["A81001/p5"])
        }
    }

    @Test("a draft whose invitees were invited or had contact ended after it was made is not issued")
    func staleDraft() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1", "p2"]).write(to: db)
            let draft = try #require(try S.run(db, cohort).runID)
            // Another run covering the same people is issued meanwhile, for another index date.
            let other = try #require(try S.run(db, cohort, mode: .issue, indexDate: S.d.adding(days: -3)).runID)
            let error = try #require(throws: RecruitError.self) {
                try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(draft, supersede: nil, wait: false)
            }
            #expect(error.message == "run \(draft) no longer reflects the run history: 2 of its invitees were invited by run \(other), issued after it was made; make a new run")
            #expect(try RunRecord.load(draft, on: db.connection).status == .draft)
        }
    }

    @Test("a draft whose output files were changed after the run is not issued")
    func changedOutputs() throws {
        let cohort = try S.cohort(codeLists: try CodeListFixture.referenceDirectory())
        try TestDatabase.withSchema { db in
            try S.extract(["A81001"], ["p1"]).write(to: db)
            let outcome = try S.run(db, cohort)
            try Data("practice_id,patient_id\n".utf8).write(to: outcome.outputDirectory.appendingPathComponent("practices/A81001/invitations.csv"))
            let error = try #require(throws: RecruitError.self) {
                try RunIssuer(database: db, logger: TestDatabase.quietLogger).issue(outcome.runID!, supersede: nil, wait: false)
            }
            #expect(error.message.contains("output files were changed after it wrote them (practices/A81001/invitations.csv in "))
        }
    }
}
