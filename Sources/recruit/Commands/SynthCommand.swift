import ArgumentParser
import Foundation
import Logging
import Postgres
import RecruitKit

/// `recruit synth`: writes a synthetic GP extract for the demo, tests and benchmarks.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic GP extract (no real patient data) for demos, tests and benchmarks.",
        discussion: """
            Writes a complete extract in the canonical format (extract.json, patients.csv, events.csv, \
            prescriptions.csv) or, with --profile cprd-gold, in the CPRD GOLD-style layout. The same \
            options always give the same bytes. Coded records come from the code lists in --codelists \
            at published UK prevalences (docs/synthetic-data.md); a missing list is skipped with a warning.

            --inject-errors RATE plants bad rows of every kind the extract format rejects (about RATE of \
            the rows of each file, plus the records of the patients so rejected) and lists them in \
            DIR/injected.csv (file,line,kind). Keep RATE at or below 0.004 to stay under the loader's \
            default 1% reject threshold.

            --truth FILE also writes each synthetic person's true work status at the extract date \
            (patient_id,practice_id,work_status: in_work, off_sick_with_job, out_of_work, \
            not_working_age, not_registered), for simulating feedback. FILE must lie outside the \
            extract folder: the extract never carries it, and recruit load never reads it.
            """)

    @Option(name: .long, help: ArgumentHelp("The folder to write the extract into (created if missing; the extract's files are replaced).", valueName: "dir"))
    var out: String

    @Option(name: .long, help: "Rows of patients.csv, leavers and the dead included.")
    var patients = 10_000

    @Option(name: .long, help: "Split the patients over this many practices of varied size (default: practices of realistic list sizes).")
    var practices: Int?

    @Option(name: .long, help: "The random seed: the same seed and options give the same files.")
    var seed: UInt64 = 1

    @Option(name: .long, help: ArgumentHelp("The extract date, YYYY-MM-DD.", valueName: "date"))
    var extractDate = SynthesisOptions.defaultExtractDate.description

    @Option(name: .long, help: ArgumentHelp("The output layout: canonical or cprd-gold.", valueName: "profile"))
    var profile = SynthesisProfile.canonical.rawValue

    @Option(name: .long, help: ArgumentHelp("The folder of code lists to draw codes from.", valueName: "dir"))
    var codelists = "codelists"

    @Option(name: .long, help: ArgumentHelp("Plant bad rows at this rate (0-0.5, canonical profile only) and list them in injected.csv.", valueName: "rate"))
    var injectErrors = 0.0

    @Option(name: .long, help: ArgumentHelp("Also write each person's true work status to this CSV file (outside the extract folder).", valueName: "file"))
    var truth: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard LocalDate(iso: extractDate) != nil else { throw ValidationError("--extract-date must be a date YYYY-MM-DD (got \(extractDate))") }
        guard SynthesisProfile(rawValue: profile) != nil else {
            throw ValidationError("--profile must be one of \(SynthesisProfile.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let problem = options.problems.first { throw ValidationError(problem.commandLineText) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: codelists, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--codelists \(codelists): no such folder")
        }
    }

    var options: SynthesisOptions {
        SynthesisOptions(outputDirectory: URL(fileURLWithPath: out), patients: patients, practices: practices, seed: seed,
                         extractDate: LocalDate(iso: extractDate) ?? SynthesisOptions.defaultExtractDate,
                         profile: SynthesisProfile(rawValue: profile) ?? .canonical,
                         codeListDirectory: URL(fileURLWithPath: codelists), errorRate: injectErrors,
                         truthFile: truth.map { URL(fileURLWithPath: $0) })
    }

    func run() throws {
        let verbose = global.verbose, quiet = global.quiet
        LoggingSetup.bootstrap(verbose: verbose, quiet: quiet)
        var logger = Logger(label: "recruit")
        logger.logLevel = verbose ? .debug : .error
        let progress = TerminalProgress(label: "synth", enabled: !quiet && !json && isatty(STDERR_FILENO) == 1)
        let summary = try ExtractSynthesizer(options: options, logger: logger).run(progress: progress.update)
        var warningLogger = Logger(label: "recruit")
        warningLogger.logLevel = quiet ? .error : .warning
        for warning in summary.warnings { warningLogger.warning("\(warning)") }
        if json {
            try Output.json(summary)
            return
        }
        let rate = summary.seconds > 0 ? Double(summary.events + summary.prescriptions) / summary.seconds : 0
        Output.line("Wrote \(summary.profile.rawValue) extract to \(summary.directory) (seed \(summary.seed), extract date \(summary.extractDate)):")
        let shown = summary.practices.prefix(6).map { "\($0.practiceID) (\($0.patients.formatted()))" }.joined(separator: ", ")
        let more = summary.practices.count > 6 ? ", and \(summary.practices.count - 6) more" : ""
        Output.line("  \(summary.patients.formatted()) patients in \(summary.practices.count) practices: \(shown)\(more)")
        Output.line("  \(summary.events.formatted()) events, \(summary.prescriptions.formatted()) prescriptions " +
                    String(format: "in %.1f s (%@ rows/s)", summary.seconds, Int(rate).formatted()))
        if summary.injectedRows > 0 {
            Output.line("  \(summary.injectedRows.formatted()) bad rows planted (patients' records included), listed in injected.csv")
        }
        if let truthFile = summary.truthFile, let statuses = summary.workStatus {
            let counts = SyntheticWorkStatus.allCases.map { "\($0.rawValue) \((statuses[$0.rawValue] ?? 0).formatted())" }
            Output.line("  work status written to \(truthFile): \(counts.joined(separator: ", "))")
        }
        for name in summary.files.keys.sorted() {
            Output.line("  \(name): \(ByteCountFormatter.string(fromByteCount: Int64(summary.files[name]!), countStyle: .file))")
        }
    }
}
