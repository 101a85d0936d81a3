import Foundation
import Yams

/// The deployment file (`recruit.yaml`): one reader for its sections
/// (`safeguards:`, `reason_codes:`, `monthly:`), so that each refuses an
/// unreadable or malformed file the same way.
enum DeploymentFile {
    /// The value of the top-level key `name` in `url`, or nil when the file has no such section.
    ///
    /// - Throws: ``RecruitError`` (refused) when the file cannot be read or is not valid YAML.
    static func section(_ name: String, of url: URL) throws -> Any? {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RecruitError.refused("cannot read the deployment settings \(url.path): \(error.localizedDescription)")
        }
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch {
            throw RecruitError.refused("\(url.path): not valid YAML: \(error)")
        }
        return (node as? [String: Any])?[name]
    }
}
