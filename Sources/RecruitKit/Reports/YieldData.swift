import Foundation
import Postgres

/// Which runs a yield report covers.
public struct YieldSelection: Sendable, Hashable {
    /// The cohort's name; nil: the one cohort in `cohorts/`, else the one cohort with runs.
    public var cohort: String?
    /// Particular runs (any status but a dry run); empty: every issued run of the cohort.
    public var runIDs: [Int]
    /// Only issued runs with an index date on or after this day.
    public var since: LocalDate?
    /// The criterion whose evidence says why an invitee counted as out of
    /// work (the proxy report groups outcomes by it); ignored when no run has it.
    public var proxyCriterion: String

    public init(cohort: String? = nil, runIDs: [Int] = [], since: LocalDate? = nil,
                proxyCriterion: String = YieldSelection.defaultProxyCriterion) {
        self.cohort = cohort
        self.runIDs = runIDs
        self.since = since
        self.proxyCriterion = proxyCriterion
    }

    /// The reference cohort's out-of-work criterion (criterion 7).
    public static let defaultProxyCriterion = "out_of_work"
}

/// The unrounded counts a yield report is made from, read from the database.
///
/// Only counts leave the database: no patient identifier is read.
public struct YieldData: Sendable {
    public struct Run: Sendable, Hashable {
        public var id: Int
        public var cohortName: String
        public var cohortVersion: String
        public var cohortSHA256: String
        public var indexDate: LocalDate
        public var status: RunStatus
        public var toolVersion: String
        public var issuedAt: String?
        public var codelists: JSONValue
        /// Practices whose list a later run superseded (left out of the report).
        public var supersededPractices: [String]
        /// Criterion id → `include` or `exclude`, stored with the run's yield
        /// (empty for runs recorded before the effect was stored).
        public var effects: [String: String] = [:]
        /// The criteria that are the deployment's safeguards (runs recorded before sql/0017: none known).
        public var safeguards: Set<String> = []

        /// `YYYY-MM` of the index date: the month the run counts in.
        public var month: String { String(indexDate.description.prefix(7)) }
    }

    /// One row of a run's attrition table for one practice.
    public struct Step: Sendable, Hashable {
        public var runID: Int
        public var practiceID: String
        public var step: Int
        public var criterion: String
        public var label: String
        public var remaining: Int
    }

    public var cohortName: String
    /// Oldest first (index date, then run id).
    public var runs: [Run]
    public var steps: [Step]
    /// Outcome counts per run and practice (`FunnelMeasure` raw values; eligible comes from the steps).
    public var outcomes: [RunPractice: [FunnelMeasure: Int]]
    /// The invitees' outcomes by the evidence of the proxy criterion, or nil
    /// when no selected run has that criterion.
    public var proxy: ProxyCounts?
    /// Per practice (selected runs pooled): the screened-out and the decliners
    /// by reason code (``FlowCounts/notCoded`` for rows without one).
    public var reasonCodes: [String: [CodedOutcome: [String: Int]]] = [:]
    /// Per practice and referral channel: the people who came that way.
    public var referrals: [String: [ContactChannel: [ReferralMeasure: Int]]] = [:]
    /// The invitees' funnel counts by age band and by sex (at the run's index date).
    public var profiles: [ProfileDimension: [String: [FunnelMeasure: Int]]] = [:]

    /// Every invitee of the selected runs (the practices they still cover),
    /// grouped by the kind of evidence that admitted them through one criterion.
    public struct ProxyCounts: Sendable, Hashable {
        /// The criterion's id and its label (from the latest run's yield).
        public var criterion: String
        public var label: String
        /// By evidence class: the funnel counts of its invitees (eligible: how many).
        public var counts: [ProxyClass: [FunnelMeasure: Int]]
    }

    public struct RunPractice: Hashable, Sendable {
        public var runID: Int
        public var practiceID: String
    }
}

