import Foundation
import Postgres

extension YieldReport {
    /// Builds the published report from unrounded counts.
    ///
    /// Every count the report prints becomes a cell of one ``DisclosureTable``,
    /// with the relations between them: each attrition chain and its totals,
    /// each funnel row's sub-totals, the month and practice totals, the links
    /// between a run's last step and the funnel's eligible count, and the
    /// printed rates. ``SmallNumberSuppression`` then decides what is shown.
    ///
    /// - Parameters:
    ///   - data: the counts read from the database.
    ///   - suppression: the rule, or nil for `--no-suppression`.
    ///   - generatedAt: the time stamp the report carries.
    public static func build(from data: YieldData, suppression: SmallNumberSuppression?,
                             generatedAt: Date = Date()) throws -> YieldReport {
        var builder = Builder(data: data)
        try builder.addAttrition()
        try builder.addFunnel()
        builder.addPractices()
        try builder.addProxy()
        try builder.addFlow()
        try builder.addProfiles()
        let protected = suppression.map { $0.protect(builder.table) } ?? SmallNumberSuppression.unsuppressed(builder.table)
        guard protected.unresolved.isEmpty else {
            throw RecruitError.refused("small-number suppression could not protect \(protected.unresolved.count) count(s) of the report "
                                       + "(every count near them is suppressed already); nothing was written. Report fewer runs or practices together.")
        }
        return builder.report(protected, suppression: suppression, generatedAt: generatedAt)
    }

    typealias Cell = DisclosureTable.Cell

    /// Lays the report's counts out as cells and relations.
    struct Builder {
        let data: YieldData
        var table = DisclosureTable()

        struct ChainCells {
            var runID: Int
            var practiceID: String
            var remaining: [Cell]
            var removed: [Cell]  // removed[k-1] is step k's
        }
        var chains: [ChainCells] = []
        /// Step labels and criteria per run.
        var stepInfo: [Int: [(criterion: String, label: String)]] = [:]
        /// (run, practice) → its chain; practice `__total__` for the run total.
        var chainIndex: [YieldData.RunPractice: Int] = [:]

        var months: [String] = []
        var practiceIDs: [String] = []
        /// (practice, month) → the funnel row's cells by measure.
        var funnelCells: [String: [String: [FunnelMeasure: Cell]]] = [:]
        var funnelRatios: [String: [String: [FunnelRate: Int]]] = [:]

        struct PracticeCells {
            var practiceID: String
            var runs: Int
            var registered: Cell
            var ratio: Int
        }
        var practiceCells: [PracticeCells] = []
        /// The proxy table's rows: by class, then the total (the funnel's cells).
        var proxyRows: [(proxy: String, label: String, cells: [FunnelMeasure: Cell], ratios: [FunnelRate: Int])] = []
        var denominator = Denominator(step: 0, label: "")
        /// The flow's boxes beyond the funnel's cells, per practice (and `__total__`), in order.
        var flowBoxes: [String: [(box: String, parent: String?, label: String, cell: Cell)]] = [:]
        /// The comparison rows by age band and sex: (dimension, group, label, cells, ratios).
        var profileRows: [(dimension: String, group: String, label: String, cells: [FunnelMeasure: Cell], ratios: [FunnelRate: Int])] = []

        init(data: YieldData) {
            self.data = data
        }

        // MARK: Attrition

        mutating func addAttrition() throws {
            var byRun: [Int: [YieldData.Step]] = [:]
            for s in data.steps { byRun[s.runID, default: []].append(s) }
            for run in data.runs {
                let steps = byRun[run.id] ?? []
                var byPractice: [(String, [YieldData.Step])] = []
                for s in steps {
                    if byPractice.last?.0 == s.practiceID { byPractice[byPractice.count - 1].1.append(s) } else { byPractice.append((s.practiceID, [s])) }
                }
                guard let first = byPractice.first else { continue }
                let info = first.1.map { (criterion: $0.criterion, label: $0.label) }
                if let odd = byPractice.first(where: { $0.1.count != info.count }) {
                    throw RecruitError.refused("run \(run.id): practice \(odd.0) has \(odd.1.count) yield steps, practice \(first.0) has \(info.count)")
                }
                stepInfo[run.id] = info
                var practiceChains: [ChainCells] = []
                for (practice, rows) in byPractice {
                    practiceChains.append(addChain(run: run.id, practice: practice, counts: rows.map(\.remaining), margin: false))
                }
                let totals = (0..<info.count).map { k in practiceChains.reduce(0) { $0 + table.value($1.remaining[k]) } }
                let total = addChain(run: run.id, practice: YieldReport.total, counts: totals, margin: true)
                for k in 0..<info.count {
                    table.relate(total: total.remaining[k], parts: practiceChains.map { $0.remaining[k] })
                    if k > 0 { table.relate(total: total.removed[k - 1], parts: practiceChains.map { $0.removed[k - 1] }) }
                }
            }
        }

