import Foundation
import Testing
@testable import RecruitKit

@Suite("Deployment file: every section refuses an unreadable or malformed file alike")
struct DeploymentFileTests {
    static func refusal(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as RecruitError { return e.message } catch { return "\(error)" }
    }

    @Test("a missing file and invalid YAML are refused by the safeguards, the reason codes and the monthly settings; a file without the section keeps the defaults")
    func sections() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deployment-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.yaml")
        let broken = dir.appendingPathComponent("broken.yaml")
        try "reason_codes: [a\n".write(to: broken, atomically: true, encoding: .utf8)
        let other = dir.appendingPathComponent("other.yaml")
        try "something_else: 1\n".write(to: other, atomically: true, encoding: .utf8)
        let loaders: [(String, (URL) throws -> Void)] = [
            ("safeguards", { _ = try Safeguards.load(from: $0) }),
            ("reason codes", { _ = try ReasonCodes.load(from: $0) }),
            ("monthly", { _ = try MonthlySettings.load(from: $0) }),
        ]
        for (name, load) in loaders {
            #expect(Self.refusal { try load(missing) }?.hasPrefix("cannot read the deployment settings \(missing.path)") == true, "\(name)")
            #expect(Self.refusal { try load(broken) }?.hasPrefix("\(broken.path): not valid YAML") == true, "\(name)")
            #expect(Self.refusal { try load(other) } == nil, "\(name)")
        }
        #expect(try ReasonCodes.load(from: other) == .defaults)
        #expect(try MonthlySettings.load(from: other) == MonthlySettings())
    }
}
