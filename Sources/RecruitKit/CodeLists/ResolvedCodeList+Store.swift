import Foundation
import Postgres

extension ResolvedCodeList {
    /// Stores this list as an immutable version (`codelist_versions`, with its
    /// expanded codes in `codelist_codes`) and returns its id.
    ///
    /// Idempotent: a version with the same name, file SHA-256 and expanded
    /// SHA-256 is stored once; storing it again returns the existing id and
    /// writes nothing. A new version appends one audit entry, action
    /// `codelist.version`. Runs inside the caller's transaction when there is
    /// one (so the version commits with the run that uses it), else in its own.
    ///
    /// - Returns: the `codelist_version_id`.
    /// - Throws: ``PostgresError`` when the database refuses.
    @discardableResult
    public func store(on connection: Connection) throws -> Int {
        if connection.isInTransaction { return try storeInTransaction(connection) }
        return try connection.transaction { try storeInTransaction(connection) }
    }

    private func storeInTransaction(_ connection: Connection) throws -> Int {
        // Serialise concurrent stores of the same list: the second waits, then finds the first's row.
        try connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("codelist_versions:" + name), 0))")
        if let existing = try connection.query("""
            SELECT codelist_version_id FROM codelist_versions
            WHERE name = \(name) AND sha256 = \(sha256) AND expanded_sha256 = \(expandedSHA256)
            """).first?.int("codelist_version_id") {
            return existing
        }
        let inserted = try connection.query("""
            INSERT INTO codelist_versions (name, version, sha256, expanded_sha256, manifest)
            VALUES (\(name), \(version), \(sha256), \(expandedSHA256), \(JSONB(manifestEntry.text)))
            RETURNING codelist_version_id
            """)
        guard let id = inserted.first?.int("codelist_version_id") else {
            throw PostgresError(code: .unexpectedResult, message: "INSERT INTO codelist_versions returned no id")
        }
        let sorted = codes.sorted()
        let stored = try connection.execute("""
            INSERT INTO codelist_codes (codelist_version_id, code_system, code, term)
            SELECT \(id), s, c, NULLIF(t, '')
            FROM unnest(\(sorted.map(\.system.rawValue))::text[], \(sorted.map(\.code))::text[], \(sorted.map { terms[$0] ?? "" })::text[]) AS u(s, c, t)
            """)
        try AuditLog.append(on: connection, action: "codelist.version",
                            subjects: ["codelist_version_id": .int(id), "codelist": .string(name)],
                            payload: ["name": .string(name), "version": version.map(JSONValue.string) ?? .null,
                                      "sha256": .string(sha256), "expanded_sha256": .string(expandedSHA256),
                                      "codes": .int(stored), "locked": .bool(locked), "reviewed": .bool(reviewed),
                                      "added_by_rules": .int(addedByRules), "removed_by_rules": .int(removedByRules)])
        return id
    }
}