        mutating func addChain(run: Int, practice: String, counts: [Int], margin: Bool) -> ChainCells {
            let remaining = counts.enumerated().map { table.add($1, name: "attrition \(run) \(practice) r\($0)", isMargin: margin) }
            var removed: [Cell] = []
            for k in counts.indices.dropFirst() {
                let d = table.add(counts[k - 1] - counts[k], name: "attrition \(run) \(practice) d\(k)", isMargin: margin)
                table.relate(total: remaining[k - 1], parts: [remaining[k], d])
                removed.append(d)
            }
            let chain = ChainCells(runID: run, practiceID: practice, remaining: remaining, removed: removed)
            chainIndex[YieldData.RunPractice(runID: run, practiceID: practice)] = chains.count
            chains.append(chain)
            return chain
        }

        func chain(_ run: Int, _ practice: String) -> ChainCells? {
            chainIndex[YieldData.RunPractice(runID: run, practiceID: practice)].map { chains[$0] }
        }

        // MARK: Funnel

        mutating func addFunnel() throws {
            months = Array(Set(data.runs.map(\.month))).sorted()
            practiceIDs = Array(Set(chains.map(\.practiceID)).subtracting([YieldReport.total])).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            // Which runs cover each practice in each month.
            var covering: [String: [String: [Int]]] = [:]
            for c in chains where c.practiceID != YieldReport.total {
                let month = data.runs.first { $0.id == c.runID }!.month
                covering[c.practiceID, default: [:]][month, default: []].append(c.runID)
            }
            for p in practiceIDs {
                for m in months {
                    guard let runs = covering[p]?[m] else { continue }
                    var counts: [FunnelMeasure: Int] = [:]
                    for run in runs {
                        for (measure, n) in data.outcomes[YieldData.RunPractice(runID: run, practiceID: p)] ?? [:] {
                            counts[measure, default: 0] += n
                        }
                        counts[.eligible, default: 0] += table.value(chain(run, p)!.remaining.last!)
                    }
                    counts[.ineligibleWorking] = (counts[.ineligibleInWork] ?? 0) + (counts[.ineligibleOffSickWithJob] ?? 0)
                    let cells = try addFunnelRow(p, m, counts: counts, margin: false)
                    table.relate(total: cells[.eligible]!, parts: runs.map { chain($0, p)!.remaining.last! })
                }
                let rows = months.compactMap { funnelCells[p]?[$0] }
                try addSumRow(p, YieldReport.allMonths, of: rows)
            }
            for m in months {
                let rows = practiceIDs.compactMap { funnelCells[$0]?[m] }
                let cells = try addSumRow(YieldReport.total, m, of: rows)
                let runs = data.runs.filter { $0.month == m }.compactMap { chain($0.id, YieldReport.total) }
                if !runs.isEmpty { table.relate(total: cells[.eligible]!, parts: runs.map { $0.remaining.last! }) }
            }
            let all = try addSumRow(YieldReport.total, YieldReport.allMonths, of: months.compactMap { funnelCells[YieldReport.total]?[$0] })
            let byPractice = practiceIDs.compactMap { funnelCells[$0]?[YieldReport.allMonths] }
            for measure in FunnelMeasure.allCases where !byPractice.isEmpty {
                table.relate(total: all[measure]!, parts: byPractice.map { $0[measure]! })
            }
        }

