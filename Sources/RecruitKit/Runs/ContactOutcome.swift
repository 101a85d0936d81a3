/// What a practice recorded about a patient on an invitation list (feedback),
/// or about a contact before recruit (history).
public enum ContactOutcome: String, Sendable, Codable, CaseIterable {
    case screenedOut = "screened_out"
    case invited
    case notInvited = "not_invited"
    case declined
    case optedOut = "opted_out"
    case responded
    case ineligible
    case consented
    case withdrawn

    /// The outcomes of GP review and mailing: one of them at most per patient per run.
    public static let reviewOutcomes: Set<ContactOutcome> = [.screenedOut, .invited, .notInvited]

    /// The outcomes a history file may record (`--screened-out`).
    public static let historyOutcomes: [ContactOutcome] = [.screenedOut, .declined, .optedOut]

    /// The outcomes that end contact for the cohort (criterion 12).
    public static let endingContact: Set<ContactOutcome> = [.screenedOut, .declined, .optedOut, .ineligible, .consented, .withdrawn]

    /// The allowed values, for messages.
    public static var allowedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Why a responder was ineligible (feedback `reason` for `ineligible`).
public enum IneligibleReason: String, Sendable, Codable, CaseIterable {
    case inWork = "in_work"
    case offSickWithJob = "off_sick_with_job"
    case notChronicPain = "not_chronic_pain"
    case other

    public static var allowedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// How a person came to the study (feedback `channel`).
public enum ContactChannel: String, Sendable, Codable, CaseIterable {
    /// The practice's invitation letter (the default).
    case letter
    case selfReferral = "self_referral"
    case gpReferral = "gp_referral"
    case other

    /// The channels other than the letter: a person who came this way is a referral.
    public static let referrals: [ContactChannel] = [.selfReferral, .gpReferral, .other]

    public static var allowedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension ContactOutcome {
    /// The outcomes that answer a contact (a letter or a referral): what a referral may record.
    public static let responses: Set<ContactOutcome> = [.declined, .optedOut, .responded, .ineligible, .consented, .withdrawn]
}
