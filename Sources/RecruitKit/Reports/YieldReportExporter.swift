import Foundation
import Logging
import Postgres

/// Writes a yield report's files and records the export in the audit trail.
public enum YieldReportExporter {
    /// The files a yield report's export writes, in this order.
    public static let fileNames = ["attrition.csv", "funnel.csv", "proxy.csv", "flow.csv", "comparison.csv", "yields.json", "report.html"]

    /// Which report is exported: the whole yield report, or its proxy table alone.
    public enum Kind: String, Sendable {
        case yields
        case proxy

        /// The files it writes, in this order.
        public var fileNames: [String] {
            switch self {
            case .yields: return YieldReportExporter.fileNames
            case .proxy: return ["proxy.csv"]
            }
        }
    }

    /// What an export did.
    public struct Result: Codable, Sendable {
        public var cohortName: String
        public var runIDs: [Int]
        /// nil: nothing written (the report was only shown).
        public var outDirectory: String?
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

    /// Reads the runs, builds the report and writes its files: for the yield
    /// report `DIR/attrition.csv`, `DIR/funnel.csv`, `DIR/proxy.csv`,
    /// `DIR/yields.json` and `DIR/report.html`; for the proxy report
    /// `DIR/proxy.csv`, or nothing when `outDirectory` is nil (the counts are
    /// only shown, and the audit entry still records that they were).
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
    ///   - kind: the yield report or the proxy table.
    ///   - outDirectory: the folder to write (created if missing; the kind's files are replaced), or nil to write nothing.
    ///   - suppression: the rule, or nil for `--no-suppression` (recorded in the audit entry).
    ///   - cohortsDirectory: where to look for the default cohort (default `./cohorts`).
    ///   - now: the report's time stamp.
    ///   - logger: facts only, never a count of a practice.
    /// - Returns: the published report and what was written.
    /// - Throws: ``RecruitError`` when the selection is refused or the folder cannot be written.
    public static func export(database: Database, selection: YieldSelection, kind: Kind = .yields, outDirectory: URL?,
                              suppression: SmallNumberSuppression?, cohortsDirectory: URL? = nil,
                              now: Date = Date(), logger: Logger, progress: (any StageProgress)? = nil) throws -> (report: YieldReport, result: Result) {
        progress?.stage("reading the runs' yields and outcomes", total: nil)
        let data = try YieldData.load(from: database.connection, selection: selection, cohortsDirectory: cohortsDirectory)
        progress?.stage("building the report (small numbers suppressed: \(suppression == nil ? "no" : "yes"))", total: nil)
        let report = try YieldReport.build(from: data, suppression: suppression, generatedAt: now)
        if kind == .proxy, report.proxy == nil {
            throw RecruitError.refused("no selected run of \(data.cohortName) has the criterion '\(selection.proxyCriterion)' "
                                       + "(see: recruit cohort explain); nothing was written")
        }
        logger.info("yield report built", metadata: [
            "report": .string(kind.rawValue), "cohort": .string(data.cohortName), "runs": .stringConvertible(data.runs.count),
            "suppression": .stringConvertible(suppression != nil),
            "small_counts": .stringConvertible(report.suppression.smallCounts),
            "secondary_counts": .stringConvertible(report.suppression.secondaryCounts),
        ])

        // Only the files written are rendered (the proxy report writes one, or none).
        func contents(_ name: String) throws -> Data {
            switch name {
            case "attrition.csv": return Data(report.attritionCSV.utf8)
            case "funnel.csv": return Data(report.funnelCSV.utf8)
            case "proxy.csv": return Data(report.proxyCSV.utf8)
            case "flow.csv": return Data(report.flowCSV.utf8)
            case "comparison.csv": return Data(report.comparisonCSV.utf8)
            case "yields.json":
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                return try encoder.encode(report) + Data("\n".utf8)
            case "report.html": return Data(report.html.utf8)
            default: preconditionFailure("not a report file: \(name)")
            }
        }
        let dir = outDirectory?.standardizedFileURL
        let files = dir == nil ? [] : kind.fileNames
        let token = UUID().uuidString.prefix(8)
        var temporary: [String: URL] = [:]
        defer { for url in temporary.values { try? FileManager.default.removeItem(at: url) } }
        var hashes: [String: String] = [:]
        if let dir {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw RecruitError.refused("\(dir.path) exists and is not a folder")
            }
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            } catch {
                throw RecruitError.refused("cannot create \(dir.path): \(error.localizedDescription)", underlying: error)
            }
            for name in files {
                let url = dir.appendingPathComponent(".\(name).\(token).tmp")
                let bytes = try contents(name)
                do {
                    try bytes.write(to: url)
                } catch {
                    throw RecruitError.refused("cannot write \(dir.appendingPathComponent(name).path): \(error.localizedDescription)", underlying: error)
                }
                temporary[name] = url
                hashes[name] = Hashing.sha256Hex(bytes)
            }
        }

        let runIDs = data.runs.map(\.id)
        var payload: [String: JSONValue] = [
            "report": .string(kind.rawValue),
            "cohort": .string(data.cohortName),
            "cohort_versions": .array(report.cohortVersions.map { .string($0) }),
            "run_ids": .array(runIDs.map { .int($0) }),
            "selection": [
                "cohort": selection.cohort.map { .string($0) } ?? .null,
                "runs": .array(selection.runIDs.map { .int($0) }),
                "since": selection.since.map { .string($0.description) } ?? .null,
                "proxy_criterion": .string(selection.proxyCriterion),
            ],
            "out": dir.map { .string($0.path) } ?? .null,
            "files": .object(hashes.mapValues { .string($0) }),
            "suppression": .bool(suppression != nil),
            "small_counts": .int(report.suppression.smallCounts),
            "secondary_counts": .int(report.suppression.secondaryCounts),
            "tool_version": .string(ToolInfo.version),
        ]
        if suppression == nil {
            payload["no_suppression"] = "exact counts exported with suppression turned off: for use inside the practice only"
        }
        let entry = try AuditLog.append(on: database.connection, action: "report.export",
                                        subjects: ["run_ids": .array(runIDs.map { .int($0) })], payload: .object(payload))

        for name in files {
            let target = dir!.appendingPathComponent(name)
            guard rename(temporary[name]!.path, target.path) == 0 else {
                throw RecruitError.environment("cannot move \(name) into \(target.deletingLastPathComponent().path): \(String(cString: strerror(errno))) (audit entry \(entry) records the export)")
            }
            temporary[name] = nil
        }
        logger.info("yield report written", metadata: ["out": .string(dir?.path ?? "-"), "audit_entry": .stringConvertible(entry)])
        return (report, Result(cohortName: data.cohortName, runIDs: runIDs, outDirectory: dir?.path, files: hashes,
                               suppression: suppression != nil, smallCounts: report.suppression.smallCounts,
                               secondaryCounts: report.suppression.secondaryCounts, auditEntryID: entry))
    }
}