        @discardableResult
        mutating func addSumRow(_ practice: String, _ month: String, of rows: [[FunnelMeasure: Cell]]) throws -> [FunnelMeasure: Cell] {
            var counts: [FunnelMeasure: Int] = [:]
            for m in FunnelMeasure.allCases { counts[m] = rows.reduce(0) { $0 + table.value($1[m]!) } }
            let cells = try addFunnelRow(practice, month, counts: counts, margin: true)
            for m in FunnelMeasure.allCases where !rows.isEmpty {
                table.relate(total: cells[m]!, parts: rows.map { $0[m]! })
            }
            return cells
        }

        mutating func addFunnelRow(_ practice: String, _ month: String, counts: [FunnelMeasure: Int], margin: Bool) throws -> [FunnelMeasure: Cell] {
            let (cells, ratios) = try addMeasureRow("funnel \(practice) \(month)", counts: counts, margin: margin)
            funnelCells[practice, default: [:]][month] = cells
            funnelRatios[practice, default: [:]][month] = ratios
            return cells
        }

        /// One row of funnel measures: its cells, the relations within it, and its printed rates.
        mutating func addMeasureRow(_ name: String, counts: [FunnelMeasure: Int], margin: Bool) throws -> ([FunnelMeasure: Cell], [FunnelRate: Int]) {
            for (total, parts) in FunnelMeasure.rowRelations {
                let sum = parts.reduce(0) { $0 + (counts[$1] ?? 0) }
                guard sum == counts[total] ?? 0 else {
                    throw RecruitError.refused("\(name): \(total.rawValue) is \(counts[total] ?? 0) but its parts (\(parts.map(\.rawValue).joined(separator: ", "))) "
                                               + "add up to \(sum): the runs' lists and the recorded outcomes disagree; nothing was written")
                }
            }
            var cells: [FunnelMeasure: Cell] = [:]
            for m in FunnelMeasure.allCases {
                cells[m] = table.add(counts[m] ?? 0, name: "\(name) \(m.rawValue)", isMargin: margin)
            }
            for (total, parts) in FunnelMeasure.rowRelations {
                table.relate(total: cells[total]!, parts: parts.map { cells[$0]! })
            }
            var ratios: [FunnelRate: Int] = [:]
            for r in FunnelRate.allCases {
                ratios[r] = table.ratios.count
                table.publishRatio(cells[r.numerator]!, over: cells[r.denominator]!, format: .percent)
            }
            return (cells, ratios)
        }

        // MARK: Proxy

        /// The invitees' outcomes by the evidence that admitted them. The
        /// classes add up to the funnel's all-months total, cell by cell: that
        /// relation is part of the table, so a suppressed count cannot be
        /// recovered from the total and the other classes.
        mutating func addProxy() throws {
            guard let proxy = data.proxy, let all = funnelCells[YieldReport.total]?[YieldReport.allMonths],
                  let allRatios = funnelRatios[YieldReport.total]?[YieldReport.allMonths] else { return }
            for m in FunnelMeasure.allCases {
                let sum = proxy.counts.values.reduce(0) { $0 + ($1[m] ?? 0) }
                guard sum == table.value(all[m]!) else {
                    throw RecruitError.refused("the invitees' evidence for \(proxy.criterion) counts \(sum) as \(m.rawValue), the funnel \(table.value(all[m]!)): "
                                               + "the runs' lists and yields disagree; nothing was written")
                }
            }
            var classRows: [[FunnelMeasure: Cell]] = []
            for cls in proxy.counts.keys.sorted() {
                let (cells, ratios) = try addMeasureRow("proxy \(cls.key)", counts: proxy.counts[cls]!, margin: false)
                proxyRows.append((cls.key, cls.label, cells, ratios))
                classRows.append(cells)
            }
            for m in FunnelMeasure.allCases where !classRows.isEmpty {
                table.relate(total: all[m]!, parts: classRows.map { $0[m]! })
            }
            proxyRows.append((YieldReport.total, "All invitees", all, allRatios))
        }

        // MARK: The study's flow

