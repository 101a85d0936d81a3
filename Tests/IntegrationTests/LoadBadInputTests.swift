import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Every rule of the extract format's "Bad input" section (shared/spec/extract-format.md):
/// the exit code, a message naming the file (and line) and reason, the rejects
/// kept, and the previous snapshot untouched.
@Suite("Load: bad input", .enabled(if: TestDatabase.isAvailable), .serialized)
struct LoadBadInputTests {
    /// Loads the good fixture, then `bad`; checks the refusal and that nothing changed.
    func refusedAfterGoodLoad(_ bad: ExtractFiles, in db: Database, extra: [String] = []) throws -> (RecruitCLI.Result, Int) {
        let good = try ExtractFiles.make()
        defer { good.remove() }
        let first = try LoadTests.load(good, db)
        #expect(first.status == 0, "\(first.stderr)")
        let before = try LoadTests.state(db)
        let result = try LoadTests.load(bad, db, extra)
        #expect(result.status == 1, "expected a refusal: \(result.stdout)\n\(result.stderr)")
        #expect(try LoadTests.state(db) == before, "the previous snapshot must be untouched")
        let last = try LoadTests.lastLoad(db)
        #expect(last.status == "refused")
        #expect(try LoadTests.tables(db, load: last.id).isEmpty, "a refused load leaves no tables")
        let audit = try db.connection.query("SELECT action FROM audit_log ORDER BY entry_id DESC LIMIT 1")
        #expect(audit.first?.string("action") == "load.refused")
        return (result, last.id)
    }

    /// One bad row of a rule, the file it goes in, and the reason recorded.
    struct BadRow: CustomTestStringConvertible, Sendable {
        let file: String
        let row: String
        let reason: String
        var testDescription: String { "\(file): \(reason)" }
    }

    static let badRows: [BadRow] = [
        .init(file: "patients.csv", row: "x 1,A001,1970,,F,2000-01-01,,", reason: "invalid patient_id"),
        .init(file: "patients.csv", row: "\(String(repeating: "x", count: 65)),A001,1970,,F,2000-01-01,,", reason: "invalid patient_id"),
        .init(file: "patients.csv", row: ",A001,1970,,F,2000-01-01,,", reason: "missing patient_id"),
        .init(file: "patients.csv", row: "x2,A-001,1970,,F,2000-01-01,,", reason: "invalid practice_id"),
        .init(file: "patients.csv", row: "x2,A00100000000000001,1970,,F,2000-01-01,,", reason: "invalid practice_id"),
        .init(file: "patients.csv", row: "x3,A001,1879,,F,2000-01-01,,", reason: "year_of_birth out of range"),
        .init(file: "patients.csv", row: "x4,A001,2027,,F,2000-01-01,,", reason: "year_of_birth out of range"),
        .init(file: "patients.csv", row: "x4,A001,19x0,,F,2000-01-01,,", reason: "invalid year_of_birth"),
        .init(file: "patients.csv", row: "x5,A001,1970,13,F,2000-01-01,,", reason: "invalid month_of_birth"),
        .init(file: "patients.csv", row: "x6,A001,1970,,X,2000-01-01,,", reason: "invalid sex"),
        .init(file: "patients.csv", row: "x7,A001,1970,,F,,,", reason: "missing registration_start"),
        .init(file: "patients.csv", row: "x7,A001,1970,,F,2000-13-01,,", reason: "invalid registration_start"),
        .init(file: "patients.csv", row: "x8,A001,1970,,F,2027-01-01,,", reason: "registration_start after extract_date"),
        .init(file: "patients.csv", row: "x9,A001,1970,,F,2000-01-01,1999-01-01,", reason: "registration_end before registration_start"),
        .init(file: "patients.csv", row: "x10,A001,1970,,F,2000-01-01,,2026-11-01", reason: "death_date after extract_date"),
        .init(file: "patients.csv", row: "x11,A001,1970,,F", reason: "5 fields where the header has 8"),
        .init(file: "events.csv", row: "zz,2020-01-01,N245.,read2,", reason: "unknown patient"),
        .init(file: "events.csv", row: "a1,,N245.,read2,", reason: "missing event_date"),
        .init(file: "events.csv", row: "a1,1899-12-31,N245.,read2,", reason: "event_date before 1900-01-01"),
        .init(file: "events.csv", row: "a1,2026-11-01,N245.,read2,", reason: "event_date after extract_date"),
        .init(file: "events.csv", row: "a1,2020-01-01,N24,read2,", reason: "invalid read2 code"),
        .init(file: "events.csv", row: "a1,2020-01-01,N245.0x,read2,", reason: "invalid read2 code"),
        .init(file: "events.csv", row: "a1,2020-01-01,XE0U,ctv3,", reason: "invalid ctv3 code"),
        .init(file: "events.csv", row: "a1,2020-01-01,22298007,snomed,", reason: "invalid snomed code"),
        .init(file: "events.csv", row: "a1,2020-01-01,N245.,icd10,", reason: "invalid code_system"),
        .init(file: "events.csv", row: "a1,2020-01-01,,read2,", reason: "missing code"),
        .init(file: "events.csv", row: "a1,2020-01-01,N245.,read2,1.2.3", reason: "invalid value"),
        .init(file: "events.csv", row: "a1,2020-01-01,\"N245.\"x,read2,", reason: "a character after a closing quote"),
        .init(file: "prescriptions.csv", row: "zz,2026-01-01,42010211000001106,dmd,,,", reason: "unknown patient"),
        .init(file: "prescriptions.csv", row: "a1,2026-11-01,42010211000001106,dmd,,,", reason: "issue_date after extract_date"),
        .init(file: "prescriptions.csv", row: "a1,01/01/2026,42010211000001106,dmd,,,", reason: "invalid issue_date"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,42010211000001106,atc,,,", reason: "invalid code_system"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,4201x,dmd,,,", reason: "invalid dmd code"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,N245.,read2,,,", reason: "invalid read2 code"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,0407010F0AAAA,bnf,,,", reason: "invalid bnf code"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,42010211000001106,dmd,lots,,", reason: "invalid quantity"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,42010211000001106,dmd,,0,", reason: "invalid duration_days"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,42010211000001106,dmd,,366,", reason: "invalid duration_days"),
        .init(file: "prescriptions.csv", row: "a1,2026-01-01,42010211000001106,dmd,,,sometimes", reason: "invalid issue_type"),
    ]

    @Test("a row that breaks a rule is rejected, kept with file, line, raw text and reason; over the threshold the load is refused",
          arguments: badRows)
    func badRow(_ bad: BadRow) throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            try fixture.append(bad.file, bad.row)
            let lines = try String(contentsOf: fixture.directory.appendingPathComponent(bad.file), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
            let line = lines.firstIndex { $0 == bad.row }! + 1
            let (result, load) = try refusedAfterGoodLoad(fixture, in: db)
            #expect(result.stderr.contains("too many rejected rows"))
            #expect(result.stderr.contains(bad.file))
            #expect(result.stdout.contains("\(bad.reason) (line \(line))"), "\(result.stdout)")
            let rejects = try LoadTests.rejects(db, load: load)
            #expect(rejects.count == 1)
            #expect(rejects.first?.file == bad.file)
            #expect(rejects.first?.line == line)
            #expect(rejects.first?.reason == bad.reason)
            #expect(rejects.first?.raw == bad.row)

            // Under a looser threshold the same row is rejected and the rest loads.
            let loose = try LoadTests.load(fixture, db, ["--max-reject-rate", "0.5", "--json"])
            #expect(loose.status == 0, "\(loose.stderr)")
            let summary = LoadTests.json(loose.stdout)
            #expect(summary["status"] as? String == "loaded")
            let last = try LoadTests.lastLoad(db)
            #expect(try LoadTests.rejects(db, load: last.id).map(\.reason) == [bad.reason])
        }
    }

