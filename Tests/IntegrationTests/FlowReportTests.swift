import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// The study's flow (CONSORT) and the responders' comparison in `report yields`,
/// on a synthetic study: a loaded synthetic extract, the reference cohort issued,
/// then random feedback with every outcome, reason code and channel, referrals
/// of listed and unlisted people, with and without an id. The flow's boxes are
/// checked against counts made here from the feedback rows, per practice and in
/// total; the published (suppressed) report is then read by a reader written
/// here, who solves the printed relations and rates for every ≤7 count.
@Suite("Report flow", .enabled(if: TestDatabase.isAvailable), .serialized)
struct FlowReportTests {
    static let root = TestDatabase.repositoryRoot

    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func next(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[next(xs.count)] }
    }

    /// One feedback row.
    struct Row {
        var practice: String
        var patient: String
        var outcome: String
        var reason = ""
        var code = ""
        var channel = ""
    }

    /// The boxes one listed invitee's letter rows put them in (the meaning sql/0019 documents).
    static func letterBoxes(_ rows: [Row]) -> [String] {
        let set = Set(rows.map(\.outcome))
        let invited = !set.isDisjoint(with: ["invited", "declined", "opted_out", "responded", "ineligible", "consented", "withdrawn"])
        var boxes = ["listed"]
        if !invited {
            if set.contains("screened_out") {
                let code = rows.first { $0.outcome == "screened_out" }!.code
                return boxes + ["screened_out", "screened_out:" + (code.isEmpty ? "not_coded" : code)]
            }
            return boxes + [set.contains("not_invited") ? "not_invited" : "review_not_recorded"]
        }
        boxes.append("invited")
        if !set.isDisjoint(with: ["consented", "withdrawn"]) {
            boxes += ["replied", "responded", "screened_eligible", "consented"] + (set.contains("withdrawn") ? ["withdrawn"] : [])
        } else if set.contains("ineligible") {
            let reason = rows.last { $0.outcome == "ineligible" }!.reason
            boxes += ["replied", "responded", "ineligible", "ineligible:" + (reason.isEmpty ? "not_recorded" : reason)]
        } else if set.contains("responded") {
            boxes += ["replied", "responded", "screened_eligible", "eligible_not_consented"]
        } else if set.contains("declined") {
            let code = rows.first { $0.outcome == "declined" }!.code
            boxes += ["replied", "declined", "declined:" + (code.isEmpty ? "not_coded" : code)]
        } else if set.contains("opted_out") {
            boxes += ["replied", "opted_out"]
        } else {
            boxes.append("no_reply")
        }
        return boxes
    }

    /// The boxes of one referred person (their rows through one channel).
    static func referralBoxes(_ rows: [Row], listed: Bool) -> [String] {
        let key = "referral:" + rows[0].channel
        let set = Set(rows.map(\.outcome))
        let stage = !set.isDisjoint(with: ["consented", "withdrawn"]) ? "consented" : set.contains("ineligible") ? "ineligible"
            : set.contains("responded") ? "eligible_not_consented" : set.contains("declined") ? "declined" : "opted_out"
        let place = listed ? "listed" : rows[0].patient.isEmpty ? "not_in_extract" : "unlisted_in_extract"
        return [key, "\(key):\(place)", "\(key):\(stage)"] + (stage == "consented" ? ["consented:all"] : [])
    }

    @Test("random feedback with every outcome, code and channel: the flow adds up at every box, and no ≤7 count can be solved for",
          arguments: [UInt64(3), 11])
    func flow(seed: UInt64) throws {
        let dir = try TestDatabase.temporaryDirectory("flow")
        defer { try? FileManager.default.removeItem(at: dir) }
        let extract = dir.appendingPathComponent("extract")
        try TestDatabase.withSchema { db in
            func cli(_ args: [String]) throws -> RecruitCLI.Result {
                let r = try RecruitCLI.run(args, schema: db.schema, currentDirectory: Self.root)
                #expect(r.status == 0, "recruit \(args.joined(separator: " ")): \(r.allOutput)")
                return r
            }
            _ = try cli(["synth", "--out", extract.path, "--patients", "9000", "--practices", "3", "--seed", String(seed)])
            _ = try cli(["load", extract.path])
            _ = try cli(["run", "cohorts/chronic-pain-out-of-work.yaml", "--out", dir.appendingPathComponent("run").path, "--issue"])
            let run = try db.connection.query("SELECT max(run_id) AS r FROM runs")[0].int("r")!
            let invitees = try db.connection.query("SELECT practice_id, patient_id FROM run_invitations WHERE run_id = \(run) ORDER BY 1, 2")
                .map { ($0.string("practice_id"), $0.string("patient_id")) }
            #expect(invitees.count > 40)
            let practices = Array(Set(invitees.map(\.0))).sorted()
            // People in the extract who are not on the list: for referrals with an id.
            var unlisted: [String: [String]] = [:]
            for row in try db.connection.query("""
                SELECT practice_id, patient_id FROM (
                  SELECT p.practice_id, p.patient_id, row_number() OVER (PARTITION BY p.practice_id ORDER BY p.patient_id) AS k
                  FROM current_patients p
                  WHERE NOT EXISTS (SELECT 1 FROM run_invitations i WHERE i.practice_id = p.practice_id AND i.patient_id = p.patient_id)
                ) x WHERE k <= 8 ORDER BY 1, 2
                """) { unlisted[row.string("practice_id"), default: []].append(row.string("patient_id")) }

            var rng = Rng(state: seed)
            let screening = ["clinical", "recent_life_event", "safeguarding", "capacity", "other", ""]
            let declining = ["not_interested", "too_unwell", "no_time", "other", ""]
            let reasons = ["in_work", "off_sick_with_job", "not_chronic_pain", "other", ""]
            let channels = ["self_referral", "gp_referral", "other"]
            var rows: [Row] = []
            var expected: [String: [String: Int]] = [:]  // practice → box → count
            func count(_ practice: String, _ boxes: [String]) {
                for b in boxes {
                    expected[practice, default: [:]][b, default: 0] += 1
                    expected[YieldReport.total, default: [:]][b, default: 0] += 1
                }
            }
            func referral(_ p: String, _ id: String, channel: String) -> [Row] {
                switch rng.next(5) {
                case 0: return [Row(practice: p, patient: id, outcome: "responded", channel: channel), Row(practice: p, patient: id, outcome: "consented", channel: channel)]
                case 1: return [Row(practice: p, patient: id, outcome: "ineligible", reason: rng.pick(reasons), channel: channel)]
                case 2: return [Row(practice: p, patient: id, outcome: "responded", channel: channel)]
                case 3: return [Row(practice: p, patient: id, outcome: "declined", code: rng.pick(declining), channel: channel)]
                default: return [Row(practice: p, patient: id, outcome: "opted_out", channel: channel)]
                }
            }
            for (p, id) in invitees {
                func r(_ outcome: String, reason: String = "", code: String = "") -> Row { Row(practice: p, patient: id, outcome: outcome, reason: reason, code: code) }
                var letter: [Row] = []
                var referred: [Row] = []
                switch rng.next(14) {
                case 0: letter = [r("screened_out", code: rng.pick(screening))]
                case 1: letter = [r("not_invited")]
                case 2: letter = []
                case 3: letter = [r("invited")]
                case 4: letter = [r("invited"), r("declined", code: rng.pick(declining))]
                case 5: letter = [r("opted_out")]
                case 6: letter = [r("responded"), r("ineligible", reason: rng.pick(reasons))]
                case 7: letter = [r("invited"), r("responded")]
                case 8: letter = [r("invited"), r("responded"), r("consented")]
                case 9: letter = [r("responded"), r("consented"), r("withdrawn")]
                case 10: letter = [r("screened_out", code: rng.pick(screening))]; referred = referral(p, id, channel: rng.pick(channels))
                case 11: referred = referral(p, id, channel: rng.pick(channels))
                case 12: letter = [r("not_invited")]; referred = referral(p, id, channel: rng.pick(channels))
                default: letter = [r("invited"), r("declined")]
                }
                rows += letter + referred
                count(p, Self.letterBoxes(letter))
                if !referred.isEmpty { count(p, Self.referralBoxes(referred, listed: true)) }
            }
            for p in practices {
                for _ in 0..<(2 + rng.next(12)) {  // not in the extract: no id
                    let referred = referral(p, "", channel: rng.pick(channels))
                    // Without an id each row is a person: one row each.
                    let one = [referred.last!]
                    rows += one
                    count(p, Self.referralBoxes(one, listed: false))
                }
                for id in (unlisted[p] ?? []).prefix(1 + rng.next(6)) {  // in the extract, not listed
                    let referred = referral(p, id, channel: rng.pick(channels))
                    rows += referred
                    count(p, Self.referralBoxes(referred, listed: false))
                }
            }
            // Letter consents count in consented:all too.
            for p in expected.keys { expected[p]!["consented:all", default: 0] += expected[p]!["consented"] ?? 0 }

            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            var csv = "practice_id,patient_id,run_id,outcome,date,reason,reason_code,channel\n"
            for row in rows.shuffled(using: &rng) {
                csv += "\(row.practice),\(row.patient),\(run),\(row.outcome),\(today),\(row.reason),\(row.code),\(row.channel)\n"
            }
            let file = dir.appendingPathComponent("feedback.csv")
            try csv.write(to: file, atomically: true, encoding: .utf8)
            let imported = try cli(["feedback", "import", file.path])
            #expect(imported.stdout.contains("Referrals (rows by channel):"))

            // Exact: every box is the count made here, and every partition adds up.
            let exactDir = dir.appendingPathComponent("exact")
            _ = try cli(["report", "yields", "--no-suppression", "--out", exactDir.path])
            let exact = try JSONDecoder().decode(YieldReport.self, from: Data(contentsOf: exactDir.appendingPathComponent("yields.json")))
            #expect(Set(exact.flow.map(\.practiceID)) == Set(practices + [YieldReport.total]))
            for box in exact.flow {
                #expect(box.count == .rounded(expected[box.practiceID]?[box.box] ?? 0),
                        "practice \(box.practiceID), box \(box.box): \(box.count) published, \(expected[box.practiceID]?[box.box] ?? 0) in the feedback")
            }
            for (p, boxes) in expected {
                for (b, n) in boxes where n > 0 {
                    #expect(exact.flow.contains { $0.practiceID == p && $0.box == b }, "practice \(p): box \(b) (\(n)) missing")
                }
            }
            let listed = exact.flow.first { $0.practiceID == YieldReport.total && $0.box == "listed" }?.count
            #expect(listed == .rounded(invitees.count))
            // A first run: everyone on it is listed for the first time, per practice and month too.
            #expect(exact.funnelRow(YieldReport.total, YieldReport.allMonths)?[.newlyEligible] == .rounded(invitees.count))
            for p in practices {
                #expect(exact.funnel.filter { $0.practiceID == p }.allSatisfy { $0[.newlyEligible] == $0[.eligible] }, "\(p): newly eligible")
            }
            let relations = Self.flowRelations(exact.flow)
            #expect(relations.count > 20)
            let value = Dictionary(uniqueKeysWithValues: exact.flow.map { ("\($0.practiceID) \($0.box)", $0.count.number ?? -1) })
            for (total, parts) in relations {
                #expect(value[total] == parts.reduce(0) { $0 + value[$1]! }, "\(total) = \(parts.joined(separator: " + "))")
            }
            // The comparison's rows add up to its total, for each dimension and measure.
            for dimension in ["practice", "evidence", "age_band", "sex"] {
                let rows = exact.comparisons.filter { $0.dimension == dimension }
                let total = rows.first { $0.group == YieldReport.total }
                #expect(total != nil, "\(dimension): no total row")
                for m in YieldReport.ComparisonRow.measures {
                    #expect(rows.filter { $0.group != YieldReport.total }.reduce(0) { $0 + ($1[m].number ?? 0) } == total?[m].number,
                            "\(dimension) \(m.rawValue)")
                }
                #expect(total?[.invited].number == value["\(YieldReport.total) invited"])
            }

            // Suppressed: each count is the rounded truth, and the reader solves in vain.
            let outDir = dir.appendingPathComponent("published")
            _ = try cli(["report", "yields", "--out", outDir.path])
            let published = try JSONDecoder().decode(YieldReport.self, from: Data(contentsOf: outDir.appendingPathComponent("yields.json")))
            #expect(published.suppression.applied)
            var truth: [String: Int] = [:]
            for b in exact.flow { truth["flow \(b.practiceID) \(b.box)"] = b.count.number }
            for r in exact.comparisons { for m in YieldReport.ComparisonRow.measures { truth["cmp \(r.dimension) \(r.group) \(m.rawValue)"] = r[m].number } }
            let reader = Self.reader(published)
            let zeros = reader.zeroPossible
            var small = 0
            for (name, published) in reader.cells where published == .small {
                small += 1
                let range = reader.range(name, zeros: zeros)
                #expect(range.count >= 3, "\(name): the printed relations and rates leave \(range)")
                #expect(range.contains(truth[name]!), "\(name): the reader's range \(range) misses the truth \(truth[name]!)")
            }
            #expect(small > 0, "the synthetic study has small counts to protect")
            let html = try String(contentsOf: outDir.appendingPathComponent("report.html"), encoding: .utf8)
            #expect(html.contains("id=\"flow\"") && html.contains("id=\"comparisons\"") && html.contains("id=\"compare-age-band\""))
            let flowCSV = try String(contentsOf: outDir.appendingPathComponent("flow.csv"), encoding: .utf8)
            #expect(flowCSV.split(separator: "\n").count == 1 + published.flow.count)
        }
    }

    /// The partitions of the flow a reader knows from its labels: each box is
    /// the sum of its parts (per practice), and the total the sum of the practices.
    static func flowRelations(_ flow: [YieldReport.FlowBox]) -> [(String, [String])] {
        var out: [(String, [String])] = []
        let byPractice = Dictionary(grouping: flow, by: \.practiceID)
        let partitions: [(String, [String])] = [
            ("listed", ["screened_out", "not_invited", "review_not_recorded", "invited"]),
            ("invited", ["no_reply", "replied"]), ("replied", ["declined", "opted_out", "responded"]),
            ("responded", ["ineligible", "screened_eligible"]), ("screened_eligible", ["consented", "eligible_not_consented"]),
        ]
        for (p, boxes) in byPractice {
            let keys = Set(boxes.map(\.box))
            for (total, parts) in partitions { out.append(("\(p) \(total)", parts.map { "\(p) \($0)" })) }
            for parent in ["screened_out", "declined", "ineligible"] {
                let parts = boxes.filter { $0.parent == parent }.map(\.box)
                if !parts.isEmpty { out.append(("\(p) \(parent)", parts.map { "\(p) \($0)" })) }
            }
            for channel in ["self_referral", "gp_referral", "other"] where keys.contains("referral:\(channel)") {
                let k = "referral:\(channel)"
                out.append(("\(p) \(k)", ["listed", "unlisted_in_extract", "not_in_extract"].map { "\(p) \(k):\($0)" }))
                out.append(("\(p) \(k)", ["declined", "opted_out", "ineligible", "eligible_not_consented", "consented"].map { "\(p) \(k):\($0)" }))
            }
            if keys.contains("consented:all") {
                out.append(("\(p) consented:all", ["\(p) consented"] + boxes.filter { $0.box.hasPrefix("referral:") && $0.box.hasSuffix(":consented") }.map { "\(p) \($0.box)" }))
            }
        }
        let practices = byPractice.keys.filter { $0 != YieldReport.total }
        for box in Set(flow.map(\.box)) {
            out.append(("\(YieldReport.total) \(box)", practices.map { "\($0) \(box)" }))
        }
        return out
    }

    /// A reader of the published report, written here apart from the
    /// report's own audit: the flow's and the comparisons' cells, every sum
    /// between them that the page states, and the printed percentages.
    static func reader(_ r: YieldReport) -> Reader {
        var reader = Reader()
        for b in r.flow { reader.cells["flow \(b.practiceID) \(b.box)"] = b.count }
        for (total, parts) in flowRelations(r.flow) { reader.relations.append(("flow " + total, parts.map { "flow " + $0 })) }
        for row in r.comparisons {
            let n = { (m: FunnelMeasure) in "cmp \(row.dimension) \(row.group) \(m.rawValue)" }
            for m in YieldReport.ComparisonRow.measures { reader.cells[n(m)] = row[m] }
            reader.relations.append((n(.invited), [n(.replied), n(.noReply)]))
            reader.relations.append((n(.invited), [n(.consented), n(.notConsented)]))
            if let text = row.rate(.repliedOfInvited) { reader.rates.append((n(.replied), n(.invited), text)) }
            if let text = row.rate(.consentedOfInvited) { reader.rates.append((n(.consented), n(.invited), text)) }
            // The same people as the flow's boxes.
            let flowPractice = row.dimension == "practice" ? row.group : row.group == YieldReport.total ? YieldReport.total : nil
            if let p = flowPractice {
                reader.relations.append((n(.invited), ["flow \(p) invited"]))
                reader.relations.append((n(.noReply), ["flow \(p) no_reply"]))
                reader.relations.append((n(.replied), ["flow \(p) replied"]))
                reader.relations.append((n(.consented), ["flow \(p) consented"]))
            }
        }
        for dimension in Set(r.comparisons.map(\.dimension)) {
            let rows = r.comparisons.filter { $0.dimension == dimension }
            for m in YieldReport.ComparisonRow.measures {
                reader.relations.append(("cmp \(dimension) \(YieldReport.total) \(m.rawValue)",
                                         rows.filter { $0.group != YieldReport.total }.map { "cmp \(dimension) \($0.group) \(m.rawValue)" }))
            }
        }
        return reader
    }

    /// Interval reasoning over the printed counts: sums and percentages, to a fixed point.
    struct Reader {
        var cells: [String: PublishedCount] = [:]
        var relations: [(String, [String])] = []
        var rates: [(String, String, String)] = []

        /// The ≤7 counts that may be 0: the report hides a 0 as ≤7 only where
        /// every count of a relation is suppressed, so a reader allows 0 for the
        /// ≤7 counts of relations whose counts are all ≤7, * or 0.
        var zeroPossible: Set<String> {
            var out = Set<String>()
            for (total, parts) in relations {
                let members = [total] + parts
                guard members.allSatisfy({ [.small, .secondary, .rounded(0)].contains(cells[$0]!) }) else { continue }
                for m in members where cells[m] == .small { out.insert(m) }
            }
            return out
        }

        /// What the reader can tell of `target`; `zeros`: the ≤7 counts that may be 0.
        func range(_ target: String, zeros: Set<String>) -> ClosedRange<Int> {
            let big = 10_000_000
            var lo: [String: Int] = [:], hi: [String: Int] = [:]
            for (name, c) in cells {
                switch c {
                case .exact(let n): lo[name] = n; hi[name] = n
                case .rounded(0): lo[name] = 0; hi[name] = 0
                case .rounded(let n): lo[name] = max(8, n - 2); hi[name] = n + 2
                case .small: lo[name] = zeros.contains(name) ? 0 : 1; hi[name] = 7
                case .secondary: lo[name] = 8; hi[name] = big
                }
            }
            var changed = true
            var rounds = 0
            while changed && rounds < 200 {
                changed = false
                rounds += 1
                func tighten(_ name: String, _ l: Int, _ h: Int) {
                    if l > lo[name]! { lo[name] = l; changed = true }
                    if h < hi[name]! { hi[name] = h; changed = true }
                }
                for (total, parts) in relations {
                    let sLo = parts.reduce(0) { $0 + lo[$1]! }, sHi = parts.reduce(0) { min(big, $0 + hi[$1]!) }
                    tighten(total, sLo, sHi)
                    for p in parts {
                        let oLo = sLo - lo[p]!, oHi = sHi - hi[p]!
                        tighten(p, lo[total]! - (sHi >= big ? big : oHi), hi[total]! - oLo)
                    }
                }
                for (num, den, text) in rates where hi[num]! - lo[num]! <= 60 && hi[den]! - lo[den]! <= 60 {
                    var nl = Int.max, nh = Int.min, dl = Int.max, dh = Int.min
                    for d in lo[den]!...hi[den]! {
                        for n in lo[num]!...hi[num]! where RateFormat.percent.text(n, d) == text {
                            nl = min(nl, n); nh = max(nh, n); dl = min(dl, d); dh = max(dh, d)
                        }
                    }
                    if nl <= nh { tighten(num, nl, nh); tighten(den, dl, dh) }
                }
            }
            return lo[target]!...max(lo[target]!, hi[target]!)
        }
    }
}
