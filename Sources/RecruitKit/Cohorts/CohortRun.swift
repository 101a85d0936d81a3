import Foundation
import Logging
import Postgres

/// A run of a cohort: evaluate, write the outputs, record it.
///
/// In this version every run is a dry run: the outputs are written and nothing
/// but an audit entry is recorded (issuing, superseding and reproducing come
/// with the runs issue, which extends this type).
public struct CohortRun {
    /// What to run.
    public struct Request {
        public var cohortFile: URL
        public var codeLists: any CohortCodeListSource
        public var outputDirectory: URL
        public var indexDate: LocalDate?
        public var practices: [String]?
        public var parameters: [String: Int]

        public init(cohortFile: URL, codeLists: any CohortCodeListSource, outputDirectory: URL, indexDate: LocalDate? = nil,
                    practices: [String]? = nil, parameters: [String: Int] = [:]) {
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

        public var status: String
        public var cohort: String
        public var version: String
        public var cohortSHA256: String
        public var indexDate: String
        public var historyAsOf: String
        public var parameters: [String: Int]
        public var codeLists: [CodeListUsed]
        public var practices: [PracticeSnapshot]
        public var invited: Int
        public var steps: [Step]
        public var outputs: [String: String]
        public var outputSHA256: [String: String]
        public var auditEntry: Int
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case status, cohort, version, cohortSHA256 = "cohort_sha256", indexDate = "index_date", historyAsOf = "history_as_of"
            case parameters, codeLists = "codelists", practices, invited, steps, outputs, outputSHA256 = "output_sha256"
            case auditEntry = "audit_entry", seconds
        }
    }

    public let database: Database
    public let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Loads and validates the cohort file with the request's parameters and code lists.
    public static func resolve(_ request: Request) throws -> ResolvedCohort {
        do {
            let definition = try CohortParser.parse(fileAt: request.cohortFile)
            return try CohortValidator.resolve(definition, overrides: request.parameters, codeLists: request.codeLists)
        } catch let error as CohortDefinitionError {
            throw error.recruitError
        }
    }

    /// Evaluates the cohort, writes `invitations.csv` and `yield.csv`, and appends a `run.dry_run` audit entry.
    ///
    /// - Throws: ``RecruitError``: refused (exit 1) for a bad cohort file, an
    ///   unknown practice or differing extract dates; environment (exit 2) when
    ///   the outputs cannot be written. Nothing is recorded when it throws.
    public func dryRun(_ request: Request) throws -> Summary {
        let started = Date()
        let cohort = try Self.resolve(request)
        let evaluation = try CohortEvaluator(cohort: cohort, logger: logger)
            .evaluate(on: database, indexDate: request.indexDate, practices: request.practices)
        let hashes = try CohortOutputWriter.write(evaluation, to: request.outputDirectory)
        let outputs = [
            "invitations": request.outputDirectory.appendingPathComponent(CohortOutputWriter.invitationsFile).path,
            "yield": request.outputDirectory.appendingPathComponent(CohortOutputWriter.yieldFile).path,
        ]
        let labels = Dictionary(uniqueKeysWithValues: cohort.criteria.map { ($0.step, $0.label) })
        let steps = evaluation.totals.map {
            Summary.Step(step: $0.step, criterion: $0.criterion, label: labels[$0.step] ?? "in the extract", remaining: $0.remaining)
        }
        let lists = cohort.codeLists.map {
            Summary.CodeListUsed(name: $0.name, sha256: $0.sha256, expandedSHA256: $0.expandedSHA256, codes: $0.codes.count)
        }
        var summary = Summary(
            status: "dry_run", cohort: cohort.name, version: cohort.version, cohortSHA256: cohort.definition.sha256,
            indexDate: evaluation.indexDate.description, historyAsOf: evaluation.historyAsOf, parameters: cohort.parameters,
            codeLists: lists, practices: evaluation.practices, invited: evaluation.invitations.count, steps: steps,
            outputs: outputs, outputSHA256: hashes, auditEntry: 0, seconds: 0)
        var payload = try JSONValue.encoding(summary)
        if case .object(var o) = payload {
            o["audit_entry"] = nil
            o["seconds"] = nil
            o["output_dir"] = .string(request.outputDirectory.path)
            payload = .object(o)
        }
        summary.auditEntry = try AuditLog.append(on: database.connection, action: "run.dry_run",
                                                 subjects: ["cohort_sha256": .string(cohort.definition.sha256),
                                                            "load_ids": .array(Array(Set(evaluation.practices.map(\.loadID))).sorted().map { .int($0) })],
                                                 payload: payload)
        summary.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        logger.info("dry run written", metadata: ["cohort": "\(cohort.name)", "invited": "\(evaluation.invitations.count)",
                                                  "out": "\(request.outputDirectory.path)"])
        return summary
    }
}
