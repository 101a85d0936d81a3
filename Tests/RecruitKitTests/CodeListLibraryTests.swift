import Foundation
import Logging
import RecruitKit
import RecruitTestSupport
import Testing

/// The library on disk: check (parse, codes, duplicates, manifest, lock),
/// the lock, resolve, and the shipped lists.
@Suite struct CodeListLibraryTests {
    /// A folder with the given files.
    static func folder(_ files: [String: String]) throws -> URL {
        let dir = try TestDatabase.temporaryDirectory("codelists")
        for (name, text) in files {
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
        }
        return dir
    }

    static let manifest = """
        format: 1
        lists:
          pain:
            description: Test list
            systems:
              read2:
                source: {url: "https://example.org/pain"}
                status: draft
                rules:
                  - include: N24..
                  - exclude: N245z
              snomed:
                source: {repository: example/lists, path: pain.csv, commit: 0123456789abcdef}
                status: reviewed
                reviewer: A Reviewer
                reviewed_on: "2025-01-31"
        """

    @Test("a clean folder passes; without a lock it warns that the lists are unreviewed")
    func cleanFolder() throws {
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN240.,Pain in arm,read2\nN245.,Leg pain,read2\n22253000,Pain,snomed\n",
                                   "codelists.yaml": Self.manifest])
        let library = try CodeListLibrary(directory: dir)
        #expect(library.isUnreviewed)
        let report = try library.check()
        #expect(report.ok, "\(report.problems)")
        #expect(report.warnings.map(\.message) == [CodeListLibrary.unreviewedWarning])
        #expect(try library.names() == ["pain"])
    }

    @Test("invalid codes of each system and duplicates are reported with file and line")
    func invalidAndDuplicates() throws {
        let csv = """
            code,term,code_system
            N245.00,Leg pain with term id,read2
            XaZ8,Short CTV3,ctv3
            22298007,Bad Verhoeff digit,snomed
            42010211000001107,Bad Verhoeff dm+d,dmd
            0407010F0AAAA,Short BNF,bnf
            M5,Short ICD-10,icd10
            N245.,Leg pain,read2
            N245.,Leg pain again,read2
            N245.,Same string in CTV3 is not a duplicate,ctv3
            9Nu0.,Dissent,readv2

            """
        let dir = try Self.folder(["pain.csv": csv])
        let report = try CodeListLibrary(directory: dir).check()
        let errors = report.errors.map(\.description)
        #expect(errors.contains { $0.hasPrefix("pain.csv:2: Read v2 code \"N245.00\" has 7 characters") })
        #expect(errors.contains { $0.hasPrefix("pain.csv:3: CTV3 code \"XaZ8\" has 4 characters") })
        #expect(errors.contains("pain.csv:4: SNOMED CT id \"22298007\" fails its Verhoeff check digit"))
        #expect(errors.contains("pain.csv:5: dm+d id \"42010211000001107\" fails its Verhoeff check digit"))
        #expect(errors.contains { $0.hasPrefix("pain.csv:6: BNF code \"0407010F0AAAA\"") })
        #expect(errors.contains { $0.hasPrefix("pain.csv:7: ICD-10 code \"M5\"") })
        #expect(errors.contains("pain.csv:9: duplicate code \"N245.\" (read2), first on line 8"))
        #expect(errors.contains { $0.hasPrefix("pain.csv:11: unknown code_system \"readv2\"") })
        #expect(errors.count == 8, "\(errors)")
        #expect(!report.ok)
    }

    @Test("a bad header and a malformed row are reported, not thrown")
    func badFile() throws {
        let dir = try Self.folder(["a.csv": "code,term\nN245.,x\n", "b.csv": "code,term,code_system\n\"N245.,x,read2\n"])
        let errors = try CodeListLibrary(directory: dir).check().errors.map(\.description)
        #expect(errors.contains { $0.hasPrefix("a.csv:1: the header needs the columns code, term and code_system") })
        #expect(errors.contains("b.csv:2: unterminated quoted field"))
    }

    @Test("the manifest: unknown keys, bad status, reviewed without reviewer, bad rules, lists without files, systems without source")
    func manifestProblems() throws {
        let yaml = """
            format: 1
            lists:
              pain:
                systems:
                  read2:
                    source: {url: "https://example.org"}
                    status: reviewed
                    exlude: N245.
                    rules:
                      - include: N245.00
                      - exclude: N24..
                        descendants: maybe
                  ctv3:
                    status: final
                    source: x
                  snomed:
                    source: x
                    rules:
                      - include: 22298006
              ghost:
                systems: {}
            """
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\nXaZ89,x,ctv3\n22298006,MI,snomed\n73211009,DM,dmd\n",
                                   "codelists.yaml": yaml])
        let problems = try CodeListLibrary(directory: dir).check().errors.map(\.description)
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:8: list pain, read2: unknown key \"exlude\"") })
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:7: list pain, read2: status reviewed needs a reviewer and reviewed_on") })
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:10: list pain: include rule: Read v2 code \"N245.00\" has 7 characters") })
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:12: list pain, read2: descendants must be true or false") })
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:14: list pain, ctv3: status \"final\" is not draft or reviewed") })
        #expect(problems.contains { $0.hasPrefix("codelists.yaml:19: list pain: include 22298006: descendants cannot be found from SNOMED CT codes") })
        #expect(problems.contains("codelists.yaml:21: list ghost has no file ghost.csv"))
        #expect(problems.contains { $0.hasPrefix("pain.csv:5: has dmd codes but codelists.yaml records no dmd source") })
    }

    @Test("a manifest that is not YAML, or of another format, is reported with its line; check fails")
    func brokenManifest() throws {
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\n",
                                   "codelists.yaml": "format: 1\nlists:\n  pain: [unclosed\n"])
        let errors = try CodeListLibrary(directory: dir).check().errors
        #expect(errors.contains { $0.file == "codelists.yaml" && $0.line != nil && $0.message.hasPrefix("not valid YAML") }, "\(errors)")
        let other = try Self.folder(["codelists.yaml": "format: 2\nlists: {}\n"])
        #expect(try CodeListLibrary(directory: other).check().errors.map(\.description) ==
                ["codelists.yaml:1: format 2 is not supported (this program reads format 1)"])
    }

    @Test("the manifest survives a write and a read unchanged")
    func manifestRoundTrip() throws {
        var manifest = CodeListManifest()
        var system = CodeListManifest.SystemEntry(source: .parse("owner/repo:path/to/file.txt@0123456789abcdef0123456789abcdef01234567"),
                                                  version: "123", status: .reviewed, reviewer: "A 'quoted' person",
                                                  reviewedOn: "2025-02-01", notes: ["yes", "null", "a: colon"],
                                                  rules: [CodeListManifest.Rule(.include, "N24.."), CodeListManifest.Rule(.exclude, "N245.", descendants: false)])
        system.imported = CodeListManifest.Imported(file: "x.csv", sha256: "00", rowsRead: 3, rowsSelected: 2, codeColumn: "code",
                                                    termColumn: nil, filters: ["a=b"], codes: 2, cleaning: ["c"],
                                                    dropped: [CodeListManifest.Drop(code: "N2...", reason: nil, removed: ["N2... x"])])
        manifest.lists["pain"] = CodeListManifest.ListEntry(description: "true", notes: ["n"], systems: [.read2: system])
        manifest.lists["other"] = CodeListManifest.ListEntry(systems: [.snomed: CodeListManifest.SystemEntry(source: .parse("https://x.org/a?b=c"))])
        let text = try manifest.yamlText()
        let (read, problems) = CodeListManifest.parse(text)
        #expect(problems.isEmpty, "\(problems)")
        var stripped = read
        for (name, var entry) in stripped.lists {
            entry.line = nil
            for (s, var e) in entry.systems {
                e.line = nil
                e.rules = e.rules.map { var r = $0; r.line = nil; return r }
                entry.systems[s] = e
            }
            stripped.lists[name] = entry
        }
        #expect(stripped == manifest)
        #expect(try stripped.yamlText() == text)
        #expect(read.lists["pain"]?.systems[.read2]?.source.commit == "0123456789abcdef0123456789abcdef01234567")
    }

    @Test("checksum mismatch: check names the file, verifyLock and resolve refuse it")
    func checksumMismatch() throws {
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\n",
                                   "other.csv": "code,term,code_system\nXaZ89,Dissent,ctv3\n"])
        try CodeListLibrary(directory: dir).writeLock()
        let locked = try CodeListLibrary(directory: dir)
        #expect(!locked.isUnreviewed)
        try locked.verifyLock()
        #expect(try locked.check().problems.isEmpty)

        // A hand edit without updating the lock.
        try Data("code,term,code_system\nN245.,Leg pain,read2\nN246.,Added by hand,read2\n".utf8).write(to: dir.appendingPathComponent("pain.csv"))
        let library = try CodeListLibrary(directory: dir)
        let errors = try library.check().errors
        #expect(errors.count == 1)
        #expect(errors.first?.file == "pain.csv")
        #expect(errors.first?.message.contains("does not match codelists.lock line 2") == true)
        let refused = #expect(throws: RecruitError.self) { try library.verifyLock() }
        #expect(refused?.kind == .refused)
        #expect(refused?.message.contains("pain.csv") == true)
        #expect(refused?.message.contains("other.csv") == false)
        // Only the named lists are verified: other.csv still resolves.
        try library.verifyLock(names: ["other"])
        #expect(try library.resolve(names: ["other"]).first?.locked == true)
        let resolveRefused = #expect(throws: RecruitError.self) { try library.resolve(names: ["other", "pain"]) }
        #expect(resolveRefused?.message.contains("pain.csv") == true)

        // A list added by hand is not in the lock; a locked file that vanished is named.
        try Data("code,term,code_system\n".utf8).write(to: dir.appendingPathComponent("new.csv"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("other.csv"))
        let messages = try CodeListLibrary(directory: dir).check().errors.map(\.description)
        #expect(messages.contains { $0.hasPrefix("new.csv: not in codelists.lock") })
        #expect(messages.contains("codelists.lock:1: other.csv is locked but does not exist"))
    }

    @Test("a malformed lock line is reported with its line")
    func malformedLock() throws {
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN245.,Leg pain,read2\n",
                                   "codelists.lock": "not a hash  pain.csv\n"])
        let errors = try CodeListLibrary(directory: dir).check().errors.map(\.description)
        #expect(errors.contains("codelists.lock:1: expected \"SHA256  FILE\" (two spaces between)"))
        #expect(errors.contains { $0.hasPrefix("pain.csv: not in codelists.lock") })
    }

    @Test("resolve: file hash, manifest version, rules expanded against every list file, expanded hash")
    func resolve() throws {
        let dir = try Self.folder([
            "pain.csv": "code,term,code_system\nN240.,Pain in arm,read2\n22253000,Pain,snomed\n",
            "other.csv": "code,term,code_system\nN2450,Below knee pain,read2\nN245z,Leg pain NOS,read2\nN25..,Not a child,read2\n",
            "codelists.yaml": Self.manifest,
        ])
        let library = try CodeListLibrary(directory: dir)
        let list = try #require(try library.resolve(names: ["pain"]).first)
        #expect(list.sha256 == (try Hashing.sha256Hex(fileAt: dir.appendingPathComponent("pain.csv"))))
        #expect(list.codes(in: .read2) == ["N24..", "N240.", "N2450"])
        #expect(list.codes(in: .snomed) == ["22253000"])
        #expect(list.addedByRules == 2 && list.removedByRules == 0)
        #expect(list.expandedSHA256 == ResolvedCodeList.expandedSHA256(of: list.codes))
        #expect(list.terms[SystemCode(system: .read2, code: "N240.")] == "Pain in arm")
        #expect(list.version == nil)  // no system has a version
        #expect(!list.locked && !list.reviewed)
        #expect(list.manifestEntry["description"] == "Test list")
        let missing = #expect(throws: RecruitError.self) { try library.resolve(names: ["nope"]) }
        #expect(missing?.message.contains("nope.csv does not exist") == true)
    }

    @Test("a list with an invalid code is refused by resolve, with file and line")
    func resolveRefusesInvalid() throws {
        let dir = try Self.folder(["pain.csv": "code,term,code_system\nN245.00,Leg pain,read2\n"])
        let error = #expect(throws: RecruitError.self) { try CodeListLibrary(directory: dir).resolve(names: ["pain"]) }
        #expect(error?.message.contains("pain.csv:2: Read v2 code \"N245.00\" has 7 characters") == true)
    }

    @Test("the shipped lists: all nine present, pass check with the lock, and read through CodeList.read")
    func shippedLists() throws {
        let dir = TestDatabase.repositoryRoot.appendingPathComponent("codelists")
        let library = try CodeListLibrary(directory: dir)
        let names = ["chronic-pain", "opioid-analgesics", "gabapentinoids", "fit-notes", "unemployment", "cancer",
                     "palliative-care", "research-opt-out", "research-opt-out-withdrawn"]
        #expect(try library.names().sorted() == names.sorted())
        #expect(!library.isUnreviewed)
        let report = try library.check()
        #expect(report.errors.isEmpty, "\(report.errors)")
        // The only warnings: unemployment's Read v2 and CTV3, empty until a published source is found.
        #expect(report.warnings.allSatisfy { $0.description.contains("unemployment") }, "\(report.warnings)")
        for name in names {
            let list = try CodeList.read(name: name, in: dir)
            #expect(list.codes.allSatisfy { $0.system.problem(with: $0.code) == nil })
            #expect(!list.codes.isEmpty, "\(name)")
        }
        #expect(try CodeList.read(name: "unemployment", in: dir).codes == [SystemCode(system: .snomed, code: "73438004")])
        let optOut = try CodeList.read(name: "research-opt-out", in: dir).codes
        #expect(optOut == [SystemCode(system: .read2, code: "9Nu0."), SystemCode(system: .ctv3, code: "XaZ89"),
                           SystemCode(system: .snomed, code: "827241000000103")])
        #expect(try CodeList.read(name: "research-opt-out-withdrawn", in: dir).codes == [SystemCode(system: .read2, code: "9Nu1.")])
        // Read v2 everywhere in the five-character form; no list leaves Read v2 out for events or prescriptions.
        for name in names where name != "unemployment" {
            #expect(try CodeList.read(name: name, in: dir).codes.contains { $0.system == .read2 }, "\(name)")
        }
        let resolved = try library.resolve(names: names)
        #expect(resolved.allSatisfy { $0.locked && $0.addedByRules == 0 && $0.removedByRules == 0 })
    }
}
