import Foundation

/// Runs an external program and captures its output (for `initdb`, `pg_ctl`, `git`).
public enum ProcessRunner {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments` and waits for it.
    ///
    /// Uses posix_spawn and waitpid directly, with output going to temporary
    /// files rather than pipes: `pg_ctl start` leaves the server running with
    /// the child's stdout/stderr inherited, so a pipe would never reach
    /// end-of-file (and Foundation's `Process.waitUntilExit` was seen to hang on
    /// such a child).
    ///
    /// - Throws: ``RecruitError`` (environment) when the program cannot be started.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: URL? = nil) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.path
        let outPath = "\(directory)/recruit-\(UUID().uuidString).out"
        let errPath = "\(directory)/recruit-\(UUID().uuidString).err"
        defer { unlink(outPath); unlink(errPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        // A working directory is set through coreutils' env (posix_spawn's chdir
        // action is not exposed to Swift on glibc).
        let program = currentDirectory == nil ? executable : "/usr/bin/env"
        let argv = currentDirectory.map { ["/usr/bin/env", "--chdir=\($0.path)", executable] } ?? [executable]
        let fullArgv = argv + arguments
        var cArgs = fullArgv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, program, &actions, nil, &cArgs, &cEnv)
        guard spawned == 0 else {
            throw RecruitError.environment("cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { throw RecruitError.environment("waiting for \(executable) failed: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let outData = FileManager.default.contents(atPath: outPath) ?? Data()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Output(status: exitStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Finds a program on `PATH`, or nil.
    public static func which(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + extraDirectories {
            let candidate = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
