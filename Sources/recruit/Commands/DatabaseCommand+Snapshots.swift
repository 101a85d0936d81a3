import Foundation
import RecruitKit

extension DatabaseCommand.Status {
    /// Adds the loaded data to `db status`: practices' current snapshots,
    /// loads that failed or never finished, loads running now.
    static func snapshots(_ db: Database, into report: inout [String: JSONValue], print: Bool) throws {
        let status = try SnapshotStatus.read(db.connection)
        report["snapshots"] = try JSONValue.encodingSnakeCase(status)
        guard print else { return }
        Output.line("Practices:  \(status.practices.count) with a current snapshot")
        for p in status.practices {
            Output.line("  \(p.practiceID.padding(toLength: 16, withPad: " ", startingAt: 0)) load \(p.loadID), extract \(p.extractDate), "
                        + "replaced \(p.replacedAt): \(p.patients) patients, \(p.events) events, \(p.prescriptions) prescriptions")
        }
        for l in status.runningLoads {
            Output.line("Running:    load \(l.loadID) started \(l.startedAt) by \(l.osUser) (\(l.sourceDir))")
        }
        for l in status.problemLoads {
            let what = l.status == "running" ? "never finished" : "failed"
            Output.line("Load \(l.loadID) \(what): started \(l.startedAt) by \(l.osUser) (\(l.sourceDir))"
                        + (l.reason.map { ": \($0)" } ?? "") + (l.status == "running" ? "; the next load cleans it up" : ""))
        }
        if !status.unusedSnapshots.isEmpty {
            Output.line("Unused snapshots of load(s) \(status.unusedSnapshots.map(String.init).joined(separator: ", ")) are dropped by the next load.")
        }
    }
}

extension JSONValue {
    /// An Encodable value as JSON with snake_case keys.
    static func encodingSnakeCase(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }
}
