import Foundation
import RecruitKit

/// Reads a plan as `EXPLAIN (FORMAT JSON)` returns it and finds the shapes
/// that rescan per-patient rows: the plan cliff of a statement whose cost
/// should grow with the data, not with its square.
///
/// A node is per-patient when it is an aggregate grouped by `patient_id`, or
/// a scan of the statement's per-patient results (`st`, `ae`, `ap`). A rescan
/// is a nested loop with a per-patient node on its inner side (run again for
/// every outer row, up to a Materialize), or a Materialize that keeps
/// per-patient rows (read again for every outer row). A Materialize of a few
/// rows per practice (the yield's counts, aggregated from `st`) is no rescan.
public enum PlanShape {
    public struct Node {
        public var type: String
        public var fields: [String: JSONValue]
        public var children: [(relationship: String, node: Node)]

        init(_ value: JSONValue) {
            guard case .object(let object) = value else { type = ""; fields = [:]; children = []; return }
            fields = object
            if case .string(let t)? = object["Node Type"] { type = t } else { type = "" }
            var children: [(String, Node)] = []
            if case .array(let plans)? = object["Plans"] {
                for plan in plans {
                    var relationship = ""
                    if case .string(let r)? = plan["Parent Relationship"] { relationship = r }
                    children.append((relationship, Node(plan)))
                }
            }
            self.children = children
        }

        func string(_ key: String) -> String? {
            if case .string(let s)? = fields[key] { return s }
            return nil
        }

        /// One line naming the node, as EXPLAIN's text form would.
        public var label: String {
            var parts = [type]
            if let join = string("Join Type") { parts.append("(\(join))") }
            if let name = string("CTE Name") { parts.append("on \(name)") }
            if let alias = string("Alias"), string("CTE Name") == nil { parts.append("on \(alias)") }
            if case .array(let keys)? = fields["Group Key"] {
                parts.append("by " + keys.compactMap { if case .string(let k) = $0 { return k } else { return nil } }.joined(separator: ", "))
            }
            return parts.joined(separator: " ")
        }

        public var isPerPatient: Bool {
            if type == "Aggregate", case .array(let keys)? = fields["Group Key"] {
                return keys.contains { if case .string(let k) = $0 { return k.hasSuffix("patient_id") } else { return false } }
            }
            if type == "CTE Scan", let name = string("CTE Name") { return ["st", "ae", "ap"].contains(name) }
            if type == "Subquery Scan", let alias = string("Alias") { return ["st", "ae", "ap"].contains(alias) }
            return false
        }

        /// The first per-patient node at or below this one, not looking below
        /// the nodes `stop` names.
        func perPatient(stoppingAt stop: (Node) -> Bool) -> Node? {
            if isPerPatient { return self }
            if stop(self) { return nil }
            for child in childNodes { if let found = child.perPatient(stoppingAt: stop) { return found } }
            return nil
        }

        var childNodes: [Node] { children.map(\.node) }

        /// Reading a nested loop's inner side again reads everything below it
        /// again, up to a Materialize (which keeps its rows: it is judged on its own).
        var rereadsPerPatientRows: Node? { perPatient { $0.type == "Materialize" } }

        /// What a Materialize keeps is per-patient unless an aggregate that is
        /// not per-patient (a few rows per practice) stands between.
        var keepsPerPatientRows: Node? { childNodes.lazy.compactMap { $0.perPatient { $0.type == "Aggregate" } }.first }

        func walk(_ path: [String], _ visit: (Node, [String]) -> Void) {
            visit(self, path + [label])
            for child in children { child.node.walk(path + [label], visit) }
        }
    }

    /// The plan's root node.
    public static func root(ofExplainJSON text: String) throws -> Node {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        guard case .array(let items) = value, let first = items.first, let plan = first["Plan"] else {
            throw CocoaError(.coderReadCorrupt)
        }
        return Node(plan)
    }

    /// Every rescan of per-patient rows, each as the path to it.
    public static func rescans(in root: Node) -> [String] {
        var found: [String] = []
        root.walk([]) { node, path in
            if node.type == "Nested Loop" {
                for child in node.children where child.relationship == "Inner" {
                    if let hit = child.node.rereadsPerPatientRows {
                        found.append("\(path.joined(separator: " > ")): inner side \(child.node.label) holds \(hit.label)")
                    }
                }
            }
            if node.type == "Materialize", let hit = node.keepsPerPatientRows {
                found.append("\(path.joined(separator: " > ")): materialises \(hit.label)")
            }
        }
        return found
    }

    /// How many per-patient aggregates the plan has (a check that the plan read is the statement's).
    public static func perPatientAggregates(in root: Node) -> Int {
        var n = 0
        root.walk([]) { node, _ in if node.type == "Aggregate" && node.isPerPatient { n += 1 } }
        return n
    }
}
