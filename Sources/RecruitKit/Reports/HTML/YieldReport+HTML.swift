extension YieldReport {
    /// `report.html`: one self-contained page (inline CSS and SVG, no scripts,
    /// nothing fetched), readable at a phone's width and printable.
    public var html: String {
        HTMLPage(report: self).render()
    }
}

/// Lays out `report.html`.
struct HTMLPage {
    let report: YieldReport

    var totalAll: YieldReport.FunnelRow? { report.funnelRow(YieldReport.total, YieldReport.allMonths) }
    var practiceRows: [YieldReport.PracticeRow] { report.practices.filter { $0.practiceID != YieldReport.total } }
    var overallPractice: YieldReport.PracticeRow? { report.practices.first { $0.practiceID == YieldReport.total } }

    func render() -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Recruitment yields: \(e(report.cohortName))</title>
            <style>\(Self.css)</style>
            </head>
            <body>

            """
        out += header()
        out += summary()
        out += attrition()
        out += practices()
        out += funnel()
        out += proxy()
        out += flow()
        out += comparisons()
        out += trend()
        out += facts()
        out += "</body>\n</html>\n"
        return out
    }

    func e(_ s: String) -> String { SVG.escape(s) }

    /// What ≤7 and * mean, under each chart and table that may show them.
    var legend: String {
        guard report.suppression.applied else { return "" }
        return "<p class=\"legend\"><span class=\"key\">≤7</span> a count from 1 to 7 · <span class=\"key\">*</span> hidden so that "
            + "a ≤7 elsewhere cannot be worked out from the other numbers · other counts rounded to the nearest 5</p>\n"
    }
    func c(_ p: PublishedCount) -> String { SVG.count(p) }

    // MARK: Header and summary

    func header() -> String {
        let runs = report.runs
        let first = runs.first?.indexDate ?? "", last = runs.last?.indexDate ?? ""
        let dates = first == last ? "index date \(first)" : "index dates \(first) to \(last)"
        let statuses = Set(runs.map(\.status))
        let drafts = statuses.contains(RunStatus.draft.rawValue) ? " Includes runs not yet issued (draft): their lists may still change." : ""
        var out = """
            <header>
            <p class="kicker">recruit · yield report</p>
            <h1>Recruitment yields: \(e(report.cohortName))</h1>
            <p class="lede">\(runs.count) run\(runs.count == 1 ? "" : "s") (\(dates)) across \(practiceRows.count) practice\(practiceRows.count == 1 ? "" : "s"). \
            Cohort version \(e(report.cohortVersions.joined(separator: ", "))). Generated \(e(report.generatedAt)) by recruit \(e(report.toolVersion)).\(e(drafts))</p>

            """
        if report.suppression.applied {
            out += """
                <p class="notice" id="suppression-notice"><strong>Small numbers are suppressed.</strong> \(e(report.suppression.rule)) \
                In this report: \(report.suppression.smallCounts) counts shown as ≤7, \(report.suppression.secondaryCounts) shown as *.</p>

                """
        } else {
            out += """
                <p class="notice danger" id="suppression-notice"><strong>Not suppressed: exact counts.</strong> This report was made with \
                small-number suppression turned off, for use inside the practice only. Do not send it to anyone outside the practice.</p>

                """
        }
        out += """
            <nav><a href="#attrition">Attrition</a> · <a href="#practices">By practice</a> · <a href="#funnel">Funnel</a> · \
            <a href="#trend">By month</a> · <a href="#facts">About</a></nav>
            </header>

