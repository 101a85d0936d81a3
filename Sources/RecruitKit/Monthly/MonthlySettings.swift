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
    /// Write the screening pack (``PackWriter``) of each run the job issues, to
    /// `OUTPUT/COHORT/INDEX_DATE/pack/`; a draft's is written once it is issued.
    public var packs = true
    /// What the packs say.
    public var pack = Pack()

    /// `monthly.pack:` what `recruit pack`'s options say for a pack the job writes.
    public struct Pack: Sendable, Equatable {
        /// The study's name (`--study`); nil: the cohort's name.
        public var study: String?
        /// How to reply to the study team (`--contact`); nil: «study contact», for the practice to fill in.
        public var contact: String?
        /// Replies wanted by this many days after the pack is written (`--reply-by`).
        public var replyWithinDays = 28
        /// The letter template (`--template`), relative to the deployment file's folder.
        public var template = "templates/invitation-letter.md"

        public init() {}
    }

    public init() {}

    /// Reads `monthly:` from `url`; a key left out keeps its default.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and the key.
    public static func load(from url: URL) throws -> MonthlySettings {
        var s = MonthlySettings()
        guard let node = try DeploymentFile.section("monthly", of: url) else { return s }
        guard let map = node as? [String: Any] else { throw RecruitError.refused("\(url.path): monthly: expected a mapping") }
        let known: Set<String> = ["cohorts", "issue", "output", "max_extract_age_days", "packs", "pack"]
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
        if let v = map["packs"] {
            guard let b = v as? Bool else { throw RecruitError.refused("\(url.path): monthly.packs: expected true or false") }
            s.packs = b
        }
        if let v = map["pack"] {
            s.pack = try Pack.load(v, file: url)
        }
        return s
    }
}

extension MonthlySettings.Pack {
    /// Reads `monthly.pack:` (a mapping); a key left out keeps its default.
    static func load(_ node: Any, file url: URL) throws -> Self {
        guard let map = node as? [String: Any] else { throw RecruitError.refused("\(url.path): monthly.pack: expected a mapping") }
        let known: Set<String> = ["study", "contact", "reply_within_days", "template"]
        if let unknown = map.keys.filter({ !known.contains($0) }).sorted().first {
            throw RecruitError.refused("\(url.path): monthly.pack: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        var p = Self()
        for key in ["study", "contact", "template"] {
            guard let v = map[key] else { continue }
            guard let text = v as? String, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw RecruitError.refused("\(url.path): monthly.pack.\(key): expected some text")
            }
            switch key {
            case "study": p.study = text
            case "contact": p.contact = text
            default: p.template = text
            }
        }
        if let v = map["reply_within_days"] {
            guard let n = v as? Int, n >= 0 else { throw RecruitError.refused("\(url.path): monthly.pack.reply_within_days: expected a whole number of days") }
            p.replyWithinDays = n
        }
        return p
    }
}
