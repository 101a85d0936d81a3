import Postgres

/// Generates one patient at a time from the population model in
/// ``SyntheticFigures``: who they are, when they were registered, and their
/// coded events and prescriptions over the period their record covers.
///
/// Every patient uses its own random stream (the run's seed and the
/// patient's sequence number), so a patient's record does not depend on the
/// patients before it.
struct PatientGenerator {
    let codes: SyntheticCodeBook
    let seed: UInt64
    let extractDay: Int
    private let ageBandTable: AliasTable
    private let deathBandTable: AliasTable
    private let earliestDay = LocalDate(year: 1900, month: 1, day: 1)!.dayNumber
    private let dissentFrom = LocalDate(year: 2009, month: 1, day: 1)!.dayNumber

    static let year = 365.2425

    init(codes: SyntheticCodeBook, seed: UInt64, extractDate: LocalDate) {
        self.codes = codes
        self.seed = seed
        extractDay = extractDate.dayNumber
        ageBandTable = AliasTable(weights: SyntheticFigures.ageBandPercent)
        deathBandTable = AliasTable(weights: SyntheticFigures.deathAgeBandShare)
    }

    /// The practice-level multiplier on pain, pain medication and fit notes.
    typealias PracticeFactor = Double

    func generate(_ p: SyntheticPatient, sequence: Int, practice: Int, practiceFactor: PracticeFactor) {
        p.reset(sequence: sequence, practice: practice)
        var rng = SyntheticRandom(seed: seed, stream: UInt64(sequence) &+ 1)
        let D = extractDay
        let F = SyntheticFigures.self
        let year = Self.year

        // Demographics and registration.
        let status = rng.uniform()
        var band: Int
        var recordEnd: Int
        if status < F.shareCurrent {
            band = ageBandTable.sample(&rng)
            let age = Double(ageInBand(band, &rng)) + rng.uniform()
            p.birthDay = D - Int(age * year)
            if band < 4 && age < 18 && rng.chance(F.childRegisteredAtBirth) {
                p.registrationStart = p.birthDay + rng.int(in: 7...60)
            } else {
                p.registrationStart = D - Int(rng.exponential(mean: F.meanYearsRegistered) * year)
            }
            recordEnd = D
        } else if status < F.shareCurrent + F.shareLeft {
            band = ageBandTable.sample(&rng)
            let leftDay = D - 1 - rng.below(Int(F.yearsOfLeavers * year))
            let age = Double(ageInBand(band, &rng)) + rng.uniform()
            p.birthDay = leftDay - Int(age * year)
            p.registrationStart = leftDay - 1 - Int(rng.exponential(mean: F.meanYearsBeforeLeaving) * year)
            p.registrationEnd = leftDay
            recordEnd = leftDay
        } else {
            let deathBand = deathBandTable.sample(&rng)
            let range = F.deathAgeBands[deathBand]
            let age = Double(rng.int(in: range)) + rng.uniform()
            let death = D - rng.below(Int(F.yearsOfLeavers * year))
            p.birthDay = death - Int(age * year)
            p.deathDay = death
            p.registrationStart = death - 1 - Int(rng.exponential(mean: F.meanYearsRegistered) * year)
            p.registrationEnd = min(death + rng.int(in: 0...14), D)
            recordEnd = death
            band = min(Int(age) / 5, F.ageBandPercent.count - 1)
        }
        p.registrationStart = min(max(p.registrationStart, p.birthDay + 7, earliestDay), recordEnd)
        p.firstRegistration = rng.chance(0.05) ? max(p.birthDay, p.registrationStart - rng.int(in: 365...3650)) : p.registrationStart
        let birth = LocalDate(dayNumber: p.birthDay)
        p.yearOfBirth = birth.year
        p.monthOfBirth = rng.chance(F.monthOfBirthMissing) ? 0 : birth.month
        let femaleShare = F.ageBandFemale[min(band, F.ageBandFemale.count - 1)]
        let s = rng.uniform()
        p.sex = s < F.sexIndeterminate ? UInt8(ascii: "I")
            : s < F.sexIndeterminate + F.sexUnknown ? UInt8(ascii: "U")
            : rng.chance(femaleShare) ? UInt8(ascii: "F") : UInt8(ascii: "M")
        let female = p.sex == UInt8(ascii: "F")

        // The period the record covers: registration, plus history transferred from an earlier practice.
        var recordStart = p.registrationStart
        if rng.chance(F.transferredHistoryShare) {
            recordStart -= Int(rng.uniform() * F.transferredHistoryMaxYears * year)
        }
        recordStart = max(recordStart, p.birthDay, earliestDay)
        guard recordEnd > recordStart else { return }
        let record = SyntheticSpan(start: recordStart, end: recordEnd)
        let ageAtEnd = Int(Double(recordEnd - p.birthDay) / year)
        var ctx = SyntheticRecordBuilder(p: p, rng: rng, record: record, year: year)

        background(&ctx, ageAtEnd: ageAtEnd, female: female)

        // Chronic pain: active (coded in the last two years of the record) or past.
        let painAge = F.chronicPainAge[F.band(ageAtEnd, [18, 30, 45, 65, 80])]
        let pPain = min(0.95, F.chronicPainBase * painAge * (female ? F.chronicPainFemale : F.chronicPainMale) * practiceFactor)
        let adultFrom = p.birthDay + Int(16 * year)
        var painActive = false, painPast = false
        var painOnset = recordEnd
        if ageAtEnd >= 10 && ctx.rng.chance(pPain) {
            painActive = true
            painOnset = max(recordEnd - Int(ctx.rng.exponential(mean: F.painMeanYearsSinceOnset) * year), p.birthDay + Int(10 * year))
            painEvents(&ctx, from: painOnset, to: recordEnd, ensureFrom: recordEnd - 730)
        } else if ageAtEnd >= 12 && ctx.rng.chance(pPain * F.chronicPainPastFactor) {
            painPast = true
            let end = recordEnd - 731 - Int(ctx.rng.exponential(mean: 3) * year)
            let start = max(end - Int(ctx.rng.exponential(mean: 3) * year), p.birthDay + Int(10 * year))
            if end > start { painEvents(&ctx, from: start, to: end, ensureFrom: nil) }
        }

        // Pain medication: ongoing repeat courses, past courses, acute episodes.
        var persistent = false
        if ageAtEnd >= 18 {
            let medAge = [0.55, 0.95, 1.2, 1.45][F.band(ageAtEnd, [30, 45, 65])]
            let pCourse = painActive ? F.persistentGivenPain * medAge * practiceFactor : F.persistentWithoutPain
            if ctx.rng.chance(pCourse) {
                persistent = true
                let gabapentinoid = ctx.rng.chance(F.gabapentinoidShare)
                let start = max(recordEnd - Int(ctx.rng.exponential(mean: F.courseMeanYears) * year), adultFrom)
                repeatCourse(&ctx, gabapentinoid ? .gabapentinoid : .opioid, from: start, to: recordEnd)
                if ctx.rng.chance(F.bothClassesShare) {
                    let second = start + Int(ctx.rng.uniform() * Double(max(0, recordEnd - start)))
                    repeatCourse(&ctx, gabapentinoid ? .opioid : .gabapentinoid, from: second, to: recordEnd)
                }
            } else if painPast && ctx.rng.chance(F.pastCourseGivenPastPain) {
                let end = recordEnd - 400 - Int(ctx.rng.exponential(mean: 2) * year)
                let start = max(end - Int(ctx.rng.exponential(mean: 1) * year), adultFrom)
                if end > start { repeatCourse(&ctx, ctx.rng.chance(F.gabapentinoidShare) ? .gabapentinoid : .opioid, from: start, to: end) }
            }
            acuteOpioids(&ctx, from: adultFrom, painFrom: painActive ? painOnset : nil, practiceFactor: practiceFactor)
        }

        // Work status, fit notes and unemployment, at working ages. Fit notes
        // and work status draw from a stream of their own.
        var notes = SyntheticRandom(seed: seed, stream: (UInt64(sequence) &+ 1) ^ 0xF17_0000_0000)
        let group = painActive ? (persistent ? 2 : 1) : 0
        let ageAtExtract = Int(Double(D - p.birthDay) / year)
        if recordEnd == D && p.deathDay == nil && p.registrationEnd == nil {
            p.workStatus = (16...66).contains(ageAtExtract) ? .inWork : .notWorkingAge
        } else {
            p.workStatus = .notRegistered
        }
        let working = SyntheticSpan(start: p.birthDay + Int(16 * year), end: p.birthDay + Int(67 * year))
        if let span = record.intersection(working) {
            let sexFactor = female ? F.fitNoteFemale : F.fitNoteMale
            let elevated = painActive ? F.fitNoteEpisodeRateWithPain : F.fitNoteEpisodeRate
            let high = persistent && painActive ? F.fitNoteEpisodeRateWithPainAndMedication : elevated
            // Now: out of work (certified now, before, or never), off sick from a job, or in work.
            var shortUntil = span.end
            if p.workStatus == .inWork {
                if notes.chance(min(0.9, F.outOfWork[group] * practiceFactor)) {
                    p.workStatus = .outOfWork
                    let u = notes.uniform()
                    if u < F.outOfWorkCertifiedNow {
                        let start = D - 14 - Int(notes.exponential(mean: 1.2) * year)
                        fitNoteChain(&ctx, &notes, from: max(start, span.start), until: D, long: true)
                        shortUntil = start - 60
                    } else if u < F.outOfWorkCertifiedNow + F.outOfWorkCertifiedBefore {
                        let end = D - notes.int(in: 60...730)
                        let start = end - 91 - Int(notes.exponential(mean: 0.8) * year)
                        fitNoteChain(&ctx, &notes, from: max(start, span.start), until: end, long: true)
                        shortUntil = start - 60
                    }
                } else if notes.chance(F.offSickNow[group] * practiceFactor) {
                    p.workStatus = .offSickWithJob
                    let u = notes.uniform()
                    let days = u < F.offSickVeryLongShare ? notes.int(in: 121...365)
                        : u < F.offSickLongShare ? notes.int(in: 57...120) : notes.int(in: 0...56)
                    fitNoteChain(&ctx, &notes, from: max(D - days, span.start), until: D, long: days > 56)
                    shortUntil = D - days - 60
                } else {
                    // In work: no episode running now.
                    shortUntil = D - 60
                }
            }
            // A past long chain, ended (back to work, or moved on).
            if notes.chance(F.pastLongChain), span.end - 400 > span.start {
                let end = span.start + notes.below(span.end - 400 - span.start + 1)
                let start = end - 91 - Int(notes.exponential(mean: 0.6) * year)
                fitNoteChain(&ctx, &notes, from: max(start, span.start), until: end, long: true)
            }
            // Short episodes over the working-age record: baseline before pain onset, then the elevated rate.
            let past = SyntheticSpan(start: span.start, end: min(span.end, shortUntil))
            let onset = painActive ? max(past.start, min(painOnset, past.end)) : past.end
            fitNotes(&ctx, &notes, SyntheticSpan(start: past.start, end: onset), rate: F.fitNoteEpisodeRate * sexFactor * practiceFactor)
            fitNotes(&ctx, &notes, SyntheticSpan(start: onset, end: past.end), rate: high * sexFactor * practiceFactor)
            let unemploymentFactor = painActive ? (persistent ? F.unemploymentPainAndMedicationFactor : F.unemploymentPainFactor) : 1
            ctx.pointEvents(.unemployment, codes, span, rate: F.unemploymentRate * unemploymentFactor)
        }

        // Cancer, palliative care, research dissent.
        exclusions(&ctx, ageAtEnd: ageAtEnd)
        p.sortRecords()
    }

