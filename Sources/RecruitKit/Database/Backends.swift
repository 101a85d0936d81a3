import Postgres

extension Connection {
    /// Which of the server processes `pids` are alive (have a session).
    ///
    /// Asked of `pg_stat_activity` on its own, never joined with a schema
    /// table: on Citus a query that touches a reference table (`loads`) is
    /// sent to a node with the view expanded, and there the view's
    /// `pg_authid` join is checked as the caller, which an unprivileged role
    /// (the loader) may not read.
    func liveBackends(_ pids: [Int]) throws -> Set<Int> {
        let wanted = Array(Set(pids)).sorted()
        guard !wanted.isEmpty else { return [] }
        return Set(try query("SELECT pid FROM pg_stat_activity WHERE pid = ANY(\(wanted)::int[])").compactMap { $0.int("pid") })
    }
}
