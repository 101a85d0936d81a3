import Foundation
import Logging
import Postgres

extension ExtractLoader {
    /// What one file's stream did.
    ///
    /// `@unchecked Sendable`: each result is written only by the one worker
    /// thread that runs its file, and read by the loading thread only after
    /// `DispatchGroup.wait()` has returned for that worker (the group's
    /// leave/wait orders the writes before the reads), so no field is ever
    /// accessed from two threads at once.
    final class StreamResult: @unchecked Sendable {
        let kind: CanonicalFile
        var stats: FileStreamer.Stats?
        var spool: RejectSpool?
        var error: (any Error)?
        /// The file's table was committed (and must be attached or dropped).
        var committed = false
        var copySeconds = 0.0
        var indexSeconds = 0.0
        var commitSeconds = 0.0

        init(kind: CanonicalFile) { self.kind = kind }
    }

    /// The streams' settings, all Sendable, for the worker threads.
    struct StreamSettings: Sendable {
        let conninfo: String
        let schema: String
        let loadID: Int
        let dryRun: Bool
        let maxRejectRate: Double
        let maintenanceWorkMem: String
        let parallelWorkers: Int
        /// Citus: the load's tables are distributed, and COPY FREEZE does not
        /// apply to the shards (they were not created in the worker's transaction).
        var distributed = false
    }

    /// The name of a load's table for a file: `events_l42`.
    static func tableName(_ kind: CanonicalFile, _ loadID: Int) -> String { "\(kind.table)_l\(loadID)" }

    /// Runs the file streams on two threads with a connection each: events on
    /// one, patients then prescriptions on the other (the events file is the largest).
    func runStreams(run: LoadRun, input: (CanonicalFile) -> FileStreamer.Input, control: LoadControl) throws -> [StreamResult] {
        let settings = StreamSettings(conninfo: db.conninfo, schema: db.schema, loadID: run.loadID, dryRun: run.options.dryRun,
                                      maxRejectRate: run.options.maxRejectRate, maintenanceWorkMem: run.options.maintenanceWorkMem,
                                      parallelWorkers: run.options.parallelMaintenanceWorkers, distributed: run.distributed)
        let groups: [[CanonicalFile]] = run.patientsOverThreshold ? [[.patients]] : [[.events], [.patients, .prescriptions]]
        var results: [[StreamResult]] = []
        let group = DispatchGroup()
        let progress = self.progress
        let logger = self.logger
        for kinds in groups {
            let jobs = kinds.map { (input($0), StreamResult(kind: $0)) }
            results.append(jobs.map(\.1))
            group.enter()
            let work = UncheckedBox(jobs)
            Thread.detachNewThread {
                defer { group.leave() }
                Self.runGroup(work.value, settings: settings, control: control, progress: progress, logger: logger)
            }
        }
        group.wait()
        return results.flatMap { $0 }.sorted { $0.kind < $1.kind }
    }

    /// Runs a thread's files one after the other on one connection.
    static func runGroup(_ jobs: [(FileStreamer.Input, StreamResult)], settings: StreamSettings, control: LoadControl,
                         progress: (any LoadProgress)?, logger: Logger) {
        let connection: Connection
        do {
            connection = try Connection(conninfo: settings.conninfo, applicationName: "recruit load \(settings.loadID)")
            try Database.useSchema(connection, settings.schema)
        } catch {
            for (_, result) in jobs { result.error = error }
            control.cancel()
            return
        }
        defer { connection.close() }
        for (input, result) in jobs {
            if control.isCancelled {
                result.error = FileStreamer.Cancelled()
                continue
            }
            do {
                try runFile(input, result, on: connection, settings: settings, control: control, progress: progress, logger: logger)
            } catch {
                result.error = error
                control.cancel()
            }
        }
    }

