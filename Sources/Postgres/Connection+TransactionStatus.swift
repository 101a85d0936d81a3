import CLibPQ

extension Connection {
    /// Whether the session is inside a transaction block (after `BEGIN`,
    /// whether from ``transaction(isolation:readOnly:_:)`` or a script), so a
    /// library call can join the caller's transaction instead of opening one.
    ///
    /// libpq: `PQtransactionStatus` "returns the current in-transaction status
    /// of the server": `PQTRANS_INTRANS` (idle, in a valid transaction block)
    /// or `PQTRANS_INERROR` (idle, in a failed transaction block).
    public var isInTransaction: Bool {
        guard let handle = try? requireHandle() else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }
}
