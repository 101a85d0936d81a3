// libFuzzer target: feedback and contact-history files: ContactFile (the header
// and row reader of `recruit feedback import` and `recruit history import`)
// and the checks each importer makes of a row before anything reaches the
// database. Those checks are written inline in the importers' COPY loops
// (FeedbackImporter and HistoryImporter.importLocked, which need a
// connection); they are repeated here in the same order with the same
// helpers (ContactFile.isPracticeId and isPatientId, ContactOutcome,
// IneligibleReason, LocalDate(iso:)). Every input is read three ways: as a
// feedback file, an invitations history file and a screened-out history file.
//
// Properties:
// - no crash, hang or out-of-bounds access;
// - a header is refused only with an ImportRefused whose problems are about
//   the header line (or the file as a whole, when it is empty);
// - every record after the header is a blank line (skipped), a row, or a
//   problem on its line: rows + problems = records, lines increasing, each a
//   line of the file;
// - a row the checks accept has values valid by independent rules (ids,
//   a positive run id, a known outcome and reason, a date that is a real day
//   written YYYY-MM-DD, as the loader's own date parser reads it); a row they
//   refuse has a problem on its line naming one of its columns;
// - the refusal keeps the first 100 problems in line order and counts them all.
import Foundation
import Postgres
@testable import RecruitKit

let scratch: URL = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return URL(fileURLWithPath: dir).appendingPathComponent("recruit-fuzz-feedback-\(getpid()).csv")
}()

enum Kind: CaseIterable { case feedback, invitations, screenedOut }

func columns(_ kind: Kind) -> (required: [String], optional: [String]) {
    switch kind {
    case .feedback: return (FeedbackImporter.requiredColumns, FeedbackImporter.optionalColumns)
    case .invitations: return (HistoryImporter.Kind.invitations.requiredColumns, HistoryImporter.Kind.invitations.optionalColumns)
    case .screenedOut: return (HistoryImporter.Kind.screenedOut.requiredColumns, HistoryImporter.Kind.screenedOut.optionalColumns)
    }
}

func isAlnum(_ c: UInt8) -> Bool { (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) }

/// A date the loader's ISO parser reads, and that LocalDate writes back as it was written.
func isISODate(_ s: String, _ date: LocalDate) -> Bool {
    var s = s
    let parsed = s.withUTF8 { DateFormat.iso.parse(UnsafeRawBufferPointer($0)) }
    return parsed.map { Int($0) + 10_957 } == date.dayNumber && date.description == s
}

/// The importer's row checks: the problems (with their columns) of one row.
func check(_ row: ContactFile.Row, _ kind: Kind, _ problems: inout ImportProblems) -> Bool {
    let line = row.line
    var (practice, patient, ok) = ContactFile.checkIDs(row, &problems)
    var date: LocalDate?
    var dateText = ""
    switch kind {
    case .feedback:
        let runText = row["run_id"] ?? ""
        let runId = runText.utf8.allSatisfy({ (48...57).contains($0) }) && runText.utf8.count <= 18 ? Int(runText) : nil
        if runId == nil || runId == 0 {
            problems.add(line: line, column: "run_id", message: "not a run id (a positive whole number)"); ok = false
        }
        let outcome = ContactOutcome(rawValue: row["outcome"] ?? "")
        if outcome == nil { problems.add(line: line, column: "outcome", message: "not one of \(ContactOutcome.allowedList)"); ok = false }
        dateText = row["date"] ?? ""
        date = LocalDate(iso: dateText)
        if date == nil { problems.add(line: line, column: "date", message: "not a date (YYYY-MM-DD)"); ok = false }
        let reasonText = row["reason"] ?? ""
        switch outcome {
        case .ineligible?:
            if !reasonText.isEmpty && IneligibleReason(rawValue: reasonText) == nil {
                problems.add(line: line, column: "reason", message: "not a reason for ineligible"); ok = false
            }
        case .screenedOut?, nil: break
        default:
            if !reasonText.isEmpty { problems.add(line: line, column: "reason", message: "a reason only for ineligible"); ok = false }
        }
        if ok {
            // Independent rules for what the importer would COPY.
            guard let runId, runId > 0, String(runId) == String(runText.drop(while: { $0 == "0" })) else { fatalError("line \(line): accepted a bad run id") }
            guard let outcome, ContactOutcome.allCases.contains(outcome) else { fatalError("line \(line): accepted a bad outcome") }
            if outcome != .ineligible && outcome != .screenedOut && !reasonText.isEmpty { fatalError("line \(line): accepted a reason") }
        }
    case .invitations, .screenedOut:
        if kind == .screenedOut {
            let text = row["outcome"] ?? ""
            let outcome = text.isEmpty ? .screenedOut : ContactOutcome(rawValue: text).flatMap {
                ContactOutcome.historyOutcomes.contains($0) ? $0 : nil
            }
            if outcome == nil { problems.add(line: line, column: "outcome", message: "not a history outcome"); ok = false }
        }
        let dateColumn = kind == .invitations ? "index_date" : "date"
        dateText = row[dateColumn] ?? ""
        if !(kind == .screenedOut && dateText.isEmpty) {
            date = LocalDate(iso: dateText)
            if date == nil { problems.add(line: line, column: dateColumn, message: "not a date (YYYY-MM-DD)"); ok = false }
        }
    }
    if ok {
        let p = Array(practice.utf8), q = Array(patient.utf8)
        if !((1...16).contains(p.count) && p.allSatisfy(isAlnum)) { fatalError("line \(line): accepted a bad practice id") }
        if !((1...64).contains(q.count) && q.allSatisfy({ isAlnum($0) || $0 == 95 || $0 == 45 })) {
            fatalError("line \(line): accepted a bad patient id")
        }
        if let date, !isISODate(dateText, date) { fatalError("line \(line): accepted a date the loader's parser reads otherwise") }
    }
    return ok
}

