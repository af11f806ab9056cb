"""Audit a dump on Spark: spark-submit python/examples/audit_on_spark.py DUMP OUT [BUCKETS]

Reads the dump's tables with Spark, audits them in BUCKETS buckets (default 64) and writes
findings/, registrations/, rejects/ (CSV with a header, one directory each) and summary.json
into OUT."""
import json
import os
import sys

from pyspark.sql import SparkSession

from priceaudit import spark as pas

if len(sys.argv) not in (3, 4):
    sys.exit(__doc__)
dump, out = sys.argv[1], sys.argv[2]
buckets = int(sys.argv[3]) if len(sys.argv) == 4 else 64
spark = SparkSession.builder.appName("priceaudit").getOrCreate()
tables = pas.read_dump(spark, dump)
r = pas.audit(tables["prices"], tables["registrations"], tables.get("ladders"), tables.get("retail"),
              tables.get("merchants"), buckets=buckets, dump=dump)
for name in ("findings", "registrations", "rejects"):
    getattr(r, name).write.mode("overwrite").option("header", True).csv(os.path.join(out, name))
with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
    json.dump(r.summary, f, indent=2, ensure_ascii=False)
s = r.summary
print(f"priceaudit on Spark: {s['registrations']} registrations, {s['findings']} findings, "
      f"{s['rejects']} rejects, {buckets} buckets -> {out}")
spark.stop()