    // MARK: Parts of the record

    private func background(_ ctx: inout SyntheticRecordBuilder, ageAtEnd: Int, female: Bool) {
        let F = SyntheticFigures.self
        let p = ctx.p
        let band = F.band(ageAtEnd, [5, 16, 45, 65, 80])
        var rate = F.consultationRate[band]
        if band == 2 && female { rate *= F.consultationFemale1644 }
        let consultations = ctx.rng.poisson(mean: rate * ctx.record.years)
        let adultDay = p.birthDay + Int(18 * Self.year)
        for _ in 0..<consultations {
            let day = ctx.record.randomDay(&ctx.rng)
            let n = 1 + ctx.rng.poisson(mean: F.extraCodesPerConsultation)
            for _ in 0..<n {
                guard var code = codes.draw(.backgroundEvent, &ctx.rng) else { return }
                if codes[code].adultOnly && day < adultDay {
                    guard let other = codes.draw(.backgroundEvent, &ctx.rng), !codes[other].adultOnly else { continue }
                    code = other
                }
                ctx.addEvent(day, code, codes)
                // Blood pressure is recorded as a pair.
                if codes[code].measure == .systolic, let diastolic = diastolicCode(like: code) {
                    ctx.addEvent(day, diastolic, codes)
                }
            }
        }
        // Acute prescriptions.
        let acute = ctx.rng.poisson(mean: F.acutePrescriptionRate * ctx.record.years)
        for _ in 0..<acute {
            guard let code = codes.draw(from: codes.acuteMedicines, &ctx.rng) else { break }
            let day = ctx.record.randomDay(&ctx.rng)
            ctx.p.prescriptions.append(.init(day: Int32(day), code: code, quantity: Int32(codes[code].quantity),
                                             duration: Int16(ctx.rng.int(in: 5...14)), issue: 0))
        }
        // Long-term repeat medication.
        let repeatChance = F.repeatMedicationChance[F.band(ageAtEnd, [18, 45, 65])]
        if ctx.rng.chance(repeatChance) {
            let courses = 1 + ctx.rng.poisson(mean: 0.6)
            for _ in 0..<courses {
                guard let code = codes.draw(from: codes.longTermMedicines, &ctx.rng) else { break }
                let end = ctx.rng.chance(0.6) ? ctx.record.end : ctx.record.randomDay(&ctx.rng)
                let start = max(ctx.record.start, end - Int(ctx.rng.exponential(mean: F.repeatCourseMeanYears) * Self.year))
                ctx.issues(code: code, from: start, to: end, codes)
            }
        }
    }

