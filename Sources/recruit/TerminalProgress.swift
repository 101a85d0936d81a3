import Foundation

/// A one-line progress bar on standard error, drawn only when standard error
/// is a terminal (a script or a log file gets nothing).
final class TerminalProgress {
    private let label: String
    private let enabled: Bool
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var lastPercent = -1

    init(label: String, enabled: Bool = isatty(STDERR_FILENO) == 1) {
        self.label = label
        self.enabled = enabled
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let percent = done * 100 / total
        let now = Date()
        guard done == total || (percent != lastPercent && now.timeIntervalSince(lastDraw) >= 0.1) else { return }
        lastPercent = percent
        lastDraw = now
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let elapsed = now.timeIntervalSince(started)
        let line = String(format: "\r%@ [%@] %3d%% %@/%@  %.0fs", label, bar, percent,
                          done.formatted(), total.formatted(), elapsed)
        FileHandle.standardError.write(Data(line.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
