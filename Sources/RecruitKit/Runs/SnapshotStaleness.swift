import Postgres

/// Whether a practice's loaded snapshot is too old for an index date.
///
/// A snapshot is stale for D when its extract date is more than
/// `maxExtractAgeDays` days before D: records made after the extract are
/// missing, and people may have died, moved or dissented since.
public struct SnapshotStaleness: Sendable {
    /// The default limit, in days.
    public static let defaultMaxExtractAgeDays = 45

    public var maxExtractAgeDays: Int

    public init(maxExtractAgeDays: Int = SnapshotStaleness.defaultMaxExtractAgeDays) {
        self.maxExtractAgeDays = maxExtractAgeDays
    }

    /// A practice whose snapshot is stale.
    public struct Stale: Sendable, Hashable {
        public var practiceID: String
        public var extractDate: LocalDate
        /// Days from the extract date to D.
        public var days: Int
    }

    /// The practices of `snapshots` that are stale for `indexDate`, in the given order.
    public func stale(_ snapshots: [PracticeSnapshot], indexDate: LocalDate) -> [Stale] {
        snapshots.compactMap { s in
            let days = s.extractDate.days(to: indexDate)
            return days > maxExtractAgeDays ? Stale(practiceID: s.practiceID, extractDate: s.extractDate, days: days) : nil
        }
    }

    /// Refuses when any snapshot is stale, naming each practice and both dates.
    public func check(_ snapshots: [PracticeSnapshot], indexDate: LocalDate) throws {
        let stale = stale(snapshots, indexDate: indexDate)
        guard !stale.isEmpty else { return }
        let listing = stale.map {
            "practice \($0.practiceID): extract date \($0.extractDate) is \($0.days) days before the index date \(indexDate)"
        }.joined(separator: "; ")
        throw RecruitError.refused(
            "stale snapshot\(stale.count == 1 ? "" : "s") (more than \(maxExtractAgeDays) days older than the index date): \(listing). "
                + "Records made after the extract are missing, and people may have died, moved or dissented since: "
                + "load a newer extract",
            remedy: .init(verb: .give, inputs: [.allowStale], purpose: "to run anyway (recorded with the run)"))
    }
}
