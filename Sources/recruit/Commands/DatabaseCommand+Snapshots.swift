import ArgumentParser
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
        if !status.retainedSnapshots.isEmpty {
            let bytes = status.retainedSnapshots.map(\.bytes).reduce(0, +)
            Output.line("Retained:   \(status.retainedSnapshots.count) earlier snapshot(s) kept for issued runs (\(DatabaseCommand.Prune.size(bytes))); "
                        + "recruit db prune drops those older than the retention period")
            for r in status.retainedSnapshots {
                Output.line("  load \(r.loadID), extract \(r.extractDate ?? "?"): \(r.runs) issued run(s), last issued \(r.lastIssuedAt), \(DatabaseCommand.Prune.size(r.bytes))")
            }
        }
    }
}

extension DatabaseCommand {
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop earlier snapshots kept for issued runs issued before the retention period.",
            discussion: """
                A load's rows stay after later loads replace its practices when an issued run used them, so \
                'recruit runs why' and 'recruit run --reproduce' keep answering for that run. This drops \
                those whose issued runs were all issued more than --retention-days days ago; what an \
                issued run within the period used is never dropped. After a prune, those older runs can \
                no longer be explained or reproduced. Draft and dry runs keep nothing: their snapshots go \
                with the next load that replaces them. Recorded in the audit trail (db.prune).

                Exit codes: 0 done (or nothing to prune); 2 usage or environment error.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Keep what issued runs of the last DAYS days used.", valueName: "days"))
        var retentionDays = 730
        @Flag(help: "Report what would be dropped, and drop nothing.") var dryRun = false
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard retentionDays >= 0 else { throw ValidationError("--retention-days must be 0 or more") }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let result = try SnapshotPruner(database: db).prune(retentionDays: retentionDays, dryRun: dryRun)
            if json {
                try Output.json(JSONValue.encodingSnakeCase(result))
                return
            }
            let verb = dryRun ? "would drop" : "dropped"
            if result.pruned.isEmpty {
                Output.line("Nothing to prune: no retained snapshot is used only by runs issued before \(result.keepIssuedSince).")
            } else {
                Output.line("Prune \(verb) \(result.pruned.count) snapshot(s), \(Self.size(result.bytesFreed)): "
                            + result.pruned.map { "load \($0.loadID) (last issued \($0.lastIssuedAt))" }.joined(separator: ", "))
            }
            if !result.kept.isEmpty {
                Output.line("Kept \(result.kept.count) snapshot(s) issued runs since \(result.keepIssuedSince) used: "
                            + result.kept.map { "load \($0.loadID)" }.joined(separator: ", "))
            }
        }

        static func size(_ bytes: Int) -> String {
            ByteCountFormatter.string(fromByteCount: Int64(bytes), countStyle: .binary)
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
