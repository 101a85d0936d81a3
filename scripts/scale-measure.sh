#!/usr/bin/env bash
# Times `recruit load` and `recruit run` on one plain node and on a Citus
# coordinator + 2 workers, in the same run, for docs/scaling.md (no comparison
# of outputs: that is scripts/scale-test.sh). Prints one line per size and node.
# Usage: scripts/scale-measure.sh RECRUIT_BINARY [PATIENTS...]   (default 100000)
# Environment: SCALE_PORT (54420), SCALE_SHARDS (8), SCALE_PRACTICES (24 per 100,000 patients).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
recruit=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
sizes=("${@:-100000}")
port=${SCALE_PORT:-54420}
"$here/scripts/citus.sh"
source "$here/scripts/citus-cluster.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-measure.XXXXXX"); chmod 755 "$tmp"
trap 'pg_nodes_stop_all; rm -rf "$tmp"' EXIT INT TERM
now() { date +%s.%3N; }
for n in "${sizes[@]}"; do
  practices=$(( ${SCALE_PRACTICES:-24} * n / 100000 )); [ "$practices" -ge 1 ] || practices=1
  "$recruit" synth -q --out "$tmp/x$n" --patients "$n" --practices "$practices" --seed 1 >/dev/null
  for kind in plain citus; do
    dir=$tmp/$kind$n
    if [ $kind = citus ]; then citus_cluster_start "$dir" "$port"; host=$CITUS_HOST
    else pg_node_start "$dir" "$port" plain; host=$dir/run; fi
    export PGHOST=$host PGPORT=$port PGUSER=recruit PGDATABASE=recruit
    cd "$here"
    "$recruit" -q db migrate >/dev/null
    [ $kind = citus ] && "$recruit" -q db distribute --shard-count "${SCALE_SHARDS:-8}" >/dev/null
    t0=$(now); "$recruit" -q load "$tmp/x$n" --json > "$dir.load.json"; t1=$(now); la_load=$(cut -d' ' -f1 /proc/loadavg)
    "$recruit" -q run cohorts/chronic-pain-out-of-work.yaml --dry-run --out "$dir.warm" >/dev/null
    t2=$(now); "$recruit" -q run cohorts/chronic-pain-out-of-work.yaml --dry-run --out "$dir.run" >/dev/null; t3=$(now)
    la_run=$(cut -d' ' -f1 /proc/loadavg)
    rows=$(grep -o '"rows_loaded" *: *[0-9]*' "$dir.load.json" | sed 's/.*: *//' | sort -n | tail -1)
    invited=$(($(wc -l < "$dir.run/invitations.csv") - 1))
    awk -v k=$kind -v n=$n -v r="$rows" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v l1="$la_load" -v l2="$la_run" -v i="$invited" \
      'BEGIN { printf "%s %d patients: %s rows, load %.1f s (load avg %s), run %.2f s (load avg %s), %d invited\n", k, n, r, b - a, l1, d - c, l2, i }'
    pg_nodes_stop_all
  done
done
