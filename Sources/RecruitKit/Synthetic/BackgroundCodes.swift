/// The background of the record: common primary-care codes and medicines that
/// no reference code list should match, so that the code-list filter has real
/// work to do. Any code that a loaded list holds is dropped from the
/// background at run time (``SyntheticCodeBook``), so the background never
/// counts towards a criterion.
///
/// Event codes are real Read v2 codes of common measurements, lifestyle,
/// immunisation, review and acute or long-term conditions, with their SNOMED
/// CT concept where known (CTV3 keeps most five-character Read codes of this
/// kind, so the same code is used). Medicines are common generic products;
/// their dm+d ids are synthetic (dm+d-shaped: an item number, the UK namespace
/// 1000001, partition 10 and a valid Verhoeff check digit), as are their Read
/// v2 drug codes and BNF presentation codes: they have the right shape, and
/// are not real products.
enum BackgroundCodes {
    /// A measurement recorded with a value.
    enum Measure: Sendable {
        case systolic, diastolic, bmi, weight, height, pulse, creatinine, hba1c, cholesterol, haemoglobin, alcohol

        /// Mean, SD, minimum, maximum, and whether written with one decimal.
        var distribution: (mean: Double, sd: Double, min: Double, max: Double, decimal: Bool) {
            switch self {
            case .systolic: (128, 16, 85, 210, false)
            case .diastolic: (78, 10, 45, 120, false)
            case .bmi: (27.5, 5.2, 15, 55, true)
            case .weight: (78, 17, 35, 180, true)
            case .height: (169, 10, 140, 205, false)
            case .pulse: (74, 11, 45, 130, false)
            case .creatinine: (82, 20, 40, 300, false)
            case .hba1c: (41, 9, 25, 120, false)
            case .cholesterol: (5.0, 1.0, 2.2, 9.5, true)
            case .haemoglobin: (137, 14, 80, 180, false)
            case .alcohol: (7, 8, 0, 80, false)
            }
        }
    }

    struct EventCode: Sendable {
        var read2: String
        var term: String
        var snomed: String?
        /// Relative frequency among background codes.
        var weight: Double
        var measure: Measure?
        /// Whether the code is only recorded for adults (conditions, reviews).
        var adultOnly = false
    }

