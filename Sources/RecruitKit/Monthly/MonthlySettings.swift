import Foundation

/// The `monthly:` section of the deployment file (`recruit.yaml`): what
/// `recruit monthly` runs when its options do not say.
public struct MonthlySettings: Sendable, Equatable {
    /// Cohort files, relative to the deployment file's folder.
    public var cohorts: [String] = ["cohorts/chronic-pain-out-of-work.yaml"]
    public var issue = false
    /// Where the outputs go, relative to the deployment file's folder.
    public var output = "monthly"
    public var maxExtractAgeDays = 45

    public init() {}

    /// Reads `monthly:` from `url`; a key left out keeps its default.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and the key.
    public static func load(from url: URL) throws -> MonthlySettings {
        var s = MonthlySettings()
        guard let node = try DeploymentFile.section("monthly", of: url) else { return s }
        guard let map = node as? [String: Any] else { throw RecruitError.refused("\(url.path): monthly: expected a mapping") }
        let known: Set<String> = ["cohorts", "issue", "output", "max_extract_age_days"]
        if let unknown = map.keys.filter({ !known.contains($0) }).sorted().first {
            throw RecruitError.refused("\(url.path): monthly: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let v = map["cohorts"] {
            guard let files = v as? [String], !files.isEmpty else { throw RecruitError.refused("\(url.path): monthly.cohorts: expected a list of cohort files") }
            s.cohorts = files
        }
        if let v = map["issue"] {
            guard let b = v as? Bool else { throw RecruitError.refused("\(url.path): monthly.issue: expected true or false") }
            s.issue = b
        }
        if let v = map["output"] {
            guard let o = v as? String, !o.isEmpty else { throw RecruitError.refused("\(url.path): monthly.output: expected a folder") }
            s.output = o
        }
        if let v = map["max_extract_age_days"] {
            guard let n = v as? Int, n >= 0 else { throw RecruitError.refused("\(url.path): monthly.max_extract_age_days: expected a whole number of days") }
            s.maxExtractAgeDays = n
        }
        return s
    }
}
