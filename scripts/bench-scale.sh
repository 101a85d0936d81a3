#!/usr/bin/env bash
# bench-scale.sh - the cost curve of load and run on one node, one table:
# 100k, 1M and 5M patients (issue 19).
#
#   scripts/bench-scale.sh                 # SIZES="100k 1m 5m"
#   SIZES="100k 1m" scripts/bench-scale.sh
#
# For each size: a synthetic extract with one practice per 10,000 patients
# (made once, in $BENCH_DIR/scale-SIZE), a fresh throwaway cluster with the
# load benchmark's settings, `recruit load` (wall time, rows/s, peak RSS, its
# phases), the disk one snapshot takes (tables and indexes), then, everything
# analysed, `recruit run --dry-run` of the reference cohort (warm-up, median of
# $RUNS; the whole command) and its statement's time from the run's own log.
# Prints a table, the growth per 10x of data, and the two checks: the load's
# rows/s at the largest size within 15% of its rows/s at 1M, and the run
# growing no faster than the data. At the largest size it writes the
# statement's plan (EXPLAIN ANALYZE, BUFFERS) to $BENCH_DIR/scale-plan.txt.
# Exits 1 when a check fails. Environment: SIZES, RUNS (3), RECRUIT (release
# build), BENCH_DIR (.bench/), BENCH_PORT (54397).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sizes=${SIZES:-100k 1m 5m}
runs=${RUNS:-3}
recruit=${RECRUIT:-$root/.build/release/recruit}
bench_dir=${BENCH_DIR:-$root/.bench}
port=${BENCH_PORT:-54397}
cohort=$root/cohorts/chronic-pain-out-of-work.yaml
[ -x "$recruit" ] || { echo "bench-scale: no $recruit (make release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-scale: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
log() { echo "bench-scale: $*" >&2; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
patients_of() {
  case "$1" in
    100k) echo 100000 ;; 1m) echo 1000000 ;; 5m) echo 5000000 ;;
    *[!0-9]*|'') echo "bench-scale: a size is 100k, 1m, 5m or a number of patients (got $1)" >&2; exit 2 ;;
    *) echo "$1" ;;
  esac
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-bench-scale.XXXXXX")
chmod 755 "$tmp"
cluster="$tmp/cluster"
stop_cluster() { env -u PGHOST -u DATABASE_URL -u PGSERVICE "$recruit" db stop --remove --cluster-dir "$cluster" -q >/dev/null 2>&1 || true; }
cleanup() { stop_cluster; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
start() { env -u PGHOST -u DATABASE_URL -u PGSERVICE "$recruit" db start --cluster-dir "$cluster" --port "$port" --json -q; }

results="$tmp/results.tsv"
: > "$results"
largest=$(for s in $sizes; do patients_of "$s"; done | sort -n | tail -1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for size in $sizes; do
  n=$(patients_of "$size")
  practices=$(( n / 10000 > 0 ? n / 10000 : 1 ))
  extract="$bench_dir/scale-$size"
  if [ ! -f "$extract/.complete" ]; then
    log "$size: synthesising $n patients in $practices practices into $extract"
    rm -rf "$extract"; mkdir -p "$extract"
    "$recruit" synth --out "$extract" --patients "$n" --practices "$practices" --seed 20261207 --codelists "$root/codelists" -q >&2
    touch "$extract/.complete"
  fi
  d=$(sed -n 's/.*"extract_date" *: *"\([0-9-]*\)".*/\1/p' "$extract/extract.json")
  rows=0
  for f in patients events prescriptions; do rows=$(( rows + $(wc -l < "$extract/$f.csv") - 1 )); done

  info=$(start)
  export PGHOST=$(sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' <<<"$info") PGPORT=$port PGUSER=recruit PGDATABASE=recruit
  unset DATABASE_URL PGSERVICE || true
  psql -X -q -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET maintenance_work_mem = '1GB'" -c "ALTER SYSTEM SET max_wal_size = '8GB'"
  env -u PGHOST "$recruit" db stop --cluster-dir "$cluster" -q >/dev/null
  info=$(start)
  "$recruit" db migrate -q >/dev/null
  cat "$extract"/*.csv > /dev/null  # the files in the page cache, as for the other benchmarks

  log "$size: recruit load ($rows rows)"
  /usr/bin/time -v -o "$tmp/time.txt" "$recruit" load "$extract" --json -q > "$tmp/load.json"
  load_s=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$tmp/time.txt")
  rss_mb=$(( $(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt") / 1024 ))
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d.get("status") == "loaded" else 1)' "$tmp/load.json" \
    || { log "$size: recruit load did not load"; cat "$tmp/load.json" >&2; exit 1; }
  phases=$(python3 -c 'import json, sys; t = json.load(open(sys.argv[1])).get("timings", {}); print(", ".join("%s %s" % (k, v) for k, v in sorted(t.items())))' "$tmp/load.json")
  disk=$(psql -X -At -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'recruit' AND c.relkind = 'r' AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+(_[12])?\$'")
  log "$size: load $load_s s, peak RSS $rss_mb MB, one snapshot $(( disk / 1048576 )) MiB ($phases)"

  psql -X -q -c "VACUUM ANALYZE"
  runone() {  # a failed run stops the benchmark (its time would be that of an error)
    if ! "$recruit" run "$cohort" --out "$tmp/run" --dry-run --index-date "$d" --json -v > "$tmp/run.json" 2> "$tmp/run.log"; then
      log "recruit run failed: $(grep -v ' debug ' "$tmp/run.log" | tail -n 3)"
      kill -TERM $$
    fi
    rm -rf "$tmp/run"
  }
  runone
  run_s=$(for i in $(seq 1 "$runs"); do a=$(now); runone; b=$(now); secs "$a" "$b"; echo; done | median)
  statement_s=$(sed -n 's/.*ms=\([0-9]*\) .*cohort statement executed.*/\1/p' "$tmp/run.log" | tail -1 | awk '{ printf "%.3f", $1 / 1000 }')
  invited=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["invited"])' "$tmp/run.json")
  log "$size: run $run_s s (statement $statement_s s), $invited invited"
  if [ "$n" = "$largest" ]; then
    "$recruit" cohort sql "$cohort" --index-date "$d" --json > "$tmp/sql.json"
    python3 - "$tmp/sql.json" > "$tmp/explain.sql" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def lit(p):
    v = p.get("value")
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"
# The run's own session settings, as recruit applies them.
print("SET search_path = recruit; " + " ".join("SET %s = '%s';" % (s["name"], s["value"]) for s in d["session_settings"]))
print("PREPARE q AS " + d["sql"] + ";")
print("EXPLAIN (ANALYZE, BUFFERS) EXECUTE q(" + ", ".join(lit(p) for p in d["parameters"]) + ");")
PY
    psql -X -q -f "$tmp/explain.sql" > "$bench_dir/scale-plan.txt" 2>&1 || log "$size: the plan could not be written"
    log "$size: the statement's plan is in $bench_dir/scale-plan.txt"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$n" "$rows" "$load_s" "$rss_mb" "$disk" "$run_s" "$statement_s" "$invited" >> "$results"
  stop_cluster
  unset PGHOST PGPORT PGUSER PGDATABASE
done

python3 - "$results" "$load_before" <<'PY'
import math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("scale benchmark: one node, one table; the load average before it was %s" % sys.argv[2])
print("%-6s %10s %11s %9s %11s %8s %12s %9s %11s %8s" % ("size", "patients", "rows", "load s", "rows/s", "RSS MB", "MiB/1M pts", "run s", "statement", "invited"))
data = []
for size, n, r, load, rss, disk, run, stmt, inv in rows:
    n, r, load, run, disk = int(n), int(r), float(load), float(run), int(disk)
    rps = r / load
    data.append((size, n, rps, run))
    print("%-6s %10d %11d %9.1f %11.0f %8s %12.0f %9.3f %11s %8s" % (size, n, r, load, rps, rss, disk / 1048576 / (n / 1e6), run, stmt, inv))
ok = True
data.sort(key=lambda x: x[1])
for (s1, n1, rps1, run1), (s2, n2, rps2, run2) in zip(data, data[1:]):
    per10 = math.log(10) / math.log(n2 / n1)
    print("%s -> %s: run x%.2f for x%.0f data (x%.2f per 10x of data); load rows/s x%.2f" % (s1, s2, run2 / run1, n2 / n1, (run2 / run1) ** per10, rps2 / rps1))
    if run2 / run1 > n2 / n1:
        print("  check failed: the run grows faster than the data"); ok = False
one = [d for d in data if d[1] == 1000000]
if one and data[-1][1] > 1000000:
    drop = 1 - data[-1][2] / one[0][2]
    print("load rows/s at %s against 1m: %+.1f%% (target: within 15%%)" % (data[-1][0], -100 * drop))
    if abs(drop) > 0.15:
        print("  check failed"); ok = False
sys.exit(0 if ok else 1)
PY
