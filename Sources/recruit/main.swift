import ArgumentParser
import Foundation
import Postgres
import RecruitKit

// Runs the command and maps errors onto recruit's documented exit codes:
// 0 done, 1 refused (bad input, problems found), 2 usage or environment.
do {
    var command = try Recruit.parseAsRoot()
    try command.run()
} catch let error as RecruitError {
    FileHandle.standardError.write(Data("recruit: \(error.message)\n".utf8))
    exit(error.exitCode)
} catch let error as PostgresError {
    FileHandle.standardError.write(Data("recruit: database error: \(error)\n".utf8))
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
