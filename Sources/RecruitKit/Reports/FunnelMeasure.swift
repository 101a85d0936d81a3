/// The counts of the recruitment funnel, per practice and month, in the order
/// `funnel.csv` prints them.
public enum FunnelMeasure: String, CaseIterable, Codable, Sendable {
    /// On the run's invitation list (left after the last criterion).
    case eligible
    /// Screened out by the GP before any letter.
    case screenedOut = "screened_out"
    /// Not invited for another reason the practice recorded.
    case notInvited = "not_invited"
    /// Sent a letter (or with an outcome that can only follow one).
    case invited
    case declined
    case optedOut = "opted_out"
    /// Replied and was screened by the study (ineligible, eligible, consented).
    case responded
    /// Found ineligible on screening, whatever the reason.
    case ineligible
    case ineligibleInWork = "ineligible_in_work"
    case ineligibleOffSickWithJob = "ineligible_off_sick_with_job"
    /// In work or off sick with a job: the search's known imprecision.
    case ineligibleWorking = "ineligible_working"
    case ineligibleNotChronicPain = "ineligible_not_chronic_pain"
    case ineligibleOther = "ineligible_other"
    case ineligibleReasonNotRecorded = "ineligible_reason_not_recorded"
    /// Responded and not found ineligible: eligible on screening.
    case screenedEligible = "screened_eligible"
    case consented
    /// Consented, then withdrew (also counted as consented).
    case withdrawn
    // Added with the study's flow (issue 21), last so that funnel.csv keeps its columns' order.
    /// On the list with no review outcome recorded yet (not screened out, not invited, no reply).
    case reviewNotRecorded = "review_not_recorded"
    /// Invited, and no reply recorded.
    case noReply = "no_reply"
    /// Invited and replied: declined, opted out or responded.
    case replied
    /// Eligible on screening and not (yet) consented.
    case eligibleNotConsented = "eligible_not_consented"
    /// Invited and not consented: the rest, beside the consented.
    case notConsented = "not_consented"
    /// On the list for the first time by this cohort (run_invitations.first_listed): early pick-up.
    case newlyEligible = "newly_eligible"

    /// What the count means, for the report's tables.
    public var label: String {
        switch self {
        case .eligible: return "Eligible (on the list)"
        case .screenedOut: return "Screened out by the GP"
        case .notInvited: return "Not invited (other reason)"
        case .invited: return "Invited"
        case .declined: return "Declined"
        case .optedOut: return "Opted out"
        case .responded: return "Responded"
        case .ineligible: return "Ineligible on screening"
        case .ineligibleInWork: return "In work"
        case .ineligibleOffSickWithJob: return "Off sick with a job"
        case .ineligibleWorking: return "In work or off sick with a job"
        case .ineligibleNotChronicPain: return "Pain not chronic"
        case .ineligibleOther: return "Other reason"
        case .ineligibleReasonNotRecorded: return "Reason not recorded"
        case .screenedEligible: return "Eligible on screening"
        case .consented: return "Consented"
        case .withdrawn: return "Withdrew after consent"
        case .reviewNotRecorded: return "Review not recorded"
        case .noReply: return "No reply"
        case .replied: return "Replied"
        case .eligibleNotConsented: return "Eligible, not consented"
        case .notConsented: return "Invited, not consented"
        case .newlyEligible: return "Newly eligible (listed for the first time)"
        }
    }

    /// The relations `total = Σ parts` that hold within one funnel row: each
    /// invitee is in one box of each level of the flow (sql/0019).
    static let rowRelations: [(FunnelMeasure, [FunnelMeasure])] = [
        (.eligible, [.screenedOut, .notInvited, .reviewNotRecorded, .invited]),
        (.invited, [.noReply, .declined, .optedOut, .responded]),
        (.replied, [.declined, .optedOut, .responded]),
        (.invited, [.noReply, .replied]),
        (.screenedEligible, [.consented, .eligibleNotConsented]),
        (.invited, [.consented, .notConsented]),
        (.ineligible, [.ineligibleInWork, .ineligibleOffSickWithJob, .ineligibleNotChronicPain, .ineligibleOther, .ineligibleReasonNotRecorded]),
        (.ineligibleWorking, [.ineligibleInWork, .ineligibleOffSickWithJob]),
        (.ineligible, [.ineligibleWorking, .ineligibleNotChronicPain, .ineligibleOther, .ineligibleReasonNotRecorded]),
        (.responded, [.ineligible, .screenedEligible]),
    ]
}

/// The rates printed for each funnel row, computed from unrounded counts.
public enum FunnelRate: String, CaseIterable, Codable, Sendable {
    case invitedOfEligible = "invited_pct_of_eligible"
    case respondedOfInvited = "responded_pct_of_invited"
    case consentedOfResponded = "consented_pct_of_responded"
    case workingOfResponded = "working_pct_of_responded"
    case consentedOfEligible = "consented_pct_of_eligible"
    case repliedOfInvited = "replied_pct_of_invited"
    case consentedOfInvited = "consented_pct_of_invited"

    public var numerator: FunnelMeasure {
        switch self {
        case .invitedOfEligible: return .invited
        case .respondedOfInvited: return .responded
        case .consentedOfResponded, .consentedOfEligible: return .consented
        case .workingOfResponded: return .ineligibleWorking
        case .repliedOfInvited: return .replied
        case .consentedOfInvited: return .consented
        }
    }

    public var denominator: FunnelMeasure {
        switch self {
        case .invitedOfEligible, .consentedOfEligible: return .eligible
        case .respondedOfInvited, .repliedOfInvited, .consentedOfInvited: return .invited
        case .consentedOfResponded, .workingOfResponded: return .responded
        }
    }

    public var label: String {
        switch self {
        case .invitedOfEligible: return "% of eligible invited"
        case .respondedOfInvited: return "% of invited who responded"
        case .consentedOfResponded: return "% of responders who consented (precision)"
        case .workingOfResponded: return "% of responders in work or off sick with a job"
        case .consentedOfEligible: return "% of eligible who consented"
        case .repliedOfInvited: return "% of invited who replied"
        case .consentedOfInvited: return "% of invited who consented"
        }
    }
}
