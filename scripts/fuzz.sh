#!/usr/bin/env bash
# make fuzz: builds a libFuzzer target for each parser of outside input and
# runs each for a bounded time, starting from the seed corpus in the repository.
#
#   scripts/fuzz.sh [TARGET...]        (default: every Tests/Fuzz/Targets/*.swift)
#   FUZZ_SECONDS=60                    time per target
#   FUZZ_JOBS=1                        parallel fuzzing processes per target
#
# On this toolchain `swift build -Xswiftc -sanitize=fuzzer` fails to link, so
# the targets are built with swiftc directly: the Postgres and RecruitKit
# sources compiled once with -sanitize=fuzzer,address (coverage-guided, and
# out-of-bounds access through unsafe buffers is caught), linked with each
# harness (Tests/Fuzz/Targets/NAME.swift, `@testable import RecruitKit`) and
# the dependencies' objects from `swift build`.
#
# A harness crashes (fatalError, failed precondition, ASan report) when the
# parser crashes, hangs past -timeout, or breaks a property it checks. Crashing
# inputs are saved under .build/fuzz/artifacts/NAME/; each one found becomes a
# regression test (and a seed in Tests/Fuzz/corpus/NAME/). New coverage found
# goes to .build/fuzz/corpus/NAME/ (not the repository).
#
# Prints one line per target: executions, seconds, corpus size, crashes; exits
# 1 when any target crashed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
out=$root/.build/fuzz
mkdir -p "$out/obj" "$out/mods" "$out/bin"

swift build --product recruit >&2
bin=$(swift build --show-bin-path)

# Module search paths and C module maps, as SwiftPM passes them.
cflags=(-I "$bin/Modules" -I "$out/mods"
  -Xcc "-fmodule-map-file=$root/Sources/CLibPQ/module.modulemap" -I/usr/include/postgresql)
for dir in .build/checkouts/Yams/Sources/CYaml/include \
           .build/checkouts/swift-crypto/Sources/CCryptoBoringSSLShims/include \
           .build/checkouts/swift-crypto/Sources/CCryptoBoringSSL/include; do
  [ -f "$dir/module.modulemap" ] && cflags+=(-Xcc "-fmodule-map-file=$root/$dir/module.modulemap" -Xcc -I -Xcc "$root/$dir")
done
common=(-parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny -O -enable-testing
  -sanitize=fuzzer,address -module-cache-path "$out/ModuleCache" "${cflags[@]}")

# The instrumented library, rebuilt only when its sources change.
build_module() {
  local name=$1; shift
  local stamp="$out/obj/$name.sha256"
  local sum
  sum=$( (cat "$@"; printf '%s\n' "${common[@]}") | sha256sum | cut -d' ' -f1)
  if [ -f "$out/obj/$name.o" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then return; fi
  echo "fuzz: compiling $name with -sanitize=fuzzer,address" >&2
  swiftc "${common[@]}" -module-name "$name" -wmo -emit-module -emit-module-path "$out/mods/$name.swiftmodule" \
    -emit-object -o "$out/obj/$name.o" "$@"
  echo "$sum" > "$stamp"
}
mapfile -t postgres_sources < <(find Sources/Postgres -name '*.swift' | sort)
mapfile -t kit_sources < <(find Sources/RecruitKit -name '*.swift' | sort)
build_module Postgres "${postgres_sources[@]}"
build_module RecruitKit "${kit_sources[@]}"

# The dependencies, uninstrumented, from swift build.
deps=()
for t in Logging Yams CYaml Crypto CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims SwiftASN1; do
  [ -d "$bin/$t.build" ] && while IFS= read -r o; do deps+=("$o"); done < <(find "$bin/$t.build" -name '*.o' | sort)
done

if [ $# -gt 0 ]; then targets=("$@"); else
  mapfile -t targets < <(find Tests/Fuzz/Targets -name '*.swift' -exec basename {} .swift \; | sort)
fi

status=0
summary=()
for target in "${targets[@]}"; do
  harness=Tests/Fuzz/Targets/$target.swift
  [ -f "$harness" ] || { echo "fuzz: no harness $harness" >&2; exit 2; }
  exe=$out/bin/$target
  echo "fuzz: linking $target" >&2
  # (ld.gold warns about every ASan helper symbol: keep its output for failures only.)
  if ! swiftc "${common[@]}" -module-name "Fuzz_$target" "$harness" "$out/obj/RecruitKit.o" "$out/obj/Postgres.o" \
      "${deps[@]}" -lpq -lstdc++ -o "$exe" >"$out/$target.link.log" 2>&1; then
    grep -v 'Cannot export local symbol' "$out/$target.link.log" >&2
    exit 2
  fi
  seeds=Tests/Fuzz/corpus/$target
  work=$out/corpus/$target
  artifacts=$out/artifacts/$target
  mkdir -p "$work" "$artifacts" "$seeds"
  log=$out/$target.log
  echo "fuzz: running $target for ${seconds}s" >&2
  set +e
  # (SWIFT_BACKTRACE: the runtime's backtracer, reading the stack of a
  # failed fatalError under ASan, adds a second, spurious ASan report.)
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$exe" "$work" "$seeds" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_DICT:+-dict=$FUZZ_DICT} \
    $([ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs") >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  corpus=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  line="$target: $runs executions in ${seconds}s, corpus $corpus (+$(find "$seeds" -type f | wc -l) seeds), exit $rc, findings $crashes"
  summary+=("$line")
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    status=1
    echo "fuzz: $target FAILED; see $log and $artifacts" >&2
    grep -m5 -E 'ERROR|Fatal error|Precondition|SUMMARY' "$log" >&2 || true
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
