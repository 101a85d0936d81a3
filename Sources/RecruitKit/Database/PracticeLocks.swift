import Foundation
import Logging
import Postgres

/// One run or load at a time per practice: session-level advisory locks named
/// `db.lockKey("practice:" + id)`, the key the loader takes too.
///
/// Locks are taken in byte order of practice id, so two runs over overlapping
/// practices cannot deadlock. While it holds them, the session's
/// `application_name` says what holds them (`recruit run chronic-pain-… by alice`),
/// so a refused command can name the holder.
public final class PracticeLocks {
    let database: Database
    let logger: Logger
    /// The practices whose locks this session holds, in the order taken.
    public private(set) var held: [String] = []
    private var previousApplicationName: String?

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    deinit {
        // Deterministic release is `release()`; a session lock also ends with its connection.
        assert(held.isEmpty || !database.connection.isOpen, "practice locks not released")
    }

    /// The advisory-lock key of a practice.
    public static func key(_ practiceID: String, in database: Database) -> String {
        database.lockKey("practice:" + practiceID)
    }

    /// Takes the locks of `practices`.
    ///
    /// - Parameters:
    ///   - practices: practice ids (duplicates ignored).
    ///   - wait: wait for each lock held by another session; else refuse at once.
    ///   - holder: what is taking them, shown to a command that finds them held
    ///     (e.g. "recruit run chronic-pain-out-of-work").
    ///   - waiting: told the practice and its holder before waiting for a lock.
    /// - Throws: ``PracticeBusy`` naming the first practice found locked and
    ///   its holder, having released every lock taken so far.
    public func acquire(_ practices: [String], wait: Bool, holder: String,
                        waiting: ((_ practice: String, _ holder: String) -> Void)? = nil) throws {
        let c = database.connection
        let ordered = Array(Set(practices)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if previousApplicationName == nil {
            previousApplicationName = try c.query("SELECT current_setting('application_name') AS name")[0].string("name")
            let name = "\(holder) by \(ToolInfo.osUser)"
            try c.execute("SELECT set_config('application_name', \(String(name.prefix(63))), false)")
        }
        do {
            for practice in ordered where !held.contains(practice) {
                let key = Self.key(practice, in: database)
                if wait {
                    if try !c.tryAdvisoryLock(key) {
                        let who = try Self.holder(of: practice, in: database)
                        logger.info("waiting for a practice lock", metadata: ["practice": "\(practice)", "holder": "\(who)"])
                        waiting?(practice, who)
                        try c.advisoryLock(key)
                    }
                } else if try !c.tryAdvisoryLock(key) {
                    let who = try Self.holder(of: practice, in: database)
                    throw PracticeBusy(practiceID: practice, holder: who)
                }
                held.append(practice)
            }
        } catch {
            try? release()
            throw error
        }
        logger.debug("practice locks taken", metadata: ["practices": "\(held.count)"])
    }

    /// Releases every lock this session holds and restores `application_name`.
    public func release() throws {
        let c = database.connection
        guard c.isOpen else {
            held = []
            return
        }
        let taken = held
        held = []
        for practice in taken.reversed() {
            try c.advisoryUnlock(Self.key(practice, in: database))
        }
        if let name = previousApplicationName {
            try c.execute("SELECT set_config('application_name', \(name), false)")
            previousApplicationName = nil
        }
    }

    /// Runs `body` holding the locks of `practices`, releasing them afterwards.
    public static func holding<T>(_ practices: [String], on database: Database, wait: Bool, holder: String, logger: Logger,
                                  _ body: () throws -> T) throws -> T {
        let locks = PracticeLocks(database: database, logger: logger)
        try locks.acquire(practices, wait: wait, holder: holder)
        defer { try? locks.release() }
        return try body()
    }

    /// Who holds a practice's lock: the session's process id, what it is
    /// (a running load, or the `application_name` a recruit command set), its
    /// user and since when; "another session" if it has just gone.
    public static func holder(of practiceID: String, in database: Database) throws -> String {
        // A bigint advisory lock shows in pg_locks as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
        let rows = try database.connection.query("""
            WITH k AS (SELECT hashtextextended(\(key(practiceID, in: database)), 0) AS k)
            SELECT a.pid, a.application_name, a.usename::text AS usename,
                   to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') AS since,
                   r.load_id, r.os_user AS load_os_user
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            LEFT JOIN LATERAL (SELECT l2.load_id, l2.os_user FROM loads l2 WHERE l2.backend_pid = a.pid AND l2.status = 'running'
                               ORDER BY l2.load_id DESC LIMIT 1) r ON true
            CROSS JOIN k
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::text::bigint = ((k.k >> 32) & 4294967295)
              AND l.objid::text::bigint = (k.k & 4294967295)
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            LIMIT 1
            """)
        guard let row = rows.first else { return "another session" }
        var what = row.string("application_name")
        if let load = row.int("load_id") {
            what = "load \(load) started by \(row.string("load_os_user"))"
        }
        if what.isEmpty { what = "a session" }
        return "\(what) (process \(row.string("pid")), database user \(row.string("usename")), connected since \(row.string("since")))"
    }
}

@available(*, unavailable)
extension PracticeLocks: Sendable {}

/// A practice is held by another run or load (one at a time per practice);
/// nothing was changed.
public struct PracticeBusy: Error, CustomStringConvertible, Sendable {
    public var practiceID: String
    /// Who holds it: ``PracticeLocks/holder(of:in:)``.
    public var holder: String

    public var description: String {
        "practice \(practiceID) is busy: \(holder) holds it (one run or load at a time per practice); nothing was changed"
    }
}
