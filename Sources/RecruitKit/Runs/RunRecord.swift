import Foundation
import Postgres

/// A recorded run as the database holds it (`runs`, `run_practices`).
public struct RunRecord: Sendable, Codable {
    public struct Practice: Sendable, Codable, Hashable {
        public var practiceID: String
        public var loadID: Int
        public var extractDate: LocalDate
        public var stale: Bool
        public var supersededByRunID: Int?
        public var supersededAt: String?
        public var invited: Int
        /// Invitees listed for the first time by the cohort (`run_invitations.first_listed`);
        /// nil for runs recorded before the flags (sql/0020).
        public var newlyEligible: Int?

        enum CodingKeys: String, CodingKey {
            case practiceID = "practice_id", loadID = "load_id", extractDate = "extract_date", stale
            case supersededByRunID = "superseded_by_run_id", supersededAt = "superseded_at", invited, newlyEligible = "newly_eligible"
        }
    }

    public var runID: Int
    public var cohortName: String
    public var cohortVersion: String
    public var cohortSHA256: String
    public var indexDate: LocalDate
    /// The cohort parameters' values.
    public var parameters: [String: Int]
    public var codelists: [RecordedCodeList]
    /// Draft or issued (a dry run is never recorded).
    public var status: RunStatus
    /// The deployment's safeguards the run was evaluated with (``Safeguards/notApplied`` for runs recorded before them).
    public var safeguards: Safeguards
    public var historyAsOf: String
    public var supersedesRunID: Int?
    public var allowStale: Bool
    public var maxExtractAgeDays: Int?
    public var requestedPractices: [String]?
    public var osUser: String
    public var toolVersion: String
    public var startedAt: String
    public var finishedAt: String?
    public var issuedAt: String?
    public var outputDirectory: String?
    /// SHA-256 of each output file by relative path.
    public var outputs: [String: String]
    public var counts: JSONValue
    public var practices: [Practice]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", cohortName = "cohort_name", cohortVersion = "cohort_version", cohortSHA256 = "cohort_sha256"
        case indexDate = "index_date", parameters, codelists, status, safeguards, historyAsOf = "history_as_of"
        case supersedesRunID = "supersedes_run_id", allowStale = "allow_stale", maxExtractAgeDays = "max_extract_age_days"
        case requestedPractices = "requested_practices", osUser = "os_user", toolVersion = "tool_version"
        case startedAt = "started_at", finishedAt = "finished_at", issuedAt = "issued_at", outputDirectory = "output_dir"
        case outputs, counts, practices
    }

    /// The invitees in total.
    public var invited: Int { practices.reduce(0) { $0 + $1.invited } }

    /// The invitees listed for the first time by the cohort, in total (nil: recorded before the flags).
    public var newlyEligible: Int? {
        practices.allSatisfy { $0.newlyEligible != nil } ? practices.reduce(0) { $0 + ($1.newlyEligible ?? 0) } : nil
    }

    /// Practice ids in byte order.
    public var practiceIDs: [String] { practices.map(\.practiceID) }

    /// Criterion 11 of a run made with `--supersede R` ignores R's invitations.
    public var ignoredRunIDs: [Int] { supersedesRunID.map { [$0] } ?? [] }

    /// Timestamps as text: ISO 8601 in UTC with milliseconds, as the audit trail writes them.
    static let timestamp = "to_char(%@ AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

    static func ts(_ column: String) -> String { timestamp.replacingOccurrences(of: "%@", with: column) }

    /// Reads run `runID`.
    ///
    /// - Throws: ``RecruitError`` (refused) when there is no such run.
    public static func load(_ runID: Int, on connection: Connection) throws -> RunRecord {
        guard let run = try loadAll(on: connection, where: "r.run_id = \(runID)").first else {
            throw RecruitError.refused("there is no recorded run \(runID) (dry runs are not recorded; recruit runs list shows the runs)")
        }
        return run
    }

    /// Reads the runs, newest first, optionally of one cohort.
    public static func list(cohort: String? = nil, limit: Int? = nil, on connection: Connection) throws -> [RunRecord] {
        var filter: SQL = "true"
        if let cohort { filter = "r.cohort_name = \(cohort)" }
        var runs = try loadAll(on: connection, where: filter)
        runs.sort { $0.runID > $1.runID }
        if let limit { runs = Array(runs.prefix(limit)) }
        return runs
    }

    static func loadAll(on connection: Connection, where filter: SQL) throws -> [RunRecord] {
        // The invitees are counted per run and practice first, not by a
        // subquery per practice row: on Citus run_invitations is distributed
        // by practice, and such a subquery from the reference tables is refused.
        let rows = try connection.query("""
            WITH ic AS (
              SELECT ri.run_id, ri.practice_id, count(*) AS invited, count(*) FILTER (WHERE ri.first_listed) AS newly_eligible
              FROM run_invitations ri
              WHERE ri.run_id IN (SELECT r.run_id FROM runs r WHERE \(filter))
              GROUP BY ri.run_id, ri.practice_id)
            SELECT r.run_id, r.cohort_name, r.cohort_version, r.cohort_sha256, r.index_date::text AS index_date,
                   r.parameters::text AS parameters, r.codelists::text AS codelists, r.status, r.safeguards::text AS safeguards,
                   r.history_as_of::text AS history_as_of, r.supersedes_run_id, r.allow_stale, r.max_extract_age_days,
                   array_to_json(r.requested_practices)::text AS requested_practices, r.os_user, r.tool_version,
                   \(unsafeRaw: ts("r.started_at")) AS started_at, \(unsafeRaw: ts("r.finished_at")) AS finished_at,
                   \(unsafeRaw: ts("r.issued_at")) AS issued_at, r.output_dir, r.outputs::text AS outputs, r.counts::text AS counts,
                   (SELECT coalesce(json_agg(json_build_object(
                              'practice_id', rp.practice_id, 'load_id', rp.load_id, 'extract_date', rp.extract_date,
                              'stale', rp.stale, 'superseded_by_run_id', rp.superseded_by_run_id,
                              'superseded_at', \(unsafeRaw: ts("rp.superseded_at")),
                              'invited', coalesce((SELECT ic.invited FROM ic WHERE ic.run_id = rp.run_id AND ic.practice_id = rp.practice_id), 0),
                              -- Null unless the run recorded the flags (its counts name the newly eligible).
                              'newly_eligible', CASE WHEN r.counts->'newly_eligible' IS NOT NULL AND r.counts->'newly_eligible' <> 'null'::jsonb
                                                THEN coalesce((SELECT ic.newly_eligible FROM ic WHERE ic.run_id = rp.run_id
                                                                AND ic.practice_id = rp.practice_id), 0) END)
                            ORDER BY rp.practice_id COLLATE "C"), '[]')::text
                    FROM run_practices rp WHERE rp.run_id = r.run_id) AS practices
            FROM runs r
            WHERE \(filter)
            ORDER BY r.run_id
            """)
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
            try decoder.decode(type, from: Data((text ?? "null").utf8))
        }
        return try rows.map { row in
            RunRecord(
                runID: row.int("run_id") ?? 0, cohortName: row.string("cohort_name"), cohortVersion: row.string("cohort_version"),
                cohortSHA256: row.string("cohort_sha256"), indexDate: row.date("index_date")!,
                parameters: (try? decode([String: Int].self, row["parameters"])) ?? [:],
                codelists: (try? decode([RecordedCodeList].self, row["codelists"])) ?? [],
                status: RunStatus(rawValue: row.string("status")) ?? .draft,
                safeguards: row["safeguards"] == nil ? .notApplied : try decode(Safeguards.self, row["safeguards"]),
                historyAsOf: row.string("history_as_of"),
                supersedesRunID: row.int("supersedes_run_id"), allowStale: row.bool("allow_stale") ?? false,
                maxExtractAgeDays: row.int("max_extract_age_days"),
                requestedPractices: try decode([String]?.self, row["requested_practices"]),
                osUser: row.string("os_user"), toolVersion: row.string("tool_version"), startedAt: row.string("started_at"),
                finishedAt: row["finished_at"], issuedAt: row["issued_at"], outputDirectory: row["output_dir"],
                outputs: (try? decode([String: String].self, row["outputs"])) ?? [:],
                counts: try decode(JSONValue.self, row["counts"]),
                practices: try decode([Practice].self, row["practices"]))
        }
    }

    /// The yield rows recorded with the run: per practice in byte order, then `__total__`.
    public static func yields(of runID: Int, on connection: Connection) throws -> [(row: YieldRow, label: String)] {
        try connection.query("""
            SELECT practice_id, step, criterion, label, remaining FROM run_yields WHERE run_id = \(runID)
            ORDER BY practice_id = '__total__', practice_id COLLATE "C", step
            """).map {
            (YieldRow(practiceID: $0.string("practice_id"), step: $0.int("step") ?? 0, criterion: $0.string("criterion"),
                      remaining: $0.int("remaining") ?? 0), $0.string("label"))
        }
    }
}