    /// The diastolic code in the same system as a systolic one.
    private func diastolicCode(like systolic: Int32) -> Int32? {
        let system = codes[systolic].system
        for pool in codes.pools(.backgroundEvent).pools where pool.system == system {
            for c in pool.codes where codes[c].measure == .diastolic { return c }
        }
        return nil
    }

    private func painEvents(_ ctx: inout SyntheticRecordBuilder, from: Int, to: Int, ensureFrom: Int?) {
        guard let span = ctx.record.intersection(SyntheticSpan(start: from, end: to)) else { return }
        // A person's pain is coded with one to three codes of their own, used again and again.
        var personal: [Int32] = []
        for _ in 0..<(1 + ctx.rng.below(3)) {
            if let c = codes.draw(.chronicPain, &ctx.rng) { personal.append(c) }
        }
        guard !personal.isEmpty else { return }
        let n = ctx.rng.poisson(mean: SyntheticFigures.painConsultationRate * span.years)
        var recent = false
        for _ in 0..<n {
            let day = span.randomDay(&ctx.rng)
            if let ensureFrom, day >= ensureFrom { recent = true }
            ctx.addEvent(day, personal[ctx.rng.below(personal.count)], codes)
        }
        if let ensureFrom, !recent, let window = span.intersection(SyntheticSpan(start: ensureFrom, end: span.end)) {
            ctx.addEvent(window.randomDay(&ctx.rng), personal[ctx.rng.below(personal.count)], codes)
        }
    }

