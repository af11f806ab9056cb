"""priceaudit from Python: the CLI's audit of a dump directory or of tables in memory.

>>> import priceaudit
>>> a = priceaudit.audit("fixtures/demo")                  # a dump directory, as `priceaudit audit`
>>> a.findings.num_rows, a.summary["verdicts"]
>>> a = priceaudit.audit(prices=prices_df, registrations=regs_df, tz="Asia/Shanghai")
>>> a.write("out/")                                        # the CLI's files, byte for byte
>>> print(priceaudit.explain("fixtures/demo", registration="R01"))

Tables are anything that speaks the Arrow PyCapsule stream interface (polars, pyarrow, DuckDB
relations) or a pandas frame (through pyarrow); they are handed to the Rust library as Arrow
arrays, never through Python objects. Money columns must be text or decimals: a float money column
is refused, as the CLI refuses one. Rows in memory show their 0-based index as `evidence_row` (and
as a reject's `line`). The GIL is released while the library audits.
"""

from __future__ import annotations

import json as _json
import os as _os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

if TYPE_CHECKING:
    import pyarrow

from . import _native  # noqa: E402
from ._native import ConfigError, InputError  # noqa: E402

# the CLI's polars settings (runtime::polars_settings: buffered Parquet reads, two row groups
# ahead, large row groups decoded in pieces), where the environment does not set them; polars
# reads them at its first query, which importing the module does not run
for _name, _value in _native.polars_settings():
    _os.environ.setdefault(_name, _value)

__all__ = ["audit", "audit_to", "explain", "Audit", "InputError", "ConfigError", "TABLES"]

#: SPEC §2's tables, in the order the CLI lists them.
TABLES = ("prices", "registrations", "ladders", "retail", "merchants")

PathLike = Union[str, "_os.PathLike[str]"]


def _arrow_source(obj: Any, table: str) -> Any:
    """A pandas frame through pyarrow without its index (pandas' own Arrow stream would add a
    filtered frame's index as a column); anything else as it is: the Rust side reads its Arrow
    stream, or refuses it with an `InputError` naming the table."""
    mod = type(obj).__module__ or ""
    if mod.startswith("pandas"):
        import pyarrow as pa

        try:
            return pa.Table.from_pandas(obj, preserve_index=False)
        except Exception as e:  # noqa: BLE001  (pyarrow raises several kinds; all are the input's)
            raise InputError(f"{table}: the pandas object has no Arrow table form: {e}") from None
    return obj


class Audit:
    """The result of an audit: findings, verdicts, rejects (pyarrow Tables with the columns of the
    CLI's CSV files; empty cells null, `evidence_row`/`line`/`errors`/`warnings` integers, money as
    exact decimal text) and the summary (a dict, as summary.json)."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self._tables: Dict[str, Any] = {}

    def _table(self, name: str):
        if name not in self._tables:
            import pyarrow as pa

            self._tables[name] = pa.table(getattr(self._native, name)())
        return self._tables[name]

    @property
    def findings(self) -> "pyarrow.Table":
        """findings.csv's rows (pyarrow.Table), in the CLI's order."""
        return self._table("findings")

    @property
    def registrations(self) -> "pyarrow.Table":
        """registrations.csv's rows: one verdict per registration with the highest compliant
        price (pyarrow.Table)."""
        return self._table("registrations")

    @property
    def rejects(self) -> "pyarrow.Table":
        """rejects.csv's rows: every refused input row with its table, line/row, column and
        reason (pyarrow.Table)."""
        return self._table("rejects")

    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json as a dict."""
        return _json.loads(self._native.summary_json())

    def write(self, out: PathLike, outputs: Optional[Sequence[str]] = None) -> List[str]:
        """Write the CLI's output files into `out` (byte-identical to `priceaudit audit`);
        `outputs` names a subset (as `--outputs`). Returns the paths written."""
        return [str(p) for p in self._native.write(_os.fspath(out), None if outputs is None else list(outputs))]

    def __repr__(self) -> str:
        s = self.summary
        return f"<priceaudit.Audit: {s['registrations']} registrations, {s['findings']} findings, {s['rejects']} rejects>"


def audit(
    dump: Optional[PathLike] = None,
    *,
    prices: Any = None,
    registrations: Any = None,
    ladders: Any = None,
    retail: Any = None,
    merchants: Any = None,
    config: Optional[PathLike] = None,
    tz: Optional[str] = None,
    strict: bool = False,
) -> Audit:
    """Audit a dump directory (`dump`, as `priceaudit audit DUMP`) or tables in memory
    (`prices` and `registrations` required; `ladders`, `retail`, `merchants` optional).

    `config`: a TOML config file (SPEC §6); `tz`: the zone of naive timestamps (overrides the
    config's); `strict`: any rejected row raises `InputError`.
    Raises `InputError` (a missing table or column, a float money column, an object that is no
    table) and `ConfigError` with the CLI's messages."""
    cfg = None if config is None else _os.fspath(config)
    given = {"prices": prices, "registrations": registrations, "ladders": ladders, "retail": retail, "merchants": merchants}
    if dump is not None:
        if any(v is not None for v in given.values()):
            raise TypeError("audit(): give a dump directory or tables, not both")
        return Audit(_native.audit_dir(_os.fspath(dump), cfg, tz, strict))
    tables = {k: _arrow_source(v, k) for k, v in given.items() if v is not None}
    return Audit(_native.audit_tables(tables, cfg, tz, strict))


def audit_to(
    dump: PathLike,
    out: PathLike,
    *,
    outputs: Optional[Sequence[str]] = None,
    shares: Optional[int] = None,
    config: Optional[PathLike] = None,
    tz: Optional[str] = None,
    strict: bool = False,
) -> Dict[str, Any]:
    """`priceaudit audit DUMP --out OUT`: audit a dump directory and write the CLI's files into
    `out` (`outputs`: their names, default the CLI's), a large dump in shares so that memory holds
    two shares' registrations, audited two at a time (`shares`: how many; default as the CLI
    chooses). Returns
    `summary.json` as a dict. For dumps too large to hold as an `Audit`."""
    cfg = None if config is None else _os.fspath(config)
    names = None if outputs is None else list(outputs)
    text = _native.audit_to(_os.fspath(dump), _os.fspath(out), names, shares, cfg, tz, strict)
    return _json.loads(text)


def explain(
    dump: PathLike,
    registration: str,
    *,
    config: Optional[PathLike] = None,
    tz: Optional[str] = None,
    json: bool = False,
) -> Union[str, Dict[str, Any]]:
    """`priceaudit explain DUMP --registration ID`: how each rule judged the registration, with
    its facts and bounds (text; with `json=True` the CLI's JSON object as a dict)."""
    cfg = None if config is None else _os.fspath(config)
    out = _native.explain(_os.fspath(dump), registration, cfg, tz, json)
    return _json.loads(out) if json else out
