import ArgumentParser
import Foundation
import Postgres
import RecruitKit

/// Options shared by the commands that read a cohort file.
struct CohortOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The cohort definition file (cohorts/NAME.yaml).", valueName: "file"))
    var file: String

    @Option(name: .customLong("codelists"), help: ArgumentHelp("The code-list directory (NAME.csv per list).", valueName: "dir"))
    var codeLists = "codelists"

    @Option(name: .customLong("param"), help: ArgumentHelp("Override a parameter of the cohort file (repeatable).", valueName: "name=value"))
    var parameterOverrides: [String] = []

    @Option(name: .customLong("settings"), help: ArgumentHelp(deploymentSettingsHelp, valueName: "file"))
    var settingsFile: String?

    func validate() throws {
        _ = try parameters()
    }

    /// The deployment's safeguards (``loadSafeguards(_:)``).
    func safeguards() throws -> Safeguards { try loadSafeguards(settingsFile) }

    var fileURL: URL { URL(fileURLWithPath: file) }

    var codeListSource: DirectoryCodeListSource { DirectoryCodeListSource(directory: URL(fileURLWithPath: codeLists)) }

    /// `--param name=value` as a dictionary.
    func parameters() throws -> [String: Int] { try parseParameterOverrides(parameterOverrides) }
}

let deploymentSettingsHelp = "The deployment settings: the safeguards every cohort gets (default recruit.yaml in the current folder when there is one, else the built-in ones)."

/// The safeguards of the deployment file `path`, else of `recruit.yaml` in the
/// current folder when it exists, else the built-in ones.
func loadSafeguards(_ path: String?) throws -> Safeguards {
    if let path { return try Safeguards.load(from: URL(fileURLWithPath: path)) }
    let local = URL(fileURLWithPath: "recruit.yaml")
    return FileManager.default.fileExists(atPath: local.path) ? try Safeguards.load(from: local) : .defaults
}

/// The deployment's reason codes (``ReasonCodes``): of the file `path`, else of `recruit.yaml` here, else the built-in ones.
func loadReasonCodes(_ path: String?) throws -> ReasonCodes {
    if let path { return try ReasonCodes.load(from: URL(fileURLWithPath: path)) }
    let local = URL(fileURLWithPath: "recruit.yaml")
    return FileManager.default.fileExists(atPath: local.path) ? try ReasonCodes.load(from: local) : .defaults
}

/// Parses `--param name=value` options (whole, non-negative numbers; each name once).
func parseParameterOverrides(_ overrides: [String]) throws -> [String: Int] {
    var out: [String: Int] = [:]
    for text in overrides {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]), value >= 0 else {
            throw ValidationError("--param \(text): expected name=value with a whole number value")
        }
        guard out[parts[0]] == nil else { throw ValidationError("--param \(parts[0]) is given twice") }
        out[parts[0]] = value
    }
    return out
}

/// Parses `--index-date` values.
func parseIndexDate(_ text: String?) throws -> LocalDate? {
    guard let text else { return nil }
    guard let date = LocalDate(iso: text) else { throw ValidationError("--index-date \(text): expected a date as YYYY-MM-DD") }
    return date
}
