import Foundation
import Postgres

/// The output layout of a synthetic extract.
public enum SynthesisProfile: String, CaseIterable, Sendable, Codable {
    /// The canonical format (patients.csv, events.csv, prescriptions.csv).
    case canonical
    /// CPRD GOLD-style tab-delimited files (Patient.txt, Clinical.txt, Therapy.txt, dictionaries).
    case cprdGold = "cprd-gold"

    /// The files an extract of this profile consists of.
    public var files: [String] {
        switch self {
        case .canonical: ["extract.json", "patients.csv", "events.csv", "prescriptions.csv"]
        case .cprdGold: ["extract.json", "Patient.txt", "Clinical.txt", "Therapy.txt", "medical.txt", "product.txt"]
        }
    }
}

/// What `recruit synth` is asked to write.
public struct SynthesisOptions: Sendable {
    public var outputDirectory: URL
    /// Rows of patients.csv (or Patient.txt), leavers and the dead included.
    public var patients: Int
    /// The number of practices, or nil for practices of realistic list sizes.
    public var practices: Int?
    public var seed: UInt64
    public var extractDate: LocalDate
    public var profile: SynthesisProfile
    public var codeListDirectory: URL
    /// The share of rows to plant as bad rows (canonical profile only), 0 for none.
    public var errorRate: Double
    /// Where to write each synthetic person's true work status (a CSV), or nil
    /// for nowhere. Never inside `outputDirectory`: the extract must not carry it.
    public var truthFile: URL?

    public static let defaultExtractDate = LocalDate(year: 2026, month: 10, day: 31)!

    public init(outputDirectory: URL, patients: Int, practices: Int? = nil, seed: UInt64 = 1,
                extractDate: LocalDate = SynthesisOptions.defaultExtractDate, profile: SynthesisProfile = .canonical,
                codeListDirectory: URL, errorRate: Double = 0, truthFile: URL? = nil) {
        self.outputDirectory = outputDirectory
        self.patients = patients
        self.practices = practices
        self.seed = seed
        self.extractDate = extractDate
        self.profile = profile
        self.codeListDirectory = codeListDirectory
        self.errorRate = errorRate
        self.truthFile = truthFile
    }

    /// The problems with these options, each about one of them (empty when they are usable).
    public var problems: [RecruitError] {
        var out: [RecruitError] = []
        func problem(_ input: RecruitError.Input, _ value: some CustomStringConvertible, _ message: String) {
            out.append(.refused(message, subject: .init(input, value.description)))
        }
        if patients < 1 { problem(.patients, patients, "must be at least 1") }
        if let practices {
            if practices < 1 { problem(.practices, practices, "must be at least 1") }
            if practices > patients { problem(.practices, practices, "cannot exceed the number of patients (\(patients))") }
        }
        if profile == .cprdGold && (practices ?? 0) > 999 {
            problem(.practices, practices ?? 0, "the cprd-gold profile holds at most 999 practices")
        }
        if !(0...0.5).contains(errorRate) { problem(.errorRate, errorRate, "must be a rate between 0 and 0.5") }
        if errorRate > 0 && profile != .canonical { problem(.errorRate, errorRate, "works with the canonical profile only") }
        if extractDate.year < 1950 { problem(.extractDate, extractDate, "must be 1950-01-01 or later") }
        if patients > 999_000_000 { problem(.patients, patients, "must be below 1,000,000,000") }
        if let truthFile {
            let folder = outputDirectory.standardizedFileURL.resolvingSymlinksInPath().path
            let file = truthFile.standardizedFileURL.resolvingSymlinksInPath().path
            if file == folder || file.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") {
                problem(.truthFile, truthFile.path,
                        "must be outside the extract folder \(outputDirectory.path): the extract never carries work status")
            }
        }
        return out
    }
}

/// What a synthesis wrote.
public struct SynthesisSummary: Sendable, Codable {
    public struct Practice: Sendable, Codable {
        public var practiceID: String
        public var patients: Int
        enum CodingKeys: String, CodingKey { case practiceID = "practice_id", patients }
    }

    public var directory: String
    public var profile: SynthesisProfile
    public var seed: UInt64
    public var extractDate: String
    public var patients: Int
    public var events: Int
    public var prescriptions: Int
    public var practices: [Practice]
    /// Bytes of each file written.
    public var files: [String: Int]
    public var injectedRows: Int
    public var injectedByKind: [String: Int]
    /// The code lists read (name → SHA-256).
    public var codeLists: [String: String]
    /// The truth file written, if any, and how many people had each work status.
    public var truthFile: String?
    public var workStatus: [String: Int]?
    public var warnings: [String]
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case directory, profile, seed, patients, events, prescriptions, practices, files, warnings, seconds
        case extractDate = "extract_date", injectedRows = "injected_rows", injectedByKind = "injected_by_kind"
        case codeLists = "code_lists", truthFile = "truth_file", workStatus = "work_status"
    }
}
