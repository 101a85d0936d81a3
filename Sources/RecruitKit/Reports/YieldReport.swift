import Foundation

/// A yield report as published: every count already suppressed or rounded.
///
/// `yields.json` is this value; `attrition.csv`, `funnel.csv` and
/// `report.html` are rendered from it, so the three can never disagree, and
/// nothing unprotected reaches a renderer.
public struct YieldReport: Codable, Sendable {
    /// The practice id of total rows (no valid practice code looks like it).
    public static let total = "__total__"
    /// The month of all-months rows.
    public static let allMonths = "all"

    public struct RunFacts: Codable, Sendable, Hashable {
        public var runID: Int
        public var status: String
        public var indexDate: String
        public var month: String
        public var cohortVersion: String
        public var cohortSHA256: String
        public var toolVersion: String
        public var issuedAt: String?
        public var practices: Int
        public var supersededPractices: [String]
        public var codelists: JSONValue
        /// The run's criteria in order (step 0 is the extract).
        public var steps: [StepFacts]

        enum CodingKeys: String, CodingKey {
            case runID = "run_id", status, indexDate = "index_date", month, cohortVersion = "cohort_version"
            case cohortSHA256 = "cohort_sha256", toolVersion = "tool_version", issuedAt = "issued_at", practices
            case supersededPractices = "superseded_practices", codelists, steps
        }
    }

    /// One step of a run's attrition: the criterion, its label and whether it includes or excludes.
    public struct StepFacts: Codable, Sendable, Hashable {
        public var step: Int
        public var criterion: String
        public var label: String
        /// `include`, `exclude`, or nil (step 0, or a definition that could not be read).
        public var effect: String?
        /// One of the deployment's safeguards, applied after the cohort's own criteria.
        public var safeguard: Bool = false
    }

    /// Per run, practice (and `__total__`) and step: the patients remaining and those the step removed.
    public struct AttritionRow: Codable, Sendable, Hashable {
        public var runID: Int
        public var indexDate: String
        public var practiceID: String
        public var step: Int
        public var criterion: String
        public var label: String
        public var remaining: PublishedCount
        /// nil for step 0.
        public var removed: PublishedCount?

        enum CodingKeys: String, CodingKey {
            case runID = "run_id", indexDate = "index_date", practiceID = "practice_id", step, criterion, label, remaining, removed
        }
    }

    /// Per practice (and `__total__`) and month (and `all`): the funnel counts and rates.
    public struct FunnelRow: MeasureRow, Codable, Sendable, Hashable {
        public var practiceID: String
        public var month: String
        public var counts: [String: PublishedCount]
        public var rates: [String: String?]

        enum CodingKeys: String, CodingKey {
            case practiceID = "practice_id", month, counts, rates
        }
    }

    /// Per practice (and `__total__`), all selected runs pooled: the yield per 1,000 registered.
    public struct PracticeRow: Codable, Sendable, Hashable {
        public var practiceID: String
        /// Runs that covered the practice.
        public var runs: Int
        public var registered: PublishedCount
        public var eligible: PublishedCount
        public var invited: PublishedCount
        public var responded: PublishedCount
        public var consented: PublishedCount
        /// Eligible per 1,000 registered, or nil where not shown.
        public var eligiblePer1000: String?

        enum CodingKeys: String, CodingKey {
            case practiceID = "practice_id", runs, registered, eligible, invited, responded, consented
            case eligiblePer1000 = "eligible_per_1000"
        }
    }

    /// Outcomes by the out-of-work evidence that admitted the invitees: every
    /// selected run and practice pooled, one row per kind of evidence and a
    /// total row (``YieldReport/total``), which is the funnel's all-months total.
    public struct ProxySection: Codable, Sendable, Hashable {
        /// The criterion whose evidence is read, and its label.
        public var criterion: String
        public var label: String
        public var rows: [ProxyRow]

        /// The total row.
        public var total: ProxyRow? { rows.first { $0.proxy == YieldReport.total } }
    }

    /// One kind of evidence (eligible: its invitees), or `__total__`.
    public struct ProxyRow: MeasureRow, Codable, Sendable, Hashable {
        /// ``ProxyClass/key``, or `__total__`.
        public var proxy: String
        public var label: String
        public var counts: [String: PublishedCount]
        public var rates: [String: String?]
    }

