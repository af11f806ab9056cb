"""Spark (local[2]) against the CLI: the same findings, verdicts and rejects on every column, for
1, 7 and 64 buckets, on a dump whose rows are shuffled, split into parts, partly bad, and whose
merchants share an offer and a registration id."""
import json
import os
import shutil
import subprocess
import sys

import pyarrow.csv as pcsv
import pytest

import priceaudit
from conftest import ROOT, make_varied_dump, read_parts

pyspark = pytest.importorskip("pyspark")
from priceaudit import spark as pas  # noqa: E402

#: about 1 M price rows (SPEC's identity test size); PRICEAUDIT_SPARK_OFFERS for a quicker run
OFFERS = int(os.environ.get("PRICEAUDIT_SPARK_OFFERS", "10000"))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    s = (SparkSession.builder.master("local[2]").appName("priceaudit-tests")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
         .config("spark.driver.memory", "4g").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def dump(cli, tmp_path_factory):
    return make_varied_dump(cli, tmp_path_factory.mktemp("spark") / "dump", offers=OFFERS, seed=11)


@pytest.fixture(scope="module")
def reference(cli, dump, tmp_path_factory):
    """The CLI's output files, parsed: rows as tuples of CSV text, sorted as the CLI sorts."""
    out = tmp_path_factory.mktemp("cli")
    cli("audit", dump, "--out", out, "--quiet")
    rows = {}
    for name in ("findings", "registrations", "rejects"):
        t = pcsv.read_csv(out / f"{name}.csv", convert_options=pcsv.ConvertOptions(
            column_types={n: "string" for n in pcsv.read_csv(out / f"{name}.csv").column_names},
            strings_can_be_null=True, quoted_strings_can_be_null=False))
        rows[name] = sorted(tuple("" if v is None else v for v in r.values()) for r in t.to_pylist())
    return rows, json.loads((out / "summary.json").read_text())


def spark_rows(df):
    return sorted(tuple("" if v is None else str(v) for v in r) for r in df.collect())


COUNTS = ("registrations", "findings", "rejects", "by_rule", "by_severity", "verdicts", "by_activity",
          "by_merchant", "merchant_gates", "unknown_channels", "ladder_groups", "registrations_by_activity")


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_spark_equals_the_cli(spark, dump, reference, buckets):
    want, summary = reference
    assert want["rejects"] and want["findings"], "the dump has rejects and findings"
    tables = pas.read_dump(spark, str(dump))
    r = pas.audit(tables["prices"], tables["registrations"], tables.get("ladders"), tables.get("retail"),
                  tables.get("merchants"), buckets=buckets)
    for name in ("findings", "registrations", "rejects"):
        got = spark_rows(getattr(r, name))
        assert len(got) == len(want[name]), name
        assert got == want[name], name
    s = r.summary
    for k in COUNTS:
        assert s[k] == summary[k], k
    for t, v in summary["tables"].items():
        for k in ("rows_read", "rows_used", "rows_rejected"):
            assert s["tables"][t][k] == v[k], (t, k)
    nc = {(x["rule"], x["reason"]): x["registrations"] for x in s["not_checked"]}
    assert nc == {(x["rule"], x["reason"]): x["registrations"] for x in summary["not_checked"]}


def csv_dump(tmp_path):
    """The demo as CSV with `registrations` a directory of two parts: the first (in path order)
    small, holding a second R01 at another price (the CLI keeps the first in file order) and the
    columns in another order; the second the demo's registrations."""
    d = tmp_path / "csvdump"
    shutil.copytree(ROOT / "fixtures" / "demo", d)
    lines = (d / "registrations.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "registrations.csv").unlink()
    (d / "registrations").mkdir()
    (d / "registrations" / "part-b.csv").write_text("".join(lines), encoding="utf-8")
    header = lines[0].rstrip("\n").split(",")
    r01 = next(l for l in lines if l.startswith("R01,"))
    import csv as _csv, io as _io
    row = next(_csv.reader(_io.StringIO(r01)))
    row[header.index("promo_price")] = "5.55"
    order = [header.index("sku_id"), header.index("offer_id")] + [i for i in range(len(header)) if header[i] not in ("sku_id", "offer_id")]
    buf = _io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    w.writerow([header[i] for i in order])
    w.writerow([row[i] for i in order])
    (d / "registrations" / "part-a.csv").write_text(buf.getvalue(), encoding="utf-8")
    return d


def test_spark_on_csv_equals_the_cli_but_row_numbers(spark, tmp_path):
    """A CSV dump with a table in parts: every column but the row numbers (Spark's reading order,
    not the CSV line, and the messages citing them): findings, verdicts, rejects (the duplicate
    R01 of the second part, named by its part), summary counts."""
    src = csv_dump(tmp_path)
    want = priceaudit.audit(src)
    assert [r["table"] for r in want.rejects.to_pylist()] == ["registrations/part-b.csv"]
    assert "5.55" in [r["promo_price"] for r in want.registrations.to_pylist() if r["registration_id"] == "R01"]
    tables = pas.read_dump(spark, str(src))
    r = pas.audit(tables["prices"], tables["registrations"], tables.get("ladders"), tables.get("retail"),
                  tables.get("merchants"), buckets=7)

    def drop(rows, cols, skip):
        return sorted(tuple(v for c, v in zip(cols, x) if c not in skip) for x in rows)

    for name, skip in (("findings", ("evidence_row", "message")), ("registrations", ()), ("rejects", ("line",))):
        cols = getattr(want, name).column_names
        got = drop(spark_rows(getattr(r, name)), cols, skip)
        exp = drop([tuple("" if v is None else str(v) for v in x.values()) for x in getattr(want, name).to_pylist()], cols, skip)
        assert got == exp, name
    for k in COUNTS:
        assert r.summary[k] == want.summary[k], k


def test_components_join_only_merchants_that_share(spark):
    """Merchants sharing an offer or a registration id share a bucket; empty keys relate nothing."""
    rows = [("R1", "O1", "M1"), ("R2", "O1", "M2"), ("R3", "O2", "M3"), ("R3", "O3", "M4"),
            ("R4", None, "M5"), ("R5", None, "M6"), (None, "O4", "M7"), (None, "O5", "M8"),
            ("R6", "O6", None), ("R7", "O6", "M9")]
    regs = spark.createDataFrame(rows, "registration_id string, offer_id string, merchant_id string")
    reps = pas._components(regs)
    assert reps == {"M1": "M1", "M2": "M1", "M3": "M3", "M4": "M3"}


def test_merge_summaries_adds_counts_and_keeps_the_cli_order():
    a = {"dump": "d", "tables": {"prices": {"file": "p", "rows_read": 2, "reconciled": True}},
         "by_rule": {"P101": 1, "S202": 2}, "not_checked": [
             {"rule": "K501", "registrations": 2, "reason": "x", "example": None},
             {"rule": "P111", "registrations": None, "reason": "no ladders table", "example": None}]}
    b = {"dump": "e", "tables": {"prices": {"file": "q", "rows_read": 3, "reconciled": False}},
         "by_rule": {"C401": 4, "P101": 5}, "not_checked": [
             {"rule": "P111", "registrations": None, "reason": "no ladders table", "example": None},
             {"rule": "K501", "registrations": 1, "reason": "x", "example": "e.g."}]}
    m = pas.merge_summaries([a, b])
    assert list(m) == ["dump", "tables", "by_rule", "not_checked", "reconciled"]
    assert m["dump"] == "d" and m["tables"]["prices"] == {"file": "p", "rows_read": 5, "reconciled": False}
    assert list(m["by_rule"].items()) == [("C401", 4), ("P101", 6), ("S202", 2)]
    assert m["not_checked"] == [{"rule": "K501", "registrations": 3, "reason": "x", "example": None},
                                {"rule": "P111", "registrations": None, "reason": "no ladders table", "example": None}]
    assert m["reconciled"] is False


def test_spark_bad_input_raises_on_the_driver(spark, dump):
    tables = pas.read_dump(spark, str(dump))
    with pytest.raises(priceaudit.InputError, match=r"prices: missing required column `price`"):
        pas.audit(tables["prices"].drop("price"), tables["registrations"])
    with pytest.raises(priceaudit.InputError, match=r"column `price` is binary floating point"):
        pas.audit(tables["prices"].withColumn("price", tables["prices"]["price"].cast("double")), tables["registrations"])
    with pytest.raises(priceaudit.ConfigError):
        pas.audit(tables["prices"], tables["registrations"], tz="Mars/Base")
    with pytest.raises(priceaudit.InputError, match="missing table `registrations`"):
        pas.read_dump(spark, str(ROOT / "fixtures" / "bad" / "missing-table"))


def test_the_example_runs(dump, tmp_path):
    """`spark-submit python/examples/audit_on_spark.py DUMP OUT` (here with python: the same
    script; spark-submit comes with pyspark)."""
    submit = shutil.which("spark-submit")
    cmd = [submit] if submit else [sys.executable]
    p = subprocess.run(cmd + [str(ROOT / "python" / "examples" / "audit_on_spark.py"), str(dump), str(tmp_path / "o"), "5"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    assert p.returncode == 0, p.stderr[-3000:]
    assert "priceaudit on Spark:" in p.stdout
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["findings"] == priceaudit.audit(dump).summary["findings"]
    assert any(f.endswith(".csv") for f in os.listdir(tmp_path / "o" / "findings"))


def test_horizon_top_rows_and_all_rows(spark, dump, monkeypatch, tmp_path):
    """The horizon from the latest TOP rows when one of them is valid, else from every row: both
    equal the library's over the whole table, also when the latest row is refused."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    whole = read_parts(dump / "prices")
    want = priceaudit._native.price_horizon(whole, None, None)
    prices = pas.read_dump(spark, str(dump))["prices"]
    for top in (1, 1000):
        monkeypatch.setattr(pas, "TOP", top)
        assert pas._horizon(prices, None, None) == want
    # the latest row refused (a negative price): the next valid one is the horizon
    i = pa.compute.index(whole.column("ts"), pa.compute.max(whole.column("ts"))).as_py()
    price = whole.column("price").to_pylist()
    price[i] = -abs(price[i]) if price[i] is not None else None
    bad = whole.set_column(whole.schema.get_field_index("price"), "price", pa.array(price, whole.schema.field("price").type))
    pq.write_table(bad, tmp_path / "prices.parquet")
    want_bad = priceaudit._native.price_horizon(bad, None, None)
    assert want_bad is not None and want_bad <= want
    df = spark.read.parquet(str(tmp_path / "prices.parquet"))
    for top in (1, 1000):
        monkeypatch.setattr(pas, "TOP", top)
        assert pas._horizon(df, None, None) == want_bad, top
