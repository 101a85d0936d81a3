import Foundation

/// A cohort definition as written in a `cohorts/*.yaml` file: who is eligible,
/// as an ordered list of criteria, with every number either written out or
/// named as a parameter of the file.
///
/// This is the typed model the YAML is parsed into (``CohortParser``). It is
/// checked by ``CohortValidator`` and made concrete, for one set of parameter
/// values and code lists, as a ``ResolvedCohort`` that the SQL compiler and the
/// in-memory oracle both read.
public struct CohortDefinition: Sendable {
    /// The cohort's name: runs of files with the same name are "this cohort" (criteria 11 and 12).
    public var name: String
    public var version: String
    public var description: String
    /// The parameters, in file order.
    public var parameters: [CohortParameter]
    /// The criteria, applied in this order.
    public var criteria: [Criterion]
    /// The file the definition was read from (for messages).
    public var file: String
    /// SHA-256 of the file's bytes: what a run records.
    public var sha256: String
    /// The file's text, as stored with a run.
    public var text: String

    public init(name: String, version: String, description: String, parameters: [CohortParameter],
                criteria: [Criterion], file: String, sha256: String, text: String) {
        self.name = name
        self.version = version
        self.description = description
        self.parameters = parameters
        self.criteria = criteria
        self.file = file
        self.sha256 = sha256
        self.text = text
    }

    public func parameter(named name: String) -> CohortParameter? { parameters.first { $0.name == name } }

    /// The code lists the criteria name, each once, in order of first mention.
    public var codeListNames: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for reference in criteria.flatMap(\.condition.codeListReferences) where seen.insert(reference.name).inserted {
            names.append(reference.name)
        }
        return names
    }
}

/// A number of the cohort file that criteria refer to by name.
public struct CohortParameter: Sendable, Hashable {
    public var name: String
    public var defaultValue: Int
    public var description: String
    public var location: SourceLocation

    public init(name: String, defaultValue: Int, description: String, location: SourceLocation) {
        self.name = name
        self.defaultValue = defaultValue
        self.description = description
        self.location = location
    }
}
