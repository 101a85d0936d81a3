import Foundation

/// Rejected rows of one file, spooled to a temporary file in COPY text format
/// while the file streams, then copied into `load_rejects` in one statement.
///
/// A worker cannot interleave a second COPY on its connection, and rejects
/// must be kept even when the load is refused (its data rolls back): the
/// spool keeps memory flat and decouples the two.
final class RejectSpool {
    let url: URL
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let prefix: [UInt8]
    private(set) var count = 0

    /// - Parameters:
    ///   - loadID: the load the rejects belong to.
    ///   - file: the file's name, as stored in `load_rejects.file`.
    init(directory: URL, loadID: Int, file: String) throws {
        url = directory.appendingPathComponent("rejects-\(UUID().uuidString).copy")
        fd = open(url.path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
        guard fd >= 0 else {
            throw RecruitError.environment("cannot create a temporary file in \(directory.path): \(String(cString: strerror(errno)))")
        }
        var p = Array("\(loadID)\t".utf8)
        Array(file.utf8).withUnsafeBytes { RejectSpool.escape($0, into: &p) }
        p.append(9)
        prefix = p
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        close(fd)
        unlink(url.path)
    }

    /// Appends one reject: the row's line, its raw text and the reason.
    func add(line: Int, raw: UnsafeRawBufferPointer, reason: String) throws {
        buffer.append(contentsOf: prefix)
        buffer.append(contentsOf: String(line).utf8)
        buffer.append(9)
        RejectSpool.escape(raw, into: &buffer)
        buffer.append(9)
        var r = reason
        r.withUTF8 { RejectSpool.escape(UnsafeRawBufferPointer($0), into: &buffer) }
        buffer.append(10)
        count += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws {
        var offset = 0
        try buffer.withUnsafeBytes { b in
            while offset < b.count {
                let n = write(fd, b.baseAddress! + offset, b.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RecruitError.environment("cannot write the rejects spool \(url.path): \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// COPY text escaping; a NUL byte (which text cannot hold) becomes U+FFFD.
    static func escape(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        for b in bytes {
            switch b {
            case 92: out.append(92); out.append(92)
            case 9: out.append(92); out.append(UInt8(ascii: "t"))
            case 10: out.append(92); out.append(UInt8(ascii: "n"))
            case 13: out.append(92); out.append(UInt8(ascii: "r"))
            case 0: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            default: out.append(b)
            }
        }
    }

    /// Streams the spool's contents to `body` in chunks.
    func read(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try flush()
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { try body($0) }
        }
    }
}
