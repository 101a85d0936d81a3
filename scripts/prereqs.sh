#!/usr/bin/env bash
# Checks (and, as root with apt-get, installs) what recruit needs to build and run:
#   swift (the toolchain: cannot be installed from Debian's packages),
#   pkg-config and libpq-dev (libpq, the PostgreSQL client library),
#   PostgreSQL server binaries (initdb, pg_ctl) for the embedded cluster,
#   runuser (util-linux), to run the server unprivileged when recruit runs as root.
# Usage: scripts/prereqs.sh [extra Debian packages...]
set -euo pipefail

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev)
have_server=false
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then have_server=true; fi
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && have_server=true; done
$have_server || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "$(id -u)" = 0 ]; then command -v runuser >/dev/null 2>&1 || missing+=(util-linux); fi
for extra in "$@"; do
  case "$extra" in
    chromium) command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium) ;;
    *) dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra") ;;
  esac
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "prereqs: missing ${missing[*]}. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "prereqs: the Swift toolchain (swift) is not on PATH. Install Swift 6 from swift.org (it is not a Debian package) and add its usr/bin to PATH." >&2
  exit 2
fi
