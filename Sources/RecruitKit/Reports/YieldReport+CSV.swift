extension YieldReport {
    /// `attrition.csv`: `run_id,index_date,practice_id,step,criterion,label,remaining,removed`.
    public var attritionCSV: String {
        var out = "run_id,index_date,practice_id,step,criterion,label,remaining,removed\n"
        for r in attrition {
            out += [String(r.runID), r.indexDate, r.practiceID, String(r.step), r.criterion, r.label,
                    r.remaining.text, r.removed?.text ?? ""].map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// `funnel.csv`: `practice_id,month`, then every ``FunnelMeasure``, then every ``FunnelRate``.
    public var funnelCSV: String {
        var out = (["practice_id", "month"] + FunnelMeasure.allCases.map(\.rawValue) + FunnelRate.allCases.map(\.rawValue))
            .joined(separator: ",") + "\n"
        for row in funnel {
            let fields = [row.practiceID, row.month] + FunnelMeasure.allCases.map { row[$0].text }
                + FunnelRate.allCases.map { row.rate($0) ?? "" }
            out += fields.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// `proxy.csv`: `criterion,proxy,label`, then every ``FunnelMeasure`` and
    /// every ``FunnelRate``; one row per kind of evidence, then `__total__`.
    /// Only the header when no run has the proxy criterion.
    public var proxyCSV: String {
        var out = (["criterion", "proxy", "label"] + FunnelMeasure.allCases.map(\.rawValue) + FunnelRate.allCases.map(\.rawValue))
            .joined(separator: ",") + "\n"
        guard let proxy else { return out }
        for row in proxy.rows {
            let fields = [proxy.criterion, row.proxy, row.label] + FunnelMeasure.allCases.map { row[$0].text }
                + FunnelRate.allCases.map { row.rate($0) ?? "" }
            out += fields.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// `flow.csv`: `practice_id,box,parent,label,count`: the study's flow
    /// (CONSORT), every box per practice and then `__total__`, each box after
    /// the one it is part of.
    public var flowCSV: String {
        var out = "practice_id,box,parent,label,count\n"
        for b in flow {
            out += [b.practiceID, b.box, b.parent ?? "", b.label, b.count.text].map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// `comparison.csv`: `dimension,group,label`, then the invited, replied,
    /// no reply, consented and not consented, and the two rates; by practice,
    /// out-of-work evidence, age band and sex, each ending with `__total__`.
    public var comparisonCSV: String {
        var out = (["dimension", "group", "label"] + ComparisonRow.measures.map(\.rawValue) + ComparisonRow.rates.map(\.rawValue))
            .joined(separator: ",") + "\n"
        for row in comparisons {
            let fields = [row.dimension, row.group, row.label] + ComparisonRow.measures.map { row[$0].text }
                + ComparisonRow.rates.map { row.rate($0) ?? "" }
            out += fields.map(Self.csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180 quoting where needed.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
