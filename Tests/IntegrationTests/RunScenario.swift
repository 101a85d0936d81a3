import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport

/// Shared pieces of the runs tests: the reference cohort with the fixture code
/// lists, people who meet every criterion, and shortcuts to make runs.
enum RunScenario {
    static let d = LocalDate(year: 2026, month: 7, day: 1)!
    static let cohortFile = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml")
    static let codeine = "322236009"

    static func cohort(codeLists: URL) throws -> ResolvedCohort {
        let definition = try CohortParser.parse(fileAt: cohortFile)
        return try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: codeLists))
    }

    /// Adds someone who meets every criterion at `d` (chronic pain at D-100,
    /// codeine at D-200, D-150, D-100, a fit note at D-30).
    static func eligible(_ x: inout ExtractFixture, _ practice: String, _ patient: String, d: LocalDate = d) {
        x.add(.init(practiceID: practice, patientID: patient, yearOfBirth: 1980, monthOfBirth: 5,
                    registrationStart: d.adding(days: -4000)))
        x.event(practice, patient, d.adding(days: -100), "N245.")
        x.event(practice, patient, d.adding(days: -30), "9D11.")
        for offset in [-200, -150, -100] { x.prescription(practice, patient, d.adding(days: offset), codeine) }
    }

    /// A snapshot of `practices` at `extractDate` where each of `patients` meets every criterion.
    static func extract(_ practices: [String], _ patients: [String], extractDate: LocalDate = d) -> ExtractFixture {
        var x = ExtractFixture(practices: practices.map { .init($0, extractDate: extractDate) })
        for practice in practices {
            for patient in patients { eligible(&x, practice, patient, d: extractDate) }
        }
        return x
    }

    /// Makes a run with the library, into a new temporary folder.
    @discardableResult
    static func run(_ db: Database, _ cohort: ResolvedCohort, mode: RunRequest.Mode = .draft, indexDate: LocalDate? = nil,
                    practices: [String]? = nil, supersede: Int? = nil, allowStale: Bool = false, wait: Bool = false,
                    out: URL? = nil) throws -> RunRecorder.Outcome {
        let directory = try out ?? TestDatabase.temporaryDirectory("run")
        let request = RunRequest(outputDirectory: directory, indexDate: indexDate, practices: practices, mode: mode,
                                 supersede: supersede, allowStale: allowStale, wait: wait)
        return try RunRecorder(database: db, logger: TestDatabase.quietLogger).run(cohort, request)
    }

    /// The invitees of a run's outcome as "practice/patient".
    static func invited(_ outcome: RunRecorder.Outcome) throws -> [String] {
        try invitations(in: outcome.outputDirectory)
    }

    /// The "practice/patient" rows of DIR/invitations.csv.
    static func invitations(in directory: URL, file: String = "invitations.csv") throws -> [String] {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return "\(fields[0])/\(fields[1])"
        }
    }

    /// How many rows a table holds.
    static func count(_ db: Database, _ table: String, where filter: SQL = "true") throws -> Int {
        try db.connection.query("SELECT count(*) AS n FROM \(identifier: table) WHERE \(filter)")[0].int("n") ?? -1
    }

    /// The actions of the audit trail, in order.
    static func auditActions(_ db: Database) throws -> [String] {
        try db.connection.query("SELECT action FROM audit_log ORDER BY entry_id").map { $0.string("action") }
    }

    /// Replaces a practice's snapshot as the loader does: the new load becomes
    /// current and the old load's partitions are dropped once nothing points at them.
    static func replaceSnapshot(_ db: Database, with extract: ExtractFixture) throws {
        let old = try db.connection.query("SELECT DISTINCT load_id FROM practice_snapshots WHERE practice_id = ANY(\(extract.practices.map(\.id))::text[])")
            .compactMap { $0.int("load_id") }
        try extract.write(to: db)
        for load in old where try count(db, "practice_snapshots", where: "load_id = \(load)") == 0 {
            for table in ["patients", "events", "prescriptions"] {
                try db.connection.execute("DROP TABLE \(identifier: "\(table)_l\(load)")")
            }
        }
    }
}
