import Foundation

/// A dictionary file shipped with an extract (for example CPRD's medical or
/// product dictionary), held in memory: source key → value bytes.
///
/// Read-only once built, so the loader's worker threads share it.
public final class LookupTable: @unchecked Sendable {
    public let name: String
    /// The dictionary's file name, size and SHA-256, recorded with the load.
    public let fileName: String
    public let fileSize: Int
    public let sha256: String
    private let map: ByteMap
    /// Value bytes, and each value's start (value i is valueBytes[offsets[i]..<offsets[i + 1]]).
    private let valueBytes: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>
    /// Keys that appeared more than once with another value (the first is kept).
    public private(set) var conflictingKeys = 0

    public var count: Int { map.count }

    /// Reads a dictionary file.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file when it cannot be
    ///   read, is not valid text for its encoding, or lacks the key or value column.
    init(spec: ExtractProfile.DictionarySpec, directory: URL, profile: ExtractProfile) throws {
        name = spec.name
        let url = try ExtractFiles.locate(spec.file, in: directory, what: "dictionary \(spec.name)")
        fileName = url.lastPathComponent
        let reader = try DelimitedReader(url: url, options: spec.format.readerOptions)
        fileSize = reader.fileSize
        guard try reader.next() else { throw RecruitError.refused("\(fileName): the file is empty (expected a header row)") }
        let header = (0..<reader.fieldCount).map { reader.string($0).trimmingCharacters(in: .whitespaces).lowercased() }
        for column in [spec.key, spec.value] where !header.contains(column.lowercased()) {
            throw RecruitError.refused("\(fileName): no column '\(column)' (\(profile.origin) line \(spec.line) names it as dictionary \(spec.name)'s \(column == spec.key ? "key" : "value")); the header has: \(header.joined(separator: ", "))")
        }
        let keyIndex = header.firstIndex(of: spec.key.lowercased())!
        let valueIndex = header.firstIndex(of: spec.value.lowercased())!
        map = ByteMap(expectedCount: max(1024, reader.fileSize / 40))
        var conflicts = 0
        var values: [UInt8] = []
        var offsets: [Int] = [0]
        func valueEquals(_ i: Int, _ v: UnsafeRawBufferPointer) -> Bool {
            let start = offsets[i], end = offsets[i + 1]
            guard end - start == v.count else { return false }
            return values.withUnsafeBytes { v.count == 0 || memcmp($0.baseAddress! + start, v.baseAddress!, v.count) == 0 }
        }
        while try reader.next() {
            let raw = reader.rawRecord
            if !TextEncoding.isASCII(raw) {
                try ExtractFiles.checkText(raw, encoding: spec.format.encoding, file: fileName, line: reader.lineNumber)
            }
            guard reader.fieldCount > max(keyIndex, valueIndex) else { continue }
            let key = reader.field(keyIndex)
            guard key.count > 0 && key.count <= 255 else { continue }
            let value = reader.field(valueIndex)
            let index = UInt32(offsets.count - 1)
            if map.insert(key, value: index) {
                values.append(contentsOf: value)
                offsets.append(values.count)
            } else if let existing = map.lookup(key), !valueEquals(Int(existing), value) {
                conflicts += 1
            }
        }
        conflictingKeys = conflicts
        sha256 = reader.sha256
        valueBytes = .allocate(capacity: max(1, values.count))
        valueBytes.initialize(from: values, count: values.count)
        self.offsets = .allocate(capacity: offsets.count)
        self.offsets.initialize(from: offsets, count: offsets.count)
    }

    deinit {
        valueBytes.deallocate()
        offsets.deallocate()
    }

    /// The value for `key`, or nil when the dictionary lacks it. Valid while the table lives.
    @inline(__always)
    func value(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard key.count > 0, key.count <= 255, let i = map.lookup(key) else { return nil }
        let start = offsets[Int(i)], end = offsets[Int(i) + 1]
        return UnsafeRawBufferPointer(start: valueBytes + start, count: end - start)
    }
}
