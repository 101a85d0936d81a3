import Foundation
import Logging
import Postgres

/// Evaluates a resolved cohort against the current snapshots in PostgreSQL:
/// one statement for all practices, yield and list together.
public struct SQLEngine {
    public let cohort: ResolvedCohort
    public let logger: Logger

    public init(cohort: ResolvedCohort, logger: Logger) {
        self.cohort = cohort
        self.logger = logger
    }

    /// What an evaluation runs over, as chosen from the loaded snapshots.
    public struct Scope: Sendable {
        public var indexDate: LocalDate
        public var practices: [PracticeSnapshot]
        /// Whether the evaluation is restricted to named practices (else: all loaded).
        public var restricted: Bool
        public var historyAsOf: String
        /// The extract tables are distributed (Citus, `recruit db distribute`).
        public var distributed = false
    }

    /// Session settings for the evaluation (the cost model of an SSD-backed
    /// server; no JIT, whose compile time costs more than it saves here; room
    /// to hash and sort per-patient rows in memory).
    ///
    /// The plan must not depend on the statistics the tables happen to have.
    /// The planner misjudges how many rows survive the views' join with
    /// `practice_snapshots` (two correlated columns: 250 of 100,000 patients
    /// when the partitioned parents have no statistics, which is what
    /// autovacuum leaves, since it never analyses a partitioned table), and
    /// from such an estimate it would put a per-patient aggregate on the
    /// inner side of a nested loop and rescan it for every patient: quadratic
    /// in the data, hours at a million patients. Every join of this statement
    /// that has a choice is an equality join of per-patient rows, for which a
    /// hash join is right at every size, so nested loops and merge joins are
    /// off: the only nested loops left are the ones nothing else can do (each
    /// code's index probe, `LATERAL`; the yield's practices times steps).
    /// `CohortPlanShapeTests` reads the plan in every statistics state.
    /// Sorts are off for the same kind of reason: every grouping here is per
    /// patient, and from its misjudged row counts the planner would sort a
    /// million records to group them where hashing them costs a third
    /// (measured at 1M patients: the statement 4.8 s instead of 6.2 s); the
    /// sorts left are the ones nothing else can do (the spells' window
    /// functions, the final order). A hash aggregate larger than work_mem
    /// spills to disk, so this is safe at every size.
    /// Parallel workers are off as in the baseline: on a busy 2-core server
    /// they cost more than they give.
    public static let sessionSettings = [("random_page_cost", "1.1"), ("jit", "off"), ("work_mem", "256MB"),
                                  ("enable_mergejoin", "off"), ("enable_nestloop", "off"), ("enable_sort", "off"),
                                  ("max_parallel_workers_per_gather", "0")]

    /// Evaluates the cohort: yield per practice and in total, and the invitees with evidence.
    ///
    /// Runs in one REPEATABLE READ, READ ONLY transaction, so the snapshots
    /// chosen and the rows read are one consistent state.
    ///
    /// - Parameters:
    ///   - database: the project database.
    ///   - indexDate: D; nil for the practices' extract date (refused when they differ).
    ///   - practices: practice ids to evaluate; nil or empty for all with a loaded snapshot.
    ///   - historyAsOf: count history recorded before this instant (a
    ///     `timestamptz` as text): the runs stage fixes it under its lock,
    ///     and a reproduction passes the original run's.
    ///   - ignoredRunIDs: runs this run supersedes (criterion 11 ignores their invitations).
    /// - Throws: ``RecruitError`` (refused) for an unknown practice, no loaded
    ///   practice, or differing extract dates without an index date.
    public func evaluate(on database: Database, indexDate: LocalDate?, practices: [String]?,
                         historyAsOf: String, ignoredRunIDs: [Int] = [],
                         recordAccess: CohortQueryContext.RecordAccess? = nil) throws -> CohortEvaluation {
        let connection = database.connection
        return try connection.transaction(isolation: .repeatableRead, readOnly: true) {
            let scope = try self.scope(on: connection, indexDate: indexDate, practices: practices, historyAsOf: historyAsOf)
            let context = self.context(scope, ignoredRunIDs: ignoredRunIDs, recordAccess: recordAccess)
            var started = Date()
            let query = CohortSQLCompiler.compile(cohort, context: context, shape: .run)
            logger.debug("cohort compiled", metadata: ["ms": "\(Int(Date().timeIntervalSince(started) * 1000))",
                                                       "parameters": "\(query.statement.sql.binds.count)"])
            started = Date()
            let result = try connection.query(query.statement.sql)
            logger.debug("cohort statement executed", metadata: ["ms": "\(Int(Date().timeIntervalSince(started) * 1000))"])
            let evaluation = try read(result, query: query, scope: scope)
            logger.info("cohort evaluated", metadata: [
                "cohort": "\(cohort.name)", "index_date": "\(scope.indexDate)", "practices": "\(scope.practices.count)",
                "invited": "\(evaluation.invitations.count)", "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(started)))",
            ])
            return evaluation
        }
    }

