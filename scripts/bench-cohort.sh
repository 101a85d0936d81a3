#!/usr/bin/env bash
# bench-cohort.sh - the cohort engine against the hand-tuned baseline, in one run
# on one throwaway cluster and one synthetic extract.
#
#   scripts/bench-cohort.sh            # 1,000,000 patients (SIZE=1m)
#   SIZE=100k scripts/bench-cohort.sh  # 100,000 patients, runs in about a minute
#
# 1. Makes (or reuses, in $BENCH_DIR) a synthetic extract with `recruit synth`
#    (100 practices), drawing codes from $CODELISTS.
# 2. Starts a throwaway cluster (recruit's embedded-cluster code, its own socket),
#    loads the extract with `recruit load`.
# 3. Runs ../shared/bench/baseline.sh on the same cluster and extract: the
#    hand-tuned list query (criteria 1-10) and its yield query, each after a
#    warm-up, median of $RUNS.
# 4. Runs `recruit run cohorts/chronic-pain-out-of-work.yaml --dry-run` (list,
#    yield and evidence, written to files; the whole command, process start
#    included) after a warm-up, median of $RUNS.
#    Then the spells variant (cohorts/chronic-pain-out-of-work-spells.yaml) the
#    same way: its ratio to the reference run (target <= 1.3).
# 5. Prints both, the ratios recruit / (list + yield) (target <= 1.0) and
#    recruit / list (goal <= 1.5) in each statistics state, and whether the two lists hold the same
#    patients (no run history: criteria 11 and 12 remove nobody). Exits 1 when
#    they differ.
#
# The code lists must have every code written out: the baseline applies no
# descendant rules (nor does the cohort engine's current code-list seam).
# Environment: SIZE (1m, 100k or a number of patients), RUNS (3), RECRUIT
# (the recruit binary, default the release build), CODELISTS (codelists/),
# BENCH_DIR (.bench/), BENCH_PGPORT (54398), BASELINE (../shared/bench/baseline.sh).
# Prints progress on stderr, a summary and one JSON object on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE=${SIZE:-1m}
case $SIZE in
  1m) N=1000000 ;;
  100k) N=100000 ;;
  *[!0-9]*) echo "bench-cohort: SIZE must be 1m, 100k or a number of patients" >&2; exit 2 ;;
  *) N=$SIZE ;;
esac
RUNS=${RUNS:-3}
RECRUIT=${RECRUIT:-$ROOT/.build/release/recruit}
CODELISTS=${CODELISTS:-$ROOT/codelists}
BENCH_DIR=${BENCH_DIR:-$ROOT/.bench}
BASELINE=${BASELINE:-$ROOT/../shared/bench/baseline.sh}
COHORT=$ROOT/cohorts/chronic-pain-out-of-work.yaml
SPELLS=$ROOT/cohorts/chronic-pain-out-of-work-spells.yaml
EXT=$BENCH_DIR/extract-$SIZE
PORT=${BENCH_PGPORT:-54398}

