import Foundation
import Postgres
import RecruitKit

extension SQLEngine {
    /// Evaluates as a new run does: history as of now, the instant taken
    /// under the contact-history lock (the runs stage's part).
    public func evaluate(on database: Database, indexDate: LocalDate?, practices: [String]?) throws -> CohortEvaluation {
        try evaluate(on: database, indexDate: indexDate, practices: practices, historyAsOf: ContactHistory.instant(database))
    }
}