            """
        return out
    }

    func summary() -> String {
        guard let all = totalAll else { return "" }
        let latest = report.latestRun
        let latestEligible = latest.flatMap { report.attrition(run: $0.runID).last?.remaining }
        var cards: [(String, String, String)] = []
        if let latest, let latestEligible {
            cards.append(("Eligible in the latest run", c(latestEligible), "run \(latest.runID), \(latest.indexDate)"))
        }
        cards.append(("Invited", c(all[.invited]), "all runs"))
        cards.append(("Responded", c(all[.responded]), all.rate(.respondedOfInvited).map { "\($0)% of invited" } ?? "all runs"))
        cards.append(("Consented", c(all[.consented]), all.rate(.consentedOfResponded).map { "\($0)% of responders" } ?? "all runs"))
        var out = "<section id=\"summary\" class=\"cards\">\n"
        for (title, value, note) in cards {
            out += "<div class=\"card\"><div class=\"card-title\">\(e(title))</div><div class=\"card-value\">\(e(value))</div><div class=\"card-note\">\(e(note))</div></div>\n"
        }
        if all[.eligible] == .rounded(0) || all[.eligible] == .exact(0) {
            out += "<p class=\"empty\" id=\"no-eligible\">No patient was eligible in the selected runs: there is no one to invite yet. The attrition flow below shows which criterion removed everyone.</p>\n"
        }
        return out + "</section>\n"
    }

    // MARK: Attrition

    func attrition() -> String {
        guard let latest = report.latestRun else { return "" }
        let rows = report.attrition(run: latest.runID)
        var out = """
            <section id="attrition">
            <h2>Who the search found</h2>
            <p class="explain">Run \(latest.runID) (index date \(e(latest.indexDate)), \(latest.practices) practice\(latest.practices == 1 ? "" : "s")). \
            Each box is one criterion of the cohort, applied in order, with the patients who still qualify; the box beside each arrow \
            counts the patients that criterion removed.</p>
            <figure>\(AttritionFlowChart(rows: rows, steps: report.steps(run: latest.runID)).svg)</figure>
            \(legend)
            """
        out += attritionByRun()
        return out + "</section>\n"
    }

    /// The total attrition of each run, steps down, runs across (the latest six).
    func attritionByRun() -> String {
        let runs = Array(report.runs.suffix(6))
        guard runs.count > 1, let latest = runs.last else { return "" }
        let steps = report.attrition(run: latest.runID)
        var out = "<h3>Remaining after each criterion, by run</h3>\n"
        if report.runs.count > runs.count {
            out += "<p class=\"explain\">The latest \(runs.count) of \(report.runs.count) runs; attrition.csv has all of them.</p>\n"
        }
        out += "<div class=\"scroll\"><table id=\"attrition-table\"><thead><tr><th>Step</th>"
        for r in runs { out += "<th class=\"num\">Run \(r.runID)<br><span class=\"sub\">\(e(r.indexDate))</span></th>" }
        out += "</tr></thead><tbody>\n"
        let facts = report.steps(run: latest.runID)
        var inSafeguards = false
        for s in steps {
            let fact = facts.first { $0.step == s.step }
            let effect = fact?.effect
            if fact?.safeguard == true && !inSafeguards {
                inSafeguards = true
                out += "<tr class=\"section\"><th colspan=\"\(runs.count + 1)\">\(e(Safeguards.section)): the deployment's, whatever the cohort file says</th></tr>\n"
            }
            out += "<tr><td>\(s.step == 0 ? "" : "\(s.step). ")\(e(AttritionFlowChart.boxLabel(s, effect: effect)))</td>"
            for r in runs {
                let row = report.attrition(run: r.runID).first { $0.step == s.step && $0.criterion == s.criterion }
                out += "<td class=\"num\">\(row.map { c($0.remaining) } ?? "–")</td>"
            }
            out += "</tr>\n"
        }
        return out + "</tbody></table></div>\n"
    }

    // MARK: Practices

    func practices() -> String {
        let chart = PracticeYieldChart(practices: practiceRows, overall: overallPractice, denominatorLabel: report.denominator.label)
        let pooled = report.runs.count > 1 ? " All \(report.runs.count) runs are pooled: the eligible of every run over the registered of every run." : ""
        var out = """
            <section id="practices">
            <h2>Yield by practice</h2>
            <p class="explain">Eligible patients per 1,000 registered, so that practices of different sizes compare; \
            registered means “\(e(report.denominator.label))” (step \(report.denominator.step) of the attrition).\(pooled) \
            \(chart.usesBars ? "" : "One dot per practice, highest first. ")The vertical line is all practices together.</p>
            <figure>\(chart.svg)</figure>
            <div class="scroll"><table id="practice-table"><thead><tr><th>Practice</th><th class="num">Runs</th><th class="num">Registered</th>\
            <th class="num">Eligible</th><th class="num">Per 1,000</th><th class="num">Invited</th><th class="num">Responded</th>\
            <th class="num">Consented</th></tr></thead><tbody>

