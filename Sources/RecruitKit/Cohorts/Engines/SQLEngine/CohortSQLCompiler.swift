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
    /// How the records of the code lists are found.
    public var recordAccess: RecordAccess
    /// The extract tables are distributed (Citus): the statement is shaped so
    /// that the per-patient work and its grouping by practice are pushed down.
    public var distributed: Bool

    /// How the statement finds the records whose code is in a list. Both give
    /// the same rows; they differ in cost.
    public enum RecordAccess: String, Sendable, CaseIterable {
        /// Each code looked up on its own through the `(code, date)` index, its
        /// window as the index range: reads only the records that can matter;
        /// costs one index probe per code and loaded partition.
        case byCode = "by_code"
        /// One pass over every record of the snapshots with the codes as a
        /// hashed filter: costs a read of every record; better when many
        /// partitions (loads) would multiply the probes.
        case scan
    }

    public init(indexDate: LocalDate?, practices: [String]? = nil, historyAsOf: String? = nil, ignoredRunIDs: [Int] = [],
                recordAccess: RecordAccess = .byCode, distributed: Bool = false) {
        self.distributed = distributed
        self.indexDate = indexDate
        self.practices = practices
        self.historyAsOf = historyAsOf
        self.ignoredRunIDs = ignoredRunIDs
        self.recordAccess = recordAccess
    }

    /// The access that costs less: by code unless the probes (codes times
    /// loaded partitions) outnumber what a scan would cost.
    public static func recordAccess(codes: Int, loads: Int) -> RecordAccess {
        codes * max(loads, 1) <= 150_000 ? .byCode : .scan
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
    /// Whether it has a sickness spell's start, end and days so far.
    public var hasSpell: Bool = false
}

/// A compiled cohort: one statement and how to read its rows.
public struct CompiledCohortQuery: Sendable {
    /// What the statement returns.
    public enum Shape: Sendable {
        /// The yield table and the invitation list with evidence, in one result:
        /// `part` 0 rows are yield rows (`practice_id`, `step`, `remaining`), in
        /// order, `__total__` last; `part` 1 rows are invitees (`practice_id`,
        /// `patient_id`, then per evidence criterion `eN_key` (the latest record
        /// that satisfied it, see ``CompiledCohortQuery/decode(evidenceKey:)``)
        /// and, with prescriptions, `eN_count`, `eN_first`, `eN_last`), ordered
        /// by practice then patient in byte order.
        case run
        /// Every patient's step (`practice_id`, `patient_id`, `left_at`: the
        /// criterion that removed them, 0 when they stayed to the end).
        case steps
    }

    public var shape: Shape
    public var statement: AnnotatedSQL
    public var evidence: [EvidenceSpec]
    /// The codes of the lists by rank (byte order of code, then coding system).
    public var codes: [SystemCode]

    /// The record an evidence key names: its date and code.
    public func decode(evidenceKey key: Int) -> (date: LocalDate, code: SystemCode)? {
        let scale = 1 << CohortSQLCompiler.evidenceRankBits
        let days = key >= 0 ? key / scale : -((-key + scale - 1) / scale)
        let rank = scale - 1 - (key - days * scale)
        guard rank >= 0, rank < codes.count else { return nil }
        return (LocalDate(dayNumber: days), codes[rank])
    }
}