    /// Every patient's step (for tests and for explaining one patient), by practice then patient.
    public func steps(on database: Database, indexDate: LocalDate?, practices: [String]?,
                      historyAsOf: String, ignoredRunIDs: [Int] = [],
                      recordAccess: CohortQueryContext.RecordAccess? = nil) throws -> [PatientStep] {
        let connection = database.connection
        return try connection.transaction(isolation: .repeatableRead, readOnly: true) {
            let scope = try self.scope(on: connection, indexDate: indexDate, practices: practices, historyAsOf: historyAsOf)
            let context = self.context(scope, ignoredRunIDs: ignoredRunIDs, recordAccess: recordAccess)
            let query = CohortSQLCompiler.compile(cohort, context: context, shape: .steps)
            return try connection.query(query.statement.sql).map {
                PatientStep(practiceID: $0.string("practice_id"), patientID: $0.string("patient_id"), leftAt: $0.int("left_at") ?? -1)
            }
        }
    }

    /// The plan PostgreSQL would choose for the run's statement, as
    /// `EXPLAIN (FORMAT JSON)` returns it: the same scope, settings and
    /// statement as ``evaluate(on:indexDate:practices:historyAsOf:ignoredRunIDs:recordAccess:)``,
    /// nothing executed. `overriding` replaces session settings after the
    /// evaluation's own (a diagnostic: what the plan would be without them).
    public func plan(on database: Database, indexDate: LocalDate?, practices: [String]?, historyAsOf: String,
                     recordAccess: CohortQueryContext.RecordAccess? = nil,
                     overriding settings: [(String, String)] = []) throws -> String {
        let connection = database.connection
        return try connection.transaction(isolation: .repeatableRead, readOnly: true) {
            let scope = try self.scope(on: connection, indexDate: indexDate, practices: practices, historyAsOf: historyAsOf)
            for (name, value) in settings {
                try connection.execute("SELECT set_config(\(name), \(value), true)")
            }
            let query = CohortSQLCompiler.compile(cohort, context: self.context(scope, ignoredRunIDs: [], recordAccess: recordAccess), shape: .run)
            let rows = try connection.query("EXPLAIN (FORMAT JSON) \(query.statement.sql)")
            return rows.map { $0.string("QUERY PLAN") }.joined(separator: "\n")
        }
    }

    /// The compiler's context for a scope; the record access is chosen from
    /// the number of codes and of loaded partitions unless given.
    func context(_ scope: Scope, ignoredRunIDs: [Int], recordAccess: CohortQueryContext.RecordAccess?) -> CohortQueryContext {
        let codes = Set(cohort.codeLists.flatMap(\.codes)).count
        let loads = Set(scope.practices.map(\.loadID)).count
        // On Citus the records are read by a join with the codes (.scan): a
        // LATERAL probe per code correlates the distributed tables on the code,
        // not on the distribution column, which Citus cannot push down.
        let access = recordAccess ?? (scope.distributed ? .scan : CohortQueryContext.recordAccess(codes: codes, loads: loads))
        logger.debug("cohort record access", metadata: ["access": "\(access.rawValue)", "codes": "\(codes)", "loads": "\(loads)"])
        return CohortQueryContext(indexDate: scope.indexDate, practices: scope.restricted ? scope.practices.map(\.practiceID) : nil,
                                  historyAsOf: scope.historyAsOf, ignoredRunIDs: ignoredRunIDs, recordAccess: access,
                                  distributed: scope.distributed)
    }