extension YieldData {
    /// Reads the runs `selection` names and their counts, in one snapshot of the database.
    ///
    /// - Parameters:
    ///   - connection: the project database.
    ///   - selection: the cohort and runs.
    ///   - cohortsDirectory: where cohort files live, to find the default cohort.
    /// - Throws: ``RecruitError`` (refused) for an unknown run, runs of
    ///   several cohorts, or nothing to report.
    public static func load(from connection: Connection, selection: YieldSelection,
                            cohortsDirectory: URL? = nil) throws -> YieldData {
        try connection.transaction(isolation: .repeatableRead, readOnly: true) {
            var runs = try selectRuns(connection, selection, cohortsDirectory: cohortsDirectory)
            let ids = runs.map(\.id)
            let rows = try connection.query("""
                SELECT run_id, practice_id, step, criterion, label, remaining, effect, safeguard
                FROM report_run_yields WHERE run_id = ANY(\(ids))
                ORDER BY run_id, practice_id COLLATE "C", step
                """)
            let steps = rows.map {
                Step(runID: $0.int("run_id")!, practiceID: $0.string("practice_id"), step: $0.int("step")!,
                     criterion: $0.string("criterion"), label: $0.string("label"), remaining: $0.int("remaining")!)
            }
            // Each criterion's effect, stored with the yield (runs recorded before sql/0015 have none).
            let runIndex = Dictionary(uniqueKeysWithValues: runs.indices.map { (runs[$0].id, $0) })
            for row in rows {
                if let effect = row["effect"], let i = row.int("run_id").flatMap({ runIndex[$0] }) {
                    runs[i].effects[row.string("criterion")] = effect
                }
                if row.bool("safeguard") == true, let i = row.int("run_id").flatMap({ runIndex[$0] }) {
                    runs[i].safeguards.insert(row.string("criterion"))
                }
            }
            var outcomes: [RunPractice: [FunnelMeasure: Int]] = [:]
            let outcomeRows = try connection.query("SELECT * FROM report_run_practice_outcomes WHERE run_id = ANY(\(ids))")
            for row in outcomeRows {
                var counts: [FunnelMeasure: Int] = [:]
                for m in FunnelMeasure.allCases where outcomeRows.columns.contains(m.rawValue) {
                    counts[m] = row.int(m.rawValue) ?? 0
                }
                outcomes[RunPractice(runID: row.int("run_id")!, practiceID: row.string("practice_id"))] = counts
            }
            try checkChains(steps)
            let proxy = try proxyCounts(connection, runIDs: ids, criterion: selection.proxyCriterion,
                                        label: steps.last { $0.criterion == selection.proxyCriterion }?.label)
            var data = YieldData(cohortName: runs[0].cohortName, runs: runs, steps: steps, outcomes: outcomes, proxy: proxy)
            try data.loadFlow(connection, runIDs: ids)
            return data
        }
    }

