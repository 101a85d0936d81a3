#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster, started by recruit's own
# embedded-cluster code in a temporary folder (its own socket directory), with the
# standard PG* environment exported and RECRUIT_REQUIRE_DB=1 (a missing database
# fails the tests instead of skipping them). The cluster is stopped and removed
# when the command ends, whether it passed or failed.
# Usage: scripts/with-test-cluster.sh RECRUIT_BINARY COMMAND [ARGS...]
set -euo pipefail
bin=$1; shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-test-cluster.XXXXXX")
chmod 755 "$tmp"
cleanup() {
  env -u PGHOST -u DATABASE_URL -u PGSERVICE "$bin" db stop --remove --cluster-dir "$tmp/cluster" -q >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
info=$(env -u PGHOST -u DATABASE_URL -u PGSERVICE "$bin" db start --cluster-dir "$tmp/cluster" --port "${TEST_PGPORT:-54329}" --json -q)
host=$(sed -n 's/.*"host" *: *"\([^"]*\)".*/\1/p' <<<"$info")
port=$(sed -n 's/.*"port" *: *"\([^"]*\)".*/\1/p' <<<"$info")
export PGHOST=$host PGPORT=$port PGUSER=recruit PGDATABASE=recruit RECRUIT_REQUIRE_DB=1
unset DATABASE_URL PGSERVICE || true
echo "test cluster: socket $PGHOST port $PGPORT" >&2
"$@"