        /// The flow past the list, per practice and in total: the screened-out
        /// and decliners by reason code, each referral channel's box, and the
        /// consented by channel. The funnel's cells are the letter's boxes; the
        /// cells added here are related to them and to each other (practices
        /// add up to the total), so nothing suppressed can be recovered.
        mutating func addFlow() throws {
            var codes: [CodedOutcome: Set<String>] = [:]
            for byKind in data.reasonCodes.values { for (kind, counts) in byKind { codes[kind, default: []].formUnion(counts.keys) } }
            let channels = ContactChannel.referrals.filter { c in data.referrals.values.contains { $0[c] != nil } }
            // The default vocabularies' order first, other codes by name, "not coded" last.
            func ordered(_ set: Set<String>, _ kind: CodedOutcome) -> [String] {
                let known = (ReasonCodes.defaults.codes[kind.rawValue] ?? []).filter(set.contains)
                return known + set.subtracting(known + [FlowCounts.notCoded]).sorted() + (set.contains(FlowCounts.notCoded) ? [FlowCounts.notCoded] : [])
            }
            var practiceBoxes: [[String: Cell]] = []
            for p in practiceIDs + [YieldReport.total] {
                let isTotal = p == YieldReport.total
                guard let funnel = funnelCells[p]?[YieldReport.allMonths] else { continue }
                var boxes: [(box: String, parent: String?, label: String, cell: Cell)] = []
                func add(_ box: String, parent: String?, label: String, value: Int) -> Cell {
                    let cell: Cell
                    if isTotal {
                        let parts = practiceBoxes.compactMap { $0[box] }
                        cell = table.add(parts.reduce(0) { $0 + table.value($1) }, name: "flow \(p) \(box)", isMargin: true)
                        table.relate(total: cell, parts: parts)
                    } else {
                        cell = table.add(value, name: "flow \(p) \(box)")
                    }
                    boxes.append((box, parent, label, cell))
                    return cell
                }
                for kind in CodedOutcome.allCases {
                    let kindCodes = ordered(codes[kind] ?? [], kind)
                    guard !kindCodes.isEmpty else { continue }
                    let cells = kindCodes.map { code in
                        add("\(kind.rawValue):\(code)", parent: kind.rawValue, label: code == FlowCounts.notCoded ? "No reason code" : Self.codeLabel(code),
                            value: data.reasonCodes[p]?[kind]?[code] ?? 0)
                    }
                    let whole = table.value(funnel[kind.measure]!), sum = cells.reduce(0) { $0 + table.value($1) }
                    guard whole == sum else {
                        throw RecruitError.refused("practice \(p): \(sum) \(kind.rawValue) invitees by reason code, \(whole) in the funnel; nothing was written")
                    }
                    table.relate(total: funnel[kind.measure]!, parts: cells)
                }
                var consentParts = [funnel[.consented]!]
                for channel in channels {
                    let counts = data.referrals[p]?[channel] ?? [:]
                    let key = "referral:\(channel.rawValue)"
                    var cells: [ReferralMeasure: Cell] = [:]
                    for m in ReferralMeasure.allCases {
                        cells[m] = add(m == .referred ? key : "\(key):\(m.rawValue)", parent: m == .referred ? nil : key,
                                       label: m == .referred ? Self.channelLabel(channel) : m.label, value: counts[m] ?? 0)
                    }
                    for parts in ReferralMeasure.relations {
                        let sum = parts.reduce(0) { $0 + table.value(cells[$1]!) }
                        guard sum == table.value(cells[.referred]!) else {
                            throw RecruitError.refused("practice \(p): the \(channel.rawValue) referrals do not add up; nothing was written")
                        }
                        table.relate(total: cells[.referred]!, parts: parts.map { cells[$0]! })
                    }
                    consentParts.append(cells[.consented]!)
                }
                if !channels.isEmpty {
                    let all = add("consented:all", parent: nil, label: "Consented, every channel", value: consentParts.reduce(0) { $0 + table.value($1) })
                    table.relate(total: all, parts: consentParts)
                }
                if !isTotal { practiceBoxes.append(Dictionary(uniqueKeysWithValues: boxes.map { ($0.box, $0.cell) })) }
                flowBoxes[p] = boxes
            }
        }

