/// Checks what a cohort file means, for one set of parameter values, and
/// resolves it into a ``ResolvedCohort``: windows end on or before D and are not
/// empty, ages and counts make sense, every code list exists.
public struct CohortValidator {
    /// The most code lists one cohort may name (each is a bit of a 64-bit mask in the SQL).
    public static let maxCodeLists = 62

    let definition: CohortDefinition
    let values: [String: Int]
    var diagnostics: [CohortDiagnostic] = []

    /// Validates `definition` with its parameters' defaults overridden by `overrides`, reading its code lists from `codeLists`.
    ///
    /// - Returns: the cohort with every number and code list resolved.
    /// - Throws: ``RecruitError`` (refused) for an override of a parameter the
    ///   file does not declare; ``CohortDefinitionError`` listing every located problem.
    public static func resolve(_ definition: CohortDefinition, overrides: [String: Int] = [:],
                               codeLists: any CohortCodeListSource, safeguards: Safeguards = .defaults) throws -> ResolvedCohort {
        var values = Dictionary(uniqueKeysWithValues: definition.parameters.map { ($0.name, $0.defaultValue) })
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            guard values[name] != nil else {
                throw RecruitError.refused("the cohort \(definition.name) has no parameter '\(name)' (declared: \(values.keys.sorted().joined(separator: ", ")))")
            }
            guard value >= 0 else { throw RecruitError.refused("parameter \(name): expected a whole number (0 or more), got \(value)") }
            values[name] = value
        }
        var validator = CohortValidator(definition: definition, values: values)
        var lists = validator.resolveCodeLists(codeLists)
        var criteria: [ResolvedCriterion] = []
        for (i, criterion) in definition.criteria.enumerated() {
            let condition = validator.resolve(criterion.condition, at: criterion.location)
            criteria.append(ResolvedCriterion(step: i + 1, id: criterion.id, label: CohortTemplate.render(criterion.label, values: values),
                                              section: criterion.section, effect: criterion.effect, condition: condition))
        }
        if safeguards.applied { validator.apply(safeguards, to: &criteria) }
        if !validator.diagnostics.isEmpty { throw CohortDefinitionError(validator.diagnostics) }
        for name in safeguards.dissentLists where safeguards.applied && !lists.contains(where: { $0.name == name }) {
            guard let list = try codeLists.codeList(named: name) else {
                throw RecruitError.refused("the deployment's research dissent list '\(name)' (a safeguard, recruit.yaml) is not in \(codeLists.summary)")
            }
            lists.append(list)
        }
        return ResolvedCohort(definition: definition, parameters: values, codeLists: lists, criteria: criteria, safeguards: safeguards)
    }

    /// Checks the safeguards the cohort names (by id): each no weaker than the
    /// deployment's, and after every criterion of the cohort's own; appends
    /// those it does not name, in ``Safeguards/Kind`` order.
    mutating func apply(_ safeguards: Safeguards, to criteria: inout [ResolvedCriterion]) {
        let kinds = Dictionary(uniqueKeysWithValues: safeguards.kinds.map { ($0.rawValue, $0) })
        let lastOwn = criteria.lastIndex { kinds[$0.id] == nil }
        for i in criteria.indices {
            guard let kind = kinds[criteria[i].id] else { continue }
            let location = definition.criteria[i].location
            if let lastOwn, i < lastOwn {
                report(location, "criterion '\(kind.rawValue)' is a safeguard, applied after the cohort's own criteria: "
                       + "move it after '\(criteria[lastOwn].id)'")
            }
            if criteria[i].effect != .exclude {
                report(location, "criterion '\(kind.rawValue)' is a safeguard and must exclude")
            } else if let why = safeguards.weakening(kind, criteria[i].condition) {
                report(location, "criterion '\(kind.rawValue)' is a safeguard the deployment always applies (recruit.yaml); "
                       + "a cohort may make it stricter, never weaker: \(why)")
            }
            criteria[i].safeguard = true
        }
        for kind in safeguards.kinds where !criteria.contains(where: { $0.id == kind.rawValue }) {
            criteria.append(ResolvedCriterion(step: criteria.count + 1, id: kind.rawValue, label: kind.label, section: nil,
                                              effect: .exclude, condition: safeguards.condition(kind), safeguard: true))
        }
    }

    mutating func report(_ location: SourceLocation, _ message: String) {
        diagnostics.append(CohortDiagnostic(location, message))
    }

    mutating func resolveCodeLists(_ source: any CohortCodeListSource) -> [ResolvedCodeList] {
        let references = definition.criteria.flatMap(\.condition.codeListReferences)
        var lists: [ResolvedCodeList] = []
        var missing = Set<String>()
        for name in definition.codeListNames {
            do {
                if let list = try source.codeList(named: name) {
                    lists.append(list)
                } else {
                    missing.insert(name)
                }
            } catch {
                let first = references.first { $0.name == name }!
                report(first.location, "code list '\(name)' cannot be used: \(error)")
            }
        }
        for reference in references where missing.contains(reference.name) {
            report(reference.location, "unknown code list '\(reference.name)' (no \(reference.name).csv in \(source.summary))")
        }
        if lists.count + missing.count > Self.maxCodeLists, let first = references.first {
            report(first.location, "the cohort names \(lists.count + missing.count) code lists; at most \(Self.maxCodeLists) are supported")
        }
        return lists
    }

    func number(_ q: Quantity) -> ResolvedNumber {
        switch q.value {
        case .literal(let v): return ResolvedNumber(v)
        case .parameter(let name): return ResolvedNumber(values[name] ?? 0, parameter: name)
        }
    }

    static func describe(_ e: DateExpression, _ n: ResolvedNumber) -> String {
        if n.value == 0 && n.parameter == nil { return "D" }
        let written = "D \(e.sign < 0 ? "-" : "+") \(n.parameter ?? String(n.value))"
        return n.parameter == nil ? written : "\(written) = D \(e.sign < 0 ? "-" : "+") \(n.value)"
    }

    mutating func window(_ w: DayWindow) -> ResolvedWindow {
        let to = number(w.to.days)
        if w.to.sign > 0 && to.value > 0 {
            report(w.to.location, "window ends after D (\(Self.describe(w.to, to))): nothing dated after the index date may count")
        }
        var from: ResolvedNumber?
        if let f = w.from {
            let n = number(f.days)
            if f.sign > 0 && n.value > 0 {
                report(f.location, "window starts after D (\(Self.describe(f, n))): nothing dated after the index date may count")
            }
            let fromOffset = f.sign * n.value, toOffset = w.to.sign * to.value
            if fromOffset > toOffset {
                report(f.location, "the window is empty: it starts (\(Self.describe(f, n))) after it ends (\(Self.describe(w.to, to)))")
            }
            from = ResolvedNumber(-fromOffset, parameter: n.parameter)
        }
        return ResolvedWindow(fromDaysBefore: from, toDaysBefore: ResolvedNumber(-(w.to.sign * to.value), parameter: to.parameter))
    }

    mutating func resolve(_ condition: Condition, at location: SourceLocation) -> ResolvedCondition {
        switch condition {
        case .registeredAtIndexDate: return .registeredAtIndexDate
        case .aliveAtIndexDate: return .aliveAtIndexDate
        case .registeredFor(let days): return .registeredFor(days: number(days))
        case .age(let min, let max):
            let lo = min.map(number), hi = max.map(number)
            if let lo, let hi, lo.value > hi.value, let max {
                report(max.location, "age: max (\(hi.note)) is below min (\(lo.note)): nobody can match")
            }
            return .age(min: lo, max: hi)
        case .sex(let codes): return .sex(codes)
        case .records(let r):
            let minCount = r.minCount.map(number) ?? ResolvedNumber(1)
            if let q = r.minCount, minCount.value < 1 { report(q.location, "min_count: must be at least 1 (is \(minCount.note))") }
            return .records(ResolvedRecordQuery(source: r.source, codeLists: r.codeLists.map(\.name), window: window(r.window),
                                                minCount: minCount, minSpanDays: r.minSpanDays.map(number), codeSystems: r.codeSystems))
        case .latest(let l):
            return .latest(ResolvedLatestQuery(source: l.source, codeLists: l.codeLists.map(\.name), isIn: l.isIn.name,
                                               window: window(l.window), ties: l.ties, codeSystems: l.codeSystems))
        case .spell(let c):
            let defaults = SicknessSpellParameters.defaults
            let given = c.numbers
            let fallback = [defaults.defaultCoverDays, defaults.maxGapDays, defaults.minSpellDays, defaults.maxDaysSinceEnd]
            let values = zip(given, fallback).map { q, v in q.map(number) ?? ResolvedNumber(v) }
            let resolved = ResolvedSpellQuery(codeLists: c.codeLists.map(\.name), window: window(c.window), defaultCoverDays: values[0],
                                              maxGapDays: values[1], minSpellDays: values[2], maxDaysSinceEnd: values[3])
            for problem in resolved.parameters.problems(lookbackDays: resolved.window.fromDaysBefore?.value) {
                let i = SicknessSpellParameters.names.firstIndex(of: problem.parameter) ?? 0
                let what = values[i].parameter.map { " (parameter \($0))" } ?? ""
                report(given[i]?.location ?? c.location, "sickness_spell: \(problem.message)\(what)")
            }
            return .spell(resolved)
        case .previouslyInvited(let w): return .previouslyInvited(window: window(w))
        case .invitedToOtherCohorts(let cohorts, let w): return .invitedToOtherCohorts(cohorts: cohorts, window: window(w))
        case .contactEnded(let outcomes): return .contactEnded(outcomes: outcomes)
        case .allOf(let cs): return .allOf(cs.map { resolve($0, at: location) })
        case .anyOf(let cs): return .anyOf(cs.map { resolve($0, at: location) })
        case .not(let c): return .not(resolve(c, at: location))
        }
    }
}
