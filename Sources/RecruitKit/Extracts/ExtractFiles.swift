import Foundation
import Postgres

/// Finding an extract's files and checking their text.
enum ExtractFiles {
    /// The file named `name` in `directory` (exact name first, else the one
    /// name that matches ignoring case).
    /// - Throws: ``RecruitError`` (refused) naming the file when it is missing.
    static func locate(_ name: String, in directory: URL, what: String) throws -> URL {
        let exact = directory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: exact.path) { return exact }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let matches = entries.filter { $0.lowercased() == name.lowercased() }
        if matches.count == 1 { return directory.appendingPathComponent(matches[0]) }
        throw RecruitError.refused("\(name): no such file in \(directory.path) (the \(what) file)")
    }

    /// Checks that a row with non-ASCII bytes is valid text for the encoding.
    /// - Throws: ``RecruitError`` (refused) naming the file and line.
    static func checkText(_ raw: UnsafeRawBufferPointer, encoding: TextEncoding, file: String, line: Int) throws {
        switch encoding {
        case .utf8:
            if let offset = TextEncoding.firstInvalidUTF8(raw) {
                throw RecruitError.refused("\(file) line \(line): not valid UTF-8 (byte \(offset + 1) of the line); is the file in another encoding? A profile can name it (encoding: Windows-1252)")
            }
        case .windows1252, .iso88591:
            if TextEncoding.containsReplacement(raw) {
                throw RecruitError.refused("\(file) line \(line): a byte that \(encoding.rawValue) does not define; is the file in another encoding?")
            }
        }
    }

    /// The facts of `extract.json`, when the extract has one.
    struct Manifest {
        var extractDate: LocalDate?
        var sourceSystem: String?
    }

    /// Reads `extract.json`.
    /// - Throws: ``RecruitError`` (refused) when it is not valid JSON, names another format, or has a bad date.
    static func readManifest(in directory: URL) throws -> Manifest? {
        let url = directory.appendingPathComponent("extract.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RecruitError.refused("extract.json: not a JSON object")
        }
        if let format = object["format"] as? String, format.hasPrefix("gp-extract/"), format != "gp-extract/1" {
            throw RecruitError.refused("extract.json: format \(format) is not supported (this recruit reads gp-extract/1)")
        }
        var manifest = Manifest(sourceSystem: object["source_system"] as? String)
        if let value = object["extract_date"] {
            guard let text = value as? String, let date = LocalDate(iso: text) else {
                throw RecruitError.refused("extract.json: extract_date must be a date written YYYY-MM-DD")
            }
            manifest.extractDate = date
        }
        return manifest
    }
}
