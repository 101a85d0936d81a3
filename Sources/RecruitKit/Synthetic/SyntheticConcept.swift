/// What a synthetic record is about: one of the reference cohort's code lists,
/// or the background that no list should match.
enum SyntheticConcept: Int, CaseIterable, Sendable {
    case chronicPain, opioid, gabapentinoid, fitNote, unemployment, cancer, palliativeCare
    case researchOptOut, researchOptOutWithdrawn
    case backgroundEvent, backgroundMedicine

    /// The code list (`codelists/NAME.csv`) the concept's codes come from.
    var listName: String? {
        switch self {
        case .chronicPain: "chronic-pain"
        case .opioid: "opioid-analgesics"
        case .gabapentinoid: "gabapentinoids"
        case .fitNote: "fit-notes"
        case .unemployment: "unemployment"
        case .cancer: "cancer"
        case .palliativeCare: "palliative-care"
        case .researchOptOut: "research-opt-out"
        case .researchOptOutWithdrawn: "research-opt-out-withdrawn"
        case .backgroundEvent, .backgroundMedicine: nil
        }
    }

    /// Whether records of this concept are prescriptions (else coded events).
    var isMedicine: Bool { self == .opioid || self == .gabapentinoid || self == .backgroundMedicine }

    /// The concepts whose lists the synthesiser reads.
    static var listed: [SyntheticConcept] { allCases.filter { $0.listName != nil } }

    /// Phrases (lower case) of common terms: codes whose term contains one are
    /// drawn far more often, as the commonest codes dominate real records.
    var commonTermPhrases: [String] {
        switch self {
        case .chronicPain:
            ["low back pain", "backache", "back pain", "pain in limb", "neck pain", "cervicalgia", "headache",
             "knee pain", "shoulder pain", "arthralgia", "joint pain", "sciatica", "fibromyalgia", "chronic pain",
             "osteoarthritis", "abdominal pain", "migraine", "pain in joint"]
        case .opioid:
            ["co-codamol 30mg/500mg tablets", "co-codamol 30mg/500mg capsules", "codeine phosphate 30mg tablets",
             "tramadol 50mg capsules", "co-codamol 8mg/500mg tablets", "dihydrocodeine 30mg tablets",
             "co-dydramol", "morphine sulfate 10mg modified-release", "oxycodone 5mg capsules",
             "buprenorphine 5micrograms/hour", "fentanyl 12micrograms/hour", "tramadol 100mg modified-release",
             "oramorph", "morphine sulfate 10mg/5ml oral solution"]
        case .gabapentinoid:
            ["gabapentin 300mg capsules", "gabapentin 100mg capsules", "pregabalin 75mg capsules",
             "pregabalin 150mg capsules", "pregabalin 25mg capsules", "pregabalin 50mg capsules",
             "gabapentin 600mg tablets", "gabapentin 400mg capsules", "pregabalin 300mg capsules"]
        case .fitNote:
            ["med3", "fit note", "not fit for work", "may be fit", "sick note", "statement of fitness",
             "sickness certificate", "doctor's statement"]
        case .cancer:
            ["breast", "prostate", "colon", "rectum", "bronchus", "lung", "melanoma", "bladder", "lymphoma"]
        case .palliativeCare:
            ["palliative care", "end of life", "gold standards framework", "palliative"]
        default: []
        }
    }
}
