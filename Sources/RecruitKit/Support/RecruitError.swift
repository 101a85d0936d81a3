/// An error the user can act on: what is wrong, in the domain's words, and the
/// facts a caller needs to act on it.
///
/// The library never names a command-line option: an error about one of a
/// command's inputs carries that input as a fact (``subject``, ``remedy``) and
/// the command line words it as its own option (`--index-date`), and turns
/// ``kind`` into an exit code.
///
/// - Important: messages name files, lines, columns and codes, never a
///   patient identifier or a row value.
public struct RecruitError: Error, CustomStringConvertible, @unchecked Sendable {
    /// How the command ends.
    public enum Kind: Sendable {
        /// Bad input, a check that found problems, a refused load or run.
        case refused
        /// Usage or environment: missing database, missing binaries, bad settings.
        case environment
    }

    /// An input a caller gives the library, which the command line words as its option.
    public enum Input: String, Sendable, CaseIterable, Codable {
        case indexDate, cohort, supersede, allowStale, wait, force, outputFolder, practice
        case extractDate, maxRejectRate, codeListFolder
        /// A practice let through although its extract looks wrong (`recruit load --accept-shrink`).
        case acceptPractice
        case patients, practices, errorRate, truthFile
        case importFile, emptySystem, status, reviewer, reviewedOn, codeColumn, termColumn, filter, drop
        /// Issuing a run (`recruit run --issue`).
        case issue
    }

    /// The input a problem is about, with the value given for it.
    public struct Subject: Equatable, Sendable {
        public var input: Input
        public var value: String?
        public init(_ input: Input, _ value: String? = nil) {
            self.input = input
            self.value = value
        }
    }

    /// What would let the command go on: giving (or checking) some inputs.
    public struct Remedy: Equatable, Sendable, Codable {
        public enum Verb: String, Sendable, Codable { case give, check, use, see }
        public var verb: Verb
        public var inputs: [Input]
        /// The value to give, when the remedy knows it (the run to supersede).
        public var value: String?
        /// What giving it does ("to wait for it").
        public var purpose: String?
        /// The other way on: an input that replaces these ("or a system with no codes").
        public var alternative: Input?

        public init(verb: Verb, inputs: [Input], value: String? = nil, purpose: String? = nil, alternative: Input? = nil) {
            self.verb = verb
            self.inputs = inputs
            self.value = value
            self.purpose = purpose
            self.alternative = alternative
        }

        public static func give(_ input: Input, _ value: String? = nil, purpose: String? = nil) -> Remedy {
            Remedy(verb: .give, inputs: [input], value: value, purpose: purpose)
        }
    }

    public var kind: Kind
    /// What is wrong, in the domain's words.
    public var message: String
    public var subject: Subject?
    public var remedy: Remedy?
    /// The error this one reports, when it wraps one (a database error).
    public var underlying: (any Error)?

    public init(_ kind: Kind, _ message: String, subject: Subject? = nil, remedy: Remedy? = nil, underlying: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.subject = subject
        self.remedy = remedy
        self.underlying = underlying
    }

    public static func refused(_ message: String, subject: Subject? = nil, remedy: Remedy? = nil,
                               underlying: (any Error)? = nil) -> RecruitError {
        RecruitError(.refused, message, subject: subject, remedy: remedy, underlying: underlying)
    }

    public static func environment(_ message: String, subject: Subject? = nil, remedy: Remedy? = nil,
                                   underlying: (any Error)? = nil) -> RecruitError {
        RecruitError(.environment, message, subject: subject, remedy: remedy, underlying: underlying)
    }

    /// The message, with the subject and remedy in neutral words (for logs and
    /// library callers; the command line words them as options).
    public var description: String {
        var text = subject.map { "\($0.input.rawValue)\($0.value.map { " \($0)" } ?? ""): " } ?? ""
        text += message
        if let remedy {
            text += "; \(remedy.verb) " + remedy.inputs.map(\.rawValue).joined(separator: ", ")
                + (remedy.value.map { " \($0)" } ?? "") + (remedy.purpose.map { " \($0)" } ?? "")
                + (remedy.alternative.map { ", or \($0.rawValue)" } ?? "")
        }
        return text
    }
}
