import Foundation

/// The version, and the git commit the binary was built from when the build recorded it.
///
/// `make build` writes the commit into `recruit.commit` beside the binary.
public enum BuildInfo {
    public static let version = "0.1.0"

    public static var commit: String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let file = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("recruit.commit")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }

    public static var versionString: String {
        commit.map { "\(version) (commit \($0))" } ?? version
    }
}
