import Foundation
import RecruitKit

/// The human-readable load summary printed by `recruit load`.
enum LoadReport {
    static func number(_ n: Int) -> String {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.groupingSeparator = ","
        f.usesGroupingSeparator = true
        return f.string(from: NSNumber(value: n)) ?? String(n)
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let gap = String(repeating: " ", count: max(0, width - s.count))
        return right ? gap + s : s + gap
    }

    static func print(_ s: LoadSummary) {
        let load = s.loadID.map { "Load \($0)" } ?? "Load"
        let headline: String
        switch s.status {
        case .loaded:
            let held = s.heldBackPractices.count
            headline = "\(load): loaded \(s.practices.count - held) practice(s)" + (held > 0 ? ", HELD BACK \(held)" : "")
        case .dryRun:
            let held = s.heldBackPractices.count
            headline = "\(load): dry run, nothing changed; \(s.practices.count - held) practice(s) would be replaced"
                + (held > 0 ? ", \(held) held back" : "")
        case .unchanged: headline = "\(load): nothing to do"
        case .refused: headline = "\(load): REFUSED, nothing changed"
        case .failed: headline = "\(load): FAILED, nothing changed"
        }
        Swift.print("\(headline) from \(s.directory)")
        Swift.print("Profile \(s.profile) (sha256 \(s.profileSHA256.prefix(12))…), extract date \(s.extractDate ?? "?")")
        if let reason = s.reason, s.status == .unchanged || s.status == .dryRun {
            Swift.print(reason + (s.status == .unchanged ? " (use --force to reload)" : ""))
        }
        let dataFiles = s.files.filter { !$0.kind.hasPrefix("dictionary:") }
        if !dataFiles.isEmpty {
            Swift.print("")
            Swift.print(pad("file", 22) + pad("rows read", 14, right: true) + pad("loaded", 14, right: true)
                        + pad("rejected", 11, right: true) + pad("skipped", 10, right: true) + pad("seconds", 10, right: true))
            for f in dataFiles {
                Swift.print(pad(f.name, 22) + pad(number(f.rowsRead), 14, right: true) + pad(number(f.rowsLoaded), 14, right: true)
                            + pad(number(f.rowsRejected), 11, right: true) + pad(number(f.rowsSkipped), 10, right: true)
                            + pad(String(format: "%.1f", f.seconds), 10, right: true))
                for (reason, n) in f.rejectReasons.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }).prefix(5) {
                    let lines = f.firstRejects.filter { $0.reason == reason }.map { String($0.line) }
                    Swift.print("    \(number(n)) × \(reason)" + (lines.isEmpty ? "" : " (line \(lines.joined(separator: ", ")))"))
                }
            }
            for f in s.files where f.kind.hasPrefix("dictionary:") {
                Swift.print("  \(f.kind.dropFirst("dictionary:".count)) dictionary \(f.name): \(number(f.rowsRead)) entries")
            }
        }
        if !s.practices.isEmpty {
            Swift.print("")
            Swift.print(pad("practice", 18) + pad("patients", 24) + pad("events", 28) + pad("prescriptions", 28) + "rejected")
            func change(_ before: Int?, _ after: Int) -> String {
                before.map { "\(number($0)) → \(number(after))" } ?? "new: \(number(after))"
            }
            for p in s.practices {
                Swift.print(pad(p.practiceID, 18) + pad(change(p.before?.patients, p.after.patients), 24)
                            + pad(change(p.before?.events, p.after.events), 28)
                            + pad(change(p.before?.prescriptions, p.after.prescriptions), 28) + number(p.rejected)
                            + (p.heldBack ? "  HELD BACK" : p.accepted ? "  accepted" : ""))
            }
            if s.rowsRejectedWithoutPractice > 0 {
                Swift.print("\(number(s.rowsRejectedWithoutPractice)) rejected row(s) belong to no practice loaded here (an unknown patient, a malformed row, or a practice none of whose patients could be loaded)")
            }
        }
        for w in s.warnings { Swift.print("warning: \(w)") }
        if s.rowsRead > 0 {
            Swift.print("")
            Swift.print("\(number(s.rowsRead)) rows in \(String(format: "%.1f", s.elapsedSeconds)) s (\(number(Int(s.rowsPerSecond))) rows/s)")
        }
    }
}
