/// Receives a load's progress, for a progress bar or periodic log lines.
///
/// Called from the loader's worker threads (one per stream), possibly at the
/// same time: implementations synchronise themselves. Calls carry file names
/// and counts only.
public protocol LoadProgress: AnyObject, Sendable {
    /// A file starts streaming.
    func started(file: String, kind: String, bytes: Int)
    /// Bytes read and rows streamed so far (about every 65,000 rows).
    func advanced(file: String, bytesRead: Int, rows: Int)
    /// A stream's phase changed: reading, indexing, done.
    func phase(file: String, _ phase: String)
    /// A step of the whole load (hashing, swapping), for a log line.
    func step(_ message: String)
}
