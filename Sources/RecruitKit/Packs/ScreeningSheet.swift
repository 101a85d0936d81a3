import Foundation

/// The GP's screening sheet (`screening.html`): printable on A4, 18 invitees a
/// page (each page its own table, with a page break after it; 18 rows fit an A4 page with three evidence lines each), a header with
/// the study, the practice, the run and how to return the decisions.
enum ScreeningSheet {
    static let perPage = 18

    static func html(run: RunRecord, cohort: String, practice: String, invitees: [PackWriter.Invitee], study: PackWriter.Study,
                     screeningCodes: [String]) -> String {
        // Numbered boxes keep every row one line tall in this column; the header's legend maps each number to the code that
        // feedback.csv takes.
        let codeBoxes = screeningCodes.indices.map { "<span class=\"code\"><span class=\"box\"></span>\($0 + 1)</span>" }.joined(separator: " ")
        let legend = screeningCodes.enumerated().map { "<strong>\($0.offset + 1)</strong> \(HTMLText.escape($0.element))" }
            .joined(separator: " · ")
        let e = HTMLText.escape
        let pages = stride(from: 0, to: max(invitees.count, 1), by: perPage).map { Array(invitees[$0..<min($0 + perPage, invitees.count)]) }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Screening: \(e(study.name)), practice \(e(practice)), run \(run.runID)</title>
            <style>
            @page { size: A4; margin: 10mm; }
            body { font-family: system-ui, sans-serif; font-size: 8pt; line-height: 1.15; color: #111; margin: 0; }
            header { margin-bottom: 4pt; } h1 { font-size: 11pt; margin: 0 0 2pt; } p { margin: 1pt 0; }
            table { border-collapse: collapse; width: 100%; table-layout: fixed; }
            th, td { border: 1px solid #888; padding: 1.5pt 3pt; vertical-align: top; text-align: left; overflow-wrap: anywhere; }
            col.n { width: 3%; } col.key { width: 9%; } col.age { width: 7%; } col.sex { width: 4%; } col.ev { width: 50%; } col.dec { width: 10%; }
            td.dec { white-space: nowrap; }
            th { background: #eee; }
            .page { break-after: page; page-break-after: always; }
            .page:last-child { break-after: auto; page-break-after: auto; }
            .box { display: inline-block; width: 9pt; height: 9pt; border: 1px solid #111; vertical-align: -1pt; margin-right: 3pt; }
            .ev { font-size: 7pt; line-height: 1.1; } .codes { font-size: 6.5pt; line-height: 1.25; } .codes .box { width: 7pt; height: 7pt; margin-right: 1.5pt; } .code { white-space: nowrap; margin-right: 4pt; }
            tr { break-inside: avoid; }
            </style></head>
            <body>

            """
        for (n, page) in pages.enumerated() {
            out += """
                <section class="page">
                <header>
                <h1>\(e(study.name)): screening before any letter is sent</h1>
                <p>Practice <strong>\(e(practice))</strong> · run \(run.runID) (\(e(cohort)), index date \(run.indexDate)) · \(invitees.count) invitee(s) · page \(n + 1) of \(pages.count)</p>
                <p>For each person, tick <em>invite</em> or <em>screen out</em> and, if screened out, one reason code (the code is counted; any free-text reason
                stays at the practice). Reason codes: \(legend). Return the decisions as feedback.csv (outcome invited or screened_out, the date, the reason_code) to the research team.
                Ids are pseudonymised: look them up in the practice's own key.</p>
                </header>
                <table><colgroup><col class="n"><col class="key"><col class="age"><col class="sex"><col class="ev"><col class="dec"><col></colgroup>
                <thead><tr><th>#</th><th>Patient key</th><th>Age band</th><th>Sex</th><th>Why listed (evidence)</th><th>Decision</th><th>If screened out: reason code</th></tr></thead>
                <tbody>

                """
            for (i, p) in page.enumerated() {
                out += "<tr><td>\(n * perPage + i + 1)</td><td>\(e(p.patientID))</td><td>\(e(p.ageBand))</td><td>\(e(p.sex))</td>"
                    + "<td class=\"ev\">\(p.evidence.map(e).joined(separator: "<br>"))</td>"
                    + "<td class=\"dec\"><span class=\"box\"></span>invite<br><span class=\"box\"></span>screen out</td><td class=\"codes\">\(codeBoxes)</td></tr>\n"
            }
            if page.isEmpty { out += "<tr><td colspan=\"7\">Nobody from this practice is on the run's list.</td></tr>\n" }
            out += "</tbody></table>\n<p>GP: ______________________ Date: ____________</p>\n</section>\n"
        }
        return out + "</body></html>\n"
    }
}
