import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `recruit` with its standard error on a pseudo-terminal (as a person at
/// a shell sees it), standard output to a file, for the progress tests.
public enum PseudoTerminal {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        /// Everything written to the terminal (standard error), escapes included.
        public var terminal: String
    }

    public static func run(_ arguments: [String], schema: String) throws -> Result {
        var master: Int32 = -1, slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw POSIXError(.ENOTTY) }
        defer { close(master) }
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("recruit-pty-\(UUID().uuidString).out").path
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, slave, 2)
        posix_spawn_file_actions_addclose(&actions, master)
        var environment = ProcessInfo.processInfo.environment
        environment["RECRUIT_SCHEMA"] = schema
        let env = environment.map { "\($0.key)=\($0.value)" }
        let argv = [RecruitCLI.executable.path] + arguments
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArgv, &cEnv)
        close(slave)
        guard spawned == 0 else { throw POSIXError(.ENOEXEC) }
        // Read the terminal until the child has gone and the slave is closed (EIO).
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return Result(status: exit, stdout: stdout, terminal: String(decoding: bytes, as: UTF8.self))
    }
}
