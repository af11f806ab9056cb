"""Shared fixtures: the CLI binary (to compare with), the demo dump, and dumps made the way users'
data varies (shuffled rows, parts, small row groups, bad rows, merchants sharing offers)."""
import os
import pathlib
import shutil
import subprocess

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"


def cli_binary() -> pathlib.Path:
    """The release binary `cargo build --release` made (`PRICEAUDIT_BIN` overrides)."""
    if os.environ.get("PRICEAUDIT_BIN"):
        return pathlib.Path(os.environ["PRICEAUDIT_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "priceaudit"


@pytest.fixture(scope="session")
def cli():
    b = cli_binary()
    if not b.exists():
        pytest.fail(f"{b}: build the CLI first (cargo build --release)")

    def run(*args, check=True):
        p = subprocess.run([str(b), *map(str, args)], capture_output=True, text=True)
        if check and p.returncode not in (0, 1):
            raise AssertionError(f"priceaudit {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}")
        return p

    return run


def plain(t: pa.Table) -> pa.Table:
    """`t` with its string views as plain strings (polars writes views; other tools don't)."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_string_view(f.type) else f for f in t.schema]
    return t.cast(pa.schema(fields))


def read(p) -> pa.Table:
    return plain(pq.read_table(p))


def read_parts(d: pathlib.Path) -> pa.Table:
    """A table directory's Parquet parts as one table, in the CLI's order (relative paths by
    bytes), their columns united (a part without a column has nulls there)."""
    files = sorted((p for p in d.rglob("*.parquet") if not p.name.startswith(("_", "."))),
                   key=lambda p: str(p.relative_to(d)).encode())
    return pa.concat_tables([plain(pq.read_table(f)) for f in files], promote_options="default")


def _rows(t: pa.Table, seed: int) -> pa.Table:
    """`t` in a random order (a seeded permutation)."""
    import random

    idx = list(range(t.num_rows))
    random.Random(seed).shuffle(idx)
    return t.take(pa.array(idx))


def make_varied_dump(cli, out: pathlib.Path, offers: int, seed: int) -> pathlib.Path:
    """A synth Parquet dump changed the way data from other tools differs: price rows shuffled,
    written as a directory of three parts with small row groups, in hive folders whose names
    carry URL-escaped characters as Spark writes them (`dt=2024-01-01 00%3A00`), the second part
    without the `channel` and `qty` columns; bad rows (an empty price, a negative price, a zero
    `qty`); an offer registered by a second merchant; a registration id used twice by two
    merchants; rows with an empty offer or registration id; registrations shuffled (file order
    still decides ties)."""
    base = out.parent / (out.name + "-synth")
    if base.exists():
        shutil.rmtree(base)
    cli("synth", "--out", base, "--offers", offers, "--format", "parquet", "--seed", seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    prices = read(base / "prices.parquet")
    prices = _rows(prices, seed)
    # bad rows: a null price, a negative price, until before ts, qty 0
    n = prices.num_rows
    price = prices.column("price").to_pylist()
    for i in range(0, n, max(1, n // 7)):
        price[i] = None
    for i in range(3, n, max(1, n // 5)):
        price[i] = -price[i] if price[i] is not None else None
    prices = prices.set_column(prices.schema.get_field_index("price"), "price", pa.array(price, prices.schema.field("price").type))
    if "qty" in prices.column_names:
        qty = prices.column("qty").to_pylist()
        for i in range(5, n, max(1, n // 4)):
            qty[i] = 0
        prices = prices.set_column(prices.schema.get_field_index("qty"), "qty", pa.array(qty, prices.schema.field("qty").type))
    third = n // 3
    folders = ["dt=2024-01-01 00%3A00", "dt=2024-01-02 a b", "dt=2024-01-03"]
    for k, (a, b) in enumerate([(0, third), (third, 2 * third), (2 * third, n)]):
        part = prices.slice(a, b - a)
        if k == 1:
            part = part.drop_columns([c for c in ("channel", "qty") if c in part.column_names])
        (out / "prices" / folders[k]).mkdir(parents=True)
        pq.write_table(part, out / "prices" / folders[k] / f"part-{k:05d}.parquet", row_group_size=max(1, (b - a) // 4))
    (out / "prices" / "_SUCCESS").write_text("")
    regs = read(base / "registrations.parquet")
    rows = regs.to_pylist()
    # an offer registered by a second merchant, a registration id reused by another merchant
    extra = dict(rows[1]); extra["registration_id"] = extra["registration_id"] + "-x"; extra["merchant_id"] = rows[-1]["merchant_id"]
    dup = dict(rows[2]); dup["merchant_id"] = rows[-2]["merchant_id"]
    no_offer = dict(rows[3]); no_offer["offer_id"] = None; no_offer["merchant_id"] = rows[-3]["merchant_id"]
    no_id = dict(rows[4]); no_id["registration_id"] = None; no_id["merchant_id"] = rows[-4]["merchant_id"]
    rows += [extra, dup, no_offer, no_id]
    regs = pa.Table.from_pylist(rows, schema=regs.schema)
    pq.write_table(_rows(regs, seed + 1), out / "registrations.parquet", row_group_size=max(1, regs.num_rows // 3))
    for t in ("ladders", "retail", "merchants"):
        if (base / f"{t}.parquet").exists():
            shutil.copy(base / f"{t}.parquet", out / f"{t}.parquet")
    shutil.rmtree(base)
    return out
