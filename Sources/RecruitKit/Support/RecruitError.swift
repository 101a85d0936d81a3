/// An error the user can act on, with the exit code the command line returns.
///
/// - Important: messages name files, lines, columns and codes, never a
///   patient identifier or a row value.
public struct RecruitError: Error, CustomStringConvertible, Sendable {
    /// How the command ends: refused (bad input, exit 1) or an environment /
    /// usage problem (exit 2).
    public enum Kind: Sendable {
        /// Bad input, a check that found problems, a refused load or run: exit 1.
        case refused
        /// Usage or environment: missing database, missing binaries, bad flags: exit 2.
        case environment
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func refused(_ message: String) -> RecruitError { RecruitError(.refused, message) }
    public static func environment(_ message: String) -> RecruitError { RecruitError(.environment, message) }

    public var exitCode: Int32 { kind == .refused ? 1 : 2 }
    public var description: String { message }
}
