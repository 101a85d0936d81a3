import Foundation

/// The text encodings an extract's files may be in; everything is UTF-8 after reading.
///
/// Single-byte encodings are transcoded to UTF-8 while streaming: their
/// delimiters, quotes and line ends are ASCII, which every one of them keeps
/// as it is, so a whole chunk can be transcoded before it is split into rows.
public enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "UTF-8"
    case windows1252 = "Windows-1252"
    case iso88591 = "ISO-8859-1"

    /// Parses a profile's `encoding:` value (case-insensitive, common aliases).
    public init?(name: String) {
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "utf-8", "utf8": self = .utf8
        case "windows-1252", "cp1252", "win-1252", "windows1252": self = .windows1252
        case "iso-8859-1", "latin-1", "latin1", "iso8859-1", "iso-8859-1:1987": self = .iso88591
        default: return nil
        }
    }

    /// Windows-1252's characters for bytes 0x80…0x9F (0 = not defined).
    static let cp1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    /// Transcodes `input` to UTF-8, appending to `output` (which must have room
    /// for 3 bytes per input byte). A byte the encoding does not define becomes
    /// U+FFFD, which ``containsReplacement(_:)`` then finds in its row.
    /// - Returns: the number of bytes written.
    static func transcode(_ encoding: TextEncoding, _ input: UnsafeRawBufferPointer,
                          into output: UnsafeMutablePointer<UInt8>) -> Int {
        var o = 0
        for b in input {
            if b < 0x80 {
                output[o] = b
                o += 1
                continue
            }
            var scalar = UInt32(b)
            if encoding == .windows1252, b < 0xA0 {
                scalar = cp1252High[Int(b - 0x80)]
                if scalar == 0 { scalar = 0xFFFD }
            }
            if scalar < 0x800 {
                output[o] = UInt8(0xC0 | (scalar >> 6))
                output[o + 1] = UInt8(0x80 | (scalar & 0x3F))
                o += 2
            } else {
                output[o] = UInt8(0xE0 | (scalar >> 12))
                output[o + 1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
                output[o + 2] = UInt8(0x80 | (scalar & 0x3F))
                o += 3
            }
        }
        return o
    }

    /// Whether the bytes hold U+FFFD (EF BF BD).
    static func containsReplacement(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 3 else { return false }
        for i in 0..<(bytes.count - 2) where bytes[i] == 0xEF && bytes[i + 1] == 0xBF && bytes[i + 2] == 0xBD {
            return true
        }
        return false
    }

    /// Whether every byte is ASCII (checked 8 bytes at a time).
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        var acc: UInt64 = 0
        while i + 8 <= n {
            acc |= bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            acc |= UInt64(bytes[i])
            i += 1
        }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    /// Whether a row has bytes above ASCII (to be checked as text) or a NUL byte (which text cannot hold).
    @inline(__always)
    static func scan(_ bytes: UnsafeRawBufferPointer) -> (nonASCII: Bool, hasNUL: Bool) {
        var i = 0
        let n = bytes.count
        var high: UInt64 = 0
        var zero: UInt64 = 0
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            high |= w
            zero |= (w &- 0x0101_0101_0101_0101) & ~w
            i += 8
        }
        var tailZero = false
        while i < n {
            let b = bytes[i]
            high |= UInt64(b)
            if b == 0 { tailZero = true }
            i += 1
        }
        let nonASCII = high & 0x8080_8080_8080_8080 != 0
        // The zero-byte test can misfire on bytes >= 0x80; such rows are rare and rechecked exactly.
        var hasNUL = tailZero || (zero & 0x8080_8080_8080_8080 != 0)
        if hasNUL && !tailZero { hasNUL = bytes.contains(0) }
        return (nonASCII, hasNUL)
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            var need = 0
            var minScalar: UInt32 = 0
            var scalar: UInt32 = 0
            switch b0 {
            case 0xC2...0xDF: need = 1; scalar = UInt32(b0 & 0x1F); minScalar = 0x80
            case 0xE0...0xEF: need = 2; scalar = UInt32(b0 & 0x0F); minScalar = 0x800
            case 0xF0...0xF4: need = 3; scalar = UInt32(b0 & 0x07); minScalar = 0x10000
            default: return i
            }
            guard i + need < n else { return i }
            for k in 1...need {
                let b = bytes[i + k]
                guard b & 0xC0 == 0x80 else { return i }
                scalar = (scalar << 6) | UInt32(b & 0x3F)
            }
            if scalar < minScalar || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar <= 0xDFFF) { return i }
            i += need + 1
        }
        return nil
    }
}
