import ArgumentParser
import Foundation
import Postgres
import RecruitKit

// An exported but empty libpq variable (PGSERVICE= in a shell profile) means
// unset, as recruit's own configuration rules read it; libpq would otherwise
// look for a service named "" and refuse every connection.
for (name, value) in ProcessInfo.processInfo.environment where name.hasPrefix("PG") && value.isEmpty {
    unsetenv(name)
}

// Runs the command and maps errors onto recruit's documented exit codes:
// 0 done, 1 refused (bad input, problems found), 2 usage or environment.
do {
    // Global options may come before the subcommand (recruit -q codelists list).
    var command = try Recruit.parseAsRoot(GlobalArguments.hoist(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch let error as RecruitError {
    FileHandle.standardError.write(Data("recruit: \(error.commandLineText)\n".utf8))
    exit(error.exitCode)
} catch let busy as PracticeBusy {
    FileHandle.standardError.write(Data("recruit: \(busy); try again when it has finished, or give --wait to wait for it\n".utf8))
    exit(1)
} catch let unavailable as Distribution.Unavailable {
    FileHandle.standardError.write(Data("recruit: \(unavailable.commandLineText)\n".utf8))
    exit(2)
} catch let error as PostgresError {
    var text = "recruit: database error: \(error)\n"
    if error.message.contains("connection to the remote node") {
        // Citus: a worker the coordinator needs is down; the statement failed whole.
        text += """
            recruit: a node of the Citus cluster cannot be reached: the command failed and recorded nothing of \
            what it had not finished (a load keeps the earlier snapshots); start the node and try again (docs/scaling.md)

            """
    }
    if error.sqlState == "42501" {
        // Most often a login that is not in the recruit role the command needs.
        text += """
            recruit: this database user lacks a privilege the command needs: loading extracts and code lists needs \
            membership of recruit_loader; runs, issuing, lists and feedback recruit_practice; reports recruit_research \
            (the schema's owner grants them: 'recruit db roles --help', docs/security.md)

            """
    }
    FileHandle.standardError.write(Data(text.utf8))
    exit(2)
} catch {
    let code = Recruit.exitCode(for: error)
    if code == .success {
        // --help, --version
        Recruit.exit(withError: error)
    }
    if code.rawValue == ExitCode.validationFailure.rawValue || error is ValidationError {
        // Usage errors: argument parser's message and usage, exit 2.
        FileHandle.standardError.write(Data((Recruit.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    if let exitCode = error as? ExitCode { exit(exitCode.rawValue) }
    FileHandle.standardError.write(Data("recruit: \(error)\n".utf8))
    exit(2)
}
