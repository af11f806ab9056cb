#!/usr/bin/env bash
# Fuzz each target for SECONDS (default 20) with its committed corpus; a crash fails the run and
# lands in tests/fuzz/artifacts/. CI runs a few seconds per target so regressions show; before
# issue 6 was resolved the targets ran for an hour in total (see the README).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(money time csv_scan)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1   # cargo fuzz's instrumentation flags on the stable toolchain
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-fuzz"
log=$(mktemp)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" artifacts
  # -O optimises, -a keeps debug assertions and overflow checks on (a wrap is a crash)
  if ! cargo fuzz run --fuzz-dir . -O -a "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=512 \
       -artifact_prefix="artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"; echo "fuzz target $t failed"; exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units" "$log" | sed "s/^/$t: /" || true
done
rm -f "$log"
