import Foundation
import RecruitKit

/// Runs the built `recruit` executable, as a user or a script would.
public enum RecruitCLI {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Everything the command printed, for "no patient id anywhere" checks.
        public var allOutput: String { stdout + stderr }
    }

    /// The executable beside the test bundle (`.build/<triple>/debug/recruit`).
    public static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["RECRUIT_BINARY"] { return URL(fileURLWithPath: path) }
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("recruit")
    }

    /// Runs `recruit ARGUMENTS` with the test database's environment and, when
    /// given, the test's schema (`RECRUIT_SCHEMA`), `extra` variables set and
    /// the `unset` ones removed (an empty PGSERVICE is not an unset one to psql).
    public static func run(_ arguments: [String], schema: String? = nil, environment extra: [String: String] = [:],
                           unset: [String] = [], currentDirectory: URL? = nil) throws -> Result {
        var environment = ProcessInfo.processInfo.environment
        if let schema { environment["RECRUIT_SCHEMA"] = schema }
        environment.merge(extra) { _, new in new }
        for name in unset { environment.removeValue(forKey: name) }
        let out = try ProcessRunner.run(executable.path, arguments, environment: environment, currentDirectory: currentDirectory)
        return Result(status: out.status, stdout: out.stdout, stderr: out.stderr)
    }
}
