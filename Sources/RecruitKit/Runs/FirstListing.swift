import Foundation
import Postgres

/// Newly eligible (issue 21): whether each invitee of a run is listed for the
/// first time by the run's cohort (`run_invitations.first_listed`, sql/0020).
///
/// An invitee was listed before when an issued run of the same cohort, issued
/// before the run's history instant, listed them (superseded runs included:
/// their lists were sent), or imported history recorded before that instant
/// names them for the cohort. Drafts and dry runs never count. The instant is
/// the one criterion 11 reads, so the flags are what the run saw, and a run
/// never counts itself (it is issued after its instant).
///
/// Computed by one set-based statement when a run is written; a reproduction
/// reads the stored flags back (``recorded(runID:on:)``).
public struct FirstListing: Sendable, Equatable {
    /// One invitee.
    public struct Key: Sendable, Hashable {
        public var practiceID: String
        public var patientID: String
        public init(_ practiceID: String, _ patientID: String) {
            self.practiceID = practiceID
            self.patientID = patientID
        }
    }

    /// Where an invitee was listed before.
    public struct Before: Sendable, Equatable, Codable {
        /// The earliest issued run of the cohort that listed them (nil: none did).
        public var runID: Int?
        /// How many issued runs of the cohort listed them.
        public var runs: Int
        /// The earliest index date of an imported invitation of the cohort naming them (nil: none).
        public var historyIndexDate: LocalDate?

        enum CodingKeys: String, CodingKey { case runID = "run_id", runs, historyIndexDate = "history_index_date" }
    }

    /// Each invitee's flag: true when listed for the first time.
    public var flags: [Key: Bool]

    public init(flags: [Key: Bool]) {
        self.flags = flags
    }

    /// The flag of an invitee (nil: not known, for a patient the flags do not hold).
    public func isFirstListed(_ invitation: Invitation) -> Bool? {
        flags[Key(invitation.practiceID, invitation.patientID)]
    }

    /// How many invitees of `invitations` are listed for the first time, per practice.
    public static func newlyEligible(_ invitations: [Invitation], _ listing: FirstListing, practices: [String]) -> [String: Int] {
        var out = Dictionary(uniqueKeysWithValues: practices.map { ($0, 0) })
        for i in invitations where listing.isFirstListed(i) == true { out[i.practiceID, default: 0] += 1 }
        return out
    }

    /// The SQL (one statement over the invitees' arrays) of who was listed
    /// before, with the first run and imported index date: every value bound.
    /// Joins grouped by (practice_id, patient_id), not a subquery per invitee:
    /// on Citus run_invitations and history_invitations are distributed by
    /// practice, and a subquery correlated with the arrays is refused.
    static func beforeQuery(cohort: String, historyAsOf: String, practices: [String], patients: [String]) -> SQL {
        """
        WITH u AS MATERIALIZED (SELECT p, i FROM unnest(\(practices)::text[], \(patients)::text[]) AS u(p, i)),
        b AS (
          SELECT ri.practice_id, ri.patient_id, min(ri.run_id) AS run_id, count(*) AS runs
          FROM run_invitations ri JOIN runs r ON r.run_id = ri.run_id
          WHERE (ri.practice_id, ri.patient_id) IN (SELECT p, i FROM u) AND r.cohort_name = \(cohort)
            AND r.status = \(RunStatus.issued.rawValue) AND r.issued_at < \(historyAsOf)::timestamptz
          GROUP BY ri.practice_id, ri.patient_id),
        h AS (
          SELECT hi.practice_id, hi.patient_id, min(hi.index_date) AS index_date
          FROM history_invitations hi
          WHERE (hi.practice_id, hi.patient_id) IN (SELECT p, i FROM u) AND hi.cohort_name = \(cohort)
            AND hi.recorded_at < \(historyAsOf)::timestamptz
          GROUP BY hi.practice_id, hi.patient_id)
        SELECT u.p AS practice_id, u.i AS patient_id, b.run_id, coalesce(b.runs, 0) AS runs, h.index_date::text AS history_index_date
        FROM u LEFT JOIN b ON b.practice_id = u.p AND b.patient_id = u.i
               LEFT JOIN h ON h.practice_id = u.p AND h.patient_id = u.i
        """
    }

    /// The flags of `evaluation`'s invitees, as its history instant saw the
    /// cohort's issued runs and imported history (one statement; call in the
    /// transaction that records the run, with its practices' locks held).
    public static func compute(_ evaluation: CohortEvaluation, on connection: Connection) throws -> FirstListing {
        let invitations = evaluation.invitations
        guard !invitations.isEmpty else { return FirstListing(flags: [:]) }
        let rows = try connection.query("""
            SELECT q.practice_id, q.patient_id, (q.run_id IS NULL AND q.history_index_date IS NULL) AS first_listed
            FROM (\(beforeQuery(cohort: evaluation.cohortName, historyAsOf: evaluation.historyAsOf,
                                practices: invitations.map(\.practiceID), patients: invitations.map(\.patientID)))) q
            """)
        var flags: [Key: Bool] = [:]
        for row in rows { flags[Key(row.string("practice_id"), row.string("patient_id"))] = row.bool("first_listed") ?? false }
        return FirstListing(flags: flags)
    }

    /// Where one patient was listed before run `run` (nil: first listed by it).
    public static func before(_ practiceID: String, _ patientID: String, run: RunRecord, on connection: Connection) throws -> Before? {
        guard let row = try connection.query(beforeQuery(cohort: run.cohortName, historyAsOf: run.historyAsOf,
                                                         practices: [practiceID], patients: [patientID])).first else { return nil }
        let before = Before(runID: row.int("run_id"), runs: row.int("runs") ?? 0, historyIndexDate: row.date("history_index_date"))
        return before.runID == nil && before.historyIndexDate == nil ? nil : before
    }

    /// The flags recorded with run `runID`; nil when it was recorded before
    /// they existed (sql/0020: NULL), or has no invitees and no recorded count.
    public static func recorded(runID: Int, on connection: Connection) throws -> FirstListing? {
        let recorded = try connection.query("""
            SELECT counts ? 'newly_eligible' AND counts->'newly_eligible' <> 'null'::jsonb AS recorded FROM runs WHERE run_id = \(runID)
            """).first?.bool("recorded") ?? false
        let rows = try connection.query("""
            SELECT practice_id, patient_id, first_listed FROM run_invitations WHERE run_id = \(runID) AND first_listed IS NOT NULL
            """)
        guard recorded || !rows.isEmpty else { return nil }
        var flags: [Key: Bool] = [:]
        for row in rows { flags[Key(row.string("practice_id"), row.string("patient_id"))] = row.bool("first_listed") }
        return FirstListing(flags: flags)
    }
}
