#!/usr/bin/env bash
# Benchmark over dump layouts (issue 21): priceaudit against the same core audit written as
# DuckDB SQL (peer.sql), on the same rows in the shapes other tools write them (layouts.py:
# synth's clustered dump; rows shuffled with naive timestamps, DECIMAL(18,2) and 1M-row row
# groups; the same sorted; in time order; small row groups; a directory of part files; part
# files written by Spark; `kind` and `channel` as pandas' categories; a table partitioned by day
# in folders; 10M-row row groups of one-page chunks; CSV, plain and quoted; the shuffled rows written by pyarrow in 8M-row
# row groups; registration-heavy: each SKU split
# in 20, a registration per ~5 price rows), in alternation, in
# one run, with the decode floor (a bare DuckDB scan of the price columns) measured beside them,
# and `explain` of one registration (the spot check) on each layout.
# Checks that both count the same P101–P106 findings on every layout, that priceaudit's outputs
# are the same on every layout of the same rows but for row numbers (same_outputs.py), and writes
# reports/bench/<date>-layouts/ (raw numbers, machine, versions, method).
#   tests/bench/run.sh [MILLIONS_OF_ROWS ...]      (default: 10; 100 adds ~15 minutes and 8 GB)
#   RUNS=5 LAYOUTS="synth shuffled" BENCH_DIR=/data tests/bench/run.sh 1 10
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10)
runs="${RUNS:-3}"
layouts="${LAYOUTS:-synth shuffled sorted smallrg timeorder parts spark sparkv2 category daily hugerg csv csvq bigrg regheavy}"
data="${BENCH_DIR:-$HOME/.cache/priceaudit-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/priceaudit-target}"
bin="$CARGO_TARGET_DIR/release/priceaudit"
cargo build --release --quiet
python3 -c "import duckdb, pyarrow" 2>/dev/null || pip install --quiet duckdb pyarrow
# the `spark` and `sparkv2` layouts are written by Spark itself (Java 17 and pyspark)
case " $layouts " in *" spark "* | *" sparkv2 "*) python3 -c "import pyspark" 2>/dev/null || pip install --quiet pyspark ;; esac
out="reports/bench/$(date +%Y-%m-%d)-layouts"
mkdir -p "$out" "$data"
raw="$out/raw.csv"
echo "rows_millions,layout,tool,run,wall_s,max_rss_kb" > "$raw"

measure() { # tool size layout run cmd...
  local tool=$1 size=$2 layout=$3 run=$4; shift 4
  local t; t=$(mktemp)
  if ! /usr/bin/time -v "$@" >"$t.out" 2>"$t"; then
    # a failed run is no measurement (a full disk once ended a matrix silently here)
    echo "$tool failed at ${size}M rows, $layout, run $run:" >&2
    grep -v '^\s' "$t" | tail -5 >&2
    exit 1
  fi
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$t" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$t" | awk '{print $NF}')
  echo "$size,$layout,$tool,$run,$wall,$rss" >> "$raw"
  cat "$t.out"
  rm -f "$t" "$t.out"
}

for m in "${sizes[@]}"; do
  base="$data/${m}m"
  if [ ! -f "$base/merchants.parquet" ]; then
    rm -rf "$base"
    "$bin" synth --out "$base" --offers $((m * 10000)) --days 200 --seed 1 --format parquet
  fi
  for layout in $layouts; do
    dump="$data/${m}m-$layout"
    [ -e "$dump/.done" ] || { rm -rf "$dump"; python3 tests/bench/layouts.py "$base" "$dump" "$layout"; touch "$dump/.done"; }
    # the spot check: `explain` of the registration in the middle of the ids' order
    reg=$(python3 tests/bench/middle_registration.py "$dump")
    for r in $(seq 1 "$runs"); do
      measure priceaudit "$m" "$layout" "$r" "$bin" audit "$dump" --out "$data/out-${m}m-$layout" --fail-on never --quiet >/dev/null
      measure findings-only "$m" "$layout" "$r" "$bin" audit "$dump" --out "$data/out-${m}m-$layout-f" --outputs findings.csv --fail-on never --quiet >/dev/null
      measure duckdb "$m" "$layout" "$r" python3 tests/bench/peer.py "$dump" > "$data/duckdb-${m}m-$layout.txt"
      measure floor "$m" "$layout" "$r" python3 tests/bench/floor.py "$dump" >/dev/null
      measure explain "$m" "$layout" "$r" "$bin" explain "$dump" --registration "$reg" >/dev/null
    done
    # the same findings: per-rule counts of P101–P106
    for rule in P101 P102 P103 P104 P105 P106; do
      a=$(grep -c "^$rule," "$data/out-${m}m-$layout/findings.csv" || true)
      b=$(awk -v r="$rule" '$1 == r { print $2 }' "$data/duckdb-${m}m-$layout.txt")
      if [ "$a" != "$b" ]; then echo "MISMATCH at ${m}M rows, $layout: $rule priceaudit $a, duckdb $b"; exit 1; fi
    done
    echo "${m}M rows, $layout: P101–P106 counts agree ($(tr '\n' ' ' < "$data/duckdb-${m}m-$layout.txt"))"
  done
  # the same rows give the same outputs on every layout, row numbers aside (regheavy has others)
  same=()
  for layout in $layouts; do [ "$layout" = regheavy ] || same+=("$data/out-${m}m-$layout"); done
  if [ ${#same[@]} -gt 1 ]; then
    python3 tests/bench/same_outputs.py "${same[@]}" || { echo "MISMATCH at ${m}M rows: outputs differ across layouts"; exit 1; }
    echo "${m}M rows: the same outputs on ${#same[@]} layouts (row numbers aside)"
  fi
done

python3 - "$raw" "$out" <<'PY'
import csv, statistics, sys, platform, subprocess
raw, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(raw)))
keys = []
for r in rows:
    k = (int(r["rows_millions"]), r["layout"])
    if k not in keys:
        keys.append(k)
