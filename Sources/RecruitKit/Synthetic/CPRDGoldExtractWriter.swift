import Foundation
import Postgres

/// Writes the `cprd-gold` layout (HELPERS-cprd-gold.md, docs/profiles.md):
/// tab-delimited `Patient.txt`, `Clinical.txt`, `Therapy.txt` with the
/// `medical.txt` and `product.txt` dictionaries, and `extract.json`.
///
/// Events are Read v2 codes written as medcodes (the code and its term id in
/// `medical.txt`), prescriptions dm+d products written as prodcodes; the
/// synthesiser draws only those systems for this profile. Patient ids are
/// CPRD-style integers whose last three digits are the practice number. A
/// few patients are not "acceptable" (`accept` 0, which the profile skips);
/// they have no clinical or therapy rows.
final class CPRDGoldExtractWriter: SyntheticExtractWriter {
    static let patientHeader = "patid\tgender\tyob\tmob\tfrd\tcrd\ttod\tdeathdate\taccept\n"
    static let clinicalHeader = "patid\teventdate\tsysdate\tconstype\tconsid\tmedcode\tstaffid\tepisode\tenttype\tadid\n"
    static let therapyHeader = "patid\teventdate\tsysdate\tconsid\tprodcode\tstaffid\tdosageid\tbnfcode\tqty\tnumdays\tnumpacks\tpacktype\tissueseq\n"
    static let medicalHeader = "medcode\treadcode\tdesc\n"
    static let productHeader = "prodcode\tdmdcode\tgemscriptcode\tproductname\tbnfcode\n"
    /// Share of patients not acceptable for research (`accept` 0).
    static let unacceptableShare = 0.003

    private let codes: SyntheticCodeBook
    private let plan: PracticePlan
    private let dates: DateText
    private let extractDay: Int
    private var rng: SyntheticRandom
    private let patient: ByteSink, clinical: ByteSink, therapy: ByteSink
    private var counts = SyntheticExtractCounts()
    private var patientNumber: [Int]
    private var consultation: [Int]
    private var patid = 0

    init(staging: URL, codes: SyntheticCodeBook, plan: PracticePlan, extractDate: LocalDate, seed: UInt64,
         sourceSystem: String) throws {
        self.codes = codes
        self.plan = plan
        extractDay = extractDate.dayNumber
        rng = SyntheticRandom(seed: seed, stream: 0xC9_2D_601D)
        dates = DateText(from: LocalDate(year: 1880, month: 1, day: 1)!.dayNumber, through: extractDay + 10, style: .dayMonthYear)
        patientNumber = Array(repeating: 0, count: plan.practices.count)
        consultation = Array(repeating: 0, count: plan.practices.count)
        patient = try ByteSink(url: staging.appendingPathComponent("Patient.txt"), capacity: 1 << 20)
        clinical = try ByteSink(url: staging.appendingPathComponent("Clinical.txt"))
        therapy = try ByteSink(url: staging.appendingPathComponent("Therapy.txt"))
        try patient.text(Self.patientHeader)
        try clinical.text(Self.clinicalHeader)
        try therapy.text(Self.therapyHeader)
        try writeDictionaries(staging)
        let json = """
            {"format": "gp-extract/1", "extract_date": "\(extractDate)", "source_system": "\(sourceSystem)"}

            """
        try Data(json.utf8).write(to: staging.appendingPathComponent("extract.json"))
    }

