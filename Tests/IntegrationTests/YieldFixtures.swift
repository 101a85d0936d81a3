import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport

/// Runs, yields, invitations and practice feedback written straight into the
/// tables the cohort engine and the runs commands fill, for report tests.
struct YieldFixtures {
    let connection: Connection
    var cohort = "chronic-pain-out-of-work"
    var version = "1.0"
    let cohortSHA = YieldFixtures.definition.sha256
    var loadID = 0
    var importID = 0

    /// The reference cohort file, stored as a run stores it.
    static let definition: CohortDefinition = {
        let url = TestDatabase.repositoryRoot.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml")
        return try! CohortParser.parse(fileAt: url)
    }()

    /// The reference cohort's steps as a run records them: criterion id and
    /// label (parameters filled in); step 0 is the extract.
    static let steps: [(String, String, String)] = [("", "in the extract", "")] + definition.criteria.map { c in
        var label = c.label
        for p in definition.parameters { label = label.replacingOccurrences(of: "{\(p.name)}", with: String(p.defaultValue)) }
        return (c.id, label, c.effect.rawValue)
    }

    /// The share of patients each criterion keeps (step 1…12).
    static let keep: [Double] = [0.97, 0.9, 0.998, 0.6, 0.09, 0.4, 0.35, 0.97, 0.995, 0.97, 1.0, 0.98]

    init(_ connection: Connection) throws {
        self.connection = connection
        try connection.execute("""
            INSERT INTO cohort_definitions (cohort_sha256, name, version, definition)
            VALUES (\(cohortSHA), \(cohort), \(version), \(YieldFixtures.definition.text))
            """)
        loadID = try connection.query("""
            INSERT INTO loads (status, os_user, tool_version, profile_name, profile_sha256, extract_date)
            VALUES ('loaded', 'test', 'test', 'synthetic', \(String(repeating: "a", count: 64)), DATE '2024-01-31') RETURNING load_id
            """)[0].int("load_id")!
        importID = try connection.query("""
            INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user)
            VALUES ('feedback', \(cohort), 'feedback.csv', \(String(repeating: "f", count: 64)), 0, 'test') RETURNING import_id
            """)[0].int("import_id")!
    }

    /// A practice's attrition: `listSize` patients through the reference steps,
    /// with a little variation by `seed`.
    static func chain(listSize: Int, seed: Int, keepOverride: [Int: Double] = [:]) -> [Int] {
        var counts = [listSize]
        for (k, share) in keep.enumerated() {
            let jitter = 1 + Double((seed * 7919 + k * 104_729) % 21 - 10) / 100
            let s = min(1, (keepOverride[k + 1] ?? share) * jitter)
            counts.append(Int((Double(counts.last!) * s).rounded(.down)))
        }
        return counts
    }

