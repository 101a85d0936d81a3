import Foundation

/// A streaming RFC 4180 reader over bytes, for files of any size in constant memory.
///
/// It reads the file in large chunks and yields one record at a time, with
/// the physical line number where the record starts and its raw bytes (for
/// reject records). Fields are views into the reader's buffer, valid until the
/// next call to ``next()``; quoted fields with doubled quotes are unescaped
/// into a scratch buffer. A leading UTF-8 byte-order mark is skipped, CRLF and
/// LF line ends are both accepted, and a malformed record (a stray quote, an
/// unterminated quoted field) is returned with ``malformed`` set rather than
/// stopping the read, so one bad row does not end a load.
public final class CSVReader {
    public struct Options: Sendable {
        public var delimiter: UInt8 = UInt8(ascii: ",")
        /// The quote character, or nil for formats without quoting (tab-delimited dumps).
        public var quote: UInt8? = UInt8(ascii: "\"")
        public var chunkSize = 1 << 20
        public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8? = UInt8(ascii: "\""), chunkSize: Int = 1 << 20) {
            self.delimiter = delimiter
            self.quote = quote
            self.chunkSize = chunkSize
        }
    }

    private let options: Options
    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    /// Start of unconsumed bytes in `buffer`.
    private var position = 0
    private var eof = false
    private var atStart = true

    /// Field boundaries in `buffer` (or in `scratch` when unescaped).
    private var starts: [Int] = []
    private var ends: [Int] = []
    private var inScratch: [Bool] = []
    private var scratch: [UInt8] = []
    private var recordStart = 0
    private var recordEnd = 0

    /// Bytes read from the source so far (for progress).
    public private(set) var bytesRead = 0
    /// The physical line (1-based) where the current record starts.
    public private(set) var lineNumber = 0
    private var nextLine = 1
    /// Why the current record is malformed, or nil.
    public private(set) var malformed: String?

    /// Opens a file for reading.
    /// - Throws: ``RecruitError`` (refused) when the file cannot be opened.
    public init(url: URL, options: Options = Options()) throws {
        guard let h = FileHandle(forReadingAtPath: url.path) else {
            throw RecruitError.refused("\(url.lastPathComponent): cannot open the file")
        }
        handle = h
        self.options = options
        buffer.reserveCapacity(options.chunkSize * 2)
    }

    /// Reads from bytes in memory (tests, small files).
    public init(bytes: [UInt8], options: Options = Options()) {
        handle = nil
        self.options = options
        buffer = bytes
        bytesRead = bytes.count
        eof = true
    }

    deinit { try? handle?.close() }

    /// The number of fields in the current record.
    public var fieldCount: Int { starts.count }

    /// Calls `body` with the bytes of field `i` of the current record.
    @inline(__always)
    public func withField<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if inScratch[i] {
            return try scratch.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[starts[i]..<ends[i]])) }
        }
        return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[starts[i]..<ends[i]])) }
    }

    /// Field `i` as a String (invalid UTF-8 is repaired with U+FFFD; check bytes first where it matters).
    public func string(_ i: Int) -> String {
        withField(i) { String(decoding: $0, as: UTF8.self) }
    }

    /// The fields of the current record as Strings.
    public var strings: [String] { (0..<fieldCount).map(string) }

    /// The raw bytes of the current record, without its line end.
    public func withRawRecord<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[recordStart..<recordEnd])) }
    }

    public var rawRecord: [UInt8] { withRawRecord { Array($0) } }

    /// Advances to the next record.
    /// - Returns: false at the end of the input.
    /// - Throws: when the file cannot be read.
    public func next() throws -> Bool {
        while true {
            if let done = parseRecord() { return done }
            // Need more bytes: compact and read.
            if eof {
                return false
            }
            try fill()
        }
    }

    private func fill() throws {
        if position > 0 {
            buffer.removeSubrange(0..<position)
            position = 0
        }
        guard let handle else { eof = true; return }
        let chunk = try handle.read(upToCount: options.chunkSize) ?? Data()
        if chunk.isEmpty {
            eof = true
        } else {
            bytesRead += chunk.count
            buffer.append(contentsOf: chunk)
        }
    }

    /// Parses one record at `position`. Returns true when a record was parsed,
    /// false at the end of input, nil when more bytes are needed.
    private func parseRecord() -> Bool? {
        if atStart {
            if buffer.count - position < 3 && !eof { return nil }
            if buffer.count - position >= 3, buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF {
                position += 3
            }
            atStart = false
        }
        let count = buffer.count
        if position >= count { return eof ? false : nil }
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        inScratch.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
        malformed = nil
        let delimiter = options.delimiter
        let quote = options.quote ?? 0
        let quoting = options.quote != nil
        var lines = 0
        return buffer.withUnsafeBufferPointer { buf -> Bool? in
            var i = position
            var fieldStart = i
            while true {
                // Start of a field.
                if i >= count {
                    if !eof { return nil }
                    // Last record without a line end.
                    starts.append(fieldStart); ends.append(i); inScratch.append(false)
                    finish(recordEnd: i, next: i, lines: lines + 1)
                    return true
                }
                if quoting && buf[i] == quote {
                    // Quoted field: unescape into scratch.
                    let scratchStart = scratch.count
                    var j = i + 1
                    var closed = false
                    while j < count {
                        let c = buf[j]
                        if c == quote {
                            if j + 1 < count && buf[j + 1] == quote {
                                scratch.append(quote); j += 2; continue
                            }
                            if j + 1 >= count && !eof { return nil }
                            closed = true; j += 1; break
                        }
                        if c == 10 { lines += 1 }
                        scratch.append(c); j += 1
                    }
                    if !closed {
                        if !eof { return nil }
                        malformed = "unterminated quoted field"
                        starts.append(scratchStart); ends.append(scratch.count); inScratch.append(true)
                        finish(recordEnd: count, next: count, lines: lines + 1)
                        return true
                    }
                    starts.append(scratchStart); ends.append(scratch.count); inScratch.append(true)
                    // After the closing quote: delimiter, line end or end of input.
                    if j >= count {
                        if !eof { return nil }
                        finish(recordEnd: j, next: j, lines: lines + 1)
                        return true
                    }
                    let c = buf[j]
                    if c == delimiter { i = j + 1; fieldStart = i; continue }
                    if c == 10 { finish(recordEnd: j, next: j + 1, lines: lines + 1); return true }
                    if c == 13 {
                        if j + 1 >= count && !eof { return nil }
                        if j + 1 < count && buf[j + 1] == 10 { finish(recordEnd: j, next: j + 2, lines: lines + 1); return true }
                    }
                    // Text after a closing quote: malformed; skip to the line end.
                    if malformed == nil { malformed = "unexpected character after a closing quote" }
                    var k = j
                    while k < count && buf[k] != 10 { k += 1 }
                    if k >= count && !eof { return nil }
                    finish(recordEnd: k > j && buf[k - 1] == 13 ? k - 1 : k, next: min(k + 1, count), lines: lines + 1)
                    return true
                }
                // Unquoted field.
                var j = i
                while j < count {
                    let c = buf[j]
                    if c == delimiter || c == 10 { break }
                    if quoting && c == quote && malformed == nil { malformed = "a quote inside an unquoted field" }
                    j += 1
                }
                if j >= count {
                    if !eof { return nil }
                    var end = j
                    if end > fieldStart && buf[end - 1] == 13 { end -= 1 }
                    starts.append(fieldStart); ends.append(end); inScratch.append(false)
                    finish(recordEnd: end, next: j, lines: lines + 1)
                    return true
                }
                if buf[j] == delimiter {
                    starts.append(fieldStart); ends.append(j); inScratch.append(false)
                    i = j + 1; fieldStart = i
                    continue
                }
                // Line end.
                var end = j
                if end > fieldStart && buf[end - 1] == 13 { end -= 1 }
                starts.append(fieldStart); ends.append(end); inScratch.append(false)
                finish(recordEnd: end, next: j + 1, lines: lines + 1)
                return true
            }
        }
    }

    private func finish(recordEnd: Int, next: Int, lines: Int) {
        recordStart = position
        self.recordEnd = max(recordEnd, position)
        position = next
        lineNumber = nextLine
        nextLine += lines
    }
}
