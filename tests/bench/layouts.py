#!/usr/bin/env python3
"""Write one layout of a benchmark dump from synth's dump BASE into OUT (issue 21): the same rows
in the shapes other tools write them. Only the price table (the big one) changes shape, but for
`parts`, where every table is a directory of part files; the other tables are linked.

  layouts.py BASE OUT LAYOUT

  synth      BASE as synth wrote it (rows clustered by offer, UTC timestamps, DECIMAL(38,10),
             200k-row row groups)
  shuffled   rows in random order (as a hash-partitioned warehouse export writes them), naive
             local timestamps (Asia/Shanghai), DECIMAL(18,2), plain strings, 1M-row row groups,
             snappy
  sorted     the shuffled rows sorted by (offer_id, sku_id, ts), same types
  smallrg    the shuffled rows in 20k-row row groups, zstd
  parts      the shuffled prices as 16 part files in hive folders (dt=…/part-*.parquet, with
             _SUCCESS), registrations as 4 parts of consecutive rows: as Spark writes tables
  csv        the shuffled rows as CSV (naive timestamps, decimals as text)
  csvq       the shuffled rows as CSV as other exporters write it: every field quoted, `\r\n`
             line ends, ISO 8601 timestamps with their `+08:00` offset
  timeorder  the shuffled rows in time order (as an append-only log or daily exports write them),
             DuckDB's default 122,880-row row groups, zstd
  spark      the shuffled rows written by Spark (pyspark, local[2]: parquet-mr), `prices/` as part
             files of ~1.25M rows in random order (a round-robin repartition), one row group each,
             1 MB pages, dictionaries where they fit (else plain), snappy, `_SUCCESS`
  sparkv2    as `spark`, by Spark's version-2 Parquet writer (`parquet.writer.version=v2`: data
             page v2; where a dictionary does not fit, DELTA_BYTE_ARRAY strings and
             DELTA_BINARY_PACKED timestamps) with the prices as DECIMAL(38,10), which Spark
             stores as 16 fixed bytes (DELTA_BYTE_ARRAY past a full dictionary; synth's few
             distinct prices fit theirs: `offer_id` and `ts` are this layout's delta columns)
  bigrg      the shuffled rows written by pyarrow (another writer: dictionary-encoded strings,
             FIXED_LEN_BYTE_ARRAY decimals) in 8M-row row groups, about what Spark's 128 MB
             block holds of this table
  category   the shuffled rows as pandas writes a `category` column (through pyarrow): `kind` and
             `channel` as dictionary arrays in the file's Arrow schema, which readers take as
             categories; pyarrow's defaults otherwise (1M-row row groups, snappy, dictionaries)
  daily      the shuffled rows as a table partitioned by day, as Hive and Spark jobs write daily
             exports: `prices/dt=YYYY-MM-DD/data_0.parquet` (DuckDB's `PARTITION_BY`, zstd; the
             `dt` key is not a column of the table), one folder per day of the history
  hugerg     the shuffled rows in 10M-row row groups as DuckDB writes them when given a large
             `ROW_GROUP_SIZE` (each column chunk one page), snappy
  regheavy   every SKU split into 20 (every 20th of its price, ladder and retail rows by time to
             each) and every registration repeated for each: one registration per ~5 price
             rows, the issue's registration-heavy dump
"""
import os
import sys

import duckdb

base, out, layout = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")
TABLES = ["prices", "registrations", "ladders", "retail", "merchants"]


def link(t):
    src = os.path.abspath(os.path.join(base, f"{t}.parquet"))
    dst = os.path.join(out, f"{t}.parquet")
    if os.path.exists(src) and not os.path.exists(dst):
        os.symlink(src, dst)


SHUFFLED = f"""SELECT * REPLACE (timezone('Asia/Shanghai', ts) AS ts, price::DECIMAL(18,2) AS price,
       timezone('Asia/Shanghai', until) AS until)
FROM read_parquet('{base}/prices.parquet')
ORDER BY hash(offer_id, sku_id, ts, price, channel)"""

if layout == "synth":
    for t in TABLES:
        link(t)
elif layout in ("shuffled", "sorted", "smallrg", "hugerg", "timeorder", "csv", "csvq"):
    for t in TABLES[1:]:
        link(t)
    q = SHUFFLED
    if layout == "sorted":
        q = f"SELECT * FROM ({SHUFFLED}) ORDER BY offer_id, sku_id, ts"
    if layout == "timeorder":
        q = f"SELECT * FROM ({SHUFFLED}) ORDER BY ts, offer_id, sku_id, kind, channel, price"
    if layout == "csv":
        con.execute(f"COPY ({q}) TO '{out}/prices.csv' (HEADER, DELIMITER ',')")
    elif layout == "csvq":
        # (the shuffled rows' naive times are Asia/Shanghai's: always +08:00)
        iso = "strftime({c}, '%Y-%m-%dT%H:%M:%S.%f+08:00') AS {c}"
        q = f"SELECT * REPLACE ({iso.format(c='ts')}, {iso.format(c='until')}) FROM ({q})"
        con.execute(f"COPY ({q}) TO '{out}/prices.csv' (HEADER, DELIMITER ',', FORCE_QUOTE *, NEW_LINE '\r\n')")
    elif layout == "timeorder":
        con.execute(f"COPY ({q}) TO '{out}/prices.parquet' (FORMAT parquet, COMPRESSION zstd)")
    else:
        rg, comp = {"smallrg": (20_000, "zstd"), "hugerg": (10_000_000, "snappy")}.get(layout, (1_000_000, "snappy"))
        con.execute(f"COPY ({q}) TO '{out}/prices.parquet' (FORMAT parquet, ROW_GROUP_SIZE {rg}, COMPRESSION {comp})")
