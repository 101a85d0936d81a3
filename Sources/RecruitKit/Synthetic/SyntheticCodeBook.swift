import Foundation
import Logging

/// The codes the synthesiser writes, drawn from the reference code lists for
/// the things the cohort looks for and from ``BackgroundCodes`` for the rest,
/// with per-concept sampling tables and each code's pre-rendered output bytes.
///
/// Only codes valid under the extract format's rules for their system are
/// used (a list entry that is not is skipped and counted), and a code is
/// drawn for one concept only: a code that two lists share (say chronic pain
/// and cancer) is not used for either, so that each prevalence stays what the
/// model says; background codes never appear in any list.
final class SyntheticCodeBook {
    struct Code {
        var system: CodeSystem
        /// The code as written without a Read v2 term id (`N245.`).
        var code: String
        /// The Read v2 term id written with `code` where a term id is written ("00" by default).
        var termID: String
        var term: String
        var concept: SyntheticConcept
        var measure: BackgroundCodes.Measure?
        var adultOnly = false
        /// Medicines: usual quantity per issue, and whether it is a long-term medicine.
        var quantity = 28
        var longTerm = false
        /// CPRD GOLD dictionary keys (medcode for Read v2 events, prodcode for dm+d medicines).
        var dictionaryKey = 0
        /// BNF section (8 digits, CPRD product dictionary) of medicines.
        var bnfSection = "00000000"
        /// `,CODE,system` and `,CODETERMID,system` as written in the canonical files.
        var tail: [UInt8] = []
        var tailWithTermID: [UInt8] = []
    }

    /// One concept's codes in one coding system, with a sampling table.
    struct Pool {
        var system: CodeSystem
        var codes: [Int32]
        var table: AliasTable
    }

    /// One concept's pools and the table that picks a system.
    struct ConceptPools {
        var pools: [Pool] = []
        var systemTable: AliasTable?
        var isEmpty: Bool { pools.isEmpty }
    }

    private(set) var codes: [Code] = []
    private(set) var concepts: [ConceptPools]
    /// Background medicines split by kind, for acute and repeat prescribing.
    private(set) var acuteMedicines = ConceptPools()
    private(set) var longTermMedicines = ConceptPools()
    /// The fit-note codes split by what the note says: "may be fit for work",
    /// and the rest (not fit, or not said). Either may be empty.
    private(set) var mayBeFitNotes = ConceptPools()
    private(set) var notFitNotes = ConceptPools()
    /// Messages for the user: missing lists, skipped entries.
    private(set) var warnings: [String] = []
    /// The lists read: name → SHA-256.
    private(set) var listsRead: [String: String] = [:]

