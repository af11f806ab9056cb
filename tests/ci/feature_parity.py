#!/usr/bin/env python3
"""Exit 1 (and name the crates) when dev-dependencies change the features of a crate the
release build also uses: with resolver 2, `cargo test` would then compile a second polars."""
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
        d.setdefault(parts[0] + " " + parts[1], set()).update(feats)
    return d

normal, with_dev = features(["-e", "no-dev"]), features([])
diff = {k: sorted(with_dev[k] - normal[k]) for k in normal if k in with_dev and with_dev[k] != normal[k]}
for k, extra in diff.items():
    print(f"{k}: dev-dependencies add features {extra}")
sys.exit(1 if diff else 0)
