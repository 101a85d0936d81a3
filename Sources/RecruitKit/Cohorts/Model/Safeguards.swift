import Foundation

/// The protections no cohort definition can drop: research dissent
/// (latest-code-wins over the opt-out and withdrawal lists), contact ended
/// (the outcomes that close contact) and the minimum re-invitation interval.
/// They come from the deployment (`recruit.yaml`), never from the cohort file,
/// and the model applies them after every cohort's own criteria, so both
/// engines apply them: a cohort that names one (by its id) may make it
/// stricter (a longer interval, more outcomes), never weaker; one that does
/// not name it gets it appended with the same id.
public struct Safeguards: Sendable, Hashable, Codable {
    /// The lists research dissent is decided over: the latest of their records on or before D.
    public var dissentLists: [String]
    /// The latest record being in this list means dissent.
    public var dissentList: String
    /// Nobody is invited again within this many days of a previous invitation's index date.
    public var minReinviteIntervalDays: Int
    /// Outcomes that end contact for the cohort.
    public var contactEndedOutcomes: [String]
    /// The cross-study exclusion: people invited to one of these other cohorts
    /// (another study) within `crossStudyWindowDays` are not invited. None by
    /// default: then it adds no step.
    public var otherCohorts: [String] = []
    public var crossStudyWindowDays = 365
    /// False only for runs recorded before safeguards existed (reproduced as they were made).
    public var applied: Bool

    enum CodingKeys: String, CodingKey {
        case dissentLists = "dissent_lists", dissentList = "dissent_list", minReinviteIntervalDays = "min_reinvite_interval_days"
        case contactEndedOutcomes = "contact_ended_outcomes", otherCohorts = "other_cohorts", crossStudyWindowDays = "cross_study_window_days"
        case applied
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dissentLists = try c.decode([String].self, forKey: .dissentLists)
        dissentList = try c.decode(String.self, forKey: .dissentList)
        minReinviteIntervalDays = try c.decode(Int.self, forKey: .minReinviteIntervalDays)
        contactEndedOutcomes = try c.decode([String].self, forKey: .contactEndedOutcomes)
        otherCohorts = try c.decodeIfPresent([String].self, forKey: .otherCohorts) ?? []
        crossStudyWindowDays = try c.decodeIfPresent(Int.self, forKey: .crossStudyWindowDays) ?? 365
        applied = try c.decode(Bool.self, forKey: .applied)
    }

    public init(dissentLists: [String], dissentList: String, minReinviteIntervalDays: Int, contactEndedOutcomes: [String], applied: Bool = true) {
        self.dissentLists = dissentLists
        self.dissentList = dissentList
        self.minReinviteIntervalDays = minReinviteIntervalDays
        self.contactEndedOutcomes = contactEndedOutcomes
        self.applied = applied
    }

    /// The built-in deployment: the reference cohort's criteria 10–12.
    public static let defaults = Safeguards(
        dissentLists: ["research-opt-out", "research-opt-out-withdrawn"], dissentList: "research-opt-out",
        minReinviteIntervalDays: 365,
        contactEndedOutcomes: ["screened_out", "declined", "opted_out", "ineligible", "consented", "withdrawn"])

    /// What a run recorded before safeguards existed was evaluated with: nothing added.
    public static let notApplied = Safeguards(dissentLists: [], dissentList: "", minReinviteIntervalDays: 0, contactEndedOutcomes: [],
                                              applied: false)

    /// The safeguards' criterion ids, in the order they are appended.
    public enum Kind: String, CaseIterable, Sendable {
        case researchDissent = "research_dissent"
        case recentlyInvited = "recently_invited"
        case contactEnded = "contact_ended"
        /// Only when the deployment names other cohorts.
        case invitedToOtherStudy = "invited_to_other_study"

        var label: String {
            switch self {
            case .researchDissent: return "Research dissent"
            case .recentlyInvited: return "Recently invited"
            case .contactEnded: return "Contact ended"
            case .invitedToOtherStudy: return "Invited to another study"
            }
        }
    }

    /// The safeguards this deployment applies (the cross-study one only when it names other cohorts).
    public var kinds: [Kind] {
        Kind.allCases.filter { $0 != .invitedToOtherStudy || !otherCohorts.isEmpty }
    }

    /// The section `cohort explain`, `runs why` and the report show them under.
    public static let section = "Safeguards, always applied"