    /// Reads the lists present in `directory` and builds the pools.
    ///
    /// - Parameters:
    ///   - eventSystems / prescriptionSystems: the coding systems the output
    ///     profile can write, with their relative weights.
    /// - Throws: ``RecruitError`` when a list file exists but cannot be read.
    init(directory: URL, eventSystems: [(CodeSystem, Double)], prescriptionSystems: [(CodeSystem, Double)],
         logger: Logger) throws {
        concepts = Array(repeating: ConceptPools(), count: SyntheticConcept.allCases.count)
        // 1. Read the lists.
        var entries: [SyntheticConcept: [(SystemCode, String, String)]] = [:]   // (system code, term id, term)
        var membership: [SystemCode: Set<Int>] = [:]
        for concept in SyntheticConcept.listed {
            guard let name = concept.listName else { continue }
            let url = directory.appendingPathComponent("\(name).csv")
            guard FileManager.default.fileExists(atPath: url.path) else {
                warnings.append("code list \(name) is missing from \(directory.path): no \(name) records are synthesised")
                continue
            }
            let list = try CodeList.read(name: name, in: directory)
            listsRead[name] = list.sha256
            var valid: [(SystemCode, String, String)] = []
            var skipped = 0
            for entry in list.entries {
                guard let (code, termID) = Self.normalised(entry.code, system: entry.system, medicine: concept.isMedicine) else {
                    skipped += 1
                    continue
                }
                let key = SystemCode(system: entry.system, code: code)
                valid.append((key, termID, entry.term))
                membership[key, default: []].insert(concept.rawValue)
            }
            if skipped > 0 {
                logger.info("synth: code list entries skipped (not valid for their coding system under the extract format, or not usable as a \(concept.isMedicine ? "prescription" : "clinical") code)",
                            metadata: ["list": "\(name)", "skipped": "\(skipped)", "used": "\(valid.count)"])
            }
            entries[concept] = valid
        }
        // 2. Build the list concepts' pools, leaving out codes another concept's list holds.
        let opioidFamily: Set<Int> = [SyntheticConcept.opioid.rawValue, SyntheticConcept.gabapentinoid.rawValue]
        for concept in SyntheticConcept.listed {
            guard let list = entries[concept] else { continue }
            let systems = concept.isMedicine ? prescriptionSystems : eventSystems
            var seen = Set<SystemCode>()
            var indices: [CodeSystem: [Int32]] = [:]
            for (key, termID, term) in list where systems.contains(where: { $0.0 == key.system }) {
                let owners = membership[key] ?? []
                let shared = owners.subtracting([concept.rawValue])
                if !shared.isEmpty && !(opioidFamily.contains(concept.rawValue) && shared.isSubset(of: opioidFamily)) { continue }
                guard seen.insert(key).inserted else { continue }
                var code = Code(system: key.system, code: key.code, termID: termID, term: term, concept: concept)
                if concept.isMedicine {
                    code.quantity = Self.painMedicineQuantity(term)
                    code.bnfSection = concept == .opioid ? "04070200" : "04080100"
                }
                indices[key.system, default: []].append(Int32(codes.count))
                codes.append(code)
            }
            let pools = makePools(indices, concept: concept, systems: systems)
            if list.isEmpty {
                warnings.append("code list \(concept.listName ?? "") has no codes: no \(concept.listName ?? "") records are synthesised")
            } else if pools.isEmpty {
                warnings.append("code list \(concept.listName ?? ""): no code usable in this profile's coding systems (\(systems.map(\.0.rawValue).joined(separator: ", "))): no \(concept.listName ?? "") records are synthesised")
            }
            concepts[concept.rawValue] = pools
        }
        // The fit notes by statement.
        var mayBeFit: [CodeSystem: [Int32]] = [:], notFit: [CodeSystem: [Int32]] = [:]
        for pool in concepts[SyntheticConcept.fitNote.rawValue].pools {
            for c in pool.codes {
                if codes[Int(c)].term.lowercased().contains("may be fit") {
                    mayBeFit[pool.system, default: []].append(c)
                } else {
                    notFit[pool.system, default: []].append(c)
                }
            }
        }
        mayBeFitNotes = makePools(mayBeFit, concept: .fitNote, systems: eventSystems)
        notFitNotes = makePools(notFit, concept: .fitNote, systems: eventSystems)
        // 3. The background, minus anything a list holds.
        buildBackground(membership: membership, eventSystems: eventSystems, prescriptionSystems: prescriptionSystems)
    }

    func pools(_ concept: SyntheticConcept) -> ConceptPools { concepts[concept.rawValue] }

    /// Draws a code of `concept` (nil when its list was missing).
    @inline(__always)
    func draw(_ concept: SyntheticConcept, _ rng: inout SyntheticRandom) -> Int32? {
        draw(from: concepts[concept.rawValue], &rng)
    }

    @inline(__always)
    func draw(from pools: ConceptPools, _ rng: inout SyntheticRandom) -> Int32? {
        guard let systemTable = pools.systemTable else { return nil }
        let pool = pools.pools[pools.pools.count == 1 ? 0 : systemTable.sample(&rng)]
        return pool.codes[pool.table.sample(&rng)]
    }

    subscript(_ index: Int32) -> Code {
        @inline(__always) get { codes[Int(index)] }
    }

    // MARK: Building

    private func makePools(_ indices: [CodeSystem: [Int32]], concept: SyntheticConcept,
                           systems: [(CodeSystem, Double)]) -> ConceptPools {
        var result = ConceptPools()
        var systemWeights: [Double] = []
        for (system, weight) in systems {
            guard let members = indices[system], !members.isEmpty else { continue }
            // Popularity: a fixed (seed-independent) Zipf order over the codes,
            // with the concept's common terms far ahead.
            let phrases = concept.commonTermPhrases
            let ranked = members.sorted { Self.rankKey(codes[Int($0)].code) < Self.rankKey(codes[Int($1)].code) }
            var weights: [Double] = []
            weights.reserveCapacity(ranked.count)
            for (rank, index) in ranked.enumerated() {
                let term = codes[Int(index)].term.lowercased()
                let common = phrases.contains { term.contains($0) }
                weights.append((common ? 30.0 : 1.0) / pow(Double(rank) + 8, 0.9))
            }
            result.pools.append(Pool(system: system, codes: ranked, table: AliasTable(weights: weights)))
            systemWeights.append(weight)
        }
        if !systemWeights.isEmpty { result.systemTable = AliasTable(weights: systemWeights) }
        return result
    }

