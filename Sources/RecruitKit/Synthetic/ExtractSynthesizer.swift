import Foundation
import Logging
import Postgres

/// Writes a synthetic GP extract: practices of realistic size, a UK-shaped
/// population with registration churn, and coded records drawn from the
/// reference code lists at published UK prevalences over a large background
/// (see ``SyntheticFigures`` and docs/synthetic-data.md).
///
/// The output is deterministic: the same options give the same bytes. It is
/// streamed patient by patient through large buffers, in constant memory,
/// into a staging folder inside the output folder, and moved into place only
/// when complete, so an interrupted run never leaves a partial extract that
/// looks whole.
public struct ExtractSynthesizer {
    public let options: SynthesisOptions
    private let logger: Logger

    public init(options: SynthesisOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Writes the extract.
    ///
    /// - Parameter progress: called now and then with (patients written, patients in all).
    /// - Returns: what was written.
    /// - Throws: ``RecruitError`` (refused) for unusable options or an unreadable
    ///   code list; (environment) when the output cannot be written.
    public func run(progress: ((Int, Int) -> Void)? = nil) throws -> SynthesisSummary {
        if let problem = options.problems.first { throw problem }
        let started = Date()
        let fm = FileManager.default
        let out = options.outputDirectory
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: options.codeListDirectory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecruitError.refused("code list folder \(options.codeListDirectory.path) does not exist",
                                       remedy: .init(verb: .see, inputs: [.codeListFolder]))
        }
        do {
            try fm.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw RecruitError.environment("cannot create \(out.path): \(error.localizedDescription)", underlying: error)
        }
        let staging = out.appendingPathComponent(".synth-staging")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: staging) }

        let canonical = options.profile == .canonical
        let codes = try SyntheticCodeBook(
            directory: options.codeListDirectory,
            eventSystems: canonical ? SyntheticFigures.eventSystemWeights : [(.read2, 1)],
            prescriptionSystems: canonical ? SyntheticFigures.prescriptionSystemWeights : [(.dmd, 1)],
            logger: logger)
        codes.finalise()
        for warning in codes.warnings { logger.info("synth: \(warning)") }

        let plan = PracticePlan(patients: options.patients, count: options.practices, seed: options.seed)
        if !canonical && plan.practices.count > 999 {
            throw RecruitError.refused("the cprd-gold profile holds at most 999 practices; \(options.patients) patients make \(plan.practices.count)",
                                       remedy: .give(.practices))
        }
        let ids = PseudonymousID(seed: options.seed)
        let source = "recruit synth (seed \(options.seed))"
        let writer: any SyntheticExtractWriter
        if canonical {
            let injector = options.errorRate > 0
                ? try ErrorInjector(rate: options.errorRate, seed: options.seed, patients: options.patients, ids: ids, staging: staging)
                : nil
            writer = try CanonicalExtractWriter(staging: staging, codes: codes, plan: plan, ids: ids,
                                                extractDate: options.extractDate, seed: options.seed,
                                                sourceSystem: source, injector: injector)
        } else {
            writer = try CPRDGoldExtractWriter(staging: staging, codes: codes, plan: plan, extractDate: options.extractDate,
                                               seed: options.seed, sourceSystem: source + " cprd-gold")
        }
        logger.info("synth: writing", metadata: ["patients": "\(options.patients)", "practices": "\(plan.practices.count)",
                                                  "profile": "\(options.profile.rawValue)", "seed": "\(options.seed)"])

        // The truth: written beside the extract (never inside it), staged and moved into place likewise.
        var truth: ByteSink?
        var truthStaging: URL?
        if let truthFile = options.truthFile {
            let folder = truthFile.deletingLastPathComponent()
            do {
                try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw RecruitError.environment("cannot create \(folder.path): \(error.localizedDescription)", underlying: error)
            }
            let staged = folder.appendingPathComponent(".\(truthFile.lastPathComponent).synth-staging")
            truthStaging = staged
            truth = try ByteSink(url: staged, capacity: 1 << 20)
            try truth!.text("patient_id,practice_id,work_status\n")
        }
        defer { if let truthStaging { try? fm.removeItem(at: truthStaging) } }
        var statusCounts: [SyntheticWorkStatus: Int] = [:]

        let generator = PatientGenerator(codes: codes, seed: options.seed, extractDate: options.extractDate)
        let patient = SyntheticPatient()
        let total = options.patients
        var sequence = 0
        progress?(0, total)
        for (index, practice) in plan.practices.enumerated() {
            for _ in 0..<practice.patients {
                generator.generate(patient, sequence: sequence, practice: index, practiceFactor: practice.factor)
                try writer.write(patient, hasNext: sequence + 1 < total)
                statusCounts[patient.workStatus, default: 0] += 1
                if let truth {
                    let (id, practiceID) = writer.lastWritten
                    try truth.text("\(id),\(practiceID),\(patient.workStatus.rawValue)\n")
                }
                sequence += 1
                if sequence % 2_000 == 0 { progress?(sequence, total) }
            }
        }
        let counts = try writer.finish()
        if let truth, let truthStaging, let truthFile = options.truthFile {
            try truth.close()
            try? fm.removeItem(at: truthFile)
            do {
                try fm.moveItem(at: truthStaging, to: truthFile)
            } catch {
                throw RecruitError.environment("cannot write \(truthFile.path): \(error.localizedDescription)", underlying: error)
            }
        }
        progress?(total, total)

        // Move the complete extract into place; drop files of the other profile
        // and a stale injected.csv, so the folder holds exactly one extract.
        var written: [String: Int] = [:]
        let produced = try fm.contentsOfDirectory(atPath: staging.path).filter { !$0.hasPrefix("injected-") }
        let stale = Set(SynthesisProfile.allCases.flatMap(\.files) + ["injected.csv"]).subtracting(produced)
        for name in stale { try? fm.removeItem(at: out.appendingPathComponent(name)) }
        for name in produced.sorted() {
            let destination = out.appendingPathComponent(name)
            try? fm.removeItem(at: destination)
            try fm.moveItem(at: staging.appendingPathComponent(name), to: destination)
            written[name] = (try? fm.attributesOfItem(atPath: destination.path)[.size] as? Int) ?? 0
        }
        let seconds = Date().timeIntervalSince(started)
        logger.info("synth: done", metadata: ["patients": "\(counts.patients)", "events": "\(counts.events)",
                                               "prescriptions": "\(counts.prescriptions)", "injected": "\(counts.injected)",
                                               "seconds": "\(String(format: "%.1f", seconds))"])
        return SynthesisSummary(
            directory: out.path, profile: options.profile, seed: options.seed, extractDate: options.extractDate.description,
            patients: counts.patients, events: counts.events, prescriptions: counts.prescriptions,
            practices: plan.practices.map { .init(practiceID: canonical ? $0.code : String(format: "P%03d", $0.cprdNumber), patients: $0.patients) },
            files: written, injectedRows: counts.injected,
            injectedByKind: Dictionary(uniqueKeysWithValues: counts.injectedByKind.map { ($0.key.rawValue, $0.value) }),
            codeLists: codes.listsRead, truthFile: options.truthFile?.path,
            workStatus: Dictionary(uniqueKeysWithValues: SyntheticWorkStatus.allCases.map { ($0.rawValue, statusCounts[$0] ?? 0) }),
            warnings: codes.warnings, seconds: seconds)
    }
}
