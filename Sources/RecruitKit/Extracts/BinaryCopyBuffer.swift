/// Builds PostgreSQL binary COPY data (`COPY … FROM STDIN (FORMAT binary)`) in a growing byte buffer.
///
/// The loader converts each row while it streams and sends values in their
/// binary form, so the server parses no text: a date is its day number, an
/// integer its big-endian bytes, a decimal PostgreSQL's base-10000 `numeric`.
/// A row is begun with ``beginRow(fields:)``; if a later field turns out to
/// be invalid the row is dropped with ``rollback()``.
final class BinaryCopyBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    private var rowStart = 0

    /// The 19-byte header every binary COPY stream starts with.
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The trailer: a field count of -1.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    init(capacity: Int = 1 << 20) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    func reset() { count = 0; rowStart = 0 }

    @inline(__always)
    func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = c
    }

    /// Marks where the next row starts (``rollback()`` returns here).
    @inline(__always)
    func mark() { rowStart = count }

    @inline(__always)
    func beginRow(fields: Int16) {
        int16(fields)
    }

    /// Drops what was written since ``mark()``.
    @inline(__always)
    func rollback() { count = rowStart }

    @inline(__always)
    func int16(_ v: Int16) {
        reserve(2)
        base[count] = UInt8(truncatingIfNeeded: v >> 8)
        base[count + 1] = UInt8(truncatingIfNeeded: v)
        count += 2
    }

    @inline(__always)
    func int32(_ v: Int32) {
        reserve(4)
        let u = UInt32(bitPattern: v).bigEndian
        UnsafeMutableRawPointer(base + count).storeBytes(of: u, as: UInt32.self)
        count += 4
    }

    @inline(__always)
    func null() { int32(-1) }

    @inline(__always)
    func bytes(_ raw: UnsafeRawBufferPointer) {
        int32(Int32(raw.count))
        reserve(raw.count)
        if let src = raw.baseAddress, raw.count > 0 {
            UnsafeMutableRawPointer(base + count).copyMemory(from: src, byteCount: raw.count)
        }
        count += raw.count
    }

    @inline(__always)
    func bytes(_ raw: [UInt8]) { raw.withUnsafeBytes { bytes($0) } }

    /// A field that is already encoded (a fixed prefix such as the load id).
    @inline(__always)
    func rawAppend(_ raw: UnsafeRawBufferPointer) {
        reserve(raw.count)
        if let src = raw.baseAddress, raw.count > 0 {
            UnsafeMutableRawPointer(base + count).copyMemory(from: src, byteCount: raw.count)
        }
        count += raw.count
    }

    @inline(__always)
    func int8Field(_ v: Int64) {
        int32(8)
        reserve(8)
        UnsafeMutableRawPointer(base + count).storeBytes(of: UInt64(bitPattern: v).bigEndian, as: UInt64.self)
        count += 8
    }

    @inline(__always)
    func int4Field(_ v: Int32) { int32(4); int32(v) }

    @inline(__always)
    func int2Field(_ v: Int16) { int32(2); int16(v) }

    /// A `date`: days since 2000-01-01.
    @inline(__always)
    func dateField(_ day: Int32) { int32(4); int32(day) }

    /// A `"char"` value.
    @inline(__always)
    func charField(_ c: UInt8) {
        int32(1)
        reserve(1)
        base[count] = c
        count += 1
    }

    /// A `numeric` from a parsed decimal (`-12.50`, `.5`, `7`).
    func numeric(_ n: DecimalText) {
        let digits = n.base10000Digits()
        int32(Int32(8 + 2 * digits.digits.count))
        int16(Int16(digits.digits.count))
        int16(Int16(digits.weight))
        int16(n.negative && !digits.digits.isEmpty ? 0x4000 : 0)
        int16(Int16(n.scale))
        for d in digits.digits { int16(d) }
    }
}

/// A plain decimal number's digits, as read from text: `[+-]digits[.digits]`.
struct DecimalText {
    var negative = false
    var integer: [UInt8] = []   // digit values, leading zeros removed
    var fraction: [UInt8] = []  // digit values as written
    var scale: Int { fraction.count }

    /// The most digits either side of the point that a value may have.
    static let maxDigits = 60

    init?(_ t: UnsafeRawBufferPointer) {
        var i = 0
        let n = t.count
        guard n > 0 else { return nil }
        if t[0] == UInt8(ascii: "-") || t[0] == UInt8(ascii: "+") {
            negative = t[0] == UInt8(ascii: "-")
            i = 1
        }
        var sawDigit = false
        var sawPoint = false
        while i < n {
            let c = t[i]
            if c == UInt8(ascii: ".") {
                if sawPoint { return nil }
                sawPoint = true
            } else if c &- 48 <= 9 {
                sawDigit = true
                if sawPoint { fraction.append(c - 48) } else if !(integer.isEmpty && c == 48) { integer.append(c - 48) }
            } else {
                return nil
            }
            i += 1
        }
        guard sawDigit, integer.count <= Self.maxDigits, fraction.count <= Self.maxDigits else { return nil }
    }

    /// PostgreSQL's `numeric` digits: base 10000, most significant first, and
    /// the weight of the first (0 = units), without leading or trailing zero groups.
    func base10000Digits() -> (digits: [Int16], weight: Int) {
        var groups: [Int16] = []
        let lead = (4 - integer.count % 4) % 4
        let intDigits = [UInt8](repeating: 0, count: lead) + integer
        var i = 0
        while i < intDigits.count {
            groups.append(Int16(intDigits[i]) * 1000 + Int16(intDigits[i + 1]) * 100 + Int16(intDigits[i + 2]) * 10 + Int16(intDigits[i + 3]))
            i += 4
        }
        var weight = groups.count - 1
        let trail = (4 - fraction.count % 4) % 4
        let fracDigits = fraction + [UInt8](repeating: 0, count: trail)
        i = 0
        while i < fracDigits.count {
            groups.append(Int16(fracDigits[i]) * 1000 + Int16(fracDigits[i + 1]) * 100 + Int16(fracDigits[i + 2]) * 10 + Int16(fracDigits[i + 3]))
            i += 4
        }
        var start = 0
        while start < groups.count && groups[start] == 0 { start += 1; weight -= 1 }
        var end = groups.count
        while end > start && groups[end - 1] == 0 { end -= 1 }
        if start == end { return ([], 0) }
        return (Array(groups[start..<end]), weight)
    }
}