            """
        for p in practiceRows + (overallPractice.map { [$0] } ?? []) {
            let isTotal = p.practiceID == YieldReport.total
            out += "<tr\(isTotal ? " class=\"total\"" : "")><td>\(isTotal ? "All practices" : e(p.practiceID))</td><td class=\"num\">\(p.runs)</td>"
            out += "<td class=\"num\">\(c(p.registered))</td><td class=\"num\">\(c(p.eligible))</td><td class=\"num\">\(p.eligiblePer1000 ?? "–")</td>"
            out += "<td class=\"num\">\(c(p.invited))</td><td class=\"num\">\(c(p.responded))</td><td class=\"num\">\(c(p.consented))</td></tr>\n"
        }
        return out + "</tbody></table></div>\n\(legend)</section>\n"
    }

    // MARK: Funnel

    func funnel() -> String {
        guard let all = totalAll else { return "" }
        func note(_ r: FunnelRate, _ text: String) -> String? { all.rate(r).map { "\($0)% \(text)" } }
        let stages = BarListChart(id: "funnel", title: "Recruitment funnel, all runs and practices", items: [
            .init(id: "eligible", label: "Eligible (on the lists)", count: all[.eligible], note: nil),
            .init(id: "invited", label: "Invited", count: all[.invited], note: note(.invitedOfEligible, "of eligible")),
            .init(id: "responded", label: "Responded", count: all[.responded], note: note(.respondedOfInvited, "of invited")),
            .init(id: "screened-eligible", label: "Eligible on screening", count: all[.screenedEligible], note: nil),
            .init(id: "consented", label: "Consented", count: all[.consented], note: note(.consentedOfResponded, "of responders")),
        ], scaleTo: all[.eligible].number, barClass: "bar funnel-bar")
        let reasons = BarListChart(id: "ineligible-reasons", title: "Why responders were ineligible", items: [
            .init(id: "in-work", label: "In work", count: all[.ineligibleInWork], note: nil),
            .init(id: "off-sick", label: "Off sick with a job", count: all[.ineligibleOffSickWithJob], note: nil),
            .init(id: "not-chronic", label: "Pain not chronic", count: all[.ineligibleNotChronicPain], note: nil),
            .init(id: "other", label: "Other reason", count: all[.ineligibleOther], note: nil),
            .init(id: "not-recorded", label: "Reason not recorded", count: all[.ineligibleReasonNotRecorded], note: nil),
        ], scaleTo: nil, barClass: "bar reason-bar")
        let precision = all.rate(.consentedOfResponded).map { "<strong>\($0)%</strong> of responders consented" }
            ?? "the share of responders who consented is not shown (a count is suppressed)"
        let working = all.rate(.workingOfResponded).map { "<strong>\($0)%</strong> of responders were in work or off sick with a job" }
            ?? "the share of responders in work or off sick with a job is not shown (a count is suppressed)"
        return """
            <section id="funnel">
            <h2>From search to consent</h2>
            <p class="explain">All runs and practices together, from the outcomes practices recorded. Percentages are of the stage \
            before, computed from exact counts.</p>
            <figure>\(stages.svg)</figure>
            <p class="explain">Before any letter: \(c(all[.screenedOut])) screened out by the GP, \(c(all[.notInvited])) not invited \
            for another reason. After it: \(c(all[.declined])) declined, \(c(all[.optedOut])) opted out, \(c(all[.withdrawn])) withdrew after consenting.</p>
            <p class="explain" id="precision">Precision of the search: \(precision); \(working). The search uses fit notes as a proxy for \
            being out of work, so letters also reach people with a job to return to.</p>
            <h3>Why responders were ineligible (\(c(all[.ineligible])) in all)</h3>
            <figure>\(reasons.svg)</figure>
            \(legend)</section>