    static func selectRuns(_ connection: Connection, _ selection: YieldSelection, cohortsDirectory: URL?) throws -> [Run] {
        let columns: SQL = """
            SELECT r.run_id, r.cohort_name, r.cohort_version, r.cohort_sha256, r.index_date, r.status, r.tool_version,
                   to_char(r.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS issued_at, r.codelists::text AS codelists,
                   coalesce((SELECT array_agg(practice_id ORDER BY practice_id COLLATE "C") FROM run_practices rp
                             WHERE rp.run_id = r.run_id AND rp.superseded_by_run_id IS NOT NULL), '{}')::text AS superseded
            FROM runs r
            """
        var rows: QueryResult
        if !selection.runIDs.isEmpty {
            rows = try connection.query("\(columns) WHERE r.run_id = ANY(\(selection.runIDs)) ORDER BY r.index_date, r.run_id")
            let found = Set(rows.compactMap { $0.int("run_id") })
            if let missing = selection.runIDs.first(where: { !found.contains($0) }) {
                throw RecruitError.refused("run \(missing) does not exist (see: recruit runs list)")
            }
            if let dry = rows.first(where: { RunStatus(rawValue: $0.string("status")) == .dryRun }) {
                throw RecruitError.refused("run \(dry.string("run_id")) is a dry run: it has no yields to report")
            }
            let names = Set(rows.map { $0.string("cohort_name") })
            if names.count > 1 {
                throw RecruitError.refused("runs \(selection.runIDs.map(String.init).joined(separator: ", ")) are of different cohorts (\(names.sorted().joined(separator: ", "))): a report covers one cohort")
            }
            if let cohort = selection.cohort, names.first != cohort {
                throw RecruitError.refused("run \(rows[0].string("run_id")) is of cohort '\(names.first ?? "")', not '\(cohort)'")
            }
        } else {
            let cohort = try selection.cohort ?? defaultCohort(connection, cohortsDirectory: cohortsDirectory)
            rows = try connection.query("""
                \(columns) WHERE r.cohort_name = \(cohort) AND r.status = \(RunStatus.issued.rawValue)
                  AND (\(selection.since)::date IS NULL OR r.index_date >= \(selection.since))
                ORDER BY r.index_date, r.run_id
                """)
            if rows.isEmpty {
                throw RecruitError.refused("nothing to report: no issued run of cohort '\(cohort)'"
                                           + (selection.since.map { " with an index date on or after \($0)" } ?? "")
                                           + " (see: recruit runs list)")
            }
        }
        return try rows.map { row in
            let codelists = try JSONDecoder().decode(JSONValue.self, from: Data(row.string("codelists").utf8))
            let superseded = row.string("superseded").trimmingCharacters(in: CharacterSet(charactersIn: "{}"))
            return Run(id: row.int("run_id")!, cohortName: row.string("cohort_name"), cohortVersion: row.string("cohort_version"),
                       cohortSHA256: row.string("cohort_sha256"), indexDate: row.date("index_date")!, status: RunStatus(rawValue: row.string("status")) ?? .draft,
                       toolVersion: row.string("tool_version"), issuedAt: row["issued_at"], codelists: codelists,
                       supersededPractices: superseded.isEmpty ? [] : superseded.split(separator: ",").map {
                           String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                       })
        }
    }

