"""priceaudit on Spark (pyspark >= 4): the audit of a dump split into buckets, each audited by the
Rust library inside a Spark task, with the one-machine result.

>>> from priceaudit import spark as pas
>>> tables = pas.read_dump(spark, "path/to/dump")
>>> r = pas.audit(tables["prices"], tables["registrations"], tables.get("ladders"),
...               tables.get("retail"), tables.get("merchants"), buckets=64)
>>> r.findings.write.parquet("out/findings")          # Spark DataFrames
>>> r.summary["verdicts"]                             # the buckets' summaries added up

How the dump is split. Every fact and rule reads one offer's rows, except the rules that relate
registrations (SPEC §10: slots of an offer, a merchant's fatigue, caps and duplicate listings) and
the first-of-duplicates of a registration id. So a bucket holds whole *components*: the merchants
linked by an offer registered by two of them or a registration id used by two of them share one
bucket, with all their registrations, their offers' price, ladder and retail rows and their
`merchants` rows (rows of unregistered offers or merchants go by their own key). The dump's horizon
(SPEC §10.4, the latest valid price `ts` of the whole table) is computed first and handed to every
bucket. Inside a bucket the rows are put back in the dump's order (the row index), so "first in
file order" means what it means to the CLI.

Row numbers. `read_dump` keeps each Parquet row's index in its file (`_metadata.row_index`; for a
table directory the index over its parts in path order, and the part for rejects, as the CLI
numbers them), so findings and rejects equal the CLI's on every column. CSV rows are numbered by
Spark's reading order instead of their line (the one column that then differs). Tables from any
other Spark source are numbered by `monotonically_increasing_id()` unless they carry the column
`ROW`.
"""

from __future__ import annotations

import json
import contextlib
import os
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pyarrow as pa
import pyarrow.compute as pc

from . import _native, TABLES
from . import InputError  # noqa: F401  (re-exported for callers catching it here)

#: The column holding each row's number (its row index in the dump).
ROW = "__priceaudit_row"
#: Part file of a row, and the part's first row, when the table was a directory of parts.
PART, PART_START = "__priceaudit_part", "__priceaudit_part_start"
BUCKET = "__priceaudit_bucket"

def _out_types() -> Dict[str, pa.StructType]:
    """Each output's columns (the CLI's CSV files') as an Arrow struct, integers as int64 (Spark
    has no unsigned type), text as string: as the library's tables hold them."""
    return {name: pa.struct([pa.field(c, pa.int64() if number else pa.string()) for c, number in cols])
            for name, cols in _native.output_columns()}


def _spark_schema():
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    def st(t: pa.StructType) -> StructType:
        return StructType([StructField(f.name, LongType() if pa.types.is_integer(f.type) else StringType()) for f in t])

    types = _out_types()
    return StructType(
        [StructField("kind", StringType())]
        + [StructField(k, st(v)) for k, v in types.items()]
        + [StructField("summary", StringType())]
    )


# ---------------------------------------------------------------------------------------------
# reading a dump


def _fs(spark, path: str):
    jvm = spark._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark._jsc.hadoopConfiguration()), p


def read_dump(spark, path: str) -> Dict[str, Any]:
    """The tables of a dump directory as Spark DataFrames (SPEC §2: `NAME.parquet`, `NAME.csv` or
    a directory `NAME/` of part files), each with the column `ROW`: a Parquet row's index in its
    file (over a directory's parts, in the order of their paths: the CLI's numbering), a CSV row's
    position in Spark's reading order. Any Hadoop filesystem path works (local, HDFS, S3...)."""
    fs, root = _fs(spark, path)
    if not fs.exists(root) or not fs.getFileStatus(root).isDirectory():
        raise InputError(f"{path}: not a directory")
    jPath = spark._jvm.org.apache.hadoop.fs.Path
    out: Dict[str, Any] = {}
    for t in TABLES:
        found = []
        for name in (f"{t}.csv", f"{t}.parquet", t):
            p = jPath(root, name)
            if fs.exists(p) and (fs.getFileStatus(p).isDirectory() == (name == t)):
                found.append((name, p))
        if len(found) > 1:
            raise InputError(f"{path}: {' and '.join(n for n, _ in found)} all hold table `{t}`; keep one")
        if not found:
            if t in ("prices", "registrations"):
                raise InputError(f"{path}: missing table `{t}` ({t}.csv or {t}.parquet)")
            continue
        name, p = found[0]
        out[t] = _read_table(spark, fs, p, t, name)
    return out


