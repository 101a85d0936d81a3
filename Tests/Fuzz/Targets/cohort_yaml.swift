// libFuzzer target: cohort definitions (CohortParser.parse(data:file:), the
// YAML of cohorts/*.yaml), then what `cohort check`, `explain` and `sql` do
// with a file that parses: CohortValidator.resolve, CohortExplainer.text and
// CohortSQLCompiler.compile. No database: the code lists are made in memory
// (a list named `missing…` does not exist, one named `broken…` cannot be read).
//
// Properties:
// - no crash, hang or out-of-bounds access, whatever the bytes;
// - a file is refused only with a CohortDefinitionError listing at least one
//   problem, each located in the input: file `fuzz`, a line of the input and
//   a column of that line (or just past its end), as libyaml counts them (the
//   end of a text without a final line end is on a line of its own);
// - a definition that parses resolves, or is refused the same way (located
//   problems); a resolved cohort has one criterion per criterion written;
// - a resolved cohort is explained (the text names every criterion's id) and
//   compiles, for runs and for steps, into a statement with one note per bound
//   value, whose placeholders are exactly $1…$n of those values.
import Foundation
@testable import Postgres
@testable import RecruitKit

struct Lists: CohortCodeListSource {
    var summary: String { "(fuzz lists)" }
    func codeList(named name: String) throws -> ResolvedCodeList? {
        if name.hasPrefix("missing") { return nil }
        if name.hasPrefix("broken") { throw RecruitError.refused("\(name).csv line 2: not a valid code") }
        let codes: Set<SystemCode> = [SystemCode(system: .read2, code: "N245."), SystemCode(system: .snomed, code: "279039007"),
                                      SystemCode(system: .dmd, code: "42010211000001106"), SystemCode(system: .ctv3, code: name)]
        return ResolvedCodeList(name: name, sha256: "0", codes: codes, terms: [SystemCode(system: .read2, code: "N245."): "Pain in limb"])
    }
}

/// The length (in Unicode scalars) of each line, as libyaml counts lines and columns.
func lineLengths(_ text: String) -> [Int] {
    var lengths = [0]
    var previousCR = false
    for s in text.unicodeScalars {
        switch s {
        case "\n" where previousCR: break
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}": lengths.append(0)
        default: lengths[lengths.count - 1] += 1
        }
        previousCR = s == "\r"
    }
    return lengths
}

func checkLocated(_ error: CohortDefinitionError, _ lengths: [Int], _ stage: String) {
    if error.diagnostics.isEmpty { fatalError("\(stage): a refusal without a problem") }
    for d in error.diagnostics {
        let l = d.location
        // libyaml puts the end of a text without a final line end on a line of its own.
        let atEnd = l.line == lengths.count + 1 && lengths.last! > 0 && l.column == 1
        guard l.file == "fuzz", l.line >= 1, atEnd || l.line <= lengths.count, l.column >= 1,
              atEnd || l.column <= lengths[l.line - 1] + 1 else {
            fatalError("\(stage): a problem at \(l.line):\(l.column), outside the \(lengths.count)-line input: \(d.message)")
        }
    }
}

func checkStatement(_ q: CompiledCohortQuery, _ what: String) {
    let sql = q.statement.sql
    if q.statement.notes.count != sql.binds.count { fatalError("\(what): \(q.statement.notes.count) notes for \(sql.binds.count) values") }
    var used = Set<Int>()
    for f in sql.fragments {
        if case .bind(let i) = f {
            guard (0..<sql.binds.count).contains(i) else { fatalError("\(what): a placeholder with no value") }
            used.insert(i)
        }
    }
    if used.count != sql.binds.count { fatalError("\(what): a value bound but not used") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCohortYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let lengths = lineLengths(String(decoding: bytes, as: UTF8.self))
    let definition: CohortDefinition
    do {
        definition = try CohortParser.parse(data: bytes, file: "fuzz")
    } catch let error as CohortDefinitionError {
        checkLocated(error, lengths, "parse")
        return 0
    } catch {
        fatalError("parse threw something else than a CohortDefinitionError: \(error)")
    }
    let resolved: ResolvedCohort
    do {
        resolved = try CohortValidator.resolve(definition, codeLists: Lists())
    } catch let error as CohortDefinitionError {
        checkLocated(error, lengths, "resolve")
        return 0
    } catch {
        fatalError("resolve threw something else than a CohortDefinitionError: \(error)")
    }
    if resolved.criteria.count != definition.criteria.count { fatalError("resolve lost a criterion") }
    let text = CohortExplainer.text(resolved)
    for c in resolved.criteria where !text.contains("[\(c.id)]") {
        fatalError("the explanation does not name criterion \(c.id)")
    }
    let context = CohortQueryContext(indexDate: LocalDate(iso: "2026-11-23"), practices: ["A81001", "B82002"],
                                     historyAsOf: "2026-11-23 12:00:00+00", ignoredRunIDs: [3],
                                     recordAccess: size % 2 == 0 ? .byCode : .scan)
    checkStatement(CohortSQLCompiler.compile(resolved, context: context, shape: .run), "run")
    checkStatement(CohortSQLCompiler.compile(resolved, context: context, shape: .steps), "steps")
    return 0
}