    /// The invitees of `runIDs` (practices not superseded) counted by funnel
    /// stage and by the class of their evidence for `criterion`: a sickness
    /// spell when the evidence has a spell, else the code list (of those the
    /// run recorded) that holds the evidence's code, the first by name if
    /// several do. nil when no run has the criterion (`label` nil).
    static func proxyCounts(_ connection: Connection, runIDs: [Int], criterion: String, label: String?) throws -> ProxyCounts? {
        guard let label else { return nil }
        let measures = FunnelMeasure.allCases.filter { $0 != .eligible }
        let counts = SQL(joining: measures.map { "count(*) FILTER (WHERE v.\(unsafeRaw: $0.rawValue)) AS \(unsafeRaw: $0.rawValue)" }, separator: ", ")
        // Two statements: the invitees counted by run and evidence code (the
        // patient-level tables), then each code's list among the run's code
        // lists (runs and the code lists only). One statement with both made
        // the Citus 13.2 coordinator crash (SIGSEGV) once run_invitations and
        // contact_outcomes were distributed.
        let rows = try connection.query("""
            SELECT v.run_id, v.evidence -> \(criterion)::text ->> 'spell_start' IS NOT NULL AS spell,
                   v.evidence -> \(criterion)::text ->> 'code_system' AS code_system, v.evidence -> \(criterion)::text ->> 'code' AS code,
                   count(*) AS eligible, \(counts)
            FROM report_invitee_outcomes v
            WHERE v.run_id = ANY(\(runIDs))
              AND NOT EXISTS (SELECT 1 FROM run_practices rp WHERE rp.run_id = v.run_id AND rp.practice_id = v.practice_id
                                AND rp.superseded_by_run_id IS NOT NULL)
            GROUP BY 1, 2, 3, 4
            """)
        struct Code: Hashable { var system: String?, code: String? }
        struct RunCode: Hashable { var run: Int?, code: Code }
        func runCode(_ row: QueryResult.Row) -> RunCode { RunCode(run: row.int("run_id"), code: Code(system: row["code_system"], code: row["code"])) }
        let coded = rows.filter { $0.bool("spell") != true && $0["code_system"] != nil && $0["code"] != nil }
        var lists: [RunCode: String] = [:]
        if !coded.isEmpty {
            // Each run's code lists (name and version), then which of those versions hold the codes.
            var runLists: [Int: [(name: String, version: Int)]] = [:]
            for row in try connection.query("""
                SELECT r.run_id, l.name, l.codelist_version_id
                FROM runs r, jsonb_to_recordset(r.codelists) AS l(name text, codelist_version_id bigint)
                WHERE r.run_id = ANY(\(Array(Set(coded.compactMap { $0.int("run_id") }))))
                """) {
                guard let run = row.int("run_id"), let version = row.int("codelist_version_id") else { continue }
                runLists[run, default: []].append((row.string("name"), version))
            }
            var holding: [Code: Set<Int>] = [:]  // the code lists' versions that hold each code
            for row in try connection.query("""
                SELECT cc.codelist_version_id, cc.code_system, cc.code FROM codelist_codes cc
                WHERE cc.codelist_version_id = ANY(\(Array(Set(runLists.values.flatMap { $0.map(\.version) }))))
                  AND (cc.code_system, cc.code) IN (SELECT * FROM unnest(\(coded.map { $0.string("code_system") })::text[],
                                                                           \(coded.map { $0.string("code") })::text[]))
                """) {
                holding[Code(system: row["code_system"], code: row["code"]), default: []].insert(row.int("codelist_version_id") ?? 0)
            }
            for row in coded {
                let key = runCode(row)
                let versions = holding[key.code] ?? []
                let names = (runLists[key.run ?? 0] ?? []).filter { versions.contains($0.version) }.map(\.name)
                // min(name COLLATE "C"): byte order.
                if let list = names.min(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { lists[key] = list }
            }
        }
        var out: [ProxyClass: [FunnelMeasure: Int]] = [:]
        for row in rows {
            let cls: ProxyClass = row.bool("spell") == true ? .spell
                : lists[runCode(row)].map { .codeList($0) } ?? .other
            for m in FunnelMeasure.allCases { out[cls, default: [:]][m, default: 0] += row.int(m.rawValue) ?? 0 }
        }
        return ProxyCounts(criterion: criterion, label: label, counts: out)
    }

    /// The cohort when none is named: the one cohort file in `cohorts/`, else
    /// the one cohort that has issued runs.
    static func defaultCohort(_ connection: Connection, cohortsDirectory: URL?) throws -> String {
        let dir = cohortsDirectory ?? URL(fileURLWithPath: "cohorts")
        if let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            if files.count == 1, let name = try cohortName(inFile: dir.appendingPathComponent(files[0])) {
                return name
            }
        }
        let names = try connection.query("SELECT DISTINCT cohort_name FROM runs WHERE status = \(RunStatus.issued.rawValue) ORDER BY 1").map { $0.string("cohort_name") }
        switch names.count {
        case 1: return names[0]
        case 0: throw RecruitError.refused("nothing to report: no run has been issued yet", remedy: .init(verb: .see, inputs: [.issue]))
        default: throw RecruitError.refused("runs were issued for \(names.joined(separator: ", ")), and no cohort was named", remedy: .give(.cohort))
        }
    }

