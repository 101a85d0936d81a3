import Postgres

/// What one evaluation is for: the index date, the practices, and the run
/// history it may see.
public struct CohortQueryContext: Sendable {
    /// D. Nil only when printing the SQL without a date.
    public var indexDate: LocalDate?
    /// The practices evaluated; nil means every practice with a current snapshot.
    public var practices: [String]?
    /// History (criteria 11 and 12) counts only when recorded before this
    /// instant (a `timestamptz` in PostgreSQL's text form). Nil only when printing.
    public var historyAsOf: String?
    /// Runs whose invitations criterion 11 ignores: the run being made supersedes
    /// them for its practices (and its reproduction passes the same ids).
    public var ignoredRunIDs: [Int]

    public init(indexDate: LocalDate?, practices: [String]? = nil, historyAsOf: String? = nil, ignoredRunIDs: [Int] = []) {
        self.indexDate = indexDate
        self.practices = practices
        self.historyAsOf = historyAsOf
        self.ignoredRunIDs = ignoredRunIDs
    }
}

/// The evidence columns of one inclusion criterion.
public struct EvidenceSpec: Sendable, Hashable {
    public var step: Int
    public var criterionID: String
    /// The lists its terms come from, in order.
    public var lists: [String]
    /// Whether it has a prescription count and first/last dates.
    public var hasPrescriptions: Bool
}

/// A compiled cohort: one statement and how to read its rows.
public struct CompiledCohortQuery: Sendable {
    /// What the statement returns.
    public enum Shape: Sendable {
        /// The yield table and the invitation list with evidence, in one result:
        /// `part` 0 rows are yield rows (`practice_id`, `step`, `remaining`), in
        /// order, `__total__` last; `part` 1 rows are invitees (`practice_id`,
        /// `patient_id`, then per evidence criterion `eN_code`, `eN_system`,
        /// `eN_date` and, with prescriptions, `eN_count`, `eN_first`, `eN_last`),
        /// ordered by practice then patient in byte order.
        case run
        /// Every patient's step (`practice_id`, `patient_id`, `left_at`: the
        /// criterion that removed them, 0 when they stayed to the end).
        case steps
    }

    public var shape: Shape
    public var statement: AnnotatedSQL
    public var evidence: [EvidenceSpec]
}

/// Compiles a ``ResolvedCohort`` into one SQL statement that evaluates every
/// patient of the chosen practices in one pass.
///
/// The plan of the statement:
/// 1. `cl`: every code of every list the cohort names, with a bit mask of the
///    lists holding it (three array parameters);
/// 2. `m`: the events and prescriptions whose code is in one of those lists and
///    whose date is within the widest window any condition reads (the few
///    records that matter, found through the code);
/// 3. `a`: per patient, for each record condition, the counts, first and last
///    dates, or latest dates it needs (one aggregation with FILTER clauses);
/// 4. `st`: every patient of the practices' current snapshots with the first
///    criterion they fail (`left_at`, 0 for none), in criterion order; history
///    conditions (criteria 11, 12) are subqueries that run only for the
///    patients that reach them;
/// 5. from `st`, the yield per practice and in total, and the invitees with the
///    records that put them there.
///
/// Every value (the index date, numbers, code lists, practice ids, cohort name,
/// outcomes) is a bound parameter; the statement text depends only on the
/// shape of the definition.
public struct CohortSQLCompiler {
    let cohort: ResolvedCohort
    let context: CohortQueryContext
    /// The bit of each code list in `cl.lists`.
    let bits: [String: Int]

    /// The record conditions met so far, numbered from 1 in file order.
    private var leaves: [Leaf] = []

    struct Leaf {
        var number: Int
        var condition: ResolvedCondition
        /// Needs first/last dates (a minimum span, or prescription evidence).
        var needsDates: Bool
        /// The inclusion criterion whose evidence it gives (nil under a `not`, or in an exclusion).
        var evidenceStep: Int?
    }

    public init(cohort: ResolvedCohort, context: CohortQueryContext) {
        self.cohort = cohort
        self.context = context
        var bits: [String: Int] = [:]
        for (i, list) in cohort.codeLists.enumerated() { bits[list.name] = i }
        self.bits = bits
    }

