import ArgumentParser
import Foundation
import Logging
import RecruitKit

/// The `recruit` command.
struct Recruit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recruit",
        abstract: "Find people who may be eligible for a research study in UK GP records, and produce the lists of whom to invite, with an audit trail.",
        discussion: """
            Exit codes: 0 done; 1 refused (bad input, problems found: nothing was changed); \
            2 usage or environment error (bad flags, no database, missing programs).

            Database: --database or DATABASE_URL (a libpq connection string or URI), else the PG* \
            environment when PGHOST or PGSERVICE is set, else the embedded private cluster in ./.recruit.

            Global options, accepted by every subcommand, before or after it: --database CONNINFO, \
            --cluster-dir DIR, -v/--verbose, -q/--quiet (e.g. recruit -q codelists list, \
            recruit --database URL db status). Commands that do not touch the database ignore --database.
            """,
        version: BuildInfo.versionString,
        subcommands: [
            DatabaseCommand.self,
            SynthCommand.self,
            LoadCommand.self,
            CodeListsCommand.self,
            CohortCommand.self,
            RunCommand.self,
            RunsCommand.self,
            PackCommand.self,
            FeedbackCommand.self,
            HistoryCommand.self,
            ReportCommand.self,
            AuditCommand.self,
            MonthlyCommand.self,
        ]
    )
}

/// The global options: every subcommand takes them (main.swift moves them
/// there when they are given before the subcommand). Commands that do not
/// touch the database accept and ignore --database and --cluster-dir.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A libpq connection string or URI (overrides DATABASE_URL and PG*).", valueName: "conninfo"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp("The embedded cluster's folder, used when no database is configured (default ./.recruit).", valueName: "dir"))
    var clusterDir: String?

    @Flag(name: .shortAndLong, help: "Log more (debug level) on standard error.")
    var verbose = false

    @Flag(name: .shortAndLong, help: "Log only errors on standard error, and draw no progress bar.")
    var quiet = false

    func validate() throws {
        if verbose && quiet { throw ValidationError("--verbose and --quiet cannot be used together") }
    }

    /// The logger for this command; log lines go to standard error, output to standard output.
    var logger: Logger {
        LoggingSetup.bootstrap(verbose: verbose, quiet: quiet)
        var logger = Logger(label: "recruit")
        logger.logLevel = verbose ? .debug : (quiet ? .error : .info)
        return logger
    }

    var settings: DatabaseSettings {
        DatabaseSettings.resolve(database: database, clusterDirectory: clusterDir)
    }

    /// Opens the project database (starting the embedded cluster if that is
    /// the source) and applies pending migrations.
    func openDatabase(migrate: Bool = true) throws -> Database {
        try Database.open(settings, logger: logger, migrate: migrate)
    }
}

enum LoggingSetup {
    nonisolated(unsafe) static var done = false
    static func bootstrap(verbose: Bool, quiet: Bool) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : (quiet ? .error : .info)
            return handler
        }
    }
}
