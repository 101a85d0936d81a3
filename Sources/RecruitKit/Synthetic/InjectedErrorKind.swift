/// A kind of bad row that `recruit synth --inject-errors` plants, one per
/// row rule of the extract format (spec/extract-format.md, "Bad input"), and
/// the rows that are rejected because of another row (`patient_rejected`).
/// Whole-file refusals (a missing column, an identifying column) are not planted.
public enum InjectedErrorKind: String, CaseIterable, Sendable, Codable {
    // patients.csv
    case patientIDInvalid = "patient_id_invalid"
    case practiceIDInvalid = "practice_id_invalid"
    case yearOfBirthInvalid = "year_of_birth_invalid"
    case monthOfBirthInvalid = "month_of_birth_invalid"
    case sexInvalid = "sex_invalid"
    case registrationStartMissing = "registration_start_missing"
    case registrationStartInvalid = "registration_start_invalid"
    case registrationStartAfterExtract = "registration_start_after_extract_date"
    case registrationEndInvalid = "registration_end_invalid"
    case registrationEndBeforeStart = "registration_end_before_start"
    case deathDateInvalid = "death_date_invalid"
    case deathDateAfterExtract = "death_date_after_extract_date"
    case duplicatePatientID = "duplicate_patient_id"
    // events.csv and prescriptions.csv
    case unknownPatient = "unknown_patient"
    case patientRejected = "patient_rejected"
    case dateMissing = "date_missing"
    case dateInvalid = "date_invalid"
    case dateBefore1900 = "date_before_1900"
    case dateAfterExtract = "date_after_extract_date"
    case codeMissing = "code_missing"
    case codeInvalid = "code_invalid"
    case codeSystemInvalid = "code_system_invalid"
    case valueInvalid = "value_invalid"
    case quantityInvalid = "quantity_invalid"
    case durationInvalid = "duration_days_invalid"
    case issueTypeInvalid = "issue_type_invalid"
    case malformedRow = "malformed_row"
    case missingFields = "missing_fields"

    /// The kinds planted directly in each file (`patient_rejected` follows from a patient's kind).
    public static let patientKinds: [InjectedErrorKind] = [
        .patientIDInvalid, .practiceIDInvalid, .yearOfBirthInvalid, .monthOfBirthInvalid, .sexInvalid,
        .registrationStartMissing, .registrationStartInvalid, .registrationStartAfterExtract,
        .registrationEndInvalid, .registrationEndBeforeStart, .deathDateInvalid, .deathDateAfterExtract,
        .duplicatePatientID,
    ]
    public static let eventKinds: [InjectedErrorKind] = [
        .unknownPatient, .dateMissing, .dateInvalid, .dateBefore1900, .dateAfterExtract, .codeMissing,
        .codeInvalid, .codeSystemInvalid, .valueInvalid, .malformedRow, .missingFields,
    ]
    public static let prescriptionKinds: [InjectedErrorKind] = [
        .unknownPatient, .dateMissing, .dateInvalid, .dateAfterExtract, .codeMissing, .codeInvalid,
        .codeSystemInvalid, .quantityInvalid, .durationInvalid, .issueTypeInvalid, .malformedRow, .missingFields,
    ]
}