    /// (The diastolic reading is only written with a systolic one, so its own weight is 0.)
    static let events: [EventCode] = [
        EventCode(read2: "2469.", term: "O/E - Systolic BP reading", snomed: "271649006", weight: 10, measure: .systolic, adultOnly: true),
        EventCode(read2: "246A.", term: "O/E - Diastolic BP reading", snomed: "271650006", weight: 0, measure: .diastolic, adultOnly: true),
        EventCode(read2: "22K..", term: "Body Mass Index", snomed: "60621009", weight: 5, measure: .bmi, adultOnly: true),
        EventCode(read2: "22A..", term: "O/E - weight", snomed: "27113001", weight: 6, measure: .weight),
        EventCode(read2: "229..", term: "O/E - height", snomed: "50373000", weight: 2, measure: .height),
        EventCode(read2: "242..", term: "O/E - pulse rate", snomed: "78564009", weight: 3, measure: .pulse),
        EventCode(read2: "44J3.", term: "Serum creatinine", snomed: "113075003", weight: 4, measure: .creatinine, adultOnly: true),
        EventCode(read2: "42W5.", term: "Haemoglobin A1c level - IFCC standardised", snomed: "999791000000106", weight: 2, measure: .hba1c, adultOnly: true),
        EventCode(read2: "44P..", term: "Serum cholesterol", snomed: "77068002", weight: 2, measure: .cholesterol, adultOnly: true),
        EventCode(read2: "423..", term: "Haemoglobin estimation", snomed: nil, weight: 3, measure: .haemoglobin),
        EventCode(read2: "136..", term: "Alcohol consumption", snomed: "160573003", weight: 2, measure: .alcohol, adultOnly: true),
        EventCode(read2: "137R.", term: "Current smoker", snomed: "77176002", weight: 2, adultOnly: true),
        EventCode(read2: "1371.", term: "Never smoked tobacco", snomed: "266919005", weight: 3, adultOnly: true),
        EventCode(read2: "137S.", term: "Ex smoker", snomed: "8517006", weight: 2, adultOnly: true),
        EventCode(read2: "65E..", term: "Influenza vaccination", snomed: "86198006", weight: 4),
        EventCode(read2: "8B3V.", term: "Medication review done", snomed: "314530002", weight: 4, adultOnly: true),
        EventCode(read2: "66A..", term: "Diabetic monitoring", snomed: nil, weight: 1, adultOnly: true),
        EventCode(read2: "662..", term: "Cardiac disease monitoring", snomed: nil, weight: 1, adultOnly: true),
        EventCode(read2: "663..", term: "Respiratory disease monitoring", snomed: nil, weight: 1),
        EventCode(read2: "H33..", term: "Asthma", snomed: "195967001", weight: 2),
        EventCode(read2: "C10F.", term: "Type 2 diabetes mellitus", snomed: "44054006", weight: 1, adultOnly: true),
        EventCode(read2: "G20..", term: "Essential hypertension", snomed: "59621000", weight: 2, adultOnly: true),
        EventCode(read2: "G573.", term: "Atrial fibrillation and flutter", snomed: "49436004", weight: 0.5, adultOnly: true),
        EventCode(read2: "H3...", term: "Chronic obstructive pulmonary disease", snomed: "13645005", weight: 0.5, adultOnly: true),
        EventCode(read2: "C04..", term: "Acquired hypothyroidism", snomed: "40930008", weight: 0.5, adultOnly: true),
        EventCode(read2: "F25..", term: "Epilepsy", snomed: "84757009", weight: 0.3),
        EventCode(read2: "1Z12.", term: "Chronic kidney disease stage 3", snomed: "433144002", weight: 0.5, adultOnly: true),
        EventCode(read2: "E2003", term: "Anxiety with depression", snomed: "231504006", weight: 1, adultOnly: true),
        EventCode(read2: "Eu32.", term: "[X]Depressive episode", snomed: "35489007", weight: 1, adultOnly: true),
        EventCode(read2: "H06z0", term: "Chest infection NOS", snomed: "50417007", weight: 2),
        EventCode(read2: "H05z.", term: "Upper respiratory infection NOS", snomed: "54150009", weight: 3),
        EventCode(read2: "H01..", term: "Acute sinusitis", snomed: "15805002", weight: 0.5),
        EventCode(read2: "H02..", term: "Acute pharyngitis", snomed: "363746003", weight: 0.8),
        EventCode(read2: "K190.", term: "Urinary tract infection, site not specified", snomed: "68566005", weight: 2),
        EventCode(read2: "171..", term: "Cough", snomed: "49727002", weight: 2),
        EventCode(read2: "A53..", term: "Herpes zoster", snomed: "4740000", weight: 0.3),
        EventCode(read2: "M03z0", term: "Cellulitis NOS", snomed: "128045006", weight: 0.5),
        EventCode(read2: "M11..", term: "Atopic dermatitis and related conditions", snomed: "24079001", weight: 0.5),
        EventCode(read2: "J16y4", term: "Dyspepsia", snomed: "162031009", weight: 0.8),
        EventCode(read2: "D00..", term: "Iron deficiency anaemias", snomed: "87522002", weight: 0.3),
    ]

    struct Medicine: Sendable {
        var term: String
        /// Read v2 drug chapter letter (BNF area).
        var chapter: Character
        /// BNF chapter and section digits of the presentation code.
        var bnfSection: String
        var weight: Double
        /// Long-term (repeat) medicine rather than an acute course.
        var longTerm: Bool
        /// Typical quantity per issue.
        var quantity: Int
    }

