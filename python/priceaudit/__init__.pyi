"""Type stubs of priceaudit's Python API (see __init__.py for the documentation)."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import pyarrow

PathLike = Union[str, os.PathLike[str]]

TABLES: Tuple[str, str, str, str, str]

class InputError(Exception):
    """The tables or the dump: a missing table or column, a float money column, an object that is
    no table, an unreadable file, a rejected row under strict=True (the CLI's message)."""

class ConfigError(Exception):
    """The config file or a setting such as tz= (the CLI's message)."""

class Audit:
    """An audit's result."""

    @property
    def findings(self) -> pyarrow.Table:
        """findings.csv's rows: rule, name, severity, registration_id, offer_id, sku_id,
        merchant_id, activity, observed, reference, threshold, evidence_table, evidence_row
        (uint64), evidence_ts, evidence_price, evidence_channel, message."""
    @property
    def registrations(self) -> pyarrow.Table:
        """registrations.csv's rows: one verdict per registration, the highest compliant price."""
    @property
    def rejects(self) -> pyarrow.Table:
        """rejects.csv's rows: table, line (uint64), column, reason, value."""
    @property
    def summary(self) -> Dict[str, Any]:
        """summary.json as a dict."""
    def write(self, out: PathLike, outputs: Optional[Sequence[str]] = None) -> List[str]:
        """Write the CLI's output files (byte-identical to `priceaudit audit`) into `out`."""

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
    """Audit a dump directory, or tables in memory (polars, pandas, pyarrow, DuckDB, anything with
    __arrow_c_stream__); raises InputError / ConfigError."""

def explain(
    dump: PathLike,
    registration: str,
    *,
    config: Optional[PathLike] = None,
    tz: Optional[str] = None,
    json: bool = False,
) -> Union[str, Dict[str, Any]]:
    """How each rule judged one registration (text, or the JSON object as a dict)."""