def _csv(spark, p: str):
    return (spark.read.option("header", True).option("inferSchema", False).option("multiLine", True)
            .option("escape", '"').csv(p))


def _read_table(spark, fs, p, table: str, name: str):
    from pyspark.sql import functions as F

    s = p.toString()
    if name.endswith(".parquet"):
        df = spark.read.parquet(s)
        return df.select("*", F.col("_metadata.row_index").alias(ROW))
    if name.endswith(".csv"):
        return _csv(spark, s).withColumn(ROW, F.monotonically_increasing_id())
    # a directory of parts (SPEC §2): every *.parquet or *.csv below it, names starting _ or .
    # skipped, in path order, each numbered from the rows of the parts before it, the parts'
    # columns united as the CLI unites them
    files = _part_files(fs, p, s)
    if not files:
        raise InputError(f"{s}: the table directory has no part files (*.csv or *.parquet)")
    csv = files[0][0].lower().endswith(".csv")
    other = next((f for f, _, _ in files if f.lower().endswith(".csv") != csv), None)
    if other is not None:
        raise InputError(f"{s}: parts of two formats ({files[0][0]} and {other}); a table's parts have one format")
    if csv:
        # each CSV part read alone (its own header: parts may order their columns differently),
        # its rows numbered in reading order within it (not their line), parts in path order
        out = None
        for rank, (rel, full, _) in enumerate(files):
            start = rank << 48
            df = _csv(spark, full).withColumn(ROW, F.lit(start) + F.monotonically_increasing_id())
            df = df.withColumn(PART, F.lit(f"{table}/{rel}")).withColumn(PART_START, F.lit(start).cast("long"))
            out = df if out is None else out.unionByName(df, allowMissingColumns=True)
        return out
    # Parquet parts in one read (schemas merged), each row's part from `_metadata.file_path`
    # (a URI: matched on its decoded path, as the listing gives it) and its index there
    df = spark.read.option("mergeSchema", True).parquet(*[full for _, full, _ in files])
    df = df.select("*", F.col("_metadata.row_index").alias("__ri"), F.col("_metadata.file_path").alias("__fp"))
    uri = spark._jvm.java.net.URI
    counts = {uri(r["__fp"]).getPath(): (r["__fp"], r["count"]) for r in df.groupBy("__fp").count().collect()}
    starts, at = [], 0
    for rel, _, raw in files:
        fp, n = counts.pop(raw, (None, 0))
        if fp is not None:
            starts.append((fp, f"{table}/{rel}", at))
        at += n
    if counts:
        # a row whose file is none of the listed parts would be lost: refuse
        raise InputError(f"{s}: Spark read rows from {sorted(counts)[0]}, which is not a listed part")
    starts_df = spark.createDataFrame(starts, f"__fp string, {PART} string, {PART_START} long")
    return (df.join(F.broadcast(starts_df), "__fp")
            .withColumn(ROW, F.col(PART_START) + F.col("__ri"))
            .drop("__ri", "__fp"))


def _part_files(fs, d, shown: str) -> List[Tuple[str, str, str]]:
    """The part files below `d` as (relative path, full path, the full path's decoded path), in
    byte order of the relative paths; a file that is neither .csv nor .parquet is an error, as the
    CLI's."""
    out: List[Tuple[str, str, str]] = []

    def walk(p, rel: str) -> None:
        for st in fs.listStatus(p):
            n = st.getPath().getName()
            if n.startswith("_") or n.startswith("."):
                continue
            r = f"{rel}/{n}" if rel else n
            if st.isDirectory():
                walk(st.getPath(), r)
            elif n.lower().endswith((".csv", ".parquet")):
                out.append((r, st.getPath().toString(), st.getPath().toUri().getPath()))
            else:
                raise InputError(f"{shown}: {r} is neither a .csv nor a .parquet part")

    walk(d, "")
    out.sort(key=lambda x: x[0].encode())
    return out


