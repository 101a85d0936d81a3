import ArgumentParser
import Foundation
import Logging
import Postgres
import RecruitKit

/// `recruit codelists`: check, import, compare and show the code lists.
struct CodeListsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codelists",
        abstract: "Check, import, compare and show code lists (codelists/NAME.csv, codelists.yaml, codelists.lock).",
        discussion: """
            Every command reads ./codelists unless given --codelists DIR (any folder in the same layout). \
            Exit codes: 0 ok; 1 problems found or input refused (nothing written); 2 usage or environment error. \
            See docs/codelists.md.
            """,
        subcommands: [Check.self, Import.self, Diff.self, List.self, Show.self, Lock.self]
    )
}

/// The option every code-list command takes.
struct CodeListFolderOptions: ParsableArguments {
    @Option(name: .customLong("codelists"), help: ArgumentHelp("The code-list folder (default ./codelists).", valueName: "dir"))
    var directory = "codelists"

    var url: URL { URL(fileURLWithPath: directory).standardizedFileURL }
}

extension CodeListsCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every list: files parse, codes are valid for their system, no duplicates, manifest and lock match.",
            discussion: """
                Read v2 and CTV3 codes: five characters of [A-Za-z0-9.], dots only as right padding. SNOMED CT and \
                dm+d ids: 6-18 digits, a concept id with a valid Verhoeff check digit. BNF: 15-character \
                presentation codes. ICD-10: A00, A00.0 or A000. Every problem is reported with file and line; \
                exit 1 when there is an error (warnings alone exit 0).
                """)
        @OptionGroup var folder: CodeListFolderOptions
        @Argument(help: "Lists to check (default: all).") var names: [String] = []
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let library = try CodeListLibrary(directory: folder.url)
            let report = try library.check(names: names.isEmpty ? nil : names)
            if json {
                try Output.json(report)
            } else {
                for p in report.problems { Output.line(p.description) }
                Output.line("\(report.lists.count) list(s) in \(folder.directory): \(report.errors.count) error(s), \(report.warnings.count) warning(s)" +
                            (report.locked ? "" : " (no lock)"))
            }
            if !report.ok {
                throw RecruitError.refused("codelists check: \(report.errors.count) problem(s) in \(folder.directory)")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace one coding system's codes of a list with a published file's, cleaning and recording it.",
            discussion: """
                FILE is an OpenCodelists CSV download (the code column is found by name: code, dmd_id, snomedcode, \
                CTV3ID, ...; or name it with --code-column) or a plain code,term file (comma- or tab-separated). \
                Cleans known defects and reports each: spaces and non-breaking spaces; 7- and 9-character Read v2 \
                codes (term ids) cut to five characters; codes without dot padding padded; repeated codes merged. \
                Writes NAME.csv, the manifest entry and the lock, and prints the diff against the previous version. \
                The system's status is reset to draft unless --status reviewed is given.
                """)
        @OptionGroup var folder: CodeListFolderOptions
        @Argument(help: "The list's name (its file is NAME.csv).") var name: String
        @Argument(help: "The file to import (omit with --empty).") var file: String?
        @Option(help: ArgumentHelp("The coding system of the file's codes: \(CodeSystem.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "system"))
        var system: String
        @Option(help: ArgumentHelp("Where the file comes from: a URL, or OWNER/REPO:PATH@COMMIT, or a sentence.", valueName: "source"))
        var source: String?
        @Option(help: ArgumentHelp("The version of the source (default: file-sha256:<first 12 hex digits of the file's SHA-256>).", valueName: "version"))
        var version: String?
        @Option(help: ArgumentHelp("The column holding the codes (default: found by name).", valueName: "column"))
        var codeColumn: String?
        @Option(help: ArgumentHelp("The column holding the terms (default: found by name).", valueName: "column"))
        var termColumn: String?
        @Option(name: .customLong("where"), help: ArgumentHelp("Keep only rows whose COLUMN equals VALUE (repeatable; all must hold).", valueName: "column=value"))
        var filters: [String] = []
        @Option(name: .customLong("drop"), help: ArgumentHelp("Leave CODE out (Read v2: with its descendants), with an optional reason; recorded in the manifest (repeatable).", valueName: "code[=reason]"))
        var drops: [String] = []
        @Option(name: .customLong("note"), help: ArgumentHelp("A choice made for these codes, recorded in the manifest (repeatable; replaces the previous notes).", valueName: "text"))
        var notes: [String] = []
        @Option(help: ArgumentHelp("The list's description, recorded in the manifest.", valueName: "text"))
        var description: String?
        @Option(help: ArgumentHelp("draft (default) or reviewed.", valueName: "status"))
        var status = "draft"
        @Option(help: ArgumentHelp("Who reviewed the codes (with --status reviewed).", valueName: "name"))
        var reviewer: String?
        @Option(help: ArgumentHelp("When the codes were reviewed, YYYY-MM-DD (with --status reviewed).", valueName: "date"))
        var reviewedOn: String?
        @Flag(help: "Record the system with no codes (no published list exists); give no FILE.")
        var empty = false
        @Flag(help: "Report what would change; write nothing.")
        var dryRun = false
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard CodeSystem(rawValue: system) != nil else {
                throw ValidationError("--system \(system) is not one of \(CodeSystem.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard CodeListManifest.Status(rawValue: status) != nil else { throw ValidationError("--status must be draft or reviewed") }
            if empty == (file != nil) { throw ValidationError("give a FILE to import, or --empty (not both)") }
            if empty && !(filters.isEmpty && drops.isEmpty) { throw ValidationError("--empty takes no --where or --drop") }
            for f in filters where !f.contains("=") { throw ValidationError("--where \(f): expected COLUMN=VALUE") }
            if status == "reviewed" && (reviewer == nil || reviewedOn == nil) {
                throw ValidationError("--status reviewed needs --reviewer and --reviewed-on")
            }
            if let d = reviewedOn, LocalDate(iso: d) == nil { throw ValidationError("--reviewed-on \(d) is not a date YYYY-MM-DD") }
        }

        func run() throws {
            var options = CodeListImporter.Options(name: name, system: CodeSystem(rawValue: system)!,
                                                   file: file.map { URL(fileURLWithPath: $0) })
            options.empty = empty
            options.source = source.map(CodeListManifest.Source.parse)
            options.version = version
            options.codeColumn = codeColumn
            options.termColumn = termColumn
            options.filters = filters.map { f in
                let i = f.firstIndex(of: "=")!
                return (String(f[..<i]).trimmingCharacters(in: .whitespaces), String(f[f.index(after: i)...]).trimmingCharacters(in: .whitespaces))
            }
            options.drops = drops.map { d in
                guard let i = d.firstIndex(of: "=") else { return (d.trimmingCharacters(in: .whitespaces), nil) }
                return (String(d[..<i]).trimmingCharacters(in: .whitespaces), String(d[d.index(after: i)...]).trimmingCharacters(in: .whitespaces))
            }
            options.notes = notes.isEmpty ? nil : notes
            options.description = description
            options.status = CodeListManifest.Status(rawValue: status)!
            options.reviewer = reviewer
            options.reviewedOn = reviewedOn
            options.dryRun = dryRun
            var result = try CodeListImporter(directory: folder.url, logger: global.logger).run(options)
            PatientCounter(global: global, json: json).count(&result.diff)
            if json {
                try Output.json(result)
                return
            }
            let i = result.imported
            Output.line("\(dryRun ? "Would import" : "Imported") \(i.codes) \(options.system.displayName) code(s) into \(name) from \(i.file) " +
                        "(\(i.rowsRead) rows read, \(i.rowsSelected) selected)\(result.created ? "; new list" : "").")
            for c in i.cleaning { Output.line("cleaned: \(c)") }
            for d in i.dropped {
                Output.line("dropped \(d.code)\(d.reason.map { " (\($0))" } ?? ""): \(d.removed.count) code(s): \(d.removed.joined(separator: "; "))")
            }
            Output.line(result.diff.text)
            if result.written { Output.line("Wrote \(folder.directory)/\(name).csv, \(CodeListManifest.fileName) and \(CodeListLock.fileName).") }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the codes added to and removed from a list, with terms and (with a database) patient counts.",
            discussion: """
                Compares DIR/NAME.csv with its version at a git revision (default HEAD) or with a file. When a \
                database is configured (--database, DATABASE_URL or PGHOST) or the embedded cluster is running, \
                each added or removed code shows how many patients in the loaded data it touches; otherwise the \
                counts are skipped and the output says so.
                """)
        @OptionGroup var folder: CodeListFolderOptions
        @Argument(help: "The list's name.") var name: String
        @Option(help: ArgumentHelp("A git revision or a file to compare with (default HEAD).", valueName: "rev|file"))
        var against = "HEAD"
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let library = try CodeListLibrary(directory: folder.url)
            let current = try library.file(name)
            let (old, description) = try previousVersion()
            var diff = CodeListDiff.compare(name: name, old: old.rows, new: current.rows, against: description)
            PatientCounter(global: global, json: json).count(&diff)
            if json { try Output.json(diff) } else { Output.line(diff.text) }
        }

        /// The list as it was: a file, or the file at a git revision (empty when it did not exist there).
        func previousVersion() throws -> (CodeListFile, String) {
            if FileManager.default.fileExists(atPath: against) {
                let file = try CodeListFile.read(URL(fileURLWithPath: against))
                return (file, "file \(against)")
            }
            guard let git = ProcessRunner.which("git") else {
                throw RecruitError.environment("git is not installed: give --against FILE instead")
            }
            let dir = folder.url
            let exists = try ProcessRunner.run(git, ["cat-file", "-e", "\(against):./\(name).csv"], currentDirectory: dir)
            if exists.status != 0 {
                let rev = try ProcessRunner.run(git, ["rev-parse", "--verify", "--quiet", "\(against)^{commit}"], currentDirectory: dir)
                guard rev.status == 0 else {
                    throw RecruitError.refused("--against \(against): neither a file nor a git revision of \(folder.directory)")
                }
                return (CodeListFile(name: name), "git \(against) (no \(name).csv there: a new list)")
            }
            let shown = try ProcessRunner.run(git, ["show", "\(against):./\(name).csv"], currentDirectory: dir)
            guard shown.status == 0 else {
                throw RecruitError.environment("git show \(against):\(name).csv failed: \(shown.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return (CodeListFile.parse(Data(shown.stdout.utf8), name: name), "git \(against)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the code lists: systems, code counts, status, version and lock state.")
        @OptionGroup var folder: CodeListFolderOptions
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let library = try CodeListLibrary(directory: folder.url)
            let mismatched = Set(try library.lockMismatches().map(\.file))
            var items: [JSONValue] = []
            var lines: [String] = []
            for name in try library.names() {
                let file = try library.file(name)
                let entry = library.manifest?.lists[name]
                var counts: [String: Int] = [:]
                for row in file.rows { counts[row.systemText, default: 0] += 1 }
                let statuses = entry?.systems.mapValues(\.status.rawValue) ?? [:]
                let lockState = library.lock == nil ? "unlocked" : (mismatched.contains(file.fileName) ? "mismatch" : "locked")
                items.append(["name": .string(name), "codes": .int(file.rows.count), "systems": .object(counts.mapValues(JSONValue.int)),
                              "status": .object(Dictionary(uniqueKeysWithValues: statuses.map { ($0.key.rawValue, JSONValue.string($0.value)) })),
                              "version": entry?.versionSummary.map(JSONValue.string) ?? .null,
                              "description": entry?.description.map(JSONValue.string) ?? .null,
                              "sha256": .string(file.sha256), "lock": .string(lockState)])
                let systems = file.systems.sorted().map { s in
                    "\(s.rawValue) \(file.rows.filter { $0.system == s }.count)\(statuses[s].map { " \($0)" } ?? "")"
                }.joined(separator: ", ")
                lines.append("\(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(repeating: " ", count: max(0, 6 - String(file.rows.count).count)) + String(file.rows.count))  \(systems.isEmpty ? "(no codes)" : systems)  [\(lockState)]")
            }
            if json {
                try Output.json(["directory": .string(folder.directory), "locked": .bool(library.lock != nil), "lists": .array(items)] as [String: JSONValue])
            } else {
                for l in lines { Output.line(l) }
                if library.lock == nil { Output.line("warning: \(CodeListLibrary.unreviewedWarning)") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one list: its manifest entry (sources, versions, status, choices, rules) and its codes.")
        @OptionGroup var folder: CodeListFolderOptions
        @Argument(help: "The list's name.") var name: String
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let library = try CodeListLibrary(directory: folder.url)
            let file = try library.file(name)
            let entry = library.manifest?.lists[name]
            let mismatch = try library.lockMismatches(names: [name]).contains { $0.file == file.fileName }
            let lockState = library.lock == nil ? "unlocked" : (mismatch ? "mismatch" : "locked")
            if json {
                try Output.json(["name": .string(name), "file": .string(file.fileName), "sha256": .string(file.sha256),
                                 "lock": .string(lockState), "manifest": library.manifest?.json(for: name) ?? .null,
                                 "codes": .array(file.rows.map { ["code": .string($0.code), "term": .string($0.term), "code_system": .string($0.systemText)] })]
                                as [String: JSONValue])
                return
            }
            Output.line("\(name) (\(file.fileName), sha256 \(file.sha256), \(lockState))")
            if let d = entry?.description { Output.line(d) }
            if let v = entry?.versionSummary { Output.line("Version: \(v)") }
            for note in entry?.notes ?? [] { Output.line("Note: \(note)") }
            for (system, s) in (entry?.systems ?? [:]).sorted(by: { $0.key < $1.key }) {
                Output.line("")
                Output.line("[\(system.rawValue)] \(file.rows.filter { $0.system == system }.count) code(s), \(s.status.rawValue)" +
                            (s.reviewer.map { ", reviewed by \($0)" } ?? "") + (s.reviewedOn.map { " on \($0)" } ?? ""))
                Output.line("  source:  \(s.source.summary)")
                if let v = s.version { Output.line("  version: \(v)") }
                for n in s.notes { Output.line("  note:    \(n)") }
                for r in s.rules { Output.line("  rule:    \(r.action.rawValue) \(r.code)\(r.descendants ? " and descendants" : "")") }
                if let i = s.imported {
                    Output.line("  imported: \(i.file) (\(i.rowsRead) rows read, \(i.rowsSelected) selected\(i.filters.isEmpty ? "" : " where \(i.filters.joined(separator: ", "))"), \(i.codes) codes)")
                    for c in i.cleaning { Output.line("  cleaned: \(c)") }
                    for d in i.dropped { Output.line("  dropped: \(d.code)\(d.reason.map { " (\($0))" } ?? ""): \(d.removed.count) code(s)") }
                }
            }
            Output.line("")
            Output.line("code_system,code,term")
            for row in file.rows { Output.line("\(row.systemText),\(row.code),\(row.term)") }
        }
    }

    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite codelists.lock after a reviewed hand edit (refused while check finds other problems).",
            discussion: "Prints each file whose locked SHA-256 changed. Use after editing codelists.yaml (status, reviewer, notes, rules) or a list by hand, once the change has been reviewed.")
        @OptionGroup var folder: CodeListFolderOptions
        @Flag(help: "Print the result as one JSON object.") var json = false
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let library = try CodeListLibrary(directory: folder.url)
            let report = try library.check(checkingLock: false)
            guard report.ok else {
                for p in report.errors { FileHandle.standardError.write(Data("\(p)\n".utf8)) }
                throw RecruitError.refused("not locking: codelists check finds \(report.errors.count) problem(s) besides the lock")
            }
            let changes = try library.writeLock()
            global.logger.info("code-list lock written", metadata: ["directory": "\(folder.directory)", "changed": "\(changes.count)"])
            if json {
                try Output.json(["directory": .string(folder.directory), "changed": .array(changes.map(JSONValue.string))] as [String: JSONValue])
            } else {
                for c in changes { Output.line("locked \(c)") }
                Output.line(changes.isEmpty ? "The lock was up to date." : "Wrote \(folder.directory)/\(CodeListLock.fileName).")
            }
        }
    }
}