    private func repeatCourse(_ ctx: inout SyntheticRecordBuilder, _ concept: SyntheticConcept, from: Int, to: Int) {
        guard let code = codes.draw(concept, &ctx.rng) else { return }
        ctx.issues(code: code, from: max(from, ctx.record.start), to: min(to, ctx.record.end), codes)
    }

    private func acuteOpioids(_ ctx: inout SyntheticRecordBuilder, from adultFrom: Int, painFrom: Int?, practiceFactor: Double) {
        let F = SyntheticFigures.self
        guard let adult = ctx.record.intersection(SyntheticSpan(start: adultFrom, end: ctx.record.end)) else { return }
        var spans = [(adult, F.acuteOpioidRate)]
        if let painFrom, painFrom < adult.end {
            let split = max(painFrom, adult.start)
            spans = [(SyntheticSpan(start: adult.start, end: split), F.acuteOpioidRate),
                     (SyntheticSpan(start: split, end: adult.end), F.acuteOpioidRateWithPain)]
        }
        for (span, rate) in spans where span.end > span.start {
            let n = ctx.rng.poisson(mean: rate * practiceFactor * span.years)
            for _ in 0..<n {
                let concept: SyntheticConcept = ctx.rng.chance(0.12) ? .gabapentinoid : .opioid
                guard let code = codes.draw(concept, &ctx.rng) else { continue }
                var day = span.randomDay(&ctx.rng)
                let count = ctx.rng.chance(0.3) ? 2 : 1
                for _ in 0..<count where day <= ctx.record.end {
                    ctx.p.prescriptions.append(.init(day: Int32(day), code: code, quantity: Int32(codes[code].quantity / 4),
                                                     duration: Int16(ctx.rng.chance(0.5) ? 7 : 14), issue: 0))
                    day += ctx.rng.int(in: 14...28)
                }
            }
        }
    }

