#!/usr/bin/env python3
"""Exit 1 (and name the crates) when dev-dependencies, or the Python module (python/, built by
maturin as `-p priceaudit-py`), change the features of a crate the release build also uses: with
resolver 2, `cargo test` or `pip install ./python` would then compile a second polars."""
import subprocess, sys

def features(args):
    out = subprocess.run(["cargo", "tree", "--locked", "-f", "{p} {f}", "--prefix", "none", *args],
                         capture_output=True, text=True, check=True).stdout
    d = {}
    for line in out.splitlines():
        parts = line.strip().split(" ")
        if len(parts) < 2:
            continue
        feats = parts[2].split(",") if len(parts) > 2 and not parts[2].startswith("(") else []
        d.setdefault(parts[0] + " " + parts[1], set()).update(f for f in feats if f)
    return d

normal = features(["-p", "priceaudit", "-e", "no-dev"])
bad = False
for who, other in (("dev-dependencies", features(["-p", "priceaudit"])),
                   ("the Python module", features(["-p", "priceaudit-py", "-e", "no-dev"]))):
    for k in normal:
        if k in other and other[k] != normal[k]:
            print(f"{k}: {who} change features: +{sorted(other[k] - normal[k])} -{sorted(normal[k] - other[k])}")
            bad = True
sys.exit(1 if bad else 0)
