import ArgumentParser
import Foundation
import RecruitKit

/// The cohort options of `recruit run`: those of ``CohortOptions``, with the
/// file optional because `recruit run --reproduce RUN_ID` reads the recorded
/// definition instead.
struct RunCohortOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The cohort definition file (cohorts/NAME.yaml); not with --reproduce.", valueName: "file"))
    var file: String?

    @Option(name: .customLong("codelists"), help: ArgumentHelp("The code-list directory (NAME.csv per list).", valueName: "dir"))
    var codeLists = "codelists"

    @Option(name: .customLong("param"), help: ArgumentHelp("Override a parameter of the cohort file (repeatable).", valueName: "name=value"))
    var parameterOverrides: [String] = []

    @Option(name: .customLong("settings"), help: ArgumentHelp(deploymentSettingsHelp, valueName: "file"))
    var settingsFile: String?

    var fileURL: URL { URL(fileURLWithPath: file ?? "") }

    /// The deployment's safeguards (``loadSafeguards(_:)``).
    func safeguards() throws -> Safeguards { try loadSafeguards(settingsFile) }

    var codeListSource: DirectoryCodeListSource { DirectoryCodeListSource(directory: URL(fileURLWithPath: codeLists)) }

    /// `--param name=value` as a dictionary (the same rules as ``CohortOptions/parameters()``).
    func parameters() throws -> [String: Int] { try parseParameterOverrides(parameterOverrides) }
}
