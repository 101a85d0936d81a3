import Foundation
import Yams

/// The conditions of a criterion and their parts (code lists, windows, dates).
extension CohortParser {
    // MARK: Conditions

    static let conditionKinds = ["registered_at_index_date", "registered_for_days", "alive_at_index_date", "age", "sex",
                                 "has_events", "has_prescriptions", "latest_event", "latest_prescription",
                                 "sickness_spell", "previously_invited", "contact_ended", "all_of", "any_of", "not"]

    mutating func condition(_ node: Node, _ what: String) -> Condition? {
        guard case .mapping(let m) = node else {
            report(node, "\(what): expected a condition (one of \(Self.list(Self.conditionKinds))), found \(Self.kind(node))")
            return nil
        }
        guard m.count == 1 else {
            report(node, m.isEmpty ? "\(what): the condition is empty (expected one of \(Self.list(Self.conditionKinds)))"
                : "\(what): a condition has exactly one key; combine several with all_of or any_of")
            return nil
        }
        guard let pairs = mapping(node, what, allowed: Self.conditionKinds), let (kind, keyNode, value) = pairs.first else { return nil }
        let here = "\(what): \(kind)"
        switch kind {
        case "registered_at_index_date":
            return flag(value, here) ? .registeredAtIndexDate : nil
        case "alive_at_index_date":
            return flag(value, here) ? .aliveAtIndexDate : nil
        case "registered_for_days":
            return quantity(value, here).map { .registeredFor(days: $0) }
        case "age":
            guard let parts = mapping(value, here, allowed: ["min", "max"]) else { return nil }
            var min: Quantity?, max: Quantity?, failed = false
            for p in parts {
                let q = quantity(p.value, "\(here): \(p.key)")
                if q == nil { failed = true }
                if p.key == "min" { min = q } else { max = q }
            }
            if parts.isEmpty { report(value, "\(here): give min, max or both"); return nil }
            return failed ? nil : .age(min: min, max: max)
        case "sex":
            guard let items = sequence(value, here) else { return nil }
            var codes: [String] = []
            for item in items {
                guard let s = text(item, here) else { return nil }
                guard ["M", "F", "I", "U"].contains(s) else {
                    report(item, "\(here): unknown sex '\(s)' (expected M, F, I or U)")
                    return nil
                }
                codes.append(s)
            }
            if codes.isEmpty { report(value, "\(here): the list is empty"); return nil }
            return .sex(codes)
        case "has_events", "has_prescriptions":
            return records(value, source: kind == "has_events" ? .events : .prescriptions, here)
        case "latest_event", "latest_prescription":
            return latest(value, source: kind == "latest_event" ? .events : .prescriptions, here)
        case "sickness_spell":
            return spell(value, here)
        case "previously_invited":
            guard let parts = mapping(value, here, allowed: ["window"]) else { return nil }
            guard let w = parts.first else { report(value, "\(here): 'window' is missing"); return nil }
            return window(w.value, "\(here): window").map { .previouslyInvited(window: $0) }
        case "contact_ended":
            guard let parts = mapping(value, here, allowed: ["outcomes"]) else { return nil }
            guard let o = parts.first else { report(value, "\(here): 'outcomes' is missing"); return nil }
            guard let items = sequence(o.value, "\(here): outcomes") else { return nil }
            var outcomes: [String] = []
            for item in items {
                guard let s = text(item, "\(here): outcomes") else { return nil }
                guard Condition.knownOutcomes.contains(s) else {
                    report(item, "\(here): unknown outcome '\(s)' (expected \(Self.list(Condition.knownOutcomes)))")
                    return nil
                }
                outcomes.append(s)
            }
            if outcomes.isEmpty { report(o.value, "\(here): outcomes: the list is empty"); return nil }
            return .contactEnded(outcomes: outcomes)
        case "all_of", "any_of":
            guard let items = sequence(value, here) else { return nil }
            if items.isEmpty { report(value, "\(here): the list is empty"); return nil }
            let parts = items.enumerated().map { condition($0.element, "\(here) [\($0.offset + 1)]") }
            guard parts.allSatisfy({ $0 != nil }) else { return nil }
            return kind == "all_of" ? .allOf(parts.map { $0! }) : .anyOf(parts.map { $0! })
        case "not":
            return condition(value, here).map { .not($0) }
        default:
            report(keyNode, "\(what): unknown condition '\(kind)'")
            return nil
        }
    }

