import Foundation
import Postgres

/// Writes a run's list and yield files and hashes them.
///
/// - `invitations.csv`: every practice's invitees (`practice_id,patient_id`,
///   `first_listed` (``FirstListing``), then the evidence columns), by practice
///   then patient in byte order;
/// - `practices/PRACTICE/invitations.csv`: the same rows for one practice
///   only, to send to that practice (a file for every practice evaluated,
///   header only when nobody there is invited);
/// - `yield.csv`: `practice_id,step,criterion,remaining`;
/// - `run.json` (``RunManifest``).
///
/// The bytes depend only on the evaluation, never on the run's id or time, so
/// a reproduction can compare them by SHA-256.
public enum RunOutputWriter {
    /// The output files' names, declared here only.
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

    /// A run's list and yield files, rendered in memory.
    public struct Rendered: Sendable {
        /// Each file's text by its path relative to the output folder.
        public var files: [String: String]

        /// Each file's SHA-256 by path.
        public var hashes: [String: String] { files.mapValues { Hashing.sha256Hex($0) } }

        /// Writes every file into `directory` (created if needed). Files a
        /// previous run wrote into the same folder (named by its run.json) that
        /// this one does not write are removed, so the folder never mixes runs.
        ///
        /// - Throws: ``RecruitError`` (environment) when a file cannot be written.
        public func write(to directory: URL) throws {
            let previous = try? RunManifest.read(from: directory.appendingPathComponent(runFile))
            for (path, text) in files.sorted(by: { $0.key < $1.key }) {
                try writeFile(text, to: directory, path)
            }
            for path in previous?.outputs.keys.sorted() ?? [] where files[path] == nil {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(path))
            }
        }
    }

    /// Renders `invitations.csv` and `yield.csv` as the cohort engine's writer
    /// formats them, and one `practices/PRACTICE/invitations.csv` per practice;
    /// the lists carry `first_listed` when `firstListing` is given (nil only
    /// for a reproduction of a run recorded before the flags existed).
    public static func render(_ evaluation: CohortEvaluation, firstListing: FirstListing?) -> Rendered {
        var files = [invitationsFile: CohortOutputWriter.invitationsCSV(evaluation, firstListing: firstListing),
                     yieldFile: CohortOutputWriter.yieldCSV(evaluation)]
        var byPractice: [String: [Invitation]] = [:]
        for practice in evaluation.practices { byPractice[practice.practiceID] = [] }
        for invitation in evaluation.invitations { byPractice[invitation.practiceID, default: []].append(invitation) }
        for (practice, invitations) in byPractice {
            var one = evaluation
            one.invitations = invitations
            files[practiceFile(practice)] = CohortOutputWriter.invitationsCSV(one, firstListing: firstListing)
        }
        return Rendered(files: files)
    }

    /// Renders and writes the files into `directory`.
    ///
    /// - Returns: each file's SHA-256 by its path relative to `directory`.
    @discardableResult
    public static func write(_ evaluation: CohortEvaluation, firstListing: FirstListing?, to directory: URL) throws -> [String: String] {
        let rendered = render(evaluation, firstListing: firstListing)
        try rendered.write(to: directory)
        return rendered.hashes
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
            throw RecruitError.environment("cannot create the folder \(url.deletingLastPathComponent().path): \(error.localizedDescription)", underlying: error)
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
