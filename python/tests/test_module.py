"""The Python module against the CLI: the same findings, verdicts, rejects and files, from a dump
directory or from tables in memory of every kind a notebook holds."""
import csv
import io
import json
import threading
import time

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import priceaudit
from conftest import DEMO, ROOT, make_varied_dump, read_parts

FILES = ["findings.csv", "findings.json", "registrations.csv", "registrations.json", "rejects.csv",
         "summary.json", "report.md", "report.html"]


def csv_rows(text: str):
    return list(csv.reader(io.StringIO(text)))


def table_rows(t: pa.Table):
    """A table's rows as the CSV writes them (null = empty cell, numbers as text)."""
    return [["" if v is None else str(v) for v in r.values()] for r in t.to_pylist()]


@pytest.fixture(scope="module")
def varied(cli, tmp_path_factory):
    return make_varied_dump(cli, tmp_path_factory.mktemp("varied") / "dump", offers=400, seed=5)


def test_write_is_byte_identical_to_the_cli(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cli("audit", "fixtures/demo", "--out", tmp_path / "cli", "--quiet")
    a = priceaudit.audit("fixtures/demo")
    written = a.write(tmp_path / "py")
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == sorted(FILES)
    for f in FILES:
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f


def test_audit_to_writes_the_cli_files_whole_and_in_shares(cli, tmp_path, varied):
    """`audit_to` writes what `priceaudit audit` writes, whole and in shares (a dump of shuffled
    rows, parts, bad rows and merchants sharing offers), and returns the summary."""
    cli("audit", varied, "--out", tmp_path / "cli", "--quiet")
    for shares in (None, 1, 3):
        out = tmp_path / f"py-{shares}"
        summary = priceaudit.audit_to(varied, out, shares=shares)
        assert summary == json.loads((tmp_path / "cli" / "summary.json").read_text())
        for f in FILES:
            assert (out / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), (shares, f)
        assert sorted(p.name for p in out.iterdir()) == sorted(FILES), "nothing else left"
    only = tmp_path / "only"
    priceaudit.audit_to(varied, only, outputs=["findings.csv"], shares=2)
    assert [p.name for p in only.iterdir()] == ["findings.csv"]
    with pytest.raises(priceaudit.InputError, match="unknown output file"):
        priceaudit.audit_to(varied, tmp_path / "never", outputs=["findings.xlsx"])


def test_tables_equal_the_cli_files(cli, tmp_path, varied):
    cli("audit", varied, "--out", tmp_path, "--quiet")
    a = priceaudit.audit(varied)
    for name, f in (("findings", "findings.csv"), ("registrations", "registrations.csv"), ("rejects", "rejects.csv")):
        want = csv_rows((tmp_path / f).read_text())
        got = getattr(a, name)
        assert got.column_names == want[0], name
        assert table_rows(got) == want[1:], name
    assert a.rejects.num_rows > 0, "the varied dump has bad rows"
    assert a.summary == json.loads((tmp_path / "summary.json").read_text())


def test_outputs_subset():
    a = priceaudit.audit(DEMO)
    with pytest.raises(priceaudit.InputError, match="unknown output file"):
        a.write("/tmp/never", outputs=["findings.xlsx"])


def demo_as_text():
    """The demo's tables as text columns, the way a notebook reads CSV without inference."""
    out = {}
    for t in priceaudit.TABLES:
        names = pcsv.read_csv(DEMO / f"{t}.csv").column_names
        opts = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
        out[t] = pcsv.read_csv(DEMO / f"{t}.csv", convert_options=opts)
    return out


def assert_same_but_rows(mem, ref):
    """In memory, a row shows its 0-based index where the CLI shows its CSV line (header = 1)."""
    f, g = mem.findings.to_pylist(), ref.findings.to_pylist()
    assert len(f) == len(g) > 0
    for x, y in zip(f, g):
        assert (x["evidence_row"] is None) == (y["evidence_row"] is None)
        if y["evidence_row"] is not None:
            assert x["evidence_row"] + 2 == y["evidence_row"]
        strip = lambda r: {k: v for k, v in r.items() if k not in ("evidence_row", "message")}
        assert strip(x) == strip(y)
    assert mem.registrations.to_pylist() == ref.registrations.to_pylist()
    s, t = mem.summary, ref.summary
    for k in ("registrations", "findings", "rejects", "by_rule", "verdicts", "by_merchant", "not_checked"):
        assert s[k] == t[k], k
    assert s["dump"] == "(tables in memory)" and s["tables"]["prices"]["format"] == "arrow"


@pytest.mark.parametrize("kind", ["pyarrow", "polars", "pandas", "duckdb"])
def test_tables_in_memory_of_every_kind(kind):
    ref = priceaudit.audit(DEMO)
    text = demo_as_text()
    if kind == "pyarrow":
        tables = text
    elif kind == "polars":
        import polars as pl

        tables = {k: pl.from_arrow(v) for k, v in text.items()}
    elif kind == "pandas":
        tables = {k: v.to_pandas() for k, v in text.items()}
    else:
        import duckdb

        con = duckdb.connect()
        tables = {}
        for k, v in text.items():
            con.register(f"t_{k}", v)
            tables[k] = con.sql(f"select * from t_{k}")
    assert_same_but_rows(priceaudit.audit(**tables), ref)


def test_parquet_tables_in_memory_show_the_parquet_rows(cli, tmp_path, varied):
    """Typed Parquet columns (decimals, timestamps, integers) read by pyarrow: every column equals
    the CLI's, the row index included, a part directory aside (its rows are one table here)."""
    whole = tmp_path / "whole"
    whole.mkdir()
    for t in priceaudit.TABLES:
        p = varied / f"{t}.parquet"
        if t == "prices":
            pq.write_table(read_parts(varied / "prices"), whole / "prices.parquet")
        elif p.exists():
            pq.write_table(pq.read_table(p), whole / f"{t}.parquet")
    ref = priceaudit.audit(whole)
    mem = priceaudit.audit(**{t: pq.read_table(whole / f"{t}.parquet") for t in priceaudit.TABLES})
    assert mem.findings.to_pylist() == ref.findings.to_pylist()
    assert mem.registrations.to_pylist() == ref.registrations.to_pylist()
    assert mem.rejects.to_pylist() == ref.rejects.to_pylist()
    assert mem.rejects.num_rows > 0


def test_bad_input_names_the_table_and_column():
    text = demo_as_text()
    with pytest.raises(priceaudit.InputError, match=r"prices: missing required column `price`"):
        priceaudit.audit(prices=text["prices"].drop_columns(["price"]), registrations=text["registrations"])
    p = text["prices"]
    floats = p.set_column(p.schema.get_field_index("price"), "price", p.column("price").cast(pa.float64()))
    with pytest.raises(priceaudit.InputError, match=r"column `price` is binary floating point"):
        priceaudit.audit(prices=floats, registrations=text["registrations"])
    import pandas as pd

    with pytest.raises(priceaudit.InputError, match=r"column `price` is binary floating point"):
        priceaudit.audit(prices=pd.read_csv(DEMO / "prices.csv"), registrations=text["registrations"])
    with pytest.raises(priceaudit.InputError, match=r"prices: a list is no Arrow table"):
        priceaudit.audit(prices=[1, 2], registrations=text["registrations"])
    with pytest.raises(priceaudit.InputError, match=r"missing table `registrations`"):
        priceaudit.audit(prices=text["prices"])
    with pytest.raises(priceaudit.InputError, match=r"not a directory"):
        priceaudit.audit(DEMO / "nope")
    with pytest.raises(priceaudit.ConfigError, match=r'unknown time zone "Mars/Base"'):
        priceaudit.audit(DEMO, tz="Mars/Base")
    with pytest.raises(TypeError):
        priceaudit.audit(DEMO, prices=text["prices"])


def test_strict_raises_on_a_rejected_row(varied):
    assert priceaudit.audit(varied).rejects.num_rows > 0
    with pytest.raises(priceaudit.InputError, match=r"--strict: \d+ rejected row"):
        priceaudit.audit(varied, strict=True)


def test_explain_is_the_cli_s(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    text = cli("explain", "fixtures/demo", "--registration", "R01").stdout
    assert priceaudit.explain("fixtures/demo", registration="R01") == text
    js = json.loads(cli("explain", "fixtures/demo", "--registration", "R01", "--json").stdout)
    assert priceaudit.explain("fixtures/demo", registration="R01", json=True) == js[0]
    with pytest.raises(priceaudit.InputError):
        priceaudit.explain("fixtures/demo", registration="NO-SUCH")


def test_the_gil_is_released_while_auditing(varied):
    """Another Python thread runs while the library audits (with the GIL held it could not run at
    all between the call's start and end)."""
    span = {}

    def work():
        span["start"] = time.monotonic()
        priceaudit.audit(varied)
        span["end"] = time.monotonic()

    t = threading.Thread(target=work)
    stamps = []
    t.start()
    while t.is_alive():
        stamps.append(time.monotonic())
    t.join()
    inside = [s for s in stamps if span["start"] + 0.01 < s < span["end"] - 0.01]
    assert span["end"] - span["start"] > 0.05, "the audit is long enough to tell"
    assert len(inside) > 100


def test_dictionary_and_categorical_columns_read_as_their_values():
    """pandas categoricals, polars categoricals and Arrow dictionaries: the same audit as plain
    text, an empty value missing as in a plain column (a dictionary `sku_id` of "" is an empty
    key)."""
    import pandas as pd
    import polars as pl

    text = demo_as_text()
    regs = text["registrations"].to_pandas()
    regs.loc[0, "sku_id"] = ""
    plain = priceaudit.audit(prices=text["prices"], registrations=pa.Table.from_pandas(regs, preserve_index=False))
    assert plain.rejects.num_rows == 1 and plain.rejects.column("reason")[0].as_py() == "empty key"
    cat = regs.copy()
    for c in ("sku_id", "activity", "offer_id"):
        cat[c] = cat[c].astype("category")
    prices = text["prices"].to_pandas()
    prices["channel"] = prices["channel"].astype("category")
    prices["until"] = prices["until"].astype("category")
    got = priceaudit.audit(prices=prices, registrations=cat)
    assert got.findings.to_pylist() == plain.findings.to_pylist()
    assert got.rejects.to_pylist() == plain.rejects.to_pylist()
    dicts = {k: pl.from_arrow(v).with_columns(pl.col(pl.String).cast(pl.Categorical)) for k, v in text.items()}
    assert priceaudit.audit(**dicts).findings.to_pylist() == priceaudit.audit(**text).findings.to_pylist()


def test_zero_row_tables_and_a_filtered_pandas_frame():
    import pandas as pd

    text = demo_as_text()
    empty = priceaudit.audit(prices=text["prices"].slice(0, 0), registrations=text["registrations"].slice(0, 0))
    assert empty.findings.num_rows == 0 and empty.registrations.num_rows == 0
    assert empty.summary["registrations"] == 0 and empty.summary["reconciled"]
    # a filtered frame's index is no column (pandas' own Arrow stream would add it)
    regs = text["registrations"].to_pandas()
    kept = regs[regs["registration_id"] != "R02"]
    a = priceaudit.audit(prices=text["prices"].to_pandas(), registrations=kept)
    b = priceaudit.audit(prices=text["prices"], registrations=pa.Table.from_pandas(kept.reset_index(drop=True)))
    assert a.findings.to_pylist() == b.findings.to_pylist()
    with pytest.raises(priceaudit.InputError, match=r"registrations: the pandas object has no Arrow table form"):
        bad = kept.copy()
        bad["moq"] = [object()] * len(bad)
        priceaudit.audit(prices=text["prices"], registrations=bad)


def test_import_sets_the_cli_s_polars_settings_unless_the_environment_does():
    """Importing the package puts the CLI's polars settings (runtime::polars_settings) in the
    environment before any query, and leaves a value the user set alone."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("POLARS_")}
    env["POLARS_ROW_GROUP_PREFETCH_SIZE"] = "5"
    code = ("import json, os, priceaudit; "
            "print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('POLARS_')}))")
    seen = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                     capture_output=True, text=True).stdout)
    want = dict(priceaudit._native.polars_settings())
    assert "POLARS_PARQUET_DECODE_MAX_ROWS" in want and "POLARS_FORCE_ASYNC" in want
    assert seen == {**want, "POLARS_ROW_GROUP_PREFETCH_SIZE": "5"}
