import Foundation
import Logging
import Postgres

/// `recruit pack RUN_ID --out DIR`: for an issued run, one folder per practice
/// with what the practice needs to go from the list to letters and back:
///
/// - `screening.html`: the GP's screening sheet (A4, 18 invitees a page): each
///   invitee's pseudonymised id, age band, sex and the evidence that admitted
///   them, with boxes for the decision and the reason (which stays at the practice);
/// - `feedback.csv`: the file `recruit feedback import` reads, pre-filled with the
///   run, the practice and each invitee, its outcome, date and reason empty;
/// - `mailmerge.csv` and `letter.html`: the fields of the practice's mail-merge
///   (the pseudonymised id is the key the practice re-identifies with its own
///   lookup) and the letter rendered from a template.
///
/// recruit holds no names or addresses: the letter's personal fields are the
/// practice's own mail-merge fields («Title», «Surname», …), left as they are.
public struct PackWriter {
    /// What the letter and sheets say about the study.
    public struct Study: Sendable {
        public var name: String
        /// How to reply (a telephone number, an e-mail address, a postal address).
        public var contact: String
        /// Replies wanted by this date.
        public var replyBy: LocalDate
        public init(name: String, contact: String, replyBy: LocalDate) {
            self.name = name
            self.contact = contact
            self.replyBy = replyBy
        }
    }

    public struct Result: Codable, Sendable {
        public struct Practice: Codable, Sendable {
            public var practiceID: String
            public var invitees: Int
            /// SHA-256 of each file, by path relative to the pack's folder.
            public var files: [String: String]
        }
        public var runID: Int
        public var directory: String
        public var practices: [Practice]
        public var auditEntry: Int
    }

    /// The pack's files in each practice's folder.
    public static let files = ["screening.html", "feedback.csv", "mailmerge.csv", "letter.html"]

    let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Writes the pack of issued run `runID` into `directory` (new or empty).
    ///
    /// - Throws: ``RecruitError`` (refused) for a run that is not issued, a
    ///   folder that holds files, a template naming an unknown field (with its line).
    public func write(runID: Int, to directory: URL, study: Study, template: LetterTemplate,
                      reasonCodes: ReasonCodes = .defaults) throws -> Result {
        let c = database.connection
        let run = try RunRecord.load(runID, on: c)
        guard run.status == .issued else {
            throw RecruitError.refused("run \(runID) is a \(run.status.rawValue): packs are made for issued runs (review it, then recruit runs issue \(runID))")
        }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if !existing.isEmpty {
            throw RecruitError.refused("\(directory.path) is not empty: write the pack to a new folder", remedy: .give(.outputFolder))
        }
        let cohort = try RunReproducer.resolveCohort(of: run, on: c)
        let labels = Dictionary(uniqueKeysWithValues: cohort.criteria.map { ($0.id, $0.label) })
        let invitees = try RecordedSnapshots.reading(run, on: database) {
            try c.query("""
                SELECT ri.practice_id, ri.patient_id, ri.evidence::text AS evidence, p.year_of_birth, p.month_of_birth, p.sex::text AS sex
                FROM run_invitations ri JOIN current_patients p USING (practice_id, patient_id)
                WHERE ri.run_id = \(runID)
                ORDER BY ri.practice_id COLLATE "C", ri.patient_id COLLATE "C"
                """).map { row in
                Invitee(practiceID: row.string("practice_id"), patientID: row.string("patient_id"),
                        ageBand: Self.ageBand(yearOfBirth: row.int("year_of_birth") ?? 0, monthOfBirth: row.int("month_of_birth"), at: run.indexDate),
                        sex: row.string("sex"), evidence: Self.evidence(row.string("evidence"), labels: labels, order: cohort.criteria.map(\.id)))
            }
        }
        let byPractice = Dictionary(grouping: invitees, by: \.practiceID)
        var result = Result(runID: runID, directory: directory.path, practices: [], auditEntry: 0)
        for practice in run.practiceIDs {
            let mine = byPractice[practice] ?? []
            let folder = directory.appendingPathComponent(practice)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let texts: [String: String] = [
                "screening.html": ScreeningSheet.html(run: run, cohort: cohort.name, practice: practice, invitees: mine, study: study,
                                                      screeningCodes: reasonCodes.codes["screened_out"] ?? []),
                "feedback.csv": Self.feedbackCSV(runID: runID, invitees: mine),
                "mailmerge.csv": Self.mailMergeCSV(invitees: mine, study: study),
                "letter.html": template.html(fields: Self.letterFields(study), title: study.name),
            ]
            var hashes: [String: String] = [:]
            for name in Self.files {
                let text = texts[name]!
                try Data(text.utf8).write(to: folder.appendingPathComponent(name), options: .atomic)
                hashes["\(practice)/\(name)"] = Hashing.sha256Hex(text)
            }
            result.practices.append(.init(practiceID: practice, invitees: mine.count, files: hashes))
        }
        let readme = Self.readme(run: run, study: study)
        try Data(readme.utf8).write(to: directory.appendingPathComponent("README.txt"), options: .atomic)
        result.auditEntry = try AuditLog.append(on: c, action: "pack", subjects: ["run_id": .int(runID)], payload: [
            "directory": .string(directory.path), "template": .string(template.file), "template_sha256": .string(template.sha256),
            "files": .object(Dictionary(uniqueKeysWithValues: result.practices.flatMap(\.files).map { ($0.key, JSONValue.string($0.value)) })),
        ])
        logger.info("pack written", metadata: ["run_id": "\(runID)", "practices": "\(result.practices.count)", "invitees": "\(invitees.count)"])
        return result
    }

