/// Every number the synthesiser's population model uses, in one place, with
/// where it comes from. `docs/synthetic-data.md` explains them; the targets in
/// ``Target`` are what the prevalence tests check on 50,000 patients.
///
/// Rates are per person-year unless said otherwise. "Calibrated" parameters
/// were tuned (by measuring the generated extracts with the tests' reader) so
/// that the measured prevalence of a reference-cohort criterion among the
/// cohort's population (registered ≥ 1 year, alive, aged 18-64 at the extract
/// date) meets its published target.
public enum SyntheticFigures {
    /// The published or derived prevalence each reference-cohort criterion
    /// should show among adults 18-64 registered ≥ 365 days and alive at the
    /// extract date (see docs/synthetic-data.md for the sources).
    public enum Target {
        /// Criterion 5: a `chronic-pain` event within 730 days.
        public static let chronicPain = 0.25
        /// Criterion 6: ≥ 3 opioid/gabapentinoid prescriptions within 365 days, spanning ≥ 90 days.
        public static let persistentPainMedication = 0.045
        /// Criterion 7 (first half): a `fit-notes` event within 365 days.
        public static let fitNote = 0.10
        /// Criterion 7 (second half): an `unemployment` event within 730 days.
        public static let unemployment = 0.015
        /// Criterion 8: a `cancer` event within 1,825 days.
        public static let cancer = 0.015
        /// Criterion 9: a `palliative-care` event ever.
        public static let palliativeCare = 0.0015
        /// Criterion 10: research dissent in force.
        public static let researchDissent = 0.025
    }

    // MARK: Population structure

    /// Share of the population in 5-year age bands 0-4 ... 85-89, 90+ (per cent),
    /// rounded from ONS mid-2022 UK population estimates.
    static let ageBandPercent: [Double] = [5.4, 5.9, 6.1, 5.8, 6.1, 6.5, 6.8, 6.7, 6.4, 6.2,
                                           6.8, 6.8, 5.9, 5.0, 4.7, 3.8, 2.5, 1.5, 0.9]
    /// Share female in the same bands (ONS mid-2022, rounded).
    static let ageBandFemale: [Double] = [0.49, 0.49, 0.49, 0.49, 0.50, 0.50, 0.51, 0.51, 0.51, 0.51,
                                          0.51, 0.51, 0.51, 0.52, 0.53, 0.54, 0.56, 0.60, 0.67]
    /// Sex recorded as indeterminate (I) or unknown (U): rare in GP records.
    static let sexIndeterminate = 0.0002
    static let sexUnknown = 0.0005
    /// Month of birth not recorded.
    static let monthOfBirthMissing = 0.03

    /// Who is in a practice's extract: currently registered, transferred out
    /// (within the last 8 years) or died (within the last 8 years). About one in
    /// ten of a list changes each year (NHS Digital registration data).
    static let shareCurrent = 0.78
    static let shareLeft = 0.17
    // The rest (0.05) died.
    /// Years registered for current patients: exponential, mean 12 years (so
    /// about 8 % joined within the last year), never before birth.
    static let meanYearsRegistered = 12.0
    /// Children registered from birth.
    static let childRegisteredAtBirth = 0.6
    /// Years registered before leaving, for leavers.
    static let meanYearsBeforeLeaving = 6.0
    /// Leavers' and deaths' end dates fall within this many years before the extract.
    static let yearsOfLeavers = 8.0
    /// Age at death, bands 0-17, 18-64, 65-74, 75-84, 85+ (ONS deaths by age, rounded).
    static let deathAgeBandShare: [Double] = [0.01, 0.14, 0.15, 0.30, 0.40]
    static let deathAgeBands: [ClosedRange<Int>] = [0...17, 18...64, 65...74, 75...84, 85...100]
    /// Share of patients whose record carries history from an earlier practice
    /// (GP2GP transfer), and how many years of it at most.
    static let transferredHistoryShare = 0.5
    static let transferredHistoryMaxYears = 10.0

    /// Practice list sizes: log-normal, median 8,500, sigma 0.55, kept within
    /// 2,000-22,000 (NHS Digital: about 6,300 practices, mean list ~10,000).
    static let practiceMedianSize = 8_500.0
    static let practiceSizeSigma = 0.55
    static let practiceSizeRange = 2_000...22_000

