import Foundation
import RecruitKit
import Testing

@Suite struct CSVReaderTests {
    func records(_ text: String, _ options: CSVReader.Options = .init()) throws -> [([String], Int, String?)] {
        let reader = CSVReader(bytes: Array(text.utf8), options: options)
        var out: [([String], Int, String?)] = []
        while try reader.next() { out.append((reader.strings, reader.lineNumber, reader.malformed)) }
        return out
    }

    @Test func plainAndQuoted() throws {
        let r = try records("a,b,c\r\n1,\"two, \"\"quoted\"\"\",3\n\"multi\nline\",x,\n")
        #expect(r.map(\.0) == [["a", "b", "c"], ["1", "two, \"quoted\"", "3"], ["multi\nline", "x", ""]])
        #expect(r.map(\.1) == [1, 2, 3])
        #expect(r.allSatisfy { $0.2 == nil })
    }

    @Test func byteOrderMarkAndNoFinalNewline() throws {
        let r = try records("\u{FEFF}code,term\nN245.,Pain")
        #expect(r.map(\.0) == [["code", "term"], ["N245.", "Pain"]])
    }

    @Test func malformedRowsAreFlaggedNotFatal() throws {
        let r = try records("a,b\nx\"y,2\n\"open,3\n")
        #expect(r[1].2 != nil)
        #expect(r.count == 3)
        #expect(r[2].2 == "unterminated quoted field")
    }

    @Test func tabsWithoutQuoting() throws {
        let r = try records("a\tb\n\"x\tq\"\n", .init(delimiter: UInt8(ascii: "\t"), quote: nil))
        #expect(r.map(\.0) == [["a", "b"], ["\"x", "q\""]])
    }

    @Test func smallChunksFromAFile() throws {
        var text = "id,value\n"
        for i in 0..<5000 { text += "\(i),\"v \(i), with comma\"\n" }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID()).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try CSVReader(url: url, options: .init(chunkSize: 7))
        var n = 0
        while try reader.next() {
            if n > 0 { #expect(reader.string(1) == "v \(n - 1), with comma") }
            n += 1
        }
        #expect(n == 5001)
        #expect(reader.lineNumber == 5001)
    }
}