    /// The `name:` line at the top level of a cohort file.
    static func cohortName(inFile url: URL) throws -> String? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where line.hasPrefix("name:") {
            var value = line.dropFirst("name:".count).trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
            value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// Refuses attrition tables a report cannot be made from: a gap in the
    /// steps or a count that grows from one step to the next.
    static func checkChains(_ steps: [Step]) throws {
        var previous: Step?
        for s in steps {
            if let p = previous, p.runID == s.runID, p.practiceID == s.practiceID {
                guard s.step == p.step + 1 else {
                    throw RecruitError.refused("run \(s.runID), practice \(s.practiceID): the yield skips from step \(p.step) to \(s.step)")
                }
                guard s.remaining <= p.remaining else {
                    throw RecruitError.refused("run \(s.runID), practice \(s.practiceID): more patients remain after step \(s.step) than before it")
                }
            } else if s.step != 0 {
                throw RecruitError.refused("run \(s.runID), practice \(s.practiceID): the yield does not start at step 0")
            }
            previous = s
        }
    }
}

/// The outcomes a reason code is counted for in the study's flow.
public enum CodedOutcome: String, Sendable, Codable, CaseIterable {
    case screenedOut = "screened_out"
    case declined

    var measure: FunnelMeasure { self == .screenedOut ? .screenedOut : .declined }
}

/// The counts of a referral channel's box in the study's flow.
public enum ReferralMeasure: String, Sendable, Codable, CaseIterable {
    /// Everyone who came through the channel.
    case referred
    /// On the run's list (so in the letter's flow too, without a letter's reply).
    case listed
    /// In the extract with a pseudonymised id, not on the list.
    case unlistedInExtract = "unlisted_in_extract"
    /// Not in the extract: recorded without an id.
    case notInExtract = "not_in_extract"
    case declined
    case optedOut = "opted_out"
    case ineligible
    case eligibleNotConsented = "eligible_not_consented"
    case consented

    public var label: String {
        switch self {
        case .referred: return "Referred"
        case .listed: return "On the list"
        case .unlistedInExtract: return "In the extract, not on the list"
        case .notInExtract: return "Not in the extract"
        case .declined: return "Declined"
        case .optedOut: return "Opted out"
        case .ineligible: return "Ineligible on screening"
        case .eligibleNotConsented: return "Eligible, not consented"
        case .consented: return "Consented"
        }
    }

    /// `referred = Σ parts`, twice: by where they were, and by how far they went.
    static let relations: [[ReferralMeasure]] = [
        [.listed, .unlistedInExtract, .notInExtract],
        [.declined, .optedOut, .ineligible, .eligibleNotConsented, .consented],
    ]
}

/// What the study compares responders with non-responders by, beside the practice and the out-of-work evidence.
public enum ProfileDimension: String, Sendable, Codable, CaseIterable {
    case ageBand = "age_band"
    case sex

    public var label: String { self == .ageBand ? "Age band" : "Sex" }

    /// A group's label: the band as it is; a sex code in words.
    public func groupLabel(_ group: String) -> String {
        guard self == .sex else { return group }
        switch group {
        case "M": return "Male"
        case "F": return "Female"
        case "I": return "Indeterminate"
        case "U": return "Unknown"
        default: return group
        }
    }

    /// Groups in order: age bands by their first year, sexes F, M, then the rest.
    public func sorted(_ groups: some Collection<String>) -> [String] {
        func key(_ g: String) -> (Int, String) {
            switch self {
            case .ageBand:
                if g == "under 18" { return (0, g) }
                return (Int(g.prefix { $0.isNumber }) ?? 999, g)
            case .sex: return (["F": 0, "M": 1, "I": 2, "U": 3][g] ?? 4, g)
            }
        }
        return groups.sorted { key($0) < key($1) }
    }
}

/// Names in the flow's data.
public enum FlowCounts {
    /// A screened-out or declined row with no reason code.
    public static let notCoded = "not_coded"
}

extension YieldData {
    /// The practices a selected run still covers (its list not superseded): SQL over alias `v`.
    static func stillCovered(_ alias: String) -> SQL {
        """
        NOT EXISTS (SELECT 1 FROM run_practices rp WHERE rp.run_id = \(unsafeRaw: alias).run_id AND rp.practice_id = \(unsafeRaw: alias).practice_id
                      AND rp.superseded_by_run_id IS NOT NULL)
        """
    }

