#!/usr/bin/env python3
"""Run the DuckDB peer (peer.sql) over a Parquet dump and print the per-rule counts as
`RULE N` lines. Usage: peer.py DUMP_DIR"""
import sys
import duckdb

dump = sys.argv[1]
here = __file__.rsplit("/", 1)[0]
text = open(f"{here}/peer.sql").read().replace("{DUMP}", dump)
body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
stmts = [s for s in body.split(";") if s.strip()]
con = duckdb.connect()
for s in stmts[:-1]:
    con.execute(s)
for rule, n in con.execute(stmts[-1]).fetchall():
    print(rule, n)
