import Foundation
import Postgres

/// Writes the canonical extract format (spec/extract-format.md):
/// `patients.csv`, `events.csv`, `prescriptions.csv` and `extract.json`,
/// optionally with planted bad rows (``ErrorInjector``).
final class CanonicalExtractWriter: SyntheticExtractWriter {
    static let patientsHeader = "patient_id,practice_id,year_of_birth,month_of_birth,sex,registration_start,registration_end,death_date\n"
    static let eventsHeader = "patient_id,event_date,code,code_system,value\n"
    static let prescriptionsHeader = "patient_id,issue_date,code,code_system,quantity,duration_days,issue_type\n"

    private let codes: SyntheticCodeBook
    private let practiceCodes: [[UInt8]]
    private let ids: PseudonymousID
    private let dates: DateText
    private let extractDay: Int
    private let seed: UInt64
    private let patients: ByteSink, events: ByteSink, prescriptions: ByteSink
    private let injector: ErrorInjector?
    private let staging: URL
    private var counts = SyntheticExtractCounts()
    private var patientLine = 1, eventLine = 1, prescriptionLine = 1
    private var id: [UInt8] = []
    private let readTermThreshold: UInt64

    init(staging: URL, codes: SyntheticCodeBook, plan: PracticePlan, ids: PseudonymousID, extractDate: LocalDate,
         seed: UInt64, sourceSystem: String, injector: ErrorInjector?) throws {
        self.codes = codes
        self.ids = ids
        self.staging = staging
        self.seed = seed
        self.injector = injector
        extractDay = extractDate.dayNumber
        practiceCodes = plan.practices.map { Array($0.code.utf8) }
        dates = DateText(from: LocalDate(year: 1880, month: 1, day: 1)!.dayNumber, through: extractDay + 800, style: .iso)
        readTermThreshold = UInt64(SyntheticFigures.readTermIDShare * 1024)
        patients = try ByteSink(url: staging.appendingPathComponent("patients.csv"), capacity: 1 << 20)
        events = try ByteSink(url: staging.appendingPathComponent("events.csv"))
        prescriptions = try ByteSink(url: staging.appendingPathComponent("prescriptions.csv"))
        try patients.text(Self.patientsHeader)
        try events.text(Self.eventsHeader)
        try prescriptions.text(Self.prescriptionsHeader)
        let json = """
            {"format": "gp-extract/1", "extract_date": "\(extractDate)", "source_system": "\(sourceSystem)"}

            """
        try Data(json.utf8).write(to: staging.appendingPathComponent("extract.json"))
    }

    private var lastPractice = 0
    var lastWritten: (patientID: String, practiceID: String) {
        (String(decoding: id, as: UTF8.self), String(decoding: practiceCodes[lastPractice], as: UTF8.self))
    }

    func write(_ p: SyntheticPatient, hasNext: Bool) throws {
        lastPractice = p.practice
        ids.write(p.sequence, into: &id)
        var fault: InjectedErrorKind?
        if let injector {
            if let duplicate = injector.pendingDuplicate {
                id = duplicate
                injector.pendingDuplicate = nil
                fault = .duplicatePatientID
            } else {
                fault = injector.choose(ErrorInjector.patients, InjectedErrorKind.patientKinds) { kind in
                    switch kind {
                    case .duplicatePatientID: hasNext
                    case .registrationStartAfterExtract: p.registrationEnd == nil && p.deathDay == nil
                    default: true
                    }
                }
                if fault == .duplicatePatientID { injector.pendingDuplicate = id }
            }
        }
        patientLine += 1
        counts.patients += 1
        if let fault, let injector {
            try writeFaultyPatient(p, fault, injector)
            try injector.record(ErrorInjector.patients, line: patientLine, fault)
            if fault == .patientIDInvalid { return }
        } else {
            try writePatient(p)
        }
        for (index, e) in p.events.enumerated() {
            eventLine += 1
            counts.events += 1
            let withTerm = useTermID(p.sequence, index, e.code)
            if let injector {
                if fault != nil {
                    try injector.record(ErrorInjector.events, line: eventLine, .patientRejected)
                } else if let kind = injector.choose(ErrorInjector.events, InjectedErrorKind.eventKinds) {
                    try writeFaultyEvent(e, withTerm: withTerm, kind, injector)
                    try injector.record(ErrorInjector.events, line: eventLine, kind)
                    continue
                }
            }
            try writeEvent(e, withTerm: withTerm)
        }
        for rx in p.prescriptions {
            prescriptionLine += 1
            counts.prescriptions += 1
            if let injector {
                if fault != nil {
                    try injector.record(ErrorInjector.prescriptions, line: prescriptionLine, .patientRejected)
                } else if let kind = injector.choose(ErrorInjector.prescriptions, InjectedErrorKind.prescriptionKinds) {
                    try writeFaultyPrescription(rx, kind, injector)
                    try injector.record(ErrorInjector.prescriptions, line: prescriptionLine, kind)
                    continue
                }
            }
            try writePrescription(rx)
        }
    }

