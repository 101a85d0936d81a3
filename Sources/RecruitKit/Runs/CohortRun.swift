import Foundation
import Logging
import Postgres

/// A run of a cohort: what is asked (``Request``), how the cohort file and its
/// code lists are resolved, and what the run reports (``Summary``, the `--json`
/// output). ``RunRecorder`` evaluates, writes and records runs.
public struct CohortRun {
    /// What to run.
    public struct Request {
        public var cohortFile: URL
        public var codeLists: any CohortCodeListSource
        public var outputDirectory: URL
        public var indexDate: LocalDate?
        public var practices: [String]?
        public var parameters: [String: Int]
        /// The deployment's safeguards, applied after the cohort's own criteria.
        public var safeguards: Safeguards

        public init(cohortFile: URL, codeLists: any CohortCodeListSource, outputDirectory: URL, indexDate: LocalDate? = nil,
                    practices: [String]? = nil, parameters: [String: Int] = [:], safeguards: Safeguards = .defaults) {
            self.safeguards = safeguards
            self.cohortFile = cohortFile
            self.codeLists = codeLists
            self.outputDirectory = outputDirectory
            self.indexDate = indexDate
            self.practices = practices
            self.parameters = parameters
        }
    }

    /// What a run did (the `--json` summary; no patient identifiers).
    public struct Summary: Codable, Sendable {
        public struct Step: Codable, Sendable {
            public var step: Int
            public var criterion: String
            public var label: String
            public var remaining: Int
        }

        public struct CodeListUsed: Codable, Sendable {
            public var name: String
            public var sha256: String
            public var expandedSHA256: String
            public var codes: Int
            enum CodingKeys: String, CodingKey { case name, sha256, expandedSHA256 = "expanded_sha256", codes }
        }

        /// One practice's list: how many are invited, and how many of them are
        /// listed for the first time by the cohort (``FirstListing``).
        public struct PracticeCount: Codable, Sendable, Equatable {
            public var practiceID: String
            public var invited: Int
            public var newlyEligible: Int
            enum CodingKeys: String, CodingKey { case practiceID = "practice_id", invited, newlyEligible = "newly_eligible" }

            public init(practiceID: String, invited: Int, newlyEligible: Int) {
                self.practiceID = practiceID
                self.invited = invited
                self.newlyEligible = newlyEligible
            }
        }

        public var status: RunManifest.Status
        public var cohort: String
        public var version: String
        public var cohortSHA256: String
        public var indexDate: String
        public var historyAsOf: String
        public var parameters: [String: Int]
        public var codeLists: [CodeListUsed]
        public var practices: [PracticeSnapshot]
        public var invited: Int
        /// The invitees listed for the first time by the cohort, in total.
        public var newlyEligible: Int
        /// Invited and newly eligible per practice, in byte order of practice id.
        public var byPractice: [PracticeCount]
        public var steps: [Step]
        public var outputs: [String: String]
        public var outputSHA256: [String: String]
        public var auditEntry: Int
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case status, cohort, version, cohortSHA256 = "cohort_sha256", indexDate = "index_date", historyAsOf = "history_as_of"
            case parameters, codeLists = "codelists", practices, invited, newlyEligible = "newly_eligible", byPractice = "by_practice"
            case steps, outputs, outputSHA256 = "output_sha256"
            case auditEntry = "audit_entry", seconds
        }
    }

    /// Loads and validates the cohort file with the request's parameters and code lists.
    public static func resolve(_ request: Request) throws -> ResolvedCohort {
        do {
            let definition = try CohortParser.parse(fileAt: request.cohortFile)
            return try CohortValidator.resolve(definition, overrides: request.parameters, codeLists: request.codeLists,
                                              safeguards: request.safeguards)
        } catch let error as CohortDefinitionError {
            throw error.recruitError
        }
    }
}
