#!/usr/bin/env bash
# Builds the shipped code lists in codelists/ from the published lists in
# ../shared/reference-codelists (see its SOURCES.md), with `recruit codelists
# import` only: nothing is edited by hand. Every choice is an option below
# (--drop, --where, --note) and is recorded in codelists/codelists.yaml; every
# cleaning the import does is reported below and recorded there too.
#
# Usage: scripts/build-codelists.sh [RECRUIT_BINARY]
#   REF=DIR  the reference lists (default ../shared/reference-codelists)
#   OUT=DIR  the library to write (default codelists; its *.csv, codelists.yaml
#            and codelists.lock are replaced)
# Re-running it on the same inputs gives byte-identical files.
set -euo pipefail
cd "$(dirname "$0")/.."
RECRUIT=${1:-${RECRUIT:-.build/debug/recruit}}
REF=${REF:-../shared/reference-codelists}
OUT=${OUT:-codelists}
[ -x "$RECRUIT" ] || swift build
[ -f "$REF/SOURCES.md" ] || { echo "no reference lists in $REF (set REF=DIR)" >&2; exit 2; }
mkdir -p "$OUT"
rm -f "$OUT"/*.csv "$OUT/codelists.yaml" "$OUT/codelists.lock"

# One import; prints the summary and cleaning lines (the per-code diff of a new list is left out).
imp() {
  echo "== $*" | cut -c1-150
  "$RECRUIT" codelists import --codelists "$OUT" -q "$@" | grep -v '^[-+~] ' || { echo "import failed: $*" >&2; exit 1; }
}

GMSDE=UoM-Data-Science-Platforms/gm-sde
GMSDE_AT=6cf10afc0d745a557b2e8dd7e0b1d4b61ea40e42            # snapshot read (2025-01-15)
GMSDE_SETS=shared/clinical-code-sets
WAITING=opensafely/waiting-list@c0b16e129b2149551d9fa92248df86699d31ebc9
WINTER=opensafely/winter-pressures-phase-II@4d95049d8d6058f9a79458520393edd8ebf43345
LONGCOVID=opensafely/long-covid-sick-notes@970152d7fca1e58b4fdce98c7fc31273be7b1375
src() { local repo=${1%@*} commit=${1#*@}; echo "$repo:$2@$commit"; }   # src REPO@COMMIT PATH
DRAFT="Draft: not yet reviewed by a clinician for this study."

# --- chronic-pain: criterion 5 (an event within 730 days) -------------------------------------
DESC="Chronic pain conditions (criterion 5): GM SDE 'chronic-pain' v1, the broad list of pain conditions built for a study of long-term opioid use in chronic non-cancer pain (SDE Lighthouse 06), in Read v2, CTV3 and SNOMED CT, kept whole."
CHOICE="Chosen over the narrower GM SDE lists (back pain, neck problems, fibromyalgia, osteoarthritis, neuropathic pain, musculoskeletal pain) and the CALIBER phenotypes because it was built for exactly this design (pain condition + persistent analgesic prescribing), covers all three event systems consistently, and CALIBER's copies have float-mangled codes."
BROAD="Kept whole although broad (about 58-61% of GM patients have a code): it includes headache and migraine (47 Read v2 codes), abdominal and pelvic pain (29), spinal fracture and its procedures, sprains, superficial injuries and congenital musculoskeletal anomalies. Not cut: the list is used with criterion 6 (3+ opioid or gabapentinoid issues over 90+ days), which supplies the 'chronic'; chronic headache and chronic abdominal pain are chronic pain; cutting chapters would leave a list no one has published or used. A reviewer may add exclude rules (e.g. exclude: S1... for fractures) in codelists.yaml."
for s in read2 ctv3 snomed; do
  imp chronic-pain "$REF/$s-chronic-pain-gmsde.csv" --system $s \
    --source "$(src $GMSDE@$GMSDE_AT $GMSDE_SETS/conditions/chronic-pain/1/chronic-pain.$([ $s = read2 ] && echo readv2 || echo $s).txt)" \
    --version "gm-sde chronic-pain v1 (last changed 5e5bc36a, 2024-04-12)" \
    --description "$DESC" --note "$CHOICE" --note "$BROAD" --note "$DRAFT"
done

# --- opioid-analgesics: criterion 6 (prescriptions) --------------------------------------------
DESC="Opioid analgesics (criterion 6, with gabapentinoids): dm+d products of OpenCodelists 'opioids for analgesia' (BNF 4.7.1, 4.7.2 and opioid-containing NSAID combinations in 10.1.1), the BNF presentation codes of those products, and GM SDE Read v2 opioid drug codes narrowed to the same scope."
imp opioid-analgesics "$REF/dmd-opioids-for-analgesia-opensafely.csv" --system dmd \
  --source "$(src $WAITING codelists/user-anschaf-opioids-for-analgesia-dmd.csv)" \
  --version "OpenCodelists user/anschaf/opioids-for-analgesia-dmd/08cdc3ac (downloaded 2024-05-30)" \
  --description "$DESC" \
  --note "Chosen over the 'opioid-containing medicines by route' lists (which include antitussives, antidiarrhoeals and anaesthetic opioids: BNF 3.9.1, 1.4.2, 15.1.4), the weak/strong/long-acting subsets (each a part of this one) and the GM SDE SNOMED opioid file (dm+d ids of every opioid product, same breadth issue): this list is the analgesic scope the study needs and was used for the same question (opioid prescribing, BMJ Medicine 2025, doi 10.1136/bmjmed-2025-001743)." \
  --note "Kept whole: 589 VMPs and 1471 AMPs, including compound analgesics (co-codamol, co-dydramol), tramadol and tapentadol, buprenorphine patches, and 6 NSAID + codeine products (BNF 10.1.1). Opioids for dependence (BNF 4.10.3) are not in it." \
  --note "$DRAFT"
imp opioid-analgesics "$REF/dmd-opioids-for-analgesia-opensafely.csv" --system bnf --code-column bnf_code \
  --source "$(src $WAITING codelists/user-anschaf-opioids-for-analgesia-dmd.csv)" \
  --version "derived from OpenCodelists user/anschaf/opioids-for-analgesia-dmd/08cdc3ac" \
  --note "Derived, not published as a BNF list: the distinct bnf_code values of the dm+d list above (one BNF presentation per group of dm+d products; the term is the first product's name). For extracts whose prescriptions carry BNF codes." \
  --note "$DRAFT"
imp opioid-analgesics "$REF/read2-opioids-gmsde.csv" --system read2 \
  --source "$(src $GMSDE@$GMSDE_AT $GMSDE_SETS/medications/opioids/1/opioids.readv2.txt)" \
  --version "gm-sde opioids v1 (last changed f8cb4522, 2024-06-14)" \
  --drop "a8...=antidiarrhoeal opium/morphine mixtures (BNF 1.4.2), not analgesics" \
  --drop "cg...=cough suppressant linctuses (BNF 3.9.1), not analgesics" \
  --drop "ch...=compound cough preparations with opioids (BNF 3.9.1), not analgesics" \
  --drop "o41..=alfentanil injections: anaesthesia and intensive care only (BNF 15.1.4.3)" \
  --drop "o4c..=remifentanil injections: anaesthesia only (BNF 15.1.4.3)" \
  --drop "o421.=fentanyl injection (Sublimaze): anaesthesia (BNF 15.1.4.3); not in the dm+d analgesia list" \
  --drop "o42x.=fentanyl injection: anaesthesia (BNF 15.1.4.3); not in the dm+d analgesia list" \
  --drop "o42y.=fentanyl injection: anaesthesia (BNF 15.1.4.3); not in the dm+d analgesia list" \
  --note "GM SDE list from the NHS drug refset 'opioid medications excluding opioids for treating opioid dependence', mapped to Read v2 drug codes; no published Read v2 list restricted to analgesia was found." \
  --note "Narrowed to the dm+d list's scope (analgesic opioids) by dropping the Read v2 chapters and codes listed under dropped: antidiarrhoeals, cough preparations and anaesthesia-only injections. Kept: the analgesic chapters di.. and dj.., NSAID + codeine products (j2..), Migraleve (dl12., dl13., also in the dm+d list) and the o4.. analgesics (fentanyl patches and transmucosal products, meptazinol, nalbuphine, papaveretum, pethidine), which Read v2 files under the anaesthesia chapter." \
  --note "$DRAFT"

# --- gabapentinoids: criterion 6 (prescriptions) -----------------------------------------------
DESC="Gabapentinoids (criterion 6, with opioid analgesics): gabapentin and pregabalin products in dm+d (OpenCodelists), their BNF presentation codes, and GM SDE Read v2 drug codes."
imp gabapentinoids "$REF/dmd-gabapentinoids-opensafely.csv" --system dmd \
  --source "$(src $WAITING codelists/user-anschaf-gabapentinoids-dmd.csv)" \
  --version "OpenCodelists user/anschaf/gabapentinoids-dmd/7a9c2248 (downloaded 2024-02-16)" \
  --description "$DESC" \
  --note "Kept whole: 82 VMPs and 512 AMPs, BNF 4.8.1, plus 4 gabapentin gel/cream and unlicensed products in BNF 4.7.3 (topical gabapentin for neuropathic pain: still a gabapentinoid prescription for pain)." \
  --note "$DRAFT"
imp gabapentinoids "$REF/dmd-gabapentinoids-opensafely.csv" --system bnf --code-column bnf_code \
  --source "$(src $WAITING codelists/user-anschaf-gabapentinoids-dmd.csv)" \
  --version "derived from OpenCodelists user/anschaf/gabapentinoids-dmd/7a9c2248" \
  --note "Derived, not published as a BNF list: the distinct bnf_code values of the dm+d list above (the term is the first product's name)." \
  --note "$DRAFT"
imp gabapentinoids "$REF/read2-gabapentinoids-gmsde.csv" --system read2 \
  --source "$(src $GMSDE@$GMSDE_AT $GMSDE_SETS/medications/gabapentinoid/1/gabapentinoid.readv2.txt)" \
  --version "gm-sde gabapentinoid v1 (last changed d6121ce5, 2024-06-25)" \
  --note "GM SDE list from the NHS drug refset 'gabapentinoid medications'; the GM SDE pregabalin list's Read v2 codes are all in it, so it alone is used." \
  --note "$DRAFT"

# --- fit-notes: criterion 7 (an event within 365 days) -----------------------------------------
DESC="Fit notes and sickness certification (criterion 7, the out-of-work proxy): OpenSAFELY sick-note lists in SNOMED CT and CTV3, and a Read v2 part derived from the CTV3 list."
imp fit-notes "$REF/snomed-sick-notes-opensafely.csv" --system snomed \
  --source "$(src $WINTER codelists/opensafely-sick-notes-snomed.csv)" \
  --version "OpenCodelists opensafely/sick-notes-snomed/0f8ffb90 (downloaded 2024-09-26)" \
  --description "$DESC" \
  --note "Kept whole, as used by OpenSAFELY fit-note studies: MED3/eMED3 (2010) 'not fit' and 'may be fit for work', MED4/5/6, LOC1/2/3, private and forces certificates, self-certificate (SC1), 'On sick leave from work', 'Sickness absence'. A few concepts are generic (772786005 'Medical certificate', 103695000 'Preparation of medical certificate', [V]Issue of medical certificate) or classification concepts unlikely to be recorded (the two 'National Public Health Classification' ones): kept, for the reviewer to judge." \
  --note "$DRAFT"
imp fit-notes "$REF/ctv3-sick-notes-opensafely.csv" --system ctv3 \
  --source "$(src $LONGCOVID codelists/user-alex-walker-sick-notes-ctv3.csv)" \
  --version "OpenCodelists user/alex-walker/sick-notes-ctv3/7680885a (downloaded 2021-10-01)" \
  --note "Kept whole: 9C8../9D... certification codes, the 2010 fit-note X codes (XaX1E, XaXf1-XaXf7 ...), sickness-certificate durations and 'Employment status - Long term sickness' (Y2854)." \
  --note "$DRAFT"
imp fit-notes "$REF/ctv3-sick-notes-opensafely.csv" --system read2 \
  --source "$(src $LONGCOVID codelists/user-alex-walker-sick-notes-ctv3.csv)" \
  --version "derived from OpenCodelists user/alex-walker/sick-notes-ctv3/7680885a" \
  --drop "X....=CTV3-only codes (the X range does not exist in Read v2)" \
  --drop "Y....=CTV3-only codes (the Y range does not exist in Read v2)" \
  --drop "Ua...=CTV3-only code (Ua0Ur 'On sick leave from work'; the Ua range is a CTV3 addition)" \
  --note "Derived: no published Read v2 fit-note list was found. These are the CTV3 list's codes that are Read-v2-form codes with the same meaning (9C8.., 9D1.., 9D2.., 9D3., 9D5., 9D7.., 9DF.., ZV680 '[V]Issue of medical certificate'); the CTV3-only X/Y/Ua codes are dropped." \
  --note "Known gap: Read v2 codes for the 2010 fit note (children of 9D1.. added after 2010) are not in any reference file. A reviewer with a Read v2 browser should list them, or add the rule 'include: 9D1..' (with descendants) in codelists.yaml, which then picks up the 9D1 codes found in the loaded data." \
  --note "$DRAFT"

# --- unemployment: criterion 7 (an event within 730 days) --------------------------------------
# Codes found in a published source only; the source files read are in scripts/codelist-sources/.
LOCAL=scripts/codelist-sources
SDOHCC=https://hl7.org/fhir/us/sdoh-clinicalcare/STU2/Condition-SDOHCC-ConditionUnemployedExample.html
imp unemployment "$LOCAL/snomed-unemployed-hl7-sdohcc.csv" --system snomed \
  --source "$SDOHCC" \
  --version "SNOMED CT 73438004 |Unemployed (finding)| as published in HL7 FHIR SDOH Clinical Care 2.0.0 (STU 2)" \
  --description "Unemployment (criterion 7, 'fit note or unemployment'): codes that say the person is unemployed / not in work / seeking work, and nothing else (not retired, student, carer, homemaker or long-term sick). DRAFT: SNOMED CT only so far; Read v2 and CTV3 are empty until a published source for them is found." \
  --note "SNOMED CT 73438004 'Unemployed' (an international-release finding, so also in the UK edition), as the HL7 SDOH Clinical Care implementation guide codes the condition 'Unemployed' (its example Condition SDOHCC-ConditionUnemployedExample)." \
  --note "Left out on purpose: 'Not in labour force' (741062008) and every retired, student, carer, homemaker, voluntary-work and long-term-sick status: the trial wants people out of work, and the sickness codes are in fit-notes already." \
  --note "To review: the UK descendants of 73438004 (e.g. long-term unemployment) should be checked in the UK edition browser and added from a published list." \
  --note "$DRAFT"
imp unemployment --empty --system read2 \
  --source "none: no published Read v2 unemployment list was found. Read v2 13J7. ('Unemployed', in the 13J.. employment-status chapter) is the expected code but could not be checked against a published source (the NHS Read v2 to SNOMED CT map is a TRUD download), so it is not shipped" \
  --note "To fill it: check 13J7. and its siblings in the Read v2 to SNOMED CT map (TRUD) or a published CPRD/OpenCodelists list, then import them here with --source." \
  --note "$DRAFT"
imp unemployment --empty --system ctv3 \
  --source "none: no published CTV3 unemployment list was found; the CTV3 code for 'Unemployed' (13J7. carried over from Read v2, per the CTV3 to SNOMED CT map) could not be checked, so it is not shipped" \
  --note "To fill it: as for read2, from the CTV3 to SNOMED CT map (TRUD) or a published list." \
  --note "$DRAFT"

# --- cancer: criterion 8 (an event within 1825 days) -------------------------------------------
DESC="Cancer (criterion 8, exclusion): GM SDE 'cancer' version 3 (from the QOF cancer register refset) in Read v2, CTV3 and SNOMED CT."
for s in read2 ctv3 snomed; do
  case $s in read2) changed="3042842c, 2023-11-08";; *) changed="81341697, 2024-01-24";; esac
  imp cancer "$REF/$s-cancer-gmsde.csv" --system $s \
    --source "$(src $GMSDE@$GMSDE_AT $GMSDE_SETS/conditions/cancer/3/cancer.$([ $s = read2 ] && echo readv2 || echo $s).txt)" \
    --version "gm-sde cancer v3 (last changed $changed)" \
    --description "$DESC" \
    --note "Chosen over CALIBER's merged cancer phenotypes (float-mangled codes such as 1425000.0, and history codes) and the April 2020 OpenSAFELY SNOMED lists (mapped from CTV3, with inactive concepts): one source for all three systems, current, and QOF-based." \
    --note "Like QOF, it leaves out basal cell carcinoma of the skin (non-melanoma skin cancer), which rarely causes pain needing opioids, so people with only a BCC are not excluded as 'cancer pain'. The source says it is 'not yet fully validated'." \
    --note "$DRAFT"
done

# --- palliative-care: criterion 9 (any event on or before D) -----------------------------------
for s in read2 ctv3 snomed; do
  imp palliative-care "$REF/$s-palliative-care-gmsde.csv" --system $s \
    --source "$(src $GMSDE@$GMSDE_AT $GMSDE_SETS/patient/palliative-and-end-of-life-care/1/palliative-and-end-of-life-care.$([ $s = read2 ] && echo readv2 || echo $s).txt)" \
    --version "gm-sde palliative-and-end-of-life-care v1 (last changed b105f539, 2023-02-14)" \
    --description "Palliative and end-of-life care (criterion 9, exclusion): GM SDE list from ClinicalCodes (article 183), in Read v2, CTV3 and SNOMED CT." \
    --note "The only published palliative-care list found. Its README reports a prevalence far below the expected, i.e. it is incomplete: a reviewer should extend it (e.g. the QOF palliative care register codes)." \
    --note "$DRAFT"
done

# --- research-opt-out and research-opt-out-withdrawn: criterion 10 -----------------------------
OPTOUT="$REF/optout-type1-dissent-codes-from-public-pages.csv"
VISION=https://help.cegedim-healthcare.co.uk/DLM870/Consultation_Manager/Content/Releases/DLM_760/National_Data_Opt_Out.htm
DPS="http://www.dataprotectionsociety.co.uk/default.asp?iID=JLHLKD&item=EHEJEGL"
TGP=https://www.thegoodpractice.london/type-1-opt-out
PAGES="Not a published code list (none exists): the code as stated on public web pages (GP-system vendor help, practice opt-out pages), copied into the reference file with the page URL. Verify against a current SNOMED CT / Read browser."
imp research-opt-out "$OPTOUT" --system read2 --where "coding_system=Read v2" --where code=9Nu0 \
  --source "$VISION" --version "public pages (reference file optout-type1-dissent-codes-from-public-pages.csv)" \
  --description "Research dissent (criterion 10, exclusion): the Type 1 opt-out code 'Dissent from secondary use of GP patient identifiable data' in Read v2 (9Nu0.), CTV3 (XaZ89) and SNOMED CT (827241000000103)." \
  --note "$PAGES" --note "The page writes 9Nu0 without its dot padding; the import pads it to the five-character form 9Nu0." \
  --note "9Nu4. 'Dissent from disclosure of personal confidential data by HSCIC' was seen only in an SQL program of unknown origin and is not included." \
  --note "$DRAFT"
imp research-opt-out "$OPTOUT" --system ctv3 --where coding_system=CTV3 \
  --source "$DPS" --version "public pages (reference file optout-type1-dissent-codes-from-public-pages.csv)" \
  --note "$PAGES" --note "Also named as the Type 1 opt-out code on $TGP." --note "$DRAFT"
imp research-opt-out "$OPTOUT" --system snomed --where "coding_system=SNOMED CT" \
  --source "$TGP" --version "public pages (reference file optout-type1-dissent-codes-from-public-pages.csv)" \
  --note "$PAGES" --note "The page gives the id without a term, so the term is empty." --note "$DRAFT"
imp research-opt-out-withdrawn "$OPTOUT" --system read2 --where "coding_system=Read v2" --where code=9Nu1 \
  --source "$VISION" --version "public pages (reference file optout-type1-dissent-codes-from-public-pages.csv)" \
  --description "Research dissent withdrawn (criterion 10): 'Dissent withdrawn second use of GP patient identifiable data', Read v2 9Nu1. only." \
  --note "$PAGES" --note "The page writes 9Nu1 without its dot padding; the import pads it to 9Nu1." \
  --note "No CTV3 or SNOMED CT code for a withdrawn dissent was found, so a dissent recorded in CTV3 or SNOMED CT is never overridden: the safe direction (such patients stay excluded)." \
  --note "$DRAFT"

echo
"$RECRUIT" codelists check --codelists "$OUT"
"$RECRUIT" codelists list --codelists "$OUT"
