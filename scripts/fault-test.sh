#!/usr/bin/env bash
# make fault-test: faults against a real, throwaway PostgreSQL cluster.
#
#   scripts/fault-test.sh RECRUIT_BINARY
#
# 1. SIGKILL the loader at FAULT_KILLS (default 20) random points of a large
#    load; after each: every practice's previous snapshot is intact (same
#    load, same counts, and the current_* views hold exactly those counts and
#    rows), no load is left "running" once the next load has cleaned up, and
#    the audit chain verifies. Then the load succeeds.
# 2. `pg_ctl restart -m immediate` during a load (FAULT_RESTARTS times) and
#    during a run: the tool exits 2 with a message, nothing is half-written,
#    and a retry succeeds.
# 3. Two loads, and two runs, of the same practices at once: one proceeds,
#    the other refuses naming the holder (exit 2) or, with --wait, waits; the
#    audit chain verifies.
# 4. A full disk during a load (the load's tables on a tablespace on a small
#    tmpfs; needs root to mount it): a clear error, the previous data intact,
#    and the load succeeds once there is room.
# 5. `recruit monthly` killed with SIGKILL mid-way: nothing half-written, the
#    next one starts cleanly; twice on one extract: nothing new; two at once:
#    one works, the other exits 2 at once.
#
# Environment: FAULT_PGPORT (default 54391; names the socket only),
# FAULT_PATIENTS (default 100000: about 5 million rows), FAULT_KILLS (20),
# FAULT_RESTARTS (3), FAULT_SEED (random), FAULT_KEEP=1 keeps the folder.
# Prints one line per check and a summary; exits 1 when any check failed.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RECRUIT_BINARY" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
port=${FAULT_PGPORT:-54391}
patients=${FAULT_PATIENTS:-100000}
kills=${FAULT_KILLS:-20}
restarts=${FAULT_RESTARTS:-3}
seed=${FAULT_SEED:-$RANDOM}
RANDOM=$seed
tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-fault.XXXXXX")
chmod 755 "$tmp"
failures=0
checks=0
mounted=""

