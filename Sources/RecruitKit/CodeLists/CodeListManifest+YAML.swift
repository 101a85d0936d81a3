import Foundation
import Postgres
import Yams

extension CodeListManifest {
    /// Parses `codelists.yaml`, reporting every problem (unknown keys, wrong
    /// types, unknown systems or statuses, a reviewed entry without reviewer
    /// or date) with its line.
    ///
    /// - Returns: the manifest (with whatever could be read) and the problems.
    public static func parse(_ text: String, fileName: String = fileName) -> (CodeListManifest, [CodeListProblem]) {
        var reader = ManifestReader(fileName: fileName)
        let manifest = reader.read(text)
        return (manifest, reader.problems)
    }

    /// The manifest as YAML, in a fixed order (lists by name, systems by
    /// name, keys in the documented order), so rewriting it changes only
    /// what changed.
    public func yamlText() throws -> String {
        var listPairs: [(Node, Node)] = []
        for name in lists.keys.sorted() {
            let entry = lists[name]!
            var pairs: [(Node, Node)] = []
            if let d = entry.description { pairs.append(("description", Self.text(d))) }
            if let v = entry.version { pairs.append(("version", Self.text(v))) }
            if !entry.notes.isEmpty { pairs.append(("notes", Self.seq(entry.notes.map(Self.text)))) }
            var systemPairs: [(Node, Node)] = []
            for system in entry.systems.keys.sorted() {
                systemPairs.append((Node(system.rawValue), Self.node(entry.systems[system]!)))
            }
            pairs.append(("systems", Self.map(systemPairs)))
            listPairs.append((Self.text(name), Self.map(pairs)))
        }
        let root = Self.map([("format", Node(String(Self.formatVersion))), ("lists", Self.map(listPairs))])
        let body = try Yams.serialize(node: root, indent: 2, width: -1, allowUnicode: true)
        return """
            # Code-list manifest (see docs/codelists.md). Written by `recruit codelists import`;
            # after editing it by hand (status, reviewer, notes, rules), run `recruit codelists lock`.

            """ + body
    }

    private static func text(_ s: String) -> Node { .scalar(s.represented()) }

    private static func map(_ pairs: [(Node, Node)]) -> Node { .mapping(Node.Mapping(pairs)) }

    private static func seq(_ nodes: [Node]) -> Node { .sequence(Node.Sequence(nodes)) }

    private static func optional(_ s: String?) -> Node { s.map(text) ?? Node("null") }

    private static func node(_ entry: SystemEntry) -> Node {
        var pairs: [(Node, Node)] = []
        var source: [(Node, Node)] = []
        if let v = entry.source.url { source.append(("url", text(v))) }
        if let v = entry.source.repository { source.append(("repository", text(v))) }
        if let v = entry.source.path { source.append(("path", text(v))) }
        if let v = entry.source.commit { source.append(("commit", text(v))) }
        if let v = entry.source.description { source.append(("description", text(v))) }
        pairs.append(("source", map(source)))
        pairs.append(("version", optional(entry.version)))
        pairs.append(("status", Node(entry.status.rawValue)))
        pairs.append(("reviewer", optional(entry.reviewer)))
        pairs.append(("reviewed_on", optional(entry.reviewedOn)))
        pairs.append(("notes", seq(entry.notes.map(text))))
        pairs.append(("rules", seq(entry.rules.map { rule -> Node in
            var r: [(Node, Node)] = [(Node(rule.action.rawValue), text(rule.code))]
            if !rule.descendants { r.append(("descendants", Node("false"))) }
            return map(r)
        })))
        if let imp = entry.imported {
            var i: [(Node, Node)] = [
                ("file", text(imp.file)), ("sha256", text(imp.sha256)),
                ("rows_read", Node(String(imp.rowsRead))), ("rows_selected", Node(String(imp.rowsSelected))),
                ("code_column", text(imp.codeColumn)), ("term_column", optional(imp.termColumn)),
                ("filters", seq(imp.filters.map(text))),
                ("codes", Node(String(imp.codes))),
                ("cleaning", seq(imp.cleaning.map(text))),
            ]
            i.append(("dropped", seq(imp.dropped.map { d -> Node in
                map([("code", text(d.code)), ("reason", optional(d.reason)), ("removed", seq(d.removed.map(text)))])
            })))
            pairs.append(("imported", map(i)))
        }
        return map(pairs)
    }
}

/// Walks the composed YAML, collecting problems with their lines.
private struct ManifestReader {
    let fileName: String
    var problems: [CodeListProblem] = []

