#!/usr/bin/env bash
# Fuzz each target for SECONDS (default 20) with its committed corpus; new crashes land in
# tests/fuzz/artifacts/. CI runs a few seconds per target so regressions show; before resolving
# issue 6 it ran for an hour in total (see the README).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-20}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(money time csv_scan)
if ! command -v cargo-fuzz >/dev/null; then cargo install cargo-fuzz --locked; fi
export RUSTC_BOOTSTRAP=1   # cargo fuzz's instrumentation flags on the stable toolchain
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" artifacts
  cargo fuzz run --fuzz-dir . -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=512 -artifact_prefix="artifacts/" -print_final_stats=1 2>&1 \
    | grep -E "stat::number_of_executed_units|Done|ERROR|panicked|SUMMARY" | sed "s/^/$t: /"
done