    /// Inserts one run: its practices, attrition (with `__total__` rows),
    /// invitation list, and (when `feedback`) outcomes for the invitees.
    @discardableResult
    func run(indexDate: String, status: String = "issued", cohort: String? = nil,
             practices: [(id: String, chain: [Int])], feedback: Bool = true) throws -> Int {
        let cohortName = cohort ?? self.cohort
        if cohortName != self.cohort {
            try connection.execute("""
                INSERT INTO cohort_definitions (cohort_sha256, name, version, definition)
                VALUES (\(String(repeating: "d", count: 64)), \(cohortName), '1.0', 'other') ON CONFLICT DO NOTHING
                """)
        }
        let sha = cohortName == self.cohort ? cohortSHA : String(repeating: "d", count: 64)
        let codelists = """
            [{"name":"chronic-pain","version":"2024-01","sha256":"\(String(repeating: "1", count: 64))"},\
            {"name":"fit-notes","version":"2023-11","sha256":"\(String(repeating: "2", count: 64))"}]
            """
        // One transaction, as a run recorded and issued at once (--issue): an issued run is frozen afterwards.
        let runID = try connection.transaction { () throws -> Int in
            let runID = try connection.query("""
                INSERT INTO runs (cohort_name, cohort_version, cohort_sha256, index_date, codelists, status, history_as_of,
                                  os_user, tool_version, issued_at, finished_at)
                VALUES (\(cohortName), \(version), \(sha), \(indexDate)::date, \(JSONB(codelists)), \(status), now(),
                        'test', '0.1.0', CASE WHEN \(status) = 'issued' THEN now() END, now())
                RETURNING run_id
                """)[0].int("run_id")!
            var ids: [String] = [], steps: [Int] = [], criteria: [String] = [], labels: [String] = [], remaining: [Int] = []
            var effects: [String] = []
            func add(_ practice: String, _ chain: [Int]) {
                for (k, n) in chain.enumerated() {
                    ids.append(practice); steps.append(k); criteria.append(Self.steps[k].0); labels.append(Self.steps[k].1); remaining.append(n)
                    effects.append(Self.steps[k].2)
                }
            }
            for p in practices { add(p.id, p.chain) }
            if let width = practices.first?.chain.count {
                add("__total__", (0..<width).map { k in practices.reduce(0) { $0 + $1.chain[k] } })
            }
            try connection.execute("""
                INSERT INTO run_yields (run_id, practice_id, step, criterion, label, remaining, effect)
                SELECT \(runID), i, s, c, l, r, nullif(e, '')
                FROM unnest(\(ids)::text[], \(steps)::int[], \(criteria)::text[], \(labels)::text[], \(remaining)::bigint[], \(effects)::text[])
                  AS u(i, s, c, l, r, e)
                """)
            try connection.execute("""
                INSERT INTO run_practices (run_id, practice_id, load_id, extract_date)
                SELECT \(runID), p, \(loadID), \(indexDate)::date FROM unnest(\(practices.map(\.id))::text[]) p
                """)
            try connection.execute("""
                INSERT INTO run_invitations (run_id, practice_id, patient_id)
                SELECT \(runID), u.p, 'R' || \(runID) || '-' || lpad(g::text, 6, '0')
                FROM unnest(\(practices.map(\.id))::text[], \(practices.map { $0.chain.last! })::int[]) AS u(p, n), generate_series(1, u.n) g
                """)
            return runID
        }
        if feedback { try addFeedback(run: runID, indexDate: indexDate) }
        return runID
    }

    /// Outcomes for a run's invitees, fixed by a hash of each patient:
    /// 8% screened out, 4% not invited, the rest invited; of those about 8%
    /// declined, 30% responded; half the responders ineligible (by reason), 10% consented.
    func addFeedback(run: Int, indexDate: String) throws {
        try connection.execute("""
            WITH inv AS (
              SELECT run_id, practice_id, patient_id,
                     abs(hashtext(practice_id || '/' || patient_id || ':u')) % 1000 AS u,
                     abs(hashtext(practice_id || '/' || patient_id || ':v')) % 100 AS v
              FROM run_invitations WHERE run_id = \(run)),
            o AS (
              SELECT inv.*, 'screened_out' AS outcome, NULL AS reason FROM inv WHERE u < 80
              UNION ALL SELECT inv.*, 'not_invited', NULL FROM inv WHERE u BETWEEN 80 AND 119
              UNION ALL SELECT inv.*, 'invited', NULL FROM inv WHERE u >= 120
              UNION ALL SELECT inv.*, 'declined', NULL FROM inv WHERE u BETWEEN 120 AND 199
              UNION ALL SELECT inv.*, 'responded', NULL FROM inv WHERE u >= 700
              UNION ALL SELECT inv.*, 'ineligible',
                     CASE WHEN v < 40 THEN 'in_work' WHEN v < 70 THEN 'off_sick_with_job' WHEN v < 85 THEN 'not_chronic_pain'
                          WHEN v < 95 THEN 'other' END
                     FROM inv WHERE u BETWEEN 700 AND 849
              UNION ALL SELECT inv.*, 'consented', NULL FROM inv WHERE u >= 900)
            INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome, reason, outcome_date)
            SELECT \(importID), \(cohort), practice_id, patient_id, run_id, outcome, reason, \(indexDate)::date + 20 FROM o
            """)
    }

    /// Practice ids A81001, A81002, …
    static func practiceID(_ i: Int) -> String { "A8\(String(format: "%04d", 1000 + i))" }

    /// `count` practices of varied list sizes (1,500 to 16,000) through the reference steps.
    static func practices(_ count: Int, seed: Int = 0, keepOverride: [Int: Double] = [:]) -> [(id: String, chain: [Int])] {
        (0..<count).map { i in
            let size = 1500 + ((i + seed) * 2_654_435_761 % 14_500)
            return (practiceID(i), chain(listSize: size, seed: i + seed, keepOverride: keepOverride))
        }
    }
}
