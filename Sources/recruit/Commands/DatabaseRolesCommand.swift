import ArgumentParser
import Foundation
import RecruitKit

/// `recruit db roles`: creates the three group roles and grants them what each may do.
struct DatabaseRolesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles",
        abstract: "Create (idempotently) the roles recruit_loader, recruit_practice and recruit_research, and grant each what it may do.",
        discussion: """
            The roles are NOLOGIN groups: people log in as themselves and are made members, for example \
            GRANT recruit_practice TO alice; (the audit trail then names alice).

              recruit_loader    loads extracts and code lists; cannot read runs, invitation lists, feedback or the audit trail.
              recruit_practice  runs searches, issues and reads invitation lists, imports feedback and history, verifies the audit trail.
              recruit_research  reads only the suppressed aggregate view research_run_yields.

            Nobody but the schema's owner may create objects in the schema; the loader's table work and every \
            audit entry go through the owner's SECURITY DEFINER functions. Nobody may update or delete the audit trail. \
            Run it as the schema's owner (creating the roles the first time needs CREATEROLE), and again after \
            migrations that add tables: it revokes what the roles hold and grants exactly the policy. \
            docs/security.md describes the model.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let db = try global.openDatabase()
        defer { db.close() }
        let report = try Roles(database: db).apply()
        if json {
            try Output.json([
                "schema": .string(db.schema),
                "roles_created": .array(report.created.map { .string($0) }),
                "roles_existing": .array(report.existing.map { .string($0) }),
                "relations_granted": .int(report.relations),
                "per_load_tables_granted": .int(report.perLoadTables),
                "functions_granted": .int(report.functions),
                "unclassified": .array(report.unclassified.map { .string($0) }),
            ] as [String: JSONValue])
            return
        }
        for name in report.created { Output.line("created role \(name)") }
        for name in report.existing { Output.line("role \(name) exists") }
        Output.line("Schema \(db.schema): granted \(report.relations) table(s) and view(s), \(report.perLoadTables) per-load table(s), \(report.functions) function(s).")
        if !report.unclassified.isEmpty {
            Output.line("Not in the roles policy (no role may use them): \(report.unclassified.joined(separator: ", "))")
        }
        Output.line("Grant people membership, e.g.: GRANT recruit_practice TO alice;")
    }
}
