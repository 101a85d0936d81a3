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

    @Test("monthly.packs and monthly.pack: read with their defaults; an unknown key or a wrong value is refused, named")
    func monthlyPacks() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deployment-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ text: String) throws -> MonthlySettings {
            let url = dir.appendingPathComponent("recruit.yaml")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return try MonthlySettings.load(from: url)
        }
        let defaults = try load("monthly:\n  issue: true\n")
        #expect(defaults.packs && defaults.pack == MonthlySettings.Pack())
        #expect(defaults.pack.study == nil && defaults.pack.contact == nil && defaults.pack.replyWithinDays == 28)
        #expect(defaults.pack.template == "templates/invitation-letter.md")
        let set = try load("monthly:\n  packs: false\n  pack:\n    study: IPS study\n    contact: call 0161\n    reply_within_days: 14\n    template: t.md\n")
        #expect(!set.packs && set.pack.study == "IPS study" && set.pack.contact == "call 0161" && set.pack.replyWithinDays == 14 && set.pack.template == "t.md")
        let file = dir.appendingPathComponent("recruit.yaml").path
        #expect(Self.refusal { _ = try load("monthly:\n  packs: yes please\n") } == "\(file): monthly.packs: expected true or false")
        #expect(Self.refusal { _ = try load("monthly:\n  pack:\n    studdy: x\n") } == "\(file): monthly.pack: unknown key 'studdy' (known: contact, reply_within_days, study, template)")
        #expect(Self.refusal { _ = try load("monthly:\n  pack:\n    reply_within_days: -1\n") } == "\(file): monthly.pack.reply_within_days: expected a whole number of days")
        #expect(Self.refusal { _ = try load("monthly:\n  pack:\n    contact: \"\"\n") } == "\(file): monthly.pack.contact: expected some text")
        #expect(Self.refusal { _ = try load("monthly:\n  pack: [a]\n") } == "\(file): monthly.pack: expected a mapping")
    }
}