log() { echo "fault-test: $*" >&2; }
pass() { checks=$((checks + 1)); echo "ok   $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $*"; }
check() { # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

cleanup() {
  env -u PGHOST -u DATABASE_URL -u PGSERVICE "$bin" db stop --remove --cluster-dir "$tmp/cluster" -q >/dev/null 2>&1 || true
  [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
  if [ "${FAULT_KEEP:-0}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

# --- the cluster -------------------------------------------------------------
info=$(env -u PGHOST -u DATABASE_URL -u PGSERVICE "$bin" db start --cluster-dir "$tmp/cluster" --port "$port" --json -q) || {
  log "could not start a cluster"; exit 2; }
field() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" "$tmp/cluster/cluster.json" | sed 's#\\/#/#g'; }
export PGHOST=$(field socketDirectory) PGPORT=$port PGUSER=recruit PGDATABASE=recruit
unset DATABASE_URL PGSERVICE RECRUIT_SCHEMA || true
datadir=$(field dataDirectory); pgbin=$(field binDirectory); serverlog=$(field logFile); runas=$(field runAs)
as_server() { if [ -n "$runas" ]; then runuser -u "$runas" -- "$@"; else "$@"; fi; }
psql_() { PGOPTIONS="-c search_path=recruit" "$pgbin/psql" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
log "cluster: socket $PGHOST, data $datadir; seed $seed"
"$bin" db migrate -q >/dev/null || { log "db migrate failed"; exit 2; }

# --- the extracts --------------------------------------------------------------
# Same seed and practice count: the same practices, other rows (another extract date).
for x in a:2026-09-30 b:2026-10-31; do
  name=${x%%:*}; date=${x#*:}
  "$bin" synth --out "$tmp/extract-$name" --patients "$patients" --practices 4 --seed 42 --extract-date "$date" \
    --codelists "$root/codelists" -q >/dev/null || { log "synth failed"; exit 2; }
done
log "extracts: $patients patients, $(du -sh "$tmp/extract-a" | cut -f1) each"

# --- what a reader sees ---------------------------------------------------------
# Each practice's snapshot pointer and counts.
state() { psql_ "SELECT coalesce(string_agg(practice_id || ':' || load_id || ':' || patients || ':' || events || ':' || prescriptions, ',' ORDER BY practice_id), '') FROM practice_snapshots"; }
# The rows readers see agree with the pointers' counts (0 when they do), and a digest of the patients they see.
consistency() { psql_ "SELECT count(*) FROM practice_snapshots s WHERE s.patients <> (SELECT count(*) FROM current_patients c WHERE c.practice_id = s.practice_id) OR s.events <> (SELECT count(*) FROM current_events c WHERE c.practice_id = s.practice_id) OR s.prescriptions <> (SELECT count(*) FROM current_prescriptions c WHERE c.practice_id = s.practice_id)"; }
digest() { psql_ "SELECT md5(coalesce(string_agg(practice_id || '/' || patient_id || '/' || year_of_birth || '/' || registration_start, ',' ORDER BY practice_id, patient_id), '')) FROM current_patients"; }
audit_ok() { "$bin" audit verify -q >/dev/null 2>&1; }
running_loads() { psql_ "SELECT count(*) FROM loads WHERE status = 'running'"; }
orphan_tables() { psql_ "SELECT count(*) FROM pg_class WHERE relnamespace = 'recruit'::regnamespace AND relname ~ '^(patients|events|prescriptions)_l[0-9]+$' AND substring(relname from '_l([0-9]+)$')::bigint NOT IN (SELECT load_id FROM practice_snapshots)"; }
# Waits until no recruit session is left on the server (a killed client's backend notices and ends).
wait_backends() {
  for _ in $(seq 1 600); do
    [ "$(psql_ "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'recruit'")" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
wait_server() {
  for _ in $(seq 1 600); do psql_ "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
# The kill landed after the load's commit, before the process exited: every
# practice is on the one new load, recorded as loaded, and what readers see
# agrees with it. That is the other all-or-nothing outcome.
committed_whole() { # committed_whole PREVIOUS_STATE
  [ "$(psql_ "SELECT count(DISTINCT s.load_id) = 1 AND bool_and(l.status = 'loaded') AND count(*) = $(tr ',' '\n' <<<"$1" | grep -c .)
              FROM practice_snapshots s JOIN loads l USING (load_id)
              WHERE s.load_id > (SELECT max(split_part(x, ':', 2)::bigint) FROM unnest(string_to_array('$1', ',')) x)")" = t ] \
    && [ "$(consistency)" = 0 ]
}
same_as() { # same_as STATE DIGEST: the snapshots are exactly as recorded
  [ "$(state)" = "$1" ] && [ "$(consistency)" = 0 ] && [ "$(digest)" = "$2" ]
}
ms() { date +%s%3N; }

# --- baseline ----------------------------------------------------------------
t0=$(ms)
"$bin" load "$tmp/extract-a" -q >"$tmp/baseline.out" || { log "the baseline load failed"; exit 2; }
load_ms=$(( $(ms) - t0 ))
base_state=$(state); base_digest=$(digest)
log "baseline load: $((load_ms / 1000)).$((load_ms % 1000 / 100)) s; snapshots $base_state"
check "baseline: views agree with the snapshots" [ "$(consistency)" = 0 ]

# --- 1. SIGKILL during a load ------------------------------------------------
killed=0; attempts=0; completed=0
phases=()
while [ "$killed" -lt "$kills" ] && [ "$attempts" -lt $((kills * 3)) ]; do
  attempts=$((attempts + 1))
  delay=$(( (RANDOM * 32768 + RANDOM) % (load_ms * 105 / 100 + 1) ))
  "$bin" load "$tmp/extract-b" --force -v >"$tmp/kill.out" 2>"$tmp/kill.err" &
  pid=$!
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"; wait "$pid" 2>/dev/null
    killed=$((killed + 1))
    phase=$(grep -v '^\s*$' "$tmp/kill.err" | tail -1 | sed 's/.*\] //' | cut -c1-60)
    phases+=("$phase")
    wait_backends || fail "kill $killed: the killed loader's session did not end"
    if same_as "$base_state" "$base_digest" && audit_ok; then
      pass "kill $killed at $((delay / 1000)).$(printf '%03d' $((delay % 1000))) s (after: ${phase:-start}): previous snapshot intact, counts match, audit chain valid"
    elif committed_whole "$base_state" && audit_ok; then
      pass "kill $killed at $((delay / 1000)).$(printf '%03d' $((delay % 1000))) s (after: ${phase:-start}): the load had committed; every practice on the new snapshot, counts match, audit chain valid"
      base_state=$(state); base_digest=$(digest)
    else
      fail "kill $killed at ${delay} ms: snapshots $(state) (expected $base_state), consistency $(consistency), audit $(audit_ok && echo ok || echo BROKEN)"
      base_state=$(state); base_digest=$(digest)
    fi
  else
    wait "$pid"; rc=$?
    completed=$((completed + 1))
    if [ "$rc" = 0 ]; then
      base_state=$(state); base_digest=$(digest)
      log "attempt $attempts: the load finished before the kill at ${delay} ms (not counted)"
    else
      fail "attempt $attempts: the load exited $rc before the kill: $(tail -1 "$tmp/kill.err")"
    fi
  fi
done
check "$killed loads killed with SIGKILL (asked for $kills)" [ "$killed" -ge "$kills" ]
"$bin" load "$tmp/extract-b" --force -q >"$tmp/after-kills.out" 2>"$tmp/after-kills.err"
rc=$?
check "after the kills: the next load succeeds (exit $rc)" [ "$rc" = 0 ]
check "after the kills: views agree with the new snapshots" [ "$(consistency)" = 0 ]
check "after the kills: no load left running ($(running_loads))" [ "$(running_loads)" = 0 ]
check "after the kills: no killed load's table left ($(orphan_tables))" [ "$(orphan_tables)" = 0 ]
check "after the kills: the audit chain verifies" audit_ok
base_state=$(state); base_digest=$(digest)

# --- 2a. immediate restart during a load -------------------------------------------
restart_server() {
  as_server "$pgbin/pg_ctl" restart -m immediate -D "$datadir" -l "$serverlog" -w -t 120 >/dev/null 2>&1
}
for i in $(seq 1 "$restarts"); do
  delay=$(( load_ms * (20 + RANDOM % 60) / 100 ))
  "$bin" load "$tmp/extract-a" --force -q >"$tmp/restart.out" 2>"$tmp/restart.err" &
  pid=$!
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  restart_server
  wait "$pid"; rc=$?
  wait_server
  message=$(grep -m1 '^recruit:' "$tmp/restart.err" | cut -c1-160)
  if [ "$rc" = 2 ] && [ -n "$message" ]; then
    pass "restart $i during a load at ${delay} ms: exit 2, \"$message\""
  elif [ "$rc" = 0 ]; then
    log "restart $i: the load finished before the restart"; base_state=$(state); base_digest=$(digest)
  else
    fail "restart $i during a load: exit $rc, stderr: $(tail -2 "$tmp/restart.err" | tr '\n' ' ' | cut -c1-200)"
  fi
  check "restart $i: previous snapshot intact, counts match" same_as "$base_state" "$base_digest"
  "$bin" load "$tmp/extract-a" --force -q >/dev/null 2>"$tmp/retry.err"; rc=$?
  check "restart $i: the retried load succeeds (exit $rc)" [ "$rc" = 0 ]
  check "restart $i: the audit chain verifies" audit_ok
  base_state=$(state); base_digest=$(digest)
done

# --- 3a. two loads of the same practices at once ----------------------------------
"$bin" load "$tmp/extract-b" --force -q >"$tmp/c1.out" 2>"$tmp/c1.err" & p1=$!
"$bin" load "$tmp/extract-b" --force -q >"$tmp/c2.out" 2>"$tmp/c2.err" & p2=$!
wait "$p1"; r1=$?; wait "$p2"; r2=$?
busy=$(cat "$tmp/c1.err" "$tmp/c2.err" | grep -m1 -E 'is busy: load [0-9]+ started by' | cut -c1-160)
if { [ "$r1" = 0 ] && [ "$r2" = 2 ]; } || { [ "$r1" = 2 ] && [ "$r2" = 0 ]; }; then
  if [ -n "$busy" ]; then pass "two loads at once: one loaded, the other refused (exit 2): \"$busy\""
  else fail "two loads at once: exits $r1 and $r2, but no message naming the holder"; fi
elif [ "$r1" = 0 ] && [ "$r2" = 0 ]; then
  pass "two loads at once: both loaded one after the other (the second started after the first had finished its lock)"
else
  fail "two loads at once: exits $r1 and $r2: $(cat "$tmp/c1.err" "$tmp/c2.err" | grep '^recruit:' | head -2 | tr '\n' ' ')"
fi
check "two loads at once: views agree with the snapshots" [ "$(consistency)" = 0 ]
"$bin" load "$tmp/extract-a" --force --wait -q >/dev/null 2>"$tmp/w1.err" & p1=$!
"$bin" load "$tmp/extract-b" --force --wait -q >/dev/null 2>"$tmp/w2.err" & p2=$!
wait "$p1"; r1=$?; wait "$p2"; r2=$?
check "two loads at once with --wait: both succeed, one after the other (exits $r1, $r2)" [ "$r1" = 0 -a "$r2" = 0 ]
check "two loads at once with --wait: views agree with the snapshots" [ "$(consistency)" = 0 ]
check "two loads at once: the audit chain verifies" audit_ok
base_state=$(state); base_digest=$(digest)

# --- runs (once recruit run exists) ------------------------------------------------
cohort=$root/cohorts/chronic-pain-out-of-work.yaml
if "$bin" run --help >/dev/null 2>&1 && [ -f "$cohort" ]; then
  run_cmd() { "$bin" run "$cohort" --codelists "$root/codelists" --out "$1" -q "${@:2}"; }
  runs_state() { psql_ "SELECT count(*) || ':' || coalesce(max(run_id), 0) || ':' || (SELECT count(*) FROM run_invitations) || ':' || (SELECT count(*) FROM run_yields) FROM runs"; }
  half_runs() { psql_ "SELECT count(*) FROM runs r WHERE r.finished_at IS NULL OR NOT EXISTS (SELECT 1 FROM run_yields y WHERE y.run_id = r.run_id)"; }
  t0=$(ms); run_cmd "$tmp/run-0" >/dev/null 2>"$tmp/run0.err"; rc=$?; run_ms=$(( $(ms) - t0 ))
  check "a run succeeds (exit $rc, $((run_ms / 1000)) s)" [ "$rc" = 0 ]
  # 2b. immediate restart during a run.
  before=$(runs_state)
  delay=$(( run_ms * (20 + RANDOM % 60) / 100 ))
  run_cmd "$tmp/run-1" >/dev/null 2>"$tmp/run1.err" & pid=$!
  sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
  restart_server
  wait "$pid"; rc=$?
  wait_server
  message=$(grep -m1 '^recruit:' "$tmp/run1.err" | cut -c1-160)
  if [ "$rc" = 2 ] && [ -n "$message" ]; then pass "restart during a run at ${delay} ms: exit 2, \"$message\""
  elif [ "$rc" = 0 ]; then log "the run finished before the restart"; before=$(runs_state)
  else fail "restart during a run: exit $rc: $(tail -2 "$tmp/run1.err" | tr '\n' ' ' | cut -c1-200)"; fi
  check "restart during a run: no run half-recorded ($(half_runs)), runs as before" bash -c '[ "$1" = 0 ] && [ "$2" = "$3" ]' _ "$(half_runs)" "$(runs_state)" "$before"
  run_cmd "$tmp/run-2" >/dev/null 2>"$tmp/run2.err"; rc=$?
  check "restart during a run: the retried run succeeds (exit $rc)" [ "$rc" = 0 ]
  # 3b. two runs at once.
  run_cmd "$tmp/run-3" >/dev/null 2>"$tmp/r3.err" & p1=$!
  run_cmd "$tmp/run-4" >/dev/null 2>"$tmp/r4.err" & p2=$!
  wait "$p1"; r1=$?; wait "$p2"; r2=$?
  if [ "$r1" = 0 ] && [ "$r2" = 0 ]; then pass "two runs at once: both recorded"
  elif { [ "$r1" = 0 ] || [ "$r2" = 0 ]; } && grep -qh '^recruit:' "$tmp/r3.err" "$tmp/r4.err"; then
    pass "two runs at once: one ran, the other refused: \"$(grep -h '^recruit:' "$tmp/r3.err" "$tmp/r4.err" | head -1 | cut -c1-160)\""
  else fail "two runs at once: exits $r1 and $r2"; fi
  check "two runs at once: no run half-recorded" [ "$(half_runs)" = 0 ]
  check "runs: the audit chain verifies" audit_ok
else
  log "recruit run is not available yet: the run faults are skipped"
fi

# --- 5. the monthly job: killed mid-way, two at once --------------------------------
if "$bin" monthly --help >/dev/null 2>&1 && [ -f "$cohort" ]; then
  # exec: run in the background, $! is recruit itself (not a subshell), so kill -9 reaches it.
  monthly_cmd() { exec "$bin" monthly "$1" --cohort "$cohort" --codelists "$root/codelists" --out "$tmp/monthly" \
                    --max-extract-age-days 100000 -q "${@:2}"; }
  before=$(runs_state)
  # Killed with SIGKILL at a random point (during its load or its runs).
  monthly_cmd "$tmp/extract-a" >/dev/null 2>"$tmp/m1.err" & pid=$!
  sleep "0.$(( 300 + RANDOM % 600 ))"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  check "monthly killed mid-way: no run half-recorded ($(half_runs))" [ "$(half_runs)" = 0 ]
  check "monthly killed mid-way: views agree with the snapshots" [ "$(consistency)" = 0 ]
  # The next one starts cleanly (the lock went with the dead job's connection) and finishes the work.
  (monthly_cmd "$tmp/extract-a") >/dev/null 2>"$tmp/m2.err"; rc=$?
  check "monthly after a kill: starts cleanly and finishes (exit $rc)" [ "$rc" = 0 ]
  check "monthly after a kill: no load left running" [ "$(running_loads)" = 0 ]
  # Twice on the same extract: nothing new.
  again=$( (monthly_cmd "$tmp/extract-a" --json) 2>/dev/null | sed -n 's/.*"status" *: *"\([a-z_]*\)".*/\1/p' | tail -1)
  check "monthly twice on one extract: the second does nothing new ($again)" [ "$again" = nothing_new ]
  # Two at once: one works, the other exits 2 at once.
  monthly_cmd "$tmp/extract-b" >/dev/null 2>"$tmp/m3.err" & p1=$!
  sleep 0.2
  t0=$(ms); (monthly_cmd "$tmp/extract-b") >/dev/null 2>"$tmp/m4.err"; r2=$?; second_ms=$(( $(ms) - t0 ))
  wait "$p1"; r1=$?
  if [ "$r1" = 0 ] && [ "$r2" = 2 ] && grep -q 'another recruit monthly is running' "$tmp/m4.err"; then
    pass "two monthly jobs at once: one worked, the other exited 2 at once (${second_ms} ms)"
  elif [ "$r1" = 0 ] && [ "$r2" = 0 ]; then
    log "the first monthly job finished before the second started"; pass "two monthly jobs: both succeeded one after the other"
  else fail "two monthly jobs at once: exits $r1 and $r2: $(cat "$tmp/m3.err" "$tmp/m4.err" | grep '^recruit:' | head -2 | tr '\n' ' ')"; fi
  check "monthly: no run half-recorded" [ "$(half_runs)" = 0 ]
  check "monthly: the audit chain verifies" audit_ok
  base_state=$(state); base_digest=$(digest)
fi

# --- 4. a full disk during a load -------------------------------------------------
small=$tmp/small-disk
mkdir -p "$small"
if mount -t tmpfs -o size=${FAULT_DISK_MB:-24}m tmpfs "$small" 2>/dev/null; then
  mounted=$small
  [ -n "$runas" ] && chown "$runas" "$small"
  chmod 700 "$small"
  psql_ "CREATE TABLESPACE fault_small LOCATION '$small'"
  psql_ "ALTER ROLE recruit SET default_tablespace = fault_small"
  "$bin" load "$tmp/extract-a" --force -q >/dev/null 2>"$tmp/disk.err"; rc=$?
  message=$(grep -m1 '^recruit:' "$tmp/disk.err" | cut -c1-200)
  psql_ "ALTER ROLE recruit RESET default_tablespace"
  if [ "$rc" = 2 ] && echo "$message" | grep -qi 'space'; then pass "full disk during a load: exit 2, \"$message\""
  else fail "full disk during a load: exit $rc, \"$message\""; fi
  check "full disk: previous snapshot intact, counts match" same_as "$base_state" "$base_digest"
  "$bin" load "$tmp/extract-a" --force -q >/dev/null 2>"$tmp/disk-retry.err"; rc=$?
  check "full disk: with room again, the load succeeds (exit $rc)" [ "$rc" = 0 ]
  check "full disk: the failed load's tables are gone" [ "$(psql_ "SELECT count(*) FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE t.spcname = 'fault_small'")" = 0 ]
  check "full disk: the audit chain verifies" audit_ok
  psql_ "DROP TABLESPACE fault_small" 2>/dev/null
else
  log "cannot mount a tmpfs (needs root): the full-disk fault is skipped"
fi

# --- the server's log -----------------------------------------------------------
panics=$(grep -c 'PANIC' "$serverlog" 2>/dev/null || true)
check "the server logged no PANIC (${panics:-0})" [ "${panics:-0}" = 0 ]

echo "fault-test: $checks checks, $failures failed; $killed kills ($completed loads finished first), seed $seed"
[ "${#phases[@]}" -gt 0 ] && printf 'fault-test: killed while: %s\n' "$(printf '%s\n' "${phases[@]}" | sort | uniq -c | sort -rn | awk '{c=$1; $1=""; printf "%s%s x%d", sep, substr($0,2), c; sep="; "}')"
[ "$failures" = 0 ]
