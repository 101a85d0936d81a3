#!/usr/bin/env bash
# The demo: each step's command is printed before it runs, so a newcomer
# learns the CLI by watching. Usage: scripts/demo.sh RECRUIT_BINARY OUT_DIR
set -euo pipefail
recruit=$1 out=$2
step() { printf '\n\033[1m$ recruit %s\033[0m\n' "$*"; "$recruit" "$@"; }
mkdir -p "$out"
step synth --out "$out/extract" --patients 15000 --practices 3 --seed 1
step db start
step db migrate
step db status
echo
echo "Done. The embedded cluster keeps running for later commands; stop it with: $recruit db stop"
