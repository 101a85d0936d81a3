#!/usr/bin/env bash
# bench-load.sh - the loading benchmark: recruit load against the shared baseline,
# measured in the same run, on the same throwaway cluster and the same extract.
#
#   scripts/bench-load.sh            # 1,000,000 patients (~52 M rows)
#   SIZE=100k scripts/bench-load.sh  # 100,000 patients (~5 M rows), about a minute
#
# 1. Makes (or reuses) a synthetic extract with `recruit synth` in .bench/extract-SIZE.
# 2. Starts a throwaway cluster (recruit's embedded cluster, in a temporary folder)
#    with the baseline's settings: shared_buffers=2GB, maintenance_work_mem=1GB,
#    max_wal_size=8GB (and the embedded cluster's wal_level=minimal).
# 3. Runs ../shared/bench/baseline.sh on the extract (psql \copy into typed tables
#    + five index builds: the loading limit), then `recruit load` of the same
#    extract end to end (release build) under /usr/bin/time -v.
# 4. Prints rows/s of both, their ratio (recruit / baseline; >= 0.8 is the target,
#    >= 1.0 the goal) and recruit's peak RSS (target < 150 MB), and appends the
#    result to docs/benchmarks.md.
#
# Environment: SIZE (1m | 100k), RECRUIT (the binary; default the release build),
# BENCH_DIR (where extracts are kept; default .bench), BASELINE (baseline.sh),
# BENCH_PORT (the cluster's socket port, default 54399), RUNS (recruit runs, best kept; default 1).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
size=${SIZE:-1m}
case "$size" in
  1m|1M|1000k) size=1m; patients=1000000 ;;
  100k|100K) size=100k; patients=100000 ;;
  *) echo "bench-load: SIZE must be 1m or 100k (got $size)" >&2; exit 2 ;;
