import Postgres

extension PracticeSnapshot {
    /// The practices' current snapshots (`practice_snapshots`), by practice id
    /// in byte order: every practice's when `practices` is nil, else those of
    /// the ids given (an id without a snapshot is left out; the caller says so).
    public static func current(on connection: Connection, practices: [String]? = nil) throws -> [PracticeSnapshot] {
        try connection.query("""
            SELECT practice_id, load_id, extract_date FROM practice_snapshots
            WHERE \(practices)::text[] IS NULL OR practice_id = ANY(\(practices)::text[])
            ORDER BY practice_id COLLATE "C"
            """).map {
            PracticeSnapshot(practiceID: $0.string("practice_id"), loadID: $0.int("load_id") ?? 0, extractDate: $0.date("extract_date")!)
        }
    }
}
