import Foundation

/// A code-list CSV as it is on disk: every row with its line and any extra
/// columns, and every problem found while reading it (nothing thrown).
///
/// ``CodeList/read(name:in:)`` is the strict reader the pipeline uses; this is
/// what `check` and `import` use, as they must report every problem and keep
/// the columns they do not know.
public struct CodeListFile: Sendable {
    public struct Row: Sendable, Hashable {
        public var line: Int
        public var code: String
        public var term: String
        /// The `code_system` text as written.
        public var systemText: String
        /// nil when `systemText` names no known system.
        public var system: CodeSystem?
        /// Values of the extra columns, by column name.
        public var extras: [String: String]

        public init(line: Int = 0, code: String, term: String, system: CodeSystem, extras: [String: String] = [:]) {
            self.line = line
            self.code = code
            self.term = term
            self.systemText = system.rawValue
            self.system = system
            self.extras = extras
        }
    }

    /// The list's name (the file name without `.csv`).
    public var name: String
    /// The file name within its folder, for messages.
    public var fileName: String
    /// SHA-256 of the file's bytes (empty for a list not yet written).
    public var sha256: String
    /// Columns other than `code`, `term` and `code_system`, in file order.
    public var extraColumns: [String]
    public var rows: [Row]
    public var problems: [CodeListProblem]

    public init(name: String, extraColumns: [String] = [], rows: [Row] = []) {
        self.name = name
        self.fileName = "\(name).csv"
        self.sha256 = ""
        self.extraColumns = extraColumns
        self.rows = rows
        self.problems = []
    }

    /// The required columns, in the order they are written.
    public static let requiredColumns = ["code", "term", "code_system"]

    /// Reads `url`, collecting problems (bad header, malformed rows, unknown
    /// code systems) instead of stopping at the first.
    ///
    /// - Throws: ``RecruitError`` (refused) only when the file cannot be read.
    public static func read(_ url: URL) throws -> CodeListFile {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecruitError.refused("\(url.path): cannot read the file")
        }
        return parse(data, name: url.deletingPathExtension().lastPathComponent)
    }

    /// Parses a code-list file's bytes (see ``read(_:)``).
    public static func parse(_ data: Data, name: String) -> CodeListFile {
        var file = CodeListFile(name: name)
        file.sha256 = Hashing.sha256Hex(data)
        let fileName = file.fileName
        guard String(data: data, encoding: .utf8) != nil else {
            file.problems.append(CodeListProblem(file: fileName, "the file is not valid UTF-8"))
            return file
        }
        let reader = CSVReader(bytes: [UInt8](data))
        guard (try? reader.next()) == true else {
            file.problems.append(CodeListProblem(file: fileName, line: 1, "empty file: expected the header code,term,code_system"))
            return file
        }
        let header = reader.strings.map { $0.trimmingCharacters(in: .whitespaces) }
        let lower = header.map { $0.lowercased() }
        guard let codeIndex = lower.firstIndex(of: "code"), let systemIndex = lower.firstIndex(of: "code_system") else {
            file.problems.append(CodeListProblem(file: fileName, line: 1,
                "the header needs the columns code, term and code_system (found \(header.joined(separator: ",")))"))
            return file
        }
        let termIndex = lower.firstIndex(of: "term")
        if termIndex == nil {
            file.problems.append(CodeListProblem(file: fileName, line: 1, "the header has no term column"))
        }
        var seen = Set<String>()
        for (i, column) in lower.enumerated() where !seen.insert(column).inserted {
            file.problems.append(CodeListProblem(file: fileName, line: 1, "column \(header[i]) appears twice"))
        }
        let extraIndexes = header.indices.filter { ![codeIndex, systemIndex, termIndex].contains($0) }
        file.extraColumns = extraIndexes.map { header[$0] }
        while (try? reader.next()) == true {
            let line = reader.lineNumber
            if let problem = reader.malformed {
                file.problems.append(CodeListProblem(file: fileName, line: line, problem))
                continue
            }
            if reader.fieldCount == 1 && reader.string(0).isEmpty {
                file.problems.append(CodeListProblem(.warning, file: fileName, line: line, "blank line"))
                continue
            }
            if reader.fieldCount != header.count {
                file.problems.append(CodeListProblem(file: fileName, line: line,
                    "\(reader.fieldCount) fields, the header has \(header.count)"))
            }
            func field(_ i: Int?) -> String { i.flatMap { $0 < reader.fieldCount ? reader.string($0) : nil } ?? "" }
            let systemText = field(systemIndex)
            let system = CodeSystem(rawValue: systemText)
            if system == nil {
                file.problems.append(CodeListProblem(file: fileName, line: line,
                    "unknown code_system \"\(systemText)\" (expected one of \(CodeSystem.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            var extras: [String: String] = [:]
            for i in extraIndexes { extras[header[i]] = field(i) }
            file.rows.append(Row(line: line, code: field(codeIndex), term: field(termIndex), systemText: systemText,
                                 system: system, extras: extras))
        }
        return file
    }

    /// The rows as ``CodeListEntry`` values (rows with an unknown system left out).
    public var entries: [CodeListEntry] {
        rows.compactMap { row in row.system.map { CodeListEntry(code: row.code, term: row.term, system: $0, line: row.line) } }
    }

    /// The systems this list has rows of.
    public var systems: Set<CodeSystem> { Set(rows.compactMap(\.system)) }

    /// The file's text: the header `code,term,code_system` and the extra
    /// columns, then the rows sorted by system, then code bytes.
    public func csvText() -> String {
        var out = (Self.requiredColumns + extraColumns).map(Self.csvField).joined(separator: ",") + "\n"
        let sorted = rows.sorted {
            if $0.systemText != $1.systemText { return $0.systemText.utf8.lexicographicallyPrecedes($1.systemText.utf8) }
            return $0.code.utf8.lexicographicallyPrecedes($1.code.utf8)
        }
        for row in sorted {
            let fields = [row.code, row.term, row.systemText] + extraColumns.map { row.extras[$0] ?? "" }
            out += fields.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// Quotes a CSV field when it holds a comma, quote, line break, or space at either end.
    public static func csvField(_ value: String) -> String {
        let needsQuotes = value.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || value.first?.isWhitespace == true || value.last?.isWhitespace == true
        guard needsQuotes else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension CodeListFile.Row {
    init(line: Int, code: String, term: String, systemText: String, system: CodeSystem?, extras: [String: String]) {
        self.line = line
        self.code = code
        self.term = term
        self.systemText = systemText
        self.system = system
        self.extras = extras
    }
}
