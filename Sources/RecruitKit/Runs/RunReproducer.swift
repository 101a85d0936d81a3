import Foundation
import Logging
import Postgres

/// Evaluates a recorded run again with the inputs it recorded — the same
/// snapshots (loads), the same code-list versions (from the stored codes), the
/// same definition text, parameters and index date, and the run history as it
/// stood when the run was made (which never includes the run itself) — and
/// compares the output files' SHA-256 with the run's. The lists print the
/// first-listed flags the run stored (``FirstListing/recorded(runID:on:)``).
public struct RunReproducer {
    public let database: Database
    public let logger: Logger
    /// Told each stage (evaluating again, writing, comparing).
    public var progress: (any StageProgress)?

    public init(database: Database, logger: Logger, progress: (any StageProgress)? = nil) {
        self.database = database
        self.logger = logger
        self.progress = progress
    }

    /// The result of a reproduction.
    public struct Reproduction: Sendable, Codable {
        public enum Result: String, Sendable, Codable {
            /// Every output file has the run's SHA-256.
            case identical
            /// Some output differs.
            case different
        }

        public var runID: Int
        public var result: Result
        public var outputDirectory: String
        /// Output files whose SHA-256 differs (or that one side lacks).
        public var differing: [String]
        public var compared: Int
        /// Practices whose current snapshot is no longer the run's (the run's load was still there and was used).
        public var replacedSnapshots: [RecordedSnapshots.Replaced]
        public var invited: Int
        public var recordedInvited: Int
        public var auditEntry: Int

        enum CodingKeys: String, CodingKey {
            case runID = "run_id", result, outputDirectory = "output_dir", differing, compared
            case replacedSnapshots = "replaced_snapshots", invited, recordedInvited = "recorded_invited", auditEntry = "audit_entry"
        }
    }

    /// Reads the recorded run's cohort definition and code lists and resolves them as the run did.
    public static func resolveCohort(of run: RunRecord, on connection: Connection) throws -> ResolvedCohort {
        guard let text = try connection.query("""
            SELECT definition FROM cohort_definitions WHERE cohort_sha256 = \(run.cohortSHA256)
            """).first?.string("definition") else {
            throw RecruitError.refused("run \(run.runID): its cohort definition (SHA-256 \(run.cohortSHA256)) is not stored")
        }
        let lists = try StoredCodeListSource(recorded: run.codelists, on: connection)
        do {
            let definition = try CohortParser.parse(data: Data(text.utf8), file: "\(run.cohortName) \(run.cohortVersion) (stored with run \(run.runID))")
            guard definition.sha256 == run.cohortSHA256 else {
                throw RecruitError.refused("run \(run.runID): the stored definition text no longer hashes to \(run.cohortSHA256)")
            }
            return try CohortValidator.resolve(definition, overrides: run.parameters, codeLists: lists, safeguards: run.safeguards)
        } catch let error as CohortDefinitionError {
            throw error.recruitError
        }
    }

    /// Evaluates run `run` again on its recorded inputs (the practices' locks
    /// held; must not be called inside a transaction).
    ///
    /// - Throws: ``RecruitError`` (refused) when a snapshot the run used has been dropped.
    public static func evaluate(_ run: RunRecord, cohort: ResolvedCohort, on database: Database, logger: Logger) throws -> CohortEvaluation {
        try RecordedSnapshots.reading(run, on: database) {
            try SQLEngine(cohort: cohort, logger: logger).evaluate(
                on: database, indexDate: run.indexDate, practices: run.practiceIDs, historyAsOf: run.historyAsOf,
                ignoredRunIDs: run.ignoredRunIDs)
        }
    }