        /// A reason code in words: `recent_life_event` → "Recent life event".
        static func codeLabel(_ code: String) -> String {
            let words = code.replacingOccurrences(of: "_", with: " ")
            return words.prefix(1).uppercased() + words.dropFirst()
        }

        static func channelLabel(_ c: ContactChannel) -> String {
            switch c {
            case .letter: return "Letter"
            case .selfReferral: return "Self-referral"
            case .gpReferral: return "GP referral"
            case .other: return "Other route"
            }
        }

        /// Responders against non-responders (and the consented against the
        /// rest) by age band and by sex: full funnel rows per group, adding up
        /// to the funnel's all-months total cell by cell.
        mutating func addProfiles() throws {
            guard let all = funnelCells[YieldReport.total]?[YieldReport.allMonths] else { return }
            for dimension in ProfileDimension.allCases {
                guard let groups = data.profiles[dimension], !groups.isEmpty else { continue }
                var rows: [[FunnelMeasure: Cell]] = []
                for group in dimension.sorted(groups.keys) {
                    var counts = groups[group]!
                    counts[.ineligibleWorking] = (counts[.ineligibleInWork] ?? 0) + (counts[.ineligibleOffSickWithJob] ?? 0)
                    let (cells, ratios) = try addMeasureRow("\(dimension.rawValue) \(group)", counts: counts, margin: false)
                    profileRows.append((dimension.rawValue, group, dimension.groupLabel(group), cells, ratios))
                    rows.append(cells)
                }
                for m in FunnelMeasure.allCases {
                    let sum = rows.reduce(0) { $0 + table.value($1[m]!) }
                    guard sum == table.value(all[m]!) else {
                        throw RecruitError.refused("the invitees by \(dimension.rawValue) count \(sum) as \(m.rawValue), the funnel \(table.value(all[m]!)); nothing was written")
                    }
                    table.relate(total: all[m]!, parts: rows.map { $0[m]! })
                }
            }
        }

        // MARK: Practices

        mutating func addPractices() {
            // The list size: the count after the first criterion (registered at the index date
            // in the reference cohort), else the extract.
            let latest = data.runs.last { stepInfo[$0.id] != nil }
            let latestInfo = latest.flatMap { stepInfo[$0.id] } ?? []
            denominator = latestInfo.count > 1 ? Denominator(step: 1, label: latestInfo[1].label)
                : Denominator(step: 0, label: latestInfo.first?.label ?? "In the extract")
            var registeredCells: [Cell] = []
            for p in practiceIDs {
                let runChains = data.runs.compactMap { chain($0.id, p) }
                let parts = runChains.map { $0.remaining[min(denominator.step, $0.remaining.count - 1)] }
                let registered = table.add(parts.reduce(0) { $0 + table.value($1) }, name: "registered \(p)")
                table.relate(total: registered, parts: parts)
                let ratio = table.ratios.count
                table.publishRatio(funnelCells[p]![YieldReport.allMonths]![.eligible]!, over: registered, format: .perThousand)
                practiceCells.append(PracticeCells(practiceID: p, runs: runChains.count, registered: registered, ratio: ratio))
                registeredCells.append(registered)
            }
            let registered = table.add(registeredCells.reduce(0) { $0 + table.value($1) }, name: "registered total", isMargin: true)
            table.relate(total: registered, parts: registeredCells)
            let runTotals = data.runs.compactMap { chain($0.id, YieldReport.total) }
            table.relate(total: registered, parts: runTotals.map { $0.remaining[min(denominator.step, $0.remaining.count - 1)] })
            let ratio = table.ratios.count
            if let eligible = funnelCells[YieldReport.total]?[YieldReport.allMonths]?[.eligible] {
                table.publishRatio(eligible, over: registered, format: .perThousand)
                practiceCells.append(PracticeCells(practiceID: YieldReport.total, runs: runTotals.count, registered: registered, ratio: ratio))
            }
        }

        // MARK: Publishing