func read(_ kind: Kind, _ bytes: [UInt8], lines: Int) {
    let (required, optional) = columns(kind)
    let file: ContactFile
    do {
        file = try ContactFile(url: scratch, required: required, optional: optional)
    } catch let refused as ImportRefused {
        if refused.problems.isEmpty { fatalError("\(kind): a header refused without a problem") }
        for p in refused.problems where p.line != nil && p.line != 1 {
            fatalError("\(kind): a header problem on line \(p.line!): \(p.message)")
        }
        return
    } catch {
        fatalError("\(kind): opening threw something else than an ImportRefused: \(error)")
    }
    // The records after the header, counted by a second reader.
    let counter = CSVReader(bytes: bytes)
    var records = 0
    do {
        _ = try counter.next()
        while try counter.next() {
            if !(counter.fieldCount == 1 && counter.withField(0, { $0.isEmpty })) { records += 1 }
        }
    } catch {
        fatalError("counting records threw: \(error)")
    }
    let known = Set(required + optional)
    var problems = ImportProblems()
    var rows = 0
    var skipped = 0   // records the reader refused (malformed CSV, wrong number of fields): one problem each
    var lastLine = 1
    do {
        while true {
            let before = problems.count
            let next = try file.next(problems: &problems)
            skipped += problems.count - before
            guard let row = next else { break }
            rows += 1
            if row.line <= lastLine || row.line > lines { fatalError("\(kind): a row at line \(row.line) after line \(lastLine), in \(lines) lines") }
            lastLine = row.line
            var mine = ImportProblems()
            let ok = check(row, kind, &mine)
            if ok != mine.isEmpty { fatalError("\(kind): line \(row.line) refused without a problem, or accepted with one") }
            for p in mine.items {
                guard p.line == row.line, let c = p.column, known.contains(c) else {
                    fatalError("\(kind): a row problem not located on its line and column: \(p)")
                }
                problems.add(p)
            }
        }
    } catch {
        fatalError("\(kind): reading rows threw: \(error)")
    }
    if rows + skipped != records { fatalError("\(kind): \(records) records, but \(rows) rows and \(skipped) refused by the reader") }
    let refusal = problems.refusal(file: "fuzz.csv")
    if refusal.problemCount != problems.count || refusal.problems.count != min(problems.count, ImportRefused.keptProblems) {
        fatalError("\(kind): the refusal keeps \(refusal.problems.count) of \(refusal.problemCount) problems, counted \(problems.count)")
    }
    let order = refusal.problems.map { $0.line ?? 0 }
    if order != order.sorted() { fatalError("\(kind): the refusal's problems are not in line order") }
    for p in refusal.problems {
        guard let l = p.line, l >= 2, l <= lines else { fatalError("\(kind): a problem at line \(p.line.map(String.init) ?? "nil") of \(lines)") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFeedbackCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard FileManager.default.createFile(atPath: scratch.path, contents: Data(bytes)) else { fatalError("cannot write the scratch file") }
    let lines = bytes.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
    for kind in Kind.allCases { read(kind, bytes, lines: lines) }
    return 0
}
