"""Type stubs of priceaudit.spark (see spark.py for the documentation)."""

from typing import Any, Dict, List, Optional

ROW: str
PART: str
PART_START: str
BUCKET: str

class SparkAudit:
    """An audit's result on Spark."""

    findings: Any  # pyspark.sql.DataFrame with findings.csv's columns
    registrations: Any  # pyspark.sql.DataFrame with registrations.csv's columns
    rejects: Any  # pyspark.sql.DataFrame with rejects.csv's columns
    @property
    def summary(self) -> Dict[str, Any]:
        """The buckets' summaries added up (as summary.json)."""

def read_dump(spark: Any, path: str) -> Dict[str, Any]:
    """The dump's tables as Spark DataFrames, each row with its CLI row number in column ROW."""

def audit(
    prices: Any,
    registrations: Any,
    ladders: Any = None,
    retail: Any = None,
    merchants: Any = None,
    *,
    buckets: int = 64,
    config: Optional[str] = None,
    tz: Optional[str] = None,
    dump: str = "(spark)",
) -> SparkAudit:
    """Audit Spark DataFrames of the dump's tables in `buckets` buckets, one Spark task each."""

def merge_summaries(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Summaries of buckets added up."""