        func report(_ p: ProtectedTable, suppression: SmallNumberSuppression?, generatedAt: Date) -> YieldReport {
            let runsByID = Dictionary(uniqueKeysWithValues: data.runs.map { ($0.id, $0) })
            var attrition: [AttritionRow] = []
            for c in chains {
                let run = runsByID[c.runID]!
                let info = stepInfo[c.runID]!
                for k in c.remaining.indices {
                    attrition.append(AttritionRow(runID: c.runID, indexDate: run.indexDate.description, practiceID: c.practiceID,
                                                  step: k, criterion: info[k].criterion, label: info[k].label,
                                                  remaining: p[c.remaining[k]], removed: k == 0 ? nil : p[c.removed[k - 1]]))
                }
            }
            // Practices in byte order, the total last; within a run, steps in order.
            let rank = { (id: String) in id == YieldReport.total ? 1 : 0 }
            attrition.sort {
                ($0.runID, rank($0.practiceID)) != ($1.runID, rank($1.practiceID)) ? ($0.runID, rank($0.practiceID)) < ($1.runID, rank($1.practiceID))
                    : $0.practiceID != $1.practiceID ? $0.practiceID.utf8.lexicographicallyPrecedes($1.practiceID.utf8) : $0.step < $1.step
            }

            var funnel: [FunnelRow] = []
            for practice in practiceIDs + [YieldReport.total] {
                for month in months + [YieldReport.allMonths] {
                    guard let cells = funnelCells[practice]?[month], let ratios = funnelRatios[practice]?[month] else { continue }
                    var counts: [String: PublishedCount] = [:]
                    for (m, cell) in cells { counts[m.rawValue] = p[cell] }
                    var rates: [String: String?] = [:]
                    for (r, index) in ratios { rates[r.rawValue] = .some(p.rate(index)) }
                    funnel.append(FunnelRow(practiceID: practice, month: month, counts: counts, rates: rates))
                }
            }

            let practices = practiceCells.map { pc -> PracticeRow in
                let cells = funnelCells[pc.practiceID]![YieldReport.allMonths]!
                return PracticeRow(practiceID: pc.practiceID, runs: pc.runs, registered: p[pc.registered],
                                   eligible: p[cells[.eligible]!], invited: p[cells[.invited]!], responded: p[cells[.responded]!],
                                   consented: p[cells[.consented]!], eligiblePer1000: p.rate(pc.ratio))
            }

            let runs = data.runs.map { r in
                RunFacts(runID: r.id, status: r.status.rawValue, indexDate: r.indexDate.description, month: r.month,
                         cohortVersion: r.cohortVersion, cohortSHA256: r.cohortSHA256, toolVersion: r.toolVersion,
                         issuedAt: r.issuedAt, practices: chains.filter { $0.runID == r.id && $0.practiceID != YieldReport.total }.count,
                         supersededPractices: r.supersededPractices, codelists: r.codelists,
                         steps: (stepInfo[r.id] ?? []).enumerated().map { k, info in
                             StepFacts(step: k, criterion: info.criterion, label: info.label, effect: k == 0 ? nil : r.effects[info.criterion],
                                       safeguard: k > 0 && r.safeguards.contains(info.criterion))
                         })
            }
            let proxy = data.proxy.map { counts in
                ProxySection(criterion: counts.criterion, label: counts.label, rows: proxyRows.map { row in
                    ProxyRow(proxy: row.proxy, label: row.label,
                             counts: Dictionary(uniqueKeysWithValues: row.cells.map { ($0.rawValue, p[$1]) }),
                             rates: row.ratios.reduce(into: [String: String?]()) { $0[$1.key.rawValue] = .some(p.rate($1.value)) })
                })
            }
            var flow: [FlowBox] = []
            for practice in practiceIDs + [YieldReport.total] {
                guard let cells = funnelCells[practice]?[YieldReport.allMonths] else { continue }
                let added = flowBoxes[practice] ?? []
                for (box, parent, m) in YieldReport.letterFlow {
                    flow.append(FlowBox(practiceID: practice, box: box, parent: parent, label: YieldReport.flowLabel(m), count: p[cells[m]!]))
                    for a in added where a.parent == box {
                        flow.append(FlowBox(practiceID: practice, box: a.box, parent: a.parent, label: a.label, count: p[a.cell]))
                    }
                }
                for a in added where a.parent == nil || a.parent!.hasPrefix("referral:") {
                    flow.append(FlowBox(practiceID: practice, box: a.box, parent: a.parent, label: a.label, count: p[a.cell]))
                }
            }
            func comparison(_ dimension: String, _ group: String, _ label: String, _ cells: [FunnelMeasure: Cell], _ ratios: [FunnelRate: Int]) -> ComparisonRow {
                ComparisonRow(dimension: dimension, group: group, label: label,
                              counts: Dictionary(uniqueKeysWithValues: ComparisonRow.measures.map { ($0.rawValue, p[cells[$0]!]) }),
                              rates: Dictionary(uniqueKeysWithValues: ComparisonRow.rates.map { ($0.rawValue, p.rate(ratios[$0]!)) }))
            }
            var comparisons: [ComparisonRow] = []
            if let all = funnelCells[YieldReport.total]?[YieldReport.allMonths], let allRatios = funnelRatios[YieldReport.total]?[YieldReport.allMonths] {
                for practice in practiceIDs {
                    comparisons.append(comparison("practice", practice, practice, funnelCells[practice]![YieldReport.allMonths]!,
                                                  funnelRatios[practice]![YieldReport.allMonths]!))
                }
                comparisons.append(comparison("practice", YieldReport.total, "All practices", all, allRatios))
                for row in proxyRows {
                    comparisons.append(comparison("evidence", row.proxy, row.label, row.cells, row.ratios))
                }
                for dimension in ProfileDimension.allCases {
                    let rows = profileRows.filter { $0.dimension == dimension.rawValue }
                    guard !rows.isEmpty else { continue }
                    for row in rows { comparisons.append(comparison(row.dimension, row.group, row.label, row.cells, row.ratios)) }
                    comparisons.append(comparison(dimension.rawValue, YieldReport.total, "All invitees", all, allRatios))
                }
            }
            var versions: [String] = []
            for r in data.runs where !versions.contains(r.cohortVersion) { versions.append(r.cohortVersion) }
            let rule = suppression.map(\.statement)
                ?? "None: exact counts (suppression turned off). For use inside the practice only: do not send this report outside it."
            return YieldReport(
                cohortName: data.cohortName, cohortVersions: versions,
                generatedAt: YieldReport.timestamp(generatedAt), toolVersion: ToolInfo.version,
                suppression: Suppression(applied: suppression != nil, rule: rule, smallCounts: p.smallCount, secondaryCounts: p.secondaryCount),
                denominator: denominator, months: months, runs: runs, attrition: attrition, funnel: funnel, practices: practices,
                proxy: proxyRows.isEmpty ? nil : proxy, flow: flow, comparisons: comparisons)
        }
    }

