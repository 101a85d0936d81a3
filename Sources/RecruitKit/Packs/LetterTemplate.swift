import Foundation

/// A letter template (`templates/*.md`): Markdown with named fields written
/// `{{name}}`, filled from the study and the pack (``PackWriter/letterFields(_:)``).
/// Text in «guillemets» is the practice's own mail-merge fields and is left as it is.
///
/// The Markdown is the small part a letter needs: `#`/`##` headings, paragraphs,
/// `- ` items (`- [ ] ` a tick box), `**bold**` and `---` (a cut line before a reply slip).
public struct LetterTemplate: Sendable {
    /// The fields a template may name.
    public static let fields = ["study_name", "reply_by", "contact_line", "gp_name", "patient_key", "practice_id"]

    public let file: String
    public let text: String
    public let sha256: String

    /// Reads and checks a template.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and line of a field recruit does not have, or of an unclosed `{{`.
    public init(fileAt url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw RecruitError.refused("cannot read the letter template \(url.path)")
        }
        try self.init(text: text, file: url.path)
    }

    public init(text: String, file: String) throws {
        self.file = file
        self.text = text
        self.sha256 = Hashing.sha256Hex(text)
        var problems: [String] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = Substring(line)
            while let open = rest.range(of: "{{") {
                guard let close = rest[open.upperBound...].range(of: "}}") else {
                    problems.append("\(file):\(n + 1): '{{' without '}}'")
                    break
                }
                let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                if !Self.fields.contains(name) {
                    problems.append("\(file):\(n + 1): unknown field '\(name)' (fields: \(Self.fields.joined(separator: ", ")))")
                }
                rest = rest[close.upperBound...]
            }
        }
        if !problems.isEmpty { throw RecruitError.refused(problems.joined(separator: "\n")) }
    }

    /// The letter as one printable HTML page with `fields` filled in.
    func html(fields: [String: String], title: String) -> String {
        var body = ""
        var paragraph: [String] = []
        var inList = false
        func flush() {
            if !paragraph.isEmpty { body += "<p>" + paragraph.joined(separator: "<br>\n") + "</p>\n" }
            paragraph = []
        }
        func closeList() {
            if inList { body += "</ul>\n" }
            inList = false
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = inline(fill(String(raw), fields))
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                flush(); closeList()
            } else if trimmed == "---" {
                flush(); closeList()
                body += "<hr class=\"cut\">\n"
            } else if trimmed.hasPrefix("## ") {
                flush(); closeList()
                body += "<h2>\(line.trimmingCharacters(in: .whitespaces).dropFirst(3))</h2>\n"
            } else if trimmed.hasPrefix("# ") {
                flush(); closeList()
                body += "<h1>\(line.trimmingCharacters(in: .whitespaces).dropFirst(2))</h1>\n"
            } else if trimmed.hasPrefix("- ") {
                flush()
                if !inList { body += "<ul>\n"; inList = true }
                var item = String(line.trimmingCharacters(in: .whitespaces).dropFirst(2))
                if item.hasPrefix("[ ] ") { item = "<span class=\"box\"></span> " + item.dropFirst(4) }
                body += "<li>\(item)</li>\n"
            } else {
                closeList()
                paragraph.append(line)
            }
        }
        flush(); closeList()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTMLText.escape(title))</title>
            <style>
            @page { size: A4; margin: 20mm; }
            body { font-family: Georgia, serif; font-size: 11pt; line-height: 1.45; max-width: 170mm; margin: 0 auto; color: #111; }
            h1 { font-size: 16pt; } h2 { font-size: 13pt; }
            ul { list-style: none; padding-left: 0; } li { margin: 4pt 0; }
            .box { display: inline-block; width: 10pt; height: 10pt; border: 1px solid #111; vertical-align: -1pt; margin-right: 4pt; }
            hr.cut { border: none; border-top: 1px dashed #555; margin: 18pt 0; }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    /// `{{name}}` replaced by its value (escaped later with the line).
    func fill(_ line: String, _ fields: [String: String]) -> String {
        var out = line
        for (name, value) in fields {
            for spelling in ["{{\(name)}}", "{{ \(name) }}"] { out = out.replacingOccurrences(of: spelling, with: value) }
        }
        return out
    }

    /// HTML-escaped, with `**bold**`.
    func inline(_ line: String) -> String {
        let parts = HTMLText.escape(line).components(separatedBy: "**")
        return parts.enumerated().map { i, p in i % 2 == 1 && i < parts.count - 1 ? "<strong>\(p)</strong>" : (i % 2 == 1 ? "**" + p : p) }.joined()
    }
}

/// HTML escaping for the pack's pages.
enum HTMLText {
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}