    /// Compiles the statement.
    public static func compile(_ cohort: ResolvedCohort, context: CohortQueryContext, shape: CompiledCohortQuery.Shape = .run) -> CompiledCohortQuery {
        var compiler = CohortSQLCompiler(cohort: cohort, context: context)
        return compiler.compile(shape: shape)
    }

    // MARK: Values

    var d: AnnotatedSQL { "\(bind: context.indexDate, context.indexDate == nil ? "D: the index date (not given: the loaded snapshots' extract date)" : "D: the index date")::date" }

    func int(_ n: ResolvedNumber, _ what: String) -> AnnotatedSQL {
        "\(bind: Int32(clamping: n.value), "\(what): \(n.note)")::int"
    }

    /// `D - n days`.
    func daysBefore(_ n: ResolvedNumber, _ what: String) -> AnnotatedSQL {
        n.value == 0 && n.parameter == nil ? d : "(\(d) - \(int(n, what)))"
    }

    func mask(_ lists: [String]) -> Int {
        lists.reduce(0) { $0 | (1 << (bits[$1] ?? 63)) }
    }

    func maskSQL(_ lists: [String], _ what: String) -> AnnotatedSQL {
        "\(bind: mask(lists), "\(what): bit mask of \(lists.joined(separator: ", "))")::int8"
    }

    var practiceFilter: AnnotatedSQL? {
        guard let practices = context.practices else { return nil }
        return "\(bind: practices, "the practices evaluated")::text[]"
    }

    var historyAsOf: AnnotatedSQL {
        "\(bind: context.historyAsOf, "history recorded before this instant counts (criteria on run history)")::timestamptz"
    }

    // MARK: The statement

    mutating func compile(shape: CompiledCohortQuery.Shape) -> CompiledCohortQuery {
        // Criteria first: they number the record conditions.
        var cases: [AnnotatedSQL] = []
        var evidence: [EvidenceSpec] = []
        var evidenceLeaves: [Int: [Leaf]] = [:]
        for criterion in cohort.criteria {
            let first = leaves.count
            let expression = condition(criterion.condition, evidenceFor: criterion.effect == .include ? criterion.step : nil)
            if criterion.effect == .include {
                cases.append("WHEN NOT \(expression) THEN \(raw: String(criterion.step))")
            } else {
                cases.append("WHEN \(expression) THEN \(raw: String(criterion.step))")
            }
            let mine = leaves[first...].filter { $0.evidenceStep == criterion.step }
            if !mine.isEmpty {
                evidenceLeaves[criterion.step] = Array(mine)
                evidence.append(EvidenceSpec(step: criterion.step, criterionID: criterion.id, lists: criterion.evidenceLists,
                                             hasPrescriptions: criterion.hasPrescriptionEvidence))
            }
        }
        let allEvidenceLeaves = evidence.flatMap { evidenceLeaves[$0.step]! }
        let leftAt: AnnotatedSQL = "CASE \(AnnotatedSQL(joining: cases, separator: "\n      ")) ELSE 0 END"

        var ctes: [AnnotatedSQL] = []
        if !leaves.isEmpty {
            ctes.append(codeListCTE())
            ctes.append(recordsCTE())
            ctes.append(aggregateCTE())
        }
        // st: every patient and the criterion that removed them.
        var carried: [AnnotatedSQL] = []
        if shape == .run {
            for leaf in allEvidenceLeaves {
                carried.append(", \(leafHolds(leaf)) AS h\(raw: String(leaf.number))")
                if case .records(let r) = leaf.condition, r.source == .prescriptions {
                    let k = String(leaf.number)
                    carried.append(", a.n\(raw: k), a.f\(raw: k), a.l\(raw: k)")
                }
            }
        }
        var patientFilter: AnnotatedSQL = ""
        if let practices = practiceFilter { patientFilter = "\n  WHERE p.practice_id = ANY(\(practices))" }
        let join: AnnotatedSQL = leaves.isEmpty ? "" : "\n  LEFT JOIN a ON a.practice_id = p.practice_id AND a.patient_id = p.patient_id"
        ctes.append("""
            st AS MATERIALIZED (
              SELECT p.practice_id, p.patient_id,
                \(leftAt) AS left_at\(AnnotatedSQL(joining: carried, separator: ""))
              FROM current_patients p\(join)\(patientFilter)
            )
            """)

        let body: AnnotatedSQL
        switch shape {
        case .steps:
            body = """
                SELECT st.practice_id, st.patient_id, st.left_at
                FROM st
                ORDER BY st.practice_id COLLATE "C", st.patient_id COLLATE "C"
                """
        case .run:
            ctes.append(contentsOf: yieldCTEs())
            ctes.append("inv AS (SELECT * FROM st WHERE st.left_at = 0)")
            var evidenceColumns: [AnnotatedSQL] = []
            var nullColumns: [String] = []
            var joins: [AnnotatedSQL] = []
            if !evidence.isEmpty {
                let hs = allEvidenceLeaves.map { ", inv.h\($0.number)" }.joined()
                ctes.append("mi AS (SELECT m.*\(raw: hs) FROM m JOIN inv ON inv.practice_id = m.practice_id AND inv.patient_id = m.patient_id)")
            }
            for spec in evidence {
                let e = "e\(spec.step)"
                let mine = evidenceLeaves[spec.step]!
                let filters = AnnotatedSQL(joining: mine.map { "(m.h\(raw: String($0.number)) AND \(evidenceFilter($0)))" }, separator: " OR ")
                ctes.append("""
                    \(raw: e) AS (
                      SELECT DISTINCT ON (m.practice_id, m.patient_id) m.practice_id, m.patient_id, m.code, m.code_system, m.d
                      FROM mi AS m
                      WHERE \(filters)
                      ORDER BY m.practice_id, m.patient_id, m.d DESC, m.code COLLATE "C", m.code_system COLLATE "C"
                    )
                    """)
                joins.append("\n  LEFT JOIN \(raw: e) ON \(raw: e).practice_id = i.practice_id AND \(raw: e).patient_id = i.patient_id")
                evidenceColumns.append(", \(raw: e).code AS \(raw: e)_code, \(raw: e).code_system AS \(raw: e)_system, \(raw: e).d AS \(raw: e)_date")
                nullColumns += ["NULL::text AS \(e)_code", "NULL::text AS \(e)_system", "NULL::date AS \(e)_date"]
                if spec.hasPrescriptions {
                    let rx = mine.filter { if case .records(let r) = $0.condition { return r.source == .prescriptions } else { return false } }
                    func pick(_ column: String) -> String {
                        "CASE " + rx.map { "WHEN i.h\($0.number) THEN i.\(column)\($0.number)" }.joined(separator: " ") + " END"
                    }
                    evidenceColumns.append(", \(raw: pick("n")) AS \(raw: e)_count, \(raw: pick("f")) AS \(raw: e)_first, \(raw: pick("l")) AS \(raw: e)_last")
                    nullColumns += ["NULL::bigint AS \(e)_count", "NULL::date AS \(e)_first", "NULL::date AS \(e)_last"]
                }
            }
            let nulls = nullColumns.map { ", " + $0 }.joined()
            body = """
                SELECT * FROM (
                  SELECT 0 AS part, coalesce(y.practice_id, '__total__') AS practice_id, y.practice_id IS NULL AS total,
                         y.step, y.remaining, NULL::text AS patient_id\(raw: nulls)
                  FROM y
                  UNION ALL
                  SELECT 1, i.practice_id, false, NULL::int, NULL::bigint, i.patient_id\(AnnotatedSQL(joining: evidenceColumns, separator: ""))
                  FROM inv i\(AnnotatedSQL(joining: joins, separator: ""))
                ) out
                ORDER BY out.part, out.total, out.practice_id COLLATE "C", out.step, out.patient_id COLLATE "C"
                """
        }
        let statement: AnnotatedSQL = "WITH \(AnnotatedSQL(joining: ctes, separator: ",\n"))\n\(body)"
        return CompiledCohortQuery(shape: shape, statement: statement, evidence: evidence)
    }

    func yieldCTEs() -> [AnnotatedSQL] {
        var practices: AnnotatedSQL = "SELECT s.practice_id FROM practice_snapshots s"
        if let filter = practiceFilter { practices = "\(practices) WHERE s.practice_id = ANY(\(filter))" }
        let steps = "\(cohort.criteria.count)"
        return [
            "pr AS (\(practices))",
            "n AS (SELECT st.practice_id, st.left_at, count(*) AS n FROM st GROUP BY st.practice_id, st.left_at)",
            """
            y AS (
              SELECT pr.practice_id, g.step,
                     coalesce(sum(n.n) FILTER (WHERE n.left_at = 0 OR n.left_at > g.step), 0)::bigint AS remaining
              FROM pr CROSS JOIN generate_series(0, \(bind: Int32(cohort.criteria.count), "the number of criteria (\(steps))")::int) AS g(step)
              LEFT JOIN n ON n.practice_id = pr.practice_id
              GROUP BY GROUPING SETS ((pr.practice_id, g.step), (g.step))
            )
            """,
        ]
    }

    // MARK: Code lists and records

    func codeListCTE() -> AnnotatedSQL {
        var masks: [SystemCode: Int] = [:]
        for list in cohort.codeLists {
            let bit = 1 << bits[list.name]!
            for code in list.codes { masks[code, default: 0] |= bit }
        }
        let codes = masks.keys.sorted()
        let names = cohort.codeLists.map(\.name).joined(separator: ", ")
        return """
            cl AS (
              SELECT u.code_system COLLATE "C" AS code_system, u.code COLLATE "C" AS code, u.lists FROM unnest(\(bind: codes.map(\.system.rawValue), "coding system of each code of the lists (\(names))")::text[],
                                   \(bind: codes.map(\.code), "each code of the lists (\(names))")::text[],
                                   \(bind: codes.map { masks[$0]! }, "the lists holding each code, as a bit mask")::int8[])
                AS u(code_system, code, lists)
            )
            """
    }

    /// The leaves reading `source`.
    func leaves(of source: RecordSource) -> [Leaf] {
        leaves.filter { leaf in
            switch leaf.condition {
            case .records(let r): return r.source == source
            case .latest(let l): return l.source == source
            default: return false
            }
        }
    }

    static func window(of condition: ResolvedCondition) -> ResolvedWindow {
        switch condition {
        case .records(let r): return r.window
        case .latest(let l): return l.window
        default: preconditionFailure("not a record condition")
        }
    }

    static func lists(of condition: ResolvedCondition) -> [String] {
        switch condition {
        case .records(let r): return r.codeLists
        case .latest(let l): return l.codeLists
        default: return []
        }
    }

    func recordsCTE() -> AnnotatedSQL {
        var parts: [AnnotatedSQL] = []
        for source in [RecordSource.events, .prescriptions] {
            let mine = leaves(of: source)
            guard !mine.isEmpty else { continue }
            let (table, date, tag) = source == .events ? ("current_events", "event_date", "e") : ("current_prescriptions", "issue_date", "p")
            let windows = mine.map { Self.window(of: $0.condition) }
            let latestEnd = windows.min { $0.toDaysBefore.value < $1.toDaysBefore.value }!.toDaysBefore
            var bounds: AnnotatedSQL = "r.\(raw: date) <= \(daysBefore(latestEnd, "the latest date any \(source.noun) condition reads: D minus"))"
            if windows.allSatisfy({ $0.fromDaysBefore != nil }) {
                let earliest = windows.max { $0.fromDaysBefore!.value < $1.fromDaysBefore!.value }!.fromDaysBefore!
                bounds = "\(bounds) AND r.\(raw: date) >= \(daysBefore(earliest, "the earliest date any \(source.noun) condition reads: D minus"))"
            }
            let lists = Array(Set(mine.flatMap { Self.lists(of: $0.condition) })).sorted { bits[$0]! < bits[$1]! }
            var filter: AnnotatedSQL = ""
            if let practices = practiceFilter { filter = " AND r.practice_id = ANY(\(practices))" }
            parts.append("""
                  SELECT r.practice_id, r.patient_id, '\(raw: tag)'::text AS src, r.\(raw: date) AS d, r.code, r.code_system, cl.lists
                  FROM \(raw: table) r JOIN cl ON cl.code = r.code AND cl.code_system = r.code_system
                  WHERE \(bounds) AND (cl.lists & \(maskSQL(lists, "the code lists \(source) conditions read"))) <> 0\(filter)
                """)
        }
        return "m AS MATERIALIZED (\n\(AnnotatedSQL(joining: parts, separator: "\n  UNION ALL\n"))\n)"
    }

    /// The filter on `m` of the records a leaf reads (within its window, lists and systems).
    func recordFilter(_ leaf: Leaf, lists: [String]) -> AnnotatedSQL {
        let k = "condition \(leaf.number)"
        let (source, window, systems): (RecordSource, ResolvedWindow, [CodeSystem]?) = {
            switch leaf.condition {
            case .records(let r): return (r.source, r.window, r.codeSystems)
            case .latest(let l): return (l.source, l.window, l.codeSystems)
            default: preconditionFailure("not a record condition")
            }
        }()
        var sql: AnnotatedSQL = "m.src = '\(raw: source == .events ? "e" : "p")' AND (m.lists & \(maskSQL(lists, k))) <> 0"
        if let from = window.fromDaysBefore { sql = "\(sql) AND m.d >= \(daysBefore(from, "\(k): window starts D minus"))" }
        sql = "\(sql) AND m.d <= \(daysBefore(window.toDaysBefore, "\(k): window ends D minus"))"
        if let systems {
            sql = "\(sql) AND m.code_system = ANY(\(bind: systems.map(\.rawValue), "\(k): coding systems")::text[])"
        }
        return sql
    }

    /// The records that are a leaf's evidence (for latest: those in `is_in`).
    func evidenceFilter(_ leaf: Leaf) -> AnnotatedSQL {
        recordFilter(leaf, lists: leaf.condition.recordLists)
    }

    func aggregateCTE() -> AnnotatedSQL {
        var columns: [AnnotatedSQL] = []
        for leaf in leaves {
            let k = String(leaf.number)
            switch leaf.condition {
            case .records(let r):
                let f = recordFilter(leaf, lists: r.codeLists)
                columns.append("count(*) FILTER (WHERE \(f)) AS n\(raw: k)")
                if leaf.needsDates {
                    columns.append("min(m.d) FILTER (WHERE \(f)) AS f\(raw: k)")
                    columns.append("max(m.d) FILTER (WHERE \(f)) AS l\(raw: k)")
                }
            case .latest(let l):
                let inList = recordFilter(leaf, lists: [l.isIn])
                let others = l.codeLists.filter { $0 != l.isIn }
                columns.append("max(m.d) FILTER (WHERE \(inList)) AS a\(raw: k)")
                if !others.isEmpty {
                    let otherFilter = recordFilter(leaf, lists: others)
                    columns.append("max(m.d) FILTER (WHERE \(otherFilter) AND (m.lists & \(maskSQL([l.isIn], "condition \(k): is_in"))) = 0) AS b\(raw: k)")
                } else {
                    columns.append("NULL::date AS b\(raw: k)")
                }
            default:
                break
            }
        }
        return """
            a AS (
              SELECT m.practice_id, m.patient_id,
                \(AnnotatedSQL(joining: columns, separator: ",\n    "))
              FROM m
              GROUP BY m.practice_id, m.patient_id
            )
            """
    }

    /// Whether a leaf holds for the patient row `p` joined to its aggregates `a` (never NULL).
    func leafHolds(_ leaf: Leaf) -> AnnotatedSQL {
        let k = String(leaf.number)
        switch leaf.condition {
        case .records(let r):
            var sql: AnnotatedSQL = "coalesce(a.n\(raw: k), 0) >= \(int(r.minCount, "condition \(k): at least this many records"))"
            if let span = r.minSpanDays {
                sql = "(\(sql) AND coalesce(a.l\(raw: k) - a.f\(raw: k) >= \(int(span, "condition \(k): at least this many days between first and last")), false))"
            }
            return sql
        case .latest(let l):
            let op = l.ties == .isInWins ? ">=" : ">"
            return "(a.a\(raw: k) IS NOT NULL AND (a.b\(raw: k) IS NULL OR a.a\(raw: k) \(raw: op) a.b\(raw: k)))"
        default:
            preconditionFailure("not a record condition")
        }
    }

    // MARK: Conditions

    /// The SQL of a condition over `p` (current_patients) and `a` (aggregates), never NULL.
    mutating func condition(_ c: ResolvedCondition, evidenceFor step: Int?) -> AnnotatedSQL {
        switch c {
        case .registeredAtIndexDate:
            return "(p.registration_start <= \(d) AND (p.registration_end IS NULL OR p.registration_end > \(d)))"
        case .registeredFor(let days):
            return "p.registration_start <= \(daysBefore(days, "registered since at least D minus"))"
        case .aliveAtIndexDate:
            return "(p.death_date IS NULL OR p.death_date > \(d))"
        case .age(let min, let max):
            // Date of birth: the 1st of the month of birth, 1 July when the month is empty.
            let dob: AnnotatedSQL = "make_date(p.year_of_birth, coalesce(p.month_of_birth, 7)::int, 1)"
            var parts: [AnnotatedSQL] = []
            if let min { parts.append("\(dob) <= (\(d) - make_interval(years => \(int(min, "youngest age at D"))))::date") }
            if let max { parts.append("\(dob) > (\(d) - make_interval(years => \(int(max, "oldest age at D")) + 1))::date") }
            return "(\(AnnotatedSQL(joining: parts, separator: " AND ")))"
        case .sex(let codes):
            return "p.sex::text = ANY(\(bind: codes, "sex codes")::text[])"
        case .records(let r):
            let needsDates = r.minSpanDays != nil || (step != nil && r.source == .prescriptions)
            leaves.append(Leaf(number: leaves.count + 1, condition: c, needsDates: needsDates, evidenceStep: step))
            return leafHolds(leaves.last!)
        case .latest:
            leaves.append(Leaf(number: leaves.count + 1, condition: c, needsDates: false, evidenceStep: step))
            return leafHolds(leaves.last!)
        case .previouslyInvited(let window):
            var runWindow: AnnotatedSQL = "r.index_date <= \(daysBefore(window.toDaysBefore, "invited with an index date on or before D minus"))"
            var historyWindow: AnnotatedSQL = "h.index_date <= \(daysBefore(window.toDaysBefore, "invited with an index date on or before D minus"))"
            if let from = window.fromDaysBefore {
                runWindow = "\(runWindow) AND r.index_date >= \(daysBefore(from, "invited with an index date on or after D minus"))"
                historyWindow = "\(historyWindow) AND h.index_date >= \(daysBefore(from, "invited with an index date on or after D minus"))"
            }
            let name: AnnotatedSQL = "\(bind: cohort.name, "this cohort's name")"
            return """
                (EXISTS (SELECT 1 FROM run_invitations ri
                          JOIN runs r ON r.run_id = ri.run_id
                          JOIN run_practices rp ON rp.run_id = ri.run_id AND rp.practice_id = ri.practice_id
                          WHERE ri.practice_id = p.practice_id AND ri.patient_id = p.patient_id
                            AND r.cohort_name = \(name) AND r.status = 'issued' AND r.issued_at < \(historyAsOf)
                            AND (rp.superseded_by_run_id IS NULL OR rp.superseded_at >= \(historyAsOf))
                            AND r.run_id <> ALL(\(bind: context.ignoredRunIDs, "runs this run supersedes")::int8[])
                            AND \(runWindow))
                 OR EXISTS (SELECT 1 FROM history_invitations h
                          WHERE h.practice_id = p.practice_id AND h.patient_id = p.patient_id
                            AND h.cohort_name = \(name) AND h.recorded_at < \(historyAsOf) AND \(historyWindow)))
                """
        case .contactEnded(let outcomes):
            return """
                EXISTS (SELECT 1 FROM contact_outcomes o
                        WHERE o.cohort_name = \(bind: cohort.name, "this cohort's name") AND o.practice_id = p.practice_id AND o.patient_id = p.patient_id
                          AND o.outcome = ANY(\(bind: outcomes, "outcomes that end contact")::text[]) AND o.recorded_at < \(historyAsOf))
                """
        case .allOf(let cs):
            let parts = cs.map { condition($0, evidenceFor: step) }
            return "(\(AnnotatedSQL(joining: parts, separator: " AND ")))"
        case .anyOf(let cs):
            let parts = cs.map { condition($0, evidenceFor: step) }
            return "(\(AnnotatedSQL(joining: parts, separator: " OR ")))"
        case .not(let inner):
            return "(NOT \(condition(inner, evidenceFor: nil)))"
        }
    }
}