    /// The condition a cohort that does not name `kind` gets.
    func condition(_ kind: Kind) -> ResolvedCondition {
        switch kind {
        case .researchDissent:
            return .latest(ResolvedLatestQuery(source: .events, codeLists: dissentLists, isIn: dissentList,
                                               window: ResolvedWindow(fromDaysBefore: nil, toDaysBefore: ResolvedNumber(0)),
                                               ties: .isInWins, codeSystems: nil))
        case .recentlyInvited:
            return .previouslyInvited(window: ResolvedWindow(fromDaysBefore: ResolvedNumber(minReinviteIntervalDays), toDaysBefore: ResolvedNumber(0)))
        case .contactEnded:
            return .contactEnded(outcomes: contactEndedOutcomes)
        case .invitedToOtherStudy:
            return .invitedToOtherCohorts(cohorts: otherCohorts, window: ResolvedWindow(fromDaysBefore: ResolvedNumber(crossStudyWindowDays),
                                                                                        toDaysBefore: ResolvedNumber(0)))
        }
    }

    /// Why `condition`, written by a cohort for `kind`, is weaker than the deployment's (nil: it is as strict or stricter).
    func weakening(_ kind: Kind, _ condition: ResolvedCondition) -> String? {
        switch (kind, condition) {
        case (.researchDissent, .latest(let q)):
            if Set(q.codeLists) != Set(dissentLists) || q.isIn != dissentList || q.source != .events || q.ties != .isInWins
                || q.codeSystems != nil || q.window.fromDaysBefore != nil || q.window.toDaysBefore.value != 0 {
                return "research dissent is decided by the latest event on or before D over exactly [\(dissentLists.joined(separator: ", "))], "
                    + "dissent when it is in \(dissentList), which wins on the same date (latest_event, window {to: D}, on_same_date: is_in_wins)"
            }
            return nil
        case (.recentlyInvited, .previouslyInvited(let w)):
            if w.toDaysBefore.value != 0 {
                return "the window must end at D (to: D)"
            }
            if let from = w.fromDaysBefore, from.value < minReinviteIntervalDays {
                return "an interval of \(from.note) days is shorter than the deployment's minimum of \(minReinviteIntervalDays)"
            }
            return nil
        case (.contactEnded, .contactEnded(let outcomes)):
            let missing = contactEndedOutcomes.filter { !outcomes.contains($0) }
            return missing.isEmpty ? nil : "it leaves out outcome(s) the deployment says end contact: \(missing.joined(separator: ", "))"
        case (.invitedToOtherStudy, _):
            return "it is set by the deployment (safeguards.cross_study in recruit.yaml), not written in a cohort file"
        default:
            let expected = kind == .researchDissent ? "latest_event" : kind == .recentlyInvited ? "previously_invited" : "contact_ended"
            return "it must be a \(expected) condition"
        }
    }

    // MARK: The deployment file

    /// Reads `safeguards:` from a deployment file (`recruit.yaml`); a key left
    /// out keeps its default.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and what is wrong.
    public static func load(from url: URL) throws -> Safeguards {
        var s = Safeguards.defaults
        guard let g = try DeploymentFile.section("safeguards", of: url) else { return s }
        guard let map = g as? [String: Any] else { throw RecruitError.refused("\(url.path): safeguards: expected a mapping") }
        let known: Set<String> = ["research_dissent", "min_reinvite_interval_days", "contact_ended_outcomes", "cross_study"]
        if let unknown = map.keys.filter({ !known.contains($0) }).sorted().first {
            throw RecruitError.refused("\(url.path): safeguards: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let d = map["research_dissent"] {
            guard let dm = d as? [String: Any], let lists = dm["lists"] as? [String], let list = dm["dissent_list"] as? String,
                  !lists.isEmpty, lists.contains(list) else {
                throw RecruitError.refused("\(url.path): safeguards.research_dissent: expected lists: [names] and dissent_list: one of them")
            }
            s.dissentLists = lists
            s.dissentList = list
        }
        if let n = map["min_reinvite_interval_days"] {
            guard let days = n as? Int, days >= 0 else {
                throw RecruitError.refused("\(url.path): safeguards.min_reinvite_interval_days: expected a whole number of days (0 or more)")
            }
            s.minReinviteIntervalDays = days
        }
        if let x = map["cross_study"] {
            guard let xm = x as? [String: Any], let cohorts = xm["cohorts"] as? [String],
                  Set(xm.keys).isSubset(of: ["cohorts", "window_days"]) else {
                throw RecruitError.refused("\(url.path): safeguards.cross_study: expected cohorts: [names] and window_days: a number of days")
            }
            s.otherCohorts = cohorts
            if let w = xm["window_days"] {
                guard let days = w as? Int, days >= 0 else {
                    throw RecruitError.refused("\(url.path): safeguards.cross_study.window_days: expected a whole number of days (0 or more)")
                }
                s.crossStudyWindowDays = days
            }
        }
        if let o = map["contact_ended_outcomes"] {
            let known = Condition.knownOutcomes
            guard let outcomes = o as? [String], let bad = Optional(outcomes.filter { !known.contains($0) }), bad.isEmpty else {
                throw RecruitError.refused("\(url.path): safeguards.contact_ended_outcomes: expected outcomes among \(known.joined(separator: ", "))")
            }
            s.contactEndedOutcomes = outcomes
        }
        return s
    }
}