    /// Chooses the practices and the index date and applies the session
    /// settings (inside the caller's transaction).
    func scope(on connection: Connection, indexDate: LocalDate?, practices: [String]?, historyAsOf: String) throws -> Scope {
        for (name, value) in Self.sessionSettings {
            try connection.execute("SELECT set_config(\(name), \(value), true)")
        }
        let distributed = try Distribution.isDistributed(connection)
        if distributed {
            // On Citus the statement's per-shard parts are planned on the
            // workers, which must plan them with the same settings (no nested
            // loop over a per-patient aggregate): Citus sends a transaction's
            // SET LOCAL commands (not set_config calls) to the workers'
            // connections when citus.propagate_set_commands is 'local'. The
            // names and values are the constants above.
            try connection.executeScript(unsafeSQL: "SET LOCAL citus.propagate_set_commands TO 'local'")
            for (name, value) in Self.sessionSettings {
                precondition((name + value).allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." })
                try connection.executeScript(unsafeSQL: "SET LOCAL \(name) TO '\(value)'")
            }
        }
        let wanted = practices.map { Array(Set($0)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } } ?? []
        let snapshots = try PracticeSnapshot.current(on: connection, practices: wanted.isEmpty ? nil : wanted)
        let found = Set(snapshots.map(\.practiceID))
        let missing = wanted.filter { !found.contains($0) }
        if !missing.isEmpty {
            throw RecruitError.refused("no loaded snapshot for practice\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")): load \(missing.count == 1 ? "its" : "their") extract first")
        }
        guard !snapshots.isEmpty else {
            throw RecruitError.refused("no practice has a loaded snapshot: load an extract first (recruit load)")
        }
        let d: LocalDate
        if let indexDate {
            d = indexDate
        } else {
            let dates = Dictionary(grouping: snapshots, by: \.extractDate)
            guard dates.count == 1, let only = dates.keys.first else {
                let listing = dates.keys.sorted().map { date in
                    "\(date) (\(dates[date]!.map(\.practiceID).joined(separator: ", ")))"
                }.joined(separator: "; ")
                throw RecruitError.refused("the practices' extract dates differ: \(listing)", remedy: .give(.indexDate))
            }
            d = only
        }
        return Scope(indexDate: d, practices: snapshots, restricted: !wanted.isEmpty, historyAsOf: historyAsOf,
                     distributed: distributed)
    }

    func read(_ result: QueryResult, query: CompiledCohortQuery, scope: Scope) throws -> CohortEvaluation {
        let ids = [""] + cohort.criteria.map(\.id)
        var yields: [YieldRow] = []
        var invitations: [Invitation] = []
        for row in result {
            if row.int("part") == 0 {
                let step = row.int("step") ?? 0
                yields.append(YieldRow(practiceID: row.string("practice_id"), step: step,
                                       criterion: step < ids.count ? ids[step] : "", remaining: row.int("remaining") ?? 0))
                continue
            }
            var evidence: [CriterionEvidence] = []
            for spec in query.evidence {
                let e = "e\(spec.step)"
                var item = CriterionEvidence(criterionID: spec.criterionID, code: "", codeSystem: "", term: "", date: nil)
                if let key = row.int("\(e)_key"), let (date, code) = query.decode(evidenceKey: key) {
                    item.code = code.code
                    item.codeSystem = code.system.rawValue
                    item.term = cohort.term(of: code, lists: spec.lists)
                    item.date = date
                }
                if spec.hasPrescriptions {
                    item.count = row.int("\(e)_count")
                    item.first = row.date("\(e)_first")
                    item.last = row.date("\(e)_last")
                }
                if spec.hasSpell {
                    item.spellStart = row.date("\(e)_spell_start")
                    item.spellEnd = row.date("\(e)_spell_end")
                    item.spellDays = row.int("\(e)_spell_days")
                }
                evidence.append(item)
            }
            invitations.append(Invitation(practiceID: row.string("practice_id"), patientID: row.string("patient_id"), evidence: evidence))
        }
        return CohortEvaluation(
            cohortName: cohort.name, cohortVersion: cohort.version, cohortSHA256: cohort.definition.sha256,
            indexDate: scope.indexDate, historyAsOf: scope.historyAsOf, parameters: cohort.parameters,
            practices: scope.practices,
            criteria: cohort.criteria.map { CriterionSummary(step: $0.step, id: $0.id, label: $0.label, effect: $0.effect.rawValue) },
            yields: yields, invitations: invitations, evidence: query.evidence)
    }
}
