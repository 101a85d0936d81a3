// libFuzzer target: code-list CSV files (CodeListFile.parse, used by
// `codelists check` and `import`, and CodeList.read, the strict reader runs use).
//
// Properties:
// - no crash, hang or out-of-bounds access;
// - a file read without problems is written back (csvText) and re-read to
//   the same rows and columns, without problems;
// - the strict reader accepts every file the lenient one finds no error in,
//   with the same codes.
import Foundation
@testable import RecruitKit

let directory: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: base).appendingPathComponent("recruit-fuzz-codelist-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

struct Comparable: Hashable {
    var code: String, term: String, system: String, extras: [String: String]
}

func rows(_ file: CodeListFile) -> [Comparable: Int] {
    var out: [Comparable: Int] = [:]
    for r in file.rows { out[Comparable(code: r.code, term: r.term, system: r.systemText, extras: r.extras), default: 0] += 1 }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodeListCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let file = CodeListFile.parse(bytes, name: "fuzz")
    let errors = file.problems.filter { $0.severity == .error }
    guard errors.isEmpty, !file.rows.isEmpty else { return 0 }
    let text = file.csvText()
    let again = CodeListFile.parse(Data(text.utf8), name: "fuzz")
    if !again.problems.filter({ $0.severity == .error }).isEmpty {
        fatalError("the written file has problems: \(again.problems.map(\.message))")
    }
    if rows(again) != rows(file) || again.extraColumns != file.extraColumns {
        fatalError("csvText did not round-trip: \(file.rows.count) rows became \(again.rows.count)")
    }
    // The strict reader (runs) on the same bytes.
    let url = directory.appendingPathComponent("fuzz.csv")
    guard FileManager.default.createFile(atPath: url.path, contents: bytes) else { fatalError("cannot write the scratch file") }
    do {
        let strict = try CodeList.read(name: "fuzz", in: directory)
        let lenient = Set(file.entries.map { SystemCode(system: $0.system, code: $0.code) })
        if strict.codes != lenient { fatalError("the strict and lenient readers disagree on the codes") }
    } catch {
        fatalError("the strict reader refused a file the lenient reader found no error in: \(error)")
    }
    return 0
}
