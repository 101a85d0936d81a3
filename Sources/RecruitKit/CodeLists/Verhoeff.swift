/// The Verhoeff check-digit scheme that SNOMED CT (and so dm+d) identifiers end with.
///
/// SNOMED CT's Technical Implementation Guide, "Check-digit computation":
/// the last digit of every SCTID is a Verhoeff check digit over the digits
/// before it, which catches every single-digit error and every transposition
/// of adjacent digits.
public enum Verhoeff {
    /// The dihedral group D5 multiplication table.
    private static let d: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    /// The position-dependent permutation table.
    private static let p: [[UInt8]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    private static let inverse: [UInt8] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]

    /// Whether `digits` (ASCII digits only, check digit last) has a valid check digit.
    public static func isValid(_ digits: String) -> Bool {
        var c: UInt8 = 0
        var i = 0
        for byte in digits.utf8.reversed() {
            guard byte >= 48 && byte <= 57 else { return false }
            c = d[Int(c)][Int(p[i % 8][Int(byte - 48)])]
            i += 1
        }
        return i > 0 && c == 0
    }

    /// The check digit to append to `digits` (ASCII digits only).
    public static func checkDigit(for digits: String) -> Character {
        var c: UInt8 = 0
        var i = 1
        for byte in digits.utf8.reversed() {
            c = d[Int(c)][Int(p[i % 8][Int(byte - 48)])]
            i += 1
        }
        return Character(String(inverse[Int(c)]))
    }
}
