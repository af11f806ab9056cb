#!/usr/bin/env python3
"""Print the registration id in the middle of a dump's ids in sorted order (the benchmark's
`explain` spot check: the same registration on every layout of the same rows, wherever its
rows lie in the files). The registrations table may be a file or a directory of part files.

  middle_registration.py DUMP
"""
import glob
import os
import sys

import duckdb

dump = sys.argv[1]
files = [p for p in (os.path.join(dump, "registrations.parquet"),) if os.path.exists(p)]
files += sorted(glob.glob(os.path.join(dump, "registrations", "**", "*.parquet"), recursive=True))
if files:
    rel = duckdb.read_parquet(files, union_by_name=True)
else:
    rel = duckdb.read_csv(os.path.join(dump, "registrations.csv"), all_varchar=True)
ids = duckdb.sql("select registration_id from rel where registration_id is not null order by registration_id").fetchall()
print(ids[len(ids) // 2][0])
