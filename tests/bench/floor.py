#!/usr/bin/env python3
"""The decode floor of a one-pass audit: DuckDB (2 threads) reading every price column of a dump
once (file, directory of parts or CSV, as peer.py finds it), nothing else. Usage: floor.py DUMP"""
import os
import sys

import duckdb

dump = sys.argv[1]
con = duckdb.connect()
con.execute("SET threads = 2")
f = f"{dump}/prices.parquet"
if os.path.isfile(f):
    src = f"read_parquet('{f}')"
elif os.path.isdir(f"{dump}/prices"):
    src = f"read_parquet('{dump}/prices/**/*.parquet', hive_partitioning = false)"
else:
    src = f"read_csv('{dump}/prices.csv', header = true, all_varchar = true)"
# a hash of every value: every column decoded (a min() could come from the footer's statistics)
print(con.execute(
    f"SELECT count(*), sum(hash(offer_id, sku_id, ts, price, kind, channel, until, qty)) FROM {src}"
).fetchall())