elif layout in ("spark", "sparkv2"):
    from pyspark.sql import SparkSession

    for t in TABLES[1:]:
        link(t)
    # the shuffled rows handed to Spark as DuckDB writes them, then written by Spark's own writer
    tmp = f"{out}/for-spark.parquet"  # (not hidden: Spark skips names starting with . or _)
    con.execute(f"COPY ({SHUFFLED}) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{tmp}')").fetchone()[0]
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "Asia/Shanghai")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # (naive timestamps are TIMESTAMP_NTZ to Spark: written back as they are)
    rows = spark.read.parquet(tmp).repartition(max(1, round(n / 1_250_000)))
    writer = rows.write
    if layout == "sparkv2":
        rows = rows.withColumn("price", rows["price"].cast("decimal(38,10)"))
        writer = rows.write.option("parquet.writer.version", "v2")
    writer.mode("overwrite").parquet(f"{out}/prices")
    spark.stop()
    os.remove(tmp)
    for f in os.listdir(f"{out}/prices"):
        if f.startswith("."):
            os.remove(f"{out}/prices/{f}")  # Spark's .crc files
elif layout in ("bigrg", "category"):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for t in TABLES[1:]:
        link(t)
    rows = 8_000_000 if layout == "bigrg" else 1 << 20
    reader = con.sql(SHUFFLED).to_arrow_reader(rows)
    # `category`: these columns as dictionary arrays, as pandas hands a `category` column over
    cats = ("kind", "channel") if layout == "category" else ()
    schema = pa.schema(
        [pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in cats else f for f in reader.schema]
    )
    writer = pq.ParquetWriter(f"{out}/prices.parquet", schema, compression="snappy")
    held, n = [], 0

    def flush():
        # (DuckDB hands out batches of its own size: a row group is gathered from them)
        if held:
            t = pa.Table.from_batches(held, reader.schema)
            for c in cats:
                t = t.set_column(t.schema.get_field_index(c), c, pc.dictionary_encode(t.column(c)))
            writer.write_table(t, row_group_size=rows)
            held.clear()

    for batch in reader:
        held.append(batch)
        n += batch.num_rows
        if n >= rows:
            flush()
            n = 0
    flush()
    writer.close()
elif layout == "daily":
    for t in TABLES[1:]:
        link(t)
    con.execute(
        f"COPY (SELECT *, strftime(ts, '%Y-%m-%d') AS dt FROM ({SHUFFLED})) TO '{out}/prices' "
        "(FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)"
    )
elif layout == "regheavy":
    # each SKU split into 20 SKUs (`S1~0` … `S1~19`), every 20th of its price, ladder and retail
    # rows (by time) going to each, and each registration repeated for each of them: 20× the
    # registrations over the same price rows, each SKU still with its own history
    link("merchants")
    k = "(row_number() OVER (PARTITION BY offer_id, sku_id ORDER BY {t}, price) - 1) % 20"
    for t, ts in (("prices", "ts"), ("retail", "observed_at"), ("ladders", "min_qty")):
        if not os.path.exists(os.path.join(base, f"{t}.parquet")):
            continue
        split = f"CASE WHEN sku_id = '' THEN sku_id ELSE sku_id || '~' || {k.format(t=ts)} END"
        con.execute(f"""COPY (SELECT * REPLACE ({split} AS sku_id) FROM read_parquet('{base}/{t}.parquet'))
            TO '{out}/{t}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 200000)""")
    con.execute(f"""COPY (SELECT * REPLACE (registration_id || '~' || k AS registration_id, sku_id || '~' || k AS sku_id)
        FROM read_parquet('{base}/registrations.parquet'), range(20) t(k) ORDER BY registration_id, k)
        TO '{out}/registrations.parquet' (FORMAT parquet)""")
elif layout == "parts":
    for t in ["ladders", "retail", "merchants"]:
        link(t)
    con.execute(f"CREATE TABLE s AS SELECT *, hash(offer_id, sku_id, ts, price, channel) % 16 AS part FROM ({SHUFFLED})")
    for i in range(16):
        d = f"{out}/prices/dt=2024-{1 + i % 12:02d}-{1 + i // 12:02d}"
        os.makedirs(d, exist_ok=True)
        con.execute(
            f"COPY (SELECT * EXCLUDE (part) FROM s WHERE part = {i}) TO '{d}/part-{i:05d}.snappy.parquet' "
            "(FORMAT parquet, ROW_GROUP_SIZE 1000000)"
        )
    open(f"{out}/prices/_SUCCESS", "w").close()
    os.makedirs(f"{out}/registrations", exist_ok=True)
    # four parts of consecutive rows, so that the parts in path order keep the file order (SPEC
    # breaks some ties by it: D601's evidence, D602's earliest, S204's order)
    con.execute(f"CREATE TABLE r AS SELECT * FROM read_parquet('{base}/registrations.parquet', file_row_number = true)")
    n = con.execute("SELECT count(*) FROM r").fetchone()[0]
    for i in range(4):
        con.execute(
            f"COPY (SELECT * EXCLUDE (file_row_number) FROM r WHERE file_row_number * 4 // {max(n, 1)} = {i} "
            f"ORDER BY file_row_number) TO '{out}/registrations/part-{i:05d}.parquet' (FORMAT parquet)"
        )
    open(f"{out}/registrations/_SUCCESS", "w").close()
else:
    sys.exit(f"unknown layout {layout}")
