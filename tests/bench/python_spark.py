#!/usr/bin/env python3
"""Issue 22's measurements, the peers in the same run: the CLI, the Python module (a dump
directory, and tables read into memory with pyarrow) and Spark local[2] through
python/examples/audit_on_spark.py at several bucket counts, on one dump.

    tests/bench/python_spark.py DUMP [--runs N] [--buckets 8,32,64] > reports/bench/<date>-python-spark.md

Time is wall-clock; memory is the peak resident set summed over each kind of process (sampled from
/proc every 50 ms): the CLI or Python process, and for Spark the driver JVM and the Python
workers apart. Needs the release binary (CARGO_TARGET_DIR or target/) and `pip install ./python`."""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "priceaudit"


def rss_by_kind(root_pid: int):
    """{kind: RSS bytes} over the process tree under root_pid: 'jvm', 'python-worker', 'main'."""
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
        kind = "jvm" if "java" in cmd.split(" ")[0] else ("python-worker" if "pyspark.daemon" in cmd or "pyspark.worker" in cmd else "main")
        out[kind] = out.get(kind, 0) + rss
    return out


def run(cmd, env=None):
    """(seconds, {kind: peak RSS bytes}) of one run."""
    peak = {}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for k, v in rss_by_kind(p.pid).items():
                peak[k] = max(peak.get(k, 0), v)
            time.sleep(0.05)

    th = threading.Thread(target=sample)
    th.start()
    _, err = p.communicate()
    secs = time.monotonic() - t0
    done.set()
    th.join()
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(map(str, cmd))}: exit {p.returncode}\n{err.decode()[-3000:]}")
    return secs, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--buckets", default="8,32,64")
    a = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pa-bench-"))
    py = sys.executable
    cases = [
        ("CLI `priceaudit audit`", [str(BIN), "audit", a.dump, "--out", str(tmp / "cli"), "--quiet", "--fail-on", "never"]),
        ("Python `audit(dir).write()`", [py, "-c", f"import priceaudit; priceaudit.audit({a.dump!r}).write({str(tmp / 'py')!r})"]),
        ("Python tables in memory (pyarrow read + audit + findings table)", [py, "-c", (
            "import priceaudit, pyarrow.parquet as pq, pathlib; d = pathlib.Path(%r); "
            "t = {n: pq.read_table(p) for n in priceaudit.TABLES for p in [d / (n + '.parquet')] if p.exists()}; "
            "a = priceaudit.audit(**t); a.findings; a.registrations") % a.dump]),
    ]
    env = {**os.environ, "PYSPARK_PYTHON": py, "PYSPARK_DRIVER_PYTHON": py}
    for b in a.buckets.split(","):
        cases.append((f"Spark local[2], {b} buckets", ["spark-submit", "--master", "local[2]", "--driver-memory", "8g",
                      "--conf", "spark.ui.enabled=false", "--conf", f"spark.sql.shuffle.partitions={b}",
                      str(ROOT / "python" / "examples" / "audit_on_spark.py"), a.dump, str(tmp / f"spark{b}"), b]))
    print(f"dump `{a.dump}`, {a.runs} runs each, alternating; median (range) of wall time; peak RSS (GB) by process kind, max over runs\n")
    print("| case | time s | peak RSS GB |")
    print("|---|---|---|")
    results = {name: [] for name, _ in cases}
    for _ in range(a.runs):
        for name, cmd in cases:
            results[name].append(run(cmd, env))
    for name, _ in cases:
        ts = [t for t, _ in results[name]]
        peaks = {}
        for _, pk in results[name]:
            for k, v in pk.items():
                peaks[k] = max(peaks.get(k, 0), v)
        mem = ", ".join(f"{k} {v / 1e9:.2f}" for k, v in sorted(peaks.items()))
        print(f"| {name} | {statistics.median(ts):.2f} ({min(ts):.2f}–{max(ts):.2f}) | {mem} |", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
