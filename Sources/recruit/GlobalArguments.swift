import ArgumentParser

/// Lets the global options come before the subcommand.
///
/// Every subcommand takes ``GlobalOptions`` (`--database`, `--cluster-dir`,
/// `-v/--verbose`, `-q/--quiet`) as an option group of its own, so
/// `recruit db status -q` parses as it is. `recruit -q db status` and
/// `recruit --database URL run ...` are rewritten here, before parsing, by
/// moving the leading global options to just after the subcommand path
/// (`recruit db status -q`), where the subcommand's option group reads them.
enum GlobalArguments {
    /// The global options that take a value.
    static let valued: Set<String> = ["--database", "--cluster-dir"]
    /// The global flags.
    static let flags: Set<String> = ["-v", "--verbose", "-q", "--quiet"]

    /// `arguments` (without the program name) with any leading global options
    /// moved after the subcommand path they precede.
    static func hoist(_ arguments: [String], root: any ParsableCommand.Type = Recruit.self) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if flags.contains(a) || valued.contains(where: { a.hasPrefix($0 + "=") }) {
                leading.append(a)
                i += 1
            } else if valued.contains(a), i + 1 < arguments.count {
                leading += [a, arguments[i + 1]]
                i += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty else { return arguments }
        var rest = Array(arguments[i...])
        // The subcommand path: recruit codelists list, recruit db roles, ...
        var command = root
        var depth = 0
        while depth < rest.count,
              let sub = command.configuration.subcommands.first(where: { names($0).contains(rest[depth]) }) {
            command = sub
            depth += 1
        }
        if depth == 0, let first = rest.first, ["help", "--help", "-h", "--version"].contains(first) {
            // `recruit -q --help`, `recruit -v help db`: the options change nothing there.
            return rest
        }
        rest.insert(contentsOf: leading, at: depth)
        return rest
    }

    static func names(_ command: any ParsableCommand.Type) -> [String] {
        [command._commandName] + command.configuration.aliases
    }
}