    /// A load's table(s) for one file: create, COPY, check, index, commit.
    ///
    /// The table is created in the transaction that fills it, so a server with
    /// `wal_level = minimal` writes no WAL for it, and COPY FREEZE writes its
    /// rows frozen and all-visible (no later VACUUM). Events are split by
    /// patient id into two tables filled on two connections at once (one
    /// thread converts, two server processes insert), indexed in parallel, and
    /// attached under one partitioned `events_l<ID>` at the swap. Nothing is
    /// committed when the file is refused, the load is a dry run, or another file refused.
    static func runFile(_ input: FileStreamer.Input, _ result: StreamResult, on conn: Connection, settings: StreamSettings,
                        control: LoadControl, progress: (any LoadProgress)?, logger: Logger) throws {
        let streamer = FileStreamer(input, control: control, progress: progress)
        let tables = streamer.streamCount == 1 ? [tableName(input.kind, settings.loadID)]
            : (1...streamer.streamCount).map { leafName(input.kind, settings.loadID, $0) }
        var connections = [conn]
        var extra: Connection? = nil
        defer { extra?.close() }
        if tables.count > 1 {
            let c = try Connection(conninfo: settings.conninfo, applicationName: "recruit load \(settings.loadID)")
            try Database.useSchema(c, settings.schema)
            extra = c
            connections.append(c)
        }
        // On Citus the table is made (distributed, by the schema owner's function)
        // in a transaction of its own, and indexed in another after the COPY's:
        // Citus refuses, in one transaction, to let one user write shards
        // another user's statement has modified (SQLSTATE 25001), and the loader
        // role COPYs what the owner's functions create and index. Nothing is
        // attached before the swap, so the load stays all or nothing: a refused
        // or failed file leaves an unattached table, dropped with the failed load's.
        let separate = settings.distributed
        func create() throws {
            for (i, c) in connections.enumerated() {
                // Through the schema owner's function (sql/0013): the loader role may create nothing itself.
                try c.execute(createStatement(input.kind, loadID: settings.loadID, part: tables.count > 1 ? i + 1 : 0,
                                              splitKey: tables.count > 1 ? input.splitKey : nil))
            }
        }
        if separate {
            try create()
            result.committed = true  // an empty table now: attached at the swap, or dropped with the load
        }
        for c in connections { try c.executeScript(unsafeSQL: "BEGIN") }
        var open = true
        defer { if open { for c in connections { try? c.executeScript(unsafeSQL: "ROLLBACK") } } }
        for c in connections { try c.execute("SET LOCAL synchronous_commit = off") }
        if !separate { try create() }
        let copyStarted = Date()
        var stats: FileStreamer.Stats?
        struct StopCopy: Error {}
        // One COPY per connection, nested, so that one thread feeds them all.
        func copy(_ index: Int, _ writers: [CopyInWriter]) throws -> Int {
            if index == connections.count {
                let s = try streamer.stream(registering: false, writers: writers)
                stats = s
                // Abort the COPY (the server discards it) when the file is refused anyway.
                if s.exceeds(settings.maxRejectRate) || control.isCancelled { throw StopCopy() }
                return 0
            }
            var inner = 0
            let copySQL: SQL = settings.distributed ? "COPY \(identifier: tables[index]) FROM STDIN (FORMAT binary)"
                : "COPY \(identifier: tables[index]) FROM STDIN (FORMAT binary, FREEZE)"
            let copied = try connections[index].copyIn(copySQL) { w in
                inner = try copy(index + 1, writers + [w])
            }
            return copied + inner
        }
        do {
            let copied = try copy(0, [])
            if let s = stats, copied != s.loaded {
                throw RecruitError.environment("\(s.fileName): the server copied \(copied) rows where \(s.loaded) were sent")
            }
        } catch is StopCopy {
            // stats hold the verdict
        }
        result.stats = stats
        result.spool = streamer.rejectSpool
        result.copySeconds = Date().timeIntervalSince(copyStarted)
        guard let s = stats else { return }
        if s.exceeds(settings.maxRejectRate) {
            control.cancel()
            progress?.phase(file: s.fileName, "refused")
            return
        }
        if control.isCancelled || settings.dryRun {
            progress?.phase(file: s.fileName, settings.dryRun ? "checked" : "stopped")
            return
        }
        progress?.phase(file: s.fileName, "indexing")
        if separate {
            for c in connections { try c.executeScript(unsafeSQL: "COMMIT") }
            for c in connections { try c.executeScript(unsafeSQL: "BEGIN") }
        }
        let indexStarted = Date()
        if connections.count > 1 {
            // Both halves at once, each on its connection (one server process each).
            let other = UncheckedBox((connections[1], tables[1]))
            let failure = LockedValue<(any Error)?>(nil)
            let group = DispatchGroup()
            group.enter()
            let kind = input.kind
            Thread.detachNewThread {
                defer { group.leave() }
                do { try buildIndexes(kind, part: 2, on: other.value.0, settings: settings, workers: 0) } catch { failure.set(error) }
            }
            var mine: (any Error)?
            do { try buildIndexes(kind, part: 1, on: connections[0], settings: settings, workers: 0) } catch { mine = error }
            group.wait()
            if let error = mine ?? failure.value { throw error }
        } else {
            try buildIndexes(input.kind, part: 0, on: conn, settings: settings, workers: settings.parallelWorkers)
        }
        result.indexSeconds = Date().timeIntervalSince(indexStarted)
        if control.isCancelled {
            progress?.phase(file: s.fileName, "stopped")
            return
        }
        let commitStarted = Date()
        for c in connections { try c.executeScript(unsafeSQL: "COMMIT") }
        open = false
        result.committed = true
        result.commitSeconds = Date().timeIntervalSince(commitStarted)
        progress?.phase(file: s.fileName, "done")
        logger.debug("file loaded", metadata: ["file": "\(s.fileName)", "rows": "\(s.loaded)",
                                               "copy_s": "\(result.copySeconds)", "index_s": "\(result.indexSeconds)"])
    }