    // MARK: Chronic pain (criterion 5)

    /// Probability of chronic pain active (coded within the last two years of
    /// the record), before the age and sex multipliers. Calibrated to Target.chronicPain.
    static let chronicPainBase = 0.262
    /// Age multipliers for bands <18, 18-29, 30-44, 45-64, 65-79, 80+.
    static let chronicPainAge: [Double] = [0.12, 0.62, 0.88, 1.22, 1.45, 1.55]
    static let chronicPainFemale = 1.12, chronicPainMale = 0.88
    /// Past (resolved) chronic pain, as a multiple of the active probability.
    static let chronicPainPastFactor = 0.5
    /// Pain consultations per year while pain is active.
    static let painConsultationRate = 2.5
    /// Mean years since onset of an active episode.
    static let painMeanYearsSinceOnset = 5.0

    // MARK: Pain medication (criterion 6)

    /// Probability of an ongoing repeat course of an opioid or gabapentinoid,
    /// given active chronic pain / given none. Calibrated to Target.persistentPainMedication.
    static let persistentGivenPain = 0.155
    static let persistentWithoutPain = 0.0085
    /// Share of repeat courses that are gabapentinoids (the rest opioids), and
    /// share of people on one class who also have the other.
    static let gabapentinoidShare = 0.28
    static let bothClassesShare = 0.10
    /// Mean years an ongoing course has run.
    static let courseMeanYears = 2.5
    /// Repeat intervals: 28 days (share) or 56 days; per-issue chance of a gap
    /// of 1-3 missed issues; issue-date jitter −3..+5 days.
    static let interval28Share = 0.6
    static let gapChance = 0.08
    /// Acute (one-off) opioid episodes per adult-year; with active chronic pain.
    /// PHE 2019: 13 % of adults had an opioid dispensed in 2017-18.
    static let acuteOpioidRate = 0.06
    static let acuteOpioidRateWithPain = 0.35
    /// Past long-term courses (stopped before the last year) among people with past pain.
    static let pastCourseGivenPastPain = 0.2

    // MARK: Fit notes and unemployment (criterion 7)

    /// Short fit-note episodes (people off sick from a job they go back to)
    /// per person-year at ages 16-66: baseline, with active chronic pain, with
    /// chronic pain and persistent pain medication. Calibrated to Target.fitNote
    /// together with the long chains below.
    static let fitNoteEpisodeRate = 0.064
    static let fitNoteEpisodeRateWithPain = 0.145
    static let fitNoteEpisodeRateWithPainAndMedication = 0.32
    static let fitNoteFemale = 1.12, fitNoteMale = 0.88
    /// Further notes in a short episode: geometric (mean about 0.55 more).
    static let fitNoteContinueChance = 0.35
    /// Days covered by a note of a short episode, and their weights: mostly one
    /// to four weeks, some longer (22 % of these notes are 5 weeks or more).
    static let shortNoteDays: [Int] = [7, 10, 14, 21, 28, 35, 42, 56]
    static let shortNoteWeights: [Double] = [0.16, 0.08, 0.24, 0.08, 0.22, 0.07, 0.07, 0.08]
    /// Days covered by a note of a long chain (out of work or long-term sick):
    /// four weeks, five to eight weeks, three months (at most three months in
    /// the first six months of the chain, as the fit-note guidance has it);
    /// after six months, 10 % of notes cover six months.
    static let longNoteDays: [Int] = [28, 35, 42, 56, 91]
    static let longNoteWeights: [Double] = [0.40, 0.06, 0.08, 0.16, 0.30]
    static let longNoteSixMonthsShare = 0.10
    /// Days between one note's cover and the next note of a chain: the next day
    /// (most), within a week, or now and then a break of 8-42 days (the chain
    /// becomes two spells). Short episodes break a little less often.
    static let chainGapNextDay = 0.55
    static let chainBreakChance = 0.06
    static let shortGapBreakChance = 0.04
    /// Notes that record no days covered (`value` empty).
    static let fitNoteValueMissing = 0.10
    /// Notes that say "may be fit for work" (England: about 6 %; the rest "not fit").
    static let fitNoteMayBeFit = 0.06

