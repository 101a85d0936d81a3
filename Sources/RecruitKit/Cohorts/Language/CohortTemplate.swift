/// Labels with `{parameter}` placeholders, so a label never states a number
/// that a parameter has changed.
public enum CohortTemplate {
    /// The names between braces, in order.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            names.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return names
    }

    /// The text with each `{name}` replaced by its value (unknown names are left as written).
    public static func render(_ text: String, values: [String: Int]) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { rest = rest[open...]; break }
            let name = String(after[..<close])
            out += values[name].map(String.init) ?? "{\(name)}"
            rest = after[after.index(after: close)...]
        }
        return out + rest
    }
}