            """
    }

    // MARK: Proxy

    /// Outcomes by the out-of-work evidence that admitted each invitee.
    func proxy() -> String {
        guard let proxy = report.proxy else { return "" }
        let columns: [(FunnelMeasure, String)] = [
            (.eligible, "Invitees"), (.invited, "Invited"), (.responded, "Responded"), (.ineligibleInWork, "In work"),
            (.ineligibleOffSickWithJob, "Off sick with a job"), (.screenedEligible, "Eligible on screening"), (.consented, "Consented"),
        ]
        let rates: [(FunnelRate, String)] = [(.workingOfResponded, "% of responders in work or off sick"), (.consentedOfResponded, "% of responders consented")]
        var out = """
            <section id="proxy">
            <h2>Which out-of-work evidence works</h2>
            <p class="explain">Every invitee counted once, by the evidence that put them through “\(e(proxy.label))” \
            (criterion \(e(proxy.criterion))): a current sickness-certification spell, a fit note, or an unemployment code. \
            The share of responders found in work or off sick with a job is the proxy's miss rate: the lower, the fewer letters \
            reach people the study cannot recruit. The rows add up to the last row, all runs and practices together.</p>
            <div class="scroll"><table id="proxy-table"><thead><tr><th>Evidence</th>
            """ + columns.map { "<th class=\"num\">\(e($0.1))</th>" }.joined() + rates.map { "<th class=\"num\">\(e($0.1))</th>" }.joined()
            + "</tr></thead><tbody>\n"
        for row in proxy.rows {
            let isTotal = row.proxy == YieldReport.total
            out += "<tr\(isTotal ? " class=\"total\"" : "")><td>\(e(row.label))</td>"
            for (m, _) in columns { out += "<td class=\"num\">\(c(row[m]))</td>" }
            for (r, _) in rates { out += "<td class=\"num\">\(row.rate(r) ?? "–")</td>" }
            out += "</tr>\n"
        }
        return out + "</tbody></table></div>\n\(legend)</section>\n"
    }

    // MARK: The study's flow

    /// The flow past the list (CONSORT): the total's boxes as a nested diagram,
    /// then the main boxes per practice.
    func flow() -> String {
        let total = report.flow.filter { $0.practiceID == YieldReport.total }
        guard !total.isEmpty else { return "" }
        var children: [String: [YieldReport.FlowBox]] = [:]
        for b in total { children[b.parent ?? "", default: []].append(b) }
        func node(_ b: YieldReport.FlowBox) -> String {
            let kids = children[b.box] ?? []
            var out = "<li><div class=\"fbox\" id=\"flow-\(e(b.box.replacingOccurrences(of: ":", with: "-")))\">"
                + "<span class=\"flabel\">\(e(b.label))</span> <span class=\"fcount\">\(c(b.count))</span></div>"
            if !kids.isEmpty { out += "<ul>" + kids.map(node).joined() + "</ul>" }
            return out + "</li>"
        }
        let tops = children[""] ?? []
        let letter = tops.filter { $0.box == "listed" }, referrals = tops.filter { $0.box.hasPrefix("referral:") }
        let consent = tops.filter { $0.box == "consented:all" }
        let columns = ["listed", "screened_out", "invited", "replied", "consented"] + referrals.map(\.box) + consent.map(\.box)
        let labels = Dictionary(total.map { ($0.box, $0.label) }, uniquingKeysWith: { a, _ in a })
        var out = """
            <section id="flow">
            <h2>The study's flow</h2>
            <p class="explain">Every invitee of the selected runs in one box at each level, from the list through the GP's screening             and the letter to consent, with the reason codes practices recorded; people who came by self-referral or a GP's referral             enter at their own box. All runs and practices together; per practice below, and in flow.csv.</p>
            <div class="consort"><ul>\(letter.map(node).joined())</ul>
            """
        if !referrals.isEmpty { out += "<ul class=\"referrals\">" + referrals.map(node).joined() + "</ul>" }
        if !consent.isEmpty { out += "<ul class=\"consent\">" + consent.map(node).joined() + "</ul>" }
        out += "</div>\n<div class=\"scroll\"><table id=\"flow-table\"><thead><tr><th>Practice</th>"
            + columns.map { "<th class=\"num\">\(e(labels[$0] ?? $0))</th>" }.joined() + "</tr></thead><tbody>\n"
        let byPractice = Dictionary(grouping: report.flow, by: \.practiceID)
        var practices = Array(Set(report.flow.map(\.practiceID)).subtracting([YieldReport.total]))
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        practices.append(YieldReport.total)
        for p in practices {
            let boxes = Dictionary((byPractice[p] ?? []).map { ($0.box, $0.count) }, uniquingKeysWith: { a, _ in a })
            let isTotal = p == YieldReport.total
            out += "<tr\(isTotal ? " class=\"total\"" : "")><td>\(isTotal ? "All practices" : e(p))</td>"
                + columns.map { "<td class=\"num\">\(boxes[$0].map(c) ?? "–")</td>" }.joined() + "</tr>\n"
        }
        return out + "</tbody></table></div>\n\(legend)</section>\n"
    }

    // MARK: Responders and non-responders

    func comparisons() -> String {
        guard !report.comparisons.isEmpty else { return "" }
        let titles = ["age_band": "By age band", "sex": "By sex", "evidence": "By out-of-work evidence", "practice": "By practice"]
        var out = """
            <section id="comparisons">
            <h2>Who replies, and who consents</h2>
            <p class="explain">Among the invited: those who replied (declined, opted out or were screened by the study) against those             who did not, and the consented against the rest, by age band, sex, out-of-work evidence and practice. Each table's rows add             up to its last row; percentages are of the invited, from exact counts, and are not shown where a count is suppressed.</p>

