import Foundation

/// A value sent to the server as a bound parameter, in text format.
public struct PostgresBind: Sendable, Hashable {
    /// The value's text form, or nil for SQL NULL.
    public var text: String?
    /// The parameter's type OID; 0 lets the server infer it from context.
    public var oid: UInt32

    public init(text: String?, oid: UInt32) {
        self.text = text
        self.oid = oid
    }
}

/// A Swift value that can be bound to a `$n` parameter.
///
/// Values only ever travel as bound parameters: there is no API that pastes
/// one into SQL text.
public protocol PostgresBindable: Sendable {
    /// The text form of the value, as PostgreSQL's input function reads it.
    var postgresText: String { get }
    /// The type OID sent with the value (0: inferred by the server).
    static var postgresOID: UInt32 { get }
}

extension String: PostgresBindable {
    public var postgresText: String { self }
    public static var postgresOID: UInt32 { 0 }
}

extension Substring: PostgresBindable {
    public var postgresText: String { String(self) }
    public static var postgresOID: UInt32 { 0 }
}

extension Int: PostgresBindable {
    public var postgresText: String { String(self) }
    public static var postgresOID: UInt32 { 20 }  // int8
}

extension Int32: PostgresBindable {
    public var postgresText: String { String(self) }
    public static var postgresOID: UInt32 { 23 }  // int4
}

extension Int64: PostgresBindable {
    public var postgresText: String { String(self) }
    public static var postgresOID: UInt32 { 20 }  // int8
}

extension Double: PostgresBindable {
    public var postgresText: String { "\(self)" }
    public static var postgresOID: UInt32 { 701 }  // float8
}

extension Bool: PostgresBindable {
    public var postgresText: String { self ? "t" : "f" }
    public static var postgresOID: UInt32 { 16 }  // bool
}

extension LocalDate: PostgresBindable {
    public var postgresText: String { description }
    public static var postgresOID: UInt32 { 1082 }  // date
}

/// A timestamp with time zone, bound in ISO 8601 form.
extension Date: PostgresBindable {
    public var postgresText: String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: self)
    }
    public static var postgresOID: UInt32 { 1184 }  // timestamptz
}

/// A `jsonb` value, given as its JSON text.
public struct JSONB: PostgresBindable, Hashable {
    public var json: String
    public init(_ json: String) { self.json = json }
    public var postgresText: String { json }
    public static var postgresOID: UInt32 { 3802 }  // jsonb
}

/// Arrays bind as PostgreSQL array literals, every element quoted and escaped.
extension Array: PostgresBindable where Element: PostgresBindable {
    public var postgresText: String {
        var out = "{"
        for (i, element) in enumerated() {
            if i > 0 { out += "," }
            out += "\""
            for ch in element.postgresText.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }
    public static var postgresOID: UInt32 {
        switch Element.postgresOID {
        case 20: return 1016  // int8[]
        case 23: return 1007  // int4[]
        case 1082: return 1182  // date[]
        case 16: return 1000  // bool[]
        default: return 1009  // text[]
        }
    }
}
