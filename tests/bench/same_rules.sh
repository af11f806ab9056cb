#!/usr/bin/env bash
# What SPEC §10's rulebook costs (issue 19): an older priceaudit binary against this one on the
# layouts of tests/bench/run.sh (made from BASE, a dump the older binary's synth wrote: its
# activities are the ones it knows), in alternation, in one run: this one with the older one's rules
# (tests/bench/pre10-rules.toml: the rule lists of the profiles before §10, so that both do the
# same work and write the same findings) and with its whole rulebook. Checks that the older
# binary and this one with its rules write the same findings.csv (S202's evidence_price aside:
# SPEC §10 empties it), and writes reports/bench/<date>-same-rules.csv (every run).
#   OLD=/path/to/old/priceaudit tests/bench/same_rules.sh [LAYOUT ...]
# (build OLD from the commit before §10, 24c4eef, in a worktree with its own CARGO_TARGET_DIR,
# or copy it aside before building this one: both write target/release/priceaudit. BASE
# defaults to BENCH_DIR/pre10-10m, written by `$OLD synth --offers 100000 --days 200 --seed 1`.)
set -euo pipefail
cd "$(dirname "$0")/../.."
old="${OLD:?OLD=the older binary}"
runs="${RUNS:-3}"
data="${BENCH_DIR:-$HOME/.cache/priceaudit-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/priceaudit-target}"
new="$CARGO_TARGET_DIR/release/priceaudit"
cargo build --release --quiet
layouts=("$@"); [ ${#layouts[@]} -gt 0 ] || layouts=(synth shuffled sorted smallrg csv regheavy)
out="reports/bench/$(date +%Y-%m-%d)-same-rules.csv"
mkdir -p "$(dirname "$out")"
echo "layout,run,binary,wall_s,max_rss_kb,findings" > "$out"
cfg=tests/bench/pre10-rules.toml
base="${BASE:-$data/pre10-10m}"
[ -f "$base/prices.parquet" ] || "$old" synth --out "$base" --offers 100000 --days 200 --seed 1 --format parquet
for layout in "${layouts[@]}"; do
  dump="$base-$layout"
  [ -e "$dump/.done" ] || { rm -rf "$dump"; python3 tests/bench/layouts.py "$base" "$dump" "$layout"; touch "$dump/.done"; }
  for r in $(seq 1 "$runs"); do
    for b in old same all; do
      case $b in
        old) cmd=("$old" audit "$dump") ;;
        same) cmd=("$new" audit "$dump" --config "$cfg") ;;
        all) cmd=("$new" audit "$dump") ;;
      esac
      o="$data/out-same-rules-$b"
      t=$(mktemp)
      /usr/bin/time -f "%e %M" -o "$t" "${cmd[@]}" --out "$o" --fail-on never --quiet >/dev/null 2>&1
      n=$(($(wc -l < "$o/findings.csv") - 1))
      echo "$layout,$r,$b,$(tr ' ' ',' < "$t"),$n" | tee -a "$out"
      rm -f "$t"
    done
    # the same findings, S202's evidence_price (column 15) aside
    python3 - "$data/out-same-rules-old/findings.csv" "$data/out-same-rules-same/findings.csv" <<'EOF'
import csv, sys
def rows(p):
    out = []
    for r in csv.reader(open(p, newline="", encoding="utf-8")):
        if r[0] == "S202":
            r[14] = ""
        out.append(r)
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    sys.exit(f"the findings differ: {sys.argv[1]} ({len(a)} rows) and {sys.argv[2]} ({len(b)} rows)")
EOF
  done
done
python3 - "$out" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"{'layout':10} {'old s':>7} {'same s':>7} {'all s':>7} {'old GB':>7} {'same GB':>7} {'all GB':>7} {'findings old/all':>18}")
for layout in dict.fromkeys(r["layout"] for r in rows):
    m = lambda b, k: statistics.median(float(r[k]) for r in rows if r["layout"] == layout and r["binary"] == b)
    n = lambda b: next(r["findings"] for r in rows if r["layout"] == layout and r["binary"] == b)
    print(f"{layout:10} {m('old','wall_s'):7.2f} {m('same','wall_s'):7.2f} {m('all','wall_s'):7.2f} "
          f"{m('old','max_rss_kb')/1e6:7.2f} {m('same','max_rss_kb')/1e6:7.2f} {m('all','max_rss_kb')/1e6:7.2f} "
          f"{n('old'):>8}/{n('all')}")
EOF