    private func buildBackground(membership: [SystemCode: Set<Int>], eventSystems: [(CodeSystem, Double)],
                                 prescriptionSystems: [(CodeSystem, Double)]) {
        var eventIndices: [CodeSystem: [Int32]] = [:]
        var eventWeights: [Int32: Double] = [:]
        for item in BackgroundCodes.events {
            var variants: [(CodeSystem, String)] = [(.read2, item.read2), (.ctv3, item.read2)]
            if let snomed = item.snomed, Self.isConceptID(Array(snomed.utf8)) { variants.append((.snomed, snomed)) }
            for (system, text) in variants where eventSystems.contains(where: { $0.0 == system }) {
                guard membership[SystemCode(system: system, code: text)] == nil else { continue }
                var code = Code(system: system, code: text, termID: "00", term: item.term, concept: .backgroundEvent)
                code.measure = item.measure
                code.adultOnly = item.adultOnly
                let index = Int32(codes.count)
                codes.append(code)
                eventIndices[system, default: []].append(index)
                eventWeights[index] = item.weight
            }
        }
        concepts[SyntheticConcept.backgroundEvent.rawValue] = weightedPools(eventIndices, eventWeights, eventSystems)

        var acute: [CodeSystem: [Int32]] = [:], longTerm: [CodeSystem: [Int32]] = [:]
        var medicineWeights: [Int32: Double] = [:]
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        for (i, medicine) in BackgroundCodes.medicines.enumerated() {
            // Synthetic, well-formed product codes (see BackgroundCodes).
            // Item number, the UK namespace 1000001, partition 10, Verhoeff check digit.
            let body = "\(9_100_000 + i * 7_919)100000110"
            let dmd = body + String(Verhoeff.checkDigit(for: body))
            let read = "\(medicine.chapter)\(letters[(i * 7 + 3) % 26])\(letters[(i * 11 + 5) % 26])\(i % 10)."
            // Chapter and section, paragraph 01, sub-paragraph 0, a chemical, product, strength, equivalent.
            let bnf = "\(medicine.bnfSection)010\(letters[i / 26].uppercased())\(letters[i % 26].uppercased())AAAAAA"
            for (system, text) in [(CodeSystem.dmd, dmd), (.read2, read), (.bnf, bnf)]
            where prescriptionSystems.contains(where: { $0.0 == system }) {
                guard membership[SystemCode(system: system, code: text)] == nil else { continue }
                var code = Code(system: system, code: text, termID: "00", term: medicine.term, concept: .backgroundMedicine)
                code.quantity = medicine.quantity
                code.longTerm = medicine.longTerm
                code.bnfSection = medicine.bnfSection + "0100"
                let index = Int32(codes.count)
                codes.append(code)
                if medicine.longTerm { longTerm[system, default: []].append(index) } else { acute[system, default: []].append(index) }
                medicineWeights[index] = medicine.weight
            }
        }
        acuteMedicines = weightedPools(acute, medicineWeights, prescriptionSystems)
        longTermMedicines = weightedPools(longTerm, medicineWeights, prescriptionSystems)
        var all = acute
        for (system, members) in longTerm { all[system, default: []].append(contentsOf: members) }
        concepts[SyntheticConcept.backgroundMedicine.rawValue] = weightedPools(all, medicineWeights, prescriptionSystems)
    }

    private func weightedPools(_ indices: [CodeSystem: [Int32]], _ weights: [Int32: Double],
                               _ systems: [(CodeSystem, Double)]) -> ConceptPools {
        var result = ConceptPools()
        var systemWeights: [Double] = []
        for (system, weight) in systems {
            guard let members = indices[system], !members.isEmpty else { continue }
            result.pools.append(Pool(system: system, codes: members, table: AliasTable(weights: members.map { weights[$0] ?? 1 })))
            systemWeights.append(weight)
        }
        if !systemWeights.isEmpty { result.systemTable = AliasTable(weights: systemWeights) }
        return result
    }

