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
}
