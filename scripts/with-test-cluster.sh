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

# The cluster trusts local connections; one test role must give its password,
# so that a wrong password can be tested (PostgresTests, "Password
# authentication"): its line goes before the trust lines of pg_hba.conf. The
# file is rewritten in place, keeping its owner (the server's user when root).
if command -v psql >/dev/null 2>&1 && hba=$(psql -X -At -c 'SHOW hba_file' 2>/dev/null) && [ -f "$hba" ]; then
  rules=$(cat "$hba")
  printf '%s\n%s\n\n%s\n' "# recruit tests (scripts/with-test-cluster.sh): this role must give its password" \
    "local all recruit_pw_test scram-sha-256" "$rules" > "$hba"
  psql -X -q -At -c 'SELECT pg_reload_conf()' >/dev/null
else
  echo "test cluster: could not edit pg_hba.conf (no psql?); the wrong-password test will be skipped" >&2
fi
echo "test cluster: socket $PGHOST port $PGPORT" >&2
"$@"
