import Foundation
import Logging
import Postgres

/// Loads a practice extract: streams it through a profile into per-load
/// tables with COPY, and replaces each contained practice's snapshot, all or nothing.
///
/// The steps (docs/design.md, "Snapshots"):
/// 1. Clean up what died loads left; write a `loads` record (`running`).
/// 2. Check the files (present, headers, the guard) and, unless forced,
///    whether the same files were already loaded for the same practices.
/// 3. First pass over the patients file: every patient id, its practice and
///    state (duplicates, rejects); take an advisory lock per practice.
/// 4. Two streams on two connections at once (events; patients then
///    prescriptions): each creates its table in a transaction, COPYs binary
///    rows converted while streaming, builds its index and commits.
/// 5. Rejects go to `load_rejects`; a file whose rejects exceed the threshold refuses the load.
/// 6. Hold back every practice whose extract looks wrong (``ExtractPlausibility``:
///    shrunk, stale events, an emptied file) unless accepted.
/// 7. ATTACH the tables, then in one short transaction point every other
///    practice at the new load, mark the load `loaded` and append the audit
///    entry; drop snapshots no practice points at any more.
public final class ExtractLoader {
    public struct Options: Sendable {
        public var directory: URL
        public var profile: ExtractProfile
        /// Overrides extract.json's extract_date (with a warning when they differ).
        public var extractDate: LocalDate?
        /// The largest share of any one file's rows that may be rejected.
        public var maxRejectRate = 0.01
        public var dryRun = false
        /// Reload even when the same files were already loaded.
        public var force = false
        /// Wait for another load holding one of the practices, instead of refusing.
        public var wait = false
        /// The checks that hold back a practice whose extract looks wrong.
        public var plausibility = ExtractPlausibility.defaults
        /// Practices let through although they fail a plausibility check (recorded in the summary and the audit entry).
        public var accept: Set<String> = []
        /// `maintenance_work_mem` for the index builds.
        public var maintenanceWorkMem = "1GB"
        /// `max_parallel_maintenance_workers` for the index builds.
        public var parallelMaintenanceWorkers = 1

        public init(directory: URL, profile: ExtractProfile) {
            self.directory = directory
            self.profile = profile
        }
    }

    let db: Database
    let logger: Logger
    let progress: (any LoadProgress)?

    public init(database: Database, progress: (any LoadProgress)? = nil) {
        db = database
        logger = database.logger
        self.progress = progress
    }