    /// The list's boxes of the flow, in order: (box, parent, the funnel measure it shows).
    static let letterFlow: [(String, String?, FunnelMeasure)] = [
        ("listed", nil, .eligible),
        ("screened_out", "listed", .screenedOut), ("not_invited", "listed", .notInvited),
        ("review_not_recorded", "listed", .reviewNotRecorded), ("invited", "listed", .invited),
        ("no_reply", "invited", .noReply), ("replied", "invited", .replied),
        ("declined", "replied", .declined), ("opted_out", "replied", .optedOut), ("responded", "replied", .responded),
        ("ineligible", "responded", .ineligible),
        ("ineligible:in_work", "ineligible", .ineligibleInWork), ("ineligible:off_sick_with_job", "ineligible", .ineligibleOffSickWithJob),
        ("ineligible:not_chronic_pain", "ineligible", .ineligibleNotChronicPain), ("ineligible:other", "ineligible", .ineligibleOther),
        ("ineligible:not_recorded", "ineligible", .ineligibleReasonNotRecorded),
        ("screened_eligible", "responded", .screenedEligible),
        ("consented", "screened_eligible", .consented), ("eligible_not_consented", "screened_eligible", .eligibleNotConsented),
        ("withdrawn", "consented", .withdrawn),
    ]

    static func flowLabel(_ m: FunnelMeasure) -> String {
        switch m {
        case .eligible: return "On the list"
        case .responded: return "Replied and screened by the study"
        default: return m.label
        }
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
