import Foundation
import Yams

/// Reads a cohort file (YAML) into a ``CohortDefinition``, reporting every
/// problem with its file, line and column.
///
/// The file's shape:
///
/// ```yaml
/// name: chronic-pain-out-of-work
/// version: 1.0.0
/// description: Who the study wants, in a sentence or two.
/// parameters:
///   min_age: {default: 18, description: Youngest age at D}
///   cancer_lookback_days: 1825          # a bare number is the default
/// criteria:
///   - id: age
///     label: Aged {min_age} to {max_age} at D
///     section: Population                 # optional heading for `cohort explain`
///     include: {age: {min: min_age, max: max_age}}
///   - id: cancer
///     label: Cancer
///     exclude:
///       has_events:
///         codelists: [cancer]
///         window: {from: D - cancer_lookback_days, to: D}
/// ```
///
/// Conditions (one key each): `registered_at_index_date: true`,
/// `registered_for_days: N`, `alive_at_index_date: true`, `age: {min, max}`,
/// `sex: [F, M]`, `has_events` / `has_prescriptions` (`codelists`, `window`,
/// `min_count`, `min_span_days`, `code_systems`), `latest_event` /
/// `latest_prescription` (`codelists`, `is_in`, `window`, `on_same_date`,
/// `code_systems`), `previously_invited: {window}`, `contact_ended: {outcomes}`,
/// `all_of: [...]`, `any_of: [...]`, `not: {...}`. Every number is a whole
/// number or the name of a parameter; dates are `D`, `D - N` or `D + N`.
///
/// The parser checks shape and types (unknown keys, wrong types, unknown
/// parameters); ``CohortValidator`` checks meaning (windows, code lists).
public struct CohortParser {
    let file: String
    var diagnostics: [CohortDiagnostic] = []
    var parameterNames: Set<String> = []
    /// The file's lines as libyaml counts them (CR, LF, CRLF, NEL, LS, PS end a line), in Unicode scalars.
    var lines: [[Unicode.Scalar]] = []

    init(file: String) { self.file = file }

    static func lines(_ text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = [[]]
        var previousCR = false
        for (i, c) in text.unicodeScalars.enumerated() {
            switch c {
            case "\u{FEFF}" where i == 0: break
            case "\n" where previousCR: break
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": lines.append([])
            default: lines[lines.count - 1].append(c)
            }
            previousCR = c == "\r"
        }
        return lines
    }

    /// Whether a scalar's `text` is written as it is at `location`, on one line (not folded from several).
    func isWrittenOnOneLine(_ text: String, at location: SourceLocation) -> Bool {
        guard location.line >= 1, location.line <= lines.count, location.column >= 1 else { return false }
        return lines[location.line - 1].dropFirst(location.column - 1).starts(with: text.unicodeScalars)
    }

