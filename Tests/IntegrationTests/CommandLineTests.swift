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

    // MARK: Global options: accepted by every subcommand, before or after it

    static let root = TestDatabase.repositoryRoot
    static let cohort = root.appendingPathComponent("cohorts/chronic-pain-out-of-work.yaml").path
    static let codelists = root.appendingPathComponent("codelists").path

    @Test("every subcommand accepts the global options after it", arguments: [
        ["codelists", "check", "--codelists", CommandLineTests.codelists, "--quiet"],
        ["codelists", "list", "--codelists", CommandLineTests.codelists, "-q"],
        ["codelists", "show", "chronic-pain", "--codelists", CommandLineTests.codelists, "--verbose"],
        ["cohort", "check", CommandLineTests.cohort, "--codelists", CommandLineTests.codelists, "-q"],
        ["cohort", "sql", CommandLineTests.cohort, "--codelists", CommandLineTests.codelists, "-v"],
        ["cohort", "explain", CommandLineTests.cohort, "--quiet", "--database", "host=/nonexistent-recruit-socket"],
    ])
    func globalOptionsAfter(arguments: [String]) throws {
        let result = try RecruitCLI.run(arguments)
        #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        #expect(!result.stdout.isEmpty)
    }

    @Test("the global options may come before the subcommand", arguments: [
        ["--quiet", "codelists", "list", "--codelists", CommandLineTests.codelists],
        ["-q", "codelists", "check", "--codelists", CommandLineTests.codelists],
        ["-v", "cohort", "explain", CommandLineTests.cohort],
        ["--database", "host=/nonexistent-recruit-socket", "-q", "cohort", "check", CommandLineTests.cohort, "--codelists", CommandLineTests.codelists],
        ["--cluster-dir=/nonexistent-recruit-cluster", "codelists", "show", "fit-notes", "--codelists", CommandLineTests.codelists],
    ])
    func globalOptionsBefore(arguments: [String]) throws {
        let result = try RecruitCLI.run(arguments)
        #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        #expect(!result.stdout.isEmpty)
        #expect(!result.stderr.contains("Unknown option"))
    }

    @Test("a leading option prints the same as the same option after the subcommand")
    func leadingSameAsTrailing() throws {
        let before = try RecruitCLI.run(["-q", "codelists", "list", "--codelists", Self.codelists, "--json"])
        let after = try RecruitCLI.run(["codelists", "list", "--codelists", Self.codelists, "--json", "-q"])
        #expect(before.status == 0 && after.status == 0)
        #expect(before.stdout == after.stdout)
    }

    @Test("--database before the subcommand is the database used")
    func leadingDatabase() throws {
        let result = try RecruitCLI.run(["--database", "host=/nonexistent-recruit-socket port=5999 dbname=x", "db", "status"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent-recruit-socket"))
        let equals = try RecruitCLI.run(["--database=host=/nonexistent-recruit-socket port=5999 dbname=x", "-q", "runs", "list"])
        #expect(equals.status == 2)
        #expect(equals.stderr.contains("/nonexistent-recruit-socket"))
    }

    @Test("--verbose with --quiet before the subcommand is refused as usage: exit 2")
    func leadingConflictingFlags() throws {
        let result = try RecruitCLI.run(["-v", "db", "status", "--quiet"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--verbose and --quiet cannot be used together"))
    }

    @Test("synth takes the global -q before it")
    func synthQuiet() throws {
        let dir = try TestDatabase.temporaryDirectory("cli-synth")
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try RecruitCLI.run(["-q", "synth", "--out", dir.path, "--patients", "40", "--practices", "1",
                                         "--codelists", Self.codelists])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("patients.csv").path))
    }

    @Test("--help and --version still work, with or without a leading global option")
    func helpAndVersionWithGlobals() throws {
        let help = try RecruitCLI.run(["-q", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: recruit"))
        #expect(help.stdout.contains("--verbose"))
        let sub = try RecruitCLI.run(["-q", "codelists", "list", "--help"])
        #expect(sub.status == 0)
        #expect(sub.stdout.contains("--quiet"))
        let version = try RecruitCLI.run(["-v", "--version"])
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("0."))
        let helpCommand = try RecruitCLI.run(["-q", "help", "db", "status"])
        #expect(helpCommand.status == 0)
        #expect(helpCommand.stdout.contains("USAGE: recruit db status"))
    }
}
