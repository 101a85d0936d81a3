/// The criteria of a cohort as a numbered plain-English protocol: the text a
/// CONSORT box or an ethics form would carry (`recruit cohort explain`).
public enum CohortExplainer {
    /// The protocol text for the cohort with its parameter values.
    public static func text(_ cohort: ResolvedCohort) -> String {
        var lines: [String] = []
        let definition = cohort.definition
        lines.append("\(definition.name), version \(definition.version)")
        if !definition.description.isEmpty {
            lines.append("")
            lines.append(contentsOf: wrap(definition.description, width: 88))
        }
        lines.append("")
        lines.append(contentsOf: wrap("D is the index date of the search (by default the extract date of the loaded data). "
            + "A window [D - N days, D] holds the dates from N days before D to D, both included; nothing dated after D counts. "
            + "A record is in a code list when its code (Read v2: the five-character code, without term id) is listed in the same coding system. "
            + "The date of birth is the 1st of the month of birth, or 1 July of the year of birth when the month is not recorded; "
            + "ages are in completed years at D.", width: 88))
        var section: String?
        for criterion in cohort.criteria {
            if criterion.safeguard, section != Safeguards.section {
                section = Safeguards.section
                lines.append("")
                lines.append(Safeguards.section + " (set by the deployment, recruit.yaml; a cohort may make them stricter, never weaker)")
            } else if !criterion.safeguard, let s = criterion.section, s != section {
                section = s
                lines.append("")
                lines.append(s)
            } else if criterion.step == 1 {
                lines.append("")
            }
            let effect = criterion.effect == .include ? "Include if" : "Exclude if"
            let body = "\(criterion.step). \(criterion.label) [\(criterion.id)]: \(effect) \(phrase(criterion.condition))."
            lines.append(contentsOf: wrap(body, width: 88, indent: String(repeating: " ", count: "\(criterion.step). ".count)))
        }
        lines.append("")
        lines.append(contentsOf: wrap("The criteria are applied in this order. The yield table counts, for each practice and "
            + "for all practices together, the patients in the practice's loaded extract (step 0) and those left after each criterion; "
            + "the invitation list is what is left after the last.", width: 88))
        if !definition.parameters.isEmpty {
            lines.append("")
            lines.append("Parameters")
            for p in definition.parameters {
                let value = cohort.parameters[p.name] ?? p.defaultValue
                let note = value == p.defaultValue ? "" : " (default \(p.defaultValue))"
                lines.append(contentsOf: wrap("- \(p.name) = \(value)\(note)\(p.description.isEmpty ? "" : ": \(p.description)")", width: 88, indent: "  "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A condition as the words that follow "Include if" / "Exclude if".
    public static func phrase(_ c: ResolvedCondition) -> String {
        switch c {
        case .registeredAtIndexDate:
            return "registered with the practice at D (registration started on or before D and had not ended on or before D)"
        case .registeredFor(let days):
            return "registration started at least \(days.value) days before D (on or before D - \(days.value) days)"
        case .aliveAtIndexDate:
            return "alive at D (no date of death, or one after D)"
        case .age(let min, let max):
            switch (min, max) {
            case let (lo?, hi?): return "aged \(lo.value) to \(hi.value) at D, both included"
            case let (lo?, nil): return "aged \(lo.value) or over at D"
            case let (nil, hi?): return "aged \(hi.value) or under at D"
            default: return "of any age"
            }
        case .sex(let codes):
            return "recorded sex is \(or(codes))"
        case .records(let r):
            var s: String
            let lists = r.codeLists.count == 1 ? "code list \(r.codeLists[0])" : "code lists \(or(r.codeLists)) (together)"
            if r.minCount.value <= 1 {
                s = "there is \(article(r.source.noun)) \(r.source.noun) in \(lists)"
            } else {
                s = "there are at least \(r.minCount.value) \(r.source.rawValue) in \(lists)"
            }
            if let systems = r.codeSystems { s += " recorded in \(or(systems.map(\.rawValue)))" }
            s += " " + window(r.window)
            if let span = r.minSpanDays {
                s += ", the earliest and the latest of them at least \(span.value) days apart"
            }
            if r.minCount.value > 1 && r.source == .prescriptions { s += " (each prescription issued counts, two on one date count as two)" }
            return s
        case .latest(let l):
            let others = l.codeLists.filter { $0 != l.isIn }
            let tie = l.ties == .isInWins ? "on the same date, \(l.isIn) wins" : "on the same date, \(or(others)) wins"
            var s = "of the \(l.source.rawValue) in \(or(l.codeLists))"
            if let systems = l.codeSystems { s += " recorded in \(or(systems.map(\.rawValue)))" }
            return s + " " + window(l.window) + ", the latest is in \(l.isIn) (\(tie))"
        case .spell(let sp):
            let lists = sp.codeLists.count == 1 ? "code list \(sp.codeLists[0])" : "code lists \(or(sp.codeLists)) (together)"
            let p = sp.parameters
            let seen = sp.window.fromDaysBefore.map { "the fit notes in \(lists) dated within [D - \($0.value) days, D]" }
                ?? "the fit notes in \(lists) dated on or before D"
            let current = p.maxDaysSinceEnd == 0 ? "its cover reaching D" : "its cover ending on or after D - \(p.maxDaysSinceEnd) days"
            return "a current sickness spell of at least \(p.minSpellDays) days so far: of \(seen), each covering the days its value "
                + "gives (a whole number from 1 to 365; otherwise \(p.defaultCoverDays) days) from its date, a spell is a chain of notes "
                + "each starting no more than \(p.maxGapDays) days after the end of the cover so far; its days so far run from its first "
                + "note to the end of its cover or D, whichever is earlier; it is current with \(current)"
        case .previouslyInvited(let w):
            return "on the invitation list of an issued (and not superseded) run of this cohort, or of an invitation imported "
                + "as history for this cohort, whose index date is \(window(w).replacingOccurrences(of: "dated ", with: ""))"
        case .invitedToOtherCohorts(let cohorts, let w):
            return "on the invitation list of an issued (and not superseded) run of another study's cohort (\(cohorts.joined(separator: ", "))), "
                + "or of an invitation imported as history for one, whose index date is \(window(w).replacingOccurrences(of: "dated ", with: ""))"
        case .contactEnded(let outcomes):
            return "an outcome for this cohort that ends contact was recorded before this run, whatever its date: "
                + or(outcomes.map { $0.replacingOccurrences(of: "_", with: " ") })
        case .allOf(let cs):
            return "all of: " + cs.enumerated().map { "(\(letter($0.offset))) \(phrase($0.element))" }.joined(separator: "; ")
        case .anyOf(let cs):
            return "any of: " + cs.enumerated().map { "(\(letter($0.offset))) \(phrase($0.element))" }.joined(separator: "; or ")
        case .not(let inner):
            return "it is not the case that \(phrase(inner))"
        }
    }

    static func window(_ w: ResolvedWindow) -> String {
        let to = w.toDaysBefore.value == 0 ? "D" : "D - \(w.toDaysBefore.value) days"
        guard let from = w.fromDaysBefore else { return "dated on or before \(to)" }
        return "dated within [\(from.value == 0 ? "D" : "D - \(from.value) days"), \(to)]"
    }

    static func article(_ word: String) -> String { "aeiou".contains(word.first ?? "x") ? "an" : "a" }

    static func letter(_ i: Int) -> String { String(UnicodeScalar(UInt8(97 + i % 26))) }

    static func or(_ words: [String]) -> String {
        words.count <= 1 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    /// Wraps text at `width` characters; lines after the first are indented.
    /// A bracketed window (`[D - 730 days, D]`) is never split.
    static func wrap(_ text: String, width: Int, indent: String = "") -> [String] {
        var words: [String] = []
        var depth = 0
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if depth > 0, let last = words.popLast() { words.append(last + " " + word) } else { words.append(String(word)) }
            depth += word.filter { $0 == "[" }.count - word.filter { $0 == "]" }.count
        }
        var lines: [String] = []
        var line = ""
        for word in words {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent + word
            } else {
                line += (line.isEmpty || line == indent ? "" : " ") + word
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