    /// Short episodes at `rate` a year over `span`: one note or a few, each
    /// covering days to weeks, the next one usually from the day after.
    private func fitNotes(_ ctx: inout SyntheticRecordBuilder, _ rng: inout SyntheticRandom, _ span: SyntheticSpan, rate: Double) {
        guard span.end > span.start else { return }
        let F = SyntheticFigures.self
        let episodes = rng.poisson(mean: rate * span.years)
        for _ in 0..<episodes {
            var day = span.randomDay(&rng)
            repeat {
                let days = F.shortNoteDays[rng.weightedIndex(F.shortNoteWeights)]
                guard fitNote(&ctx, &rng, day: day, days: days) else { return }
                day += days + chainGap(&rng, breakChance: F.shortGapBreakChance)
            } while rng.chance(F.fitNoteContinueChance) && day <= ctx.record.end
        }
    }

    /// A chain of notes from `from` until a note starts after `until`: long
    /// covers for people out of work or long-term sick (`long`), short ones
    /// otherwise; at most three months each in the chain's first six months.
    private func fitNoteChain(_ ctx: inout SyntheticRecordBuilder, _ rng: inout SyntheticRandom, from: Int, until: Int, long: Bool) {
        let F = SyntheticFigures.self
        var day = from
        // Where the spell so far began: a break starts a new one, as the 7-day linking rule has it.
        var spellStart = from
        while day <= until && day <= ctx.record.end {
            var days: Int
            if long || day - from > 56 {
                days = F.longNoteDays[rng.weightedIndex(F.longNoteWeights)]
                if day - spellStart >= 182 && rng.chance(F.longNoteSixMonthsShare) { days = 182 }
            } else {
                days = F.shortNoteDays[rng.weightedIndex(F.shortNoteWeights)]
            }
            guard fitNote(&ctx, &rng, day: day, days: days) else { return }
            let gap = chainGap(&rng, breakChance: F.chainBreakChance)
            day += days + gap
            if gap > 7 { spellStart = day }
        }
    }

