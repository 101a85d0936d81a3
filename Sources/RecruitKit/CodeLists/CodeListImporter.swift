import Foundation
import Logging

/// `recruit codelists import`: replaces one coding system's codes of a list
/// with those of a published file (an OpenCodelists download, a GM SDE or
/// other `code,term` file), cleaning known defects on the way and recording
/// the source, the choices and every cleaning in the manifest, then
/// rewriting the lock.
///
/// Cleaning (each reported with counts and examples):
/// - spaces and non-breaking spaces around codes and terms are removed;
/// - rows with an empty code are dropped;
/// - Read v2: a 7-character code (5-character code + 2-character term id) or
///   a 9-character one (term id doubled) is cut to its five characters, and a
///   code written without its dot padding (`9Nu0`) is padded (`9Nu0.`); CTV3
///   codes shorter than five characters are padded the same way;
/// - codes repeated (several terms per code, or after the cuts above) are
///   merged into one row, keeping the Read v2 preferred term (term id `00`)
///   where there is one, else the first.
///
/// Choices: `--where COLUMN=VALUE` selects rows; `--drop CODE[=REASON]` leaves
/// a code out (Read v2: with its descendants), and the codes it removed are
/// listed in the manifest.
public struct CodeListImporter {
    /// What to import.
    public struct Options: Sendable {
        public var name: String
        public var system: CodeSystem
        /// The published file; nil with `empty` for a system with no codes.
        public var file: URL?
        /// Record the system with no codes (there is no published list).
        public var empty = false
        public var source: CodeListManifest.Source?
        public var version: String?
        public var codeColumn: String?
        public var termColumn: String?
        /// Rows kept: those where each COLUMN equals VALUE.
        public var filters: [(column: String, value: String)] = []
        /// Codes left out (Read v2: with descendants), with a reason.
        public var drops: [(code: String, reason: String?)] = []
        /// Replaces the system's notes when given.
        public var notes: [String]?
        /// Replaces the list's description when given.
        public var description: String?
        public var status: CodeListManifest.Status = .draft
        public var reviewer: String?
        public var reviewedOn: String?
        /// Report only; write nothing.
        public var dryRun = false

        public init(name: String, system: CodeSystem, file: URL?) {
            self.name = name
            self.system = system
            self.file = file
        }
    }

    /// What an import did.
    public struct Result: Sendable, Encodable {
        public var name: String
        public var system: CodeSystem
        public var written: Bool
        public var created: Bool
        public var imported: CodeListManifest.Imported
        public var diff: CodeListDiff
        public var listSHA256: String
    }

    public let directory: URL
    public let logger: Logger