log() { echo "bench-cohort: $*" >&2; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# A top-level field of a JSON file (a nested object may hold the same key first).
field() { python3 -c 'import json, sys; v = json.load(open(sys.argv[2])).get(sys.argv[1], ""); print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"; }

[ -x "$RECRUIT" ] || { log "no recruit binary at $RECRUIT (make release)"; exit 2; }
[ -x "$BASELINE" ] || [ -f "$BASELINE" ] || { log "no baseline script at $BASELINE"; exit 2; }
ls "$CODELISTS"/*.csv >/dev/null 2>&1 || { log "no code lists in $CODELISTS"; exit 2; }

# 1. The extract (reused when complete).
if [ ! -f "$EXT/.complete" ]; then
  log "synthesising $N patients into $EXT"
  rm -rf "$EXT"
  "$RECRUIT" synth --out "$EXT" --patients "$N" --practices 100 --seed 20261031 --codelists "$CODELISTS" -q >&2
  touch "$EXT/.complete"
fi
D=$(sed -n 's/.*"extract_date" *: *"\([0-9-]*\)".*/\1/p' "$EXT/extract.json")
[ -n "$D" ] || { log "no extract_date in $EXT/extract.json"; exit 2; }

# 2. A throwaway cluster, and the extract loaded by recruit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-bench-cohort.XXXXXX")
chmod 755 "$tmp"
cleanup() {
  env -u PGHOST -u DATABASE_URL -u PGSERVICE "$RECRUIT" db stop --remove --cluster-dir "$tmp/cluster" -q >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
info=$(env -u PGHOST -u DATABASE_URL -u PGSERVICE "$RECRUIT" db start --cluster-dir "$tmp/cluster" --port "$PORT" --json -q)
PGHOST=$(sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' <<<"$info")
PGPORT=$(sed -n 's/.*"port" *: *"\([^"]*\)".*/\1/p' <<<"$info")
export PGHOST PGPORT PGUSER=recruit PGDATABASE=recruit
unset DATABASE_URL PGSERVICE RECRUIT_SCHEMA || true
log "cluster at $PGHOST port $PGPORT; loading $EXT"
t0=$(now)
"$RECRUIT" load "$EXT" -q --json > "$tmp/load.json"
t1=$(now)
log "recruit load: $(secs "$t0" "$t1")s"
# What keeping this snapshot for an issued run costs (docs/runs.md): its tables and indexes.
snapshot_bytes=$(psql -X -q -At -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relnamespace = 'recruit'::regnamespace AND c.relkind = 'r' AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+(_[12])?\$'")
log "one snapshot: $snapshot_bytes bytes"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# 3. The baseline on the same cluster (it loads its own copy of the extract, in its own schemas).
log "baseline: $BASELINE"
bash "$BASELINE" "$EXT" "$CODELISTS" "$D" "$RUNS" > "$tmp/baseline.json"
list_s=$(field list_s "$tmp/baseline.json")
yield_s=$(field yield_s "$tmp/baseline.json")
pair_s=$(field list_plus_yield_s "$tmp/baseline.json")
baseline_invited=$(field invited "$tmp/baseline.json")
baseline_csv=$(field list_csv "$tmp/baseline.json")

# 4. recruit run --dry-run: one warm-up, then RUNS timed runs, in two states of
#    the planner's statistics: (2) what autovacuum leaves (plain tables and
#    partitions analysed, the partitioned parents not: autovacuum never
#    analyses a partitioned table) and (3) everything analysed.
out=$tmp/run
runone() {  # [COHORT_FILE [OUT]]
  # A failed run stops the benchmark (its time would be that of an error).
  if ! "$RECRUIT" run "${1:-$COHORT}" --out "${2:-$out}" --dry-run --index-date "$D" --codelists "$CODELISTS" --json -q \
      > "$tmp/run${2:+-spells}.json" 2> "$tmp/run.err"; then
    log "recruit run failed: $(tail -n 3 "$tmp/run.err")"
    kill -TERM $$
  fi
}
sql() { psql -X -q -v ON_ERROR_STOP=1 -At -c "$1"; }
stats_state() {
  sql "VACUUM ANALYZE"
  if [ "$1" = 2 ]; then
    sql "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'recruit'::regnamespace AND relkind = 'p')"
  fi
}
timed_runs() {
  log "recruit run --dry-run, statistics state $1: warm-up"
  stats_state "$1"
  runone
  for i in $(seq 1 "$RUNS"); do
    a=$(now); runone; b=$(now)
    secs "$a" "$b"; echo
  done | median
}
recruit_s2=$(timed_runs 2)
log "recruit run (state 2, parents not analysed): median ${recruit_s2}s"
recruit_s=$(timed_runs 3)
recruit_invited=$(field invited "$tmp/run.json")
log "recruit run (state 3, everything analysed): median ${recruit_s}s"
# 4b. The spells variant on the same data and statistics (state 3): the same
#     command, criterion 7 built from sickness-certification spells.
log "recruit run of the spells cohort (state 3): warm-up"
runone "$SPELLS" "$tmp/run-spells"
spells_s=$(for i in $(seq 1 "$RUNS"); do a=$(now); runone "$SPELLS" "$tmp/run-spells"; b=$(now); secs "$a" "$b"; echo; done | median)
spells_invited=$(field invited "$tmp/run-spells.json")
log "recruit run of the spells cohort: median ${spells_s}s"

# 5. Same patients?
tail -n +2 "$out/invitations.csv" | cut -d, -f1,2 > "$tmp/recruit-list.csv"
tail -n +2 "$baseline_csv" > "$tmp/baseline-list.csv"
if cmp -s "$tmp/recruit-list.csv" "$tmp/baseline-list.csv"; then same=true; else same=false; fi
rm -rf "$(dirname "$baseline_csv")"

ratio() { awk -v r="$1" -v b="$2" 'BEGIN { printf "%.2f", r / b }'; }
ratio_pair=$(ratio "$recruit_s" "$pair_s"); ratio_list=$(ratio "$recruit_s" "$list_s")
ratio_pair2=$(ratio "$recruit_s2" "$pair_s"); ratio_list2=$(ratio "$recruit_s2" "$list_s")
ratio_spells=$(ratio "$spells_s" "$recruit_s")
cat <<EOF
cohort benchmark: $N patients, 100 practices, index date $D, median of $RUNS after a warm-up
  baseline list query (criteria 1-10)      ${list_s}s
  baseline yield query (steps 0-10)        ${yield_s}s
  baseline list + yield                    ${pair_s}s
  recruit run --dry-run (list, yield, evidence, files; the whole command)
    statistics as autovacuum leaves them   ${recruit_s2}s   ratio / (list + yield) ${ratio_pair2}, / list ${ratio_list2}
    everything analysed                    ${recruit_s}s   ratio / (list + yield) ${ratio_pair}, / list ${ratio_list}
  spells cohort, everything analysed      ${spells_s}s   ratio / reference run ${ratio_spells} (target <= 1.3); invited $spells_invited
  targets: recruit / (list + yield) <= 1.0; recruit / list <= 1.5
  invited: recruit $recruit_invited, baseline $baseline_invited; same patients: $same
  one snapshot (kept per issued run's month): $(( snapshot_bytes / 1048576 )) MiB
  load average before the baseline: $load_before
EOF
printf '{"patients":%d,"index_date":"%s","runs":%d,"list_s":%s,"yield_s":%s,"list_plus_yield_s":%s,"recruit_s":%s,"recruit_s_parents_unanalysed":%s,"ratio_vs_pair":%s,"ratio_vs_list":%s,"ratio_vs_pair_parents_unanalysed":%s,"ratio_vs_list_parents_unanalysed":%s,"recruit_invited":%s,"baseline_invited":%s,"same_patients":%s,"spells_s":%s,"spells_invited":%s,"ratio_spells_vs_reference":%s,"snapshot_bytes":%s,"load_average":"%s"}\n' \
  "$N" "$D" "$RUNS" "$list_s" "$yield_s" "$pair_s" "$recruit_s" "$recruit_s2" "$ratio_pair" "$ratio_list" "$ratio_pair2" "$ratio_list2" "$recruit_invited" "$baseline_invited" "$same" "$spells_s" "$spells_invited" "$ratio_spells" "$snapshot_bytes" "$load_before"
if [ "$same" != true ]; then
  cp "$tmp/recruit-list.csv" "$BENCH_DIR/differ-recruit-$SIZE.csv"
  cp "$tmp/baseline-list.csv" "$BENCH_DIR/differ-baseline-$SIZE.csv"
  log "the two lists differ: compare $BENCH_DIR/differ-recruit-$SIZE.csv and $BENCH_DIR/differ-baseline-$SIZE.csv"
  exit 1
fi
