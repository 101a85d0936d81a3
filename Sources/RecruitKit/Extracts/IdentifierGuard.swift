/// The pseudonymisation guard: finds direct identifiers in an extract, so the load is refused.
///
/// The rules are the extract format's (shared/spec/extract-format.md, "Direct
/// identification"): a header naming an identifying column, and a value of a
/// free-text or unknown column that is a valid NHS number (10 digits, mod-11
/// check digit, written plain or as 3-3-4 groups) or a UK postcode. Free text
/// is searched for such tokens inside it too. Code columns are never checked
/// (ten-digit SNOMED CT ids can pass the NHS check). The offending value is
/// only ever shown through ``mask(_:)``.
public enum IdentifierGuard {
    /// Identifying column names, compared after lower-casing and removing `_`, `-` and spaces.
    public static let identifyingColumns: Set<String> = [
        "nhsnumber", "nhsno", "chinumber", "name", "forename", "surname", "firstname", "lastname", "fullname",
        "address", "addressline1", "postcode", "dob", "dateofbirth", "email", "phone", "telephone", "mobile",
    ]

    /// Whether a header names an identifying column.
    public static func isIdentifyingColumn(_ name: String) -> Bool {
        let key = String(name.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" && $0 != " " })
        return identifyingColumns.contains(key)
    }

    /// What was found in a value.
    public enum Finding: String, Sendable {
        case nhsNumber = "an NHS number"
        case postcode = "a postcode"
    }

    /// Checks a value of a free-text or unknown column.
    @inline(__always)
    public static func check(_ v: UnsafeRawBufferPointer) -> Finding? {
        // Neither an NHS number (10 digits) nor a postcode (5+ characters with a digit) fits in less.
        if v.count < 5 { return nil }
        return checkSlow(v)
    }

    static func checkSlow(_ v: UnsafeRawBufferPointer) -> Finding? {
        var digits = 0
        for b in v where b &- 48 <= 9 { digits += 1 }
        if digits == 0 { return nil }
        if digits >= 10, containsNHSNumber(v) { return .nhsNumber }
        if containsPostcode(v) { return .postcode }
        return nil
    }

    /// Whether the ten digits pass the NHS number's modulus 11 check.
    public static func isValidNHSNumber(_ d: [Int]) -> Bool {
        guard d.count == 10 else { return false }
        var sum = 0
        for i in 0..<9 { sum += d[i] * (10 - i) }
        var check = 11 - sum % 11
        if check == 11 { check = 0 }
        return check != 10 && check == d[9]
    }

    /// Finds a run of digits (single spaces or hyphens allowed between them)
    /// holding exactly ten digits that pass the check, not part of a longer number.
    static func containsNHSNumber(_ v: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = v.count
        while i < n {
            guard v[i] &- 48 <= 9 else { i += 1; continue }
            var run: [Int] = []
            var j = i
            while j < n {
                let c = v[j]
                if c &- 48 <= 9 {
                    run.append(Int(c - 48))
                    j += 1
                } else if (c == 32 || c == 45), j + 1 < n, v[j + 1] &- 48 <= 9, !run.isEmpty {
                    j += 1
                } else {
                    break
                }
            }
            if run.count == 10 && isValidNHSNumber(run) { return true }
            i = j
        }
        return false
    }

    /// Whether the text is, or holds as a word (or two words), a UK postcode.
    static func containsPostcode(_ v: UnsafeRawBufferPointer) -> Bool {
        // Words: runs of letters and digits.
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        for b in v {
            let upper = (b >= 97 && b <= 122) ? b - 32 : b
            if (upper >= 65 && upper <= 90) || (upper &- 48 <= 9) {
                current.append(upper)
            } else if !current.isEmpty {
                words.append(current)
                current = []
            }
        }
        if !current.isEmpty { words.append(current) }
        for (k, w) in words.enumerated() {
            if w.count >= 5 && w.count <= 7 && isPostcode(outward: Array(w.dropLast(3)), inward: Array(w.suffix(3))) { return true }
            if k + 1 < words.count, words[k + 1].count == 3, isPostcode(outward: w, inward: words[k + 1]) { return true }
        }
        return false
    }

    static func isLetter(_ c: UInt8) -> Bool { c >= 65 && c <= 90 }
    static func isDigit(_ c: UInt8) -> Bool { c &- 48 <= 9 }

    /// Royal Mail's shapes: outward A9, A99, AA9, AA99, A9A, AA9A; inward 9AA
    /// (the inward letters never C, I, K, M, O, V); GIR 0AA.
    static func isPostcode(outward o: [UInt8], inward i: [UInt8]) -> Bool {
        guard i.count == 3, o.count >= 2, o.count <= 4 else { return false }
        if o == Array("GIR".utf8) && i == Array("0AA".utf8) { return true }
        let badInward = Set(Array("CIKMOV".utf8))
        guard isDigit(i[0]), isLetter(i[1]), isLetter(i[2]), !badInward.contains(i[1]), !badInward.contains(i[2]) else { return false }
        guard isLetter(o[0]), !Set(Array("QVX".utf8)).contains(o[0]) else { return false }
        switch o.count {
        case 2: return isDigit(o[1])                                                   // A9
        case 3: return (isDigit(o[1]) && isDigit(o[2]))                                // A99
            || (isLetter(o[1]) && isDigit(o[2]))                                       // AA9
            || (isDigit(o[1]) && isLetter(o[2]))                                       // A9A
        case 4: return isLetter(o[1]) && isDigit(o[2]) && (isDigit(o[3]) || isLetter(o[3]))  // AA99, AA9A
        default: return false
        }
    }

    /// A value as it may be shown: its first character, every other letter or digit as `*`.
    public static func mask(_ v: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        for (k, b) in v.enumerated() {
            let alnum = (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b &- 48 <= 9) || b >= 0x80
            out.append(k == 0 || !alnum ? (b >= 0x80 ? UInt8(ascii: "*") : b) : UInt8(ascii: "*"))
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func mask(_ s: String) -> String {
        var s = s
        return s.withUTF8 { mask(UnsafeRawBufferPointer($0)) }
    }

    /// The line with every NHS-number-like digit run and postcode-like word masked,
    /// for storing the raw text of a row whose columns could not be told apart.
    static func maskLine(_ v: UnsafeRawBufferPointer) -> [UInt8] {
        var out = Array(v)
        // Digit runs of 10 (with separators) that pass the check.
        var i = 0
        while i < out.count {
            guard isDigit(out[i]) else { i += 1; continue }
            var j = i
            var run: [Int] = []
            while j < out.count {
                if isDigit(out[j]) { run.append(Int(out[j] - 48)); j += 1 }
                else if (out[j] == 32 || out[j] == 45), j + 1 < out.count, isDigit(out[j + 1]) { j += 1 }
                else { break }
            }
            if run.count == 10 && isValidNHSNumber(run) {
                for k in (i + 1)..<j where isDigit(out[k]) { out[k] = UInt8(ascii: "*") }
            }
            i = j
        }
        // Postcode-shaped words.
        var words: [Range<Int>] = []
        var start: Int? = nil
        for k in 0...out.count {
            let alnum = k < out.count && (isLetter(out[k] & 0xDF) && out[k] < 0x80 || isDigit(out[k]))
            if alnum { if start == nil { start = k } } else if let s = start { words.append(s..<k); start = nil }
        }
        func upper(_ r: Range<Int>) -> [UInt8] { out[r].map { ($0 >= 97 && $0 <= 122) ? $0 - 32 : $0 } }
        for (k, w) in words.enumerated() {
            let u = upper(w)
            var hit: [Range<Int>] = []
            if u.count >= 5 && u.count <= 7 && isPostcode(outward: Array(u.dropLast(3)), inward: Array(u.suffix(3))) { hit = [w] }
            if k + 1 < words.count, words[k + 1].count == 3, isPostcode(outward: u, inward: upper(words[k + 1])) { hit = [w, words[k + 1]] }
            for r in hit { for p in r.dropFirst() { out[p] = UInt8(ascii: "*") } }
        }
        return out
    }
}