    /// Reads the flow past the list: reason codes, referrals and the invitees' profiles.
    mutating func loadFlow(_ connection: Connection, runIDs ids: [Int]) throws {
        for row in try connection.query("""
            SELECT v.practice_id, o.kind, o.code, count(*) AS n
            FROM report_invitee_outcomes v
            CROSS JOIN LATERAL (VALUES (\(CodedOutcome.screenedOut.rawValue)::text, v.screened_out, v.screened_out_code),
                                       (\(CodedOutcome.declined.rawValue)::text, v.declined, v.declined_code)) AS c(kind, flag, code0)
            CROSS JOIN LATERAL (SELECT c.kind, coalesce(c.code0, \(FlowCounts.notCoded)) AS code) o
            WHERE v.run_id = ANY(\(ids)) AND c.flag AND \(Self.stillCovered("v"))
            GROUP BY 1, 2, 3
            """) {
            guard let kind = CodedOutcome(rawValue: row.string("kind")) else { continue }
            reasonCodes[row.string("practice_id"), default: [:]][kind, default: [:]][row.string("code")] = row.int("n") ?? 0
        }
        let stages: [(ReferralMeasure, String)] = [(.declined, "declined"), (.optedOut, "opted_out"), (.ineligible, "ineligible"),
                                                   (.eligibleNotConsented, "eligible"), (.consented, "consented")]
        let stageCounts = SQL(joining: stages.map { "count(*) FILTER (WHERE v.stage = \($0.1)) AS \(unsafeRaw: $0.0.rawValue)" }, separator: ", ")
        for row in try connection.query("""
            SELECT v.practice_id, v.channel, count(*) AS referred, count(*) FILTER (WHERE v.listed) AS listed,
                   count(*) FILTER (WHERE v.in_extract AND NOT v.listed) AS unlisted_in_extract,
                   count(*) FILTER (WHERE NOT v.in_extract) AS not_in_extract, \(stageCounts)
            FROM report_referrals v
            WHERE v.run_id = ANY(\(ids)) AND \(Self.stillCovered("v"))
            GROUP BY 1, 2
            """) {
            guard let channel = ContactChannel(rawValue: row.string("channel")) else { continue }
            var counts: [ReferralMeasure: Int] = [:]
            for m in ReferralMeasure.allCases { counts[m] = row.int(m.rawValue) ?? 0 }
            referrals[row.string("practice_id"), default: [:]][channel] = counts
        }
        let measures = FunnelMeasure.allCases.filter { $0 != .eligible }
        let counts = SQL(joining: measures.map { "count(*) FILTER (WHERE v.\(unsafeRaw: $0.rawValue)) AS \(unsafeRaw: $0.rawValue)" }, separator: ", ")
        for row in try connection.query("""
            SELECT coalesce(pr.age_band, 'unknown') AS age_band, coalesce(pr.sex, 'unknown') AS sex, count(*) AS eligible, \(counts)
            FROM report_invitee_outcomes v
            LEFT JOIN report_invitee_profiles pr ON pr.run_id = v.run_id AND pr.practice_id = v.practice_id AND pr.patient_id = v.patient_id
            WHERE v.run_id = ANY(\(ids)) AND \(Self.stillCovered("v"))
            GROUP BY 1, 2
            """) {
            for dimension in ProfileDimension.allCases {
                let group = row.string(dimension.rawValue)
                for m in FunnelMeasure.allCases {
                    profiles[dimension, default: [:]][group, default: [:]][m, default: 0] += row.int(m.rawValue) ?? 0
                }
            }
        }
    }
}
