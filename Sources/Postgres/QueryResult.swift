/// The rows a statement returned, copied out of libpq in text format.
public struct QueryResult: Sendable, RandomAccessCollection {
    public let columns: [String]
    public let rows: [Row]
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (0 when not applicable).
    public let affectedRows: Int

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> Row { rows[position] }

    /// One row; columns by position or by name.
    public struct Row: Sendable {
        public let values: [String?]
        let columns: [String]

        public subscript(_ index: Int) -> String? { values[index] }

        public subscript(_ name: String) -> String? {
            guard let i = columns.firstIndex(of: name) else { preconditionFailure("no column \(name)") }
            return values[i]
        }

        public func string(_ name: String) -> String { self[name] ?? "" }
        public func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
        public func double(_ name: String) -> Double? { self[name].flatMap { Double($0) } }
        public func bool(_ name: String) -> Bool? { self[name].map { $0 == "t" } }
        public func date(_ name: String) -> LocalDate? { self[name].flatMap { LocalDate(iso: $0) } }
    }
}
