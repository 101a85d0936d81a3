/// The Verhoeff check digit used by SNOMED CT (and so dm+d) identifiers.
public enum Verhoeff {
    private static let d: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    private static let p: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    private static let inverse: [UInt8] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]

    /// Whether `digits` (ASCII digits, check digit last) passes the Verhoeff check.
    /// False when any byte is not a digit or the text is empty.
    public static func isValid(_ digits: some Collection<UInt8>) -> Bool {
        guard !digits.isEmpty else { return false }
        var c: UInt8 = 0
        for (i, ch) in digits.reversed().enumerated() {
            guard ch >= 48, ch <= 57 else { return false }
            c = d[Int(c)][Int(p[i % 8][Int(ch - 48)])]
        }
        return c == 0
    }

    public static func isValid(_ text: String) -> Bool { isValid(Array(text.utf8)) }

    /// The check digit to append to `digits` (ASCII digits without a check digit).
    public static func checkDigit(for digits: some Collection<UInt8>) -> UInt8 {
        var c: UInt8 = 0
        for (i, ch) in digits.reversed().enumerated() {
            c = d[Int(c)][Int(p[(i + 1) % 8][Int(ch - 48)])]
        }
        return 48 + inverse[Int(c)]
    }

    /// Whether `text` is a SNOMED CT concept id as the extract format accepts it:
    /// 6-18 digits with a valid Verhoeff check digit.
    public static func isSNOMEDConceptID(_ text: some Collection<UInt8>) -> Bool {
        (6...18).contains(text.count) && isValid(text)
    }
}