    @Test("a header without a required column stops the load, naming the file and the column")
    func missingColumn() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(events: ExtractFiles.events.replacingOccurrences(of: "code_system", with: "system"))
            defer { fixture.remove() }
            let (result, load) = try refusedAfterGoodLoad(fixture, in: db)
            #expect(result.stderr.contains("events.csv: the header lacks the required column 'code_system'"), "\(result.stderr)")
            #expect(try LoadTests.rejects(db, load: load).isEmpty)
        }
    }

    @Test("optional columns may be missing from the header; columns match by name in any order, any case")
    func optionalColumnsAndOrder() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(events: """
                CODE_SYSTEM,Code,event_date,patient_id
                read2,N245.00,2020-01-01,a1
                snomed,22298006,2026-10-02,a2

                """)
            defer { fixture.remove() }
            let result = try LoadTests.load(fixture, db)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try LoadTests.counts(db)["A001"] == [3, 2, 2])
        }
    }

    @Test("an unknown extra column is ignored with a warning")
    func unknownColumnWarning() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(prescriptions: """
                patient_id,issue_date,code,code_system,quantity,duration_days,issue_type,pharmacy
                a1,2026-01-01,42010211000001106,dmd,100,28,repeat,Boots
                a2,2026-02-01,bd3j.00,read2,,,acute,

                """)
            defer { fixture.remove() }
            let result = try LoadTests.load(fixture, db)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("warning: prescriptions.csv: column(s) pharmacy are not part of the format; ignored"))
        }
    }

    @Test("a missing file, or one that is not a file, stops the load naming it")
    func unreadableFile() throws {
        try TestDatabase.withSchema { db in
            let missing = try ExtractFiles.make(prescriptions: nil)
            defer { missing.remove() }
            let (result, _) = try refusedAfterGoodLoad(missing, in: db)
            #expect(result.stderr.contains("prescriptions.csv: no such file"), "\(result.stderr)")

            let folder = try ExtractFiles.make(events: nil)
            defer { folder.remove() }
            try FileManager.default.createDirectory(at: folder.directory.appendingPathComponent("events.csv"), withIntermediateDirectories: false)
            let (second, _) = try refusedAfterGoodLoad(folder, in: db)
            #expect(second.stderr.contains("events.csv: not a regular file"), "\(second.stderr)")

            let empty = try ExtractFiles.make(events: "")
            defer { empty.remove() }
            let (third, _) = try refusedAfterGoodLoad(empty, in: db)
            #expect(third.stderr.contains("events.csv: the file is empty"), "\(third.stderr)")
        }
    }

    @Test("a file that is not valid UTF-8 stops the load, naming the file and line")
    func invalidUTF8() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            var bytes = Array(ExtractFiles.patients.utf8)
            bytes += Array("c1,A001,1970,,F,2000-01-01,,".utf8)
            bytes[bytes.count - 20] = 0xE9  // Latin-1 é inside the row
            bytes.append(10)
            try fixture.write("patients.csv", bytes: bytes)
            let (result, load) = try refusedAfterGoodLoad(fixture, in: db)
            #expect(result.stderr.contains("patients.csv line 7: not valid UTF-8"), "\(result.stderr)")
            #expect(try LoadTests.rejects(db, load: load).isEmpty)
        }
    }

    @Test("no extract date: extract.json missing and no --extract-date")
    func noExtractDate() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make(extractDate: nil)
            defer { fixture.remove() }
            let (result, _) = try refusedAfterGoodLoad(fixture, in: db)
            #expect(result.stderr.contains("--extract-date"))
            let dated = try LoadTests.load(fixture, db, ["--extract-date", "2026-10-31"])
            #expect(dated.status == 0, "\(dated.stderr)")
        }
    }

    @Test("duplicate patient ids: every copy rejected, their events and prescriptions too ('patient rejected')")
    func duplicatePatients() throws {
        try TestDatabase.withSchema { db in
            let fixture = try ExtractFiles.make()
            defer { fixture.remove() }
            try fixture.append("patients.csv", "a1,B002,1971,,M,2002-02-02,,")
            try fixture.append("patients.csv", "c9,A001,1700,,M,2002-02-02,,")
            try fixture.append("events.csv", "c9,2020-01-01,N245.,read2,")
            try fixture.append("events.csv", "nobody,2020-01-01,N245.,read2,")
            let refused = try LoadTests.load(fixture, db)
            #expect(refused.status == 1)
            let result = try LoadTests.load(fixture, db, ["--max-reject-rate", "1", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let load = try LoadTests.lastLoad(db).id
            let rejects = try LoadTests.rejects(db, load: load)
            let byFile = Dictionary(grouping: rejects, by: \.file).mapValues { $0.map { "\($0.line):\($0.reason)" } }
            #expect(byFile["patients.csv"] == ["2:duplicate patient_id", "7:duplicate patient_id", "8:year_of_birth out of range"])
            #expect(byFile["events.csv"] == ["2:patient rejected", "3:patient rejected", "8:patient rejected", "9:unknown patient"])
            #expect(byFile["prescriptions.csv"] == ["2:patient rejected"])
            #expect(try LoadTests.counts(db)["A001"] == [2, 2, 1])
        }
    }

    @Test("rejected rows over the threshold in one practice refuse the whole extract: both practices keep their snapshot")
    func thresholdRefusesBothPractices() throws {
        try TestDatabase.withSchema { db in
            let clean = try ExtractFiles.large(patients: 400, practices: 2, eventsPerPatient: 5, tag: "t")
            defer { clean.remove() }
            #expect(try LoadTests.load(clean, db).status == 0)
            let before = try LoadTests.state(db)
            // 30 of practice P1's 1,000 events (1.5% of the file's 2,000) carry a date the profile does not read.
            let mixed = try ExtractFiles.large(patients: 400, practices: 2, eventsPerPatient: 5, tag: "t")
            defer { mixed.remove() }
            var events = try String(contentsOf: mixed.directory.appendingPathComponent("events.csv"), encoding: .utf8)
                .split(separator: "\n").map(String.init)
            var changed = 0
            for i in 1..<events.count where changed < 30 {
                let patient = Int(events[i].prefix { $0 != "," }.dropFirst(2))!
                if patient % 2 == 1 && events[i].contains(",2011-02-11,") {
                    events[i] = events[i].replacingOccurrences(of: ",2011-02-11,", with: ",11/02/2011,")
                    changed += 1
                }
            }
            #expect(changed == 30)
            try mixed.write("events.csv", events.joined(separator: "\n") + "\n")
            let result = try LoadTests.load(mixed, db)
            #expect(result.status == 1, "\(result.stdout)")
            #expect(result.stderr.contains("events.csv: 30 of 2000 rows rejected (1.50%)"), "\(result.stderr)")
            #expect(try LoadTests.state(db) == before)
            let counts = try LoadTests.counts(db)
            #expect(counts["P0"] == [200, 1000, 600] && counts["P1"] == [200, 1000, 600])
            let load = try LoadTests.lastLoad(db).id
            #expect(try LoadTests.rejects(db, load: load).count == 30)
        }
    }
}
