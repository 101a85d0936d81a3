import RecruitKit

/// How the command line words the library's errors: its inputs as this tool's
/// options, and its kinds as exit codes.
extension RecruitError.Input {
    /// The option (or argument) that gives this input.
    var option: String {
        switch self {
        case .indexDate: return "--index-date"
        case .cohort: return "--cohort"
        case .supersede: return "--supersede"
        case .allowStale: return "--allow-stale"
        case .wait: return "--wait"
        case .force: return "--force"
        case .outputFolder: return "--out"
        case .practice: return "--practice"
        case .extractDate: return "--extract-date"
        case .maxRejectRate: return "--max-reject-rate"
        case .acceptPractice: return "--accept-shrink"
        case .codeListFolder: return "--codelists"
        case .patients: return "--patients"
        case .practices: return "--practices"
        case .errorRate: return "--inject-errors"
        case .truthFile: return "--truth"
        case .importFile: return "FILE"
        case .emptySystem: return "--empty"
        case .status: return "--status"
        case .reviewer: return "--reviewer"
        case .reviewedOn: return "--reviewed-on"
        case .codeColumn: return "--code-column"
        case .termColumn: return "--term-column"
        case .filter: return "--where"
        case .drop: return "--drop"
        case .issue: return "recruit run --issue"
        }
    }

    /// What the option gives, when a remedy reads better naming it ("give the index date with --index-date").
    var noun: String? {
        switch self {
        case .indexDate: return "the index date"
        case .cohort: return "the cohort"
        case .practice: return "the practice"
        case .outputFolder: return "another folder"
        case .extractDate: return "the extract date"
        case .practices: return "the number of practices"
        case .acceptPractice: return "a practice checked and found right"
        case .codeColumn: return "the code column"
        default: return nil
        }
    }
}

extension RecruitError {
    /// The message as the command line prints it.
    var commandLineText: String {
        var text = subject.map { "\($0.input.option)\($0.value.map { " \($0)" } ?? ""): " } ?? ""
        text += message
        if let remedy { text += "; " + remedy.commandLineText }
        return text
    }

    /// 1 refused (bad input, problems found), 2 usage or environment.
    var exitCode: Int32 { kind == .refused ? 1 : 2 }
}

extension RecruitError.Remedy {
    var commandLineText: String {
        let options = inputs.map(\.option)
        let listed = options.count <= 1 ? options.joined()
            : options.dropLast().joined(separator: ", ") + " and " + options.last!
        var text: String
        switch verb {
        case .give:
            if inputs.count == 1, value == nil, let noun = inputs[0].noun {
                text = "give \(noun) with \(listed)"
            } else {
                text = "give \(listed)" + (value.map { " \($0)" } ?? "")
            }
        case .check: text = "check \(listed)"
        case .use: text = "use \(listed)" + (value.map { " \($0)" } ?? "")
        case .see: text = "see: \(listed)"
        }
        return text + (purpose.map { " \($0)" } ?? "") + (alternative.map { ", or use \($0.option)" } ?? "")
    }
}

extension Distribution.Unavailable {
    /// `recruit db distribute` refused: why, and what to do. Nothing was changed.
    var commandLineText: String {
        let what: String
        switch reason {
        case .extensionNotInstalled:
            what = "the server (\(server)) has no Citus extension: distributing needs a Citus coordinator " +
                "(install Citus on every node, or use docker-compose.yml's citus profile; docs/scaling.md)"
        case .extensionNotCreated(let version):
            what = "Citus \(version) is installed on the server (\(server)) but not created in this database: " +
                "run CREATE EXTENSION citus on the coordinator and every worker, and add the workers"
        case .notPreloaded:
            what = "the server (\(server)) has the citus extension but does not preload it: " +
                "set shared_preload_libraries = 'citus' and restart it"
        case .noWorkers:
            what = "the Citus coordinator (\(server)) has no active worker: add them with SELECT citus_add_node(host, port)"
        case .migrationsPending(let count):
            what = "\(count) schema migration(s) are pending: run 'recruit db migrate' first"
        case .notEmpty(let loads):
            what = "\(loads) load(s) are recorded: distribute a freshly migrated database, before the first load"
        }
        return "cannot distribute the schema: \(what); nothing was changed"
    }
}
