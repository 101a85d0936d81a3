import Foundation
import Logging
import RecruitKit
import RecruitTestSupport
import Testing

/// `recruit codelists import` as a library call: cleaning, choices, the
/// manifest and the lock, refusals that write nothing, and the diff.
@Suite struct CodeListImportTests {
    let logger = TestDatabase.quietLogger

    func source(_ text: String, name: String = "source.csv") throws -> URL {
        let dir = try TestDatabase.temporaryDirectory("codelist-source")
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Every file in a folder with its bytes, to show nothing changed.
    func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            out[name] = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path)
        }
        return out
    }

    @Test("a 7-character Read v2 file: term ids cut, synonyms merged keeping the 00 term, codes padded, each cleaning reported")
    func sevenCharacterReadV2() throws {
        let file = try source("""
            code,term
            N245.11,Pain in leg
            N245.00,Leg pain
            B305.1212,Doubled term id
            1475,h/o: trigeminal neuralgia
            N240.00 ,Pain in arm\u{00A0}

            """)
        let dir = try TestDatabase.temporaryDirectory("codelists")
        var options = CodeListImporter.Options(name: "pain", system: .read2, file: file)
        options.source = .parse("owner/repo:lists/pain.txt@0123456789abcdef")
        options.version = "v1"
        options.notes = ["a choice"]
        let result = try CodeListImporter(directory: dir, logger: logger).run(options)
        #expect(result.written && result.created)
        let written = try String(contentsOf: dir.appendingPathComponent("pain.csv"), encoding: .utf8)
        #expect(written == """
            code,term,code_system
            1475.,h/o: trigeminal neuralgia,read2
            B305.,Doubled term id,read2
            N240.,Pain in arm,read2
            N245.,Leg pain,read2

            """)
        let cleaning = result.imported.cleaning
        #expect(cleaning.contains { $0.hasPrefix("7-character Read v2 codes (code + term id) cut to the 5-character code: 3 (line 2 N245.11 → N245.") })
        #expect(cleaning.contains { $0.hasPrefix("9-character Read v2 codes (code + doubled term id) cut to the 5-character code: 1 (line 4 B305.1212 → B305.)") })
        #expect(cleaning.contains("codes written without their dot padding, padded to 5 characters: 1 (line 5 1475 → 1475.)"))
        #expect(cleaning.contains("codes with spaces or non-breaking spaces around them, trimmed: 1 (line 6 N240.00<U+0020> → N240.00)"))
        #expect(cleaning.contains("terms with spaces or non-breaking spaces around them, trimmed: 1"))
        #expect(cleaning.contains("codes on several rows (synonyms or repeats), merged into one row: 1 (N245. on 2 rows, lines 2, 3 (kept the term on line 3))"))
        #expect(result.imported.codes == 4 && result.imported.rowsRead == 5)
        #expect(result.diff.added.count == 4 && result.diff.removed.isEmpty)

        // Manifest and lock written; the folder passes check.
        let library = try CodeListLibrary(directory: dir)
        let entry = try #require(library.manifest?.lists["pain"]?.systems[.read2])
        #expect(entry.source.repository == "owner/repo" && entry.source.path == "lists/pain.txt" && entry.source.commit == "0123456789abcdef")
        #expect(entry.version == "v1" && entry.status == .draft && entry.notes == ["a choice"])
        #expect(entry.imported?.cleaning == cleaning)
        #expect(try library.check().problems.isEmpty)
    }

    @Test("an OpenCodelists dm+d download: the dmd_id and dmd_name columns are found by name")
    func openCodelistsDMD() throws {
        let file = try source("""
            dmd_type,dmd_id,dmd_name,bnf_code
            VMP,42010211000001106,Co-codamol 8mg/500mg tablets,0407010F0AAAAAA
            AMP,35671811000001104,Co-codamol 8mg/500mg caplets,0407010F0AAAAAA

            """)
        let dir = try TestDatabase.temporaryDirectory("codelists")
        let result = try CodeListImporter(directory: dir, logger: logger).run(.init(name: "opioids", system: .dmd, file: file))
        #expect(result.imported.codeColumn == "dmd_id" && result.imported.termColumn == "dmd_name")
        #expect(result.imported.codes == 2)
        let list = try CodeList.read(name: "opioids", in: dir)
        #expect(list.codes == [SystemCode(system: .dmd, code: "42010211000001106"), SystemCode(system: .dmd, code: "35671811000001104")])
        #expect(list.entries.first { $0.code == "42010211000001106" }?.term == "Co-codamol 8mg/500mg tablets")
        // The default version is the imported file's hash.
        let version = try #require(CodeListLibrary(directory: dir).manifest?.lists["opioids"]?.systems[.dmd]?.version)
        #expect(version.hasPrefix("file-sha256:"))

        // The same file's BNF column, added as a second system of the same list.
        var bnf = CodeListImporter.Options(name: "opioids", system: .bnf, file: file)
        bnf.codeColumn = "bnf_code"
        let second = try CodeListImporter(directory: dir, logger: logger).run(bnf)
        #expect(second.imported.codes == 1 && !second.created)
        #expect(second.imported.cleaning.contains { $0.hasPrefix("codes on several rows") })
        #expect(try CodeList.read(name: "opioids", in: dir).codes.count == 3)
    }

    @Test("a tab-separated code,term file (GM SDE layout) is read")
    func tabSeparated() throws {
        let file = try source("code\tterm\nN245.00\tLeg pain\n9Nu0\tDissent, with a comma\n", name: "list.txt")
        let dir = try TestDatabase.temporaryDirectory("codelists")
        try CodeListImporter(directory: dir, logger: logger).run(.init(name: "x", system: .read2, file: file))
        #expect(try CodeList.read(name: "x", in: dir).entries.map(\.term).sorted() == ["Dissent, with a comma", "Leg pain"])
    }

    @Test("--where selects rows, --drop leaves out a code with its Read v2 descendants and records what it removed")
    func filtersAndDrops() throws {
        let file = try source("""
            code,term,coding_system
            XaZ89,Dissent,CTV3
            9Nu0,Dissent,Read v2
            9Nu1,Dissent withdrawn,Read v2
            a815.,Kaodene,Read v2
            a841.,Chalk and opium,Read v2
            dj19.,Morphine,Read v2

            """)
        let dir = try TestDatabase.temporaryDirectory("codelists")
        var options = CodeListImporter.Options(name: "x", system: .read2, file: file)
        options.filters = [("coding_system", "Read v2")]
        options.drops = [("a8...", "antidiarrhoeals"), ("9Nu1.", nil)]
        let result = try CodeListImporter(directory: dir, logger: logger).run(options)
        #expect(try CodeList.read(name: "x", in: dir).codes.map(\.code).sorted() == ["9Nu0.", "dj19."])
        #expect(result.imported.rowsRead == 6 && result.imported.rowsSelected == 5)
        #expect(result.imported.dropped == [
            CodeListManifest.Drop(code: "a8...", reason: "antidiarrhoeals", removed: ["a815. Kaodene", "a841. Chalk and opium"]),
            CodeListManifest.Drop(code: "9Nu1.", reason: nil, removed: ["9Nu1. Dissent withdrawn"]),
        ])
        #expect(CodeListLibrary.isValidName("x"))
        #expect(try CodeListLibrary(directory: dir).manifest?.lists["x"]?.systems[.read2]?.imported?.filters == ["coding_system=Read v2"])
    }

    @Test("refusals write nothing: an invalid code after cleaning, a --drop that matches nothing, no code column, nothing selected")
    func refusalsWriteNothing() throws {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        let good = try source("code,term\nN245.,Leg pain\n")
        try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: good))
        let before = try snapshot(dir)

        let bad = try source("code,term\nN245.,Leg pain\n1474000.0,Float-mangled\n22298007,Not Read\n")
        let invalid = #expect(throws: RecruitError.self) {
            try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: bad))
        }
        #expect(invalid?.kind == .refused)
        #expect(invalid?.message.contains("source.csv: line 3: Read v2 code \"1474000.0\" has 9 characters") == true)
        #expect(invalid?.message.contains("line 4: Read v2 code \"22298007\" has 8 characters") == true)

        var drop = CodeListImporter.Options(name: "pain", system: .read2, file: good)
        drop.drops = [("Z9...", nil)]
        let dropError = #expect(throws: RecruitError.self) { try CodeListImporter(directory: dir, logger: logger).run(drop) }
        #expect(dropError?.subject == .init(.drop, "Z9...") && dropError?.message.hasPrefix("matches no code") == true)

        let noColumn = try source("concept,description\nN245.,Leg pain\n")
        let columnError = #expect(throws: RecruitError.self) {
            try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: noColumn))
        }
        #expect(columnError?.message.contains("no code column found for read2 (columns: concept, description)") == true)

        var filter = CodeListImporter.Options(name: "pain", system: .read2, file: good)
        filter.filters = [("term", "nothing")]
        #expect(throws: RecruitError.self) { try CodeListImporter(directory: dir, logger: logger).run(filter) }

        #expect(try snapshot(dir) == before)
    }

    @Test("import refuses to overwrite a list or manifest edited without updating the lock")
    func refusesToLaunderHandEdits() throws {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        let file = try source("code,term\nN245.,Leg pain\n")
        try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: file))
        let url = dir.appendingPathComponent("pain.csv")
        try (String(contentsOf: url, encoding: .utf8) + "N246.,By hand,read2\n").write(to: url, atomically: true, encoding: .utf8)
        let before = try snapshot(dir)
        let error = #expect(throws: RecruitError.self) {
            try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: file))
        }
        #expect(error?.message.contains("pain.csv: SHA-256") == true)
        #expect(try snapshot(dir) == before)
        // After review, `lock` accepts the edit and the import goes ahead.
        try CodeListLibrary(directory: dir).writeLock()
        let result = try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: file))
        #expect(result.diff.removed.map(\.code) == ["N246."])
    }

    @Test("re-import: other systems' rows and extra columns are kept; the diff shows added, removed and changed terms")
    func reimportAndDiff() throws {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        try Data("code,term,code_system,comment\nXaZ89,Dissent,ctv3,kept\nN245.,Leg pain,read2,old row\nN246.,Old,read2,\n".utf8)
            .write(to: dir.appendingPathComponent("pain.csv"))
        let file = try source("code,term\nN245.,Pain in leg\nN247.,New code\n")
        let result = try CodeListImporter(directory: dir, logger: logger).run(.init(name: "pain", system: .read2, file: file))
        let text = try String(contentsOf: dir.appendingPathComponent("pain.csv"), encoding: .utf8)
        #expect(text == "code,term,code_system,comment\nXaZ89,Dissent,ctv3,kept\nN245.,Pain in leg,read2,\nN247.,New code,read2,\n")
        let diff = result.diff
        #expect(diff.added.map(\.code) == ["N247."])
        #expect(diff.removed.map(\.code) == ["N246."])
        #expect(diff.termsChanged.map(\.code) == ["N245."])
        #expect(diff.unchanged == 2)
        #expect(diff.text == """
            pain: compared with the list before this import: 1 added, 1 removed, 1 term(s) changed, 2 unchanged
            + read2 N247.  New code
            - read2 N246.  Old
            ~ read2 N245.  Leg pain → Pain in leg
            """)
    }

    @Test("--empty records a system with no codes; a dry run writes nothing")
    func emptyAndDryRun() throws {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        var empty = CodeListImporter.Options(name: "unemployment", system: .read2, file: nil)
        empty.empty = true
        empty.source = .parse("none: no published list")
        try CodeListImporter(directory: dir, logger: logger).run(empty)
        #expect(try String(contentsOf: dir.appendingPathComponent("unemployment.csv"), encoding: .utf8) == "code,term,code_system\n")
        let report = try CodeListLibrary(directory: dir).check()
        #expect(report.ok && report.warnings.contains { $0.message == "the list has no codes" })

        let before = try snapshot(dir)
        var dry = CodeListImporter.Options(name: "unemployment", system: .read2, file: try source("code,term\n13J..,x\n"))
        dry.dryRun = true
        let result = try CodeListImporter(directory: dir, logger: logger).run(dry)
        #expect(!result.written && result.diff.added.map(\.code) == ["13J.."])
        #expect(try snapshot(dir) == before)
    }
}