lines = ["| price rows | layout | priceaudit (median; runs) | DuckDB peer (median; runs) | speed (DuckDB/priceaudit) | priceaudit peak RSS | DuckDB peak RSS | RSS ratio | findings.csv only (speed; peak RSS) | decode floor | priceaudit / floor | `explain` of one registration (median; runs; peak RSS) |",
         "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for m, layout in keys:
    sel = lambda tool: [r for r in rows if int(r["rows_millions"]) == m and r["layout"] == layout and r["tool"] == tool]
    med = lambda tool, col: statistics.median(float(r[col]) for r in sel(tool))
    runs = lambda tool: ", ".join(f"{float(r['wall_s']):.2f}" for r in sel(tool))
    pa, dd, fl, fo = med("priceaudit", "wall_s"), med("duckdb", "wall_s"), med("floor", "wall_s"), med("findings-only", "wall_s")
    pr, dr = med("priceaudit", "max_rss_kb") / 1e6, med("duckdb", "max_rss_kb") / 1e6
    fr = med("findings-only", "max_rss_kb") / 1e6
    ex = f"{med('explain', 'wall_s'):.2f} s ({runs('explain')}; {med('explain', 'max_rss_kb') / 1e6:.2f} GB)" if sel("explain") else "—"
    lines.append(f"| {m} M | {layout} | {pa:.2f} s ({runs('priceaudit')}) | {dd:.2f} s ({runs('duckdb')}) | {dd/pa:.2f}× | {pr:.2f} GB | {dr:.2f} GB | {pr/dr:.2f} | {fo:.2f} s ({dd/fo:.2f}×; {fr:.2f} GB) | {fl:.2f} s | {pa/fl:.1f}× | {ex} |")
table = "\n".join(lines)
def cmd(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
machine = f"""cpu: {cmd("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")}
cores: {cmd("nproc")}
memory: {cmd("free -h | awk '/Mem/ {print $2}'")}
os: {platform.platform()}
rustc: {cmd("rustc --version")}
polars (crate): 0.55.2
duckdb (python): {cmd("python3 -c 'import duckdb; print(duckdb.__version__)'")}
"""
open(f"{out}/machine.txt", "w").write(machine)
open(f"{out}/README.md", "w").write(f"""# priceaudit vs DuckDB, over dump layouts

{table}

Method: `tests/bench/run.sh` generates a Parquet dump with `priceaudit synth --offers N --days 200
--seed 1 --format parquet` (about 100 price rows per offer; 10 000 offers per million rows) and
writes the same rows in each layout with `tests/bench/layouts.py` (DuckDB): `synth` as written
(clustered by offer, UTC timestamps, DECIMAL(38,10), 200k-row row groups); `shuffled` (random row
order, naive local timestamps, DECIMAL(18,2), 1M-row row groups, snappy); `sorted` (the shuffled
rows sorted by offer, SKU, time); `smallrg` (shuffled, 20k-row row groups, zstd); `timeorder`
(the shuffled rows in time order, DuckDB's default 122,880-row row groups, zstd); `parts` (the
shuffled prices as 16 part files in hive folders, registrations as 4 parts, `_SUCCESS` files);
`spark` (the shuffled rows written by Spark's parquet-mr writer: part files of ~1.25M rows in
random order, one row group each, 1 MB pages, dictionaries where they fit, snappy, `_SUCCESS`);
`sparkv2` (as `spark`, by Spark's version-2 writer: data page v2, delta encodings past the
dictionaries, the prices DECIMAL(38,10) in 16 fixed bytes); `category` (`kind` and `channel` as
pandas' `category`); `daily` (a folder per day, DuckDB's `PARTITION_BY`); `hugerg` (10M-row row
groups of one-page column chunks, DuckDB); `csvq` (every field quoted, `\r\n`, ISO offsets);
`csv` (the shuffled prices as CSV); `bigrg` (the shuffled rows written by pyarrow, dictionary-encoded
strings, FIXED_LEN_BYTE_ARRAY decimals, 8M-row row groups: about what Spark's 128 MB block holds). Then, per layout and in alternation, `priceaudit audit DUMP
--out … --fail-on never --quiet` (every rule, every output file, reports), the same with
`--outputs findings.csv` (the findings only, as the peer computes its counts without writing
files), `tests/bench/peer.py
DUMP` (DuckDB, 2 threads, the core audit of `tests/bench/peer.sql`: lowest 30/180 d with
exclusions and list carry-forward, list in force, retail, warm-up, P101–P106 counts; it writes no
output files) and `tests/bench/floor.py DUMP` (DuckDB scanning every price column once: the
decode floor of a one-pass audit), and `priceaudit explain DUMP --registration ID` of the
registration in the middle of the ids' order (`tests/bench/middle_registration.py`: the spot
check, issue 21's Deliver 4). Wall time and peak RSS from `/usr/bin/time -v`; medians, every
run listed; `raw.csv` has them all. The script fails unless both count the same P101–P106
findings on every layout, and unless priceaudit's findings, verdicts and report.md are the same on
every layout of the same rows once row numbers are masked (`tests/bench/same_outputs.py`; all
but registration-heavy).

Machine:

```
{machine}```
""")
print(table)
PY