            """
        for dimension in ["age_band", "sex", "evidence", "practice"] {
            let rows = report.comparisons.filter { $0.dimension == dimension }
            guard !rows.isEmpty else { continue }
            let groups = rows.filter { $0.group != YieldReport.total }
            let chart = RateBarChart(id: "compare-\(dimension.replacingOccurrences(of: "_", with: "-"))", title: "Replied and consented, \(titles[dimension]!.lowercased())",
                                     firstLabel: "% of invited who replied", secondLabel: "% of invited who consented",
                                     groups: groups.enumerated().map { i, r in
                                         .init(id: String(i), label: r.label, first: r.rate(.repliedOfInvited), second: r.rate(.consentedOfInvited))
                                     })
            out += "<h3>\(titles[dimension]!)</h3>\n<figure>\(chart.svg)</figure>\n"
            out += "<div class=\"scroll\"><table id=\"compare-\(dimension.replacingOccurrences(of: "_", with: "-"))-table\"><thead><tr><th></th>"
                + "<th class=\"num\">Invited</th><th class=\"num\">Replied</th><th class=\"num\">No reply</th><th class=\"num\">% replied</th>"
                + "<th class=\"num\">Consented</th><th class=\"num\">Not consented</th><th class=\"num\">% consented</th></tr></thead><tbody>\n"
            for r in rows {
                let isTotal = r.group == YieldReport.total
                out += "<tr\(isTotal ? " class=\"total\"" : "")><td>\(e(r.label))</td><td class=\"num\">\(c(r[.invited]))</td>"
                    + "<td class=\"num\">\(c(r[.replied]))</td><td class=\"num\">\(c(r[.noReply]))</td><td class=\"num\">\(r.rate(.repliedOfInvited) ?? "–")</td>"
                    + "<td class=\"num\">\(c(r[.consented]))</td><td class=\"num\">\(c(r[.notConsented]))</td>"
                    + "<td class=\"num\">\(r.rate(.consentedOfInvited) ?? "–")</td></tr>\n"
            }
            out += "</tbody></table></div>\n"
        }
        return out + "\(legend)</section>\n"
    }

    // MARK: Trend

    func trend() -> String {
        let months = report.months
        let rows = months.compactMap { report.funnelRow(YieldReport.total, $0) }
        let panels: [(FunnelMeasure, String, String)] = [
            (.eligible, "Eligible", "bar c1"), (.newlyEligible, "Newly eligible", "bar c1"), (.invited, "Invited", "bar c2"),
            (.responded, "Responded", "bar c3"), (.consented, "Consented", "bar c4"),
        ]
        var out = """
            <section id="trend">
            <h2>By month</h2>
            <p class="explain">All practices, by the month of each run's index date; people are counted in the month they were found, \
            whenever they replied; newly eligible are those a run listed for the first time for the cohort (early pick-up). Each chart has its own scale. Hatched bars are suppressed counts (between 1 and 7).</p>
            <div class="panels">

