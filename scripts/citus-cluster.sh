#!/usr/bin/env bash
# Throwaway local PostgreSQL 15 clusters for tests: a Citus coordinator with two
# workers, or a plain node. Each listens on its own Unix socket folder and on
# 127.0.0.1 (the nodes talk to each other over it; trust authentication, for
# 127.0.0.1 and the socket only) and is stopped and removed when the script (or
# the script that sources it) exits, also on failure.
#
# Run a command against a coordinator + 2 workers:
#   scripts/citus-cluster.sh [--port BASE] COMMAND [ARGS...]
# (ports BASE, BASE+1, BASE+2; default 54400). The command gets PGHOST, PGPORT,
# PGUSER=recruit and PGDATABASE=recruit for the coordinator, and
# CITUS_WORKER_DATA (the workers' data folders, space-separated) and
# CITUS_WORKER_PORTS, so that a test can stop and restart a worker
# (pg_node_ctl DATA stop|start).
#
# Or source it (scripts/scale-test.sh does) and call:
#   pg_node_start DIR PORT [citus]     -> a node; its socket folder is DIR/run
#   citus_cluster_start DIR PORT       -> coordinator PORT, workers PORT+1, PORT+2
#   pg_nodes_stop_all                  -> stops and removes every node started
# The sourcing script must call pg_nodes_stop_all from its own EXIT trap.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_NODES_STARTED=()

# Runs a server program as the unprivileged postgres user when we are root
# (PostgreSQL refuses to run as root).
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_node_ctl DATA stop|start|status
pg_node_ctl() {
  local data=$1 action=$2
  case $action in
    stop) pg_as_owner "$PG_BIN/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null ;;
    start) pg_as_owner "$PG_BIN/pg_ctl" start -D "$data" -l "$data/../postgresql.log" -w -t 60 >/dev/null ;;
    status) pg_as_owner "$PG_BIN/pg_ctl" status -D "$data" >/dev/null ;;
  esac
}

# pg_node_start DIR PORT [citus]: creates and starts a node in DIR (a new
# folder), socket folder DIR/run. Call it in this shell (not in $(...)), so
# that pg_nodes_stop_all knows the node.
pg_node_start() {
  local dir=$1 port=$2 kind=${3:-plain}
  mkdir -p "$dir/run"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -U recruit --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  # The same settings as recruit's embedded cluster (EmbeddedCluster.swift), so
  # that the plain node and the Citus nodes compare; Citus needs its library
  # preloaded, and the nodes reach each other on 127.0.0.1.
  cat >>"$dir/data/postgresql.conf" <<EOF

# recruit test node ($kind)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/run'
port = $port
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
shared_buffers = 256MB
maintenance_work_mem = 512MB
work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
random_page_cost = 1.1
jit = off
log_min_messages = warning
max_connections = 200
EOF
  if [ "$kind" = citus ]; then
    cat >>"$dir/data/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
citus.enable_statistics_collection = off
EOF
  fi
  # Trust on the socket and 127.0.0.1 only (initdb's defaults; the node is throwaway).
  PG_NODES_STARTED+=("$dir")
  pg_node_ctl "$dir/data" start || { tail -20 "$dir/postgresql.log" >&2; return 1; }
  pg_as_owner "$PG_BIN/psql" -X -q -h "$dir/run" -p "$port" -U recruit -d postgres -c 'CREATE DATABASE recruit' >/dev/null
  if [ "$kind" = citus ]; then
    pg_as_owner "$PG_BIN/psql" -X -q -h "$dir/run" -p "$port" -U recruit -d recruit -c 'CREATE EXTENSION citus' >/dev/null
  fi
}

# citus_cluster_start DIR PORT: coordinator in DIR/coordinator on PORT, workers
# in DIR/worker1 and DIR/worker2 on PORT+1 and PORT+2, added to the coordinator.
# Sets CITUS_HOST (the coordinator's socket folder), CITUS_PORT,
# CITUS_WORKER_DATA and CITUS_WORKER_PORTS.
citus_cluster_start() {
  local dir=$1 port=$2
  pg_node_start "$dir/coordinator" "$port" citus
  CITUS_HOST=$dir/coordinator/run
  CITUS_PORT=$port
  CITUS_WORKER_DATA="" CITUS_WORKER_PORTS=""
  local i
  for i in 1 2; do
    pg_node_start "$dir/worker$i" $((port + i)) citus
    CITUS_WORKER_DATA+="${CITUS_WORKER_DATA:+ }$dir/worker$i/data"
    CITUS_WORKER_PORTS+="${CITUS_WORKER_PORTS:+ }$((port + i))"
  done
  pg_as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$port" -U recruit -d recruit >/dev/null <<EOF
SELECT citus_set_coordinator_host('127.0.0.1', $port);
SELECT citus_add_node('127.0.0.1', $((port + 1)));
SELECT citus_add_node('127.0.0.1', $((port + 2)));
EOF
  export CITUS_HOST CITUS_PORT CITUS_WORKER_DATA CITUS_WORKER_PORTS
}

pg_nodes_stop_all() {
  local dir
  for dir in "${PG_NODES_STARTED[@]}"; do
    [ -d "$dir/data" ] && pg_as_owner "$PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
  done
  for dir in "${PG_NODES_STARTED[@]}"; do rm -rf "$dir"; done
  PG_NODES_STARTED=()
}

# Run directly: a cluster around a command.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  base=54400
  if [ "${1:-}" = "--port" ]; then base=$2; shift 2; fi
  [ $# -gt 0 ] || { echo "usage: $0 [--port BASE] COMMAND [ARGS...]" >&2; exit 2; }
  "$(dirname "$0")/citus.sh" --check ||
    { echo "citus-cluster: Citus is not installed (run scripts/citus.sh)" >&2; exit 2; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/recruit-citus.XXXXXX")
  chmod 755 "$tmp"
  trap 'pg_nodes_stop_all; rm -rf "$tmp"' EXIT INT TERM
  citus_cluster_start "$tmp" "$base"
  export PGHOST=$CITUS_HOST PGPORT=$CITUS_PORT PGUSER=recruit PGDATABASE=recruit
  unset DATABASE_URL PGSERVICE || true
  echo "citus cluster: coordinator $PGHOST port $PGPORT, workers on ports $CITUS_WORKER_PORTS" >&2
  "$@"
fi
