// libFuzzer target: CSVReader (every CSV the tool reads goes through it).
//
// The first byte picks the dialect (comma and quotes, or tab without quoting)
// and a chunk size. Properties checked on every input:
// - no crash, no hang, no out-of-bounds access (ASan);
// - reading from memory and from a file in tiny chunks gives the same
//   records, line numbers, malformed flags and raw bytes (the chunk-boundary
//   refill logic is the riskiest part);
// - line numbers never go backwards.
import Foundation
@testable import RecruitKit

struct Record: Equatable {
    var fields: [[UInt8]]
    var line: Int
    var malformed: String?
    var raw: [UInt8]
}

func readAll(_ reader: CSVReader) -> [Record] {
    var records: [Record] = []
    var lastLine = 0
    do {
        while try reader.next() {
            let fields = (0..<reader.fieldCount).map { i in reader.withField(i) { Array($0) } }
            precondition(reader.lineNumber >= lastLine, "line numbers went backwards")
            lastLine = reader.lineNumber
            records.append(Record(fields: fields, line: reader.lineNumber, malformed: reader.malformed, raw: reader.rawRecord))
        }
    } catch {
        fatalError("reading bytes threw: \(error)")
    }
    return records
}

let scratch: URL = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return URL(fileURLWithPath: dir).appendingPathComponent("recruit-fuzz-csv-\(getpid()).csv")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let options: CSVReader.Options = selector & 1 == 0
        ? .init()
        : .init(delimiter: UInt8(ascii: "\t"), quote: nil)
    let chunk = 1 + Int(selector >> 1) % 17
    let inMemory = readAll(CSVReader(bytes: body, options: options))
    guard FileManager.default.createFile(atPath: scratch.path, contents: Data(body)) else { fatalError("cannot write the scratch file") }
    var chunked = options
    chunked.chunkSize = chunk
    guard let fileReader = try? CSVReader(url: scratch, options: chunked) else { fatalError("cannot open the scratch file") }
    let fromFile = readAll(fileReader)
    if inMemory != fromFile {
        fatalError("records differ between memory and \(chunk)-byte chunks: \(inMemory.count) vs \(fromFile.count) records; first difference at record \(Array(zip(inMemory, fromFile)).firstIndex { $0.0 != $0.1 } ?? min(inMemory.count, fromFile.count))")
    }
    return 0
}