    /// One invitee as the pack shows them: nothing but the pseudonymised id, age band, sex and evidence.
    struct Invitee {
        var practiceID: String
        var patientID: String
        var ageBand: String
        var sex: String
        /// "Label: term (code), date" lines, in the cohort's order.
        var evidence: [String]
    }

    /// Ten-year bands at the index date (18-24, then 25-34, …, 65 and over).
    static func ageBand(yearOfBirth: Int, monthOfBirth: Int?, at d: LocalDate) -> String {
        guard let dob = LocalDate(year: yearOfBirth, month: monthOfBirth ?? 7, day: 1) else { return "unknown" }
        let age = dob.completedYears(at: d)
        switch age {
        case ..<18: return "under 18"
        case 18...24: return "18-24"
        case 65...: return "65 and over"
        default:
            let lo = (age - 25) / 10 * 10 + 25
            return "\(lo)-\(lo + 9)"
        }
    }

    /// The stored evidence (run_invitations.evidence) as lines.
    static func evidence(_ json: String, labels: [String: String], order: [String]) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [String: Any]] else { return [] }
        return order.compactMap { id in
            guard let e = object[id] else { return nil }
            var line = "\(labels[id] ?? id): \(e["term"] as? String ?? "") (\(e["code"] as? String ?? ""))"
            if let date = e["date"] as? String { line += ", \(date)" }
            if let n = e["count"] as? Int, let first = e["first"] as? String, let last = e["last"] as? String {
                line += "; \(n) issued \(first) to \(last)"
            }
            if let days = e["spell_days_so_far"] as? Int, let start = e["spell_start"] as? String {
                line += "; certified unfit for \(days) days so far (since \(start))"
            }
            return line
        }
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    /// `recruit feedback import`'s columns, pre-filled; outcome, date and reason for the practice to fill.
    static func feedbackCSV(runID: Int, invitees: [Invitee]) -> String {
        var out = "practice_id,patient_id,run_id,outcome,date,reason_code,reason,channel\n"
        for i in invitees { out += "\(csvField(i.practiceID)),\(csvField(i.patientID)),\(runID),,,,,\n" }
        return out
    }

    static func mailMergeCSV(invitees: [Invitee], study: Study) -> String {
        var out = "patient_key,practice_id,study_name,reply_by,contact_line,gp_name\n"
        for i in invitees {
            out += [i.patientID, i.practiceID, study.name, study.replyBy.description, study.contact, "«GP name»"].map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The letter's fields: the study's, and mail-merge fields the practice's system fills per letter.
    static func letterFields(_ study: Study) -> [String: String] {
        ["study_name": study.name, "reply_by": study.replyBy.longDescription, "contact_line": study.contact,
         "gp_name": "«GP name»", "patient_key": "«patient_key»", "practice_id": "«practice_id»"]
    }

    static func readme(run: RunRecord, study: Study) -> String {
        """
        Pack for run \(run.runID) (\(run.cohortName) \(run.cohortVersion), index date \(run.indexDate)): \(study.name)

        One folder per practice:
          screening.html  the GP's screening sheet: print it (A4), mark each invitee invite or screen out.
          feedback.csv    the decisions and replies, for recruit feedback import: fill in outcome
                          (screened_out, invited, declined, responded, ineligible, consented, ...), date
                          (YYYY-MM-DD), for screened_out or declined a reason_code (the boxes of the screening
                          sheet), for ineligible a reason. Rows left empty are skipped and reported.
                          A screening reason in free text stays at the practice: do not write it here.
                          channel is empty for the letter; for someone who came by self-referral or a GP's
                          referral instead, add a row with channel self_referral, gp_referral or other, this
                          run's id and the reply (responded, ineligible, declined, consented, ...): with the
                          person's patient_key when they are in the practice's records, with patient_id empty
                          (one row per person) when they are not.
          mailmerge.csv   one row per invitee to write to, keyed by patient_key, the pseudonymised id.
          letter.html     the letter, with the practice's own mail-merge fields («Title», «Surname», «Address»).

        Re-identification happens at the practice only: the practice looks up each patient_key in its own
        pseudonymisation key (held by the practice, never by recruit or the research team), merges the names and
        addresses from its clinical system, and sends the letters itself. recruit holds no names or addresses.
        Write only to those the GP marked invite.

        """
    }
}

extension LocalDate {
    /// "12 January 2027".
    var longDescription: String {
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        return "\(day) \(months[month - 1]) \(year)"
    }
}