    static let medicines: [Medicine] = [
        Medicine(term: "Amlodipine 5mg tablets", chapter: "b", bnfSection: "0206", weight: 6, longTerm: true, quantity: 28),
        Medicine(term: "Atorvastatin 20mg tablets", chapter: "b", bnfSection: "0212", weight: 7, longTerm: true, quantity: 28),
        Medicine(term: "Simvastatin 40mg tablets", chapter: "b", bnfSection: "0212", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Ramipril 5mg capsules", chapter: "b", bnfSection: "0205", weight: 4, longTerm: true, quantity: 28),
        Medicine(term: "Losartan 50mg tablets", chapter: "b", bnfSection: "0205", weight: 2, longTerm: true, quantity: 28),
        Medicine(term: "Bisoprolol 2.5mg tablets", chapter: "b", bnfSection: "0204", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Furosemide 40mg tablets", chapter: "b", bnfSection: "0202", weight: 2, longTerm: true, quantity: 28),
        Medicine(term: "Aspirin 75mg dispersible tablets", chapter: "b", bnfSection: "0209", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Omeprazole 20mg gastro-resistant capsules", chapter: "a", bnfSection: "0103", weight: 7, longTerm: true, quantity: 28),
        Medicine(term: "Lansoprazole 30mg gastro-resistant capsules", chapter: "a", bnfSection: "0103", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Levothyroxine sodium 50microgram tablets", chapter: "f", bnfSection: "0602", weight: 4, longTerm: true, quantity: 28),
        Medicine(term: "Metformin 500mg tablets", chapter: "f", bnfSection: "0601", weight: 4, longTerm: true, quantity: 56),
        Medicine(term: "Sertraline 50mg tablets", chapter: "d", bnfSection: "0403", weight: 4, longTerm: true, quantity: 28),
        Medicine(term: "Citalopram 20mg tablets", chapter: "d", bnfSection: "0403", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Fluoxetine 20mg capsules", chapter: "d", bnfSection: "0403", weight: 2, longTerm: true, quantity: 30),
        Medicine(term: "Mirtazapine 15mg tablets", chapter: "d", bnfSection: "0403", weight: 1.5, longTerm: true, quantity: 28),
        Medicine(term: "Amitriptyline 10mg tablets", chapter: "d", bnfSection: "0403", weight: 3, longTerm: true, quantity: 28),
        Medicine(term: "Salbutamol 100micrograms/dose inhaler CFC free", chapter: "c", bnfSection: "0301", weight: 4, longTerm: true, quantity: 1),
        Medicine(term: "Beclometasone 100micrograms/dose inhaler CFC free", chapter: "c", bnfSection: "0302", weight: 2, longTerm: true, quantity: 1),
        Medicine(term: "Colecalciferol 800unit capsules", chapter: "i", bnfSection: "0906", weight: 2, longTerm: true, quantity: 30),
        Medicine(term: "Folic acid 5mg tablets", chapter: "i", bnfSection: "0901", weight: 1, longTerm: true, quantity: 28),
        Medicine(term: "Amoxicillin 500mg capsules", chapter: "e", bnfSection: "0501", weight: 6, longTerm: false, quantity: 21),
        Medicine(term: "Flucloxacillin 500mg capsules", chapter: "e", bnfSection: "0501", weight: 2, longTerm: false, quantity: 28),
        Medicine(term: "Clarithromycin 500mg tablets", chapter: "e", bnfSection: "0501", weight: 1.5, longTerm: false, quantity: 14),
        Medicine(term: "Doxycycline 100mg capsules", chapter: "e", bnfSection: "0501", weight: 1.5, longTerm: false, quantity: 8),
        Medicine(term: "Nitrofurantoin 100mg modified-release capsules", chapter: "e", bnfSection: "0501", weight: 2, longTerm: false, quantity: 6),
        Medicine(term: "Trimethoprim 200mg tablets", chapter: "e", bnfSection: "0501", weight: 1.5, longTerm: false, quantity: 6),
        Medicine(term: "Co-amoxiclav 500mg/125mg tablets", chapter: "e", bnfSection: "0501", weight: 1.5, longTerm: false, quantity: 21),
        Medicine(term: "Prednisolone 5mg tablets", chapter: "f", bnfSection: "0603", weight: 1.5, longTerm: false, quantity: 28),
        Medicine(term: "Paracetamol 500mg tablets", chapter: "d", bnfSection: "0407", weight: 3, longTerm: false, quantity: 32),
        Medicine(term: "Ibuprofen 400mg tablets", chapter: "j", bnfSection: "1001", weight: 2.5, longTerm: false, quantity: 24),
        Medicine(term: "Naproxen 500mg tablets", chapter: "j", bnfSection: "1001", weight: 2, longTerm: false, quantity: 28),
        Medicine(term: "Cetirizine 10mg tablets", chapter: "c", bnfSection: "0304", weight: 1.5, longTerm: false, quantity: 30),
        Medicine(term: "Hydrocortisone 1% cream", chapter: "m", bnfSection: "1302", weight: 1, longTerm: false, quantity: 1),
        Medicine(term: "Emollient cream", chapter: "m", bnfSection: "1302", weight: 1.5, longTerm: false, quantity: 1),
    ]
}
