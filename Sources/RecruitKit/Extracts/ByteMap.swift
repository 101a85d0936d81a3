import Foundation

/// A compact hash map from byte strings to 32-bit values, for the loader's hot paths.
///
/// The loader looks up every event's and prescription's patient (tens of
/// millions of lookups against a million patients) and translates codes
/// through dictionaries. A `[String: …]` would allocate a String per row and
/// hold a million small heap objects; this map keeps every key in one byte
/// arena and probes an open-addressing table of 32-bit slots, so lookups
/// allocate nothing and a million keys take about 30 MB.
///
/// Keys are 1…255 bytes. Not thread-safe for writes; after it is filled it may
/// be read from several threads at once (``lookup(_:)`` does not mutate).
public final class ByteMap: @unchecked Sendable {
    /// Arena offset + 1 of each slot's key (0 = empty).
    private var slots: UnsafeMutablePointer<UInt32>
    private var values: UnsafeMutablePointer<UInt32>
    private var capacity: Int
    private var mask: Int
    /// Keys, each stored as one length byte followed by its bytes.
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCount = 0
    private var arenaCapacity = 1 << 16
    public private(set) var count = 0

    public init(expectedCount: Int = 1024) {
        var cap = 1024
        while cap < expectedCount * 2 { cap <<= 1 }
        capacity = cap
        mask = cap - 1
        slots = .allocate(capacity: cap)
        slots.initialize(repeating: 0, count: cap)
        values = .allocate(capacity: cap)
        values.initialize(repeating: 0, count: cap)
        arena = .allocate(capacity: arenaCapacity)
    }

    deinit {
        slots.deallocate()
        values.deallocate()
        arena.deallocate()
    }

    /// Bytes held (for memory accounting in tests and logs).
    public var memoryBytes: Int { capacity * 8 + arenaCapacity }

    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        // 8 bytes at a time, multiply-xorshift mixing (wyhash-like); keys are short.
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            let w = key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(key[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 29
        }
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }

    @inline(__always)
    private func keyEquals(_ slot: UInt32, _ key: UnsafeRawBufferPointer) -> Bool {
        let offset = Int(slot) - 1
        let length = Int(arena[offset])
        guard length == key.count else { return false }
        guard let base = key.baseAddress else { return length == 0 }
        return memcmp(arena + offset + 1, base, length) == 0
    }

    /// The value stored for `key`, or nil.
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer) -> UInt32? {
        var i = Int(truncatingIfNeeded: ByteMap.hash(key)) & mask
        while true {
            let s = slots[i]
            if s == 0 { return nil }
            if keyEquals(s, key) { return values[i] }
            i = (i + 1) & mask
        }
    }

    public func lookup(_ key: String) -> UInt32? {
        var k = key
        return k.withUTF8 { lookup(UnsafeRawBufferPointer($0)) }
    }

    /// Inserts `key` with `value`, or, when it is present, calls `merge` with
    /// the stored value and stores what it returns.
    /// - Returns: true when the key was new.
    @discardableResult
    public func insert(_ key: UnsafeRawBufferPointer, value: UInt32, merge: (UInt32) -> UInt32 = { $0 }) -> Bool {
        precondition(key.count >= 1 && key.count <= 255, "ByteMap keys are 1-255 bytes")
        var i = Int(truncatingIfNeeded: ByteMap.hash(key)) & mask
        while true {
            let s = slots[i]
            if s == 0 { break }
            if keyEquals(s, key) {
                values[i] = merge(values[i])
                return false
            }
            i = (i + 1) & mask
        }
        let offset = arenaCount
        precondition(offset < Int(UInt32.max) - 256, "ByteMap arena full")
        if arenaCount + key.count + 1 > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while arenaCount + key.count + 1 > newCapacity { newCapacity *= 2 }
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            bigger.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = bigger
            arenaCapacity = newCapacity
        }
        arena[offset] = UInt8(key.count)
        UnsafeMutableRawPointer(arena + offset + 1).copyMemory(from: key.baseAddress!, byteCount: key.count)
        arenaCount += key.count + 1
        slots[i] = UInt32(offset + 1)
        values[i] = value
        count += 1
        if count * 2 > capacity { grow() }
        return true
    }

    @discardableResult
    public func insert(_ key: String, value: UInt32) -> Bool {
        var k = key
        return k.withUTF8 { insert(UnsafeRawBufferPointer($0), value: value) }
    }

    /// Calls `body` with every key and value (unordered).
    public func forEach(_ body: (UnsafeRawBufferPointer, UInt32) throws -> Void) rethrows {
        for i in 0..<capacity where slots[i] != 0 {
            let offset = Int(slots[i]) - 1
            try body(UnsafeRawBufferPointer(start: arena + offset + 1, count: Int(arena[offset])), values[i])
        }
    }

    private func grow() {
        let oldSlots = slots, oldValues = values, oldCapacity = capacity
        capacity *= 2
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        values = .allocate(capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        for j in 0..<oldCapacity where oldSlots[j] != 0 {
            let offset = Int(oldSlots[j]) - 1
            let key = UnsafeRawBufferPointer(start: arena + offset + 1, count: Int(arena[offset]))
            var i = Int(truncatingIfNeeded: ByteMap.hash(key)) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = oldSlots[j]
            values[i] = oldValues[j]
        }
        oldSlots.deallocate()
        oldValues.deallocate()
    }
}
