import Foundation
@testable import RecruitKit
import Testing

@Suite("Synthetic extracts: determinism")
struct SynthDeterminismTests {
    func hashes(_ dir: URL, _ profile: SynthesisProfile) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in profile.files { out[name] = try SynthFixture.sha256(dir.appendingPathComponent(name)) }
        return out
    }

    @Test("the same seed gives the same SHA-256 of every file; another seed differs", arguments: SynthesisProfile.allCases)
    func sameSeedSameBytes(profile: SynthesisProfile) throws {
        let (a, _) = try SynthFixture.write(patients: 3_000, seed: 42, profile: profile)
        let (b, _) = try SynthFixture.write(patients: 3_000, seed: 42, profile: profile)
        let (c, _) = try SynthFixture.write(patients: 3_000, seed: 43, profile: profile)
        let ha = try hashes(a, profile), hb = try hashes(b, profile), hc = try hashes(c, profile)
        #expect(ha == hb)
        for name in profile.files where name != "extract.json" && name != "medical.txt" && name != "product.txt" {
            #expect(ha[name] != hc[name], "\(name) should differ between seeds")
        }
    }

    @Test("planted errors are deterministic too, and leave the rest of the extract as it was")
    func injectedDeterministic() throws {
        let (a, sa) = try SynthFixture.write(patients: 2_000, seed: 5, errorRate: 0.01)
        let (b, _) = try SynthFixture.write(patients: 2_000, seed: 5, errorRate: 0.01)
        let (clean, sc) = try SynthFixture.write(patients: 2_000, seed: 5)
        for name in ["patients.csv", "events.csv", "prescriptions.csv", "injected.csv"] {
            #expect(try SynthFixture.sha256(a.appendingPathComponent(name)) == SynthFixture.sha256(b.appendingPathComponent(name)))
        }
        #expect(!FileManager.default.fileExists(atPath: clean.appendingPathComponent("injected.csv").path))
        // The same people: the clean and the injected extract differ only in the planted rows
        // (and in the records of patients whose id was made invalid, which are left out).
        #expect(sa.patients == sc.patients)
        let cleanLines = try String(contentsOf: clean.appendingPathComponent("patients.csv"), encoding: .utf8).split(separator: "\n")
        let dirtyLines = try String(contentsOf: a.appendingPathComponent("patients.csv"), encoding: .utf8).split(separator: "\n")
        let planted = try String(contentsOf: a.appendingPathComponent("injected.csv"), encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("patients.csv,") }
        // A planted duplicate is a pair: the first row is unchanged, the second takes its id.
        let duplicates = planted.filter { $0.hasSuffix(",duplicate_patient_id") }.count
        #expect(planted.count > 0 && duplicates % 2 == 0)
        #expect(cleanLines.count == dirtyLines.count)
        #expect(zip(cleanLines, dirtyLines).filter { $0 != $1 }.count == planted.count - duplicates / 2)
    }

    @Test("the generator's random streams are reproducible and independent")
    func randomStreams() {
        var a = SyntheticRandom(seed: 9, stream: 3), b = SyntheticRandom(seed: 9, stream: 3), c = SyntheticRandom(seed: 9, stream: 4)
        let xa = (0..<100).map { _ in a.next() }, xb = (0..<100).map { _ in b.next() }, xc = (0..<100).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
        var r = SyntheticRandom(seed: 1)
        let draws = (0..<100_000).map { _ in r.below(10) }
        for k in 0..<10 { #expect(abs(draws.filter { $0 == k }.count - 10_000) < 500) }
    }

    @Test("pseudonymous ids are unique, well formed, and differ by seed")
    func ids() {
        let ids = PseudonymousID(seed: 1)
        let all = (0..<200_000).map(ids.string)
        #expect(Set(all).count == all.count)
        #expect(all.allSatisfy { $0.utf8.count == 10 && ExtractRuleChecker.isID($0, max: 64) })
        #expect(PseudonymousID(seed: 2).string(0) != all[0])
    }
}