    func finish() throws -> SyntheticExtractCounts {
        try patients.close()
        try events.close()
        try prescriptions.close()
        if let injector {
            counts.injected = try injector.finish(to: staging.appendingPathComponent("injected.csv"))
            counts.injectedByKind = injector.counts
        }
        return counts
    }

    // MARK: Rows

    /// Whether a Read v2 event is written with its term id: a fixed share, by a
    /// hash of the patient and row (no draw from the patient's stream).
    @inline(__always)
    private func useTermID(_ sequence: Int, _ index: Int, _ code: Int32) -> Bool {
        guard codes[code].system == .read2 else { return false }
        return SyntheticRandom.splitMix(seed ^ UInt64(sequence) << 20 ^ UInt64(index)) & 1023 < readTermThreshold
    }

    private func writePatient(_ p: SyntheticPatient) throws {
        let s = patients
        try s.bytes(id)
        try s.byte(44)
        try s.bytes(practiceCodes[p.practice])
        try s.byte(44)
        try s.int(p.yearOfBirth)
        try s.byte(44)
        if p.monthOfBirth > 0 { try s.int(p.monthOfBirth) }
        try s.byte(44)
        try s.byte(p.sex)
        try s.byte(44)
        try dates.write(p.registrationStart, to: s)
        try s.byte(44)
        if let end = p.registrationEnd { try dates.write(end, to: s) }
        try s.byte(44)
        if let death = p.deathDay { try dates.write(death, to: s) }
        try s.byte(10)
    }

    @inline(__always)
    private func writeEvent(_ e: SyntheticPatient.Event, withTerm: Bool) throws {
        let s = events
        try s.bytes(id)
        try s.byte(44)
        try dates.write(Int(e.day), to: s)
        let code = codes[e.code]
        try s.bytes(withTerm ? code.tailWithTermID : code.tail)
        try s.byte(44)
        if e.value != SyntheticPatient.Event.noValue {
            try s.tenths(e.value, decimal: code.measure?.distribution.decimal ?? false)
        }
        try s.byte(10)
    }

    @inline(__always)
    private func writePrescription(_ rx: SyntheticPatient.Prescription) throws {
        let s = prescriptions
        try s.bytes(id)
        try s.byte(44)
        try dates.write(Int(rx.day), to: s)
        try s.bytes(codes[rx.code].tail)
        try s.byte(44)
        try s.int(Int(rx.quantity))
        try s.byte(44)
        if rx.duration > 0 { try s.int(Int(rx.duration)) }
        try s.byte(44)
        try s.text(rx.issue == 0 ? "acute" : "repeat")
        try s.byte(10)
    }

    // MARK: Bad rows

    private var idText: String { String(decoding: id, as: UTF8.self) }

    private func badDate(_ injector: ErrorInjector, near day: Int) -> String {
        let d = LocalDate(dayNumber: day)
        return injector.pick([
            "\(d.year)-02-30",
            String(format: "%02d/%02d/%04d", d.day, d.month, d.year),
            "\(d.year)-13-01",
            String(format: "%04d%02d%02d", d.year, d.month, d.day),
        ])
    }

    private func afterExtract(_ injector: ErrorInjector) -> String { dates.string(extractDay + injector.int(in: 1...400)) }

    private func writeFaultyPatient(_ p: SyntheticPatient, _ kind: InjectedErrorKind, _ injector: ErrorInjector) throws {
        var f = [idText, String(decoding: practiceCodes[p.practice], as: UTF8.self), String(p.yearOfBirth),
                 p.monthOfBirth > 0 ? String(p.monthOfBirth) : "", String(UnicodeScalar(p.sex)),
                 dates.string(p.registrationStart), p.registrationEnd.map(dates.string) ?? "", p.deathDay.map(dates.string) ?? ""]
        switch kind {
        case .patientIDInvalid: f[0] = injector.pick([f[0] + "!", f[0] + String(repeating: "X", count: 55), "", f[0] + " 2"])
        case .practiceIDInvalid: f[1] = injector.pick([f[1] + "-X", f[1] + "ABCDEFGHJKLM", ""])
        case .yearOfBirthInvalid:
            f[2] = injector.pick([String(LocalDate(dayNumber: extractDay).year + injector.int(in: 1...5)), "1879", "19x5", ""])
        case .monthOfBirthInvalid: f[3] = injector.pick(["0", "13", "Jan"])
        case .sexInvalid: f[4] = injector.pick(["X", "Male", "9", ""])
        case .registrationStartMissing: f[5] = ""
        case .registrationStartInvalid: f[5] = badDate(injector, near: p.registrationStart)
        case .registrationStartAfterExtract: f[5] = afterExtract(injector)
        case .registrationEndInvalid: f[6] = badDate(injector, near: p.registrationEnd ?? p.registrationStart)
        case .registrationEndBeforeStart: f[6] = dates.string(p.registrationStart - injector.int(in: 1...400))
        case .deathDateInvalid: f[7] = badDate(injector, near: p.deathDay ?? p.registrationStart)
        case .deathDateAfterExtract: f[7] = afterExtract(injector)
        case .duplicatePatientID: break
        default: preconditionFailure("not a patients.csv kind: \(kind)")
        }
        try patients.text(f.joined(separator: ",") + "\n")
    }