    /// Parses the file at `url`.
    ///
    /// - Throws: ``CohortDefinitionError`` listing every located problem, or
    ///   ``RecruitError`` when the file cannot be read.
    public static func parse(fileAt url: URL) throws -> CohortDefinition {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecruitError.refused("\(url.path): cannot read the cohort file")
        }
        return try parse(data: data, file: url.path)
    }

    /// Parses cohort YAML held in memory; `file` names it in messages.
    public static func parse(data: Data, file: String) throws -> CohortDefinition {
        var parser = CohortParser(file: file)
        guard let text = String(data: data, encoding: .utf8) else {
            throw CohortDefinitionError([CohortDiagnostic(parser.start, "the file is not valid UTF-8")])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw CohortDefinitionError([parser.yamlDiagnostic(error)])
        }
        guard let root else {
            throw CohortDefinitionError([CohortDiagnostic(parser.start, "the file is empty: expected name, version, description, parameters and criteria")])
        }
        parser.lines = CohortParser.lines(text)
        let definition = parser.definition(root, text: text, sha256: Hashing.sha256Hex(data))
        if !parser.diagnostics.isEmpty { throw CohortDefinitionError(parser.diagnostics) }
        return definition!
    }

    var start: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    func location(_ node: Node) -> SourceLocation {
        guard let mark = node.mark else { return start }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    mutating func report(_ node: Node, _ message: String) {
        diagnostics.append(CohortDiagnostic(location(node), message))
    }

    mutating func report(_ location: SourceLocation, _ message: String) {
        diagnostics.append(CohortDiagnostic(location, message))
    }

    func yamlDiagnostic(_ error: YamlError) -> CohortDiagnostic {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return CohortDiagnostic(SourceLocation(file: file, line: mark.line, column: mark.column), "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return CohortDiagnostic(SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                                    "duplicated key \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")) in this mapping")
        default:
            return CohortDiagnostic(start, "not valid YAML: \(error)")
        }
    }

    // MARK: Node shapes

    /// What a node is, for "expected X, found Y" messages.
    static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            switch node.tag.rawValue {
            case Tag.Name.int.rawValue: return "the number \(s.string)"
            case Tag.Name.float.rawValue: return "the number \(s.string)"
            case Tag.Name.bool.rawValue: return "the boolean \(s.string)"
            case Tag.Name.null.rawValue: return "nothing"
            default: return "the text '\(s.string)'"
            }
        }
    }

    /// The node's key/value pairs, reporting keys that are not in `allowed` and duplicates.
    mutating func mapping(_ node: Node, _ what: String, allowed: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            report(node, "\(what): expected a mapping (key: value lines), found \(Self.kind(node))")
            return nil
        }
        var pairs: [(key: String, keyNode: Node, value: Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(keyNode, "\(what): keys must be plain names, found \(Self.kind(keyNode))")
                continue
            }
            guard allowed.contains(key.string) else {
                report(keyNode, "\(what): unknown key '\(key.string)' (expected \(Self.list(allowed)))")
                continue
            }
            guard seen.insert(key.string).inserted else {
                report(keyNode, "\(what): '\(key.string)' is given twice")
                continue
            }
            pairs.append((key.string, keyNode, value))
        }
        return pairs
    }

    static func list(_ words: [String]) -> String {
        switch words.count {
        case 0: return "nothing"
        case 1: return words[0]
        default: return words.dropLast().joined(separator: ", ") + " or " + words.last!
        }
    }

    mutating func text(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let s) = node, node.tag.rawValue != Tag.Name.null.rawValue else {
            report(node, "\(what): expected text, found \(Self.kind(node))")
            return nil
        }
        return s.string
    }

    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let s) = node else {
            report(node, "\(what): expected a list, found \(Self.kind(node))")
            return nil
        }
        return Array(s)
    }

    /// A whole number written out (no sign, no fraction).
    static func wholeNumber(_ node: Node) -> Int? {
        guard case .scalar(let s) = node, s.style == .plain, node.tag.rawValue == Tag.Name.int.rawValue,
              s.string.allSatisfy(\.isASCIIDigitCharacter), let v = Int(s.string) else { return nil }
        return v
    }

    static func isIdentifier(_ text: some StringProtocol) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    /// A number in a criterion: a whole number, or the name of a parameter.
    mutating func quantity(_ node: Node, _ what: String) -> Quantity? {
        if let v = Self.wholeNumber(node) { return Quantity(.literal(v), at: location(node)) }
        if case .scalar(let s) = node, s.style == .plain, node.tag.rawValue == Tag.Name.str.rawValue, Self.isIdentifier(s.string) {
            return parameterReference(s.string, at: location(node), what)
        }
        report(node, "\(what): expected a whole number or the name of a parameter, found \(Self.kind(node))")
        return nil
    }

    mutating func parameterReference(_ name: String, at location: SourceLocation, _ what: String) -> Quantity? {
        guard parameterNames.contains(name) else {
            let known = parameterNames.sorted()
            report(location, "\(what): unknown parameter '\(name)'" + (known.isEmpty ? " (the file declares no parameters)" : " (declared: \(known.joined(separator: ", ")))"))
            return nil
        }
        return Quantity(.parameter(name), at: location)
    }

    /// `true` (or an empty mapping) for conditions that take no arguments.
    mutating func flag(_ node: Node, _ what: String) -> Bool {
        if case .mapping(let m) = node, m.isEmpty { return true }
        if case .scalar(let s) = node, node.tag.rawValue == Tag.Name.bool.rawValue, ["true", "True", "TRUE", "yes", "on"].contains(s.string) {
            return true
        }
        report(node, "\(what): expected true, found \(Self.kind(node)) (to negate a condition use exclude or not)")
        return false
    }

    // MARK: The document

    mutating func definition(_ root: Node, text: String, sha256: String) -> CohortDefinition? {
        let keys = ["name", "version", "description", "parameters", "criteria"]
        guard let pairs = mapping(root, "cohort file", allowed: keys) else { return nil }
        let byKey = Dictionary(pairs.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for key in ["name", "version", "criteria"] where byKey[key] == nil {
            report(root, "cohort file: '\(key)' is missing")
        }
        // Parameters first: criteria refer to them wherever they are written.
        var parameters: [CohortParameter] = []
        if let p = byKey["parameters"] { parameters = self.parameters(p.value) }
        parameterNames = Set(parameters.map(\.name))

        var name = "", version = "", description = ""
        if let n = byKey["name"] {
            name = self.text(n.value, "name") ?? ""
            if !name.isEmpty && !Self.isCohortName(name) {
                report(n.value, "name: '\(name)' is not a valid cohort name (lower-case letters, digits and '-', starting with a letter)")
            }
        }
        if let v = byKey["version"] {
            version = self.text(v.value, "version") ?? ""
            if version.isEmpty, case .scalar = v.value { report(v.value, "version: must not be empty") }
        }
        if let d = byKey["description"] { description = self.text(d.value, "description") ?? "" }

        var criteria: [Criterion] = []
        if let c = byKey["criteria"], let items = sequence(c.value, "criteria") {
            if items.isEmpty { report(c.value, "criteria: the list is empty") }
            var ids: [String: SourceLocation] = [:]
            for (i, item) in items.enumerated() {
                guard let criterion = self.criterion(item, number: i + 1) else { continue }
                if let first = ids[criterion.id] {
                    report(criterion.location, "criterion \(i + 1): id '\(criterion.id)' is already used by the criterion at line \(first.line)")
                } else {
                    ids[criterion.id] = criterion.location
                }
                criteria.append(criterion)
            }
        }
        return CohortDefinition(name: name, version: version, description: description, parameters: parameters,
                                criteria: criteria, file: file, sha256: sha256, text: text)
    }

    static func isCohortName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    mutating func parameters(_ node: Node) -> [CohortParameter] {
        if case .scalar = node, node.tag.rawValue == Tag.Name.null.rawValue { return [] }
        guard case .mapping(let declared) = node else {
            report(node, "parameters: expected a mapping of names to numbers, found \(Self.kind(node))")
            return []
        }
        var out: [CohortParameter] = []
        var seen = Set<String>()
        for (keyNode, value) in declared {
            guard case .scalar(let key) = keyNode, Self.isIdentifier(key.string), key.string != "D" else {
                report(keyNode, "parameters: '\(keyNode.string ?? "?")' is not a valid parameter name (letters, digits and '_', starting with a letter; not D)")
                continue
            }
            let name = key.string
            guard seen.insert(name).inserted else {
                report(keyNode, "parameters: '\(name)' is declared twice")
                continue
            }
            let what = "parameter \(name)"
            var defaultValue: Int?
            var description = ""
            if case .mapping = value {
                guard let pairs = mapping(value, what, allowed: ["default", "description"]) else { continue }
                for pair in pairs {
                    switch pair.key {
                    case "default": defaultValue = wholeNumberValue(pair.value, "\(what): default")
                    default: description = text(pair.value, "\(what): description") ?? ""
                    }
                }
                if !pairs.contains(where: { $0.key == "default" }) { report(value, "\(what): 'default' is missing") }
            } else {
                defaultValue = wholeNumberValue(value, what)
            }
            if let defaultValue {
                out.append(CohortParameter(name: name, defaultValue: defaultValue, description: description, location: location(keyNode)))
            }
        }
        return out
    }

    mutating func wholeNumberValue(_ node: Node, _ what: String) -> Int? {
        if let v = Self.wholeNumber(node) { return v }
        report(node, "\(what): expected a whole number (0 or more), found \(Self.kind(node))")
        return nil
    }

    mutating func criterion(_ node: Node, number: Int) -> Criterion? {
        let what = "criterion \(number)"
        guard let pairs = mapping(node, what, allowed: ["id", "label", "section", "include", "exclude"]) else { return nil }
        var id: String?, label: String?, section: String?
        var effect: Criterion.Effect?
        var condition: Condition?
        var failed = false
        for pair in pairs {
            switch pair.key {
            case "id":
                id = text(pair.value, "\(what): id")
                if let i = id, !Self.isCriterionID(i) {
                    report(pair.value, "\(what): id '\(i)' must be lower-case letters, digits and '_', starting with a letter")
                    failed = true
                }
            case "label":
                label = text(pair.value, "\(what): label")
                if let l = label { failed = !checkTemplate(l, at: pair.value, "\(what): label") || failed }
            case "section":
                section = text(pair.value, "\(what): section")
            default:
                if effect != nil {
                    report(pair.keyNode, "\(what): give either include or exclude, not both")
                    failed = true
                    continue
                }
                effect = Criterion.Effect(rawValue: pair.key)
                condition = self.condition(pair.value, "\(what) (\(pair.key))")
                if condition == nil { failed = true }
            }
        }
        let given = Set(pairs.map(\.key))
        if !given.contains("id") { report(node, "\(what): 'id' is missing"); failed = true }
        if !given.contains("label") { report(node, "\(what): 'label' is missing"); failed = true }
        if !given.contains("include") && !given.contains("exclude") { report(node, "\(what): 'include' or 'exclude' is missing"); failed = true }
        guard !failed, let id, let label, let effect, let condition else { return nil }
        return Criterion(id: id, label: label, section: section, effect: effect, condition: condition, location: location(node))
    }

    static func isCriterionID(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// Checks that every `{name}` in a label names a parameter.
    mutating func checkTemplate(_ text: String, at node: Node, _ what: String) -> Bool {
        var ok = true
        for name in CohortTemplate.placeholders(in: text) where !parameterNames.contains(name) {
            report(node, "\(what): {\(name)} is not a parameter")
            ok = false
        }
        return ok
    }
}

extension CohortParser {
    /// A code list's file name without `.csv`: letters, digits, `-` and `_`.
    public static func isCodeListName(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
