import Foundation

/// An audit export: JSON Lines, one entry per line, in chain order.
///
/// Each line is `{"entry_hash":…,"entry_id":…,"entry_text":…,"prev_hash":…}`
/// (see ``AuditEntry/exportLine``); verifying it needs nothing but the file
/// (docs/audit.md shows how, without recruit).
public enum AuditExportFile {
    /// Verifies an export file offline.
    ///
    /// - Parameters:
    ///   - url: the export.
    ///   - anchor: an earlier export the file must still contain unchanged.
    /// - Returns: the verification (its problems name entry ids and file lines).
    /// - Throws: ``RecruitError`` (refused) when a file cannot be read, or the anchor does not verify.
    public static func verify(_ url: URL, anchor: URL? = nil) throws -> AuditVerification {
        var verifier = AuditVerifier(source: url.path, anchor: try anchor.map(anchorHashes))
        try forEachLine(of: url) { line, text in
            if let entry = AuditEntry(exportLine: text) {
                verifier.check(entry, line: line)
            } else {
                verifier.malformed(line: line, "not an audit entry (a JSON object with entry_id, prev_hash, entry_hash and entry_text)")
            }
        }
        return verifier.finish()
    }

    /// The entry hashes of an anchor export, after checking that it verifies.
    ///
    /// - Throws: ``RecruitError`` (refused) when the anchor itself is broken.
    public static func anchorHashes(_ url: URL) throws -> [Int: String] {
        let check = try verify(url)
        if let problem = check.firstProblem {
            throw RecruitError.refused("the anchor \(url.lastPathComponent) does not verify: \(check.summary) (\(problem.kinds.map(\.rawValue).joined(separator: ", ")))")
        }
        var hashes: [Int: String] = [:]
        try forEachLine(of: url) { _, text in
            if let entry = AuditEntry(exportLine: text) {
                hashes[entry.entryId] = entry.entryHash
            }
        }
        return hashes
    }

    /// Calls `body` with each non-blank line (1-based number, text without its line end).
    static func forEachLine(of url: URL, _ body: (Int, String) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw RecruitError.refused("\(url.path): cannot open the file")
        }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var lineNumber = 0
        func emit(_ bytes: ArraySlice<UInt8>) throws {
            lineNumber += 1
            var slice = bytes
            if slice.last == 13 { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 32 || $0 == 9 }) { return }
            try body(lineNumber, String(decoding: slice, as: UTF8.self))
        }
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw RecruitError.refused("\(url.path): cannot read the file: \(error.localizedDescription)", underlying: error)
            }
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 10) {
                try emit(pending[start..<nl])
                start = nl + 1
            }
            pending.removeSubrange(pending.startIndex..<start)
        }
        if !pending.isEmpty { try emit(pending[...]) }
    }
}
