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