    /// The name of one of a split file's tables: `events_l42_1`.
    static func leafName(_ kind: CanonicalFile, _ loadID: Int, _ part: Int) -> String { "\(kind.table)_l\(loadID)_\(part)" }

    /// Creates a load's table for a file (`part` 0), or one of a split file's
    /// halves (`part` 1 below `splitKey`, 2 from it), through `create_load_table`
    /// (sql/0013), with the CHECK constraints that let ATTACH skip its
    /// validation scan: the load id and, for a half, its range of patient ids.
    static func createStatement(_ kind: CanonicalFile, loadID: Int, part: Int, splitKey: [UInt8]?) -> SQL {
        let key = splitKey.map { String(decoding: $0, as: UTF8.self) }
        return "SELECT create_load_table(\(kind.table), \(loadID)::bigint, \(part)::integer, \(key)::text)"
    }

    /// Builds the indexes the cohort engine needs on a load's table or half and
    /// ANALYZEs it, through `index_load_table` (sql/0013): patients by
    /// (practice_id, patient_id), unique; events and prescriptions by code and date.
    static func buildIndexes(_ kind: CanonicalFile, part: Int, on conn: Connection, settings: StreamSettings, workers: Int) throws {
        try conn.execute("""
            SELECT set_config('maintenance_work_mem', \(settings.maintenanceWorkMem), true),
                   set_config('max_parallel_maintenance_workers', \(String(workers)), true)
            """)
        try conn.execute("SELECT index_load_table(\(kind.table), \(settings.loadID)::bigint, \(part)::integer)")
    }

    /// Copies every stream's spooled rejects into `load_rejects` (kept even when the load is refused).
    func storeRejects(_ results: [StreamResult]) throws {
        let spools = results.compactMap(\.spool).filter { $0.count > 0 }
        guard !spools.isEmpty else { return }
        try db.connection.transaction {
            for spool in spools {
                try db.connection.copyIn("COPY load_rejects (load_id, file, line, raw, reason) FROM STDIN") { writer in
                    try spool.read { try writer.write($0) }
                }
            }
        }
    }
}

/// A value shared between threads under a lock (`@unchecked Sendable`: `stored`
/// is only touched under `lock`).
final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ value: T) { lock.lock(); stored = value; lock.unlock() }
}

/// Carries a non-Sendable value into a thread that becomes its only user
/// (`@unchecked Sendable`: the sender stops using the value once it hands it over).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
