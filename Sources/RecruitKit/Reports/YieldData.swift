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
            return YieldData(cohortName: runs[0].cohortName, runs: runs, steps: steps, outcomes: outcomes, proxy: proxy)
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
        let rows = try connection.query("""
            SELECT c.spell, c.list, count(*) AS eligible, \(counts)
            FROM report_invitee_outcomes v
            JOIN runs r ON r.run_id = v.run_id
            CROSS JOIN LATERAL (SELECT v.evidence -> \(criterion)::text AS e) x
            CROSS JOIN LATERAL (
              SELECT x.e ->> 'spell_start' IS NOT NULL AS spell,
                     (SELECT min(l.name COLLATE "C")
                      FROM jsonb_to_recordset(r.codelists) AS l(name text, codelist_version_id bigint)
                      JOIN codelist_codes cc ON cc.codelist_version_id = l.codelist_version_id
                      WHERE cc.code_system = x.e ->> 'code_system' AND cc.code = x.e ->> 'code') AS list
            ) c
            WHERE v.run_id = ANY(\(runIDs))
              AND NOT EXISTS (SELECT 1 FROM run_practices rp WHERE rp.run_id = v.run_id AND rp.practice_id = v.practice_id
                                AND rp.superseded_by_run_id IS NOT NULL)
            GROUP BY c.spell, c.list
            """)
        var out: [ProxyClass: [FunnelMeasure: Int]] = [:]
        for row in rows {
            let cls: ProxyClass = row.bool("spell") == true ? .spell : row["list"].map { .codeList($0) } ?? .other
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