# ---------------------------------------------------------------------------------------------
# the audit


class SparkAudit:
    """An audit's result on Spark: findings, registrations (verdicts) and rejects as Spark
    DataFrames with the CLI's columns (computed once, persisted), and the summary (the buckets'
    summaries added up)."""

    def __init__(self, out, dump: str) -> None:
        self._out = out
        self._dump = dump
        self._summary: Optional[Dict[str, Any]] = None
        self.findings = out.where("kind = 'findings'").select("findings.*")
        self.registrations = out.where("kind = 'registrations'").select("registrations.*")
        self.rejects = out.where("kind = 'rejects'").select("rejects.*")

    @property
    def summary(self) -> Dict[str, Any]:
        if self._summary is None:
            parts = [json.loads(r["summary"]) for r in self._out.where("kind = 'summary'").select("summary").collect()]
            self._summary = merge_summaries(parts)
            self._summary["dump"] = self._dump
        return self._summary


def merge_summaries(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Summaries of buckets added up: counts summed, flags and-ed, texts kept from the first; maps
    (keys in order in every part) keep their keys in order, as the CLI writes them; `not_checked`
    entries summed by (rule, reason), in order of first appearance, a dump-wide one (no count)
    once."""

    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a, bool):
            return a and b
        if isinstance(a, (int, float)):
            return a + b
        if isinstance(a, dict):
            keys = list(a) + [k for k in b if k not in a]
            if list(a) == sorted(a) and list(b) == sorted(b):
                keys.sort()  # a map (the CLI writes its keys in order), not a record
            return {k: merge(a.get(k), b.get(k)) for k in keys}
        if isinstance(a, list):
            out = [dict(x) for x in a]
            for y in b:
                same = next((x for x in out if x.get("rule") == y.get("rule") and x.get("reason") == y.get("reason")), None)
                if same is None:
                    out.append(dict(y))
                elif same.get("registrations") is not None:  # None: a dump-wide reason, once
                    same["registrations"] += y.get("registrations") or 0
            return out
        return a

    out: Any = None
    for p in parts:
        out = merge(out, p)
    if out is not None:
        out["reconciled"] = all(t.get("reconciled", True) for t in out.get("tables", {}).values())
    return out or {}


def _key(c: str):
    from pyspark.sql import functions as F

    return F.coalesce(F.col(c).cast("string"), F.lit(""))


def _components(regs) -> Dict[str, str]:
    """Merchants that must share a bucket, as merchant -> representative: those registering one
    offer, and those sharing a registration id (union-find on the driver over these few)."""
    from pyspark.sql import functions as F

    groups = []
    merchant = F.when(_key("merchant_id") != "", _key("merchant_id"))  # an empty one relates nothing
    for by in ("offer_id", "registration_id"):
        # (a row with an empty key is rejected: it relates nothing either)
        rows = (regs.where(_key(by) != "").groupBy(_key(by).alias("k")).agg(F.collect_set(merchant).alias("ms"))
                .where(F.size("ms") > 1).select("ms").collect())
        groups += [sorted(r["ms"]) for r in rows]
    parent: Dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ms in groups:
        for m in ms[1:]:
            a, b = find(ms[0]), find(m)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {m: find(m) for m in parent}


def _with_row(df):
    from pyspark.sql import functions as F

    return df if ROW in df.columns else df.withColumn(ROW, F.monotonically_increasing_id())


@contextlib.contextmanager
def _config_file(text: Optional[str]) -> Iterator[Optional[str]]:
    """The config's text written where this task can read it (executors share no filesystem),
    removed afterwards; `None` without a config."""
    if text is None:
        yield None
        return
    f = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False, encoding="utf-8")
    try:
        f.write(text)
        f.close()
        yield f.name
    finally:
        os.unlink(f.name)


def _payload(t: pa.Table) -> pa.Table:
    """A table's columns as the library reads them (the part bookkeeping dropped)."""
    return t.drop_columns([c for c in (PART, PART_START) if c in t.column_names])


def _rows_only(t: pa.Table) -> pa.Table:
    """A table's columns without the row numbers too."""
    return _payload(t).drop_columns([c for c in (ROW,) if c in t.column_names])


#: How many of the latest price rows are validated for the horizon before all are.
TOP = 1000


def _horizon(prices, cfg_text: Optional[str], tz: Optional[str]) -> Optional[int]:
    """SPEC §10.4's horizon of the whole price table: the latest `ts` of a row no check refuses,
    as the library validates rows. When `ts` is a timestamp or date column (its order is the
    instants' order: a naive local time maps to UTC without reordering), the TOP latest rows are
    validated first (Spark's top-k, no row leaves the JVM but those): if one is valid, the latest
    valid one is the horizon. Otherwise (text `ts`, or TOP refused rows at the top) every row is
    validated in the tasks."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    def validate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        with _config_file(cfg_text) as path:
            hs = [_native.price_horizon(_rows_only(pa.Table.from_batches([b])), path, tz) for b in batches]
        best = max((h for h in hs if h is not None), default=None)
        yield pa.RecordBatch.from_pydict({"h": pa.array([best], pa.int64())})

    ts = prices.schema["ts"].dataType
    if isinstance(ts, (TimestampType, TimestampNTZType, DateType)):
        top = prices.orderBy(F.col("ts").desc_nulls_last()).limit(TOP).toArrow()
        if top.num_rows:
            with _config_file(cfg_text) as path:
                h = _native.price_horizon(_rows_only(top), path, tz)
            if h is not None or top.num_rows < TOP:
                return h
    hs = [r["h"] for r in prices.mapInArrow(validate, "h long").collect() if r["h"] is not None]
    return max(hs) if hs else None


def audit(
    prices,
    registrations,
    ladders=None,
    retail=None,
    merchants=None,
    *,
    buckets: int = 64,
    config: Optional[str] = None,
    tz: Optional[str] = None,
    dump: str = "(spark)",
) -> SparkAudit:
    """Audit Spark DataFrames of SPEC §2's tables (from `read_dump` or any Spark source) in
    `buckets` buckets, each audited by the Rust library in a Spark task. `config` is read here on
    the driver and handed to the tasks (no shared filesystem needed); `tz` as the CLI's `--tz`.
    Raises `InputError`/`ConfigError` (checked on the driver against the tables' columns) with the
    CLI's messages."""
    from pyspark.sql import functions as F

    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    _native.check_settings(config, tz)
    cfg_text = None
    if config is not None:
        with open(config, encoding="utf-8") as f:
            cfg_text = f.read()
    given = {"prices": prices, "registrations": registrations, "ladders": ladders, "retail": retail, "merchants": merchants}
    tables = {k: _with_row(v) for k, v in given.items() if v is not None}
    # the tables' columns and types, checked on the driver with no rows (a missing column, a float
    # money column: the CLI's message, before any task runs)
    _native.audit_tables({k: _rows_only(v.limit(0).toArrow()) for k, v in tables.items()}, config, tz)

    # 1. the dump's horizon: the latest valid price ts over every partition
    horizon = _horizon(tables["prices"], cfg_text, tz)

    # 2. buckets: components of merchants, offers by their registrations' merchants
    reps = _components(tables["registrations"])
    spark = prices.sparkSession
    n = F.lit(buckets)
    regs = tables["registrations"]
    if reps:
        rep_df = spark.createDataFrame(list(reps.items()), "__m string, __rep string")
        regs = regs.join(F.broadcast(rep_df), _key("merchant_id") == F.col("__m"), "left")
        regs = regs.withColumn(BUCKET, F.pmod(F.hash(F.coalesce(F.col("__rep"), _key("merchant_id"))), n)).drop("__m", "__rep")
    else:
        regs = regs.withColumn(BUCKET, F.pmod(F.hash(_key("merchant_id")), n))
    tables["registrations"] = regs
    offer_bucket = regs.select(_key("offer_id").alias("__o"), F.col(BUCKET).alias("__b")).distinct()
    merchant_bucket = regs.select(_key("merchant_id").alias("__o"), F.col(BUCKET).alias("__b")).distinct()
    for t, by, lookup in (("prices", "offer_id", offer_bucket), ("ladders", "offer_id", offer_bucket),
                          ("retail", "offer_id", offer_bucket), ("merchants", "merchant_id", merchant_bucket)):
        if t in tables:
            df = tables[t].join(lookup, _key(by) == F.col("__o"), "left")
            tables[t] = df.withColumn(BUCKET, F.coalesce(F.col("__b"), F.pmod(F.hash(_key(by)), n))).drop("__o", "__b")

    # 3. the price rows as they are, cogrouped by bucket with the other tables' rows (one frame, each
    # table a struct column: the price rows, most of the data, carry no other table's null columns)
    packed = None
    for t, df in tables.items():
        if t == "prices":
            continue
        cols = [c for c in df.columns if c != BUCKET]
        one = df.select(F.col(BUCKET), F.struct(*[F.col(f"`{c}`") for c in cols]).alias(t))
        packed = one if packed is None else packed.unionByName(one, allowMissingColumns=True)
    others = [t for t in tables if t != "prices"]
    types = _out_types()

    def run(price_rows: pa.Table, other_rows: pa.Table) -> pa.Table:
        frames, parts = {}, {}
        for t in ["prices"] + others:
            if t == "prices":
                tt = price_rows.drop_columns([BUCKET])
            else:
                col = other_rows.column(t)
                tt = pa.Table.from_struct_array(col.filter(pc.is_valid(col)).combine_chunks())
            tt = tt.sort_by(ROW)
            if PART in tt.column_names:
                p = tt.select([PART, PART_START]).group_by([PART, PART_START]).aggregate([])
                parts[t] = sorted(zip(p.column(PART).to_pylist(), p.column(PART_START).to_pylist()), key=lambda x: x[1])
            frames[t] = _payload(tt)
        with _config_file(cfg_text) as path:
            a = _native.audit_tables(frames, path, tz, False, horizon, ROW, parts)
        blocks = [(k, pa.table(getattr(a, k)())) for k in ("findings", "registrations", "rejects")]
        summary = a.summary_json()
        out = []
        for kind, got in blocks:
            out.append(_block(kind, got, types))
        out.append(_block("summary", None, types, summary))
        return pa.concat_tables(out)

    out = tables["prices"].groupBy(BUCKET).cogroup(packed.groupBy(BUCKET)).applyInArrow(run, _spark_schema())
    from pyspark import StorageLevel

    out = out.persist(StorageLevel.MEMORY_AND_DISK)
    return SparkAudit(out, dump)


def _block(kind: str, got: Optional[pa.Table], types: Dict[str, pa.StructType], summary: Optional[str] = None) -> pa.Table:
    """Rows of one output as the task's result: `kind`, the output's struct, the others null."""
    n = got.num_rows if got is not None else 1
    cols: Dict[str, pa.Array] = {"kind": pa.array([kind] * n, pa.string())}
    for k, ty in types.items():
        if k == kind and got is not None:
            arrays = [got.column(f.name).cast(f.type).combine_chunks() for f in ty]
            cols[k] = pa.StructArray.from_arrays(arrays, fields=list(ty))
        else:
            cols[k] = pa.nulls(n, ty)
    cols["summary"] = pa.array([summary] * n if summary is not None else [None] * n, pa.string())
    return pa.table(cols)
