import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The private PostgreSQL cluster recruit runs when no database is configured.
///
/// It is created with the system's `initdb` and started with `pg_ctl` (found
/// on `PATH` or under `/usr/lib/postgresql/*/bin`), listens on a Unix socket
/// only (no TCP), and is reused by later commands until `recruit db stop`.
///
/// PostgreSQL refuses to run as root. When recruit runs as root, the server
/// runs as the unprivileged `postgres` user (through `runuser`), and its data
/// folder must be somewhere that user can reach: inside the cluster folder
/// when every folder above it is world-searchable, otherwise under
/// `/var/lib/recruit/<hash>` (a clone under `/root` is private). Where it
/// went is recorded in `cluster.json` in the cluster folder.
public struct EmbeddedCluster: Sendable {
    /// Where the cluster lives, as recorded in `cluster.json`.
    public struct Layout: Codable, Sendable, Equatable {
        public var dataDirectory: String
        public var socketDirectory: String
        public var logFile: String
        public var port: Int
        /// The OS user the server runs as, when not the current user.
        public var runAs: String?
        public var binDirectory: String
        public var database: String
        public var user: String
    }

    /// The cluster folder (`./.recruit` by default) holding `cluster.json`.
    public let directory: URL
    public let logger: Logger
    /// The port, used only to name the socket file (the server listens on no TCP port).
    public var port: Int

    public init(directory: URL, port: Int = 5432, logger: Logger) {
        self.directory = directory
        self.port = port
        self.logger = logger
    }

    var stateFile: URL { directory.appendingPathComponent("cluster.json") }

    /// The recorded layout, if the cluster was created.
    public func recordedLayout() -> Layout? {
        guard let data = try? Data(contentsOf: stateFile) else { return nil }
        return try? JSONDecoder().decode(Layout.self, from: data)
    }

    /// The libpq connection string of the running cluster.
    public static func conninfo(_ layout: Layout) -> String {
        "host=\(layout.socketDirectory) port=\(layout.port) dbname=\(layout.database) user=\(layout.user)"
    }

    // MARK: Binaries

    /// Finds `initdb` and `pg_ctl`: on PATH, or the newest /usr/lib/postgresql/N/bin.
    public static func findBinDirectory() throws -> String {
        if let initdb = ProcessRunner.which("initdb"), ProcessRunner.which("pg_ctl") != nil {
            let resolved = URL(fileURLWithPath: initdb).resolvingSymlinksInPath()
            return resolved.deletingLastPathComponent().path
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for v in versions {
            let bin = "\(root)/\(v)/bin"
            if FileManager.default.isExecutableFile(atPath: "\(bin)/initdb") && FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl") {
                return bin
            }
        }
        throw RecruitError.environment("""
            no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or under /usr/lib/postgresql/*/bin.
            Install them (Debian/Ubuntu: sudo apt-get install postgresql), or point recruit at an existing \
            server (DATABASE_URL, PGHOST, or the command's database option).
            """)
    }

    // MARK: Lifecycle

    /// Whether the server is running.
    public func isRunning() -> Bool {
        guard let layout = recordedLayout() else { return false }
        return (try? pgctl(layout, ["status", "-D", layout.dataDirectory]).status) == 0
    }

    /// Creates the cluster if needed and starts it if it is not running.
    ///
    /// - Returns: the layout, with the connection details.
    /// - Throws: ``RecruitError`` (environment) naming what to install or fix.
    @discardableResult
    public func start() throws -> Layout {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try withFileLock {
            let layout = try recordedLayout() ?? create()
            if (try? pgctl(layout, ["status", "-D", layout.dataDirectory]).status) == 0 {
                logger.debug("embedded cluster already running", metadata: ["data": "\(layout.dataDirectory)"])
                return layout
            }
            logger.info("starting the embedded PostgreSQL cluster", metadata: ["data": "\(layout.dataDirectory)"])
            let out = try pgctl(layout, ["start", "-D", layout.dataDirectory, "-l", layout.logFile, "-w", "-t", "60"])
            guard out.status == 0 else {
                let tail = (try? String(contentsOfFile: layout.logFile, encoding: .utf8))?
                    .split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
                throw RecruitError.environment("the embedded PostgreSQL cluster did not start (pg_ctl exit \(out.status)): \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines))\n\(tail)")
            }
            return layout
        }
    }