    /// Days from the end of one note's cover to the next note's start: 0 (the
    /// day after), 1-7 (a gap within the 7-day linking rule), or a break of 8-42.
    private func chainGap(_ rng: inout SyntheticRandom, breakChance: Double) -> Int {
        if rng.chance(breakChance) { return rng.int(in: 8...42) }
        return rng.chance(SyntheticFigures.chainGapNextDay) ? 0 : rng.int(in: 1...7)
    }

    /// One fit note covering `days`, its `value` recorded on most notes;
    /// false when no fit-note code is at hand.
    private func fitNote(_ ctx: inout SyntheticRecordBuilder, _ rng: inout SyntheticRandom, day: Int, days: Int) -> Bool {
        let F = SyntheticFigures.self
        let pools = rng.chance(F.fitNoteMayBeFit) && !codes.mayBeFitNotes.isEmpty ? codes.mayBeFitNotes
            : codes.notFitNotes.isEmpty ? codes.mayBeFitNotes : codes.notFitNotes
        guard let code = codes.draw(from: pools, &rng) else { return false }
        ctx.addFitNote(day, code, days: rng.chance(F.fitNoteValueMissing) ? nil : days)
        return true
    }

    private func exclusions(_ ctx: inout SyntheticRecordBuilder, ageAtEnd: Int) {
        let F = SyntheticFigures.self
        let p = ctx.p
        let record = ctx.record
        // Cancer.
        var diagnosis: Int?
        if let death = p.deathDay, ctx.rng.chance(F.cancerBeforeDeath) {
            diagnosis = max(record.start, death - ctx.rng.int(in: 30...1100))
        } else {
            let incidence = F.cancerIncidence[F.band(ageAtEnd, [18, 45, 65, 75])]
            let wait = Int(ctx.rng.exponential(mean: 1 / incidence) * Self.year)
            if record.start + wait <= record.end { diagnosis = record.start + wait }
        }
        if let diagnosis {
            let n = 1 + ctx.rng.below(2)
            for _ in 0..<n { if let c = codes.draw(.cancer, &ctx.rng) { ctx.addEvent(diagnosis, c, codes) } }
            let early = SyntheticSpan(start: diagnosis, end: min(record.end, diagnosis + Int(2 * Self.year)))
            ctx.pointEvents(.cancer, codes, early, rate: F.cancerFollowUpEarly)
            if let late = record.intersection(SyntheticSpan(start: early.end, end: diagnosis + Int(10 * Self.year))) {
                ctx.pointEvents(.cancer, codes, late, rate: F.cancerFollowUpLate)
            }
        }
        // Palliative care.
        var palliativeFrom: Int?
        if let death = p.deathDay {
            if ctx.rng.chance(diagnosis != nil ? 0.65 : 0.15) { palliativeFrom = max(record.start, death - ctx.rng.int(in: 14...365)) }
        } else if ctx.rng.chance(F.palliativeAlive[F.band(ageAtEnd, [18, 65, 80])]) {
            palliativeFrom = max(record.start, record.end - ctx.rng.below(Int(3 * Self.year)))
        }
        if let from = palliativeFrom {
            let span = SyntheticSpan(start: from, end: record.end)
            for _ in 0..<(1 + ctx.rng.below(3)) {
                if let c = codes.draw(.palliativeCare, &ctx.rng) { ctx.addEvent(span.randomDay(&ctx.rng), c, codes) }
            }
        }
        // Research dissent, sometimes withdrawn later (on the same day: dissent still wins).
        if ctx.rng.chance(F.dissentEver), let span = record.intersection(SyntheticSpan(start: dissentFrom, end: record.end)),
           let optOut = codes.draw(.researchOptOut, &ctx.rng) {
            let day = span.randomDay(&ctx.rng)
            ctx.addEvent(day, optOut, codes)
            if ctx.rng.chance(F.dissentWithdrawn), let withdrawn = codes.draw(.researchOptOutWithdrawn, &ctx.rng) {
                if ctx.rng.chance(F.dissentWithdrawnSameDay) {
                    ctx.addEvent(day, withdrawn, codes)
                } else if day < record.end {
                    ctx.addEvent(day + 1 + ctx.rng.below(record.end - day), withdrawn, codes)
                }
            }
        }
    }

