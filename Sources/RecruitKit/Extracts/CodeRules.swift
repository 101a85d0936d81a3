/// The extract format's rules for clinical and product codes.
///
/// - Read v2: five characters of `[A-Za-z0-9.]`, right-padded with dots
///   (`N245.`, `9D1..`), optionally followed by a two-digit term id
///   (`N245.00`), which the loader keeps apart. Read v2 drug codes (in
///   prescriptions) start with a lower-case letter (chapters a-z).
/// - CTV3: five characters of `[A-Za-z0-9.]`.
/// - SNOMED CT: 6-18 digits with a valid Verhoeff check digit.
/// - dm+d: a dm+d id (a SNOMED CT identifier): 6-18 digits.
/// - BNF: a 15-character presentation code of letters and digits.
enum CodeRules {
    @inline(__always)
    static func isCodeChar(_ c: UInt8) -> Bool {
        (c &- 48 <= 9) || ((c | 0x20) &- 97 <= 25) || c == 46
    }

    /// Splits a Read v2 value: returns the length of the code part (5) when
    /// the value is a valid Read v2 code with or without a two-digit term id; nil otherwise.
    @inline(__always)
    static func read2(_ v: UnsafeRawBufferPointer, drug: Bool = false) -> Bool {
        guard v.count == 5 || (v.count == 7 && v[5] &- 48 <= 9 && v[6] &- 48 <= 9) else { return false }
        var dots = false
        for i in 0..<5 {
            let c = v[i]
            guard isCodeChar(c) else { return false }
            if c == 46 { dots = true } else if dots { return false }  // right-padded: nothing after a dot
        }
        if v[0] == 46 { return false }
        if drug && !(v[0] &- 97 <= 25) { return false }
        return true
    }

    @inline(__always)
    static func ctv3(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count == 5 else { return false }
        for c in v where !isCodeChar(c) { return false }
        return true
    }

    static let verhoeffD: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    static let verhoeffP: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]

    /// A flattened 10x10 and 8x10 table for the loop.
    nonisolated(unsafe) static let dFlat: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 100)
        for i in 0..<10 { for j in 0..<10 { p[i * 10 + j] = verhoeffD[i][j] } }
        return p
    }()
    nonisolated(unsafe) static let pFlat: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 80)
        for i in 0..<8 { for j in 0..<10 { p[i * 10 + j] = verhoeffP[i][j] } }
        return p
    }()

    /// SNOMED CT concept id: 6-18 digits, Verhoeff check digit valid.
    @inline(__always)
    static func snomed(_ v: UnsafeRawBufferPointer) -> Bool {
        let n = v.count
        guard n >= 6 && n <= 18 else { return false }
        var c = 0
        var i = 0
        while i < n {
            let digit = v[n - 1 - i] &- 48
            guard digit <= 9 else { return false }
            c = Int(dFlat[c * 10 + Int(pFlat[(i & 7) * 10 + Int(digit)])])
            i += 1
        }
        return c == 0
    }

    @inline(__always)
    static func dmd(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count >= 6 && v.count <= 18 else { return false }
        for c in v where c &- 48 > 9 { return false }
        return true
    }

    @inline(__always)
    static func bnf(_ v: UnsafeRawBufferPointer) -> Bool {
        guard v.count == 15 else { return false }
        for c in v where !((c &- 48 <= 9) || ((c | 0x20) &- 97 <= 25)) { return false }
        return true
    }
}
