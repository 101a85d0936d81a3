/// Receives the stages of a long command (a run, a reproduction, a report, an
/// import), for a spinner or a bar on a terminal. Names and counts only:
/// never a patient identifier or a row value.
public protocol StageProgress: AnyObject, Sendable {
    /// A stage starts; `total` when its amount of work is known (then `advance` counts it).
    func stage(_ name: String, total: Int?)
    /// Work done in the current stage, of its `total`.
    func advance(_ done: Int)
}
