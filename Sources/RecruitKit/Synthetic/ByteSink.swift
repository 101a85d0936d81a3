import Foundation

/// A file written through one large buffer: rows are appended as bytes and
/// written in multi-megabyte blocks, so output runs at disk speed in constant memory.
final class ByteSink {
    private var file: UnsafeMutablePointer<FILE>?
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var count = 0
    let url: URL
    /// Bytes written so far, buffered ones included.
    private(set) var totalBytes = 0

    /// Creates (or truncates) the file at `url`.
    /// - Throws: ``RecruitError`` (environment) when the file cannot be created.
    init(url: URL, capacity: Int = 8 << 20) throws {
        self.url = url
        guard let f = fopen(url.path, "wb") else {
            throw RecruitError.environment("cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        file = f
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        if let file { fclose(file) }
        base.deallocate()
    }

    @inline(__always)
    private func reserve(_ n: Int) throws {
        if count + n > capacity { try flush() }
    }

    func flush() throws {
        guard count > 0, let file else { return }
        let written = fwrite(base, 1, count, file)
        guard written == count else {
            throw RecruitError.environment("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        count = 0
    }

    /// Flushes and closes the file.
    func close() throws {
        try flush()
        if let file {
            self.file = nil
            guard fclose(file) == 0 else {
                throw RecruitError.environment("cannot close \(url.path): \(String(cString: strerror(errno)))")
            }
        }
    }

    @inline(__always)
    func byte(_ b: UInt8) throws {
        try reserve(1)
        base[count] = b
        count += 1
        totalBytes += 1
    }

    @inline(__always)
    func bytes(_ b: UnsafeBufferPointer<UInt8>) throws {
        guard b.count > 0 else { return }
        if b.count > capacity {
            try flush()
            guard let file, fwrite(b.baseAddress, 1, b.count, file) == b.count else {
                throw RecruitError.environment("cannot write \(url.path)")
            }
            totalBytes += b.count
            return
        }
        try reserve(b.count)
        (base + count).update(from: b.baseAddress!, count: b.count)
        count += b.count
        totalBytes += b.count
    }

    @inline(__always)
    func bytes(_ b: [UInt8]) throws {
        try b.withUnsafeBufferPointer { try bytes($0) }
    }

    func text(_ s: String) throws {
        var s = s
        try s.withUTF8 { try bytes($0) }
    }

    /// A non-negative integer in decimal.
    @inline(__always)
    func int(_ value: Int) throws {
        try reserve(20)
        var v = value
        if v < 0 {
            base[count] = UInt8(ascii: "-"); count += 1; totalBytes += 1
            v = -v
        }
        var digits = 1, t = v
        while t >= 10 { t /= 10; digits += 1 }
        var i = count + digits - 1
        repeat {
            base[i] = UInt8(48 + v % 10)
            v /= 10
            i -= 1
        } while v > 0
        count += digits
        totalBytes += digits
    }

    /// A value held in tenths: `123.4`, or `123` when `decimal` is false.
    @inline(__always)
    func tenths(_ value: Int32, decimal: Bool) throws {
        let v = Int(value)
        if decimal {
            try int(v / 10)
            try byte(UInt8(ascii: "."))
            try byte(UInt8(48 + abs(v % 10)))
        } else {
            try int(v / 10)
        }
    }
}
