import Foundation
import Postgres

extension AuditTrail {
    /// Writes the whole chain to `url` as JSON Lines, then records the export
    /// in the chain (`audit.export`: file, SHA-256, entries, head entry and hash).
    ///
    /// The file is written beside its destination under a temporary name and
    /// renamed when complete, so a failed export leaves no partial file. The
    /// chain is verified while it is exported, and exported even when broken
    /// (it is the evidence); the result and the audit entry say whether it verified.
    ///
    /// - Parameters:
    ///   - url: the file to write.
    ///   - overwrite: replace an existing file (otherwise refused).
    /// - Returns: what was written.
    /// - Throws: ``RecruitError`` (refused) when the file exists, or cannot be written.
    public func export(to url: URL, overwrite: Bool = false) throws -> AuditExport {
        let url = url.standardizedFileURL
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) && !overwrite {
            throw RecruitError.refused("\(url.path) exists: choose another file", remedy: .init(verb: .give, inputs: [.force], purpose: "to replace it"))
        }
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecruitError.refused("\(directory.path): no such folder")
        }
        let partial = directory.appendingPathComponent(".\(url.lastPathComponent).partial-\(UUID().uuidString.prefix(8))")
        guard fm.createFile(atPath: partial.path, contents: nil), let handle = FileHandle(forWritingAtPath: partial.path) else {
            throw RecruitError.refused("\(directory.path): cannot write a file there")
        }
        var done = false
        defer {
            try? handle.close()
            if !done { try? fm.removeItem(at: partial) }
        }

        var verifier = AuditVerifier(source: "schema \(database.schema)")
        var hasher = StreamingSHA256()
        var buffer = Data()
        func flush() throws {
            guard !buffer.isEmpty else { return }
            buffer.withUnsafeBytes { hasher.update($0) }
            do { try handle.write(contentsOf: buffer) } catch {
                throw RecruitError.refused("\(partial.path): cannot write: \(error.localizedDescription)", underlying: error)
            }
            buffer.removeAll(keepingCapacity: true)
        }
        try forEachEntry { entry, findings in
            verifier.check(entry, findings: findings)
            buffer.append(contentsOf: entry.exportLine.utf8)
            buffer.append(10)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try flush()
        try handle.synchronize()
        let check = verifier.finish()
        let sha256 = hasher.finalizeHex()

        if overwrite { try? fm.removeItem(at: url) }
        do { try fm.moveItem(at: partial, to: url) } catch {
            throw RecruitError.refused("\(url.path): cannot write: \(error.localizedDescription)", underlying: error)
        }
        done = true
        let entryId: Int
        do {
            entryId = try database.connection.transaction {
                try AuditLog.append(on: database.connection, action: "audit.export", payload: [
                    "file": .string(url.path), "sha256": .string(sha256), "entries": .int(check.entries),
                    "head_entry_id": check.headEntryId.map(JSONValue.int) ?? .null,
                    "head_hash": check.headHash.map(JSONValue.string) ?? .null,
                    "chain_verified": .bool(check.ok),
                    "first_problem_entry_id": check.firstProblem?.entryId.map(JSONValue.int) ?? .null,
                ])
            }
        } catch {
            // An export that is not recorded must not exist.
            try? fm.removeItem(at: url)
            throw error
        }
        logger.info("audit chain exported", metadata: ["entries": "\(check.entries)", "sha256": "\(sha256)", "audit_entry": "\(entryId)"])
        return AuditExport(file: url.path, sha256: sha256, entries: check.entries, headEntryId: check.headEntryId,
                           headHash: check.headHash, chainVerified: check.ok, firstProblem: check.firstProblem,
                           auditEntryId: entryId)
    }
}