    public init(directory: URL, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    /// Column names an OpenCodelists or similar download may hold the code in, per system.
    public static let codeColumnCandidates: [CodeSystem: [String]] = [
        .read2: ["code", "readcode", "read_code", "readv2", "read2", "read_v2_code", "readv2code", "medcode_read"],
        .ctv3: ["code", "ctv3id", "ctv3_id", "ctv3code", "ctv3_code", "ctv3"],
        .snomed: ["code", "snomedcode", "snomed_code", "snomedctcode", "conceptid", "concept_id", "snomed_id", "id"],
        .dmd: ["code", "dmd_id", "dmdid", "dmd_code", "dmdcode", "id"],
        .bnf: ["code", "bnf_code", "bnfcode", "bnf_presentation_code"],
        .icd10: ["code", "icd10", "icd10code", "icd10_code", "icd"],
    ]

    /// Column names a download may hold the term in.
    public static let termColumnCandidates = [
        "term", "description", "dmd_name", "name", "desc", "ctv3preferredtermdesc", "ctv3_description",
        "snomeddescription", "snomed_description", "readterm", "read_term", "productname", "fully_specified_name",
    ]

    /// Imports, writes the list, the manifest and the lock (unless a dry run).
    ///
    /// - Throws: ``RecruitError`` (refused, nothing written) when the file
    ///   cannot be read, no code column is found, a code is invalid after
    ///   cleaning, a `--drop` matches nothing, no row is selected, or the
    ///   list or manifest was edited without updating the lock.
    public func run(_ options: Options) throws -> Result {
        guard CodeListLibrary.isValidName(options.name) else {
            throw RecruitError.refused("\"\(options.name)\" is not a valid code-list name")
        }
        // A dry run into a folder that does not exist yet creates nothing.
        let folderExists = FileManager.default.fileExists(atPath: directory.path)
        if !folderExists && !options.dryRun {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let library: CodeListLibrary? = folderExists || !options.dryRun ? try CodeListLibrary(directory: directory) : nil
        let listURL = directory.appendingPathComponent("\(options.name).csv")
        let exists = FileManager.default.fileExists(atPath: listURL.path)

        // Never launder a hand edit: what this import rewrites must match the lock.
        if let library, library.lock != nil {
            let problems = try library.lockMismatches(names: exists ? [options.name] : [])
            if !problems.isEmpty {
                throw RecruitError.refused("not importing: files this import would rewrite were edited without updating the lock:\n" +
                                           problems.map { "  \($0)" }.joined(separator: "\n"))
            }
        }
        let manifestProblems = library?.manifestProblems ?? []
        if !manifestProblems.filter({ $0.severity == .error }).isEmpty {
            throw RecruitError.refused("not importing: \(CodeListManifest.fileName) has problems:\n" +
                                       manifestProblems.map { "  \($0)" }.joined(separator: "\n"))
        }
        var list = exists ? try CodeListFile.read(listURL) : CodeListFile(name: options.name)
        let parseErrors = list.problems.filter { $0.severity == .error }
        if !parseErrors.isEmpty {
            throw RecruitError.refused("not importing: \(list.fileName) has problems:\n" + parseErrors.map { "  \($0)" }.joined(separator: "\n"))
        }

        let (rows, imported) = try readSource(options)
        let oldRows = list.rows
        list.rows = list.rows.filter { $0.system != options.system }
            + rows.map { CodeListFile.Row(code: $0.code, term: $0.term, system: options.system) }
        let text = list.csvText()
        let newFile = CodeListFile.parse(Data(text.utf8), name: options.name)
        let diff = CodeListDiff.compare(name: options.name, old: oldRows, new: newFile.rows,
                                        against: exists ? "the list before this import" : "no list (new)")

        var manifest = library?.manifest ?? CodeListManifest()
        var entry = manifest.lists[options.name] ?? CodeListManifest.ListEntry()
        if let d = options.description { entry.description = d }
        let previous = entry.systems[options.system]
        var systemEntry = CodeListManifest.SystemEntry()
        systemEntry.source = options.source ?? previous?.source
            ?? CodeListManifest.Source(description: "file \(imported.file) (no source given)")
        systemEntry.version = options.version ?? (options.empty ? nil : "file-sha256:\(imported.sha256.prefix(12))")
        systemEntry.status = options.status
        if options.status == .reviewed {
            guard let reviewer = options.reviewer, let date = options.reviewedOn else {
                throw RecruitError.refused("a reviewed list needs its reviewer and review date", subject: .init(.status, "reviewed"),
                                            remedy: .init(verb: .give, inputs: [.reviewer, .reviewedOn]))
            }
            systemEntry.reviewer = reviewer
            systemEntry.reviewedOn = date
        }
        systemEntry.notes = options.notes ?? previous?.notes ?? []
        systemEntry.rules = previous?.rules ?? []
        systemEntry.imported = options.empty ? nil : imported
        entry.systems[options.system] = systemEntry
        manifest.lists[options.name] = entry
        let manifestText = try manifest.yamlText()

        var written = false
        if !options.dryRun {
            try Self.write(text, to: listURL)
            let manifestURL = directory.appendingPathComponent(CodeListManifest.fileName)
            try Self.write(manifestText, to: manifestURL)
            var lock = library?.lock ?? CodeListLock()
            lock.hashes[list.fileName] = newFile.sha256
            lock.hashes[CodeListManifest.fileName] = Hashing.sha256Hex(manifestText)
            try Self.write(lock.text, to: directory.appendingPathComponent(CodeListLock.fileName))
            written = true
            logger.info("code list imported", metadata: [
                "codelist": "\(options.name)", "code_system": "\(options.system.rawValue)",
                "codes": "\(imported.codes)", "added": "\(diff.added.count)", "removed": "\(diff.removed.count)",
            ])
        }
        return Result(name: options.name, system: options.system, written: written, created: !exists,
                      imported: imported, diff: diff, listSHA256: newFile.sha256)
    }

    /// Writes through a temporary file and a rename, so a reader never sees half a file.
    static func write(_ text: String, to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        do {
            try Data(text.utf8).write(to: temp)
            // rename(2) replaces the target atomically.
            guard rename(temp.path, url.path) == 0 else {
                throw RecruitError.environment("cannot write \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch let error as RecruitError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw RecruitError.environment("cannot write \(url.path): \(error.localizedDescription)", underlying: error)
        }
    }

    // MARK: Reading and cleaning

    struct CleanRow {
        var code: String
        var term: String
        var line: Int
        var termID: String?
    }

    /// Reads, filters and cleans the source; returns the rows to write and the record of what was done.
    func readSource(_ options: Options) throws -> ([(code: String, term: String)], CodeListManifest.Imported) {
        if options.empty {
            guard options.file == nil else { throw RecruitError.refused("a system with no codes is imported from no file", subject: .init(.emptySystem)) }
            guard options.drops.isEmpty, options.filters.isEmpty else {
                throw RecruitError.refused("a system with no codes has no rows to filter or codes to drop", subject: .init(.emptySystem))
            }
            return ([], CodeListManifest.Imported(file: "(none)", sha256: "", rowsRead: 0, rowsSelected: 0, codeColumn: "",
                                                  termColumn: nil, filters: [], codes: 0, cleaning: [], dropped: []))
        }
        guard let url = options.file else { throw RecruitError.refused("no file to import", remedy: .init(verb: .give, inputs: [.importFile], alternative: .emptySystem)) }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecruitError.refused("\(url.path): cannot read the file")
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw RecruitError.refused("\(url.lastPathComponent): not valid UTF-8")
        }
        let fileName = url.lastPathComponent
        let firstLine = data.prefix { $0 != 10 }
        let tabbed = firstLine.contains(9) && !firstLine.contains(UInt8(ascii: ","))
        let reader = CSVReader(bytes: [UInt8](data), options: tabbed ? .init(delimiter: 9, quote: nil) : .init())
        guard try reader.next() else { throw RecruitError.refused("\(fileName): empty file") }
        let header = reader.strings.map { $0.trimmingCharacters(in: .whitespaces) }
        let lower = header.map { $0.lowercased() }
        func column(_ wanted: String, _ what: RecruitError.Input) throws -> Int {
            guard let i = lower.firstIndex(of: wanted.lowercased()) else {
                throw RecruitError.refused("\(fileName): line 1: no column \(wanted) (columns: \(header.joined(separator: ", ")))", subject: .init(what, wanted))
            }
            return i
        }
        let codeIndex: Int
        if let wanted = options.codeColumn {
            codeIndex = try column(wanted, .codeColumn)
        } else if let i = (Self.codeColumnCandidates[options.system] ?? ["code"]).lazy.compactMap({ lower.firstIndex(of: $0) }).first {
            codeIndex = i
        } else {
            throw RecruitError.refused("\(fileName): line 1: no code column found for \(options.system.rawValue) (columns: \(header.joined(separator: ", ")))",
                                       remedy: .give(.codeColumn))
        }
        let termIndex: Int? = try options.termColumn.map { try column($0, .termColumn) }
            ?? Self.termColumnCandidates.lazy.compactMap { lower.firstIndex(of: $0) }.first { $0 != codeIndex }
        let filterIndexes = try options.filters.map { (try column($0.column, .filter), $0.value) }

        var rowsRead = 0
        var selected: [CleanRow] = []
        var trimmedCodes: [String] = [], trimmedTerms = 0, blank: [Int] = []
        var cut7: [String] = [], cut9: [String] = [], padded: [String] = []
        var malformed: [String] = []
        while try reader.next() {
            let line = reader.lineNumber
            if reader.fieldCount == 1 && reader.string(0).isEmpty { continue }
            rowsRead += 1
            if let problem = reader.malformed { malformed.append("line \(line): \(problem)"); continue }
            func field(_ i: Int) -> String { i < reader.fieldCount ? reader.string(i) : "" }
            guard filterIndexes.allSatisfy({ field($0.0).trimmingCharacters(in: .whitespaces) == $0.1 }) else { continue }
            let rawCode = field(codeIndex)
            var code = Self.trim(rawCode)
            if code != rawCode && !code.isEmpty { trimmedCodes.append("line \(line) \(Self.visible(rawCode)) → \(code)") }
            let rawTerm = termIndex.map(field) ?? ""
            let term = Self.trim(rawTerm)
            if term != rawTerm { trimmedTerms += 1 }
            if code.isEmpty { blank.append(line); continue }
            var termID: String?
            if options.system == .read2 || options.system == .ctv3 {
                let chars = Array(code)
                if options.system == .read2 && chars.count == 7 && chars[5...].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    termID = String(chars[5...])
                    cut7.append("line \(line) \(code) → \(String(chars[..<5]))")
                    code = String(chars[..<5])
                } else if options.system == .read2 && chars.count == 9 && chars[5...].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    termID = String(chars[5..<7])
                    cut9.append("line \(line) \(code) → \(String(chars[..<5]))")
                    code = String(chars[..<5])
                } else if (1..<5).contains(chars.count) && chars.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == ".") }) {
                    let p = code + String(repeating: ".", count: 5 - chars.count)
                    padded.append("line \(line) \(code) → \(p)")
                    code = p
                }
            }
            selected.append(CleanRow(code: code, term: term, line: line, termID: termID))
        }
        if !malformed.isEmpty {
            throw RecruitError.refused("\(fileName): \(malformed.count) malformed row(s):\n" + malformed.prefix(20).map { "  \($0)" }.joined(separator: "\n"))
        }
        let rowsSelected = selected.count + blank.count

        // Drops.
        var dropped: [CodeListManifest.Drop] = []
        for drop in options.drops {
            if let problem = options.system.problem(with: drop.code) {
                throw RecruitError.refused(problem, subject: .init(.drop, drop.code))
            }
            let matches: (String) -> Bool = options.system.hasHierarchyInCode
                ? { ReadV2Hierarchy.isSelfOrDescendant($0, of: drop.code) } : { $0 == drop.code }
            var removed: [String] = []
            var seen = Set<String>()
            for row in selected where matches(row.code) && seen.insert(row.code).inserted {
                removed.append(row.term.isEmpty ? row.code : "\(row.code) \(row.term)")
            }
            guard !removed.isEmpty else {
                throw RecruitError.refused("matches no code in \(fileName) (a typo?)", subject: .init(.drop, drop.code))
            }
            selected.removeAll { matches($0.code) }
            dropped.append(CodeListManifest.Drop(code: drop.code, reason: drop.reason, removed: removed))
        }

        // Duplicates: one row per code, the preferred Read v2 term (term id 00) first.
        var order: [String] = []
        var byCode: [String: [CleanRow]] = [:]
        for row in selected {
            if byCode[row.code] == nil { order.append(row.code) }
            byCode[row.code, default: []].append(row)
        }
        var merged: [String] = []
        var result: [(code: String, term: String)] = []
        var invalid: [String] = []
        for code in order {
            let group = byCode[code]!
            let chosen = group.first { $0.termID == "00" } ?? group[0]
            if group.count > 1 {
                let lines = group.prefix(3).map { String($0.line) }.joined(separator: ", ") + (group.count > 3 ? ", …" : "")
                merged.append("\(code) on \(group.count) rows, lines \(lines) (kept the term on line \(chosen.line))")
            }
            if let problem = options.system.problem(with: code) {
                invalid.append("\(fileName): line \(group[0].line): \(problem)")
            }
            result.append((code, chosen.term))
        }
        if !invalid.isEmpty {
            throw RecruitError.refused("\(fileName): \(invalid.count) invalid \(options.system.displayName) code(s) after cleaning; nothing was written:\n"
                                       + invalid.prefix(50).map { "  \($0)" }.joined(separator: "\n")
                                       + (invalid.count > 50 ? "\n  …" : ""))
        }
        guard !result.isEmpty else {
            throw RecruitError.refused("\(fileName): no codes selected (\(rowsRead) rows read)",
                                       remedy: .init(verb: .check, inputs: [.filter, .drop, .codeColumn], alternative: .emptySystem))
        }

        var cleaning: [String] = []
        func report(_ items: [String], _ what: String) {
            guard !items.isEmpty else { return }
            let examples = items.prefix(5).joined(separator: "; ")
            cleaning.append("\(what): \(items.count) (\(examples)\(items.count > 5 ? "; …" : ""))")
        }
        report(trimmedCodes, "codes with spaces or non-breaking spaces around them, trimmed")
        if trimmedTerms > 0 { cleaning.append("terms with spaces or non-breaking spaces around them, trimmed: \(trimmedTerms)") }
        report(blank.map { "line \($0)" }, "rows with an empty code, dropped")
        report(cut7, "7-character Read v2 codes (code + term id) cut to the 5-character code")
        report(cut9, "9-character Read v2 codes (code + doubled term id) cut to the 5-character code")
        report(padded, "codes written without their dot padding, padded to 5 characters")
        report(merged, "codes on several rows (synonyms or repeats), merged into one row")

        let filters = options.filters.map { "\($0.column)=\($0.value)" }
        let imported = CodeListManifest.Imported(
            file: fileName, sha256: Hashing.sha256Hex(data), rowsRead: rowsRead, rowsSelected: rowsSelected,
            codeColumn: header[codeIndex], termColumn: termIndex.map { header[$0] }, filters: filters,
            codes: result.count, cleaning: cleaning, dropped: dropped)
        return (result, imported)
    }

    /// Removes whitespace, non-breaking spaces and zero-width characters at both ends.
    static func trim(_ s: String) -> String {
        s.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\u{00A0}\u{200B}\u{FEFF}")))
    }

    /// A code with invisible characters shown (`301000119104<U+00A0>`).
    static func visible(_ s: String) -> String {
        s.unicodeScalars.map { $0.isASCII && $0.value >= 33 && $0.value < 127 ? String($0) : String(format: "<U+%04X>", $0.value) }.joined()
    }
}
