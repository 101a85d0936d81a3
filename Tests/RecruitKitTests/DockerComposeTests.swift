import Foundation
import RecruitTestSupport
import Testing
import Yams

/// docker-compose.yml, checked by a YAML parser: no Docker engine runs on the
/// build machines, so this is how the file is kept honest. It must give what
/// the README's `DATABASE_URL` example connects to.
@Suite("docker-compose.yml")
struct DockerComposeTests {
    static let root = TestDatabase.repositoryRoot

    func compose() throws -> [String: Any] {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any], "docker-compose.yml is not a YAML mapping")
    }

    func postgres() throws -> [String: Any] {
        let services = try #require(try compose()["services"] as? [String: Any], "no services")
        return try #require(services["postgres"] as? [String: Any], "no postgres service")
    }

    /// `environment:` as a mapping or as a list of KEY=VALUE.
    func environment(_ service: [String: Any]) throws -> [String: String] {
        if let map = service["environment"] as? [String: Any] { return map.mapValues { "\($0)" } }
        let list = try #require(service["environment"] as? [String], "no environment")
        return Dictionary(uniqueKeysWithValues: list.map { item in
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        })
    }

    /// The `DATABASE_URL=postgresql://...` example in the README.
    func readmeURL() throws -> URLComponents {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let range = try #require(readme.range(of: #"DATABASE_URL=postgresql://[^\s`]+"#, options: .regularExpression),
                                 "the README shows no DATABASE_URL=postgresql://... example")
        let url = readme[range].dropFirst("DATABASE_URL=".count)
        return try #require(URLComponents(string: String(url)))
    }

    @Test("a postgres:15 service with a named volume for its data")
    func serviceAndVolume() throws {
        let service = try postgres()
        #expect(service["image"] as? String == "postgres:15")
        let mounts = try #require(service["volumes"] as? [String])
        let data = try #require(mounts.first { $0.hasSuffix(":/var/lib/postgresql/data") }, "no volume for the data folder")
        let volume = String(data.split(separator: ":")[0])
        #expect(!volume.hasPrefix("/") && !volume.hasPrefix("."), "the data volume is a bind mount, not a named volume")
        let named = try #require(try compose()["volumes"] as? [String: Any], "no top-level volumes")
        #expect(named.keys.contains(volume), "volume \(volume) is not declared at the top level")
    }

    @Test("a healthcheck that asks pg_isready for the configured user and database")
    func healthcheck() throws {
        let service = try postgres()
        let check = try #require(service["healthcheck"] as? [String: Any], "no healthcheck")
        let test = try #require(check["test"] as? [String])
        #expect(test.first == "CMD" || test.first == "CMD-SHELL")
        #expect(test.contains("pg_isready"))
        let env = try environment(service)
        #expect(test.contains(env["POSTGRES_USER"] ?? "?"))
        #expect(check["interval"] != nil && check["retries"] != nil)
    }

    @Test("the environment and port give the README's DATABASE_URL")
    func matchesReadme() throws {
        let service = try postgres()
        let env = try environment(service)
        let url = try readmeURL()
        #expect(url.scheme == "postgresql")
        #expect(url.user == env["POSTGRES_USER"])
        #expect(url.password == env["POSTGRES_PASSWORD"])
        #expect(url.path == "/" + (env["POSTGRES_DB"] ?? "?"))
        #expect(url.host == "localhost" || url.host == "127.0.0.1")
        // "HOST_IP:HOST_PORT:CONTAINER_PORT" or "HOST_PORT:CONTAINER_PORT"; the container's PostgreSQL listens on 5432.
        let listed = try #require(service["ports"] as? [Any], "no ports")
        let ports = listed.map { "\($0)" }
        let published = ports.compactMap { mapping -> (ip: String?, host: Int)? in
            let parts = mapping.split(separator: ":").map(String.init)
            guard parts.last == "5432", parts.count >= 2, let host = Int(parts[parts.count - 2]) else { return nil }
            return (parts.count == 3 ? parts[0] : nil, host)
        }
        let mapping = try #require(published.first, "the service publishes no port for PostgreSQL's 5432")
        #expect(mapping.host == (url.port ?? 5432))
        #expect(mapping.ip == nil || mapping.ip == "127.0.0.1", "the port should be published on localhost only")
    }

    // MARK: The citus profile (docs/scaling.md)

    func services() throws -> [String: [String: Any]] {
        let services = try #require(try compose()["services"] as? [String: Any], "no services")
        return services.compactMapValues { $0 as? [String: Any] }
    }

    static let citusNodes = ["citus-coordinator", "citus-worker1", "citus-worker2"]

    @Test("the citus profile: a coordinator and two workers from the official image on PostgreSQL 15, each with its own named volume")
    func citusNodes() throws {
        let services = try services()
        let named = try #require(try compose()["volumes"] as? [String: Any], "no top-level volumes")
        var volumes: Set<String> = []
        for name in Self.citusNodes {
            let node = try #require(services[name], "no \(name) service")
            #expect(node["profiles"] as? [String] == ["citus"], "\(name) is not in the citus profile only")
            let image = try #require(node["image"] as? String)
            #expect(image.hasPrefix("citusdata/citus:13.") && image.hasSuffix("-pg15"), "\(name): \(image)")
            let mounts = try #require(node["volumes"] as? [String], "\(name) has no volume")
            let data = try #require(mounts.first { $0.hasSuffix(":/var/lib/postgresql/data") }, "\(name): no volume for the data folder")
            let volume = String(data.split(separator: ":")[0])
            #expect(named.keys.contains(volume), "volume \(volume) is not declared at the top level")
            volumes.insert(volume)
            let check = try #require(node["healthcheck"] as? [String: Any], "\(name): no healthcheck")
            let test = try #require(check["test"] as? [String])
            let user = try environment(node)["POSTGRES_USER"] ?? "?"
            #expect(test.contains("pg_isready") && test.contains(user))
        }
        #expect(volumes.count == Self.citusNodes.count, "the nodes share a data volume")
        // The default service stays the plain PostgreSQL one, outside any profile.
        let plainService = try postgres()
        #expect(plainService["profiles"] == nil)
    }

    @Test("only the coordinator is published, on localhost, beside the plain service's port; the workers stay inside")
    func citusPorts() throws {
        let services = try services()
        let coordinator = try #require(services["citus-coordinator"])
        let listed = try #require(coordinator["ports"] as? [Any], "the coordinator publishes no port")
        let ports: [String] = listed.map { "\($0)" }
        let first: String = try #require(ports.first)
        let parts: [String] = first.split(separator: ":").map(String.init)
        #expect(parts.count == 3 && parts[0] == "127.0.0.1" && parts[2] == "5432", "\(parts)")
        let plainPorts = try #require(try postgres()["ports"] as? [Any])
        let plainHostPorts: [String] = plainPorts.map { mapping -> String in
            let fields = "\(mapping)".split(separator: ":").map(String.init)
            return fields.count >= 2 ? fields[fields.count - 2] : ""
        }
        #expect(!plainHostPorts.contains(parts[1]), "the coordinator's port clashes with the postgres service's")
        for worker in ["citus-worker1", "citus-worker2"] {
            let published = services[worker]?["ports"]
            #expect(published == nil, "\(worker) is published")
        }
        // docs/scaling.md's DATABASE_URL is the coordinator's.
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/scaling.md"), encoding: .utf8)
        #expect(doc.contains("DATABASE_URL=postgresql://recruit:recruit@localhost:\(parts[1])/recruit"))
    }

    @Test("a setup service adds both workers to the coordinator once all three are healthy")
    func citusSetup() throws {
        let setup = try #require(try services()["citus-setup"], "no citus-setup service")
        #expect(setup["profiles"] as? [String] == ["citus"])
        let depends = try #require(setup["depends_on"] as? [String: Any])
        for name in Self.citusNodes {
            let condition = (depends[name] as? [String: Any])?["condition"] as? String
            #expect(condition == "service_healthy", "\(name): \(condition ?? "no condition")")
        }
        let command = try #require(setup["entrypoint"] as? [String]).joined(separator: " ")
        #expect(command.contains("-h citus-coordinator"))
        for worker in ["citus-worker1", "citus-worker2"] {
            #expect(command.contains("citus_add_node('\(worker)', 5432)"), "\(worker) is not added")
        }
        #expect(command.contains("ON_ERROR_STOP=1"))
    }
}