/// Compiles a ``ResolvedCohort`` into one SQL statement that evaluates every
/// patient of the chosen practices in one pass.
///
/// The plan of the statement:
/// 1. `cl`: every code of every list the cohort names, with a bit mask of the
///    lists holding it and its rank in byte order (three array parameters);
/// 2. `a`: the events and prescriptions whose code is in one of those lists,
///    within the widest window any condition reads (found through the code
///    indexes), aggregated per patient in one pass: for each record condition
///    the counts, first and last dates or latest dates it needs (FILTER
///    clauses), and for each inclusion criterion's evidence the latest
///    matching record as one number (date and code rank);
///    `spN`: for each sickness-spell condition, its notes (read on their own:
///    they have no lower bound) chained into spells, for the patients with a
///    note recent enough to be part of a current one;
/// 3. `st`: every patient of the practices' current snapshots with the first
///    criterion they fail (`left_at`, 0 for none), in criterion order, and the
///    evidence of the conditions that held; history conditions (criteria 11,
///    12) are subqueries that run only for the patients that reach them;
/// 4. `g`: `st` grouped by practice and step, each invitee a group of their
///    own; from it, the yield per practice and in total, and the invitees.
///
/// Every value (the index date, numbers, code lists, practice ids, cohort name,
/// outcomes) is a bound parameter; the statement text depends only on the
/// shape of the definition.
public struct CohortSQLCompiler {
    let cohort: ResolvedCohort
    let context: CohortQueryContext
    /// The bit of each code list in the code tables' `lists` masks.
    let bits: [String: Int]
    /// Every code of the lists by evidence rank.
    let sortedCodes: [SystemCode]
    let rank: [SystemCode: Int]

