#!/usr/bin/env bash
# The demo: the whole pipeline on a synthetic extract. Each step's command is
# printed before it runs, so a newcomer learns the CLI by watching.
# Usage: scripts/demo.sh RECRUIT_BINARY OUT_DIR
#
# Without a configured database (--database, DATABASE_URL, PGHOST, PGSERVICE) it
# uses a private embedded cluster in OUT_DIR/cluster; with one, the schema
# recruit_demo. Either is reset first, so the demo can be run again.
set -euo pipefail
recruit=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "\$ recruit $*"; "$recruit" "$@"; }

if [ -n "${DATABASE_URL:-}${PGHOST:-}${PGSERVICE:-}" ]; then
  export RECRUIT_SCHEMA=recruit_demo
  where="schema recruit_demo of the configured database"
  psql -X -q -v ON_ERROR_STOP=1 ${DATABASE_URL:+"$DATABASE_URL"} -c 'DROP SCHEMA IF EXISTS recruit_demo CASCADE' >/dev/null
  rm -rf "$out"
else
  export RECRUIT_CLUSTER_DIR=$out/cluster
  where="the embedded cluster in $out/cluster"
  [ -d "$out/cluster" ] && "$recruit" db stop --remove -q >/dev/null 2>&1 || true
  rm -rf "$out"
fi
mkdir -p "$out"
cohort=cohorts/chronic-pain-out-of-work.yaml

bold "1. A synthetic extract: 3 practices, 15,000 patients (nobody real)"
step synth --out "$out/extract" --patients 15000 --practices 3 --seed 1

bold "2. Load it: validated, streamed into PostgreSQL, all-or-nothing per practice"
step load "$out/extract"

bold "3. The code lists the cohort uses: checked against their lock"
step codelists check

bold "4. The reference cohort, as protocol text"
step cohort explain "$cohort"

bold "5. Run it and issue the lists (one folder per practice)"
step run "$cohort" --out "$out/run" --issue
run_id=$(sed -n 's/^ *"run_id" *: *\([0-9][0-9]*\).*/\1/p' "$out/run/run.json" | head -1)

bold "6. Feedback from the practices (a sample made from the list: screened out, invited, declined, responded, ineligible, consented)"
today=$(date +%F)
awk -F, -v run="$run_id" -v d="$today" 'BEGIN { OFS = ","; print "practice_id,patient_id,run_id,outcome,date,reason" }
  NR == 1 { next }
  {
    n = NR - 1; p = $1; id = $2
    if (n % 10 == 0) { print p, id, run, "screened_out", d, "recent bereavement"; next }
    print p, id, run, "invited", d, ""
    if (n % 10 == 1) print p, id, run, "declined", d, ""
    else if (n % 10 == 2 || n % 10 == 3) { print p, id, run, "responded", d, ""; print p, id, run, "ineligible", d, (n % 10 == 2 ? "in_work" : "off_sick_with_job") }
    else if (n % 10 == 4) { print p, id, run, "responded", d, ""; print p, id, run, "consented", d, "" }
  }' "$out/run/invitations.csv" > "$out/feedback.csv"
step feedback import "$out/feedback.csv"

bold "7. Yields for the research team (small numbers suppressed)"
step report yields --out "$out/report"

bold "8. The audit trail: verified, and exported for offline checking"
step audit verify
step audit export "$out/audit.jsonl" --force

invited=$(($(wc -l < "$out/run/invitations.csv") - 1))
bold "Done. Everything the demo wrote is in $out:"
cat <<TXT
  extract           $out/extract/          (patients.csv, events.csv, prescriptions.csv)
  invitation lists  $out/run/invitations.csv ($invited people), one per practice in $out/run/practices/
  yield             $out/run/yield.csv
  run record        $out/run/run.json       (run $run_id: inputs, code lists, output hashes)
  feedback          $out/feedback.csv
  report            $out/report/report.html (attrition.csv, funnel.csv, yields.json beside it)
  audit trail       $out/audit.jsonl        (verify offline: recruit audit verify --file $out/audit.jsonl)

The data are in $where; it keeps running for more commands, e.g.
  RECRUIT_CLUSTER_DIR=$out/cluster $recruit runs list
and stops with: RECRUIT_CLUSTER_DIR=$out/cluster $recruit db stop
TXT