    /// One box of the study's flow (CONSORT), per practice and `__total__`,
    /// every selected run pooled: the list's boxes (listed → screened out, by
    /// reason code → invited → no reply / replied → …), each referral
    /// channel's box, and the consented by channel.
    public struct FlowBox: Codable, Sendable, Hashable {
        public var practiceID: String
        /// A stable key: `listed`, `screened_out:clinical`, `referral:self_referral:consented`, `consented:all`, ….
        public var box: String
        /// The box this one is part of; nil at the top of a flow.
        public var parent: String?
        public var label: String
        public var count: PublishedCount

        enum CodingKeys: String, CodingKey { case practiceID = "practice_id", box, parent, label, count }
    }

    /// Responders against non-responders, and the consented against the rest, among the invited.
    public struct ComparisonRow: MeasureRow, Codable, Sendable, Hashable {
        /// `practice`, `evidence`, `age_band` or `sex`.
        public var dimension: String
        /// The practice, evidence class, band or sex; `__total__` for all invitees.
        public var group: String
        public var label: String
        public var counts: [String: PublishedCount]
        public var rates: [String: String?]

        /// The counts and rates a comparison row carries.
        public static let measures: [FunnelMeasure] = [.invited, .replied, .noReply, .consented, .notConsented]
        public static let rates: [FunnelRate] = [.repliedOfInvited, .consentedOfInvited]
    }

    public struct Suppression: Codable, Sendable, Hashable {
        /// false: `--no-suppression` (for use inside the practice only).
        public var applied: Bool
        public var rule: String
        /// Counts shown as ≤7.
        public var smallCounts: Int
        /// Counts suppressed to protect another (`*`).
        public var secondaryCounts: Int

        enum CodingKeys: String, CodingKey {
            case applied, rule, smallCounts = "small_counts", secondaryCounts = "secondary_counts"
        }
    }

    /// The list size a practice's yield is divided by.
    public struct Denominator: Codable, Sendable, Hashable {
        /// The attrition step whose remaining count is used (1: after the first criterion).
        public var step: Int
        public var label: String
    }

    public var cohortName: String
    public var cohortVersions: [String]
    public var generatedAt: String
    public var toolVersion: String
    public var suppression: Suppression
    public var denominator: Denominator
    public var months: [String]
    public var runs: [RunFacts]
    public var attrition: [AttritionRow]
    public var funnel: [FunnelRow]
    public var practices: [PracticeRow]
    /// nil when no selected run has the proxy criterion.
    public var proxy: ProxySection?
    public var flow: [FlowBox] = []
    public var comparisons: [ComparisonRow] = []

    enum CodingKeys: String, CodingKey {
        case cohortName = "cohort_name", cohortVersions = "cohort_versions", generatedAt = "generated_at"
        case toolVersion = "tool_version", suppression, denominator, months, runs, attrition, funnel, practices, proxy, flow, comparisons
    }

    /// The funnel row for a practice and month.
    public func funnelRow(_ practiceID: String, _ month: String) -> FunnelRow? {
        funnel.first { $0.practiceID == practiceID && $0.month == month }
    }

    /// The attrition rows of one run for one practice (or `__total__`), by step.
    public func attrition(run: Int, practice: String = YieldReport.total) -> [AttritionRow] {
        attrition.filter { $0.runID == run && $0.practiceID == practice }
    }

    /// The steps of a run.
    public func steps(run: Int) -> [StepFacts] { runs.first { $0.runID == run }?.steps ?? [] }

    /// The latest run (by index date, then id).
    public var latestRun: RunFacts? { runs.last }
}

/// A row of funnel measures as published: the funnel's, or the proxy table's.
public protocol MeasureRow {
    /// By ``FunnelMeasure`` raw value.
    var counts: [String: PublishedCount] { get }
    /// By ``FunnelRate`` raw value: the percentage's text, or nil where not shown.
    var rates: [String: String?] { get }
}

extension MeasureRow {
    public subscript(_ m: FunnelMeasure) -> PublishedCount { counts[m.rawValue] ?? .small }
    public func rate(_ r: FunnelRate) -> String? { rates[r.rawValue] ?? nil }
}
