import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// States (1) and (2) are made by deleting statistics, which needs a superuser (`make test`'s cluster has one).
enum StatisticsEditable {
    static let value: Bool = {
        guard let connection = try? TestDatabase.connect() else { return false }
        let superuser = (try? connection.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").first?.bool("rolsuper")) ?? nil
        if superuser != true { print("note: the database user is not a superuser: the plan-shape tests are skipped") }
        return superuser == true
    }()
}

/// The run's plan cannot fall off a cliff: in every state of the planner's
/// statistics a real database reaches, the reference cohort's statement has no
/// nested loop over per-patient aggregates and no Materialize of them (each
/// would rescan per-patient rows for every patient). Read from the plan, not
/// timed, on a 20,000-patient synthetic extract loaded by `recruit load`.
///
/// The states (issue 19): (1) nothing analysed; (2) what autovacuum leaves:
/// plain tables and partitions analysed, the partitioned parents not (it never
/// analyses a partitioned table); (3) everything analysed; (4) stale: a second
/// load replaced half the practices and the parents' statistics are the first
/// load's.
@Suite("The run's plan in every statistics state", .serialized,
       .enabled(if: TestDatabase.isAvailable && LoaderBuilt.value && StatisticsEditable.value))
struct CohortPlanShapeTests {
    static let codeLists = TestDatabase.repositoryRoot.appendingPathComponent("codelists")

    /// The reference cohort, and its spells variant (whose notes are read on their own).
    static let cohorts = ["chronic-pain-out-of-work", "chronic-pain-out-of-work-spells"]

    static func evaluator(_ name: String) throws -> SQLEngine {
        let definition = try CohortParser.parse(fileAt: TestDatabase.repositoryRoot.appendingPathComponent("cohorts/\(name).yaml"))
        let cohort = try CohortValidator.resolve(definition, codeLists: DirectoryCodeListSource(directory: codeLists))
        return SQLEngine(cohort: cohort, logger: TestDatabase.quietLogger)
    }

    /// The relations of the schema of a kind (`r` plain tables and partitions, `p` partitioned parents).
    static func relations(_ db: Database, kind: String) throws -> [String] {
        try db.connection.query("""
            SELECT c.relname FROM pg_class c WHERE c.relnamespace = \(db.schema)::regnamespace AND c.relkind = \(kind)::"char"
            ORDER BY c.relname
            """).map { $0.string("relname") }
    }

    static func deleteStatistics(_ db: Database, kinds: [String]) throws {
        try db.connection.execute("""
            DELETE FROM pg_statistic WHERE starelid IN (
              SELECT c.oid FROM pg_class c WHERE c.relnamespace = \(db.schema)::regnamespace AND c.relkind::text = ANY(\(kinds)::text[]))
            """)
    }

    static func analyse(_ db: Database, kind: String) throws {
        for name in try relations(db, kind: kind) {
            try db.connection.execute("ANALYZE \(identifier: db.schema).\(identifier: name)")
        }
    }

    /// The practices' second extract: half of them, a month later, the same records.
    static func halfThePractices(of source: URL, into target: URL, extractDate: LocalDate) throws {
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let script = """
            NR == 1 { print > (out "/patients.csv"); next }
            !($2 in practices) { practices[$2] = n++ }
            practices[$2] % 2 == 0 { print > (out "/patients.csv"); keep[$1] = 1 }
            """
        let patients = try ProcessRunner.run("/usr/bin/awk", ["-F,", "-v", "out=\(target.path)", script, source.appendingPathComponent("patients.csv").path])
        #expect(patients.status == 0, "\(patients.stderr)")
        for file in ["events.csv", "prescriptions.csv"] {
            let filter = """
                FNR == NR { if (FNR > 1) keep[$1] = 1; next }
                FNR == 1 || ($1 in keep) { print > (out "/\(file)") }
                """
            let run = try ProcessRunner.run("/usr/bin/awk", ["-F,", "-v", "out=\(target.path)", filter,
                                                             target.appendingPathComponent("patients.csv").path, source.appendingPathComponent(file).path])
            #expect(run.status == 0, "\(run.stderr)")
        }
        try #"{"format": "gp-extract/1", "extract_date": "\#(extractDate)", "source_system": "recruit synth, half the practices"}"#
            .write(to: target.appendingPathComponent("extract.json"), atomically: true, encoding: .utf8)
    }

