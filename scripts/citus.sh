#!/usr/bin/env bash
# Builds Citus from the vendored source tarball against the system's PostgreSQL 15
# and installs it into that PostgreSQL's extension and library folders. It is a
# no-op (a second or less) when the same Citus version is already installed.
#
# Citus is not in Debian's archive; users install it from its own packages or its
# official container image (docker-compose.yml, profile citus). This build is for
# tests and `make scale-test` on machines that can only reach Debian's archive.
#
# Usage: scripts/citus.sh            (build and install if needed)
#        scripts/citus.sh --check    (exit 0 if installed, 1 if not; builds nothing)
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config),
#              CITUS_VENDOR (the folder with citus-13.2.2.tar.gz and SHA256SUMS),
#              CITUS_BUILD_DIR (default: a temporary folder, removed afterwards).
set -euo pipefail
version=13.2.2
here=$(cd "$(dirname "$0")/.." && pwd)
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

installed() {
  [ -x "$pg_config" ] || return 1
  local lib share
  lib=$("$pg_config" --pkglibdir) share=$("$pg_config" --sharedir)
  [ -f "$lib/citus.so" ] && [ -f "$share/extension/citus.control" ] &&
    [ "$(cat "$share/extension/.recruit-citus-version" 2>/dev/null)" = "$version" ]
}

if [ "${1:-}" = "--check" ]; then installed; exit; fi
if installed; then
  echo "citus: $version already installed in $("$pg_config" --pkglibdir)" >&2
  exit 0
fi

# The vendored tarball: ../shared/vendor/citus from the repository (worktrees sit
# beside it too), or CITUS_VENDOR.
vendor=${CITUS_VENDOR:-}
if [ -z "$vendor" ]; then
  for d in "$here/../shared/vendor/citus" "$here/../../shared/vendor/citus" /work/shared/vendor/citus; do
    [ -f "$d/citus-$version.tar.gz" ] && { vendor=$(cd "$d" && pwd); break; }
  done
fi
[ -n "$vendor" ] && [ -f "$vendor/citus-$version.tar.gz" ] ||
  { echo "citus: citus-$version.tar.gz not found (set CITUS_VENDOR to its folder)" >&2; exit 2; }
(cd "$vendor" && sha256sum --quiet -c SHA256SUMS) ||
  { echo "citus: checksum of $vendor/citus-$version.tar.gz does not match SHA256SUMS" >&2; exit 2; }

# Build prerequisites from Debian's archive. postgresql-server-dev-15 is pinned to
# the installed server's version, so that installing it does not upgrade the
# server. Debian's PostgreSQL is built with lz4, zstd and GSSAPI, so its server
# headers (and Citus's columnar code, whatever configure is told) want their
# headers too; libcurl (anonymous statistics) is left out.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  server=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
  need=()
  for p in postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev make gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "citus: installing ${need[*]}" >&2
    need=("${need[@]/#postgresql-server-dev-15/postgresql-server-dev-15${server:+=$server}}")
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
  fi
fi
[ -f "$("$pg_config" --includedir-server)/postgres.h" ] ||
  { echo "citus: PostgreSQL server headers missing (install postgresql-server-dev-15)" >&2; exit 2; }

build=${CITUS_BUILD_DIR:-}
if [ -z "$build" ]; then
  build=$(mktemp -d "${TMPDIR:-/tmp}/citus-build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
fi
mkdir -p "$build"
tar -xzf "$vendor/citus-$version.tar.gz" -C "$build"
src=$(find "$build" -maxdepth 2 -name configure -path '*citus*' -printf '%h\n' | head -1)
[ -n "$src" ] || src=$(find "$build" -maxdepth 2 -name configure -printf '%h\n' | head -1)
echo "citus: building $version in $src (a few minutes)" >&2
started=$(date +%s)
(
  cd "$src"
  ./configure PG_CONFIG="$pg_config" --without-libcurl >"$build/configure.log" 2>&1 ||
    { tail -30 "$build/configure.log" >&2; exit 2; }
  make -j"$(nproc)" >"$build/make.log" 2>&1 || { tail -40 "$build/make.log" >&2; exit 2; }
  make install >"$build/install.log" 2>&1 || { tail -20 "$build/install.log" >&2; exit 2; }
)
echo "$version" > "$("$pg_config" --sharedir)/extension/.recruit-citus-version"
echo "citus: $version installed in $("$pg_config" --pkglibdir) ($(( $(date +%s) - started )) s)" >&2
