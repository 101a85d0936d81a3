#!/usr/bin/env bash
# The demo: the whole pipeline on a synthetic extract. Each step's command is
# printed before it runs, so a newcomer learns the CLI by watching.
# Usage: scripts/demo.sh RECRUIT_BINARY OUT_DIR
#
# Without a configured database (--database, DATABASE_URL, PGHOST, PGSERVICE) it
# uses a private embedded cluster in OUT_DIR/cluster, created by the first run
# and reused by the next ones; with one, the schema recruit_demo. Either way the
# last demo's data are dropped first, so the demo can be run again.
set -euo pipefail
recruit=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "\$ recruit $*"; "$recruit" "$@"; }
count() { printf '%s\n' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }  # 615057 -> 615,057
rows() { echo $(($(wc -l < "$1") - 1)); }  # CSV rows, without the header
log=$(mktemp "${TMPDIR:-/tmp}/recruit-demo.XXXXXX")
trap 'rm -f "$log"' EXIT

if [ -n "${DATABASE_URL:-}${PGHOST:-}${PGSERVICE:-}" ]; then
  export RECRUIT_SCHEMA=recruit_demo
  embedded=false
  where="schema recruit_demo of the configured database"
  psql -X -q -v ON_ERROR_STOP=1 ${DATABASE_URL:+"$DATABASE_URL"} -c 'SET client_min_messages = warning' -c 'DROP SCHEMA IF EXISTS recruit_demo CASCADE' >/dev/null
  database="The database: $where (the last demo's schema, if any, was dropped)."
  rm -rf "$out"
else
  export RECRUIT_CLUSTER_DIR=$out/cluster
  embedded=true
  where="the embedded cluster in $out/cluster"
  schema=${RECRUIT_SCHEMA:-recruit}
  database="The database: a new embedded cluster in $out/cluster (the first command that needs it creates and starts it)."
  if [ -f "$out/cluster/cluster.json" ]; then
    # The last demo's cluster: start it if it was stopped, then drop the
    # demo's data (the project schema); the next command migrates afresh.
    if info=$("$recruit" db start --json 2>"$log") \
       && host=$(sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' <<<"$info") \
       && port=$(sed -n 's/.*"port" *: *"\([^"]*\)".*/\1/p' <<<"$info") \
       && psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U recruit -d recruit \
            -c 'SET client_min_messages = warning' -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>>"$log"; then
      if grep -q "starting the embedded" "$log"; then state="it was stopped: started again"; else state="still running"; fi
      database="The database: reusing the embedded cluster in $out/cluster from the last demo ($state).
The last demo's data were dropped (DROP SCHEMA $schema CASCADE), so every step below starts from empty."
    else
      echo "demo: the last demo's cluster in $out/cluster could not be reused; replacing it with a new one:" >&2
      sed 's/^/  /' "$log" >&2
      "$recruit" db stop --remove -q >/dev/null 2>&1 || true
    fi
  fi
  if [ -d "$out/cluster" ] && [ ! -f "$out/cluster/cluster.json" ]; then
    "$recruit" db stop --remove -q >/dev/null 2>&1 || true  # a cluster whose creation failed
  fi
  # The last demo's files go; the cluster stays.
  if [ -d "$out" ]; then find "$out" -mindepth 1 -maxdepth 1 ! -name cluster -exec rm -rf {} +; fi
fi
mkdir -p "$out"
bold "$database"
cohort=cohorts/chronic-pain-out-of-work.yaml
spells=cohorts/chronic-pain-out-of-work-spells.yaml

bold "1. A synthetic extract: 3 practices, 15,000 patients (nobody real)"
step synth --out "$out/extract" --patients 15000 --practices 3 --seed 1 --truth "$out/truth.csv"

bold "2. Load it: validated, streamed into PostgreSQL, all-or-nothing per practice"
step load "$out/extract"

bold "3. The code lists the cohort uses: checked against their lock"
step codelists check

bold "4. The reference cohort, as protocol text"
step cohort explain "$cohort"

bold "5. Run it and issue the lists (one folder per practice)"
step run "$cohort" --out "$out/run" --issue
run_id=$(sed -n 's/^ *"run_id" *: *\([0-9][0-9]*\).*/\1/p' "$out/run/run.json" | head -1)

