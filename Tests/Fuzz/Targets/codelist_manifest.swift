// libFuzzer target: the code-list manifest (codelists.yaml, CodeListManifest.parse).
//
// Properties:
// - no crash, hang or out-of-bounds access, whatever the YAML;
// - a manifest read without problems is written back (yamlText) and re-read
//   to the same manifest, without problems (the same but for the source line
//   numbers kept for messages, which are not written: the writer's layout
//   need not be the input's).
import Foundation
@testable import RecruitKit

/// The manifest without the line numbers of its entries and rules.
func withoutLines(_ m: CodeListManifest) -> CodeListManifest {
    var m = m
    for name in m.lists.keys {
        m.lists[name]!.line = nil
        for system in m.lists[name]!.systems.keys {
            m.lists[name]!.systems[system]!.line = nil
            for i in m.lists[name]!.systems[system]!.rules.indices { m.lists[name]!.systems[system]!.rules[i].line = nil }
        }
    }
    return m
}

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
    if withoutLines(again) != withoutLines(manifest) { fatalError("yamlText did not round-trip") }
    return 0
}
