// libFuzzer target: the code-list manifest (codelists.yaml, CodeListManifest.parse).
//
// Properties:
// - no crash, hang or out-of-bounds access, whatever the YAML;
// - a manifest read without problems is written back (yamlText) and re-read
//   to the same manifest, without problems.
import Foundation
@testable import RecruitKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodeListManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (manifest, problems) = CodeListManifest.parse(text)
    guard problems.isEmpty else { return 0 }
    let written: String
    do {
        written = try manifest.yamlText()
    } catch {
        fatalError("a manifest read without problems cannot be written: \(error)")
    }
    let (again, againProblems) = CodeListManifest.parse(written)
    if !againProblems.isEmpty { fatalError("the written manifest has problems: \(againProblems.map(\.message))") }
    if again != manifest { fatalError("yamlText did not round-trip") }
    return 0
}
