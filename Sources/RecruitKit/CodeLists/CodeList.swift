import Foundation

/// The coding systems a code list may hold codes of.
public enum CodeSystem: String, Codable, CaseIterable, Sendable, Comparable {
    case read2, ctv3, snomed, dmd, bnf, icd10

    public static func < (a: CodeSystem, b: CodeSystem) -> Bool { a.rawValue < b.rawValue }
}

/// One row of a code list file.
public struct CodeListEntry: Hashable, Sendable, Codable {
    public var code: String
    public var term: String
    public var system: CodeSystem
    /// 1-based line in the file it was read from (0 when built in memory).
    public var line: Int

    public init(code: String, term: String, system: CodeSystem, line: Int = 0) {
        self.code = code
        self.term = term
        self.system = system
        self.line = line
    }
}

/// One code list as read from `DIR/NAME.csv` (columns `code,term,code_system`,
/// extra columns kept in the file but not here).
///
/// This is the file as written: no manifest rules, no lock check. A run uses
/// ``CodeListLibrary/resolve(names:connection:verifyingLock:)`` instead, which
/// checks the lock, applies the rules and gives the expanded set and its hash.
public struct CodeList: Sendable {
    public var name: String
    /// SHA-256 of the file's bytes.
    public var sha256: String
    public var entries: [CodeListEntry]

    public init(name: String, sha256: String, entries: [CodeListEntry]) {
        self.name = name
        self.sha256 = sha256
        self.entries = entries
    }

    /// The (system, code) pairs "in list X" matches on, before any rule expansion.
    public var codes: Set<SystemCode> { Set(entries.map { SystemCode(system: $0.system, code: $0.code) }) }

    /// Reads `directory/name.csv`.
    ///
    /// - Throws: ``RecruitError`` (refused) naming the file and line when the
    ///   file is missing, lacks a required column or names an unknown code system.
    public static func read(name: String, in directory: URL) throws -> CodeList {
        let url = directory.appendingPathComponent("\(name).csv")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RecruitError.refused("code list \(name): \(url.path) does not exist")
        }
        let data = try Data(contentsOf: url)
        let reader = CSVReader(bytes: [UInt8](data))
        guard try reader.next() else { throw RecruitError.refused("\(url.path): empty file, expected a header code,term,code_system") }
        let header = reader.strings.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let codeIndex = header.firstIndex(of: "code"), let systemIndex = header.firstIndex(of: "code_system") else {
            throw RecruitError.refused("\(url.path): line 1: the header needs the columns code and code_system (found \(header.joined(separator: ",")))")
        }
        let termIndex = header.firstIndex(of: "term")
        var entries: [CodeListEntry] = []
        while try reader.next() {
            if let problem = reader.malformed { throw RecruitError.refused("\(url.path): line \(reader.lineNumber): \(problem)") }
            if reader.fieldCount == 1 && reader.string(0).isEmpty { continue }
            let systemText = reader.fieldCount > systemIndex ? reader.string(systemIndex) : ""
            guard let system = CodeSystem(rawValue: systemText) else {
                throw RecruitError.refused("\(url.path): line \(reader.lineNumber): unknown code_system \"\(systemText)\" (expected one of \(CodeSystem.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            entries.append(CodeListEntry(code: reader.fieldCount > codeIndex ? reader.string(codeIndex) : "",
                                         term: termIndex.flatMap { reader.fieldCount > $0 ? reader.string($0) : nil } ?? "",
                                         system: system, line: reader.lineNumber))
        }
        return CodeList(name: name, sha256: Hashing.sha256Hex(data), entries: entries)
    }
}

/// A code within its coding system: `9D11.` as read2 is not `9D11.` as ctv3.
public struct SystemCode: Hashable, Sendable, Codable, Comparable {
    public var system: CodeSystem
    public var code: String

    public init(system: CodeSystem, code: String) {
        self.system = system
        self.code = code
    }

    /// By system, then code bytes (C collation).
    public static func < (a: SystemCode, b: SystemCode) -> Bool {
        if a.system != b.system { return a.system < b.system }
        return a.code.utf8.lexicographicallyPrecedes(b.code.utf8)
    }
}