    init(fileName: String) { self.fileName = fileName }

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(CodeListProblem(file: fileName, line: node?.mark?.line, message))
    }

    mutating func read(_ text: String) -> CodeListManifest {
        var manifest = CodeListManifest()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            problems.append(CodeListProblem(file: fileName, line: Self.line(of: error), "not valid YAML: \(error)"))
            return manifest
        }
        guard let root, let map = mapping(root, "the manifest") else {
            if root == nil { problems.append(CodeListProblem(file: fileName, line: 1, "empty manifest: expected format and lists")) }
            return manifest
        }
        for (key, value) in pairs(map, allowed: ["format", "lists"], context: "the manifest") {
            switch key {
            case "format":
                if value.int != CodeListManifest.formatVersion {
                    problem(value, "format \(value.string ?? "?") is not supported (this program reads format \(CodeListManifest.formatVersion))")
                }
            default:
                guard let lists = mapping(value, "lists") else { continue }
                for (name, listNode) in pairs(lists, allowed: nil, context: "lists") {
                    if name.isEmpty || name.contains("/") || name.hasPrefix(".") {
                        problem(listNode, "\"\(name)\" is not a valid list name")
                    }
                    manifest.lists[name] = readList(name, listNode)
                }
            }
        }
        return manifest
    }

    mutating func readList(_ name: String, _ node: Node) -> CodeListManifest.ListEntry {
        var entry = CodeListManifest.ListEntry()
        entry.line = node.mark?.line
        guard let map = mapping(node, "list \(name)") else { return entry }
        for (key, value) in pairs(map, allowed: ["description", "version", "notes", "systems"], context: "list \(name)") {
            switch key {
            case "description": entry.description = string(value, "description")
            case "version": entry.version = string(value, "version")
            case "notes": entry.notes = strings(value, "notes")
            default:
                guard let systems = mapping(value, "systems") else { continue }
                for (systemName, systemNode) in pairs(systems, allowed: nil, context: "systems of \(name)") {
                    guard let system = CodeSystem(rawValue: systemName) else {
                        problem(systemNode, "list \(name): unknown coding system \"\(systemName)\" (expected one of \(CodeSystem.allCases.map(\.rawValue).joined(separator: ", ")))")
                        continue
                    }
                    entry.systems[system] = readSystem(name, system, systemNode)
                }
            }
        }
        return entry
    }

    mutating func readSystem(_ name: String, _ system: CodeSystem, _ node: Node) -> CodeListManifest.SystemEntry {
        var entry = CodeListManifest.SystemEntry()
        entry.line = node.mark?.line
        let context = "list \(name), \(system.rawValue)"
        guard let map = mapping(node, context) else { return entry }
        var statusNode: Node?
        for (key, value) in pairs(map, allowed: ["source", "version", "status", "reviewer", "reviewed_on", "notes", "rules", "imported"], context: context) {
            switch key {
            case "source":
                if let s = value.scalar, value.null == nil {
                    entry.source = CodeListManifest.Source.parse(s.string)
                } else if let m = mapping(value, "\(context): source") {
                    for (k, v) in pairs(m, allowed: ["url", "repository", "path", "commit", "description"], context: "\(context): source") {
                        let s = string(v, k)
                        switch k {
                        case "url": entry.source.url = s
                        case "repository": entry.source.repository = s
                        case "path": entry.source.path = s
                        case "commit": entry.source.commit = s
                        default: entry.source.description = s
                        }
                    }
                }
            case "version": entry.version = string(value, "version")
            case "status":
                statusNode = value
                let text = string(value, "status") ?? ""
                if let status = CodeListManifest.Status(rawValue: text) {
                    entry.status = status
                } else {
                    problem(value, "\(context): status \"\(text)\" is not draft or reviewed")
                }
            case "reviewer": entry.reviewer = string(value, "reviewer")
            case "reviewed_on":
                entry.reviewedOn = string(value, "reviewed_on")
                if let d = entry.reviewedOn, LocalDate(iso: d) == nil {
                    problem(value, "\(context): reviewed_on \"\(d)\" is not a date YYYY-MM-DD")
                }
            case "notes": entry.notes = strings(value, "notes")
            case "rules": entry.rules = readRules(value, context)
            default: entry.imported = readImported(value, context)
            }
        }
        if entry.source.isEmpty {
            problem(node, "\(context): no source recorded (a URL, or repository, path and commit)")
        }
        if entry.status == .reviewed && (entry.reviewer == nil || entry.reviewedOn == nil) {
            problem(statusNode ?? node, "\(context): status reviewed needs a reviewer and reviewed_on")
        }
        return entry
    }

    mutating func readRules(_ node: Node, _ context: String) -> [CodeListManifest.Rule] {
        guard let seq = node.sequence else {
            if node.null == nil { problem(node, "\(context): rules must be a list") }
            return []
        }
        var rules: [CodeListManifest.Rule] = []
        for item in seq {
            guard let map = mapping(item, "\(context): rule") else { continue }
            var action: CodeListManifest.Rule.Action?
            var code = ""
            var descendants = true
            for (key, value) in pairs(map, allowed: ["include", "exclude", "descendants"], context: "\(context): rule") {
                switch key {
                case "descendants":
                    if let b = value.bool { descendants = b } else { problem(value, "\(context): descendants must be true or false") }
                default:
                    if action != nil { problem(value, "\(context): a rule has one of include or exclude, not both") }
                    action = key == "include" ? .include : .exclude
                    code = string(value, key) ?? ""
                }
            }
            guard let action else {
                problem(item, "\(context): a rule needs include: CODE or exclude: CODE")
                continue
            }
            rules.append(CodeListManifest.Rule(action, code, descendants: descendants, line: item.mark?.line))
        }
        return rules
    }

    mutating func readImported(_ node: Node, _ context: String) -> CodeListManifest.Imported? {
        guard let map = mapping(node, "\(context): imported") else { return nil }
        var imp = CodeListManifest.Imported(file: "", sha256: "", rowsRead: 0, rowsSelected: 0, codeColumn: "code",
                                            termColumn: nil, filters: [], codes: 0, cleaning: [], dropped: [])
        let allowed: Set<String> = ["file", "sha256", "rows_read", "rows_selected", "code_column", "term_column", "filters", "codes", "cleaning", "dropped"]
        for (key, value) in pairs(map, allowed: allowed, context: "\(context): imported") {
            switch key {
            case "file": imp.file = string(value, key) ?? ""
            case "sha256": imp.sha256 = string(value, key) ?? ""
            case "rows_read": imp.rowsRead = value.int ?? 0
            case "rows_selected": imp.rowsSelected = value.int ?? 0
            case "codes": imp.codes = value.int ?? 0
            case "code_column": imp.codeColumn = string(value, key) ?? ""
            case "term_column": imp.termColumn = string(value, key)
            case "filters": imp.filters = strings(value, key)
            case "cleaning": imp.cleaning = strings(value, key)
            default:
                for item in value.sequence ?? [] {
                    guard let m = mapping(item, "\(context): dropped") else { continue }
                    var drop = CodeListManifest.Drop(code: "")
                    for (k, v) in pairs(m, allowed: ["code", "reason", "removed"], context: "\(context): dropped") {
                        switch k {
                        case "code": drop.code = string(v, k) ?? ""
                        case "reason": drop.reason = string(v, k)
                        default: drop.removed = strings(v, k)
                        }
                    }
                    imp.dropped.append(drop)
                }
            }
        }
        return imp
    }

    // MARK: helpers

    mutating func mapping(_ node: Node, _ what: String) -> Node.Mapping? {
        if let m = node.mapping { return m }
        problem(node, "\(what) must be a mapping of keys to values")
        return nil
    }

    /// The pairs of a mapping with string keys; unknown keys (when `allowed`
    /// is given) and repeated keys are reported and skipped.
    mutating func pairs(_ map: Node.Mapping, allowed: Set<String>?, context: String) -> [(String, Node)] {
        var out: [(String, Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in map {
            guard let key = keyNode.scalar?.string else {
                problem(keyNode, "\(context): keys must be text")
                continue
            }
            if let allowed, !allowed.contains(key) {
                problem(keyNode, "\(context): unknown key \"\(key)\" (expected one of \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            guard seen.insert(key).inserted else {
                problem(keyNode, "\(context): key \"\(key)\" appears twice")
                continue
            }
            out.append((key, value))
        }
        return out
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let s = node.scalar else {
            problem(node, "\(what) must be text")
            return nil
        }
        if node.null != nil { return nil }
        return s.string
    }

    mutating func strings(_ node: Node, _ what: String) -> [String] {
        if node.null != nil { return [] }
        guard let seq = node.sequence else {
            problem(node, "\(what) must be a list of text")
            return []
        }
        return seq.compactMap { string($0, what) }
    }

    static func line(of error: any Error) -> Int? {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                return mark.line
            default:
                return nil
            }
        }
        return nil
    }
}