    /// The plan's rescans, for each way of reading records.
    static func rescans(_ db: Database, _ evaluator: SQLEngine, indexDate: LocalDate,
                        overriding settings: [(String, String)] = []) throws -> [String] {
        var found: [String] = []
        for access in CohortQueryContext.RecordAccess.allCases {
            let plan = try PlanShape.root(ofExplainJSON: evaluator.plan(on: db, indexDate: indexDate, practices: nil, historyAsOf: ContactHistory.instant(db),
                                                                         recordAccess: access, overriding: settings))
            #expect(PlanShape.perPatientAggregates(in: plan) >= 2, "the plan read is not the run's: no per-patient aggregates")
            found += PlanShape.rescans(in: plan).map { "\(access.rawValue): \($0)" }
        }
        return found
    }

    static func expectNoRescan(_ db: Database, _ evaluators: [SQLEngine], indexDate: LocalDate, _ state: String) throws {
        for evaluator in evaluators {
            let found = try rescans(db, evaluator, indexDate: indexDate)
            #expect(found.isEmpty, "\(state), \(evaluator.cohort.name): \(found.joined(separator: "\n"))")
        }
    }

    @Test("no nested loop or Materialize over per-patient rows in any of the four statistics states")
    func noRescanInAnyState() throws {
        let dir = try TestDatabase.temporaryDirectory("plan-shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = dir.appendingPathComponent("first"), second = dir.appendingPathComponent("second")
        let synth = try RecruitCLI.run(["synth", "--out", first.path, "--patients", "20000", "--practices", "20", "--seed", "20261206",
                                        "--codelists", Self.codeLists.path, "-q"])
        try #require(synth.status == 0, "\(synth.stderr)")
        let extractDate = try #require(LocalDate(iso: String(try String(contentsOf: first.appendingPathComponent("extract.json"), encoding: .utf8)
            .split(separator: "\"").first { LocalDate(iso: String($0)) != nil } ?? "")))
        let later = extractDate.adding(days: 31)
        try Self.halfThePractices(of: first, into: second, extractDate: later)
        let evaluators = try Self.cohorts.map(Self.evaluator)

        try TestDatabase.withSchema { db in
            let load = try RecruitCLI.run(["load", first.path, "-q"], schema: db.schema)
            try #require(load.status == 0, "\(load.stderr)")

            // (1) Nothing analysed.
            try Self.deleteStatistics(db, kinds: ["r", "p"])
            try Self.expectNoRescan(db, evaluators, indexDate: extractDate, "state 1: nothing analysed")

            // (2) What autovacuum leaves: plain tables and partitions analysed, the parents not.
            try Self.analyse(db, kind: "r")
            try Self.deleteStatistics(db, kinds: ["p"])
            try Self.expectNoRescan(db, evaluators, indexDate: extractDate, "state 2: partitions analysed, parents not")

            // The check can fail: without hash joins the same statement rescans per-patient rows.
            let forced = try Self.rescans(db, evaluators[0], indexDate: extractDate,
                                          overriding: [("enable_nestloop", "on"), ("enable_hashjoin", "off")])
            #expect(!forced.isEmpty, "a plan forced to nested loops shows no rescan: the check cannot fail")

            // (3) Everything analysed.
            try Self.analyse(db, kind: "p")
            try Self.expectNoRescan(db, evaluators, indexDate: extractDate, "state 3: everything analysed")

            // (4) Stale: half the practices replaced by a later load; the parents' statistics are the first load's.
            let reload = try RecruitCLI.run(["load", second.path, "-q"], schema: db.schema)
            try #require(reload.status == 0, "\(reload.stderr)")
            let replaced = try db.connection.query("SELECT count(*) AS n FROM practice_snapshots WHERE extract_date = \(later)")[0].int("n")
            #expect(replaced == 10)
            try Self.expectNoRescan(db, evaluators, indexDate: later, "state 4: stale statistics")
        }
    }
}