    mutating func codeListNames(_ node: Node, _ what: String) -> [CodeListReference]? {
        guard let items = sequence(node, what) else { return nil }
        if items.isEmpty { report(node, "\(what): the list is empty"); return nil }
        var out: [CodeListReference] = []
        for item in items {
            guard let name = text(item, what) else { return nil }
            guard CohortParser.isCodeListName(name) else {
                report(item, "\(what): '\(name)' is not a code list name (letters, digits, '-' and '_')")
                return nil
            }
            if out.contains(where: { $0.name == name }) {
                report(item, "\(what): '\(name)' is named twice")
                return nil
            }
            out.append(CodeListReference(name: name, location: location(item)))
        }
        return out
    }

    mutating func codeSystems(_ node: Node, _ what: String) -> [CodeSystem]? {
        guard let items = sequence(node, what) else { return nil }
        var out: [CodeSystem] = []
        for item in items {
            guard let s = text(item, what) else { return nil }
            guard let system = CodeSystem(rawValue: s) else {
                report(item, "\(what): unknown coding system '\(s)' (expected \(Self.list(CodeSystem.allCases.map(\.rawValue))))")
                return nil
            }
            out.append(system)
        }
        if out.isEmpty { report(node, "\(what): the list is empty"); return nil }
        return out
    }

    mutating func records(_ node: Node, source: RecordSource, _ what: String) -> Condition? {
        guard let parts = mapping(node, what, allowed: ["codelists", "window", "min_count", "min_span_days", "code_systems"]) else { return nil }
        var lists: [CodeListReference]?, win: DayWindow?, minCount: Quantity?, minSpan: Quantity?, systems: [CodeSystem]?
        var failed = false
        for p in parts {
            let w = "\(what): \(p.key)"
            switch p.key {
            case "codelists": lists = codeListNames(p.value, w); failed = failed || lists == nil
            case "window": win = window(p.value, w); failed = failed || win == nil
            case "min_count": minCount = quantity(p.value, w); failed = failed || minCount == nil
            case "min_span_days": minSpan = quantity(p.value, w); failed = failed || minSpan == nil
            default: systems = codeSystems(p.value, w); failed = failed || systems == nil
            }
        }
        if !parts.contains(where: { $0.key == "codelists" }) { report(node, "\(what): 'codelists' is missing"); failed = true }
        guard !failed, let lists else { return nil }
        let here = location(node)
        return .records(RecordCondition(source: source, codeLists: lists, window: win ?? Self.defaultWindow(here),
                                        minCount: minCount, minSpanDays: minSpan, codeSystems: systems, location: here))
    }

    mutating func latest(_ node: Node, source: RecordSource, _ what: String) -> Condition? {
        guard let parts = mapping(node, what, allowed: ["codelists", "is_in", "window", "on_same_date", "code_systems"]) else { return nil }
        var lists: [CodeListReference]?, isIn: CodeListReference?, win: DayWindow?, ties: LatestTieRule?
        var systems: [CodeSystem]?
        var failed = false
        for p in parts {
            let w = "\(what): \(p.key)"
            switch p.key {
            case "codelists": lists = codeListNames(p.value, w); failed = failed || lists == nil
            case "is_in":
                if let name = text(p.value, w) { isIn = CodeListReference(name: name, location: location(p.value)) } else { failed = true }
            case "window": win = window(p.value, w); failed = failed || win == nil
            case "on_same_date":
                if let t = text(p.value, w) {
                    ties = LatestTieRule(rawValue: t)
                    if ties == nil {
                        report(p.value, "\(w): unknown rule '\(t)' (expected \(Self.list(LatestTieRule.allCases.map(\.rawValue))))")
                        failed = true
                    }
                } else { failed = true }
            default: systems = codeSystems(p.value, w); failed = failed || systems == nil
            }
        }
        for key in ["codelists", "is_in", "on_same_date"] where !parts.contains(where: { $0.key == key }) {
            report(node, "\(what): '\(key)' is missing" + (key == "on_same_date" ? " (say which wins when the latest records share a date: is_in_wins or others_win)" : ""))
            failed = true
        }
        guard !failed, let lists, let isIn, let ties else { return nil }
        if !lists.contains(where: { $0.name == isIn.name }) {
            report(isIn.location, "\(what): is_in: '\(isIn.name)' must be one of the codelists (\(lists.map(\.name).joined(separator: ", ")))")
            return nil
        }
        let here = location(node)
        return .latest(LatestCondition(source: source, codeLists: lists, isIn: isIn, window: win ?? Self.defaultWindow(here),
                                       ties: ties, codeSystems: systems, location: here))
    }

