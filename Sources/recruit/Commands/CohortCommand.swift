import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct CohortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Check a cohort definition, print its SQL, or explain it as protocol text.",
        discussion: "Exit codes: 0 done; 1 the definition has problems (each reported as FILE:LINE:COLUMN: message); 2 usage.",
        subcommands: [Check.self, PrintSQL.self, Plan.self, Explain.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a cohort file: its shape, types, parameters, windows and code lists.")
        @OptionGroup var cohort: CohortOptions
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            do {
                let definition = try CohortParser.parse(fileAt: cohort.fileURL)
                let resolved = try CohortValidator.resolve(definition, overrides: try cohort.parameters(), codeLists: cohort.codeListSource,
                                                           safeguards: try cohort.safeguards())
                if json {
                    let lists: [JSONValue] = resolved.codeLists.map {
                        ["name": .string($0.name), "sha256": .string($0.sha256), "codes": .int($0.codes.count)]
                    }
                    try Output.json([
                        "ok": true, "file": .string(cohort.file), "name": .string(resolved.name), "version": .string(resolved.version),
                        "sha256": .string(definition.sha256), "criteria": .array(resolved.criteria.map { .string($0.id) }),
                        "parameters": .object(resolved.parameters.mapValues { .int($0) }), "codelists": .array(lists),
                    ] as [String: JSONValue])
                } else {
                    Output.line("\(cohort.file): \(resolved.name) \(resolved.version): \(resolved.criteria.count) criteria, "
                                + "\(resolved.parameters.count) parameters, \(resolved.codeLists.count) code lists: OK")
                }
            } catch let error as CohortDefinitionError {
                if json {
                    let problems: [JSONValue] = error.diagnostics.map {
                        ["file": .string($0.location.file), "line": .int($0.location.line), "column": .int($0.location.column),
                         "message": .string($0.message)]
                    }
                    try Output.json(["ok": false, "problems": .array(problems)] as [String: JSONValue])
                    throw ExitCode(1)
                }
                throw error.recruitError
            }
        }
    }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the plan of the run's statement on the loaded snapshots (EXPLAIN, nothing executed).",
            discussion: """
                The same scope, session settings and statement as 'recruit run'. On a Citus coordinator the plan \
                shows the tasks sent to the workers (docs/scaling.md).
                """)
        @OptionGroup var cohort: CohortOptions
        @Option(help: ArgumentHelp("The index date D (default: the loaded snapshots' extract date).", valueName: "YYYY-MM-DD"))
        var indexDate: String?
        @Option(name: .customLong("practice"), parsing: .upToNextOption, help: ArgumentHelp("Restrict to these practices (repeatable).", valueName: "id"))
        var practices: [String] = []
        @OptionGroup var global: GlobalOptions

        func validate() throws { _ = try parseIndexDate(indexDate) }

        func run() throws {
            let resolved = try CohortRun.resolve(.init(cohortFile: cohort.fileURL, codeLists: cohort.codeListSource,
                                                      outputDirectory: URL(fileURLWithPath: "."), parameters: try cohort.parameters(),
                                                      safeguards: try cohort.safeguards()))
            let db = try global.openDatabase()
            defer { db.close() }
            let plan = try SQLEngine(cohort: resolved, logger: global.logger)
                .plan(on: db, indexDate: try parseIndexDate(indexDate), practices: practices.isEmpty ? nil : practices,
                      historyAsOf: try ContactHistory.instant(db))
            Output.line(plan)
        }
    }

    struct PrintSQL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sql",
            abstract: "Print the one SQL statement a run executes, and its bound parameters.",
            discussion: "Every value is a bound parameter ($n); the statement text depends only on the definition's shape.")
        @OptionGroup var cohort: CohortOptions
        @Option(help: ArgumentHelp("The index date D (default at run time: the loaded snapshots' extract date).", valueName: "YYYY-MM-DD"))
        var indexDate: String?
        @Option(name: .customLong("practice"), parsing: .upToNextOption, help: ArgumentHelp("Restrict to these practices (repeatable).", valueName: "id"))
        var practices: [String] = []
        @Flag(help: "Print the steps-per-patient statement instead of the run statement.") var steps = false
        @Option(help: ArgumentHelp("How records are read: by_code (an index probe per code; the default) or scan (a join with the codes; on Citus always).",
                                   valueName: "access"))
        var recordAccess: String = CohortQueryContext.RecordAccess.byCode.rawValue
        @Flag(help: "Print the statement, its parameters and the session settings a run applies as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            _ = try parseIndexDate(indexDate)
            if CohortQueryContext.RecordAccess(rawValue: recordAccess) == nil {
                throw ValidationError("--record-access must be by_code or scan")
            }
        }

        func run() throws {
            let resolved = try CohortRun.resolve(.init(cohortFile: cohort.fileURL, codeLists: cohort.codeListSource,
                                                      outputDirectory: URL(fileURLWithPath: "."), parameters: try cohort.parameters(),
                                                      safeguards: try cohort.safeguards()))
            let context = CohortQueryContext(indexDate: try parseIndexDate(indexDate), practices: practices.isEmpty ? nil : practices,
                                             historyAsOf: nil, recordAccess: CohortQueryContext.RecordAccess(rawValue: recordAccess)!)
            let query = CohortSQLCompiler.compile(resolved, context: context, shape: steps ? .steps : .run)
            let sql = query.statement.sql
            let binds = sql.binds
            if json {
                let parameters: [JSONValue] = binds.enumerated().map { i, b in
                    ["n": .int(i + 1), "type": .string(Self.typeName(b.oid)), "value": b.text.map { .string($0) } ?? .null,
                     "note": .string(query.statement.notes[i])]
                }
                let settings: [JSONValue] = SQLEngine.sessionSettings.map { ["name": .string($0.0), "value": .string($0.1)] }
                try Output.json(["sql": .string(sql.render()), "parameters": .array(parameters),
                                 "session_settings": .array(settings)] as [String: JSONValue])
                return
            }
            Output.line("-- \(resolved.name) \(resolved.version): \(resolved.criteria.count) criteria, one statement")
            Output.line("-- run with: " + SQLEngine.sessionSettings.map { "SET \($0.0) = '\($0.1)';" }.joined(separator: " "))
            Output.line(sql.render() + ";")
            Output.line("-- parameters")
            for (i, b) in binds.enumerated() {
                Output.line("-- $\(i + 1) \(Self.typeName(b.oid)) = \(Self.shortValue(b))  -- \(query.statement.notes[i])")
            }
        }

        static func typeName(_ oid: UInt32) -> String {
            switch oid {
            case 20: return "int8"
            case 23: return "int4"
            case 1082: return "date"
            case 1016: return "int8[]"
            case 1009: return "text[]"
            case 16: return "bool"
            default: return "text"
            }
        }

        static func shortValue(_ b: PostgresBind) -> String {
            guard let text = b.text else { return "NULL" }
            guard text.count > 100 else { return text }
            return String(text.prefix(100)) + "… (\(text.count) characters)"
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the criteria as numbered plain-English protocol text (for a CONSORT box or an ethics form).")
        @Argument(help: ArgumentHelp("The cohort definition file.", valueName: "file")) var file: String
        @Option(name: .customLong("param"), help: ArgumentHelp("Override a parameter of the cohort file (repeatable).", valueName: "name=value"))
        var parameterOverrides: [String] = []
        @Option(name: .customLong("settings"), help: ArgumentHelp(deploymentSettingsHelp, valueName: "file"))
        var settingsFile: String?
        @Flag(help: "Print the text and the criteria as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let options = try CohortOptions.parse([file] + parameterOverrides.flatMap { ["--param", $0] })
            let definition: CohortDefinition
            let resolved: ResolvedCohort
            do {
                definition = try CohortParser.parse(fileAt: options.fileURL)
                // The explanation names the code lists; it does not need their codes.
                resolved = try CohortValidator.resolve(definition, overrides: try options.parameters(), codeLists: NamedCodeLists(),
                                                       safeguards: try loadSafeguards(settingsFile))
            } catch let error as CohortDefinitionError {
                throw error.recruitError
            }
            let text = CohortExplainer.text(resolved)
            if json {
                let criteria: [JSONValue] = resolved.criteria.map {
                    ["step": .int($0.step), "id": .string($0.id), "label": .string($0.label), "effect": .string($0.effect.rawValue),
                     "text": .string(CohortExplainer.phrase($0.condition))]
                }
                try Output.json(["name": .string(resolved.name), "version": .string(resolved.version), "text": .string(text),
                                 "criteria": .array(criteria)] as [String: JSONValue])
            } else {
                print(text, terminator: "")
            }
        }
    }
}

/// Every name is a (codeless) list: for explaining a definition without its code lists.
struct NamedCodeLists: CohortCodeListSource {
    var summary: String { "(not read)" }
    func codeList(named name: String) throws -> ResolvedCodeList? { ResolvedCodeList(name: name, sha256: "", codes: []) }
}
