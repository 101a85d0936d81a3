// libFuzzer target: codelists.lock (sha256sum format, CodeListLock.parse).
// Properties: no crash; every hash kept is 64 lowercase hex digits.
import Foundation
@testable import RecruitKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodeListLock(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (lock, _) = CodeListLock.parse(text)
    for (_, hash) in lock.hashes where hash.utf8.count != 64 || !hash.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
        fatalError("a malformed hash was kept")
    }
    return 0
}