    mutating func spell(_ node: Node, _ what: String) -> Condition? {
        let numberKeys = SicknessSpellParameters.names
        guard let parts = mapping(node, what, allowed: ["codelists", "window"] + numberKeys) else { return nil }
        var lists: [CodeListReference]?, win: DayWindow?, numbers: [String: Quantity] = [:]
        var failed = false
        for p in parts {
            let w = "\(what): \(p.key)"
            switch p.key {
            case "codelists": lists = codeListNames(p.value, w); failed = failed || lists == nil
            case "window":
                win = window(p.value, w)
                failed = failed || win == nil
                if let win, win.to.days.value != .literal(0) {
                    report(win.to.location, "\(w): a spell's notes are seen up to D (the spell's end may run past it), so the window has only 'from'")
                    failed = true
                }
            default:
                if let q = quantity(p.value, w) { numbers[p.key] = q } else { failed = true }
            }
        }
        if !parts.contains(where: { $0.key == "codelists" }) { report(node, "\(what): 'codelists' is missing"); failed = true }
        guard !failed, let lists else { return nil }
        let here = location(node)
        return .spell(SpellCondition(codeLists: lists, window: win ?? Self.defaultWindow(here),
                                     defaultCoverDays: numbers["default_cover_days"], maxGapDays: numbers["max_gap_days"],
                                     minSpellDays: numbers["min_spell_days"], maxDaysSinceEnd: numbers["max_days_since_end"], location: here))
    }

    static func defaultWindow(_ location: SourceLocation) -> DayWindow {
        DayWindow(from: nil, to: .indexDate(at: location), location: location)
    }

    mutating func window(_ node: Node, _ what: String) -> DayWindow? {
        guard let parts = mapping(node, what, allowed: ["from", "to"]) else { return nil }
        var from: DateExpression?, to: DateExpression?, failed = false
        for p in parts {
            let e = dateExpression(p.value, "\(what): \(p.key)")
            if e == nil { failed = true }
            if p.key == "from" { from = e } else { to = e }
        }
        guard !failed else { return nil }
        let here = location(node)
        return DayWindow(from: from, to: to ?? .indexDate(at: here), location: here)
    }

    /// `D`, `D - N`, `D + N`, `D - name`: a date relative to the index date.
    mutating func dateExpression(_ node: Node, _ what: String) -> DateExpression? {
        let expected = "expected a date relative to the index date: D, D - 365 or D - a_parameter"
        guard case .scalar(let s) = node, node.tag.rawValue == Tag.Name.str.rawValue else {
            report(node, "\(what): \(expected), found \(Self.kind(node))")
            return nil
        }
        let here = location(node)
        let chars = Array(s.string)
        var i = 0
        func skipSpaces() { while i < chars.count && chars[i] == " " { i += 1 } }
        skipSpaces()
        guard i < chars.count, chars[i] == "D" else {
            report(node, "\(what): \(expected), found '\(s.string)'")
            return nil
        }
        i += 1
        skipSpaces()
        if i == chars.count { return .indexDate(at: here) }
        guard chars[i] == "-" || chars[i] == "+" else {
            report(node, "\(what): \(expected), found '\(s.string)'")
            return nil
        }
        let sign = chars[i] == "-" ? -1 : 1
        i += 1
        skipSpaces()
        let tokenStart = i
        while i < chars.count && chars[i] != " " { i += 1 }
        let token = String(chars[tokenStart..<i])
        skipSpaces()
        // Plain scalars written on one line: point at the number or name itself
        // (a plain scalar folded from several lines is pointed at as a whole).
        let tokenLocation = s.style == .plain && isWrittenOnOneLine(s.string, at: here)
            ? SourceLocation(file: file, line: here.line, column: here.column + tokenStart) : here
        guard i == chars.count, !token.isEmpty else {
            report(node, "\(what): \(expected), found '\(s.string)'")
            return nil
        }
        let days: Quantity
        if token.allSatisfy(\.isASCIIDigitCharacter), let v = Int(token) {
            days = Quantity(.literal(v), at: tokenLocation)
        } else if Self.isIdentifier(token) {
            guard let q = parameterReference(token, at: tokenLocation, what) else { return nil }
            days = q
        } else {
            report(tokenLocation, "\(what): expected a whole number of days or the name of a parameter after '\(sign < 0 ? "-" : "+")', found '\(token)'")
            return nil
        }
        return DateExpression(sign: sign, days: days, location: here)
    }
}
