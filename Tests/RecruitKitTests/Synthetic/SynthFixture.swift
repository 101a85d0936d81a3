import Foundation
import Logging
import Postgres
@testable import RecruitKit

/// Synthetic extracts for the tests, written once per test process into a temporary folder.
enum SynthFixture {
    /// The repository's `codelists/` folder.
    static let codeLists: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("codelists")

    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("recruit-synth-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static let quiet: Logger = {
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()

    /// Writes an extract into a fresh folder and returns the folder and summary.
    static func write(_ name: String = UUID().uuidString, patients: Int, practices: Int? = nil, seed: UInt64 = 1,
                      profile: SynthesisProfile = .canonical, errorRate: Double = 0,
                      codeLists: URL = SynthFixture.codeLists, truth: Bool = false) throws -> (URL, SynthesisSummary) {
        let out = root.appendingPathComponent(name)
        let options = SynthesisOptions(outputDirectory: out, patients: patients, practices: practices, seed: seed,
                                       profile: profile, codeListDirectory: codeLists, errorRate: errorRate,
                                       truthFile: truth ? truthFile(name) : nil)
        return (out, try ExtractSynthesizer(options: options, logger: quiet).run())
    }

    /// Where `write(name, truth: true)` puts the work-status file: beside the extract folder.
    static func truthFile(_ name: String) -> URL { root.appendingPathComponent("\(name).truth.csv") }

    /// 50,000 patients, seed 7: the prevalence tests' extract, with its truth file.
    static let large: Result<(URL, SynthesisSummary), any Error> = Result {
        try write("large", patients: 50_000, seed: 7, truth: true)
    }

    /// 8,000 patients with planted bad rows at 1 %.
    static let injected: Result<(URL, SynthesisSummary), any Error> = Result {
        try write("injected", patients: 8_000, practices: 3, seed: 11, errorRate: 0.01)
    }

    static func sha256(_ url: URL) throws -> String { try Hashing.sha256Hex(fileAt: url) }
}
