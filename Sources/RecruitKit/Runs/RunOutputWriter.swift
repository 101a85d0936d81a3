import Foundation
import Postgres

/// Writes a run's list and yield files and hashes them.
///
/// - `invitations.csv`: every practice's invitees (`practice_id,patient_id`,
///   then the evidence columns), by practice then patient in byte order;
/// - `practices/PRACTICE/invitations.csv`: the same rows for one practice
///   only, to send to that practice (a file for every practice evaluated,
///   header only when nobody there is invited);
/// - `yield.csv`: `practice_id,step,criterion,remaining`;
/// - `run.json` (``RunManifest``).
///
/// The bytes depend only on the evaluation, never on the run's id or time, so
/// a reproduction can compare them by SHA-256.
public enum RunOutputWriter {
    /// The list of all practices.
    public static let invitationsFile = "invitations.csv"
    public static let yieldFile = "yield.csv"
    public static let runFile = "run.json"

    /// The per-practice list's path, relative to the output folder.
    public static func practiceFile(_ practiceID: String) -> String {
        "practices/\(pathComponent(practiceID))/invitations.csv"
    }

    /// A practice id as a folder name: bytes outside `A-Za-z0-9_-` (and a
    /// leading dot) percent-encoded, so no id can name another folder.
    static func pathComponent(_ id: String) -> String {
        var out = ""
        for byte in id.utf8 {
            let c = Character(UnicodeScalar(byte))
            if (c.isASCII && (c.isLetter || c.isNumber)) || c == "_" || c == "-" {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out.isEmpty ? "%" : out
    }

    /// Writes the list and yield files into `directory` (created if needed),
    /// `invitations.csv` and `yield.csv` as the cohort engine's writer formats them.
    ///
    /// Files a previous run wrote into the same folder (named by its run.json)
    /// that this run does not write are removed, so the folder never mixes runs.
    ///
    /// - Returns: each file's SHA-256 by its path relative to `directory`.
    /// - Throws: ``RecruitError`` (environment) when a file cannot be written.
    public static func write(_ evaluation: CohortEvaluation, to directory: URL) throws -> [String: String] {
        let previous = try? RunManifest.read(from: directory.appendingPathComponent(runFile))
        var hashes: [String: String] = [:]
        hashes[invitationsFile] = try writeFile(CohortOutputWriter.invitationsCSV(evaluation), to: directory, invitationsFile)
        hashes[yieldFile] = try writeFile(CohortOutputWriter.yieldCSV(evaluation), to: directory, yieldFile)
        var byPractice: [String: [Invitation]] = [:]
        for practice in evaluation.practices { byPractice[practice.practiceID] = [] }
        for invitation in evaluation.invitations { byPractice[invitation.practiceID, default: []].append(invitation) }
        for (practice, invitations) in byPractice {
            var one = evaluation
            one.invitations = invitations
            let path = practiceFile(practice)
            hashes[path] = try writeFile(CohortOutputWriter.invitationsCSV(one), to: directory, path)
        }
        for path in previous?.outputs.keys.sorted() ?? [] where hashes[path] == nil {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(path))
        }
        return hashes
    }

    /// Writes `text` to `directory/path` atomically (as the cohort engine's
    /// writer does: a temporary file, then `rename(2)`, which also replaces a
    /// read-only file), creating folders as needed.
    ///
    /// - Returns: the file's SHA-256.
    @discardableResult
    public static func writeFile(_ text: String, to directory: URL, _ path: String) throws -> String {
        let url = directory.appendingPathComponent(path)
        let data = Data(text.utf8)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw RecruitError.environment("cannot create the folder \(url.deletingLastPathComponent().path): \(error.localizedDescription)")
        }
        try CohortOutputWriter.writeAtomically(data, to: url)
        return Hashing.sha256Hex(data)
    }

    /// The SHA-256 of each file `paths` names under `directory` (nil: missing).
    public static func hashes(of paths: [String], in directory: URL) -> [String: String?] {
        var out: [String: String?] = [:]
        for path in paths {
            out[path] = try? Hashing.sha256Hex(fileAt: directory.appendingPathComponent(path))
        }
        return out
    }
}
