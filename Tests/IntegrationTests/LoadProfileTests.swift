import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Profiles (cprd-gold, custom YAML with another encoding and date format,
/// located errors) and the pseudonymisation guard.
@Suite("Load: profiles and the guard", .enabled(if: TestDatabase.isAvailable), .serialized)
struct LoadProfileTests {
    static let cprdFixture = TestDatabase.repositoryRoot.appendingPathComponent("Tests/RecruitKitTests/Fixtures/cprd-gold")

    @Test("cprd-gold: medcodes and prodcodes translated, practice from patid, yob + 1800, CPRD codes mapped, accept = 0 skipped")
    func cprdGold() throws {
        try TestDatabase.withSchema { db in
            let result = try LoadTests.load(path: Self.cprdFixture.path, db, ["--profile", "cprd-gold", "--max-reject-rate", "0.5", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let summary = LoadTests.json(result.stdout)
            let files = summary["files"] as? [[String: Any]] ?? []
            let patients = files.first { $0["kind"] as? String == "patients" }
            #expect(patients?["rows_skipped"] as? Int == 1)
            let events = files.first { $0["kind"] as? String == "events" }
            #expect(events?["rows_skipped"] as? Int == 1)
            #expect((events?["reject_reasons"] as? [String: Int]) == ["unknown medcode": 1])
            #expect(files.contains { $0["kind"] as? String == "dictionary:medical" && $0["rows_read"] as? Int == 3 })
            #expect(try LoadTests.counts(db) == ["P001": [3, 3, 2], "P042": [1, 0, 1]])
            let p = try db.connection.query("""
                SELECT patient_id, year_of_birth, month_of_birth, sex::text AS sex, registration_start::text AS rs,
                       registration_end::text AS re, death_date::text AS dd
                FROM current_patients ORDER BY patient_id
                """).map { [$0["patient_id"], $0["year_of_birth"], $0["month_of_birth"], $0["sex"], $0["rs"], $0["re"], $0["dd"]] }
            #expect(p == [["1001", "1970", "3", "M", "2001-01-01", nil, nil],
                          ["2001", "1985", nil, "F", "2010-05-05", nil, nil],
                          ["3001", "1950", "11", "F", "1990-01-01", "2020-06-01", nil],
                          ["5042", "2000", nil, "I", "2005-01-01", nil, "2025-02-15"]])
            let e = try db.connection.query("""
                SELECT patient_id, event_date::text AS d, code, term_id, code_system FROM current_events ORDER BY patient_id, event_date
                """).map { [$0["patient_id"], $0["d"], $0["code"], $0["term_id"], $0["code_system"]] }
            #expect(e == [["1001", "2020-03-12", "N245.", "00", "read2"], ["1001", "2021-01-01", "N245.", "11", "read2"],
                          ["2001", "2022-06-15", "1371.", "00", "read2"]])
            let r = try db.connection.query("""
                SELECT patient_id, issue_date::text AS d, code, code_system, quantity::text AS q, duration_days, issue_type
                FROM current_prescriptions ORDER BY patient_id, issue_date
                """).map { [$0["patient_id"], $0["d"], $0["code"], $0["code_system"], $0["q"], $0["duration_days"], $0["issue_type"]] }
            #expect(r == [["1001", "2026-02-01", "42010211000001106", "dmd", "56", "28", "acute"],
                          ["1001", "2026-03-01", "42010211000001106", "dmd", "56", nil, "repeat"],
                          ["5042", "2026-04-01", "39720311000001101", "dmd", "100", "30", "repeat"]])
            let load = try LoadTests.lastLoad(db)
            #expect(try LoadTests.rejects(db, load: load.id).map { "\($0.file):\($0.line):\($0.reason)" } == ["Clinical.txt:6:unknown medcode"])
        }
    }

    static let acmeProfile = """
        # A supplier's export: semicolons, Windows-1252, UK dates.
        profile: acme-export
        encoding: Windows-1252
        delimiter: ";"
        date_formats: [dd/MM/yyyy]
        files:
          patients:
            file: PATIENTS.TXT
            columns:
              patient_id: PatRef
              practice_id: { constant: ACME1 }
              year_of_birth: BirthYear
              sex: { column: Gender, map: { "1": M, "2": F, "*": U } }
              registration_start: RegDate
              registration_end: { column: DeregDate, optional: true }
          events:
            file: JOURNAL.TXT
            columns:
              patient_id: PatRef
              event_date: EntryDate
              code: ReadCode
              code_system: { constant: read2 }
              value: { column: Result, optional: true }
            ignore: { Comment: text }
          prescriptions:
            file: SCRIPTS.TXT
            columns:
              patient_id: PatRef
              issue_date: { column: IssueDate, date_formats: [dd-MMM-yyyy] }
              code: DmdCode
              code_system: { constant: dmd }

        """

    func acmeExtract() throws -> (ExtractFiles, URL) {
        let fixture = try ExtractFiles.make(patients: nil, events: nil, prescriptions: nil, extractDate: "2026-10-31")
        func cp1252(_ s: String) -> [UInt8] {
            s.unicodeScalars.map { u -> UInt8 in
                switch u { case "é": return 0xE9; case "ë": return 0xEB; case "€": return 0x80; default: return UInt8(u.value) }
            }
        }
        try fixture.write("PATIENTS.TXT", bytes: cp1252("PatRef;BirthYear;Gender;RegDate;DeregDate\r\nk1;1975;1;31/12/2001;\r\nk2;1985;2;01/02/2003;28/02/2020\r\nk3;1990;9;15/08/2010;\r\n"))
        try fixture.write("JOURNAL.TXT", bytes: cp1252("PatRef;EntryDate;ReadCode;Result;Comment\r\nk1;05/03/2021;N245.00;;\"Café; seen\"\r\nk2;29/02/2024;1371.;3.5;Zoë €\r\nk3;31/02/2024;1371.;;Café again\r\nk3;01/01/2025;H33..;;\r\n"))
        try fixture.write("SCRIPTS.TXT", bytes: cp1252("PatRef;IssueDate;DmdCode\r\nk1;05-Mar-2026;42010211000001106\r\n"))
        let profile = fixture.directory.appendingPathComponent("acme.yaml")
        try Data(Self.acmeProfile.utf8).write(to: profile)
        return (fixture, profile)
    }

    @Test("a custom YAML profile: Windows-1252 transcoded, dd/MM/yyyy and dd-MMM-yyyy dates, value maps, constants")
    func customProfile() throws {
        try TestDatabase.withSchema { db in
            let (fixture, profile) = try acmeExtract()
            defer { fixture.remove() }
            let result = try LoadTests.load(fixture, db, ["--profile", profile.path, "--max-reject-rate", "0.3"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try LoadTests.counts(db) == ["ACME1": [3, 3, 1]])
            let p = try db.connection.query("SELECT patient_id, sex::text AS s, registration_start::text AS rs, registration_end::text AS re FROM current_patients ORDER BY 1")
                .map { [$0["patient_id"], $0["s"], $0["rs"], $0["re"]] }
            #expect(p == [["k1", "M", "2001-12-31", nil], ["k2", "F", "2003-02-01", "2020-02-28"], ["k3", "U", "2010-08-15", nil]])
            let e = try db.connection.query("SELECT patient_id, event_date::text AS d, code, term_id, value::text AS v FROM current_events ORDER BY 1, 2")
                .map { [$0["patient_id"], $0["d"], $0["code"], $0["term_id"], $0["v"]] }
            #expect(e == [["k1", "2021-03-05", "N245.", "00", nil], ["k2", "2024-02-29", "1371.", nil, "3.5"], ["k3", "2025-01-01", "H33..", nil, nil]])
            let r = try db.connection.query("SELECT issue_date::text AS d FROM current_prescriptions")
            #expect(r.first?.string("d") == "2026-03-05")
            // The rejected row (31 February) is kept as UTF-8 text.
            let rejects = try LoadTests.rejects(db, load: try LoadTests.lastLoad(db).id)
            #expect(rejects.map { [$0.file, String($0.line), $0.raw, $0.reason] } == [["JOURNAL.TXT", "4", "k3;31/02/2024;1371.;;Café again", "invalid event_date"]])
            let profileRow = try db.connection.query("SELECT profile_name, profile_sha256 FROM loads ORDER BY load_id DESC LIMIT 1")[0]
            #expect(profileRow.string("profile_name") == "acme-export")
            #expect(profileRow.string("profile_sha256") == Hashing.sha256Hex(Self.acmeProfile))
        }
    }

    @Test("profile errors name the line: an unknown key, a mapping to a column the file lacks, bad YAML, an unknown built-in")
    func profileErrors() throws {
        try TestDatabase.withSchema { db in
            let (fixture, _) = try acmeExtract()
            defer { fixture.remove() }
            let bad = fixture.directory.appendingPathComponent("bad.yaml")
            try Data(Self.acmeProfile.replacingOccurrences(of: "ignore: { Comment", with: "ignroe: { Comment").utf8).write(to: bad)
            let unknownKey = try LoadTests.load(fixture, db, ["--profile", bad.path])
            #expect(unknownKey.status == 1)
            #expect(unknownKey.stderr.contains("profile bad.yaml line 24: unknown key 'ignroe' in files.events"), "\(unknownKey.stderr)")

            try Data(Self.acmeProfile.replacingOccurrences(of: "code: ReadCode", with: "code: ReadKode").utf8).write(to: bad)
            let missing = try LoadTests.load(fixture, db, ["--profile", bad.path])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("JOURNAL.TXT: the header lacks the required column 'ReadKode' (mapped to code); bad.yaml line 21 maps it"), "\(missing.stderr)")
            #expect(try LoadTests.lastLoad(db).status == "refused")

            try Data(Self.acmeProfile.replacingOccurrences(of: "      code: ReadCode", with: "      coda: ReadCode").utf8).write(to: bad)
            let wrongColumn = try LoadTests.load(fixture, db, ["--profile", bad.path])
            #expect(wrongColumn.stderr.contains("line 21: unknown key 'coda' in files.events.columns"), "\(wrongColumn.stderr)")

            try Data("profile: x\nfiles: [unclosed\n".utf8).write(to: bad)
            let yaml = try LoadTests.load(fixture, db, ["--profile", bad.path])
            #expect(yaml.status == 1)
            #expect(yaml.stderr.contains("profile bad.yaml line"), "\(yaml.stderr)")
            #expect(yaml.stderr.contains("not valid YAML"))

            let unknown = try LoadTests.load(fixture, db, ["--profile", "no-such-profile"])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no profile 'no-such-profile'"))
        }
    }

    // MARK: The pseudonymisation guard

    /// Loads the good fixture, then `bad`; checks the refusal, the message and that `values` are nowhere.
    func refusedByGuard(_ bad: ExtractFiles, _ db: Database, message: String, values: [String]) throws {
        let good = try ExtractFiles.make()
        defer { good.remove() }
        #expect(try LoadTests.load(good, db).status == 0)
        let before = try LoadTests.state(db)
        let result = try LoadTests.load(bad, db, ["--json", "--max-reject-rate", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.contains("Only pseudonymised data") || result.stderr.contains("only pseudonymised data"))
        #expect(try LoadTests.state(db) == before)
        #expect(try LoadTests.lastLoad(db).status == "refused")
        for value in values {
            #expect(!result.allOutput.contains(value), "the value appears in the output")
            #expect(try LoadTests.anyTableContains(db, value).isEmpty, "the value appears in a table")
        }
    }

    @Test("the guard refuses a column named as direct identification")
    func identifyingColumn() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(patients: ExtractFiles.patients
                .replacingOccurrences(of: "death_date\n", with: "death_date,NHS_Number\n")
                .replacingOccurrences(of: ",2025-01-01\n", with: ",2025-01-01,9434765919\n")
                .replacingOccurrences(of: ",,\n", with: ",,9434765919\n"))
            defer { fixture.remove() }
            try refusedByGuard(fixture, db, message: "patients.csv line 1, column 'NHS_Number': the column names direct identification",
                               values: ["9434765919"])
        }
    }

    @Test("the guard refuses an NHS number with a valid check digit in a free-text column, shown masked")
    func nhsNumberValue() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(events: """
                patient_id,event_date,code,code_system,value,note
                a1,2020-01-01,N245.00,read2,,seen
                a2,2022-02-02,22298006,snomed,,NHS 943 476 5919 given

                """)
            defer { fixture.remove() }
            try refusedByGuard(fixture, db, message: "events.csv line 3, column 'note': the value N** *** *** **** ***** looks like an NHS number",
                               values: ["943 476 5919", "9434765919", "4765919"])
        }
    }

    @Test("the guard refuses a postcode, in a free-text column or an enumerated one")
    func postcodeValue() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(prescriptions: """
                patient_id,issue_date,code,code_system,quantity,duration_days,issue_type,pharmacy
                a1,2026-01-01,42010211000001106,dmd,100,28,repeat,High St
                a2,2026-02-01,bd3j.00,read2,,,acute,LS1 4AP

                """)
            defer { fixture.remove() }
            try refusedByGuard(fixture, db, message: "prescriptions.csv line 3, column 'pharmacy': the value L** *** looks like a postcode",
                               values: ["LS1 4AP"])
            let enumerated = try ExtractFiles.make(prescriptions: """
                patient_id,issue_date,code,code_system,quantity,duration_days,issue_type
                a1,2026-01-01,42010211000001106,dmd,100,28,SW1A 2AA

                """)
            defer { enumerated.remove() }
            let result = try LoadTests.load(enumerated, db)
            #expect(result.status == 1)
            #expect(result.stderr.contains("column 'issue_type': the value S*** *** looks like a postcode"), "\(result.stderr)")
            #expect(!result.allOutput.contains("SW1A 2AA"))
            #expect(try LoadTests.anyTableContains(db, "SW1A 2AA").isEmpty)
        }
    }

    @Test("code columns are never checked: a SNOMED CT id that passes the NHS check digit loads")
    func snomedIsNotAnNHSNumber() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            #expect(IdentifierGuard.isValidNHSNumber("1264024002".map { Int(String($0))! }))
            let result = try LoadTests.load(fixture, db)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try db.connection.query("SELECT 1 FROM current_events WHERE code = '1264024002'").count == 1)
        }
    }
}
