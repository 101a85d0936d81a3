import Foundation
import Logging
import Postgres

/// The three database roles of recruit and what each may do in the project schema.
///
/// They are NOLOGIN group roles: people log in as themselves and are granted
/// membership (`GRANT recruit_practice TO alice;`), so the audit trail names
/// the person (`db_user` is the login, `session_user`).
///
/// - `recruit_loader` loads extracts and code lists. It cannot read runs,
///   invitation lists, feedback or the audit trail.
/// - `recruit_practice` (a practice's data manager) runs searches, issues
///   lists, reads them and imports feedback and history. It reads extract data
///   only through the `current_*` views, and cannot load.
/// - `recruit_research` reads only the suppressed aggregate view
///   `research_run_yields`: no patient-level table, no pseudonymised id.
///
/// Nobody but the schema's owner may create anything in the schema. The DDL
/// the loader needs, and every audit entry, goes through SECURITY DEFINER
/// functions (sql/0012_least_privilege.sql). Nobody may UPDATE or DELETE the
/// audit trail (and triggers refuse it even to the owner).
///
/// ``apply()`` is idempotent and converges: it creates the missing roles,
/// revokes what the roles hold on the schema's objects and grants exactly
/// ``policy``. Re-run it after migrations that add tables.
public struct Roles {
    /// A recruit group role.
    public enum Role: String, CaseIterable, Sendable, Comparable {
        case loader = "recruit_loader"
        case practice = "recruit_practice"
        case research = "recruit_research"

        public var name: String { rawValue }

        /// What the role is for (its COMMENT in the database).
        public var summary: String {
            switch self {
            case .loader:
                return "recruit: loads practice extracts and code lists; cannot read runs, invitation lists, feedback or the audit trail"
            case .practice:
                return "recruit: a practice data manager; runs searches, issues and reads invitation lists, imports feedback; reads extracts only through the current_* views"
            case .research:
                return "recruit: reads only the suppressed aggregate yield view research_run_yields; no patient-level data"
            }
        }

        public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
    }

    /// A table privilege.
    public enum Privilege: String, CaseIterable, Sendable {
        case select = "SELECT", insert = "INSERT", update = "UPDATE", delete = "DELETE"
    }

    /// What each role may do on each table and view of the schema. Every
    /// relation of the schema must be listed, with no grant if nobody but the
    /// owner may touch it (a test checks that none is missing). Per-load
    /// tables (`patients_l12`, …) are not listed: the loader gets SELECT and
    /// INSERT on each as it is created, and ``apply()`` re-grants them.
    public static let policy: [String: [Role: Set<Privilege>]] = [
        // Bookkeeping: every command reads the migrations; settings for loader and practice.
        "schema_migrations": [.loader: [.select], .practice: [.select], .research: [.select]],
        "settings": [.loader: [.select], .practice: [.select]],
        // The audit trail: written only through audit_append; read (verify, export) by practices.
        "audit_log": [.practice: [.select]],
        // Extracts: the loader writes them; practices read loads and snapshots, and
        // patient-level rows only through the current_* views.
        "loads": [.loader: [.select, .insert, .update], .practice: [.select]],
        "load_rejects": [.loader: [.select, .insert]],
        "practice_snapshots": [.loader: [.select, .insert, .update], .practice: [.select]],
        "patients": [.loader: [.select]],
        "events": [.loader: [.select]],
        "prescriptions": [.loader: [.select]],
        "retained_patients": [.loader: [.select]],
        "retained_events": [.loader: [.select]],
        "retained_prescriptions": [.loader: [.select]],
        "issued_run_loads": [.loader: [.select], .practice: [.select]],
        "current_patients": [.loader: [.select], .practice: [.select]],
        "current_events": [.loader: [.select], .practice: [.select]],
        "current_prescriptions": [.loader: [.select], .practice: [.select]],
        // Code lists: stored by the loader, and by the practice's runs (each run
        // stores the versions it used); immutable once stored.
        "codelist_versions": [.loader: [.select, .insert], .practice: [.select, .insert]],
        "codelist_codes": [.loader: [.select, .insert], .practice: [.select, .insert]],
        // Runs, lists, feedback and history: the practice's.
        "cohort_definitions": [.practice: [.select, .insert]],
        "runs": [.practice: [.select, .insert, .update]],
        "run_practices": [.practice: [.select, .insert, .update]],
        "run_invitations": [.practice: [.select, .insert]],
        "run_yields": [.practice: [.select, .insert]],
        "contact_imports": [.practice: [.select, .insert]],
        "history_invitations": [.practice: [.select, .insert]],
        "contact_outcomes": [.practice: [.select, .insert]],
        // Reports (sql/0009): aggregate, for the practice; research reads only its suppressed view.
        "report_invitee_outcomes": [.practice: [.select]],  // patient-level (sql/0014): never the research role
        "report_run_practice_outcomes": [.practice: [.select]],
        "report_referrals": [.practice: [.select]],  // patient-level (sql/0019)
        "report_invitee_profiles": [.practice: [.select]],  // patient-level (sql/0019)
        "report_run_yields": [.practice: [.select]],
        "research_run_yields": [.practice: [.select], .research: [.select]],
    ]

