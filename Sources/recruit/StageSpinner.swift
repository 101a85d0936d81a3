import Foundation
import RecruitKit

/// Draws a long command's stages on standard error, on a terminal only: a
/// spinner with the stage and its time, or a bar with counts and rate when
/// the stage's total is known, redrawn in place ten times a second by a
/// thread of its own (the command's thread is busy in the database). Nothing
/// is drawn on a non-terminal, under `-q`, or with `--json` (``make`` returns nil).
/// `@unchecked Sendable`: every mutable field is read and written under `lock`.
final class StageSpinner: StageProgress, @unchecked Sendable {
    private let label: String
    private let lock = NSLock()
    private var name = ""
    private var total: Int?
    private var done = 0
    private var started = Date()
    private var frame = 0
    private var running = false
    private var stopped = false
    private static let frames = ["|", "/", "-", "\\"]

    private init(label: String) {
        self.label = label
    }

    /// A spinner for command `label` when standard error is a terminal and neither `quiet` nor `json`.
    static func make(_ label: String, quiet: Bool, json: Bool, terminal: Bool = isatty(STDERR_FILENO) == 1) -> StageSpinner? {
        guard terminal, !quiet, !json else { return nil }
        return StageSpinner(label: label)
    }

    func stage(_ name: String, total: Int?) {
        lock.lock()
        self.name = name
        self.total = total
        done = 0
        started = Date()
        let start = !running && !stopped
        running = true
        draw()
        lock.unlock()
        if start {
            Thread.detachNewThread { [weak self] in
                while let self, self.tick() { Thread.sleep(forTimeInterval: 0.1) }
            }
        }
    }

    func advance(_ done: Int) {
        lock.lock()
        self.done = done
        draw()
        lock.unlock()
    }

    /// Stops drawing and clears the line (call before printing the result).
    func end() {
        lock.lock()
        if running { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        running = false
        stopped = true
        lock.unlock()
    }

    private func tick() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard running else { return false }
        frame += 1
        draw()
        return true
    }

    /// Under `lock`.
    private func draw() {
        guard running else { return }
        let seconds = Date().timeIntervalSince(started)
        var line: String
        if let total, total > 0 {
            let width = 24
            let filled = min(width, done * width / total)
            let rate = seconds > 0 ? Double(done) / seconds : 0
            line = "\(label): \(name) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                + "] \(done.formatted())/\(total.formatted()), \(String(format: "%.1f", rate))/s"
        } else {
            line = "\(Self.frames[frame % Self.frames.count]) \(label): \(name) " + String(format: "%.1f s", seconds)
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }
}
