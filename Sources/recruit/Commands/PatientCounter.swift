import Foundation
import Postgres
import RecruitKit

/// Counts patients per added/removed code when a database is at hand, and
/// otherwise says why the counts were skipped.
struct PatientCounter {
    let global: GlobalOptions
    /// Whether the command prints JSON (then no spinner is drawn).
    var json = false

    func count(_ diff: inout CodeListDiff) {
        guard !(diff.added.isEmpty && diff.removed.isEmpty) else { return }
        let settings = global.settings
        let logger = global.logger
        let conninfo: String
        switch settings.source {
        case .connectionString(let s): conninfo = s
        case .environment: conninfo = ""
        case .embedded(let dir):
            let cluster = EmbeddedCluster(directory: dir, logger: logger)
            guard cluster.isRunning(), let layout = cluster.recordedLayout() else {
                diff.countsSkipped = "no database configured (--database, DATABASE_URL or PGHOST) and the embedded cluster is not running"
                return
            }
            conninfo = EmbeddedCluster.conninfo(layout)
        }
        do {
            // A plain connection: counting must not create or migrate anything.
            let connection = try Connection(conninfo: conninfo)
            defer { connection.close() }
            try connection.execute("SELECT set_config('search_path', \(connection.quoteIdentifier(settings.schema)), false)")
            let present = try connection.query("SELECT to_regclass('current_events') IS NOT NULL AND to_regclass('current_prescriptions') IS NOT NULL AS ok")
            guard present.first?.bool("ok") == true else {
                diff.countsSkipped = "the database has no loaded-data views in schema \(settings.schema) (not migrated)"
                return
            }
            let spinner = StageSpinner.make("codelists", quiet: global.quiet, json: json)
            spinner?.stage("counting the patients whose records hold the \((diff.added + diff.removed).count) changed code(s)", total: nil)
            defer { spinner?.end() }
            try diff.countPatients(on: connection)
        } catch {
            diff.countsSkipped = "the database could not be used: \(error)"
        }
    }
}
