#!/usr/bin/env bash
# make scale-test (issue 18): the same pipeline on a Citus cluster (coordinator +
# 2 workers, the tables distributed by practice) and on one plain PostgreSQL
# node, every output compared byte for byte.
#
# Builds Citus if needed (scripts/citus.sh), starts the four throwaway clusters
# (scripts/citus-cluster.sh: Unix sockets and 127.0.0.1 only), and on each:
# migrates (and on Citus distributes), loads a synthetic extract of
# SCALE_PATIENTS patients (default 100,000) in two loads (the second replaces a
# third of the practices, a month later, and is loaded as a recruit_loader
# member), imports earlier invitations, runs the reference cohort with that
# history and issues it, imports the practices'
# feedback, runs the cohort again (the first run's invitees now count as
# invited), reproduces both runs, explains a sample of patients (runs why) and
# writes the yield and proxy reports. It prints the timings of both, then
# `scale-test: N checks, N identical` last; it exits non-zero on any difference
# or failure, and stops every cluster it started, also on failure.
#
# Usage: scripts/scale-test.sh RECRUIT_BINARY
# Environment: SCALE_PATIENTS (100000), SCALE_PRACTICES (24), SCALE_PORT (54410:
# it uses 4 ports from there), SCALE_SHARDS (8), SCALE_KEEP=1 keeps the outputs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
recruit=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
patients=${SCALE_PATIENTS:-100000}
practices=${SCALE_PRACTICES:-24}
port=${SCALE_PORT:-54410}
shards=${SCALE_SHARDS:-8}
cohort=$here/cohorts/chronic-pain-out-of-work.yaml
started=$(date +%s)

"$here/scripts/citus.sh"
# shellcheck source=citus-cluster.sh
source "$here/scripts/citus-cluster.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-scale.XXXXXX")
chmod 755 "$tmp"
finish() {
  local rc=$?
  pg_nodes_stop_all
  if [ "${SCALE_KEEP:-}" = 1 ]; then echo "scale-test: outputs kept in $tmp" >&2; else rm -rf "$tmp"; fi
  exit $rc
}
trap finish EXIT INT TERM

echo "scale-test: starting a Citus coordinator + 2 workers (ports $port-$((port + 2))) and a plain node ($((port + 3)))" >&2
citus_cluster_start "$tmp/citus" "$port"
pg_node_start "$tmp/plain" $((port + 3)) plain

# The extracts: 1 on 2026-10-31; 2 a month later for every third practice
# (the same synthetic people, a month on).
echo "scale-test: writing the synthetic extracts ($patients patients, $practices practices)" >&2
"$recruit" synth -q --out "$tmp/x1" --patients "$patients" --practices "$practices" --seed 1 --truth "$tmp/truth.csv" >/dev/null
"$recruit" synth -q --out "$tmp/x2all" --patients "$patients" --practices "$practices" --seed 1 --extract-date 2026-11-30 >/dev/null
mkdir -p "$tmp/x2"
cp "$tmp/x2all/extract.json" "$tmp/x2/"
awk -F, 'NR == 1 { print; next } { if (!($2 in seen)) { seen[$2] = ++n } if (seen[$2] % 3 == 1) print }' \
  "$tmp/x2all/patients.csv" > "$tmp/x2/patients.csv"
for f in events prescriptions; do
  awk -F, 'FNR == 1 { file++ } file == 1 { if (FNR > 1) keep[$1] = 1; next } FNR == 1 || ($1 in keep)' \
    "$tmp/x2/patients.csv" "$tmp/x2all/$f.csv" > "$tmp/x2/$f.csv"
done
rm -rf "$tmp/x2all"
# Earlier invitations (criterion 11): every 50th patient of the first
# extract, invited by an earlier search 200 days before the index date.
awk -F, 'NR > 1 && NR % 50 == 0 { print $2 "," $1 ",2026-05-14" } NR == 1 { print "practice_id,patient_id,index_date" }' \
  "$tmp/x1/patients.csv" > "$tmp/history.csv"

