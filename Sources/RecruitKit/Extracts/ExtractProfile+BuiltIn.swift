extension ExtractProfile {
    /// The built-in profiles, as YAML (the same language as custom profiles; docs/profiles.md shows them).
    static let builtIn: [String: String] = ["canonical": canonicalYAML, "cprd-gold": cprdGoldYAML]

    /// The canonical extract format itself (shared/spec/extract-format.md).
    static let canonicalYAML = """
        # The canonical extract format (gp-extract/1): UTF-8 CSV, comma, RFC 4180
        # quoting, header row, dates yyyy-MM-dd. Columns match by name, any order;
        # optional columns may be missing from the header.
        profile: canonical
        encoding: UTF-8
        delimiter: ","
        quote: '"'
        date_formats: [yyyy-MM-dd]
        files:
          patients:
            file: patients.csv
            columns:
              patient_id: patient_id
              practice_id: practice_id
              year_of_birth: year_of_birth
              month_of_birth: { column: month_of_birth, optional: true }
              sex: sex
              registration_start: registration_start
              registration_end: { column: registration_end, optional: true }
              death_date: { column: death_date, optional: true }
          events:
            file: events.csv
            columns:
              patient_id: patient_id
              event_date: event_date
              code: code
              code_system: code_system
              value: { column: value, optional: true }
          prescriptions:
            file: prescriptions.csv
            columns:
              patient_id: patient_id
              issue_date: issue_date
              code: code
              code_system: code_system
              quantity: { column: quantity, optional: true }
              duration_days: { column: duration_days, optional: true }
              issue_type: { column: issue_type, optional: true }

        """

    /// CPRD GOLD-style text files (Patient, Clinical, Therapy + medical and product dictionaries).
    static let cprdGoldYAML = """
        # CPRD GOLD-style extract (after CPRD GOLD's data specification; see
        # docs/profiles.md): tab-delimited, no quoting, header row, dd/mm/yyyy dates.
        profile: cprd-gold
        encoding: UTF-8
        delimiter: tab
        quote: none
        date_formats: [dd/MM/yyyy]
        dictionaries:
          medical:                      # medcode -> Read v2 code with term id (7 characters)
            file: medical.txt
            key: medcode
            value: readcode
          product:                      # prodcode -> dm+d id
            file: product.txt
            key: prodcode
            value: dmdcode
        files:
          patients:
            file: Patient.txt
            columns:
              patient_id: patid
              # pracid is the last three digits of patid: P + zero-padded pracid
              practice_id: { column: patid, right: 3, pad: 3, prefix: P }
              year_of_birth: { column: yob, add: 1800 }
              month_of_birth: { column: mob, map: { "0": "" } }
              sex: { column: gender, map: { "0": U, "1": M, "2": F, "3": I } }
              registration_start: crd
              registration_end: tod
              death_date: deathdate
            ignore: { frd: date, accept: code }
            skip_when: { accept: "0" }
          events:
            file: Clinical.txt
            columns:
              patient_id: patid
              event_date: eventdate
              code: { column: medcode, lookup: medical }
              code_system: { constant: read2 }
            ignore: { sysdate: date, constype: code, consid: id, staffid: id, episode: code, enttype: code, adid: id }
          prescriptions:
            file: Therapy.txt
            columns:
              patient_id: patid
              issue_date: eventdate
              code: { column: prodcode, lookup: product }
              code_system: { constant: dmd }
              quantity: qty
              duration_days: { column: numdays, map: { "0": "" } }
              issue_type: { column: issueseq, map: { "0": acute, "*": repeat } }
            ignore: { sysdate: date, consid: id, staffid: id, dosageid: id, bnfcode: code, numpacks: number, packtype: code }

        """
}