esac
recruit=${RECRUIT:-$root/.build/release/recruit}
bench_dir=${BENCH_DIR:-$root/.bench}
baseline=${BASELINE:-$root/../shared/bench/baseline.sh}
port=${BENCH_PORT:-54399}
runs=${RUNS:-1}
[ -x "$recruit" ] || { echo "bench-load: no $recruit (make release)" >&2; exit 2; }
[ -f "$baseline" ] || { echo "bench-load: no baseline script at $baseline (set BASELINE)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-load: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
log() { echo "bench-load: $*" >&2; }

# 1. The extract.
extract="$bench_dir/extract-$size"
if [ ! -f "$extract/.complete" ]; then
  log "writing a synthetic extract of $patients patients to $extract"
  rm -rf "$extract"; mkdir -p "$extract"
  "$recruit" synth --out "$extract" --patients "$patients" --practices 100 --codelists "$root/codelists" -q >&2
  touch "$extract/.complete"
fi
extract_date=$(sed -n 's/.*"extract_date" *: *"\([0-9-]*\)".*/\1/p' "$extract/extract.json")
rows=0
for f in patients events prescriptions; do rows=$(( rows + $(wc -l < "$extract/$f.csv") - 1 )); done
bytes=$(cat "$extract"/{patients,events,prescriptions}.csv | wc -c)
log "extract: $rows rows, $bytes bytes, extract date $extract_date"

# 2. The cluster.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-bench.XXXXXX")
chmod 755 "$tmp"
cluster="$tmp/cluster"
cleanup() {
  env -u PGHOST -u DATABASE_URL -u PGSERVICE "$recruit" db stop --remove --cluster-dir "$cluster" -q >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
start() { env -u PGHOST -u DATABASE_URL -u PGSERVICE "$recruit" db start --cluster-dir "$cluster" --port "$port" --json -q; }
info=$(start)
host=$(sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' <<<"$info")
data=$(sed -n 's/.*"data_directory" *: *"\([^"]*\)".*/\1/p' <<<"$info")
export PGHOST=$host PGPORT=$port PGUSER=recruit PGDATABASE=recruit
unset DATABASE_URL PGSERVICE || true
psql -X -q -c "ALTER SYSTEM SET shared_buffers = '2GB'" -c "ALTER SYSTEM SET maintenance_work_mem = '1GB'" \
  -c "ALTER SYSTEM SET max_wal_size = '8GB'"
env -u PGHOST "$recruit" db stop --cluster-dir "$cluster" -q >/dev/null
info=$(start)
log "cluster: $(psql -X -At -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'maintenance_work_mem', 'max_wal_size', 'wal_level', 'synchronous_commit', 'max_parallel_maintenance_workers')")"

# The baseline needs code lists with code and code_system (its query part is not what is timed here).
codelists="$tmp/codelists"
mkdir -p "$codelists"
printf 'code,code_system\nN245.,read2\n' > "$codelists/chronic-pain.csv"

# Warm the page cache for both.
cat "$extract"/*.csv > /dev/null

# 3a. The baseline.
log "running the baseline ($baseline)"
base_json=$("$baseline" "$extract" "$codelists" "$extract_date" 1)
base_rps=$(sed -n 's/.*"load_rows_per_s":\([0-9.]*\).*/\1/p' <<<"$base_json")
base_load=$(sed -n 's/.*"load_s":\([0-9.]*\).*/\1/p' <<<"$base_json")
base_copy=$(sed -n 's/.*"copy_s":\([0-9.]*\).*/\1/p' <<<"$base_json")
base_index=$(sed -n 's/.*"index_s":\([0-9.]*\).*/\1/p' <<<"$base_json")
log "baseline: $base_load s (copy $base_copy s + indexes $base_index s), $base_rps rows/s"

# 3b. recruit load, end to end (a fresh schema each run; the first run also migrates).
best=""
for run in $(seq 1 "$runs"); do
  schema="bench_$run"
  RECRUIT_SCHEMA=$schema "$recruit" db migrate -q >/dev/null
  log "recruit load, run $run"
  /usr/bin/time -v -o "$tmp/time.txt" env RECRUIT_SCHEMA="$schema" "$recruit" load "$extract" --json -q > "$tmp/load.json"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$tmp/time.txt")
  rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f s user + %.1f s system", u, s }' "$tmp/time.txt")
  status=$(sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p' "$tmp/load.json" | head -1)
  [ "$status" = loaded ] || { log "recruit load did not load (status $status)"; cat "$tmp/load.json" >&2; exit 1; }
  timings=$(sed -n 's/.*"timings":{\([^}]*\)}.*/\1/p' "$tmp/load.json")
  log "recruit: ${wall} s wall, peak RSS $(( rss_kb / 1024 )) MB, recruit's own CPU $cpu ($timings)"
  if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; best_rss=$rss_kb; fi
  # What keeping this snapshot for an issued run costs (docs/runs.md): its tables and indexes.
  snapshot_bytes=$(psql -X -At -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$schema' AND c.relkind = 'r' AND c.relname ~ '^(patients|events|prescriptions)_l[0-9]+(_[12])?\$'")
  log "one snapshot: $snapshot_bytes bytes"
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -c "DROP SCHEMA $schema CASCADE"
done

rec_rps=$(awk -v r="$rows" -v s="$best" 'BEGIN { printf "%.0f", r / s }')
ratio=$(awk -v a="$rec_rps" -v b="$base_rps" 'BEGIN { printf "%.2f", a / b }')
rss_mb=$(( best_rss / 1024 ))
echo "rows:      $rows ($size extract, $(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MB)"
echo "baseline:  $base_load s, $base_rps rows/s (copy $base_copy s + indexes $base_index s)"
echo "recruit:   $best s, $rec_rps rows/s, peak RSS $rss_mb MB"
echo "ratio:     $ratio (target >= 0.8, goal >= 1.0; peak RSS target < 150 MB)"
echo "snapshot:  $(( snapshot_bytes / 1048576 )) MiB on disk (tables and indexes: what each retained snapshot costs)"

# 4. Record it.
machine="$(nproc) vCPU $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load average $(cut -d' ' -f1 /proc/loadavg), PostgreSQL $(psql -X -At -c 'SHOW server_version' | cut -d' ' -f1)"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
doc="$root/docs/benchmarks.md"
if [ ! -f "$doc" ]; then
  printf '# Benchmarks\n\nWritten by `make bench` (scripts/bench-*.sh): each run appends a line.\n' > "$doc"
fi
if ! grep -q '^## Loading' "$doc"; then
  printf '\n## Loading (`make bench-load`)\n\n| date | commit | extract | rows | baseline s | baseline rows/s | recruit s | recruit rows/s | ratio | peak RSS MB | machine |\n|---|---|---|---|---|---|---|---|---|---|---|\n' >> "$doc"
fi
line="| $(date -u +%Y-%m-%d) | $commit | $size | $rows | $base_load | $base_rps | $best | $rec_rps | $ratio | $rss_mb | $machine |"
# Insert the line at the end of the loading table (appended when python3 is missing).
python3 - "$doc" "$line" <<'PY' 2>/dev/null || echo "$line" >> "$doc"
import sys
path, line = sys.argv[1], sys.argv[2]
lines = open(path).read().split('\n')
start = next(i for i, l in enumerate(lines) if l.startswith('## Loading'))
end = start + 1
while end < len(lines) and not (lines[end].startswith('## ') and end > start):
    end += 1
last = max(i for i in range(start, end) if lines[i].startswith('|'))
lines.insert(last + 1, line)
open(path, 'w').write('\n'.join(lines))
PY
log "recorded in docs/benchmarks.md"