    /// Renders every code's output bytes and assigns CPRD GOLD dictionary keys.
    func finalise() {
        // Dictionary keys: Read v2 events (medcode) and dm+d medicines (prodcode),
        // numbered in byte order of the code so the numbering does not depend on list order.
        let readEvents = codes.indices.filter { codes[$0].system == .read2 && !codes[$0].concept.isMedicine }
            .sorted { (codes[$0].code + codes[$0].termID).utf8.lexicographicallyPrecedes((codes[$1].code + codes[$1].termID).utf8) }
        for (n, i) in readEvents.enumerated() { codes[i].dictionaryKey = 100 + n * 3 }
        let products = codes.indices.filter { codes[$0].system == .dmd }
            .sorted { codes[$0].code.utf8.lexicographicallyPrecedes(codes[$1].code.utf8) }
        for (n, i) in products.enumerated() { codes[i].dictionaryKey = 1_000 + n * 7 }
        for i in codes.indices {
            let system = Array(codes[i].system.rawValue.utf8)
            codes[i].tail = [UInt8(ascii: ",")] + Array(codes[i].code.utf8) + [UInt8(ascii: ",")] + system
            codes[i].tailWithTermID = [UInt8(ascii: ",")] + Array((codes[i].code + codes[i].termID).utf8) + [UInt8(ascii: ",")] + system
        }
    }

    // MARK: Rules

    /// The code as the synthesiser writes it, and its Read v2 term id, if
    /// `text` is valid for `system` under the extract format; else nil.
    /// A seven-character Read v2 entry (code and term id) is split.
    static func normalised(_ text: String, system: CodeSystem, medicine: Bool) -> (String, String)? {
        let bytes = Array(text.utf8)
        func isReadByte(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46
        }
        switch system {
        case .read2:
            var code = bytes, termID = Array("00".utf8)
            if bytes.count == 7, bytes[5...].allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                code = Array(bytes[0..<5])
                termID = Array(bytes[5...])
            }
            guard code.count == 5, code.allSatisfy(isReadByte), isRightPadded(code) else { return nil }
            if medicine {
                guard code[0] >= 97 && code[0] <= 122 else { return nil }
            }
            return (String(decoding: code, as: UTF8.self), String(decoding: termID, as: UTF8.self))
        case .ctv3:
            guard !medicine, bytes.count == 5, bytes.allSatisfy(isReadByte) else { return nil }
            return (text, "00")
        case .snomed:
            guard !medicine, Self.isConceptID(bytes) else { return nil }
            return (text, "00")
        case .dmd:
            guard medicine, Self.isConceptID(bytes) else { return nil }
            return (text, "00")
        case .bnf:
            guard medicine, bytes.count == 15, bytes.allSatisfy({ isReadByte($0) && $0 != 46 }) else { return nil }
            return (text, "00")
        case .icd10:
            return nil
        }
    }

    /// Read v2 codes are right-padded with dots: no leading dot, nothing but dots after a dot (`9D1..`).
    static func isRightPadded(_ code: [UInt8]) -> Bool {
        guard code.first != 46 else { return false }
        guard let dot = code.firstIndex(of: 46) else { return true }
        return code[dot...].allSatisfy { $0 == 46 }
    }

    /// A SNOMED CT (or dm+d) id as the extract format accepts it: 6-18 digits, valid Verhoeff check digit.
    static func isConceptID(_ bytes: [UInt8]) -> Bool {
        (6...18).contains(bytes.count) && Verhoeff.isValid(String(decoding: bytes, as: UTF8.self))
    }

    /// A fixed, seed-independent order of codes (FNV-1a, then mixed).
    static func rankKey(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return SyntheticRandom.splitMix(h)
    }

    /// A plausible quantity per 28-day issue of a pain medicine, from its term.
    static func painMedicineQuantity(_ term: String) -> Int {
        let t = term.lowercased()
        if t.contains("patch") { return t.contains("7 day") || t.contains("seven day") ? 4 : 10 }
        if t.contains("solution") || t.contains("liquid") || t.contains("suspension") || t.contains("linctus") { return 300 }
        if t.contains("injection") || t.contains("ampoule") { return 10 }
        if t.contains("modified-release") || t.contains("prolonged-release") { return 56 }
        return 112
    }
}
