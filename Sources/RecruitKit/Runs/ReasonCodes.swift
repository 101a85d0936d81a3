import Foundation

/// The coded reasons a practice may give with an outcome (`reason_code` in a
/// feedback file): stored and counted, unlike a free-text reason, which stays
/// at the practice. A deployment setting (`reason_codes:` in `recruit.yaml`)
/// with these defaults; an outcome without a vocabulary takes no code.
public struct ReasonCodes: Sendable, Equatable {
    /// Codes by outcome (a ``ContactOutcome`` raw value).
    public var codes: [String: [String]]

    public static let defaults = ReasonCodes(codes: [
        "screened_out": ["clinical", "recent_life_event", "safeguarding", "capacity", "other"],
        "declined": ["not_interested", "too_unwell", "no_time", "other"],
    ])

    public init(codes: [String: [String]]) {
        self.codes = codes
    }

    /// Why `code` cannot go with `outcome`, or nil when it can.
    public func problem(_ code: String, outcome: String) -> String? {
        guard let allowed = codes[outcome], !allowed.isEmpty else {
            return "no reason code is recorded for \(outcome) (codes are for \(codes.keys.sorted().joined(separator: ", ")))"
        }
        return allowed.contains(code) ? nil : "not a reason code for \(outcome) (\(allowed.joined(separator: ", ")))"
    }

    /// Reads `reason_codes:` from a deployment file; an outcome left out keeps its default codes.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and what is wrong.
    public static func load(from url: URL) throws -> ReasonCodes {
        var r = ReasonCodes.defaults
        guard let node = try DeploymentFile.section("reason_codes", of: url) else { return r }
        guard let map = node as? [String: Any] else { throw RecruitError.refused("\(url.path): reason_codes: expected outcome: [codes]") }
        for (outcome, value) in map {
            guard ContactOutcome(rawValue: outcome) != nil, outcome != "ineligible" else {
                throw RecruitError.refused("\(url.path): reason_codes: '\(outcome)' is not an outcome that takes codes (ineligible keeps its reasons)")
            }
            guard let list = value as? [String], list.allSatisfy({ !$0.isEmpty && !$0.contains(",") }) else {
                throw RecruitError.refused("\(url.path): reason_codes.\(outcome): expected a list of codes")
            }
            r.codes[outcome] = list
        }
        return r
    }
}
