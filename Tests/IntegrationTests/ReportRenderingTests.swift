import Foundation
import Postgres
import RecruitKit
import RecruitTestSupport
import Testing

/// Headless Chromium (Debian's `chromium`), for looking at report.html as a browser draws it.
enum Chromium {
    /// The browser, installed with scripts/prereqs.sh when missing and
    /// possible (root with apt-get); nil with the reason when it cannot be.
    static let located: Result<String, Failure> = {
        if let path = find() { return .success(path) }
        let script = TestDatabase.repositoryRoot.appendingPathComponent("scripts/prereqs.sh").path
        let install = try? ProcessRunner.run("/bin/bash", [script, "chromium"])
        if let path = find() { return .success(path) }
        let detail = install.map { $0.stderr.split(separator: "\n").last.map(String.init) ?? "exit \($0.status)" } ?? "could not run \(script)"
        return .failure(Failure(reason: "chromium is not installed and scripts/prereqs.sh could not install it (\(detail))"))
    }()

    struct Failure: Error { var reason: String }

    static func find() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin"] {
            for name in ["chromium", "chromium-browser"] {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// Runs headless Chromium on a local file (as root it needs --no-sandbox).
    @discardableResult
    static func run(_ browser: String, _ arguments: [String], page: URL) throws -> ProcessRunner.Output {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-" + UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(at: profile) }
        var args = ["--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
                    "--user-data-dir=" + profile.path]
        if getuid() == 0 { args.append("--no-sandbox") }
        let out = try ProcessRunner.run(browser, args + arguments + [page.absoluteString])
        if out.status != 0 { Issue.record("chromium exited \(out.status): \(out.stderr.suffix(400))") }
        return out
    }

    /// A PNG's width and height, from its header.
    static func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { return nil }
        func be(_ i: Int) -> Int { bytes[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}

/// report.html drawn by Chromium at desktop and phone widths and printed to
/// PDF, for 1 practice, 120 practices and a run with no eligible patient. The
/// screenshots are kept in .build/test-artifacts/reports/ to be looked at.
@Suite("Report rendering", .enabled(if: TestDatabase.isAvailable))
struct ReportRenderingTests {
    enum Scenario: String, CaseIterable, Sendable {
        case onePractice = "one-practice"
        case manyPractices = "120-practices"
        case zeroEligible = "zero-eligible"
    }

    static let artifacts = TestDatabase.repositoryRoot.appendingPathComponent(".build/test-artifacts/reports")

    @Test("report.html renders with its charts, at desktop and phone widths and in print", arguments: Scenario.allCases)
    func render(_ scenario: Scenario) throws {
        let browser: String
        switch Chromium.located {
        case .success(let path): browser = path
        case .failure(let failure): try Test.cancel(Comment(rawValue: failure.reason + ": report rendering not checked"))
        }
        let dir = Self.artifacts.appendingPathComponent(scenario.rawValue)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        let practices = try TestDatabase.withSchema { db -> Int in
            let fx = try YieldFixtures(db.connection)
            switch scenario {
            case .onePractice:
                try fx.run(indexDate: "2024-03-31", practices: [("A81001", YieldFixtures.chain(listSize: 9000, seed: 5))])
                _ = try YieldReportExporter.export(database: db, selection: .init(), outDirectory: dir, suppression: .init(),
                                                   cohortsDirectory: dir, logger: TestDatabase.quietLogger)
                return 1
            case .manyPractices:
                for (i, date) in ["2024-01-31", "2024-02-29", "2024-03-31"].enumerated() {
                    try fx.run(indexDate: date, practices: YieldFixtures.practices(120, seed: i, keepOverride: i == 0 ? [:] : [11: 0.7]))
                }
                _ = try YieldReportExporter.export(database: db, selection: .init(), outDirectory: dir, suppression: .init(),
                                                   cohortsDirectory: dir, logger: TestDatabase.quietLogger)
                return 120
            case .zeroEligible:
                try fx.run(indexDate: "2024-03-31", practices: YieldFixtures.practices(3, keepOverride: [7: 0.0]))
                _ = try YieldReportExporter.export(database: db, selection: .init(), outDirectory: dir, suppression: .init(),
                                                   cohortsDirectory: dir, logger: TestDatabase.quietLogger)
                return 3
            }
        }
        let page = dir.appendingPathComponent("report.html")

        // The DOM as Chromium parsed it: every chart there, with its boxes and labels.
        let dom = try Chromium.run(browser, ["--dump-dom"], page: page).stdout
        try dom.write(to: dir.appendingPathComponent("dom.html"), atomically: true, encoding: .utf8)
        for id in ["attrition-flow", "practice-yield", "funnel", "ineligible-reasons", "trend-eligible", "trend-invited",
                   "trend-responded", "trend-consented", "practice-table", "month-table", "runs-table", "suppression-rule"] {
            #expect(dom.contains("id=\"\(id)\""), "\(scenario): no #\(id)")
        }
        for step in 0...12 { #expect(dom.contains("id=\"step-\(step)\""), "\(scenario): no box for step \(step)") }
        for step in 1...12 { #expect(dom.contains("id=\"removed-\(step)\""), "\(scenario): no removed box for step \(step)") }
        #expect(dom.contains("1. Registered at D"))
        #expect(dom.contains("8. Exclude: cancer"))
        #expect(dom.contains("the invitation list"))
        #expect(dom.contains("Small numbers are suppressed"))
        #expect(dom.components(separatedBy: "<g class=\"practice\" id=\"practice-").count - 1 == practices)
        #expect(dom.contains("data-style=\"\(practices > 25 ? "dots" : "bars")\""))
        #expect(!dom.contains("<script"))
        if scenario == .zeroEligible {
            #expect(dom.contains("id=\"no-eligible\""))
            #expect(dom.contains(">0 eligible</tspan>"))
        }

        // Screenshots: a desktop window and a phone (390 CSS pixels, drawn at 2×), tall enough for the whole page.
        let tall = 5200 + practices * 62
        let desktop = dir.appendingPathComponent("desktop.png"), phone = dir.appendingPathComponent("phone.png")
        try Chromium.run(browser, ["--window-size=1280,\(tall)", "--screenshot=\(desktop.path)"], page: page)
        try Chromium.run(browser, ["--window-size=390,\(tall + 4400 + practices * 10)", "--force-device-scale-factor=2",
                                   "--screenshot=\(phone.path)"], page: page)
        let desktopSize = Chromium.pngSize(try Data(contentsOf: desktop))
        let phoneSize = Chromium.pngSize(try Data(contentsOf: phone))
        #expect(desktopSize?.width == 1280)
        #expect(phoneSize?.width == 780)
        #expect(try Data(contentsOf: desktop).count > 40_000, "desktop screenshot looks blank")

        // Printed.
        let pdf = dir.appendingPathComponent("report.pdf")
        try Chromium.run(browser, ["--no-pdf-header-footer", "--print-to-pdf=\(pdf.path)"], page: page)
        let pdfData = try Data(contentsOf: pdf)
        #expect(pdfData.starts(with: Data("%PDF".utf8)))
        let text = String(decoding: pdfData, as: UTF8.self)
        let pages = text.components(separatedBy: "/Type /Page").count - text.components(separatedBy: "/Type /Pages").count
        #expect(pages >= (practices > 25 ? 3 : 1), "\(pages) PDF pages")
        print("report rendering \(scenario.rawValue): \(dir.path) (desktop \(desktopSize.map { "\($0.width)×\($0.height)" } ?? "?"), "
              + "phone \(phoneSize.map { "\($0.width)×\($0.height)" } ?? "?"), PDF \(pages) pages)")
    }
}
