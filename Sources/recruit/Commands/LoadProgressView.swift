import Foundation
import RecruitKit

/// Shows a load's progress on standard error: on a terminal a bar per file
/// (bytes, rows/s, ETA), redrawn in place; otherwise a plain line at most every 5 s.
/// `@unchecked Sendable`: the loader's threads report to it at once; every
/// mutable field is read and written only under `lock`.
final class LoadProgressView: LoadProgress, @unchecked Sendable {
    private struct FileState {
        var name: String
        var bytes: Int
        var read = 0
        var rows = 0
        var phase = "reading"
        var started = Date()
    }

    private let terminal: Bool
    private let lock = NSLock()
    private var files: [FileState] = []
    private var drawnLines = 0
    private var ended = false
    private var lastDraw = Date.distantPast
    private var lastLog = Date()
    private let logInterval: TimeInterval = 5

    init(terminal: Bool) {
        self.terminal = terminal
    }

    func started(file: String, kind: String, bytes: Int) {
        locked {
            files.removeAll { $0.name == file }
            files.append(FileState(name: file, bytes: bytes))
            draw(force: true)
        }
    }

    func advanced(file: String, bytesRead: Int, rows: Int) {
        locked {
            guard let i = files.firstIndex(where: { $0.name == file }) else { return }
            files[i].read = bytesRead
            files[i].rows = rows
            draw(force: false)
        }
    }

    func phase(file: String, _ phase: String) {
        locked {
            guard let i = files.firstIndex(where: { $0.name == file }) else { return }
            files[i].phase = phase
            if !terminal { write("load: \(file): \(phase)\n") }
            draw(force: true)
        }
    }

    func step(_ message: String) {
        locked {
            if terminal {
                clear()
                write("\(message)\n")
                draw(force: true)
            } else {
                write("load: \(message)\n")
            }
        }
    }

    /// Leaves the final bars on screen.
    /// Draws the final state once; later calls do nothing.
    func end() {
        locked {
            guard !ended else { return }
            ended = true
            if terminal { draw(force: true) }
            drawnLines = 0
        }
    }

    private func locked(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body()
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    private func clear() {
        guard drawnLines > 0 else { return }
        write("\u{1B}[\(drawnLines)A\u{1B}[J")
        drawnLines = 0
    }

    private static func megabytes(_ n: Int) -> String {
        n >= 1 << 30 ? String(format: "%.2f GB", Double(n) / Double(1 << 30)) : String(format: "%.0f MB", Double(n) / Double(1 << 20))
    }

    private func line(_ f: FileState) -> String {
        let elapsed = max(0.001, Date().timeIntervalSince(f.started))
        let share = f.bytes > 0 ? min(1, Double(f.read) / Double(f.bytes)) : 1
        let rate = Double(f.rows) / elapsed
        let eta = share > 0.01 && share < 1 ? elapsed * (1 - share) / share : 0
        let name = f.name.count > 18 ? String(f.name.prefix(17)) + "…" : f.name.padding(toLength: 18, withPad: " ", startingAt: 0)
        let width = 24
        let filled = Int(share * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let etaText = eta > 0 ? String(format: " ETA %d:%02d", Int(eta) / 60, Int(eta) % 60) : ""
        return "\(name) \(bar) \(String(format: "%3.0f%%", share * 100)) \(Self.megabytes(f.read))/\(Self.megabytes(f.bytes)) "
            + "\(Int(rate / 1000))k rows/s\(etaText) \(f.phase)"
    }

    private func draw(force: Bool) {
        let now = Date()
        if terminal {
            guard force || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
            lastDraw = now
            clear()
            for f in files { write(line(f) + "\n") }
            drawnLines = files.count
        } else {
            guard now.timeIntervalSince(lastLog) >= logInterval else { return }
            lastLog = now
            for f in files where f.phase == "reading" { write("load: " + line(f).replacingOccurrences(of: "█", with: "#").replacingOccurrences(of: "░", with: ".") + "\n") }
        }
    }
}
