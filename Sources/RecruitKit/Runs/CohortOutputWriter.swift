import Foundation

/// Writes a run's outputs: `invitations.csv` and `yield.csv`, exactly as the
/// cohort issue specifies, each written to a temporary file and renamed into
/// place, so a reader never sees half a file.
public enum CohortOutputWriter {
    /// The header of `invitations.csv`: `practice_id,patient_id`, then
    /// `first_listed` when the run's flags are known (``FirstListing``; runs
    /// recorded before sql/0020 have none), then for each inclusion criterion
    /// with records `ID_code,ID_term,ID_date` and, where it counts
    /// prescriptions, `ID_count,ID_first,ID_last`, and where it reads sickness
    /// spells, `ID_spell_start,ID_spell_end,ID_spell_days`.
    public static func invitationsHeader(_ evidence: [EvidenceSpec], firstListed: Bool = false) -> [String] {
        var columns = ["practice_id", "patient_id"]
        if firstListed { columns.append("first_listed") }
        for spec in evidence {
            columns += ["\(spec.criterionID)_code", "\(spec.criterionID)_term", "\(spec.criterionID)_date"]
            if spec.hasPrescriptions {
                columns += ["\(spec.criterionID)_count", "\(spec.criterionID)_first", "\(spec.criterionID)_last"]
            }
            if spec.hasSpell {
                columns += ["\(spec.criterionID)_spell_start", "\(spec.criterionID)_spell_end", "\(spec.criterionID)_spell_days"]
            }
        }
        return columns
    }

    /// The text of `invitations.csv`; with `firstListing`, each row says
    /// `true` when the person is listed for the first time by the cohort, else
    /// `false` (empty for a patient the flags do not hold).
    public static func invitationsCSV(_ evaluation: CohortEvaluation, firstListing: FirstListing? = nil) -> String {
        var out = csvLine(invitationsHeader(evaluation.evidence, firstListed: firstListing != nil))
        for invitation in evaluation.invitations {
            var fields = [invitation.practiceID, invitation.patientID]
            if let firstListing { fields.append(firstListing.isFirstListed(invitation).map { $0 ? "true" : "false" } ?? "") }
            for (spec, e) in zip(evaluation.evidence, invitation.evidence) {
                fields += [e.code, e.term, e.date?.description ?? ""]
                if spec.hasPrescriptions {
                    fields += [e.count.map(String.init) ?? "", e.first?.description ?? "", e.last?.description ?? ""]
                }
                if spec.hasSpell {
                    fields += [e.spellStart?.description ?? "", e.spellEnd?.description ?? "", e.spellDays.map(String.init) ?? ""]
                }
            }
            out += csvLine(fields)
        }
        return out
    }

    /// The text of `yield.csv`: `practice_id,step,criterion,remaining`.
    public static func yieldCSV(_ evaluation: CohortEvaluation) -> String {
        var out = csvLine(["practice_id", "step", "criterion", "remaining"])
        for row in evaluation.yields {
            out += csvLine([row.practiceID, String(row.step), row.criterion, String(row.remaining)])
        }
        return out
    }

    /// Writes both files into `directory` (created if missing).
    ///
    /// - Returns: each file's name and SHA-256.
    /// - Throws: ``RecruitError`` (environment) when the directory cannot be written.
    @discardableResult
    public static func write(_ evaluation: CohortEvaluation, to directory: URL) throws -> [String: String] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw RecruitError.environment("cannot create the output folder \(directory.path): \(error.localizedDescription)", underlying: error)
        }
        var hashes: [String: String] = [:]
        for (name, text) in [(RunOutputWriter.invitationsFile, invitationsCSV(evaluation)), (RunOutputWriter.yieldFile, yieldCSV(evaluation))] {
            let data = Data(text.utf8)
            try writeAtomically(data, to: directory.appendingPathComponent(name))
            hashes[name] = Hashing.sha256Hex(data)
        }
        return hashes
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw RecruitError.environment("cannot write \(url.path): \(error.localizedDescription)", underlying: error)
        }
        // rename(2) replaces the target atomically: a reader sees the old file or the new one.
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw RecruitError.environment("cannot write \(url.path): \(reason)")
        }
    }

    /// One CSV line (RFC 4180: fields with a comma, quote or line end are quoted), ending in `\n`.
    public static func csvLine(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\n"
    }
}
