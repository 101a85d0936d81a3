/// Applies a list's manifest rules to its codes.
///
/// The expanded set is the list file's codes, plus each `include` rule's code
/// and (with `descendants`, Read v2 only) every descendant of it among the
/// known codes, minus each `exclude` rule's code and (with `descendants`) its
/// descendants. Exclusions win over inclusions, whatever their order. The
/// known codes are those of every list file in the library and, when a
/// database is at hand, those recorded in the loaded data.
public enum CodeListExpansion {
    /// The expanded set.
    ///
    /// - Parameters:
    ///   - codes: the list file's codes.
    ///   - rules: the manifest's rules, per system.
    ///   - known: per system, the codes descendants are looked for among.
    public static func expand(_ codes: Set<SystemCode>, rules: [CodeSystem: [CodeListManifest.Rule]],
                              known: [CodeSystem: Set<String>]) -> Set<SystemCode> {
        var result = codes
        for (system, systemRules) in rules {
            for rule in systemRules where rule.action == .include {
                result.insert(SystemCode(system: system, code: rule.code))
                if rule.descendants && system.hasHierarchyInCode {
                    for code in known[system] ?? [] where ReadV2Hierarchy.isDescendant(code, of: rule.code) {
                        result.insert(SystemCode(system: system, code: code))
                    }
                }
            }
        }
        for (system, systemRules) in rules {
            for rule in systemRules where rule.action == .exclude {
                if rule.descendants && system.hasHierarchyInCode {
                    result = result.filter { $0.system != system || !ReadV2Hierarchy.isSelfOrDescendant($0.code, of: rule.code) }
                } else {
                    result.remove(SystemCode(system: system, code: rule.code))
                }
            }
        }
        return result
    }

    /// The systems whose known codes an expansion needs (those with an
    /// include rule that takes descendants).
    public static func systemsNeedingKnownCodes(_ rules: [CodeSystem: [CodeListManifest.Rule]]) -> Set<CodeSystem> {
        Set(rules.filter { system, rules in system.hasHierarchyInCode && rules.contains { $0.action == .include && $0.descendants } }.keys)
    }
}
