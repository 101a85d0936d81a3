import Foundation
import Postgres
@testable import RecruitKit
import Testing

/// The loader's row-level rules, without a database: dates, codes, the guard, decimals, the reader.
@Suite struct ExtractRulesTests {
    func bytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var s = s
        return s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    @Test("date formats: ISO, dd/MM/yyyy, dd-MMM-yyyy, d/M/yyyy; invalid days refused")
    func dates() {
        let iso = DateFormat.iso
        #expect(bytes("2000-01-01") { iso.parse($0) } == 0)
        #expect(bytes("2026-10-31") { iso.parse($0) } == Int32(LocalDate(iso: "2026-10-31")!.dayNumber - 10957))
        #expect(bytes("2026-02-29") { iso.parse($0) } == nil)
        #expect(bytes("2024-02-29") { iso.parse($0) } != nil)
        #expect(bytes("26-10-31") { iso.parse($0) } == nil)
        let uk = DateFormat(pattern: "dd/MM/yyyy")!
        #expect(bytes("31/10/2026") { uk.parse($0) } == bytes("2026-10-31") { iso.parse($0) })
        #expect(bytes("31/13/2026") { uk.parse($0) } == nil)
        #expect(bytes("1/2/2026") { uk.parse($0) } == nil)
        let short = DateFormat(pattern: "d/M/yyyy")!
        #expect(bytes("1/2/2026") { short.parse($0) } == bytes("2026-02-01") { iso.parse($0) })
        let named = DateFormat(pattern: "dd-MMM-yyyy")!
        #expect(bytes("05-Mar-1999") { named.parse($0) } == bytes("1999-03-05") { iso.parse($0) })
        #expect(bytes("05-MAR-1999") { named.parse($0) } == bytes("1999-03-05") { iso.parse($0) })
        #expect(bytes("05-Mxr-1999") { named.parse($0) } == nil)
        #expect(DateFormat(pattern: "yyyy-MM") == nil)
        #expect(DateFormat(pattern: "yyyy-MM-dd HH") == nil)
    }

    @Test("Read v2 with and without term id, CTV3, SNOMED CT (Verhoeff), dm+d, BNF")
    func codes() {
        #expect(bytes("N245.") { CodeRules.read2($0) })
        #expect(bytes("N245.00") { CodeRules.read2($0) })
        #expect(bytes("9D1..") { CodeRules.read2($0) })
        #expect(!bytes("N.245") { CodeRules.read2($0) })
        #expect(!bytes("N245.0") { CodeRules.read2($0) })
        #expect(!bytes("N245.0a") { CodeRules.read2($0) })
        #expect(!bytes("N24-.") { CodeRules.read2($0) })
        #expect(bytes("bd3j.") { CodeRules.read2($0, drug: true) })
        #expect(!bytes("N245.") { CodeRules.read2($0, drug: true) })
        #expect(bytes("XE0Uh") { CodeRules.ctv3($0) })
        #expect(!bytes("XE0U") { CodeRules.ctv3($0) })
        #expect(bytes("22298006") { CodeRules.snomed($0) })          // myocardial infarction
        #expect(bytes("279039007") { CodeRules.snomed($0) })         // low back pain
        #expect(!bytes("22298007") { CodeRules.snomed($0) })
        #expect(!bytes("12345") { CodeRules.snomed($0) })
        #expect(bytes("42010211000001106") { CodeRules.dmd($0) })
        #expect(!bytes("4201021100000110x") { CodeRules.dmd($0) })
        #expect(bytes("0407010F0AAAAAA") { CodeRules.bnf($0) })
        #expect(!bytes("0407010F0AAAAA") { CodeRules.bnf($0) })
    }

    @Test("the guard: identifying column names, NHS numbers (mod 11), postcodes; masking")
    func identifierGuard() {
        for name in ["NHS_Number", "nhs-no", "Date of Birth", "DOB", "Surname", "post code", "E-mail", "Address_Line_1"] {
            #expect(IdentifierGuard.isIdentifyingColumn(name), "\(name)")
        }
        for name in ["patient_id", "code", "productname", "year_of_birth", "desc", "namespace"] {
            #expect(!IdentifierGuard.isIdentifyingColumn(name), "\(name)")
        }
        // 943 476 5919 is the NHS's own example of a valid number.
        #expect(bytes("9434765919") { IdentifierGuard.check($0) } == .nhsNumber)
        #expect(bytes("943 476 5919") { IdentifierGuard.check($0) } == .nhsNumber)
        #expect(bytes("seen, NHS no 943-476-5919.") { IdentifierGuard.check($0) } == .nhsNumber)
        #expect(bytes("9434765918") { IdentifierGuard.check($0) } == nil)
        #expect(bytes("94347659190") { IdentifierGuard.check($0) } == nil)
        #expect(bytes("SW1A 1AA") { IdentifierGuard.check($0) } == .postcode)
        #expect(bytes("sw1a1aa") { IdentifierGuard.check($0) } == .postcode)
        #expect(bytes("lives at M1 1AE now") { IdentifierGuard.check($0) } == .postcode)
        #expect(bytes("GIR 0AA") { IdentifierGuard.check($0) } == .postcode)
        #expect(bytes("N245.00") { IdentifierGuard.check($0) } == nil)
        #expect(bytes("repeat") { IdentifierGuard.check($0) } == nil)
        #expect(bytes("QA1 1AA") { IdentifierGuard.check($0) } == nil)
        #expect(IdentifierGuard.mask("9434765919") == "9*********")
        #expect(IdentifierGuard.mask("SW1A 1AA") == "S*** ***")
        let line = Array("p1,2020-01-01,943 476 5919,x".utf8).withUnsafeBytes { IdentifierGuard.maskLine($0) }
        #expect(String(decoding: line, as: UTF8.self) == "p1,2020-01-01,9** *** ****,x")
    }

