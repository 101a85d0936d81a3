import Foundation

extension CodeSystem {
    /// A short name for messages and documentation.
    public var displayName: String {
        switch self {
        case .read2: return "Read v2"
        case .ctv3: return "CTV3"
        case .snomed: return "SNOMED CT"
        case .dmd: return "dm+d"
        case .bnf: return "BNF"
        case .icd10: return "ICD-10"
        }
    }

    /// Whether descendants of a code can be found from the code's own form
    /// (Read v2: the hierarchy is the code's significant prefix).
    public var hasHierarchyInCode: Bool { self == .read2 }

    /// Why `code` is not a valid code of this system, or nil when it is.
    ///
    /// - Read v2, CTV3: five characters of `[A-Za-z0-9.]`, the dots only as
    ///   right padding (`N24..`, `9D1..`, `XaX1E`), never all dots.
    /// - SNOMED CT, dm+d: 6-18 digits, no leading zero, a concept id
    ///   (partition identifier `00` or `10`, the second and third digits from
    ///   the right) and a valid Verhoeff check digit.
    /// - BNF: a 15-character presentation code of `[0-9A-Z]` whose first four
    ///   characters (chapter and section) are digits (`0407010F0AAAAAA`).
    /// - ICD-10: a letter, a digit, a digit or letter, then optionally a dot
    ///   and 1-4 characters of `[0-9A-Z]` (`M54.5`, `M545`, `G43.0`).
    ///
    /// The message quotes the code (codes are not patient data).
    public func problem(with code: String) -> String? {
        let bytes = Array(code.utf8)
        if bytes.isEmpty { return "empty code" }
        switch self {
        case .read2, .ctv3:
            guard bytes.count == 5 else {
                return "\(displayName) code \"\(code)\" has \(code.count) characters, expected 5"
            }
            var padded = false
            for (i, b) in bytes.enumerated() {
                if b == UInt8(ascii: ".") {
                    if i == 0 { return "\(displayName) code \"\(code)\" starts with a dot" }
                    padded = true
                } else if Self.isAlphanumeric(b) {
                    if padded { return "\(displayName) code \"\(code)\" has a character after its dot padding" }
                } else {
                    return "\(displayName) code \"\(code)\" has a character outside [A-Za-z0-9.]"
                }
            }
            return nil
        case .snomed, .dmd:
            guard bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return "\(displayName) id \"\(code)\" is not all digits"
            }
            guard (6...18).contains(bytes.count) else {
                return "\(displayName) id \"\(code)\" has \(bytes.count) digits, expected 6-18"
            }
            if bytes[0] == UInt8(ascii: "0") { return "\(displayName) id \"\(code)\" starts with 0" }
            let partition = String(decoding: bytes[(bytes.count - 3)..<(bytes.count - 1)], as: UTF8.self)
            guard partition == "00" || partition == "10" else {
                return "\(displayName) id \"\(code)\" is not a concept id (partition identifier \(partition); concepts have 00 or 10)"
            }
            guard Verhoeff.isValid(code) else {
                return "\(displayName) id \"\(code)\" fails its Verhoeff check digit"
            }
            return nil
        case .bnf:
            guard bytes.count == 15 else {
                return "BNF code \"\(code)\" has \(code.count) characters, expected a 15-character presentation code"
            }
            guard bytes.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) }) else {
                return "BNF code \"\(code)\" has a character outside [0-9A-Z]"
            }
            guard bytes[0..<4].allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return "BNF code \"\(code)\" does not start with a four-digit chapter and section"
            }
            return nil
        case .icd10:
            guard code.range(of: #"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"#, options: .regularExpression) != nil else {
                return "ICD-10 code \"\(code)\" does not have the shape A00, A00.0 or A000"
            }
            return nil
        }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
    }
}