    /// Who may EXECUTE each function that PUBLIC may not (the SECURITY DEFINER
    /// functions of sql/0012). Every SECURITY DEFINER function must be listed.
    public static let functions: [String: Set<Role>] = [
        "audit_append(text, text, jsonb, jsonb)": [.loader, .practice, .research],
        "create_load_table(text, bigint, integer, text)": [.loader],
        "index_load_table(text, bigint, integer)": [.loader],
        "attach_load_tables(bigint, text)": [.loader],
        "drop_load_tables(bigint[])": [.loader],
        "drop_load_tables(bigint[], timestamptz)": [.loader],
        "retain_load_tables(bigint[])": [.loader],
        "create_load_partitions(bigint)": [.loader],
        "issued_loads()": [.loader, .practice],
    ]

    /// The name pattern of per-load tables (`patients_l12`, and the halves of a
    /// split file, `events_l12_1`), which the loader may fill and read.
    public static let perLoadTablePattern = "^(patients|events|prescriptions)_l[0-9]+(_[12])?$"

    /// What ``apply()`` did.
    public struct Report: Sendable, Equatable {
        /// Roles created by this call.
        public var created: [String] = []
        /// Roles that already existed.
        public var existing: [String] = []
        /// Relations granted by the policy.
        public var relations: Int = 0
        /// Per-load tables granted to the loader.
        public var perLoadTables: Int = 0
        /// Functions whose EXECUTE was granted.
        public var functions: Int = 0
        /// Relations of the schema the policy does not list: no role may use them.
        public var unclassified: [String] = []
    }

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Creates the missing roles and grants exactly ``policy`` on the schema, in one transaction.
    ///
    /// - Returns: what was created and granted.
    /// - Throws: ``RecruitError`` (environment) when the current user does not
    ///   own the schema, or a role is missing and the user may not create roles.
    @discardableResult
    public func apply() throws -> Report {
        let conn = database.connection
        try requireOwner()
        var report = Report()
        try conn.transaction {
            // Roles are cluster-wide: serialise concurrent `db roles` in this database.
            try conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('recruit:roles', 0))")
            try createRoles(&report)
            try grantSchema()
            try grantRelations(&report)
            try grantFunctions(&report)
        }
        database.logger.info("database roles applied", metadata: [
            "schema": "\(database.schema)", "created": "\(report.created)", "relations": "\(report.relations)",
            "per_load_tables": "\(report.perLoadTables)", "unclassified": "\(report.unclassified.count)",
        ])
        return report
    }

    /// Refuses unless the current user owns the schema (or is a superuser).
    func requireOwner() throws {
        let rows = try database.connection.query("""
            SELECT pg_has_role(current_user, n.nspowner, 'USAGE') OR r.rolsuper AS owner,
                   pg_get_userbyid(n.nspowner) AS owner_name
            FROM pg_namespace n, pg_roles r
            WHERE n.nspname = \(database.schema) AND r.rolname = current_user
            """)
        guard let row = rows.first else {
            throw RecruitError.environment("schema \(database.schema) does not exist: run 'recruit db migrate' first")
        }
        if row.bool("owner") != true {
            throw RecruitError.environment("""
                granting the roles needs the owner of schema \(database.schema) (\(row.string("owner_name"))); \
                this database user is not: run 'recruit db roles' as the owner
                """)
        }
    }

    private func createRoles(_ report: inout Report) throws {
        let conn = database.connection
        let existing = Set(try conn.query("SELECT rolname FROM pg_roles WHERE rolname = ANY(\(Role.allCases.map(\.name)))")
            .map { $0.string("rolname") })
        let missing = Role.allCases.filter { !existing.contains($0.name) }
        if !missing.isEmpty {
            let may = try conn.query("SELECT rolcreaterole OR rolsuper AS may FROM pg_roles WHERE rolname = current_user")
            if may.first?.bool("may") != true {
                throw RecruitError.environment("""
                    role(s) \(missing.map(\.name).joined(separator: ", ")) do not exist and this database user may not create roles: \
                    run 'recruit db roles' once as a user with CREATEROLE (or a superuser)
                    """)
            }
        }
        for role in Role.allCases {
            if existing.contains(role.name) {
                report.existing.append(role.name)
                continue
            }
            // NOLOGIN: a group role; people log in as themselves and are granted membership.
            // (Another database of the same cluster may create it at the same time.)
            try conn.executeScript(unsafeSQL: """
                DO $$ BEGIN
                  CREATE ROLE \(role.name) NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END $$
                """)
            report.created.append(role.name)
        }
        for role in Role.allCases {
            // COMMENT ON ROLE needs CREATEROLE (PostgreSQL 15) or the role's admin
            // option (16+); without it the comment is left as it is.
            try conn.executeScript(unsafeSQL: """
                DO $$ BEGIN
                  COMMENT ON ROLE \(role.name) IS \(Self.literal(role.summary));
                EXCEPTION WHEN insufficient_privilege THEN NULL;
                END $$
                """)
        }
    }

    private func grantSchema() throws {
        let conn = database.connection
        for role in Role.allCases {
            try conn.execute("REVOKE CREATE ON SCHEMA \(identifier: database.schema) FROM \(identifier: role.name)")
            try conn.execute("GRANT USAGE ON SCHEMA \(identifier: database.schema) TO \(identifier: role.name)")
        }
    }

    /// The schema's tables and views (partitions included), by name.
    func relations() throws -> [(name: String, isPerLoadTable: Bool)] {
        try database.connection.query("""
            SELECT c.relname, c.relname ~ \(Self.perLoadTablePattern) AS per_load
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(database.schema) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            ORDER BY c.relname
            """).map { ($0.string("relname"), $0.bool("per_load") == true) }
    }

    private func grantRelations(_ report: inout Report) throws {
        let conn = database.connection
        let everyRole = Role.allCases.map { conn.quoteIdentifier($0.name) }.joined(separator: ", ")
        for relation in try relations() {
            try conn.execute("REVOKE ALL ON \(identifier: relation.name) FROM \(unsafeRaw: everyRole)")
            if relation.isPerLoadTable {
                try conn.execute("GRANT SELECT, INSERT ON \(identifier: relation.name) TO \(identifier: Role.loader.name)")
                report.perLoadTables += 1
                continue
            }
            guard let grants = Self.policy[relation.name] else {
                report.unclassified.append(relation.name)
                database.logger.info("a relation no role may use (not in the roles policy)", metadata: ["relation": "\(relation.name)"])
                continue
            }
            for (role, privileges) in grants.sorted(by: { $0.key < $1.key }) where !privileges.isEmpty {
                let list = Privilege.allCases.filter(privileges.contains).map(\.rawValue).joined(separator: ", ")
                try conn.execute("GRANT \(unsafeRaw: list) ON \(identifier: relation.name) TO \(identifier: role.name)")
            }
            report.relations += 1
        }
    }

    /// The schema's SECURITY DEFINER functions and those ``functions`` lists,
    /// as (signature as the catalog prints it, roles that may execute it).
    func guardedFunctions() throws -> [(signature: String, roles: Set<Role>?)] {
        let conn = database.connection
        var byOID: [String: Set<Role>] = [:]
        for (signature, roles) in Self.functions {
            // A function a migration has not created yet is skipped.
            if let oid = try conn.query("SELECT to_regprocedure(\(signature))::oid AS oid").first?["oid"] {
                byOID[oid] = roles
            }
        }
        return try conn.query("""
            SELECT p.oid::text AS oid, p.oid::regprocedure::text AS signature
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = \(database.schema) AND (p.prosecdef OR p.oid::text = ANY(\(Array(byOID.keys))))
            ORDER BY 2
            """).map { ($0.string("signature"), byOID[$0.string("oid")]) }
    }

    private func grantFunctions(_ report: inout Report) throws {
        let conn = database.connection
        let everyRole = Role.allCases.map { conn.quoteIdentifier($0.name) }.joined(separator: ", ")
        for function in try guardedFunctions() {
            // The signature comes from the catalog (regprocedure quotes what needs it).
            try conn.execute("REVOKE ALL ON FUNCTION \(unsafeRaw: function.signature) FROM PUBLIC, \(unsafeRaw: everyRole)")
            guard let roles = function.roles else {
                report.unclassified.append(function.signature)
                continue
            }
            for role in roles.sorted() {
                try conn.execute("GRANT EXECUTE ON FUNCTION \(unsafeRaw: function.signature) TO \(identifier: role.name)")
            }
            report.functions += 1
        }
    }

    /// A SQL string literal of program text (role comments).
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