    /// Work status at the extract date of people 16-66 who are registered and
    /// alive: out of work with probability (none / active chronic pain /
    /// chronic pain and persistent pain medication). Of them, a share is
    /// certified now (a chain of fit notes running to the extract date), a
    /// share was certified until 2-24 months ago, the rest not at all.
    static let outOfWork: [Double] = [0.045, 0.10, 0.30]
    static let outOfWorkCertifiedNow = 0.30
    static let outOfWorkCertifiedBefore = 0.20
    /// In work and off sick now (an episode running at the extract date), by the same groups.
    static let offSickNow: [Double] = [0.012, 0.025, 0.06]
    /// Of those off sick now, the share off for more than 8 weeks, and for more than 4 months.
    static let offSickLongShare = 0.15, offSickVeryLongShare = 0.05
    /// A past long chain (ended, back to work or moved away) per person, over the working-age record.
    static let pastLongChain = 0.010
    /// Unemployment codes per person-year at ages 16-66 (multiplied with pain).
    static let unemploymentRate = 0.0068
    static let unemploymentPainFactor = 1.6
    static let unemploymentPainAndMedicationFactor = 3.0

    // MARK: Exclusions (criteria 8-10)

    /// Cancer diagnoses per person-year by age band (<18, 18-44, 45-64, 65-74, 75+),
    /// from ONS cancer registrations (about 300,000 a year in England, 65 % at 65+).
    /// Calibrated to Target.cancer.
    static let cancerIncidence: [Double] = [0.0002, 0.0008, 0.0032, 0.009, 0.014]
    /// Follow-up cancer-coded events per year: first two years, then up to ten years.
    static let cancerFollowUpEarly = 1.5, cancerFollowUpLate = 0.35
    /// Share of deaths preceded by a cancer diagnosis (about a quarter of deaths are from cancer).
    static let cancerBeforeDeath = 0.28
    /// Palliative care coded before death (Harrison et al. 2012: 29 % of decedents
    /// were on the palliative care register).
    static let palliativeBeforeDeath = 0.29
    /// Palliative care coded among the living, by age band (<18, 18-64, 65-79, 80+).
    /// QOF palliative care registers hold about 0.4-0.5 % of patients, mostly old.
    static let palliativeAlive: [Double] = [0.0002, 0.0015, 0.006, 0.02]
    /// Research dissent (type 1 opt-out) recorded at any time; share later withdrawn;
    /// share of withdrawals on the same date as the dissent (dissent still wins).
    /// NHS Digital, Care Information Choices May 2016: 1.46 million type 1
    /// opt-out codes among about 57 million registered patients (~2.6 %).
    static let dissentEver = 0.0284
    static let dissentWithdrawn = 0.12
    static let dissentWithdrawnSameDay = 0.05

    // MARK: Background

    /// Consultations with coded background events per year by age band
    /// (<5, 5-15, 16-44, 45-64, 65-79, 80+); women 16-44 consult more.
    /// Scaled so that the mean is about 40 coded events per patient.
    static let consultationRate: [Double] = [1.55, 0.63, 0.97, 1.5, 2.55, 3.4]
    static let consultationFemale1644 = 1.6
    /// Extra codes per consultation (Poisson mean; at least one code each).
    static let extraCodesPerConsultation = 0.7
    /// Background acute prescriptions per year, and the chance of being on
    /// long-term repeat medication by age band (<18, 18-44, 45-64, 65+).
    /// Scaled so that the mean is about 12 prescriptions per patient.
    static let acutePrescriptionRate = 0.3
    static let repeatMedicationChance: [Double] = [0.03, 0.11, 0.28, 0.6]
    static let repeatCourseMeanYears = 2.0

    // MARK: Coding

    /// Coding systems of events (Read v2 dominant, some CTV3 and SNOMED CT) and
    /// of prescriptions (dm+d dominant, some Read v2 drug codes and BNF codes).
    static let eventSystemWeights: [(CodeSystem, Double)] = [(.read2, 0.80), (.ctv3, 0.08), (.snomed, 0.12)]
    static let prescriptionSystemWeights: [(CodeSystem, Double)] = [(.dmd, 0.85), (.read2, 0.12), (.bnf, 0.03)]
    /// Read v2 events written with their two-digit term id (`N245.00`).
    static let readTermIDShare = 0.3

    // MARK: Helpers

    static func band(_ age: Int, _ limits: [Int]) -> Int {
        var i = 0
        while i < limits.count && age >= limits[i] { i += 1 }
        return i
    }
}
