import Foundation
import Logging
import Postgres

extension ExtractLoader {
    // MARK: The load record

    /// Writes the `loads` record (status `running`) and returns its id.
    func beginLoad(_ options: Options) throws -> Int {
        let settings = ["dry_run": JSONValue.bool(options.dryRun), "force": .bool(options.force),
                        "max_reject_rate": .double(options.maxRejectRate)]
        let row = try db.connection.query("""
            INSERT INTO loads (os_user, tool_version, source_dir, profile_name, profile_sha256, summary)
            VALUES (\(ToolInfo.osUser), \(ToolInfo.version), \(options.directory.path), \(options.profile.name),
                    \(options.profile.sha256), \(JSONB(JSONValue.object(settings).text)))
            RETURNING load_id
            """)
        guard let id = row.first?.int("load_id") else {
            throw RecruitError.environment("could not create the load record")
        }
        logger.info("load started", metadata: ["load_id": "\(id)", "profile": "\(options.profile.name)"])
        return id
    }

    /// Records how the load ended (unless the swap already did) and drops
    /// tables of this load that were committed but not swapped in.
    func finish(_ run: inout LoadRun, _ summary: inout LoadSummary, started: Date) throws {
        summary.elapsedSeconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        summary.rowsPerSecond = summary.elapsedSeconds > 0 ? (Double(summary.rowsRead) / summary.elapsedSeconds).rounded() : 0
        let summaryJSON = try Self.json(summary)
        let conn = db.connection
        if summary.status == .loaded {
            try conn.execute("UPDATE loads SET summary = \(JSONB(summaryJSON)) WHERE load_id = \(run.loadID)")
        } else {
            let status: String
            let action: String
            switch summary.status {
            case .refused: status = "refused"; action = "load.refused"
            case .unchanged: status = "unchanged"; action = "load.unchanged"
            case .dryRun: status = "dry_run"; action = "load.dry_run"
            case .failed, .loaded: status = "failed"; action = "load.failed"
            }
            try conn.transaction {
                try conn.execute("""
                    UPDATE loads SET status = \(status), reason = \(summary.reason), finished_at = now(),
                      files = \(JSONB(try Self.json(summary.files))), practices = \(JSONB(Self.practicesJSON(summary))),
                      summary = \(JSONB(summaryJSON))
                    WHERE load_id = \(run.loadID)
                    """)
                try AuditLog.append(on: conn, action: action, subjects: ["load_id": .int(run.loadID)],
                                    payload: try Self.auditPayload(summary))
            }
            if run.tablesCommitted { _ = try dropUnreferencedTables() }
        }
        try? run.locks?.release()
        run.locks = nil
        logger.info("load finished", metadata: ["load_id": "\(run.loadID)", "status": "\(summary.status.rawValue)",
                                                "seconds": "\(summary.elapsedSeconds)", "rows": "\(summary.rowsRead)"])
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try LoadSummary.encoder().encode(value), as: UTF8.self)
    }

    static func practicesJSON(_ summary: LoadSummary) -> String {
        var object: [String: JSONValue] = [:]
        for p in summary.practices {
            object[p.practiceID] = ["patients": .int(p.after.patients), "events": .int(p.after.events),
                                    "prescriptions": .int(p.after.prescriptions)]
        }
        return JSONValue.object(object).text
    }

    /// The audit entry's facts: the summary without reject samples (names, counts and hashes only).
    static func auditPayload(_ summary: LoadSummary) throws -> JSONValue {
        var s = summary
        for i in s.files.indices { s.files[i].firstRejects = [] }
        let data = try LoadSummary.encoder().encode(s)
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    // MARK: Leftovers of died loads

    /// Marks loads that died (their session is gone) as `failed` and drops
    /// tables no practice points at. Run at the start of every load.
    func cleanupLeftovers() throws {
        let conn = db.connection
        let running = try conn.query("SELECT l.load_id, l.backend_pid FROM loads l WHERE l.status = 'running' ORDER BY l.load_id")
        let alive = try conn.liveBackends(running.compactMap { $0.int("backend_pid") })
        for row in running where !(row.int("backend_pid").map(alive.contains) ?? false) {
            guard let id = row.int("load_id") else { continue }
            let key = db.lockKey("load:\(id)")
            guard try conn.tryAdvisoryLock(key) else { continue }
            defer { try? conn.advisoryUnlock(key) }
            let reason = "the loader stopped before finishing (killed, or its connection was lost); found by load cleanup"
            try conn.transaction {
                let updated = try conn.execute("""
                    UPDATE loads SET status = 'failed', finished_at = now(), reason = \(reason)
                    WHERE load_id = \(id) AND status = 'running'
                    """)
                if updated > 0 {
                    try AuditLog.append(on: conn, action: "load.failed", subjects: ["load_id": .int(id)], payload: ["reason": .string(reason)])
                }
            }
            logger.info("marked a load that never finished as failed", metadata: ["load_id": "\(id)"])
        }
        _ = try dropUnreferencedTables()
    }

    /// Drops the tables of loads that no practice points at, that are not
    /// running and that no issued run used; moves those an issued run used to
    /// the retained tables (sql/0016), so `runs why` and `--reproduce` keep
    /// answering for it.
    ///
    /// Both need an exclusive lock on the parent tables. It is asked for with
    /// NOWAIT, so a reader is never queued behind it: when a search is reading
    /// (a long REPEATABLE READ transaction holds the parents), the tables are
    /// left for a later load.
    ///
    /// - Returns: the load ids whose tables were dropped.
    @discardableResult
    func dropUnreferencedTables() throws -> [Int] {
        let conn = db.connection
        let dropped = try withParentsLock(try SnapshotStatus.unreferencedLoadIDs(conn), what: "drop") { ids in
            try conn.query("SELECT unnest(drop_load_tables(\(ids)::bigint[])) AS load_id").compactMap { $0.int("load_id") }
        }
        let retained = try withParentsLock(try SnapshotStatus.toRetainLoadIDs(conn), what: "retain") { ids in
            try conn.query("SELECT unnest(retain_load_tables(\(ids)::bigint[])) AS load_id").compactMap { $0.int("load_id") }
        }
        if !dropped.isEmpty { logger.debug("dropped unused snapshots", metadata: ["load_ids": "\(dropped)"]) }
        if !retained.isEmpty { logger.debug("kept snapshots issued runs used", metadata: ["load_ids": "\(retained)"]) }
        return dropped
    }

    /// Runs `body` (a function of sql/0013 or 0016 that locks the partitioned
    /// tables NOWAIT) on `ids`, up to three times while a search holds them.
    private func withParentsLock(_ ids: [Int], what: String, _ body: ([Int]) throws -> [Int]) throws -> [Int] {
        guard !ids.isEmpty else { return [] }
        for attempt in 0..<3 {
            do {
                return try body(ids)
            } catch let error as PostgresError where error.sqlState == "55006" {
                // A practice or a load took one of them up meanwhile: keep them all this time.
                logger.info("snapshots are in use again; a later load takes them up", metadata: ["load_ids": "\(ids)", "action": "\(what)"])
                return []
            } catch let error as PostgresError where error.sqlState == "55P03" {
                if attempt == 2 {
                    logger.info("snapshots are still being read; a later load takes them up", metadata: ["load_ids": "\(ids)", "action": "\(what)"])
                } else {
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
        }
        return []
    }

    // MARK: Practice locks

    /// Takes every practice's lock (``PracticeLocks``: in order, so two loads never deadlock).
    ///
    /// - Throws: ``PracticeBusy`` naming the load or run that holds a practice, unless the load waits.
    func lockPractices(_ practices: [String], _ run: inout LoadRun) throws {
        let locks = PracticeLocks(database: db, logger: logger)
        try locks.acquire(practices, wait: run.options.wait, holder: "recruit load \(run.loadID)") { [progress] practice, holder in
            progress?.step("waiting for practice \(practice): \(holder)")
        }
        run.locks = locks
    }

    // MARK: Snapshots

    /// The current snapshot of each practice: load id, extract date, counts.
    func currentSnapshots(_ practices: [String]) throws -> [String: (Int, String, LoadSummary.Counts)] {
        guard !practices.isEmpty else { return [:] }
        let rows = try db.connection.query("""
            SELECT practice_id, load_id, extract_date::text AS extract_date, patients, events, prescriptions
            FROM practice_snapshots WHERE practice_id = ANY(\(practices))
            """)
        var out: [String: (Int, String, LoadSummary.Counts)] = [:]
        for r in rows {
            out[r.string("practice_id")] = (r.int("load_id") ?? 0, r.string("extract_date"),
                                           .init(patients: r.int("patients") ?? 0, events: r.int("events") ?? 0,
                                                 prescriptions: r.int("prescriptions") ?? 0))
        }
        return out
    }

    /// Swaps the load in: ATTACH its tables (readers are not blocked), then in
    /// one short transaction point every practice at it, mark it loaded and
    /// append the audit entry; then drop snapshots nobody points at.
    ///
    /// The ATTACH commits first, on its own: a query planned before it and
    /// run after the pointer moved would otherwise miss the new partition.
    func swap(_ run: inout LoadRun, _ summary: inout LoadSummary) throws {
        let conn = db.connection
        let started = Date()
        let replaced = summary.practices.filter(\.replaced)
        progress?.step("replacing \(replaced.count) practice snapshot(s)")
        // Through the schema owner's function (sql/0013): the halves of a split
        // file under one partitioned table, then the three as partitions; the
        // CHECK constraints prove both levels' partition constraints: no scan.
        let splitKey = run.eventsSplit.map { String(decoding: $0, as: UTF8.self) }
        try conn.execute("SELECT attach_load_tables(\(run.loadID)::bigint, \(splitKey)::text)")
        let attached = Date()
        summary.status = .loaded
        let ids = replaced.map(\.practiceID)
        let patients = replaced.map { $0.after.patients }
        let events = replaced.map { $0.after.events }
        let prescriptions = replaced.map { $0.after.prescriptions }
        try conn.transaction {
            try conn.execute("""
                INSERT INTO practice_snapshots (practice_id, load_id, extract_date, replaced_at, patients, events, prescriptions)
                SELECT u.practice_id, \(run.loadID), \(run.extractDate!), now(), u.patients, u.events, u.prescriptions
                FROM unnest(\(ids)::text[], \(patients)::bigint[], \(events)::bigint[], \(prescriptions)::bigint[])
                  AS u(practice_id, patients, events, prescriptions)
                ON CONFLICT (practice_id) DO UPDATE SET load_id = EXCLUDED.load_id, extract_date = EXCLUDED.extract_date,
                  replaced_at = EXCLUDED.replaced_at, patients = EXCLUDED.patients, events = EXCLUDED.events,
                  prescriptions = EXCLUDED.prescriptions
                """)
            try conn.execute("""
                UPDATE loads SET status = 'loaded', finished_at = now(), reason = NULL,
                  files = \(JSONB(try Self.json(summary.files))), practices = \(JSONB(Self.practicesJSON(summary)))
                WHERE load_id = \(run.loadID)
                """)
            try AuditLog.append(on: conn, action: "load", subjects: ["load_id": .int(run.loadID)], payload: try Self.auditPayload(summary))
        }
        let swapped = Date()
        summary.droppedLoads = try dropUnreferencedTables()
        summary.timings["attach_s"] = (attached.timeIntervalSince(started) * 1000).rounded() / 1000
        summary.timings["swap_s"] = (swapped.timeIntervalSince(attached) * 1000).rounded() / 1000
        summary.timings["drop_s"] = (Date().timeIntervalSince(swapped) * 1000).rounded() / 1000
    }

    // MARK: Idempotent re-loads

    /// The load that already loaded these same files (by SHA-256, with the
    /// same profile and extract date) and whose practices still point at it
    /// (or at another load of the same files); nil when there is none.
    func alreadyLoaded(_ run: inout LoadRun, _ summary: inout LoadSummary) throws -> Int? {
        let conn = db.connection
        var mine: [(kind: String, url: URL, size: Int)] = []
        for kind in CanonicalFile.allCases {
            let url = run.files[kind]!
            mine.append((kind.rawValue, url, Self.size(url)))
        }
        for (name, spec) in run.options.profile.dictionaries.sorted(by: { $0.key < $1.key }) {
            let url = try ExtractFiles.locate(spec.file, in: run.options.directory, what: "dictionary \(name)")
            mine.append(("dictionary:\(name)", url, Self.size(url)))
        }
        let candidates = try conn.query("""
            SELECT load_id, files::text AS files FROM loads
            WHERE status = 'loaded' AND profile_sha256 = \(run.options.profile.sha256) AND extract_date = \(run.extractDate!)
            ORDER BY load_id DESC LIMIT 100
            """)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var sameSize: [(Int, [LoadSummary.FileSummary])] = []
        for row in candidates {
            guard let id = row.int("load_id"),
                  let files = try? decoder.decode([LoadSummary.FileSummary].self, from: Data(row.string("files").utf8)) else { continue }
            let theirs = Set(files.map { "\($0.kind)\t\($0.name)\t\($0.bytes)" })
            let ours = Set(mine.map { "\($0.kind)\t\($0.url.lastPathComponent)\t\($0.size)" })
            if theirs == ours { sameSize.append((id, files)) }
        }
        guard !sameSize.isEmpty else { return nil }
        progress?.step("hashing the files (an earlier load has files of the same names and sizes)")
        var hashes: [String: String] = [:]
        for f in mine { hashes[f.kind] = try Hashing.sha256Hex(fileAt: f.url) }
        let identical = sameSize.filter { _, files in files.allSatisfy { hashes[$0.kind] == $0.sha256 } }
        guard let (latest, files) = identical.first else { return nil }
        let sameLoads = Set(identical.map(\.0))
        let practicesRow = try conn.query("SELECT practices::text AS p FROM loads WHERE load_id = \(latest)")
        guard let text = practicesRow.first?.string("p"),
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        let practices = object.keys.sorted()
        let current = try currentSnapshots(practices)
        guard !practices.isEmpty, practices.allSatisfy({ current[$0].map { sameLoads.contains($0.0) } ?? false }) else { return nil }
        summary.files = files
        summary.practices = practices.map { id in
            let (load, date, counts) = current[id]!
            return LoadSummary.PracticeSummary(practiceID: id, before: counts, beforeLoadID: load, beforeExtractDate: date, after: counts)
        }
        return latest
    }

    static func size(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? -1
    }
}
