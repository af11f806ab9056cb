#!/usr/bin/env bash
# Benchmark: priceaudit against the same core audit written as DuckDB SQL (peer.sql), on
# synthetic Parquet dumps, in alternation, in one run. Checks that both count the same P101–P106
# findings, reports median wall time, the ratio priceaudit/DuckDB and peak RSS, and writes
# reports/bench/<date>/ (raw numbers, machine, versions, method).
#   tests/bench/run.sh [MILLIONS_OF_ROWS ...]      (default: 1 10; 100 adds ~5 minutes and 8 GB)
#   RUNS=5 BENCH_DIR=/data tests/bench/run.sh 1 10
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1 10)
runs="${RUNS:-3}"
data="${BENCH_DIR:-$HOME/.cache/priceaudit-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/priceaudit-target}"
bin="$CARGO_TARGET_DIR/release/priceaudit"
cargo build --release --quiet
python3 -c "import duckdb" 2>/dev/null || pip install --quiet duckdb
out="reports/bench/$(date +%Y-%m-%d)"
mkdir -p "$out" "$data"
raw="$out/raw.csv"
echo "rows_millions,tool,run,wall_s,max_rss_kb" > "$raw"

measure() { # tool size run cmd...
  local tool=$1 size=$2 run=$3; shift 3
  local t; t=$(mktemp)
  /usr/bin/time -v "$@" >"$t.out" 2>"$t"
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$t" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$t" | awk '{print $NF}')
  echo "$size,$tool,$run,$wall,$rss" >> "$raw"
  cat "$t.out"
  rm -f "$t" "$t.out"
}

for m in "${sizes[@]}"; do
  dump="$data/${m}m"
  if [ ! -f "$dump/prices.parquet" ]; then
    "$bin" synth --out "$dump" --offers $((m * 10000)) --days 200 --seed 1 --format parquet
  fi
  for r in $(seq 1 "$runs"); do
    measure priceaudit "$m" "$r" "$bin" audit "$dump" --out "$data/out-${m}m" --fail-on never --quiet >/dev/null
    measure duckdb "$m" "$r" python3 tests/bench/peer.py "$dump" > "$data/duckdb-${m}m.txt"
  done
  # the same findings: per-rule counts of P101–P106
  for rule in P101 P102 P103 P104 P105 P106; do
    a=$(grep -c "^$rule," "$data/out-${m}m/findings.csv" || true)
    b=$(awk -v r="$rule" '$1 == r { print $2 }' "$data/duckdb-${m}m.txt")
    if [ "$a" != "$b" ]; then echo "MISMATCH at ${m}M rows: $rule priceaudit $a, duckdb $b"; exit 1; fi
  done
  echo "${m}M rows: P101–P106 counts agree ($(tr '\n' ' ' < "$data/duckdb-${m}m.txt"))"
done

python3 - "$raw" "$out" <<'PY'
import csv, statistics, sys, platform, subprocess
raw, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(raw)))
sizes = sorted({int(r["rows_millions"]) for r in rows})
lines = ["| price rows | priceaudit median | DuckDB median | ratio (priceaudit/DuckDB) | priceaudit peak RSS | DuckDB peak RSS |", "|---:|---:|---:|---:|---:|---:|"]
for m in sizes:
    def med(tool, col):
        return statistics.median(float(r[col]) for r in rows if int(r["rows_millions"]) == m and r["tool"] == tool)
    pa, dd = med("priceaudit", "wall_s"), med("duckdb", "wall_s")
    pr, dr = med("priceaudit", "max_rss_kb") / 1e6, med("duckdb", "max_rss_kb") / 1e6
    lines.append(f"| {m} M | {pa:.2f} s | {dd:.2f} s | {pa/dd:.2f} | {pr:.2f} GB | {dr:.2f} GB |")
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
open(f"{out}/README.md", "w").write(f"""# priceaudit vs DuckDB

{table}

Method: `tests/bench/run.sh` generates Parquet dumps with `priceaudit synth --offers N --days 200
--seed 1` (about 100 price rows per offer; 10 000 offers per million rows), then runs, in
alternation, `priceaudit audit DUMP --out … --fail-on never --quiet` (every rule, every output
file, reports) and `tests/bench/peer.py DUMP` (DuckDB, `SET threads = 2`, the core audit of
`tests/bench/peer.sql`: lowest 30/180 d with exclusions and list carry-forward, list in force,
retail, warm-up, P101–P106 counts). Wall time and peak RSS come from `/usr/bin/time -v`; the table
shows medians of the runs in `raw.csv`. The script fails unless both count the same P101–P106
findings.

Machine:

```
{machine}```
""")
print(table)
PY