    @Test("decimals become PostgreSQL numeric digits (base 10000, weight, scale)")
    func decimals() {
        func digits(_ s: String) -> ([Int16], Int, Int)? {
            bytes(s) { b in DecimalText(b).map { d in let r = d.base10000Digits(); return (r.digits, r.weight, d.scale) } }
        }
        #expect(digits("12.5")! == ([12, 5000], 0, 1))
        #expect(digits("0.05")! == ([500], -1, 2))
        #expect(digits("0.00005")! == ([5000], -2, 5))
        #expect(digits("100000")! == ([10], 1, 0))
        #expect(digits("-7")! == ([7], 0, 0))
        #expect(digits(".5")! == ([5000], -1, 1))
        #expect(digits("0")! == ([], 0, 0))
        #expect(digits("1e5") == nil)
        #expect(digits("1.2.3") == nil)
        #expect(digits("-") == nil)
        #expect(digits("") == nil)
    }

    func readAll(_ text: [UInt8], _ options: DelimitedReader.Options) throws -> [([String], Int, String?)] {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID()).txt")
        try Data(text).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try DelimitedReader(url: url, options: options)
        var out: [([String], Int, String?)] = []
        while try reader.next() { out.append(((0..<reader.fieldCount).map(reader.string), reader.lineNumber, reader.malformed)) }
        return out
    }

    @Test("the reader: quotes, CRLF, blank lines, malformed rows, tiny chunks, SHA-256")
    func reader() throws {
        let text = Array("a,b,c\r\n1,\"two, \"\"quoted\"\"\",3\n\n\"multi\nline\",x,\nbad\"quote,y,z\n\"open,3".utf8)
        for chunk in [3, 7, 1 << 20] {
            let rows = try readAll(text, .init(chunkSize: chunk))
            #expect(rows.map(\.0) == [["a", "b", "c"], ["1", "two, \"quoted\"", "3"], ["multi\nline", "x", ""],
                                      ["bad\"quote", "y", "z"], ["open,3"]], "chunk \(chunk)")
            #expect(rows.map(\.1) == [1, 2, 4, 6, 7])
            #expect(rows[3].2 != nil && rows[4].2 != nil && rows[1].2 == nil)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID()).txt")
        try Data(text).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try DelimitedReader(url: url, options: .init(chunkSize: 5))
        while try reader.next() {}
        #expect(reader.sha256 == Hashing.sha256Hex(Data(text)))
    }

    @Test("the reader transcodes Windows-1252 and ISO-8859-1 to UTF-8; undefined bytes are found")
    func transcoding() throws {
        // "Zoë £5 – €" in Windows-1252: ë = EB, £ = A3, – = 96, € = 80.
        let cp1252: [UInt8] = [0x5A, 0x6F, 0xEB, 0x09, 0xA3, 0x35, 0x09, 0x96, 0x09, 0x80, 0x0A]
        let rows = try readAll(cp1252, .init(delimiter: 9, quote: nil, encoding: .windows1252, chunkSize: 4))
        #expect(rows.first?.0 == ["Zoë", "£5", "–", "€"])
        let latin1 = try readAll([0x5A, 0x6F, 0xEB, 0x0A], .init(encoding: .iso88591))
        #expect(latin1.first?.0 == ["Zoë"])
        let undefined: [UInt8] = [0x61, 0x81, 0x0A]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID()).txt")
        try Data(undefined).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try DelimitedReader(url: url, options: .init(encoding: .windows1252))
        #expect(try reader.next())
        #expect(TextEncoding.containsReplacement(reader.rawRecord))
        #expect(Array("ok é".utf8).withUnsafeBytes { TextEncoding.firstInvalidUTF8($0) } == nil)
        #expect(([0x61, 0xE9, 0x62] as [UInt8]).withUnsafeBytes { TextEncoding.firstInvalidUTF8($0) } == 1)
        #expect(([0x61, 0xC0, 0x80] as [UInt8]).withUnsafeBytes { TextEncoding.firstInvalidUTF8($0) } == 1)  // overlong
        #expect(([0x61, 0x00, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68] as [UInt8]).withUnsafeBytes { TextEncoding.scan($0).hasNUL })
        #expect(!Array("abcdefghijk".utf8).withUnsafeBytes { TextEncoding.scan($0).hasNUL })
        #expect(!Array("abcdéfghijk".utf8).withUnsafeBytes { TextEncoding.scan($0).hasNUL })
    }

    @Test("the byte map: inserts, duplicates merge, lookups, growth")
    func byteMap() {
        let map = ByteMap(expectedCount: 4)
        for i in 0..<10_000 { #expect(map.insert("key-\(i)", value: UInt32(i))) }
        #expect(map.count == 10_000)
        for i in stride(from: 0, to: 10_000, by: 97) { #expect(map.lookup("key-\(i)") == UInt32(i)) }
        #expect(map.lookup("key-10000") == nil)
        #expect(!map.insert("key-5", value: 99))
        #expect(map.lookup("key-5") == 5)
    }
}
