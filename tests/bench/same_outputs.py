#!/usr/bin/env python3
"""Issue 21: the outputs of one set of rows are the same whatever the dump's layout, except the
evidence row numbers (a row's place in the file). Compares each OUT directory's outputs with
REFERENCE's, byte for byte once row numbers (and the dump's own path) are masked.

    tests/bench/same_outputs.py REFERENCE_OUT OUT [OUT ...]

Exits 1 naming the first differing line of each file that differs. Files compared: the findings
and verdicts in both formats and report.md (summary.json and report.html name the dump's files,
their formats and sizes, which differ by layout on purpose)."""
import csv
import itertools
import json
import re
import sys
from pathlib import Path

FILES = ["findings.csv", "findings.json", "registrations.csv", "registrations.json", "report.md"]
# a row number in a message ("prices row 3239", "line 12") and in findings.json's field
ROW_TEXT = re.compile(r"\b(row|line) [0-9]+")
ROW_JSON = re.compile(r'"evidence_row":"?[0-9]+"?')
# report.md's table of inputs names each table's format
FORMAT = re.compile(r"^(\| [a-z]+ \| )(csv|parquet)( \|)")


def records(path: Path, dump: str | None):
    """The file's records (CSV) or lines, masked, one at a time (the files can be gigabytes)."""

    def mask(text: str) -> str:
        if dump:
            text = text.replace(dump, "<dump>")
        text = ROW_JSON.sub('"evidence_row":"<n>"', ROW_TEXT.sub(r"\1 <n>", text))
        return FORMAT.sub(r"\1<format>\3", text) if path.name == "report.md" else text

    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix == ".csv":
            rows = csv.reader(f)
            header = next(rows, None)
            yield repr(header)
            col = header.index("evidence_row") if header and "evidence_row" in header else None
            for r in rows:
                if col is not None and len(r) > col and r[col]:
                    r[col] = "<n>"
                yield repr([mask(x) for x in r])
        else:
            for line in f:
                yield mask(line)


def dump_of(out: Path) -> str | None:
    s = out / "summary.json"
    return json.loads(s.read_text())["dump"] if s.exists() else None


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ref, others = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    ref_dump = dump_of(ref)
    bad = 0
    for out in others:
        out_dump = dump_of(out)
        for name in FILES:
            a, b = ref / name, out / name
            if not a.exists() and not b.exists():
                continue
            if a.exists() != b.exists():
                print(f"{out}: {name} {'missing' if a.exists() else 'not in the reference'}")
                bad += 1
                continue
            pairs = itertools.zip_longest(records(a, ref_dump), records(b, out_dump))
            for i, (x, y) in enumerate(pairs):
                if x != y:
                    print(f"{out}: {name} differs from {ref} at record {i + 1}")
                    print(f"  {(x or '(end)')[:200]}")
                    print(f"  {(y or '(end)')[:200]}")
                    bad += 1
                    break
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