    private func writeFaultyEvent(_ e: SyntheticPatient.Event, withTerm: Bool, _ kind: InjectedErrorKind, _ injector: ErrorInjector) throws {
        let code = codes[e.code]
        let value = e.value == SyntheticPatient.Event.noValue ? ""
            : (code.measure?.distribution.decimal ?? false) ? String(format: "%.1f", Double(e.value) / 10) : String(e.value / 10)
        var f = [idText, dates.string(Int(e.day)), withTerm ? code.code + code.termID : code.code, code.system.rawValue, value]
        switch kind {
        case .unknownPatient: f[0] = injector.nextUnknownID()
        case .dateMissing: f[1] = ""
        case .dateInvalid: f[1] = badDate(injector, near: Int(e.day))
        case .dateBefore1900: f[1] = injector.pick(["1899-12-31", "1850-06-01", "1066-10-14"])
        case .dateAfterExtract: f[1] = afterExtract(injector)
        case .codeMissing: f[2] = ""
        case .codeInvalid:
            (f[2], f[3]) = injector.pick([("N24", "read2"), ("N245.0", "read2"), ("XaZ8", "ctv3"), ("2714", "snomed"),
                                          (Self.wrongCheckDigit("271649006"), "snomed")])
        case .codeSystemInvalid: f[3] = injector.pick(["emis", "icd9", "readv2", ""])
        case .valueInvalid: f[4] = injector.pick(["high", "1.2.3", "12a"])
        case .malformedRow: f[2] = Self.quoteInside(f[2])
        case .missingFields: f.removeLast(2)
        default: preconditionFailure("not an events.csv kind: \(kind)")
        }
        try events.text(f.joined(separator: ",") + "\n")
    }

    private func writeFaultyPrescription(_ rx: SyntheticPatient.Prescription, _ kind: InjectedErrorKind, _ injector: ErrorInjector) throws {
        let code = codes[rx.code]
        var f = [idText, dates.string(Int(rx.day)), code.code, code.system.rawValue, String(rx.quantity),
                 rx.duration > 0 ? String(rx.duration) : "", rx.issue == 0 ? "acute" : "repeat"]
        switch kind {
        case .unknownPatient: f[0] = injector.nextUnknownID()
        case .dateMissing: f[1] = ""
        case .dateInvalid: f[1] = badDate(injector, near: Int(rx.day))
        case .dateAfterExtract: f[1] = afterExtract(injector)
        case .codeMissing: f[2] = ""
        case .codeInvalid:
            (f[2], f[3]) = injector.pick([("dj1", "read2"), ("djA1.00x", "read2"), ("0407020", "bnf"), ("0407020A0AAAAAAA1", "bnf")])
        case .codeSystemInvalid: f[3] = injector.pick(["snomed", "gemscript", "multilex", ""])
        case .quantityInvalid: f[4] = injector.pick(["two", "1.2.3", "28 tablets"])
        case .durationInvalid: f[5] = injector.pick(["0", "366", "abc", "28.5"])
        case .issueTypeInvalid: f[6] = injector.pick(["regular", "batch", "r"])
        case .malformedRow: f[2] = Self.quoteInside(f[2])
        case .missingFields: f.removeLast(4)
        default: preconditionFailure("not a prescriptions.csv kind: \(kind)")
        }
        try prescriptions.text(f.joined(separator: ",") + "\n")
    }

    /// A field with quotes inside it (not a quoted field): malformed RFC 4180,
    /// but balanced, so no reader runs on into the next line.
    static func quoteInside(_ text: String) -> String {
        let chars = Array(text)
        guard chars.count >= 2 else { return "x\"y\"z" }
        return String(chars[0]) + "\"" + String(chars[1...]) + "\""
    }

    /// A SNOMED-shaped id whose Verhoeff check digit is wrong.
    static func wrongCheckDigit(_ valid: String) -> String {
        var chars = Array(valid.utf8)
        let last = chars.removeLast()
        chars.append(last == 57 ? 48 : last + 1)
        return String(decoding: chars, as: UTF8.self)
    }
}
