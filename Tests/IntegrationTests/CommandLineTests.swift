import Foundation
import RecruitTestSupport
import Testing

/// The command line as a user meets it: help, version, usage errors and exit codes.
@Suite("Command line")
struct CommandLineTests {
    @Test("--help lists the commands and documents the exit codes")
    func help() throws {
        let result = try RecruitCLI.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE: recruit"))
        #expect(result.stdout.contains("db"))
        #expect(result.stdout.contains("Exit codes: 0 done; 1 refused"))
    }

    @Test("--version prints the version")
    func version() throws {
        let result = try RecruitCLI.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("0."))
    }

    @Test("an unknown subcommand is a usage error: exit 2")
    func unknownSubcommand() throws {
        let result = try RecruitCLI.run(["db", "frobnicate"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("frobnicate"))
    }

    @Test("--verbose with --quiet is refused as usage: exit 2")
    func conflictingFlags() throws {
        let result = try RecruitCLI.run(["db", "status", "--verbose", "--quiet"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--verbose and --quiet cannot be used together"))
    }

    @Test("an unreachable database is an environment error naming the socket: exit 2")
    func unreachableDatabase() throws {
        let result = try RecruitCLI.run(["db", "status", "--database", "host=/nonexistent-recruit-socket port=5999 dbname=x"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent-recruit-socket"))
    }
}