            """
        for (measure, title, cls) in panels {
            let points = zip(months, rows).map { (month: $0, count: $1[measure]) }
            out += TrendChart(measure: measure, title: title, points: points, colourClass: cls).svg + "\n"
        }
        out += "</div>\n<div class=\"scroll\"><table id=\"month-table\"><thead><tr><th>Month</th><th class=\"num\">Eligible</th><th class=\"num\">Newly eligible</th>"
        out += "<th class=\"num\">Invited</th><th class=\"num\">Responded</th><th class=\"num\">Eligible on screening</th><th class=\"num\">Consented</th>"
        out += "<th class=\"num\">% invited</th><th class=\"num\">% responded</th><th class=\"num\">% consented of responders</th></tr></thead><tbody>\n"
        for (month, row) in zip(months, rows) + (totalAll.map { [(YieldReport.allMonths, $0)] } ?? []) {
            let isAll = month == YieldReport.allMonths
            out += "<tr\(isAll ? " class=\"total\"" : "")><td class=\"nowrap\">\(isAll ? "All months" : e(SVG.monthLabel(month)))</td>"
            for m in [FunnelMeasure.eligible, .newlyEligible, .invited, .responded, .screenedEligible, .consented] { out += "<td class=\"num\">\(c(row[m]))</td>" }
            for r in [FunnelRate.invitedOfEligible, .respondedOfInvited, .consentedOfResponded] { out += "<td class=\"num\">\(row.rate(r) ?? "–")</td>" }
            out += "</tr>\n"
        }
        return out + "</tbody></table></div>\n\(legend)</section>\n"
    }

    // MARK: Facts

    func facts() -> String {
        var out = """
            <section id="facts">
            <h2>About this report</h2>
            <h3>Runs</h3>
            <div class="scroll"><table id="runs-table"><thead><tr><th>Run</th><th>Index date</th><th>Status</th><th class="num">Practices</th>\
            <th>Cohort version</th><th>Issued</th><th>Tool</th></tr></thead><tbody>

            """
        for r in report.runs {
            out += "<tr><td>\(r.runID)</td><td class=\"nowrap\">\(e(r.indexDate))</td><td>\(e(r.status))</td><td class=\"num\">\(r.practices)</td>"
            out += "<td>\(e(r.cohortVersion)) <span class=\"hash\">\(e(String(r.cohortSHA256.prefix(12))))</span></td>"
            out += "<td class=\"nowrap\">\(e(r.issuedAt ?? "–"))</td><td>\(e(r.toolVersion))</td></tr>\n"
            if !r.supersededPractices.isEmpty {
                out += "<tr class=\"note\"><td></td><td colspan=\"6\">Left out (superseded by a later run): \(e(r.supersededPractices.joined(separator: ", ")))</td></tr>\n"
            }
        }
        out += "</tbody></table></div>\n"
        out += codeLists()
        out += """
            <h3>Suppression</h3>
            <p id="suppression-rule">\(e(report.suppression.rule))</p>
            <h3>Files</h3>
            <p>This page, with attrition.csv (every run, practice and step), funnel.csv (every practice and month), proxy.csv (outcomes by out-of-work evidence) and yields.json \
            (both, and the run facts). All hold the same suppressed counts. Practice totals are labelled __total__ and all-months rows “all”.</p>
            </section>

            """
        return out
    }

    /// Each distinct code list version the runs used, with the runs that used it.
    func codeLists() -> String {
        struct Key: Hashable { var name: String; var version: String; var sha: String }
        var order: [Key] = []
        var usedBy: [Key: [Int]] = [:]
        for r in report.runs {
            guard case .array(let lists) = r.codelists else { continue }
            for l in lists {
                func s(_ k: String) -> String {
                    switch l[k] {
                    case .string(let v)?: return v
                    case .int(let v)?: return String(v)
                    default: return ""
                    }
                }
                let key = Key(name: s("name"), version: s("version"), sha: s("sha256"))
                if usedBy[key] == nil { order.append(key) }
                usedBy[key, default: []].append(r.runID)
            }
        }
        guard !order.isEmpty else { return "<h3>Code lists</h3><p>The runs recorded no code lists.</p>\n" }
        var out = "<h3>Code lists</h3>\n<div class=\"scroll\"><table id=\"codelists-table\"><thead><tr><th>Code list</th><th>Version</th><th>SHA-256</th><th>Runs</th></tr></thead><tbody>\n"
        for k in order.sorted(by: { ($0.name, $0.version) < ($1.name, $1.version) }) {
            let runs = usedBy[k]!
            let runText = runs.count == report.runs.count ? "all" : runs.map(String.init).joined(separator: ", ")
            out += "<tr><td>\(e(k.name))</td><td>\(e(k.version))</td><td class=\"hash\">\(e(String(k.sha.prefix(16))))</td><td>\(runText)</td></tr>\n"
        }
        return out + "</tbody></table></div>\n"
    }
}