# Feedback from the practices, simulated as scripts/demo.sh does, from the
# synthetic people's true work status (which recruit never reads).
feedback() {  # RUN_ID INVITATIONS_CSV
  awk -F, -v run="$1" -v d="$(date +%F)" 'BEGIN { OFS = "," }
    FNR == 1 { file++; if (file == 2) print "practice_id,patient_id,run_id,outcome,date,reason"; next }
    file == 1 { status[$2 "," $1] = $3; next }
    {
      n = FNR - 1; p = $1; id = $2; w = status[p "," id]
      if (n % 10 == 0) { print p, id, run, "screened_out", d, "recent bereavement"; next }
      print p, id, run, "invited", d, ""
      if (n % 3 == 0) next
      if (w == "in_work" || w == "off_sick_with_job") { print p, id, run, "responded", d, ""; print p, id, run, "ineligible", d, w }
      else if (w == "out_of_work") { print p, id, run, "responded", d, ""; if (n % 4 != 1) print p, id, run, "consented", d, "" }
      else print p, id, run, "declined", d, ""
    }' "$tmp/truth.csv" "$2"
}

# Seconds since the epoch with milliseconds.
now() { date +%s.%3N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# pipeline NAME HOST PORT: every step on one database; outputs in $tmp/out/NAME,
# timings in $tmp/NAME.times.
pipeline() {
  local name=$1 out=$tmp/out/$1 t0 t1
  export PGHOST=$2 PGPORT=$3 PGUSER=recruit PGDATABASE=recruit
  unset DATABASE_URL PGSERVICE || true
  local r=("$recruit" -q)
  mkdir -p "$out"
  cd "$here"
  "${r[@]}" db migrate >/dev/null
  if [ "$name" = citus ]; then "${r[@]}" db distribute --shard-count "$shards" > "$out/distribute.txt"; fi
  # The second load runs as a member of recruit_loader (least privilege, docs/security.md).
  "${r[@]}" db roles > /dev/null
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE ROLE scale_loader LOGIN IN ROLE recruit_loader" > /dev/null
  t0=$(now); "${r[@]}" load "$tmp/x1" --json > "$tmp/$name.load1.json"; t1=$(now)
  echo "load1_s $(elapsed "$t0" "$t1") load1_loadavg $(load1)" >> "$tmp/$name.times"
  t0=$(now); PGUSER=scale_loader "${r[@]}" load "$tmp/x2" --json > "$tmp/$name.load2.json"; t1=$(now)
  echo "load2_s $(elapsed "$t0" "$t1") load2_loadavg $(load1)" >> "$tmp/$name.times"
  "${r[@]}" db status > "$tmp/$name.status.txt"
  "${r[@]}" history import --cohort chronic-pain-out-of-work --invitations "$tmp/history.csv" --json > "$out/history-import.json"
  # Run 1: with the history; issued.
  t0=$(now)
  "${r[@]}" run "$cohort" --index-date 2026-11-30 --allow-stale --out "$out/run1" --issue --json > "$out/run1.json"
  t1=$(now)
  echo "run1_s $(elapsed "$t0" "$t1") run1_loadavg $(load1)" >> "$tmp/$name.times"
  local run1 run2
  run1=$(sed -n 's/^ *"run_id" *: *\([0-9][0-9]*\).*/\1/p' "$out/run1/run.json" | head -1)
  feedback "$run1" "$out/run1/invitations.csv" > "$out/feedback1.csv"
  "${r[@]}" feedback import "$out/feedback1.csv" --json > "$out/feedback-import.json"
  # Run 2: a draft a week later, issued after review (runs issue).
  t0=$(now)
  "${r[@]}" run "$cohort" --index-date 2026-12-03 --allow-stale --out "$out/run2" --json > "$out/run2.json"
  t1=$(now)
  echo "run2_s $(elapsed "$t0" "$t1") run2_loadavg $(load1)" >> "$tmp/$name.times"
  run2=$(sed -n 's/^ *"run_id" *: *\([0-9][0-9]*\).*/\1/p' "$out/run2/run.json" | head -1)
  "${r[@]}" runs issue "$run2" > "$out/issue2.txt"
  # Reproductions of both runs, compared by recruit with the recorded hashes.
  "${r[@]}" run --reproduce "$run1" --out "$out/reproduce1" > "$out/reproduce1.txt"
  "${r[@]}" run --reproduce "$run2" --out "$out/reproduce2" > "$out/reproduce2.txt"
  # runs why for a sample: every 100th invitee of run 1 and 6 patients of the extract.
  {
    awk -F, 'NR > 1 && NR % 100 == 2 { print $1 "," $2 }' "$out/run1/invitations.csv"
    awk -F, -v every="$(( patients / 6 ))" 'NR > 1 && NR % every == 0 { print $2 "," $1 }' "$tmp/x1/patients.csv"
  } > "$out/why-sample.csv"
  local practice patient i=0
  mkdir -p "$out/why"
  while IFS=, read -r practice patient; do
    i=$((i + 1))
    "${r[@]}" runs why "$run1" "$patient" --practice "$practice" --json > "$out/why/$i-run1.json"
    "${r[@]}" runs why "$run2" "$patient" --practice "$practice" > "$out/why/$i-run2.txt"
  done < "$out/why-sample.csv"
  "${r[@]}" runs list --json > "$out/runs-list.json"
  "${r[@]}" runs show "$run1" > "$out/runs-show1.txt"
  "${r[@]}" report yields --cohort chronic-pain-out-of-work --out "$out/report" > "$out/report-yields.txt"
  "${r[@]}" report proxy --cohort chronic-pain-out-of-work > "$out/report-proxy.txt"
  "${r[@]}" audit verify > "$out/audit-verify.txt"
  if [ "$name" = citus ]; then
    "${r[@]}" cohort plan "$cohort" --index-date 2026-12-03 > "$tmp/citus.plan.json"
  fi
}

echo "scale-test: the pipeline on the Citus coordinator" >&2
pipeline citus "$CITUS_HOST" "$CITUS_PORT"
echo "scale-test: the pipeline on the plain node" >&2
pipeline plain "$tmp/plain/run" $((port + 3))

# What legitimately differs between two databases is masked before comparing,
# and only that: instants (started, finished, issued, recorded, imported), run
# and load durations, the server named in outputs, the run folder's path, and
# the two hashes computed over instants (run.json's SHA-256, which the run
# summary prints, and the audit chain's head hash). Every list, yield, evidence
# file and output hash in run.json is compared as it is.
normalize() {
  sed -E \
    -e 's/"run_json_sha256" *: *"[0-9a-f]{64}"/"run_json_sha256": <sha256 of run.json>/g' \
    -e 's/(Audit chain verified: .*hash )[0-9a-f]{64}/\1<head hash>/' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?/<instant>/g' \
    -e 's/"(seconds|elapsed_seconds|elapsed_s|duration_s|[a-z_]*_s)" *: *[0-9.e+-]+/"\1": <seconds>/g' \
    -e "s#$tmp/out/(citus|plain)#<out>#g" \
    -e 's#(socket|host) [^ ,]+ port [0-9]+#<server>#g' "$1"
}
checks=0 identical=0
report_diff() { echo "scale-test: DIFFERENT: $1" >&2; diff <(normalize "$tmp/out/citus/$1") <(normalize "$tmp/out/plain/$1") | head -20 >&2 || true; }
while IFS= read -r rel; do
  checks=$((checks + 1))
  if [ ! -f "$tmp/out/plain/$rel" ]; then echo "scale-test: DIFFERENT: $rel only on Citus" >&2; continue; fi
  if cmp -s "$tmp/out/citus/$rel" "$tmp/out/plain/$rel"; then
    identical=$((identical + 1))
  elif cmp -s <(normalize "$tmp/out/citus/$rel") <(normalize "$tmp/out/plain/$rel"); then
    identical=$((identical + 1))
  else
    report_diff "$rel"
  fi
done < <(cd "$tmp/out/citus" && find . -type f ! -name distribute.txt | sed 's#^\./##' | sort)
while IFS= read -r rel; do
  [ "$rel" = distribute.txt ] && continue
  [ -f "$tmp/out/citus/$rel" ] || { checks=$((checks + 1)); echo "scale-test: DIFFERENT: $rel only on the plain node" >&2; }
done < <(cd "$tmp/out/plain" && find . -type f | sed 's#^\./##' | sort)

# The run's statement is pushed down: the coordinator's plan sends the
# per-patient work to the workers, one task per shard.
checks=$((checks + 1))
tasks=$(grep -o '"Task Count": [0-9]*' "$tmp/citus.plan.json" | sed 's/.*: //' | sort -n | tail -1)
if [ "${tasks:-0}" -ge "$shards" ] && grep -q "port=$((port + 1))" "$tmp/citus.plan.json" \
   && grep -q '"Relation Name": "events_l[0-9]*_[0-9]*"' "$tmp/citus.plan.json"; then
  identical=$((identical + 1))
  echo "scale-test: the run's plan sends $tasks tasks (one per shard) to the workers" >&2
else
  echo "scale-test: DIFFERENT: the run's plan does not push the per-shard work down to the workers (tasks: ${tasks:-none})" >&2
fi

# Bad cases on the cluster, after the outputs are compared (they change its data):
# a run while a worker is down is refused and records nothing; a worker stopped
# in the middle of a load fails it whole, the earlier snapshots stay, and once
# the worker is back the audit chain verifies and the next load marks the dead
# one failed.
export PGHOST=$CITUS_HOST PGPORT=$CITUS_PORT
worker=${CITUS_WORKER_DATA%% *}
q() { pg_as_owner "$PG_BIN/psql" -X -At -h "$CITUS_HOST" -p "$CITUS_PORT" -U recruit -d recruit -c "$1"; }
fault() {  # DESCRIPTION: counts a check, passed when the last command of the caller set ok=1
  checks=$((checks + 1))
  if [ "$ok" = 1 ]; then identical=$((identical + 1)); echo "scale-test: fault: $1: as expected" >&2
  else echo "scale-test: DIFFERENT: fault: $1" >&2; fi
}
runs_before=$(q "SELECT count(*) FROM recruit.runs")
pg_node_ctl "$worker" stop
ok=0
if ! "$recruit" -q run "$cohort" --index-date 2026-12-03 --allow-stale --out "$tmp/fault-run" 2>"$tmp/fault-run.err" &&
   [ ! -e "$tmp/fault-run" ] && [ "$(q "SELECT count(*) FROM recruit.runs")" = "$runs_before" ] &&
   grep -q "Citus" "$tmp/fault-run.err"; then ok=1; fi
fault "a run while a worker is down is refused, nothing recorded"
pg_node_ctl "$worker" start
snapshots_before=$(q "SELECT string_agg(practice_id || ':' || load_id, ',' ORDER BY practice_id) FROM recruit.practice_snapshots")
"$recruit" -q load "$tmp/x1" --force > "$tmp/fault-load.out" 2>&1 & loader=$!
sleep "${SCALE_FAULT_DELAY:-3}"
pg_as_owner "$PG_BIN/pg_ctl" stop -D "$worker" -m immediate -w >/dev/null
ok=0
if ! wait "$loader" && [ "$(q "SELECT string_agg(practice_id || ':' || load_id, ',' ORDER BY practice_id) FROM recruit.practice_snapshots")" = "$snapshots_before" ]; then ok=1; fi
fault "a worker stopped in the middle of a load fails it whole, the earlier snapshots kept"
pg_node_ctl "$worker" start
ok=0
"$recruit" -q audit verify > "$tmp/fault-verify.txt" 2>&1 && ok=1
fault "the audit chain verifies once the worker is back"
ok=0
if "$recruit" -q load "$tmp/x2" > "$tmp/fault-load2.out" 2>&1 &&
   [ "$(q "SELECT count(*) FROM recruit.loads WHERE status = 'running'")" = 0 ] &&
   [ "$(q "SELECT count(*) FROM recruit.audit_log WHERE action = 'load.failed'")" -ge 1 ] &&
   "$recruit" -q audit verify >/dev/null 2>&1; then ok=1; fi
fault "the next load marks the dead load failed (audited), and the chain still verifies"

echo "scale-test: timings (seconds; load average, 1 min, at the end of each step):" >&2
for n in plain citus; do echo "  $n: $(tr '\n' ' ' < "$tmp/$n.times")" >&2; done
echo "scale-test: $(( $(date +%s) - started )) s in all" >&2
echo "scale-test: $checks checks, $identical identical"
[ "$checks" -eq "$identical" ]
