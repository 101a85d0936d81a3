import Foundation
import Postgres

/// The checks that hold back a practice whose new extract looks wrong (a
/// truncated export, a stale feed, a table left out), before its snapshot is
/// replaced. A practice that fails one keeps its earlier snapshot; the rest of
/// the load goes ahead.
public struct ExtractPlausibility: Sendable, Equatable {
    /// The largest share of a practice's registered patients that may go from
    /// its last load to this one (0.2: a fall of more than 20% holds it back).
    public var maxShrink: Double
    /// The most days the newest event may lie before the extract date.
    public var maxEventLagDays: Int

    public static let defaults = ExtractPlausibility(maxShrink: 0.20, maxEventLagDays: 60)

    public init(maxShrink: Double, maxEventLagDays: Int) {
        self.maxShrink = maxShrink
        self.maxEventLagDays = maxEventLagDays
    }

    /// One failed check, with its facts.
    public struct Finding: Codable, Sendable, Equatable {
        public enum Check: String, Codable, Sendable {
            /// The registered population fell by more than the limit.
            case shrank
            /// The newest event is older than the limit before the extract date.
            case staleEvents = "stale_events"
            /// A file that had rows for the practice at its last load has none.
            case emptied
        }

        public var check: Check
        /// `emptied`: the table (patients, events, prescriptions); `shrank`: patients.
        public var table: String?
        public var before: Int?
        public var after: Int?
        /// `stale_events`: the newest event's date and its distance from the extract date.
        public var newestEvent: String?
        public var daysBeforeExtract: Int?
        /// The limit the practice went past (a share for `shrank`, days for `stale_events`).
        public var limit: Double?

        public var description: String {
            switch check {
            case .shrank:
                let fall = Double((before ?? 0) - (after ?? 0)) / Double(max(before ?? 1, 1))
                return "registered patients fell from \(before ?? 0) to \(after ?? 0) (\(ExtractLoader.percent(fall)), more than the \(ExtractLoader.percent(limit ?? 0)) allowed)"
            case .staleEvents:
                return "the newest event, \(newestEvent ?? "?"), is \(daysBeforeExtract ?? 0) days before the extract date (more than \(Int(limit ?? 0)) allowed)"
            case .emptied:
                return "\(table ?? "a file") has no rows for the practice; its last load had \(before ?? 0)"
            }
        }
    }

    /// The checks a practice fails: `before` is its current snapshot (nil for a
    /// practice new to the database: only the events' age is checked),
    /// `newestEvent` its newest loaded event (nil: none).
    public func findings(before: LoadSummary.Counts?, after: LoadSummary.Counts, newestEvent: LocalDate?,
                         extractDate: LocalDate) -> [Finding] {
        var out: [Finding] = []
        if let before {
            if before.patients > 0 && Double(before.patients - after.patients) > maxShrink * Double(before.patients) && after.patients > 0 {
                out.append(Finding(check: .shrank, table: "patients", before: before.patients, after: after.patients, limit: maxShrink))
            }
            for (table, was, now) in [("patients", before.patients, after.patients), ("events", before.events, after.events),
                                      ("prescriptions", before.prescriptions, after.prescriptions)] where was > 0 && now == 0 {
                out.append(Finding(check: .emptied, table: table, before: was, after: 0))
            }
        }
        if let newestEvent {
            let lag = extractDate.dayNumber - newestEvent.dayNumber
            if lag > maxEventLagDays {
                out.append(Finding(check: .staleEvents, newestEvent: newestEvent.description, daysBeforeExtract: lag,
                                   limit: Double(maxEventLagDays)))
            }
        }
        return out
    }
}
