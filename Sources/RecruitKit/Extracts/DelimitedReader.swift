import Foundation

/// A streaming reader of delimited text (CSV, tab-delimited) for the loader's hot path.
///
/// It reads the file in large chunks with `read(2)`, hashes the raw bytes as
/// they pass (SHA-256 of the file, for idempotent re-loads), transcodes
/// single-byte encodings to UTF-8 chunk by chunk, and splits rows in place:
/// fields are views into the reader's buffer, valid until the next call to
/// ``next()``, so a row costs no allocation. Quoted fields (RFC 4180) are
/// supported when the format has a quote character; a field with doubled
/// quotes is unescaped into a scratch buffer. A malformed row (a stray quote,
/// an unterminated quoted field) is returned with ``malformed`` set: one bad
/// row does not end a load. Memory stays at about two chunks whatever the
/// file's size (a single row may not exceed ``maxRecordBytes``).
public final class DelimitedReader {
    public struct Options: Sendable {
        public var delimiter: UInt8
        /// The quote character, or nil for formats without quoting.
        public var quote: UInt8?
        public var encoding: TextEncoding
        public var chunkSize: Int

        public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""),
                    encoding: TextEncoding = .utf8, chunkSize: Int = 1 << 20) {
            self.delimiter = delimiter
            self.quote = quote
            self.encoding = encoding
            self.chunkSize = chunkSize
        }
    }

    /// The longest row accepted; a longer one ends the read with an error.
    public static let maxRecordBytes = 16 << 20

    public let options: Options
    /// The file's name, for messages.
    public let name: String
    private let fd: Int32
    private var buffer: UnsafeMutablePointer<UInt8>
    private var bufferCapacity: Int
    /// Unconsumed bytes are buffer[position..<filled].
    private var position = 0
    private var filled = 0
    private var eof = false
    private var atStart = true
    private var raw: UnsafeMutableRawPointer?
    private var hasher = StreamingSHA256()

    private var fieldStarts: UnsafeMutablePointer<Int>
    private var fieldEnds: UnsafeMutablePointer<Int>
    private var fieldScratch: UnsafeMutablePointer<Bool>
    private var fieldCapacity = 64
    public private(set) var fieldCount = 0
    private var scratch: [UInt8] = []
    private var recordStart = 0
    private var recordEnd = 0

    /// Raw bytes read from the file so far.
    public private(set) var bytesRead = 0
    /// The file's size when it was opened.
    public let fileSize: Int
    /// The physical line (1-based) where the current row starts.
    public private(set) var lineNumber = 0
    private var nextLine = 1
    /// Why the current row is malformed, or nil.
    public private(set) var malformed: String?

    /// Opens a file.
    /// - Throws: ``RecruitError`` (refused) naming the file when it cannot be opened.
    public init(url: URL, options: Options) throws {
        name = url.lastPathComponent
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw RecruitError.refused("\(url.lastPathComponent): cannot open the file (\(String(cString: strerror(errno))))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw RecruitError.refused("\(url.lastPathComponent): not a regular file")
        }
        self.fd = fd
        fileSize = Int(st.st_size)
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        self.options = options
        bufferCapacity = options.chunkSize * (options.encoding == .utf8 ? 2 : 4) + 64
        buffer = .allocate(capacity: bufferCapacity)
        if options.encoding != .utf8 { raw = .allocate(byteCount: options.chunkSize, alignment: 16) }
        fieldStarts = .allocate(capacity: fieldCapacity)
        fieldEnds = .allocate(capacity: fieldCapacity)
        fieldScratch = .allocate(capacity: fieldCapacity)
    }

    deinit {
        close(fd)
        buffer.deallocate()
        raw?.deallocate()
        fieldStarts.deallocate()
        fieldEnds.deallocate()
        fieldScratch.deallocate()
    }

    /// The SHA-256 of the bytes read so far (of the whole file once read to the end).
    public var sha256: String { hasher.finalizeHex() }

    /// Field `i` of the current row (UTF-8 after transcoding), valid until the next ``next()``.
    @inline(__always)
    public func field(_ i: Int) -> UnsafeRawBufferPointer {
        if fieldScratch[i] {
            return scratch.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[fieldStarts[i]..<fieldEnds[i]]) }
        }
        return UnsafeRawBufferPointer(start: buffer + fieldStarts[i], count: fieldEnds[i] - fieldStarts[i])
    }

    /// Field `i` as a String (for headers and messages, never in the row loop).
    public func string(_ i: Int) -> String { String(decoding: field(i), as: UTF8.self) }

    /// The current row's bytes as read (after transcoding), without its line end.
    public var rawRecord: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffer + recordStart, count: recordEnd - recordStart)
    }

    /// Advances to the next row. Empty lines are skipped.
    /// - Returns: false at the end of the file.
    /// - Throws: ``RecruitError`` (refused) when the file cannot be read or a row is too long.
    public func next() throws -> Bool {
        while true {
            switch parse() {
            case .record:
                if fieldCount == 1 && recordEnd == recordStart && malformed == nil { continue }
                return true
            case .end:
                return false
            case .needMore:
                try fill()
            }
        }
    }

    private enum ParseResult { case record, needMore, end }

    private func fill() throws {
        if position > 0 {
            let remaining = filled - position
            if remaining > 0 { (buffer).update(from: buffer + position, count: remaining) }
            filled = remaining
            position = 0
        }
        let expansion = options.encoding == .utf8 ? 1 : 3
        if filled + options.chunkSize * expansion > bufferCapacity {
            guard filled < Self.maxRecordBytes else {
                throw RecruitError.refused("\(name): line \(nextLine) is longer than \(Self.maxRecordBytes >> 20) MB: is this a delimited text file of the profile's format?")
            }
            let newCapacity = bufferCapacity * 2
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            bigger.update(from: buffer, count: filled)
            buffer.deallocate()
            buffer = bigger
            bufferCapacity = newCapacity
        }
        let target = UnsafeMutableRawPointer(raw ?? UnsafeMutableRawPointer(buffer + filled))
        var n: Int
        repeat {
            n = read(fd, target, options.chunkSize)
        } while n < 0 && errno == EINTR
        if n < 0 {
            throw RecruitError.refused("\(name): read error (\(String(cString: strerror(errno))))")
        }
        if n == 0 {
            eof = true
            return
        }
        let chunk = UnsafeRawBufferPointer(start: target, count: n)
        hasher.update(chunk)
        bytesRead += n
        if raw != nil {
            filled += TextEncoding.transcode(options.encoding, chunk, into: buffer + filled)
        } else {
            filled += n
        }
    }

    @inline(__always)
    private func addField(_ start: Int, _ end: Int, inScratch: Bool = false) {
        if fieldCount == fieldCapacity { growFields() }
        fieldStarts[fieldCount] = start
        fieldEnds[fieldCount] = end
        fieldScratch[fieldCount] = inScratch
        fieldCount += 1
    }

    private func growFields() {
        let n = fieldCapacity * 2
        let s = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let e = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let q = UnsafeMutablePointer<Bool>.allocate(capacity: n)
        s.update(from: fieldStarts, count: fieldCount)
        e.update(from: fieldEnds, count: fieldCount)
        q.update(from: fieldScratch, count: fieldCount)
        fieldStarts.deallocate(); fieldEnds.deallocate(); fieldScratch.deallocate()
        fieldStarts = s; fieldEnds = e; fieldScratch = q
        fieldCapacity = n
    }

    @inline(__always)
    private func finish(recordEnd end: Int, next: Int, lines: Int) {
        recordStart = position
        recordEnd = max(end, position)
        position = next
        lineNumber = nextLine
        nextLine += lines
    }

    private func parse() -> ParseResult {
        if atStart {
            if filled - position < 3 && !eof { return .needMore }
            if options.encoding == .utf8, filled - position >= 3,
               buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF {
                position += 3
            }
            atStart = false
        }
        let end = filled
        let buf = buffer
        if position >= end { return eof ? .end : .needMore }
        fieldCount = 0
        malformed = nil
        if !scratch.isEmpty { scratch.removeAll(keepingCapacity: true) }
        let delimiter = options.delimiter
        let quoting = options.quote != nil
        let quote = options.quote ?? 0
        var p = position
        var fieldStart = p
        var lines = 1
        while true {
            if p >= end {
                if !eof { return .needMore }
                var fe = p
                if fe > fieldStart && buf[fe - 1] == 13 { fe -= 1 }
                addField(fieldStart, fe)
                finish(recordEnd: fe, next: p, lines: lines)
                return .record
            }
            let c = buf[p]
            if c == delimiter {
                addField(fieldStart, p)
                p += 1
                fieldStart = p
                continue
            }
            if c == 10 {
                var fe = p
                if fe > fieldStart && buf[fe - 1] == 13 { fe -= 1 }
                addField(fieldStart, fe)
                finish(recordEnd: fe, next: p + 1, lines: lines)
                return .record
            }
            if quoting && c == quote {
                if p != fieldStart {
                    if malformed == nil { malformed = "a quote inside an unquoted field" }
                    p += 1
                    continue
                }
                // A quoted field.
                var q = p + 1
                var segment = q
                var usesScratch = false
                let scratchStart = scratch.count
                while true {
                    if q >= end {
                        if !eof { return .needMore }
                        malformed = "an unterminated quoted field"
                        addField(p + 1, end)
                        finish(recordEnd: end, next: end, lines: lines)
                        return .record
                    }
                    let d = buf[q]
                    if d == quote {
                        if q + 1 >= end && !eof { return .needMore }
                        if q + 1 < end && buf[q + 1] == quote {
                            usesScratch = true
                            scratch.append(contentsOf: UnsafeBufferPointer(start: buf + segment, count: q + 1 - segment))
                            q += 2
                            segment = q
                            continue
                        }
                        break
                    }
                    if d == 10 { lines += 1 }
                    q += 1
                }
                if usesScratch {
                    scratch.append(contentsOf: UnsafeBufferPointer(start: buf + segment, count: q - segment))
                    addField(scratchStart, scratch.count, inScratch: true)
                } else {
                    addField(p + 1, q)
                }
                q += 1  // past the closing quote
                if q >= end {
                    if !eof { return .needMore }
                    finish(recordEnd: q, next: q, lines: lines)
                    return .record
                }
                let d = buf[q]
                if d == delimiter {
                    p = q + 1
                    fieldStart = p
                    continue
                }
                if d == 10 {
                    finish(recordEnd: q, next: q + 1, lines: lines)
                    return .record
                }
                if d == 13 {
                    if q + 1 >= end && !eof { return .needMore }
                    if q + 1 < end && buf[q + 1] == 10 {
                        finish(recordEnd: q, next: q + 2, lines: lines)
                        return .record
                    }
                }
                // Text after a closing quote: malformed; the row ends at the line end.
                malformed = "a character after a closing quote"
                var k = q
                while k < end && buf[k] != 10 { k += 1 }
                if k >= end && !eof { return .needMore }
                var re = k
                if re > q && buf[re - 1] == 13 { re -= 1 }
                finish(recordEnd: re, next: min(k + 1, end), lines: lines)
                return .record
            }
            p += 1
        }
    }
}