    /// The record conditions met so far, numbered from 1 in file order.
    private var leaves: [Leaf] = []
    /// The contact-history conditions' patient sets (previously invited,
    /// contact ended), each joined to the patients as `ch<N>` (N from 1).
    private var contactSets: [AnnotatedSQL] = []

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
        self.sortedCodes = Self.sortedCodes(cohort)
        var rank: [SystemCode: Int] = [:]
        rank.reserveCapacity(sortedCodes.count)
        for (i, code) in sortedCodes.enumerated() { rank[code] = i }
        self.rank = rank
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
                                             hasPrescriptions: criterion.hasPrescriptionEvidence, hasSpell: criterion.hasSpellEvidence))
            }
        }
        let leftAt: AnnotatedSQL = "CASE \(AnnotatedSQL(joining: cases, separator: "\n      ")) ELSE 0 END"

        var ctes: [AnnotatedSQL] = []
        if !leaves.isEmpty {
            let evidenceNumbers = shape == .run ? Set(evidence.flatMap { evidenceLeaves[$0.step]!.map(\.number) }) : []
            for source in [RecordSource.events, .prescriptions] where !aggregatedLeaves(of: source).isEmpty {
                ctes.append(codeListCTE(source))
                ctes.append(aggregateCTE(source, evidence: evidenceNumbers))
            }
            for leaf in spellLeaves { ctes.append(spellCTE(leaf, keyed: evidenceNumbers.contains(leaf.number))) }
        }
        // st: every patient, the criterion that removed them, and for the run the
        // evidence of each inclusion criterion (decoded by the caller for invitees).
        var carried: [AnnotatedSQL] = []
        if shape == .run {
            for spec in evidence {
                let mine = evidenceLeaves[spec.step]!
                let e = "e\(spec.step)"
                // The latest record over the leaves that hold (GREATEST ignores NULLs).
                let keys = mine.map { (leaf: Leaf) -> AnnotatedSQL in
                    let column = { if case .spell = leaf.condition { return "spell_key" } else { return "k\(leaf.number)" } }()
                    return "CASE WHEN \(leafHolds(leaf)) THEN \(raw: Self.alias(leaf)).\(raw: column) END"
                }
                carried.append(",\n    GREATEST(\(AnnotatedSQL(joining: keys, separator: ", "))) AS \(raw: e)_key")
                if spec.hasPrescriptions {
                    // Count, first and last of the first prescription leaf that holds.
                    let rx = mine.filter { if case .records(let r) = $0.condition { return r.source == .prescriptions } else { return false } }
                    for (column, name) in [("n", "count"), ("f", "first"), ("l", "last")] {
                        let whens = rx.map { (leaf: Leaf) -> AnnotatedSQL in "WHEN \(leafHolds(leaf)) THEN \(raw: Self.alias(leaf)).\(raw: column)\(raw: String(leaf.number))" }
                        carried.append(",\n    CASE \(AnnotatedSQL(joining: whens, separator: " ")) END AS \(raw: e)_\(raw: name)")
                    }
                }
                if spec.hasSpell {
                    // Start, end and days so far of the first spell leaf that holds.
                    let spells = mine.filter { if case .spell = $0.condition { return true } else { return false } }
                    for (column, name) in [("spell_start", "spell_start"), ("spell_end", "spell_end"), ("days_so_far", "spell_days")] {
                        let whens = spells.map { (leaf: Leaf) -> AnnotatedSQL in "WHEN \(leafHolds(leaf)) THEN \(raw: Self.alias(leaf)).\(raw: column)" }
                        carried.append(",\n    CASE \(AnnotatedSQL(joining: whens, separator: " ")) END AS \(raw: e)_\(raw: name)")
                    }
                }
            }
        }
        var patientFilter: AnnotatedSQL = ""
        if let practices = practiceFilter { patientFilter = "\n  WHERE p.practice_id = ANY(\(practices))" }
        var join: AnnotatedSQL = ""
        var joined = [(RecordSource.events, "ae"), (.prescriptions, "ap")].filter { !aggregatedLeaves(of: $0.0).isEmpty }.map(\.1)
        joined += spellLeaves.map(Self.alias)
        for alias in joined {
            join.append("\n  LEFT JOIN \(raw: alias) ON \(raw: alias).practice_id = p.practice_id AND \(raw: alias).patient_id = p.patient_id")
        }
        for (i, set) in contactSets.enumerated() {
            let alias = Self.contactAlias(i + 1)
            join.append("\n  LEFT JOIN (\n    \(set)\n  ) \(raw: alias) ON \(raw: alias).practice_id = p.practice_id AND \(raw: alias).patient_id = p.patient_id")
        }
        // On Citus, st is inlined into g, its one reader in a run, so that the
        // per-patient part and its grouping by practice run in the shards'
        // tasks (a materialised st would be pulled to the coordinator whole).
        // On one node it is materialised: inlined, PostgreSQL would evaluate
        // the criteria's CASE once per use of left_at in g.
        let stMaterialized: AnnotatedSQL = shape == .run && context.distributed ? "" : " MATERIALIZED"
        ctes.append("""
            st AS\(stMaterialized) (
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
            var columns: [String] = [], nulls: [String] = []
            for spec in evidence {
                let e = "e\(spec.step)"
                columns.append("\(e)_key")
                nulls.append("NULL::int8 AS \(e)_key")
                if spec.hasPrescriptions {
                    columns += ["\(e)_count", "\(e)_first", "\(e)_last"]
                    nulls += ["NULL::bigint AS \(e)_count", "NULL::date AS \(e)_first", "NULL::date AS \(e)_last"]
                }
                if spec.hasSpell {
                    columns += ["\(e)_spell_start", "\(e)_spell_end", "\(e)_spell_days"]
                    nulls += ["NULL::date AS \(e)_spell_start", "NULL::date AS \(e)_spell_end", "NULL::integer AS \(e)_spell_days"]
                }
            }
            // g: st grouped by practice and step, each invitee a group of their
            // own (with their evidence: max over one row). Grouped by the
            // practice, it is computed where the practice's rows are (on Citus,
            // in the shards), and what leaves it is the invitees and a count
            // per practice and step, not a row per patient.
            ctes.append("""
                g AS MATERIALIZED (
                  SELECT st.practice_id, st.left_at, CASE WHEN st.left_at = 0 THEN st.patient_id END AS patient_id,
                         count(*) AS n\(raw: columns.map { ", max(st.\($0)) AS \($0)" }.joined())
                  FROM st
                  GROUP BY st.practice_id, st.left_at, CASE WHEN st.left_at = 0 THEN st.patient_id END
                )
                """)
            ctes.append(contentsOf: yieldCTEs())
            let evidenceColumns = columns.map { ", g." + $0 }.joined()
            let nullColumns = nulls.map { ", " + $0 }.joined()
            body = """
                SELECT * FROM (
                  SELECT 0 AS part, coalesce(y.practice_id, '__total__') AS practice_id, y.practice_id IS NULL AS total,
                         y.step, y.remaining, NULL::text AS patient_id\(raw: nullColumns)
                  FROM y
                  UNION ALL
                  SELECT 1, g.practice_id, false, NULL::int, NULL::bigint, g.patient_id\(raw: evidenceColumns)
                  FROM g WHERE g.left_at = 0
                ) out
                ORDER BY out.part, out.total, out.practice_id COLLATE "C", out.step, out.patient_id COLLATE "C"
                """
        }
        let statement: AnnotatedSQL = "WITH \(AnnotatedSQL(joining: ctes, separator: ",\n"))\n\(body)"
        return CompiledCohortQuery(shape: shape, statement: statement, evidence: evidence, codes: sortedCodes)
    }

    func yieldCTEs() -> [AnnotatedSQL] {
        var practices: AnnotatedSQL = "SELECT s.practice_id FROM practice_snapshots s"
        if let filter = practiceFilter { practices = "\(practices) WHERE s.practice_id = ANY(\(filter))" }
        let steps = "\(cohort.criteria.count)"
        return [
            "pr AS (\(practices))",
            "n AS (SELECT g.practice_id, g.left_at, sum(g.n) AS n FROM g GROUP BY g.practice_id, g.left_at)",
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

    /// Every code of the cohort's lists, in byte order of code then coding
    /// system: a code's position is its rank in evidence keys.
    static func sortedCodes(_ cohort: ResolvedCohort) -> [SystemCode] {
        var all = Set<SystemCode>()
        for list in cohort.codeLists { all.formUnion(list.codes) }
        // Sort on byte arrays made once (comparing Strings' UTF-8 views is slow).
        let keyed = all.map { (key: Array($0.code.utf8) + [0] + Array($0.system.rawValue.utf8), code: $0) }
        return keyed.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.code)
    }

    /// Days before D that stand for "no lower bound" in a code's window (about 2,700 years).
    static let unbounded = 1_000_000

    /// One code a source's conditions read, with its list mask and window (days before D).
    struct CodeRow {
        var code: SystemCode
        var lists: Int
        var rank: Int
        var fromDays: Int
        var toDays: Int
    }

    func codeRows(_ source: RecordSource) -> [CodeRow] {
        // Each list once: its bit, and the widest window of the conditions reading it.
        // Spells read their notes on their own (``spellNotes(_:_:since:keyed:)``).
        var windows: [String: (from: Int, to: Int)] = [:]
        for leaf in aggregatedLeaves(of: source) {
            let window = Self.window(of: leaf.condition)
            let start = window.fromDaysBefore?.value ?? Self.unbounded
            for name in Self.lists(of: leaf.condition) {
                let w = windows[name] ?? (0, Int.max)
                windows[name] = (max(w.from, start), min(w.to, window.toDaysBefore.value))
            }
        }
        var rows: [SystemCode: CodeRow] = [:]
        for (name, window) in windows {
            guard let list = cohort.codeList(name) else { continue }
            let bit = 1 << bits[name]!
            for code in list.codes {
                if var row = rows[code] {
                    row.lists |= bit
                    row.fromDays = max(row.fromDays, window.from)
                    row.toDays = min(row.toDays, window.to)
                    rows[code] = row
                } else {
                    rows[code] = CodeRow(code: code, lists: bit, rank: rank[code]!, fromDays: window.from, toDays: window.to)
                }
            }
        }
        return rows.values.sorted { $0.rank < $1.rank }
    }

    func codeListCTE(_ source: RecordSource) -> AnnotatedSQL {
        let mine = aggregatedLeaves(of: source)
        let rows = codeRows(source)
        let lists = Array(Set(mine.flatMap { Self.lists(of: $0.condition) })).sorted { bits[$0]! < bits[$1]! }.joined(separator: ", ")
        let name = source == .events ? "cle" : "clp"
        return """
            \(raw: name) AS (
              SELECT u.code_system COLLATE "C" AS code_system, u.code COLLATE "C" AS code, u.lists, u.rank,
                     \(d) - u.from_days AS lo, \(d) - u.to_days AS hi
              FROM unnest(\(bind: rows.map(\.code.system.rawValue), "coding system of each code \(source) conditions read (\(lists))")::text[],
                          \(bind: rows.map(\.code.code), "each code \(source) conditions read (\(lists))")::text[],
                          \(bind: rows.map(\.lists), "the lists holding each code, as a bit mask")::int8[],
                          \(bind: rows.map(\.rank), "each code's rank in byte order (evidence keys)")::int8[],
                          \(bind: rows.map(\.fromDays), "each code's records are read from D minus these days (\(Self.unbounded): no limit)")::int[],
                          \(bind: rows.map(\.toDays), "each code's records are read up to D minus these days")::int[])
                AS u(code_system, code, lists, rank, from_days, to_days)
            )
            """
    }

    /// The records of `source` whose code is in a list its conditions read,
    /// within that code's window, as `r` (`practice_id`, `patient_id`, `d`)
    /// beside their code's row `c`.
    ///
    /// By code: each code is looked up on its own through the `(code, date)`
    /// index of the loaded tables, with its window as the index range, so only
    /// the records that can matter are read; OFFSET 0 keeps the planner from
    /// flattening this into a join it would plan as a scan (it cannot know how
    /// few records the many codes of long lists match). Scan: every record of
    /// the snapshots once, the codes a hashed filter, then the window.
    func recordsSubquery(_ source: RecordSource) -> AnnotatedSQL {
        let (table, date) = source == .events ? ("current_events", "event_date") : ("current_prescriptions", "issue_date")
        let name = source == .events ? "cle" : "clp"
        var filter: AnnotatedSQL = ""
        if let practices = practiceFilter { filter = "\n          AND r.practice_id = ANY(\(practices))" }
        switch context.recordAccess {
        case .byCode:
            return """
                \(raw: name) c CROSS JOIN LATERAL (
                    SELECT r.practice_id, r.patient_id, r.\(raw: date) AS d
                    FROM \(raw: table) r
                    WHERE r.code = c.code AND r.code_system = c.code_system AND r.\(raw: date) >= c.lo AND r.\(raw: date) <= c.hi\(filter)
                    OFFSET 0
                  ) r
                """
        case .scan:
            let codes = Set(codeRows(source).map(\.code.code)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return """
                (
                    SELECT r.practice_id, r.patient_id, r.\(raw: date) AS d, r.code, r.code_system
                    FROM \(raw: table) r
                    WHERE r.code = ANY(\(bind: codes, "the codes \(source) conditions read")::text[])\(filter)
                  ) r
                  JOIN \(raw: name) c ON c.code = r.code AND c.code_system = r.code_system AND r.d >= c.lo AND r.d <= c.hi
                """
        }
    }

    /// The aggregate a leaf's columns are in: `ae` (events) or `ap` (prescriptions).
    static func alias(_ leaf: Leaf) -> String {
        switch leaf.condition {
        case .records(let r): return r.source == .events ? "ae" : "ap"
        case .latest(let l): return l.source == .events ? "ae" : "ap"
        case .spell: return "sp\(leaf.number)"
        default: preconditionFailure("not a record condition")
        }
    }

    /// The leaves reading `source`.
    func leaves(of source: RecordSource) -> [Leaf] {
        leaves.filter { leaf in
            switch leaf.condition {
            case .records(let r): return r.source == source
            case .latest(let l): return l.source == source
            case .spell: return source == .events
            default: return false
            }
        }
    }

    /// The leaves of `source` computed in its per-patient aggregate (`ae`, `ap`): all but spells.
    func aggregatedLeaves(of source: RecordSource) -> [Leaf] {
        leaves(of: source).filter { if case .spell = $0.condition { return false } else { return true } }
    }

    /// The spell leaves, each computed in its own per-patient relation (`spN`).
    var spellLeaves: [Leaf] { leaves(of: .events).filter { if case .spell = $0.condition { return true } else { return false } } }

    static func window(of condition: ResolvedCondition) -> ResolvedWindow {
        switch condition {
        case .records(let r): return r.window
        case .latest(let l): return l.window
        case .spell(let s): return s.window
        default: preconditionFailure("not a record condition")
        }
    }

    static func lists(of condition: ResolvedCondition) -> [String] {
        switch condition {
        case .records(let r): return r.codeLists
        case .latest(let l): return l.codeLists
        case .spell(let s): return s.codeLists
        default: return []
        }
    }

    /// The filter on `m` of the records a leaf reads (within its window, lists and systems).
    func recordFilter(_ leaf: Leaf, lists: [String]) -> AnnotatedSQL {
        let k = "condition \(leaf.number)"
        // The leaf's own source is implied: `m` holds only that source's records.
        let (window, systems): (ResolvedWindow, [CodeSystem]?) = {
            switch leaf.condition {
            case .records(let r): return (r.window, r.codeSystems)
            case .latest(let l): return (l.window, l.codeSystems)
            default: preconditionFailure("not a record condition")
            }
        }()
        var sql: AnnotatedSQL = "(m.lists & \(maskSQL(lists, k))) <> 0"
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

    /// Evidence keys: `days since 1970 * 2^24 + (2^24 - 1 - rank)`, so the
    /// largest key is the latest record and, on one date, the smallest code.
    public static let evidenceRankBits = 24

    func aggregateCTE(_ source: RecordSource, evidence: Set<Int>) -> AnnotatedSQL {
        var columns: [AnnotatedSQL] = []
        let scale = 1 << Self.evidenceRankBits
        for leaf in aggregatedLeaves(of: source) {
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
            if evidence.contains(leaf.number) {
                columns.append("""
                    max((m.d - DATE '1970-01-01')::int8 * \(raw: String(scale)) + (\(raw: String(scale - 1)) - m.rank)) FILTER (WHERE \(evidenceFilter(leaf))) AS k\(raw: k)
                    """)
            }
        }
        return """
            \(raw: source == .events ? "ae" : "ap") AS (
              SELECT m.practice_id, m.patient_id,
                \(AnnotatedSQL(joining: columns, separator: ",\n    "))
              FROM \(recordsRelation(source)) m
              GROUP BY m.practice_id, m.patient_id
            )
            """
    }

    /// The records of `source` its aggregated conditions read, with their code's row: `(practice_id, patient_id, d,
    /// code_system, lists, rank)`.
    func recordsRelation(_ source: RecordSource) -> AnnotatedSQL {
        """
        (
            SELECT r.practice_id, r.patient_id, r.d, c.code_system, c.lists, c.rank
            FROM \(recordsSubquery(source))
          )
        """
    }

    /// A spell leaf's notes: the events whose code is in its lists, dated on
    /// or before D and within its window (on or after `since` too, when
    /// given), as `(practice_id, patient_id, d, value)` and, keyed, an
    /// evidence key `k`.
    ///
    /// Read on their own, not through the per-code probe of the aggregates:
    /// a spell has no lower bound, so its notes are every fit note of the
    /// record (most of them years old), and one scan of the code index over
    /// all the spell's codes (a bitmap scan, each heap page once) reads them
    /// at a fraction of the cost of a probe per code and a heap fetch per
    /// note. Nor do they pass through the events' aggregate, which has no
    /// use for them.
    func spellNotes(_ leaf: Leaf, _ q: ResolvedSpellQuery, since: AnnotatedSQL?, keyed: Bool) -> AnnotatedSQL {
        let k = "condition \(leaf.number)"
        let scale = 1 << Self.evidenceRankBits
        var codes = Set<SystemCode>()
        for name in q.codeLists { codes.formUnion(cohort.codeList(name)?.codes ?? []) }
        let rows = codes.sorted { rank[$0]! < rank[$1]! }
        let texts = Set(rows.map(\.code)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var filter: AnnotatedSQL = "r.event_date <= \(d)"
        if let from = q.window.fromDaysBefore { filter = "\(filter) AND r.event_date >= \(daysBefore(from, "\(k): notes seen from D minus"))" }
        if let since { filter = "\(filter) AND r.event_date >= \(since)" }
        if let practices = practiceFilter { filter = "\(filter) AND r.practice_id = ANY(\(practices))" }
        let key: AnnotatedSQL = keyed ? ", (r.event_date - DATE '1970-01-01')::int8 * \(raw: String(scale)) + (\(raw: String(scale - 1)) - c.rank) AS k" : ""
        let lists = q.codeLists.joined(separator: ", ")
        return """
            SELECT r.practice_id, r.patient_id, r.event_date AS d, r.value\(key)
              FROM current_events r
              JOIN unnest(\(bind: rows.map(\.system.rawValue), "\(k): coding system of each code of \(lists)")::text[],
                          \(bind: rows.map(\.code), "\(k): each code of \(lists)")::text[],
                          \(bind: rows.map { rank[$0]! }, "\(k): each code's rank in byte order (evidence keys)")::int8[])
                AS c(code_system, code, rank) ON c.code = r.code AND c.code_system = r.code_system
              WHERE r.code = ANY(\(bind: texts, "\(k): the codes of \(lists)")::text[]) AND \(filter)
            """
    }

    /// `spN`: per patient, the qualifying spell of a spell leaf (none: no row),
    /// with its start, end, days so far and, for evidence, the largest key of its notes.
    func spellCTE(_ leaf: Leaf, keyed: Bool) -> AnnotatedSQL {
        guard case .spell(let q) = leaf.condition else { preconditionFailure("not a spell") }
        let k = "condition \(leaf.number)"
        // Only a patient with a note recent enough to end a current cover can
        // have a qualifying spell: a cover is at most maxCoverDays, so its note is
        // on or after D - max_days_since_end - maxCoverDays. Chaining (a sort and two
        // window passes over every note of the record) is left to them.
        let recent: AnnotatedSQL = "\(d) - \(int(q.maxDaysSinceEnd, "\(k): the most days before D the cover may have ended")) - \(raw: String(SicknessSpells.maxCoverDays))"
        let current: AnnotatedSQL = "SELECT r.practice_id, r.patient_id FROM (\(spellNotes(leaf, q, since: recent, keyed: false))) r"
        let notes: AnnotatedSQL = """
            (SELECT n.* FROM (\(spellNotes(leaf, q, since: nil, keyed: keyed))) n
             WHERE (n.practice_id, n.patient_id) IN (\(current)))
            """
        let values = SicknessSpells.SQLValues(
            d: d, defaultCoverDays: int(q.defaultCoverDays, "\(k): a note's cover when its value is not 1 to 365 days"),
            maxGapDays: int(q.maxGapDays, "\(k): the most days between a spell's cover and the next note"),
            minSpellDays: int(q.minSpellDays, "\(k): the fewest days so far"),
            maxDaysSinceEnd: int(q.maxDaysSinceEnd, "\(k): the most days before D the cover may have ended"))
        return """
            \(raw: Self.alias(leaf)) AS (
            \(SicknessSpells.qualifyingSpellSQL(notes: notes, values, keyed: keyed))
            )
            """
    }

    /// Whether a leaf holds for the patient row `p` joined to its aggregates `a` (never NULL).
    func leafHolds(_ leaf: Leaf) -> AnnotatedSQL {
        let k = String(leaf.number)
        let a = Self.alias(leaf)
        switch leaf.condition {
        case .records(let r):
            var sql: AnnotatedSQL = "coalesce(\(raw: a).n\(raw: k), 0) >= \(int(r.minCount, "condition \(k): at least this many records"))"
            if let span = r.minSpanDays {
                sql = "(\(sql) AND coalesce(\(raw: a).l\(raw: k) - \(raw: a).f\(raw: k) >= \(int(span, "condition \(k): at least this many days between first and last")), false))"
            }
            return sql
        case .spell:
            return "(\(raw: a).patient_id IS NOT NULL)"
        case .latest(let l):
            let op = l.ties == .isInWins ? ">=" : ">"
            return "(\(raw: a).a\(raw: k) IS NOT NULL AND (\(raw: a).b\(raw: k) IS NULL OR \(raw: a).a\(raw: k) \(raw: op) \(raw: a).b\(raw: k)))"
        default:
            preconditionFailure("not a record condition")
        }
    }

    // MARK: Conditions

    /// On the list of an issued, not superseded run of the cohorts `cohorts`
    /// (`= name` or `= ANY(names)`), or invited in imported history for one,
    /// with an index date in `window`, recorded before the history instant.
    ///
    /// Each part is a set of patients, left-joined on (practice_id, patient_id),
    /// not a subquery correlated with the patient: on Citus the contact tables
    /// are distributed by practice, and a correlated subquery is refused when
    /// the patients are read through a union (a reproduction's snapshots).
    mutating func invited(_ window: ResolvedWindow, cohorts: AnnotatedSQL) -> AnnotatedSQL {
        var runWindow: AnnotatedSQL = "r.index_date <= \(daysBefore(window.toDaysBefore, "invited with an index date on or before D minus"))"
        var historyWindow: AnnotatedSQL = "h.index_date <= \(daysBefore(window.toDaysBefore, "invited with an index date on or before D minus"))"
        if let from = window.fromDaysBefore {
            runWindow = "\(runWindow) AND r.index_date >= \(daysBefore(from, "invited with an index date on or after D minus"))"
            historyWindow = "\(historyWindow) AND h.index_date >= \(daysBefore(from, "invited with an index date on or after D minus"))"
        }
        let runs = contactSet("""
            SELECT DISTINCT ri.practice_id, ri.patient_id FROM run_invitations ri
                JOIN runs r ON r.run_id = ri.run_id
                JOIN run_practices rp ON rp.run_id = ri.run_id AND rp.practice_id = ri.practice_id
                WHERE r.cohort_name \(cohorts) AND r.status = \(raw: RunStatus.issued.sqlLiteral) AND r.issued_at < \(historyAsOf)
                  AND (rp.superseded_by_run_id IS NULL OR rp.superseded_at >= \(historyAsOf))
                  AND r.run_id <> ALL(\(bind: context.ignoredRunIDs, "runs this run supersedes")::int8[])
                  AND \(runWindow)
            """, table: "ri")
        let history = contactSet("""
            SELECT DISTINCT h.practice_id, h.patient_id FROM history_invitations h
                WHERE h.cohort_name \(cohorts) AND h.recorded_at < \(historyAsOf) AND \(historyWindow)
            """, table: "h")
        return "(\(runs) OR \(history))"
    }

    /// Adds a set of patients (a query of practice_id, patient_id, each pair
    /// once) to the joins; returns the condition that a patient is in it.
    /// `table` is the alias of its table, whose practice_id the run's practice
    /// filter (when it has one) restricts, so that a run or an explanation of
    /// some practices reads only their rows (on Citus, only their shards).
    mutating func contactSet(_ query: AnnotatedSQL, table: String) -> AnnotatedSQL {
        var query = query
        if let practices = practiceFilter { query.append("\n    AND \(raw: table).practice_id = ANY(\(practices))") }
        contactSets.append(query)
        return "(\(raw: Self.contactAlias(contactSets.count)).patient_id IS NOT NULL)"
    }

    static func contactAlias(_ number: Int) -> String { "ch\(number)" }

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
        case .latest, .spell:
            leaves.append(Leaf(number: leaves.count + 1, condition: c, needsDates: false, evidenceStep: step))
            return leafHolds(leaves.last!)
        case .previouslyInvited(let window):
            return invited(window, cohorts: "= \(bind: cohort.name, "this cohort's name")")
        case .invitedToOtherCohorts(let cohorts, let window):
            return invited(window, cohorts: "= ANY(\(bind: cohorts, "the other cohorts of the cross-study safeguard")::text[])")
        case .contactEnded(let outcomes):
            return contactSet("""
                SELECT DISTINCT o.practice_id, o.patient_id FROM contact_outcomes o
                    WHERE o.cohort_name = \(bind: cohort.name, "this cohort's name")
                      AND o.outcome = ANY(\(bind: outcomes, "outcomes that end contact")::text[]) AND o.recorded_at < \(historyAsOf)
                """, table: "o")
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
