import Foundation

/// Shared between a load's streams: set when one of them refuses or fails, so the others stop early.
/// `@unchecked Sendable`: its one field is read and written only under `lock`.
final class LoadControl: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }
}
