import Foundation
import Logging
import Postgres

/// Writes a yield report's four files and records the export in the audit trail.
public enum YieldReportExporter {
    /// The files an export writes, in this order.
    public static let fileNames = ["attrition.csv", "funnel.csv", "yields.json", "report.html"]

    /// What an export did.
    public struct Result: Codable, Sendable {
        public var cohortName: String
        public var runIDs: [Int]
        public var outDirectory: String
        /// File name → SHA-256 of its bytes.
        public var files: [String: String]
        public var suppression: Bool
        public var smallCounts: Int
        public var secondaryCounts: Int
        public var auditEntryID: Int

        enum CodingKeys: String, CodingKey {
            case cohortName = "cohort", runIDs = "run_ids", outDirectory = "out", files, suppression
            case smallCounts = "small_counts", secondaryCounts = "secondary_counts", auditEntryID = "audit_entry_id"
        }
    }

    /// Reads the runs, builds the report and writes `DIR/attrition.csv`,
    /// `DIR/funnel.csv`, `DIR/yields.json` and `DIR/report.html`.
    ///
    /// The files are written under temporary names first; the audit entry
    /// (action `report.export`, with every file's SHA-256 and whether
    /// suppression was applied) is appended next, and only then are the files
    /// moved into place. So a failed export leaves neither files nor an entry,
    /// and every file in place has its entry.
    ///
    /// - Parameters:
    ///   - database: the project database.
    ///   - selection: the cohort and runs to report.
    ///   - outDirectory: the folder to write (created if missing; these four files are replaced).
    ///   - suppression: the rule, or nil for `--no-suppression` (recorded in the audit entry).
    ///   - cohortsDirectory: where to look for the default cohort (default `./cohorts`).
    ///   - now: the report's time stamp.
    ///   - logger: facts only, never a count of a practice.
    /// - Returns: the published report and what was written.
    /// - Throws: ``RecruitError`` when the selection is refused or the folder cannot be written.
    public static func export(database: Database, selection: YieldSelection, outDirectory: URL,
                              suppression: SmallNumberSuppression?, cohortsDirectory: URL? = nil,
                              now: Date = Date(), logger: Logger) throws -> (report: YieldReport, result: Result) {
        let data = try YieldData.load(from: database.connection, selection: selection, cohortsDirectory: cohortsDirectory)
        let report = try YieldReport.build(from: data, suppression: suppression, generatedAt: now)
        logger.info("yield report built", metadata: [
            "cohort": .string(data.cohortName), "runs": .stringConvertible(data.runs.count),
            "suppression": .stringConvertible(suppression != nil),
            "small_counts": .stringConvertible(report.suppression.smallCounts),
            "secondary_counts": .stringConvertible(report.suppression.secondaryCounts),
        ])

        let dir = outDirectory.standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw RecruitError.refused("\(dir.path) exists and is not a folder")
        }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw RecruitError.refused("cannot create \(dir.path): \(error.localizedDescription)")
        }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let contents: [String: Data] = [
            "attrition.csv": Data(report.attritionCSV.utf8),
            "funnel.csv": Data(report.funnelCSV.utf8),
            "yields.json": try encoder.encode(report) + Data("\n".utf8),
            "report.html": Data(report.html.utf8),
        ]
        let token = UUID().uuidString.prefix(8)
        var temporary: [String: URL] = [:]
        defer { for url in temporary.values { try? FileManager.default.removeItem(at: url) } }
        var hashes: [String: String] = [:]
        for name in fileNames {
            let url = dir.appendingPathComponent(".\(name).\(token).tmp")
            do {
                try contents[name]!.write(to: url)
            } catch {
                throw RecruitError.refused("cannot write \(dir.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
            temporary[name] = url
            hashes[name] = Hashing.sha256Hex(contents[name]!)
        }

        let runIDs = data.runs.map(\.id)
        var payload: [String: JSONValue] = [
            "report": "yields",
            "cohort": .string(data.cohortName),
            "cohort_versions": .array(report.cohortVersions.map { .string($0) }),
            "run_ids": .array(runIDs.map { .int($0) }),
            "selection": [
                "cohort": selection.cohort.map { .string($0) } ?? .null,
                "runs": .array(selection.runIDs.map { .int($0) }),
                "since": selection.since.map { .string($0.description) } ?? .null,
            ],
            "out": .string(dir.path),
            "files": .object(hashes.mapValues { .string($0) }),
            "suppression": .bool(suppression != nil),
            "small_counts": .int(report.suppression.smallCounts),
            "secondary_counts": .int(report.suppression.secondaryCounts),
            "tool_version": .string(ToolInfo.version),
        ]
        if suppression == nil {
            payload["no_suppression"] = "exact counts exported with --no-suppression: for use inside the practice only"
        }
        let entry = try AuditLog.append(on: database.connection, action: "report.export",
                                        subjects: ["run_ids": .array(runIDs.map { .int($0) })], payload: .object(payload))

        for name in fileNames {
            let target = dir.appendingPathComponent(name)
            guard rename(temporary[name]!.path, target.path) == 0 else {
                throw RecruitError.environment("cannot move \(name) into \(dir.path): \(String(cString: strerror(errno))) (audit entry \(entry) records the export)")
            }
            temporary[name] = nil
        }
        logger.info("yield report written", metadata: ["out": .string(dir.path), "audit_entry": .stringConvertible(entry)])
        return (report, Result(cohortName: data.cohortName, runIDs: runIDs, outDirectory: dir.path, files: hashes,
                               suppression: suppression != nil, smallCounts: report.suppression.smallCounts,
                               secondaryCounts: report.suppression.secondaryCounts, auditEntryID: entry))
    }
}
