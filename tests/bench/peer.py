#!/usr/bin/env python3
"""Run the DuckDB peer (peer.sql) over a dump and print the per-rule counts as `RULE N` lines.
Each table is read where the dump has it: NAME.parquet, a directory NAME/ of Parquet parts, or
NAME.csv (typed as priceaudit reads it: exact decimals, naive timestamps in the session zone).
Usage: peer.py DUMP_DIR"""
import os
import sys
import duckdb

dump = sys.argv[1]
here = __file__.rsplit("/", 1)[0]
CSV_TYPES = {
    "prices": "offer_id VARCHAR, sku_id VARCHAR, ts TIMESTAMPTZ, price DECIMAL(38,10), kind VARCHAR, channel VARCHAR, until TIMESTAMPTZ, qty BIGINT",
}


def source(table):
    """The DuckDB expression reading `table` from the dump."""
    f = f"{dump}/{table}.parquet"
    if os.path.isfile(f):
        return f"read_parquet('{f}')"
    if os.path.isdir(f"{dump}/{table}"):
        return f"read_parquet('{dump}/{table}/**/*.parquet', hive_partitioning = false)"
    cols = ", ".join(f"'{c.split()[0]}': '{' '.join(c.split()[1:])}'" for c in CSV_TYPES[table].split(", "))
    return f"read_csv('{dump}/{table}.csv', header = true, columns = {{{cols}}})"


text = open(f"{here}/peer.sql").read()
for t in ["prices", "registrations", "ladders", "retail"]:
    text = text.replace(f"read_parquet('{{DUMP}}/{t}.parquet')", source(t))
body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
stmts = [s for s in body.split(";") if s.strip()]
con = duckdb.connect()
for s in stmts[:-1]:
    con.execute(s)
for rule, n in con.execute(stmts[-1]).fetchall():
    print(rule, n)