    /// Stops the server (fast shutdown). A cluster that is not running is left as it is.
    /// - Parameter remove: also delete the data folder and `cluster.json`.
    public func stop(remove: Bool = false) throws {
        guard let layout = recordedLayout() else {
            if remove { try? FileManager.default.removeItem(at: directory) }
            return
        }
        if (try? pgctl(layout, ["status", "-D", layout.dataDirectory]).status) == 0 {
            let out = try pgctl(layout, ["stop", "-D", layout.dataDirectory, "-m", "fast", "-w", "-t", "60"])
            guard out.status == 0 else {
                throw RecruitError.environment("pg_ctl stop failed: \(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        }
        if remove {
            let root = URL(fileURLWithPath: layout.dataDirectory).deletingLastPathComponent()
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Initialises a new cluster and records its layout.
    private func create() throws -> Layout {
        let bin = try Self.findBinDirectory()
        let absolute = directory.standardizedFileURL.resolvingSymlinksInPath()
        var runAs: String? = nil
        var root = absolute.appendingPathComponent("pg-cluster")
        if geteuid() == 0 {
            runAs = "postgres"
            guard let pw = getpwnam("postgres") else {
                throw RecruitError.environment("""
                    recruit runs as root, and PostgreSQL refuses to: it runs the server as the unprivileged user \
                    'postgres', which does not exist. Create it (useradd --system --home-dir /var/lib/postgresql postgres) \
                    or install the postgresql package, which does.
                    """)
            }
            if !Self.reachableByOthers(absolute) {
                let hash = Hashing.sha256Hex(absolute.path).prefix(12)
                root = URL(fileURLWithPath: "/var/lib/recruit/\(hash)")
            }
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            chown(root.path, pw.pointee.pw_uid, pw.pointee.pw_gid)
        } else {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        }
        chmod(root.path, 0o700)
        var socket = root.appendingPathComponent("run")
        if socket.path.utf8.count > 80 {
            // Unix socket paths are limited to 107 bytes.
            socket = URL(fileURLWithPath: "/tmp/recruit-\(geteuid())-\(Hashing.sha256Hex(root.path).prefix(12))")
        }
        let data = root.appendingPathComponent("data")
        let log = root.appendingPathComponent("postgresql.log")
        for dir in [socket] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            chmod(dir.path, 0o700)
            if let runAs, let pw = getpwnam(runAs) { chown(dir.path, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        }
        let layout = Layout(dataDirectory: data.path, socketDirectory: socket.path, logFile: log.path, port: port,
                            runAs: runAs, binDirectory: bin, database: "recruit", user: "recruit")
        logger.info("creating the embedded PostgreSQL cluster", metadata: ["data": "\(data.path)"])
        // C locale: byte-order collation, which the invitation lists' ordering needs.
        // Trust authentication on the socket only; the socket folder is 0700.
        let initdb = try run(layout, "\(bin)/initdb", ["-D", data.path, "-U", "recruit", "--auth=trust", "-E", "UTF8",
                                                        "--locale=C", "--no-sync"])
        guard initdb.status == 0 else {
            throw RecruitError.environment("initdb failed: \(initdb.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let conf = """

            # recruit: embedded cluster settings (Unix socket only, tuned for bulk loading)
            listen_addresses = ''
            unix_socket_directories = '\(socket.path)'
            unix_socket_permissions = 0700
            port = \(port)
            wal_level = minimal
            max_wal_senders = 0
            synchronous_commit = off
            shared_buffers = 512MB
            maintenance_work_mem = 512MB
            work_mem = 64MB
            max_wal_size = 8GB
            checkpoint_timeout = 30min
            random_page_cost = 1.1
            jit = off
            log_min_messages = warning
            """
        let confURL = data.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: confURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(conf.utf8))
        try handle.close()
        // Record the layout before starting, so a failed start can be stopped or removed.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(layout).write(to: stateFile)
        let started = try pgctl(layout, ["start", "-D", data.path, "-l", log.path, "-w", "-t", "60"])
        guard started.status == 0 else {
            throw RecruitError.environment("the new embedded cluster did not start: \(started.stderr)")
        }
        let psql = "\(bin)/psql"
        let created = try run(layout, FileManager.default.isExecutableFile(atPath: psql) ? psql : (ProcessRunner.which("psql") ?? psql),
                              ["-X", "-q", "-h", socket.path, "-p", String(port), "-U", "recruit", "-d", "postgres",
                               "-c", "CREATE DATABASE recruit"])
        guard created.status == 0 else {
            throw RecruitError.environment("could not create the database in the embedded cluster: \(created.stderr)")
        }
        return layout
    }

    /// Whether `url` and every folder above it let other users through (o+x).
    static func reachableByOthers(_ url: URL) -> Bool {
        var current = url
        while true {
            var st = stat()
            if stat(current.path, &st) != 0 { return false }
            if st.st_mode & 0o001 == 0 { return false }
            if current.path == "/" { return true }
            current = current.deletingLastPathComponent()
        }
    }

    private func pgctl(_ layout: Layout, _ arguments: [String]) throws -> ProcessRunner.Output {
        try run(layout, "\(layout.binDirectory)/pg_ctl", arguments)
    }

    /// Runs a server program, as the `runAs` user when there is one.
    private func run(_ layout: Layout, _ program: String, _ arguments: [String]) throws -> ProcessRunner.Output {
        let environment = Self.childEnvironment(ProcessInfo.processInfo.environment)
        if let user = layout.runAs {
            guard let runuser = ProcessRunner.which("runuser", extraDirectories: ["/usr/sbin", "/sbin"]) else {
                throw RecruitError.environment("running as root needs runuser (util-linux) to start PostgreSQL as \(user)")
            }
            return try ProcessRunner.run(runuser, ["-u", user, "--", program] + arguments, environment: environment,
                                         currentDirectory: URL(fileURLWithPath: "/"))
        }
        return try ProcessRunner.run(program, arguments, environment: environment)
    }

    /// The environment of the cluster's own programs (initdb, pg_ctl, psql):
    /// the caller's without the libpq and server variables (`PGSERVICE`,
    /// `PGDATA`, `PGPORT`, `PGOPTIONS`, …), which name some other server and
    /// would redirect or break them; everything they need is on their command line.
    static func childEnvironment(_ environment: [String: String]) -> [String: String] {
        environment.filter { !$0.key.hasPrefix("PG") }
    }

    /// Serialises cluster start-up between concurrent commands (flock on `.lock`).
    private func withFileLock<T>(_ body: () throws -> T) throws -> T {
        let path = directory.appendingPathComponent(".lock").path
        let fd = open(path, O_CREAT | O_RDWR, 0o600)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