    /// Loads an extract.
    ///
    /// - Returns: the summary; its status says whether the load happened
    ///   (`loaded`), changed nothing (`unchanged`, `dry_run`) or was refused
    ///   (bad input, or a practice busy in another load: nothing changed).
    /// - Throws: ``RecruitError`` (environment) for usage and environment
    ///   problems (no such folder, the database failing); the load is then
    ///   recorded as `failed` when the database can still be reached.
    public func load(_ options: Options) throws -> LoadSummary {
        let started = Date()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: options.directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecruitError.environment("\(options.directory.path): no such folder (give the extract's folder)")
        }
        guard options.maxRejectRate >= 0 && options.maxRejectRate <= 1 else {
            throw RecruitError.environment("must be between 0 and 1", subject: .init(.maxRejectRate, String(options.maxRejectRate)))
        }
        var summary = LoadSummary(status: .refused, directory: options.directory.path, profile: options.profile.name,
                                  profileSHA256: options.profile.sha256, dryRun: options.dryRun, forced: options.force,
                                  maxRejectRate: options.maxRejectRate)
        try cleanupLeftovers()
        let loadID = try beginLoad(options)
        summary.loadID = loadID
        let conn = db.connection
        try conn.advisoryLock(db.lockKey("load:\(loadID)"))
        defer { try? conn.advisoryUnlock(db.lockKey("load:\(loadID)")) }
        var run = LoadRun(loadID: loadID, options: options)
        defer { try? run.locks?.release() }
        do {
            try perform(&run, &summary)
        } catch let error as RecruitError where error.kind == .refused {
            summary.status = .refused
            summary.reason = error.message
            summary.remedy = error.remedy
        } catch let busy as PracticeBusy {
            summary.status = .refused
            summary.busy = true
            summary.reason = busy.description
        } catch {
            summary.status = .failed
            summary.reason = Self.describe(error)
            summary.elapsedSeconds = Date().timeIntervalSince(started)
            try? finish(&run, &summary, started: started)
            throw RecruitError.environment("load \(loadID) failed: \(summary.reason!)", underlying: error)
        }
        try finish(&run, &summary, started: started)
        return summary
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? RecruitError { return e.message }
        if let e = error as? PostgresError { return "database error: \(e)" }
        return "\(error)"
    }

    /// The state of one load as it goes.
    struct LoadRun {
        let loadID: Int
        let options: Options
        var extractDate: LocalDate?
        var files: [CanonicalFile: URL] = [:]
        var dictionaries: [String: LookupTable] = [:]
        var registry: PatientRegistry?
        var practices: [Int] = []
        /// The practices' locks, while the load holds them.
        var locks: PracticeLocks?
        var stats: [CanonicalFile: FileStreamer.Stats] = [:]
        var before: [String: (Int, String, LoadSummary.Counts)] = [:]
        var tablesCommitted = false
        var sameAsLoad: Int?
        /// The first pass found the patients file over the threshold: only its rejects are streamed.
        var patientsOverThreshold = false
        /// The patient id that splits the events into two tables (two COPY streams).
        var eventsSplit: [UInt8]?
        /// The extract tables are distributed (Citus): no split, no COPY FREEZE.
        var distributed = false

    }

    /// Steps 2-6.
    private func perform(_ run: inout LoadRun, _ summary: inout LoadSummary) throws {
        let options = run.options
        // The extract date.
        let manifest = try ExtractFiles.readManifest(in: options.directory)
        switch (options.extractDate, manifest?.extractDate) {
        case (let flag?, let file?) where flag != file:
            summary.warnings.append("the extract date given, \(flag), differs from extract.json's extract_date \(file); using \(flag)")
            run.extractDate = flag
        case (let flag?, _): run.extractDate = flag
        case (nil, let file?): run.extractDate = file
        case (nil, nil):
            throw RecruitError.refused("no extract date: the extract has no extract.json with extract_date", remedy: .give(.extractDate, "YYYY-MM-DD"))
        }
        let extractDate = run.extractDate!
        summary.extractDate = extractDate.description
        try db.connection.execute("UPDATE loads SET extract_date = \(extractDate) WHERE load_id = \(run.loadID)")

        // The files.
        let profile = options.profile
        for kind in CanonicalFile.allCases {
            run.files[kind] = try ExtractFiles.locate(profile.files[kind]!.file, in: options.directory, what: kind.rawValue)
        }
        if !options.force, let same = try alreadyLoaded(&run, &summary) {
            run.sameAsLoad = same
            summary.status = .unchanged
            summary.reason = "these files (by SHA-256) were already loaded for the same practices by load \(same); nothing to do"
            return
        }
        for (name, spec) in profile.dictionaries.sorted(by: { $0.key < $1.key }) {
            progress?.step("reading dictionary \(name) (\(spec.file))")
            let table = try LookupTable(spec: spec, directory: options.directory, profile: profile)
            run.dictionaries[name] = table
            if table.conflictingKeys > 0 {
                summary.warnings.append("\(table.fileName): \(table.conflictingKeys) key(s) appear more than once with different values; the first is used")
            }
        }
        // Check every header before streaming anything.
        for kind in CanonicalFile.allCases {
            let spec = profile.files[kind]!
            let reader = try DelimitedReader(url: run.files[kind]!, options: spec.format.readerOptions)
            let plan = try FileStreamer.readHeader(reader, spec: spec, profile: profile, dictionaries: run.dictionaries)
            if !plan.unknownColumns.isEmpty {
                summary.warnings.append("\(reader.name): column(s) \(plan.unknownColumns.joined(separator: ", ")) are not part of the format; ignored")
            }
        }

        // First pass over patients: ids, practices, duplicates.
        let patientsURL = run.files[.patients]!
        let registry = PatientRegistry(expectedPatients: max(1024, Self.size(patientsURL) / 40))
        run.registry = registry
        let control = LoadControl()
        let spoolDirectory = FileManager.default.temporaryDirectory
        var eventsSplit: [UInt8]? = nil
        func input(_ kind: CanonicalFile) -> FileStreamer.Input {
            FileStreamer.Input(kind: kind, url: run.files[kind]!, spec: profile.files[kind]!, profile: profile,
                               dictionaries: run.dictionaries, registry: registry, loadID: run.loadID,
                               extractDay: DateFormat.dayNumber(year: extractDate.year, month: extractDate.month, day: extractDate.day)!,
                               maxRejectRate: options.maxRejectRate, spoolDirectory: spoolDirectory,
                               splitKey: kind == .events ? eventsSplit : nil)
        }
        progress?.step("checking patients (first pass)")
        let firstPassStarted = Date()
        let firstPass = try FileStreamer(input(.patients), control: control, progress: nil).stream(registering: true, writers: [])
        summary.timings["patients_first_pass_s"] = (Date().timeIntervalSince(firstPassStarted) * 1000).rounded() / 1000
        // Over the threshold already: the second pass only records the patients' rejects, then the load is refused.
        run.patientsOverThreshold = firstPass.exceeds(options.maxRejectRate)
        // On Citus (issue 18) the events are not split: a load's table is a
        // partition of the distributed `events`, and Citus does not support a
        // second level of partitioning; its COPY is spread over the shards anyway.
        run.distributed = try Distribution.isDistributed(db.connection)
        eventsSplit = run.distributed ? nil : registry.medianPatientID()
        run.eventsSplit = eventsSplit
        let loadable = registry.loadablePractices()
        run.practices = loadable.sorted { registry.practiceIDs[$0].lexicographicallyPrecedes(registry.practiceIDs[$1]) }
        let practiceIDs = run.practices.map { registry.practiceID($0) }
        if practiceIDs.isEmpty && !run.patientsOverThreshold {
            throw RecruitError.refused("\(patientsURL.lastPathComponent): no patient can be loaded, so the extract holds no practice")
        }
        if !options.dryRun && !run.patientsOverThreshold {
            try lockPractices(practiceIDs, &run)
        }
        run.before = try currentSnapshots(practiceIDs)

        // The streams.
        let results = try runStreams(run: run, input: input, control: control)
        for result in results {
            if let s = result.stats { run.stats[s.kind] = s }
            let name = result.kind.rawValue
            summary.timings["\(name)_copy_s"] = (result.copySeconds * 1000).rounded() / 1000
            summary.timings["\(name)_index_s"] = (result.indexSeconds * 1000).rounded() / 1000
            summary.timings["\(name)_commit_s"] = (result.commitSeconds * 1000).rounded() / 1000
        }
        try storeRejects(results)
        run.tablesCommitted = results.contains { $0.committed }
        if let error = results.compactMap(\.error).first(where: { !($0 is FileStreamer.Cancelled) }) {
            throw error
        }
        let overThreshold = CanonicalFile.allCases.filter { run.stats[$0]?.exceeds(options.maxRejectRate) == true }
        fillSummary(run, &summary)
        if !overThreshold.isEmpty {
            let parts = overThreshold.map { kind -> String in
                let s = run.stats[kind]!
                let share = s.rowsRead == 0 ? 0 : Double(s.rejected) / Double(s.rowsRead)
                return "\(s.fileName): \(s.rejected) of \(s.rowsRead) rows rejected (\(Self.percent(share))\(s.refusedEarly ? " before the end of the file" : ""))"
            }
            throw RecruitError.refused("too many rejected rows (threshold \(Self.percent(options.maxRejectRate)) of any one file): \(parts.joined(separator: "; ")). Nothing was changed; the rejects are kept in load_rejects for load \(run.loadID)")
        }
        try holdBack(run, &summary)
        if options.dryRun {
            summary.status = .dryRun
            summary.reason = "dry run: nothing was changed"
            return
        }
        try swap(&run, &summary)
        summary.status = .loaded
    }

    /// Step 6: the plausibility checks, per practice with an earlier snapshot (a
    /// new practice's findings are warnings). Every practice held back: the load is refused.
    private func holdBack(_ run: LoadRun, _ summary: inout LoadSummary) throws {
        let options = run.options
        let newest = run.stats[.events]?.newestDay ?? []
        for i in summary.practices.indices {
            let index = run.practices[i]
            let day = index < newest.count && newest[index] != .min ? LocalDate(dayNumber: Int(newest[index]) + 10_957) : nil
            summary.practices[i].newestEvent = day?.description
            let p = summary.practices[i]
            let findings = options.plausibility.findings(before: p.before, after: p.after, newestEvent: day, extractDate: run.extractDate!)
            if p.before == nil {
                // A practice new to the database has no earlier snapshot to keep: holding it back would only leave it out.
                for f in findings {
                    summary.warnings.append("practice \(p.practiceID) is new here and loaded although \(f.description)")
                }
            } else {
                summary.practices[i].findings = findings
            }
            summary.practices[i].accepted = !summary.practices[i].findings.isEmpty && options.accept.contains(p.practiceID)
        }
        let unknown = options.accept.subtracting(summary.practices.map(\.practiceID)).sorted()
        if !unknown.isEmpty {
            summary.warnings.append("accepted practice(s) not in this extract: \(unknown.joined(separator: ", "))")
        }
        for p in summary.practices where p.accepted {
            summary.warnings.append("practice \(p.practiceID) accepted although \(p.findings.map(\.description).joined(separator: "; "))")
        }
        let held = summary.practices.filter(\.heldBack)
        for p in held {
            summary.warnings.append("practice \(p.practiceID) held back, its earlier snapshot stays: \(p.findings.map(\.description).joined(separator: "; "))")
        }
        if !held.isEmpty && held.count == summary.practices.count {
            throw RecruitError.refused("every practice in the extract looks wrong and is held back (\(held.map(\.practiceID).joined(separator: ", "))); nothing was changed",
                                       remedy: .give(.acceptPractice, held[0].practiceID))
        }
    }

    static func percent(_ share: Double) -> String {
        String(format: "%.2f%%", share * 100)
    }

    /// Fills the per-file and per-practice parts of the summary from the streams' stats.
    func fillSummary(_ run: LoadRun, _ summary: inout LoadSummary) {
        summary.files = []
        var after: [Int: LoadSummary.Counts] = [:]
        var rejected: [Int: Int] = [:]
        for kind in CanonicalFile.allCases {
            guard let s = run.stats[kind] else { continue }
            var f = LoadSummary.FileSummary(kind: kind.rawValue, name: s.fileName, bytes: s.fileSize, sha256: s.sha256)
            f.rowsRead = s.rowsRead
            f.rowsLoaded = s.loaded
            f.rowsRejected = s.rejected
            f.rowsSkipped = s.skipped
            f.rejectRate = s.rowsRead == 0 ? 0 : Double(s.rejected) / Double(s.rowsRead)
            f.rejectReasons = s.reasons
            f.firstRejects = s.samples
            f.seconds = (s.seconds * 1000).rounded() / 1000
            summary.files.append(f)
            for (i, n) in s.rejectsPerPractice.enumerated() where n > 0 { rejected[i, default: 0] += n }
            for (i, n) in s.perPractice.enumerated() where n > 0 {
                var c = after[i] ?? LoadSummary.Counts()
                switch kind {
                case .patients: c.patients = n
                case .events: c.events = n
                case .prescriptions: c.prescriptions = n
                }
                after[i] = c
            }
        }
        for (name, table) in run.dictionaries.sorted(by: { $0.key < $1.key }) {
            summary.files.append(.init(kind: "dictionary:\(name)", name: table.fileName, bytes: table.fileSize, sha256: table.sha256,
                                       rowsRead: table.count, rowsLoaded: table.count))
        }
        summary.rowsRead = run.stats.values.reduce(0) { $0 + $1.rowsRead }
        summary.rowsLoaded = run.stats.values.reduce(0) { $0 + $1.loaded }
        summary.practices = []
        guard let registry = run.registry else { return }
        let loadable = Set(run.practices)
        summary.rowsRejectedWithoutPractice = run.stats.values.reduce(0) { $0 + $1.rejected }
            - rejected.filter { loadable.contains($0.key) }.values.reduce(0, +)
        for index in run.practices {
            let id = registry.practiceID(index)
            var p = LoadSummary.PracticeSummary(practiceID: id, after: after[index] ?? .init(), rejected: rejected[index] ?? 0)
            if let (load, date, counts) = run.before[id] {
                p.before = counts
                p.beforeLoadID = load
                p.beforeExtractDate = date
            }
            summary.practices.append(p)
        }
    }
}
