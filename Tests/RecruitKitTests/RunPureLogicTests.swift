import Foundation
import Postgres
@testable import RecruitKit
import Testing

/// The parts of runs that need no database: staleness, output paths, run.json.
@Suite("Runs: staleness, output paths, run.json")
struct RunPureLogicTests {
    static let d = LocalDate(year: 2026, month: 7, day: 1)!

    @Test("a snapshot is stale when its extract date is more than the limit before D", arguments: [
        (44, false), (45, false), (46, true), (-10, false),
    ])
    func staleness(daysBefore: Int, stale: Bool) throws {
        let snapshot = PracticeSnapshot(practiceID: "A81001", loadID: 1, extractDate: Self.d.adding(days: -daysBefore))
        let rule = SnapshotStaleness()
        #expect(rule.stale([snapshot], indexDate: Self.d).map(\.practiceID) == (stale ? ["A81001"] : []))
        if stale {
            let error = try #require(throws: RecruitError.self) { try rule.check([snapshot], indexDate: Self.d) }
            #expect(error.kind == .refused && error.message.contains("practice A81001: extract date 2026-05-16 is 46 days before the index date 2026-07-01"))
        } else {
            try rule.check([snapshot], indexDate: Self.d)
        }
        #expect(SnapshotStaleness(maxExtractAgeDays: 0).stale([snapshot], indexDate: Self.d).isEmpty == (daysBefore <= 0))
    }

    @Test("a practice id is a folder name that cannot name another folder", arguments: [
        ("A81001", "A81001"), ("a_1-B", "a_1-B"), ("..", "%2E%2E"), ("a/b", "a%2Fb"), (".hidden", "%2Ehidden"), ("", "%"), ("é", "%C3%A9"),
    ])
    func practiceFolder(id: String, folder: String) {
        #expect(RunOutputWriter.practiceFile(id) == "practices/\(folder)/invitations.csv")
    }

    @Test("run.json states every key, null when absent, and reads back equal")
    func manifestRoundTrip() throws {
        let manifest = RunManifest(
            runID: nil, status: .dryRun, reproducesRunID: nil, cohort: .init(name: "c", version: "1", sha256: "s", file: nil),
            parameters: ["a": 1], options: .init(maxExtractAgeDays: 45, allowStale: false, practicesRequested: nil, supersedesRunID: nil),
            indexDate: Self.d, historyAsOf: "2026-07-02 00:00:00+00",
            codelists: [RecordedCodeList(name: "l", version: nil, sha256: "x", expandedSHA256: "y", codelistVersionID: nil, codes: 2)],
            snapshots: [.init(practiceID: "A81001", loadID: 3, extractDate: Self.d, stale: false)],
            toolVersion: "0.1.0", osUser: "u", startedAt: "t0", finishedAt: "t1", issuedAt: nil,
            counts: .init(practices: 1, inExtract: 5, invited: 2, invitedByPractice: ["A81001": 2], steps: []), outputs: ["yield.csv": "h"])
        let text = try manifest.jsonText()
        for key in ["\"run_id\" : null", "\"reproduces_run_id\" : null", "\"issued_at\" : null", "\"practices_requested\" : null",
                    "\"supersedes_run_id\" : null", "\"codelist_version_id\" : null", "\"version\" : null"] {
            #expect(text.replacingOccurrences(of: "\": ", with: "\" : ").contains(key), "\(key)")
        }
        #expect(try JSONDecoder().decode(RunManifest.self, from: Data(text.utf8)) == manifest)
    }
}