    private func writeDictionaries(_ staging: URL) throws {
        func clean(_ s: String) -> String {
            String(s.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
        }
        let medical = try ByteSink(url: staging.appendingPathComponent("medical.txt"), capacity: 1 << 20)
        try medical.text(Self.medicalHeader)
        let events = codes.codes.filter { $0.system == .read2 && !$0.concept.isMedicine }.sorted { $0.dictionaryKey < $1.dictionaryKey }
        for c in events { try medical.text("\(c.dictionaryKey)\t\(c.code)\(c.termID)\t\(clean(c.term))\n") }
        try medical.close()
        let product = try ByteSink(url: staging.appendingPathComponent("product.txt"), capacity: 1 << 20)
        try product.text(Self.productHeader)
        let products = codes.codes.filter { $0.system == .dmd }.sorted { $0.dictionaryKey < $1.dictionaryKey }
        for c in products {
            let gemscript = 10_000_000 + Int(SyntheticCodeBook.rankKey(c.code) % 89_999_999)
            try product.text("\(c.dictionaryKey)\t\(c.code)\t\(gemscript)\t\(clean(c.term))\t\(c.bnfSection)\n")
        }
        try product.close()
    }

    var lastWritten: (patientID: String, practiceID: String) {
        (String(patid), String(format: "P%03d", patid % 1000))
    }

    func write(_ p: SyntheticPatient, hasNext: Bool) throws {
        let practice = plan.practices[p.practice]
        patientNumber[p.practice] += 1
        patid = patientNumber[p.practice] * 1000 + practice.cprdNumber
        let accept = !rng.chance(Self.unacceptableShare)
        let s = patient
        try s.int(patid)
        try s.byte(9)
        try s.int(p.sex == UInt8(ascii: "M") ? 1 : p.sex == UInt8(ascii: "F") ? 2 : p.sex == UInt8(ascii: "I") ? 3 : 0)
        try s.byte(9)
        try s.int(p.yearOfBirth - 1800)
        try s.byte(9)
        try s.int(p.monthOfBirth)
        try s.byte(9)
        try dates.write(p.firstRegistration, to: s)
        try s.byte(9)
        try dates.write(p.registrationStart, to: s)
        try s.byte(9)
        if let end = p.registrationEnd { try dates.write(end, to: s) }
        try s.byte(9)
        if let death = p.deathDay { try dates.write(death, to: s) }
        try s.byte(9)
        try s.byte(accept ? 49 : 48)
        try s.byte(10)
        counts.patients += 1
        guard accept else { return }

        var lastDay = Int32.min
        var consid = 0
        let staff = { (n: Int) in n * 1000 + practice.cprdNumber }
        for e in p.events {
            if e.day != lastDay {
                consultation[p.practice] += 1
                consid = consultation[p.practice]
                lastDay = e.day
            }
            let code = codes[e.code]
            let c = clinical
            try c.int(patid)
            try c.byte(9)
            try dates.write(Int(e.day), to: c)
            try c.byte(9)
            try dates.write(sysdate(Int(e.day)), to: c)
            try c.byte(9)
            try c.int(code.measure == nil ? 1 + rng.below(3) : 9)
            try c.byte(9)
            try c.int(consid)
            try c.byte(9)
            try c.int(code.dictionaryKey)
            try c.byte(9)
            try c.int(staff(1 + rng.below(12)))
            try c.byte(9)
            try c.int(code.concept == .backgroundEvent ? 0 : 1)
            try c.byte(9)
            try c.int(code.measure.map(Self.entityType) ?? 0)
            try c.byte(9)
            try c.int(0)
            try c.byte(10)
            counts.events += 1
        }
        for rx in p.prescriptions {
            let code = codes[rx.code]
            let t = therapy
            consultation[p.practice] += 1
            try t.int(patid)
            try t.byte(9)
            try dates.write(Int(rx.day), to: t)
            try t.byte(9)
            try dates.write(sysdate(Int(rx.day)), to: t)
            try t.byte(9)
            try t.int(consultation[p.practice])
            try t.byte(9)
            try t.int(code.dictionaryKey)
            try t.byte(9)
            try t.int(staff(1 + rng.below(12)))
            try t.byte(9)
            try t.text(String(SyntheticCodeBook.rankKey(code.code + String(rx.quantity)), radix: 16, uppercase: true))
            try t.byte(9)
            try t.int(Int(code.bnfSection.prefix(4)) ?? 0)
            try t.byte(9)
            try t.int(Int(rx.quantity))
            try t.byte(9)
            try t.int(Int(rx.duration))
            try t.byte(9)
            try t.int(rx.issue == 0 ? 1 : 0)
            try t.byte(9)
            try t.int(0)
            try t.byte(9)
            try t.int(Int(rx.issue))
            try t.byte(10)
            counts.prescriptions += 1
        }
    }

    /// The date the record was entered: mostly the same day, sometimes later, never after the extract.
    @inline(__always)
    private func sysdate(_ day: Int) -> Int {
        rng.chance(0.9) ? day : min(day + 1 + rng.below(30), extractDay)
    }

    /// CPRD-style entity types of measurements.
    static func entityType(_ measure: BackgroundCodes.Measure) -> Int {
        switch measure {
        case .systolic, .diastolic: 1
        case .weight, .bmi: 13
        case .height: 14
        case .alcohol: 5
        case .pulse: 131
        case .creatinine, .hba1c, .cholesterol, .haemoglobin: 288
        }
    }

    func finish() throws -> SyntheticExtractCounts {
        try patient.close()
        try clinical.close()
        try therapy.close()
        return counts
    }
}