    /// Reproduces run `runID`, writing the outputs to `directory` (a new
    /// temporary folder when nil), and appends a `run.reproduce` audit entry.
    ///
    /// - Throws: ``RecruitError`` (refused) when the run cannot be evaluated
    ///   again (a snapshot dropped or replaced, a definition or code list missing).
    public func reproduce(_ runID: Int, into directory: URL?, wait: Bool) throws -> Reproduction {
        let c = database.connection
        let run = try RunRecord.load(runID, on: c)
        let out = (directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("recruit-reproduce-\(runID)-\(UUID().uuidString.prefix(8))"))
            .standardizedFileURL
        if let recorded = run.outputDirectory, URL(fileURLWithPath: recorded).standardizedFileURL == out {
            throw RecruitError.refused("\(out.path) is run \(runID)'s own output folder: reproduce into another folder",
                                       remedy: .give(.outputFolder))
        }
        try RunRecorder.checkOutputFolder(out)
        return try PracticeLocks.holding(run.practiceIDs, on: database, wait: wait, holder: "recruit: reproducing run \(runID)", logger: logger) {
            let (missing, replaced) = try RecordedSnapshots.check(run, on: database)
            if !missing.isEmpty {
                let reason = RecordedSnapshots.gone(missing, of: run)
                try AuditLog.append(on: c, action: "run.reproduce", subjects: ["run_id": .int(runID)],
                                    payload: ["run_id": .int(runID), "result": "not_reproducible", "reason": .string(reason)])
                throw RecruitError.refused("run \(runID) cannot be reproduced: the data it used is gone: \(reason)")
            }
            progress?.stage("evaluating run \(runID) again on its recorded inputs", total: nil)
            let cohort = try Self.resolveCohort(of: run, on: c)
            let evaluation = try Self.evaluate(run, cohort: cohort, on: database, logger: logger)
            progress?.stage("writing and comparing the outputs", total: nil)
            // The flags the run recorded, never recomputed against what was issued or imported since
            // (nil for a run recorded before them: its lists had no first_listed column).
            let listing = try FirstListing.recorded(runID: runID, on: c)
            let hashes = try RunOutputWriter.write(evaluation, firstListing: listing, to: out)
            let paths = Set(hashes.keys).union(run.outputs.keys).sorted()
            let differing = paths.filter { hashes[$0] != run.outputs[$0] }
            var manifest = RunManifest(
                runID: nil, status: .reproduction, reproducesRunID: runID,
                cohort: .init(name: cohort.name, version: cohort.version, sha256: cohort.definition.sha256, file: nil),
                parameters: cohort.parameters,
                options: .init(maxExtractAgeDays: run.maxExtractAgeDays ?? SnapshotStaleness.defaultMaxExtractAgeDays,
                               allowStale: run.allowStale, practicesRequested: run.requestedPractices, supersedesRunID: run.supersedesRunID),
                indexDate: evaluation.indexDate, historyAsOf: evaluation.historyAsOf, codelists: run.codelists,
                snapshots: run.practices.map { .init(practiceID: $0.practiceID, loadID: $0.loadID, extractDate: $0.extractDate, stale: $0.stale) },
                toolVersion: ToolInfo.version, osUser: ToolInfo.osUser, startedAt: RunManifest.now(), finishedAt: RunManifest.now(),
                issuedAt: nil, counts: RunManifest.counts(of: evaluation, firstListing: listing), outputs: hashes)
            manifest.finishedAt = RunManifest.now()
            let text = try manifest.jsonText()
            let result: Reproduction.Result = differing.isEmpty ? .identical : .different
            let entry = try AuditLog.append(on: c, action: "run.reproduce", subjects: ["run_id": .int(runID)], payload: [
                "run_id": .int(runID), "result": .string(result.rawValue), "output_dir": .string(out.path),
                "differing": .array(differing.map(JSONValue.string)), "outputs": .object(hashes.mapValues(JSONValue.string)),
                "run_json_sha256": .string(Hashing.sha256Hex(text)),
                "replaced_snapshots": .array(replaced.map { .string($0.practiceID) }),
            ])
            try RunOutputWriter.writeFile(text, to: out, RunOutputWriter.runFile)
            logger.info("run reproduced", metadata: ["run_id": "\(runID)", "result": "\(result.rawValue)", "differing": "\(differing.count)"])
            return Reproduction(runID: runID, result: result, outputDirectory: out.path, differing: differing, compared: paths.count,
                                replacedSnapshots: replaced, invited: evaluation.invitations.count, recordedInvited: run.invited,
                                auditEntry: entry)
        }
    }
}