bold "5b. The spells variant (criterion 7: a current sickness spell of 90 days or more, or an unemployment code), issued too so that its feedback can be compared (a study would issue one)"
step run "$spells" --out "$out/run-spells" --issue
spells_run_id=$(sed -n 's/^ *"run_id" *: *\([0-9][0-9]*\).*/\1/p' "$out/run-spells/run.json" | head -1)
bold "Letters per practice: the reference cohort against its spells variant"
awk -F, 'FNR == 1 { file++; next }
  # The last step of each practice is its invitees.
  { if (file == 1) ref[$1] = $4; else sp[$1] = $4; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  END {
    printf "  %-10s %10s %10s %10s\n", "practice", "reference", "spells", "fewer"
    for (i = 1; i <= n; i++) { p = order[i]; printf "  %-10s %10d %10d %10d\n", p, ref[p], sp[p], ref[p] - sp[p] }
  }' "$out/run/yield.csv" "$out/run-spells/yield.csv"

bold "6. Feedback from the practices, simulated from each synthetic person's true work status ($out/truth.csv, which recruit never reads)"
today=$(date +%F)
# One feedback file per run: the GP screens out every 10th invitee (with a
# reason code; the free text stays at the practice); the rest are invited;
# people in work or off sick with a job who reply are found ineligible for that
# reason; people out of work reply and mostly consent; some decline, with a
# code. A few come another way: a screened-out person out of work who refers
# themselves, and at each practice two people not in the extract (no id), one
# by self-referral and one on a GP's referral.
feedback() {  # RUN_ID INVITATIONS_CSV
  awk -F, -v run="$1" -v d="$today" 'BEGIN { OFS = ","; split("clinical recent_life_event safeguarding capacity other", sc, " "); split("not_interested too_unwell no_time", dc, " ") }
    FNR == 1 { file++; if (file == 2) print "practice_id,patient_id,run_id,outcome,date,reason,reason_code,channel"; next }
    file == 1 { status[$2 "," $1] = $3; next }
    {
      n = FNR - 1; p = $1; id = $2; w = status[p "," id]; if (!(p in seen)) { seen[p] = 1; order[++np] = p }
      if (n % 10 == 0) {
        print p, id, run, "screened_out", d, "recent bereavement", sc[(n / 10) % 5 + 1], ""
        if (w == "out_of_work" && n % 20 == 0) { print p, id, run, "responded", d, "", "", "self_referral"; print p, id, run, "consented", d, "", "", "self_referral" }
        next
      }
      print p, id, run, "invited", d, "", "", ""
      if (n % 3 == 0) next  # no reply
      if (w == "in_work" || w == "off_sick_with_job") { print p, id, run, "responded", d, "", "", ""; print p, id, run, "ineligible", d, w, "", "" }
      else if (w == "out_of_work") { print p, id, run, "responded", d, "", "", ""; if (n % 4 != 1) print p, id, run, "consented", d, "", "", "" }
      else print p, id, run, "declined", d, "", dc[n % 3 + 1], ""
    }
    END { for (k = 1; k <= np; k++) { p = order[k]; print p, "", run, "consented", d, "", "", "self_referral"; print p, "", run, "ineligible", d, "in_work", "", "gp_referral" } }' "$out/truth.csv" "$2"
}
feedback "$run_id" "$out/run/invitations.csv" > "$out/feedback.csv"
feedback "$spells_run_id" "$out/run-spells/invitations.csv" > "$out/feedback-spells.csv"
step feedback import "$out/feedback.csv"
step feedback import "$out/feedback-spells.csv"

bold "6b. Which out-of-work proxy sends fewer letters to people in work: outcomes by the evidence that admitted each invitee"
step report proxy --cohort chronic-pain-out-of-work
step report proxy --cohort chronic-pain-out-of-work-spells

bold "7. Yields for the research team (small numbers suppressed)"
bold "\$ recruit report yields --cohort chronic-pain-out-of-work --out $out/report"
"$recruit" report yields --cohort chronic-pain-out-of-work --out "$out/report" | tee "$log"  # its summary ends the demo too

bold "8. The audit trail: verified, and exported for offline checking"
step audit verify
step audit export "$out/audit.jsonl" --force

patients=$(rows "$out/extract/patients.csv")
events=$(rows "$out/extract/events.csv")
prescriptions=$(rows "$out/extract/prescriptions.csv")
invited=$(rows "$out/run/invitations.csv")
practices=$(find "$out/run/practices" -mindepth 1 -maxdepth 1 -type d | wc -l)
feedback=$(rows "$out/feedback.csv")
audited=$(wc -l < "$out/audit.jsonl")  # JSON Lines: one entry a line
bold "Done. Everything the demo wrote is in $out/:"
cat <<TXT
  extract           $out/extract/              $(count "$patients") patients, $(count "$events") events, $(count "$prescriptions") prescriptions (rows of patients.csv, events.csv, prescriptions.csv)
  invitation lists  $out/run/invitations.csv   $(count "$invited") people; one list per practice ($practices) in $out/run/practices/
  yield             $out/run/yield.csv         patients left after each criterion, per practice and in total (__total__)
  spells variant    $out/run-spells/           the same, by the spells cohort (run $spells_run_id, issued to compare the proxies)
  run record        $out/run/run.json          run $run_id: inputs, code lists, output hashes
  feedback          $out/feedback.csv          $(count "$feedback") rows imported (and $out/feedback-spells.csv), simulated from $out/truth.csv
  audit trail       $out/audit.jsonl           $(count "$audited") entries exported (verify offline: recruit audit verify --file $out/audit.jsonl)
  report            $out/report/               report.html, with attrition.csv, funnel.csv, proxy.csv, flow.csv, comparison.csv, yields.json
TXT
if [ "$embedded" = false ]; then
  echo
  echo "The data are in $where; more commands, e.g.: RECRUIT_SCHEMA=recruit_demo $recruit runs list"
else
  cat <<TXT

The data are in $where; it keeps running for more commands, e.g.
  RECRUIT_CLUSTER_DIR=$out/cluster $recruit runs list
It stops with: RECRUIT_CLUSTER_DIR=$out/cluster $recruit db stop
Another make demo reuses it, and starts again from empty data.
TXT
fi

bold "The yields, as the research team receives them (step 7's summary: counts rounded to the nearest 5, 1 to 7 shown as ≤7):"
cat "$log"