    private func ageInBand(_ band: Int, _ rng: inout SyntheticRandom) -> Int {
        band == SyntheticFigures.ageBandPercent.count - 1 ? 90 + min(Int(rng.exponential(mean: 3.5)), 14) : band * 5 + rng.below(5)
    }
}

/// A closed range of day numbers.
struct SyntheticSpan {
    var start: Int
    var end: Int

    var years: Double { Double(max(0, end - start)) / PatientGenerator.year }

    func intersection(_ other: SyntheticSpan) -> SyntheticSpan? {
        let s = max(start, other.start), e = min(end, other.end)
        return e >= s ? SyntheticSpan(start: s, end: e) : nil
    }

    @inline(__always)
    func randomDay(_ rng: inout SyntheticRandom) -> Int {
        start + rng.below(end - start + 1)
    }
}

/// The patient being generated, its random stream and its record period.
struct SyntheticRecordBuilder {
    let p: SyntheticPatient
    var rng: SyntheticRandom
    let record: SyntheticSpan
    let year: Double

    @inline(__always)
    mutating func addEvent(_ day: Int, _ code: Int32, _ codes: SyntheticCodeBook) {
        guard day >= record.start, day <= record.end else { return }
        var value = SyntheticPatient.Event.noValue
        if let measure = codes[code].measure {
            let d = measure.distribution
            var v = rng.normal(mean: d.mean, sd: d.sd)
            v = min(max(v, d.min), d.max)
            value = d.decimal ? Int32((v * 10).rounded()) : Int32(v.rounded()) * 10
        }
        p.events.append(.init(day: Int32(day), code: code, value: value))
    }

    /// A fit note with the days it covers as its value (in tenths), or none.
    @inline(__always)
    mutating func addFitNote(_ day: Int, _ code: Int32, days: Int?) {
        guard day >= record.start, day <= record.end else { return }
        p.events.append(.init(day: Int32(day), code: code, value: days.map { Int32($0 * 10) } ?? SyntheticPatient.Event.noValue))
    }

    /// Events of `concept` at `rate` per year over `span`.
    mutating func pointEvents(_ concept: SyntheticConcept, _ codes: SyntheticCodeBook, _ span: SyntheticSpan, rate: Double) {
        guard span.end > span.start else { return }
        let n = rng.poisson(mean: rate * span.years)
        for _ in 0..<n {
            guard let code = codes.draw(concept, &rng) else { return }
            addEvent(span.randomDay(&rng), code, codes)
        }
    }

    /// A repeat course: issues every 28 or 56 days with jitter and occasional
    /// gaps, the first acute and the rest numbered repeats.
    mutating func issues(code: Int32, from: Int, to: Int, _ codes: SyntheticCodeBook) {
        guard to >= from else { return }
        let interval = rng.chance(SyntheticFigures.interval28Share) ? 28 : 56
        let quantity = Int32(codes[code].quantity * interval / 28)
        var day = from
        var issue: Int16 = 0
        while day <= to {
            p.prescriptions.append(.init(day: Int32(day), code: code, quantity: quantity, duration: Int16(interval), issue: issue))
            issue = min(issue + 1, 9_999)
            day += interval + rng.int(in: -3...5)
            if rng.chance(SyntheticFigures.gapChance) { day += interval * rng.int(in: 1...3) }
        }
    }
}
