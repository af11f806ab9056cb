//! Loading a dump directory (SPEC §2): find `NAME.csv` / `NAME.parquet`, parse money and time
//! exactly, and split good rows from rejects. This is the only place that turns text into money
//! and instants; it knows nothing of rules.

pub mod csv_scan;
pub mod money;
pub mod schema;

use crate::bail;
use crate::error::{Error, Result};
use crate::findings::Table;
use chrono_tz::Tz;
use csv_scan::CsvScan;
use polars::prelude::*;
use schema::Kind;
use std::path::{Path, PathBuf};

/// Name of the row-index column every loaded table carries (polars' 0-based record number).
pub const RN: &str = "rn";

/// Where a table came from, and how its record numbers map to the rows users see.
#[derive(Debug, Clone)]
pub struct Source {
    pub table: Table,
    pub path: PathBuf,
    pub format: Format,
}

#[derive(Debug, Clone)]
pub enum Format {
    Csv(Box<CsvScan>),
    Parquet,
}

impl Source {
    /// The row number SPEC §7 shows for a record: the CSV line (header = 1) or the 0-based
    /// Parquet row.
    pub fn row_of(&self, rn: u64) -> u64 {
        match &self.format {
            Format::Csv(scan) => scan.line_of(rn),
            Format::Parquet => rn,
        }
    }

    pub fn is_csv(&self) -> bool {
        matches!(self.format, Format::Csv(_))
    }
}

/// A row that was not used, and why (SPEC §2 "Bad input").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Reject {
    pub table: &'static str,
    /// CSV line (header = 1) or Parquet row index.
    pub line: u64,
    pub column: String,
    pub reason: String,
    pub value: String,
}

/// One table after validation. The three counts come from three places, so that a row lost
/// between them shows: `read` from the source itself (the CSV byte scan's records, the Parquet
/// footer's row count), `used` where the good rows are consumed (the validation pass counts the
/// rows no check refused; the held tables are counted after their duplicates are dropped) and
/// `rejected` from the reject list.
pub struct Loaded {
    pub source: Source,
    /// Records in the source (blank CSV lines not counted).
    pub read: u64,
    /// Rows that passed validation and were kept (rows of unregistered SKUs included: valid,
    /// and not needed).
    pub used: u64,
    /// Blank lines skipped in a CSV file.
    pub blank_lines: u64,
    pub rejected: u64,
    /// Optional columns the file has.
    pub present: Vec<String>,
}

impl Loaded {
    /// SPEC §2: rows read = rows used + rows rejected.
    pub fn reconciled(&self) -> bool {
        self.used.checked_add(self.rejected) == Some(self.read)
    }
}

/// Every table reconciled, else an internal error naming the table and the three counts ("rows
/// lost": a row that was neither used nor rejected, or counted twice).
pub fn reconcile(tables: &[Loaded]) -> Result<()> {
    for t in tables.iter().filter(|t| !t.reconciled()) {
        return Err(Error::internal(format!(
            "rows lost: {}: {} rows read, {} used, {} rejected",
            t.source.path.display(),
            t.read,
            t.used,
            t.rejected
        )));
    }
    Ok(())
}

/// Find `NAME.csv` or `NAME.parquet` in `dir`.
pub fn find_table(dir: &Path, t: Table) -> Result<Option<PathBuf>> {
    let csv = dir.join(format!("{}.csv", t.as_str()));
    let pq = dir.join(format!("{}.parquet", t.as_str()));
    match (csv.is_file(), pq.is_file()) {
        (true, true) => bail!("{}: both {}.csv and {}.parquet exist; keep one", dir.display(), t.as_str(), t.as_str()),
        (true, false) => Ok(Some(csv)),
        (false, true) => Ok(Some(pq)),
        (false, false) => Ok(None),
    }
}

/// Open a table as a lazy frame with its raw columns and `rn`, check the required columns.
fn open(path: &Path, t: Table) -> Result<(LazyFrame, Source, Schema)> {
    let name = path.display().to_string();
    let is_csv = path.extension().is_some_and(|e| e == "csv");
    let (lf, format) = if is_csv {
        let bytes = std::fs::read(path).map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
        if bytes.is_empty() {
            bail!("{name}: the file is empty (no header row)");
        }
        if std::str::from_utf8(&bytes).is_err() {
            let bad = std::str::from_utf8(&bytes).unwrap_err();
            let line = bytes[..bad.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            bail!("{name}: line {line}: the file is not UTF-8");
        }
        let scan = csv_scan::scan(&bytes);
        drop(bytes);
        let lf = LazyCsvReader::new(polars_path(path))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_truncate_ragged_lines(true)
            .with_glob(false)
            .with_row_index(Some(RowIndex { name: RN.into(), offset: 0 }))
            .finish()
            .map_err(|e| Error::new(format!("{name}: cannot read as CSV: {e}")))?;
        (lf, Format::Csv(Box::new(scan)))
    } else {
        let args = ScanArgsParquet {
            row_index: Some(RowIndex { name: RN.into(), offset: 0 }),
            glob: false,
            ..Default::default()
        };
        let lf = LazyFrame::scan_parquet(polars_path(path), args)
            .map_err(|e| Error::new(format!("{name}: cannot read as Parquet: {e}")))?;
        (lf, Format::Parquet)
    };
    let mut lf = lf;
    let schema = lf.collect_schema().map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
    for col in schema::columns(t).iter().filter(|c| c.required) {
        if !schema.contains(col.name) {
            bail!("{name}: missing required column `{}`", col.name);
        }
    }
    Ok((lf, Source { table: t, path: path.to_path_buf(), format }, (*schema).clone()))
}

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// `true` where a raw column is empty: null, or `""` (polars reads an unquoted empty CSV field as
/// null and a quoted one as `""`).
fn missing(name: &str, dtype: &DataType) -> Expr {
    if dtype == &DataType::String {
        col(name).is_null().or(col(name).eq(lit("")))
    } else {
        col(name).is_null()
    }
}

/// A raw column as text (no copy when it already is text).
fn text(name: &str, dtype: &DataType) -> Expr {
    if dtype == &DataType::String {
        col(name)
    } else {
        col(name).cast(DataType::String)
    }
}

/// The time-parsing UDF: text → UTC microseconds, null where not a valid timestamp.
fn parse_times(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.str()?;
        let out: Int64Chunked = ca
            .iter()
            .map(|o| o.and_then(|s| crate::time::parse_instant(s, &tz).ok()).and_then(crate::time::in_range))
            .collect();
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

/// Naive Parquet timestamps (local micros) → UTC micros in the run's zone.
fn naive_to_utc(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.i64()?;
        let out: Int64Chunked = ca
            .iter()
            .map(|o| o.and_then(|v| crate::time::naive_micros_to_utc(v, &tz).ok()).and_then(crate::time::in_range))
            .collect();
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

/// Zoned Parquet timestamps (UTC micros) outside the range of SPEC §3's forms → null.
fn instants_in_range(c: Column) -> PolarsResult<Column> {
    let out: Int64Chunked = c.i64()?.iter().map(|o| o.and_then(crate::time::in_range)).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// Is each eligibility metric cell a decimal outside SPEC §2's numeric domain (> 28 integer
/// digits or > 10 decimal places by value)? Its sums over a group (E306, E308) then stay exact.
/// Text that is no decimal is not refused here: the metric is then not checked (SPEC §5.3).
fn metric_out_of_domain(c: Column) -> PolarsResult<Column> {
    let out: BooleanChunked =
        c.str()?.iter().map(|o| o.and_then(crate::money::Dec::parse).is_some_and(|d| !d.in_money_domain())).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

fn bool_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::Boolean))
}

fn int64_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::Int64))
}

/// Name of the typed value of a column that needs converting.
fn typed(name: &str) -> String {
    format!("__v_{name}")
}

/// A column's typed value (`None`: the raw column is the value) and the checks that reject a
/// row, in order: `(bad, reason)`. Checks read the raw column and the typed one (`v`), so each
/// conversion runs once.
struct Parsed {
    value: Option<Expr>,
    checks: Vec<(Expr, String)>,
}

fn parse_column(
    name: &str,
    kind: Kind,
    required: bool,
    dtype: &DataType,
    tz: Tz,
    profiles: &[String],
) -> Result<Parsed> {
    let raw = text(name, dtype);
    let empty = missing(name, dtype);
    let v = col(typed(name));
    let as_text = (dtype != &DataType::String).then(|| raw.clone());
    let mut checks = Vec::new();
    let value = match kind {
        Kind::Key => {
            checks.push((empty, "empty key".to_string()));
            as_text
        }
        Kind::OptKey => Some(when(empty).then(lit("")).otherwise(raw)),
        Kind::Text => as_text,
        Kind::Metric => {
            checks.push((
                raw.map(metric_out_of_domain, bool_field).fill_null(lit(false)),
                format!("{name} out of range (at most 28 integer digits and 10 decimal places)"),
            ));
            as_text
        }
        Kind::Activity => {
            let known = Series::new("known".into(), profiles);
            checks.push((empty, "empty activity".to_string()));
            checks.push((
                raw.is_in(lit(known).implode(false), false).fill_null(lit(false)).not(),
                "unknown activity".to_string(),
            ));
            as_text
        }
        Kind::PriceKind => {
            checks.push((empty, "empty kind".to_string()));
            checks.push((
                raw.clone().eq(lit("txn")).or(raw.eq(lit("list"))).fill_null(lit(false)).not(),
                "unknown kind".to_string(),
            ));
            as_text
        }
        Kind::Money => {
            // one UDF for every physical type; an empty cell stays null (missing), a cell
            // outside the domain becomes null too and is refused here ([`BAD_MONEY`], whose
            // reason the reject names from the cell, `money::why`)
            let p = money::Physical::of(name, dtype)?;
            if required {
                checks.push((empty.clone(), "missing price".to_string()));
            }
            checks.push((empty.not().and(v.is_null()), BAD_MONEY.to_string()));
            Some(col(name).map(money::to_money(p), |_, f| Ok(Field::new(f.name().clone(), money::money_dtype()))))
        }
        Kind::Time => {
            let value = match dtype {
                DataType::Datetime(_, Some(_)) => {
                    col(name).dt().timestamp(TimeUnit::Microseconds).map(instants_in_range, int64_field)
                }
                DataType::Datetime(_, None) => {
                    col(name).dt().timestamp(TimeUnit::Microseconds).map(naive_to_utc(tz), int64_field)
                }
                DataType::Date => col(name)
                    .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                    .dt()
                    .timestamp(TimeUnit::Microseconds)
                    .map(naive_to_utc(tz), int64_field),
                _ => raw.map(parse_times(tz), int64_field),
            };
            if required {
                checks.push((empty.clone(), "missing timestamp".to_string()));
            }
            checks.push((empty.not().and(v.is_null()), "bad timestamp".to_string()));
            Some(value)
        }
        Kind::MinQty => {
            let shape = raw.clone().str().contains(lit(r"^\+?[0-9]{1,18}$"), true).fill_null(lit(false));
            checks.push((v.gt_eq(lit(1i64)).fill_null(lit(false)).not(), "min_qty is not an integer ≥ 1".to_string()));
            Some(when(shape).then(raw.cast(DataType::Int64)).otherwise(lit(NULL).cast(DataType::Int64)))
        }
    };
    Ok(Parsed { value, checks })
}

/// A validated table, still lazy: raw columns, typed values (`__v_*`) and `__code`, the index of
/// the first failing check (null = good row) into `checks`.
pub struct Validated {
    pub lf: LazyFrame,
    pub source: Source,
    pub present: Vec<String>,
    pub records: u64,
    pub blank_lines: u64,
    /// (column, reason) of each reject code.
    checks: Vec<(String, String)>,
    /// The expression of each SPEC column in the good rows (typed, or raw, or a null literal).
    outputs: Vec<Expr>,
    /// The scan before validation (raw columns and `rn`), to quote rejected rows.
    raw: LazyFrame,
    /// How each money column is stored (a reject's reason depends on it).
    money: Vec<(String, money::Physical)>,
    /// Rows no check refused, counted by the validation as each batch passes it.
    valid: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

const CODE: &str = "__code";

/// The reason of a money cell outside the domain; the reject names the precise one.
const BAD_MONEY: &str = "bad money";

/// Validate `t` from `path`: parse every column once, then compute each row's reject code.
pub fn validate(path: &Path, t: Table, tz: Tz, profiles: &[String]) -> Result<Validated> {
    let (mut lf, source, schema) = open(path, t)?;
    if let Format::Csv(scan) = &source.format {
        if !scan.blank.is_empty() {
            // polars reads a blank line as an all-null row; it is not a row of the table.
            let blank = Series::new("blank".into(), scan.blank.iter().map(|r| *r as u32).collect::<Vec<_>>());
            lf = lf.filter(col(RN).is_in(lit(blank).implode(false), false).not());
        }
    }
    let raw = lf.clone();
    let file = path.display().to_string();
    let mut checks: Vec<(Expr, String, String)> = Vec::new();
    let mut values = Vec::new();
    let mut outputs = Vec::new();
    let mut present = Vec::new();
    let mut money_columns = Vec::new();
    let (records, blank_lines) = match &source.format {
        Format::Csv(scan) => {
            if !scan.ragged.is_empty() {
                let s = Series::new("ragged".into(), scan.ragged.iter().map(|(r, _)| *r as u32).collect::<Vec<_>>());
                let why = format!("wrong number of fields (header has {})", scan.header_fields);
                checks.push((col(RN).is_in(lit(s).implode(false), false), String::new(), why));
            }
            (scan.records - scan.blank.len() as u64, scan.blank.len() as u64)
        }
        Format::Parquet => (0, 0),
    };
    for spec in schema::columns(t) {
        let Some(dtype) = schema.get(spec.name) else {
            // An optional column the file does not have: all null ("" for ladder sku_id).
            let v = match spec.kind {
                Kind::OptKey => lit(""),
                Kind::Time => lit(NULL).cast(DataType::Int64),
                Kind::Money => lit(NULL).cast(money::money_dtype()),
                _ => null_str(),
            };
            outputs.push(v.alias(spec.name));
            continue;
        };
        present.push(spec.name.to_string());
        if spec.kind == Kind::Money {
            let p = money::Physical::of(spec.name, dtype).map_err(|e| Error::new(format!("{file}: {}", e.message)))?;
            money_columns.push((spec.name.to_string(), p));
        }
        let p = parse_column(spec.name, spec.kind, spec.required, dtype, tz, profiles)
            .map_err(|e| Error::new(format!("{file}: {}", e.message)))?;
        for (bad, reason) in p.checks {
            checks.push((bad, spec.name.to_string(), reason));
        }
        match p.value {
            Some(v) => {
                values.push(v.alias(typed(spec.name)));
                outputs.push(col(typed(spec.name)).alias(spec.name));
            }
            None => outputs.push(col(spec.name)),
        }
    }
    // Cross-column checks, on parsed values, after every single-column check.
    let v = |n: &str| col(typed(n));
    match t {
        Table::Prices if present.iter().any(|c| c == "until") => {
            checks.push((v("until").lt_eq(v("ts")).fill_null(lit(false)), "until".into(), "until not after ts".into()))
        }
        Table::Registrations => checks.push((
            v("promo_end").lt(v("promo_start")).fill_null(lit(false)),
            "promo_end".into(),
            "promo_end before promo_start".into(),
        )),
        _ => {}
    }
    if !values.is_empty() {
        lf = lf.with_columns(values);
    }
    let valid = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    lf = lf.with_column(
        first_failing(checks.iter().map(|(cond, _, _)| cond.clone()).collect(), valid.clone()).alias(CODE),
    );
    let checks = checks.into_iter().map(|(_, c, r)| (c, r)).collect();
    Ok(Validated { lf, source, present, records, blank_lines, checks, outputs, raw, money: money_columns, valid })
}

/// Each row's first failing check (its index in `checks`; a null check counts as passing), null
/// for a good row. One UDF over the checks' boolean columns: a batch without a bad row (the usual
/// case) costs one `any` per check. (Was a nested when/then chain, which ran an if-then-else per
/// check over every row.)
///
/// It also counts the rows it passes (`valid`): the "used" side of the reconciliation, counted
/// where the rows are validated rather than derived from the rejects.
fn first_failing(checks: Vec<Expr>, valid: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Expr {
    use std::sync::atomic::Ordering::Relaxed;
    let Some((first, rest)) = checks.split_first() else {
        // no check at all: every row passes (a table with only its row index cannot happen: it
        // has required columns, each with a check)
        return lit(NULL).cast(DataType::UInt32);
    };
    let code = move |cols: &mut [Column]| -> PolarsResult<Column> {
        let n = cols.iter().map(|c| c.len()).max().unwrap_or(0);
        let bools = cols.iter().map(|c| c.bool()).collect::<PolarsResult<Vec<_>>>()?;
        if !bools.iter().any(|b| b.any()) {
            valid.fetch_add(n as u64, Relaxed);
            return Ok(UInt32Chunked::full_null(CODE.into(), n).into_column());
        }
        let mut out: Vec<Option<u32>> = vec![None; n];
        // the last check first, so that the first failing one is written last
        for (i, b) in bools.iter().enumerate().rev() {
            if b.len() == 1 && n > 1 {
                if b.get(0) == Some(true) {
                    out.iter_mut().for_each(|o| *o = Some(i as u32));
                }
                continue;
            }
            for (o, v) in out.iter_mut().zip(b.iter()) {
                if v == Some(true) {
                    *o = Some(i as u32);
                }
            }
        }
        valid.fetch_add(out.iter().filter(|o| o.is_none()).count() as u64, Relaxed);
        Ok(UInt32Chunked::from_iter_options(CODE.into(), out.into_iter()).into_column())
    };
    first.clone().map_many(code, rest, |_, _| Ok(Field::new(CODE.into(), DataType::UInt32)))
}

/// Is each row's channel named (not null, not empty) and not one of SPEC's known channels? One
/// UDF: `is_in` over a literal list became a hash semi-join in polars' streaming engine, and
/// with the null and empty tests cost 4% of the price pass; comparing each row's text was
/// still 5%. A string of at most 12 bytes is held whole in its 16-byte view (length, then the
/// bytes, zero-padded), so most rows are one compare of that view against the known names'.
fn unknown_channel(channel: Expr) -> Expr {
    let inline = |s: &str| -> Option<u128> {
        (s.len() <= 12).then(|| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            b[4..4 + s.len()].copy_from_slice(s.as_bytes());
            u128::from_le_bytes(b)
        })
    };
    let mut fast: Vec<u128> = crate::profile::KNOWN_CHANNELS.iter().filter_map(|c| inline(c)).collect();
    fast.extend(inline("")); // empty: regular, not unknown
    let f = move |cols: &mut [Column]| -> PolarsResult<Column> {
        let ca = cols[0].str()?;
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            for (i, v) in arr.views().iter().enumerate() {
                // a view equal to a known name's is that name; anything else is checked as text
                let unknown = !fast.contains(&v.as_u128())
                    && arr.get(i).is_some_and(|v| !v.is_empty() && !crate::profile::KNOWN_CHANNELS.contains(&v));
                out.push(unknown);
            }
        }
        Ok(BooleanChunked::from_slice("__unknown".into(), &out).into_column())
    };
    channel.cast(DataType::String).map_many(f, &[], |_, _| Ok(Field::new("__unknown".into(), DataType::Boolean)))
}

/// The outputs of one table's validation query.
struct Split {
    good: DataFrame,
    rejects: Vec<Reject>,
    /// Records in the source (blank lines not counted): the CSV byte scan's, the Parquet footer's.
    total: u64,
    /// Rows that passed validation in this pass (counted by the validation itself).
    valid: u64,
    /// Good rows per raw `channel` (prices only).
    channels: Option<DataFrame>,
}

/// What a streaming pass hands each batch of good rows to.
pub type BatchVisitor<'a> = dyn FnMut(&DataFrame) -> Result<()> + 'a;

/// One batch of a validation pass, split: the good rows to keep, the rejected rows' (`rn`,
/// code) and the raw channel of good rows of unknown channels.
struct Parts {
    good: DataFrame,
    rejected: DataFrame,
    unknown: Option<DataFrame>,
}

impl Parts {
    fn of(df: &DataFrame, good_cols: &[PlSmallStr], channels: bool) -> Result<Parts> {
        // usually every row of the pass is kept: then no filter (a copy of the rows)
        let keep = df.column("__keep")?.bool()?;
        let good = if keep.sum().unwrap_or(0) as usize == df.height() {
            df.select(good_cols.iter().cloned())?
        } else {
            df.filter(keep)?.select(good_cols.iter().cloned())?
        };
        let code = df.column(CODE)?;
        let rejected = if code.null_count() == df.height() {
            df.select([RN, CODE])?.head(Some(0))
        } else {
            df.filter(&code.is_not_null())?.select([RN, CODE])?
        };
        let unknown = if channels {
            let u = df.column("__unknown")?.bool()?;
            (u.any()).then(|| df.filter(u).and_then(|d| d.select(["__unknown_channel"]))).transpose()?
        } else {
            None
        };
        Ok(Parts { good, rejected, unknown })
    }
}

/// Run `plan` on the streaming engine, handing its output batch by batch to `visit` on this
/// thread (polars' threads keep decoding meanwhile); the output is never held whole.
fn stream_batches(plan: LazyFrame, file: &str, visit: &mut dyn FnMut(DataFrame) -> Result<()>) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(2);
    let plan = plan.sink_batches(PlanCallback::new(move |df: DataFrame| Ok(tx.send(df).is_err())), false, None)?;
    let runner = std::thread::spawn(move || plan.collect_with_engine(Engine::Streaming).map(|_| ()));
    let mut failed = None;
    for df in rx.iter() {
        if let Err(e) = visit(df) {
            failed = Some(e);
            break; // dropping the receiver stops the pass
        }
    }
    drop(rx);
    let ran = runner.join().map_err(|_| Error::new(format!("{file}: the streaming pass panicked")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    ran.map_err(|e| Error::new(format!("{file}: {e}")))
}

/// Run one validated table in one streaming pass over the file. Its output is the union of the
/// rejected rows (with their raw text), the good rows to keep (of registered SKUs when `keys` is
/// given, with their dense key `k`) and, for prices, the good rows of unknown channels (to name
/// them in the summary); a second, unvalidated pass only counts the rows.
///
/// `project`: the good rows' columns (named expressions over the typed columns), computed in the
/// same pass so that columns no later stage reads are never materialised; `None`: every column.
fn split(
    v: &Validated,
    keys: Option<&DataFrame>,
    channels: bool,
    tz: Tz,
    project: Option<Vec<(&str, Expr)>>,
    sink: Option<&mut BatchVisitor>,
) -> Result<Split> {
    let file = v.source.path.display().to_string();
    let bad = col(CODE).is_not_null();
    let mut lf = v.lf.clone();
    let mut keep = bad.clone().not();
    if let Some(keys) = keys {
        lf = lf.with_column(registered_key(keys)?.alias("k"));
        keep = keep.and(col("k").neq(lit(NOT_REGISTERED)));
    }
    let channels = channels && v.present.iter().any(|c| c == "channel");
    let unknown = if channels {
        // computed once, as a column: the filter and the select below both read it
        lf = lf.with_column(unknown_channel(col("channel")).alias("__unknown_name"));
        bad.clone().not().and(col("__unknown_name"))
    } else {
        lit(false)
    };
    let mut select = vec![col(RN), col(CODE), keep.clone().alias("__keep"), unknown.clone().alias("__unknown")];
    if keys.is_some() {
        select.push(col("k"));
    }
    select.extend(v.outputs.iter().cloned());
    if channels {
        select.push(col("channel").alias("__unknown_channel"));
    }
    let mut main = lf.filter(bad.clone().or(keep).or(unknown)).select(select);
    let mut good_cols: Vec<PlSmallStr> = vec![RN.into()];
    if keys.is_some() {
        good_cols.push("k".into());
    }
    match project {
        Some(p) => {
            let mut narrow = vec![col(RN), col(CODE), col("__keep"), col("__unknown")];
            narrow.extend(keys.is_some().then(|| col("k")));
            narrow.extend(channels.then(|| col("__unknown_channel")));
            good_cols.extend(p.iter().map(|(n, _)| PlSmallStr::from(*n)));
            narrow.extend(p.into_iter().map(|(n, e)| e.alias(n)));
            main = main.select(narrow);
        }
        None => good_cols.extend(schema::columns(v.source.table).iter().map(|c| PlSmallStr::from(c.name))),
    }
    let t0 = std::time::Instant::now();
    let valid0 = v.valid.load(std::sync::atomic::Ordering::SeqCst);
    let (good, rejected, unknown) = match sink {
        None => {
            let df = main
                .collect_with_engine(Engine::Streaming)
                .map_err(|e| Error::new(format!("{file}: {e}")))?
                .unwrap_single();
            let parts = Parts::of(&df, &good_cols, channels)?;
            (parts.good, parts.rejected, parts.unknown)
        }
        Some(sink) => {
            let (mut rejected, mut unknown) = (Vec::new(), Vec::new());
            stream_batches(main, &file, &mut |df| {
                let parts = Parts::of(&df, &good_cols, channels)?;
                sink(&parts.good)?;
                rejected.push(parts.rejected);
                unknown.extend(parts.unknown);
                Ok(())
            })?;
            let rejected = match rejected.len() {
                0 => DataFrame::empty_with_schema(&Schema::from_iter([
                    Field::new(RN.into(), IDX_DTYPE),
                    Field::new(CODE.into(), DataType::UInt32),
                ])),
                _ => concat(rejected.into_iter().map(|d| d.lazy()).collect::<Vec<_>>(), UnionArgs::default())?
                    .collect()?,
            };
            let unknown = (!unknown.is_empty()).then(|| {
                concat(unknown.into_iter().map(|d| d.lazy()).collect::<Vec<_>>(), UnionArgs::default())
                    .and_then(|l| l.collect())
            });
            (DataFrame::empty(), rejected, unknown.transpose()?)
        }
    };
    let valid = v.valid.load(std::sync::atomic::Ordering::SeqCst) - valid0;
    let total = source_rows(v)?;
    if std::env::var("PRICEAUDIT_TIMINGS").is_ok_and(|x| x == "2") {
        eprintln!("  {file}: one pass {:.3} s, {} rows kept", t0.elapsed().as_secs_f64(), good.height());
    }
    if let Format::Csv(_) = &v.source.format {
        if total != v.records {
            bail!("{file}: polars read {total} records but the file has {} (an unusual quoting?); cannot give exact line numbers", v.records);
        }
    }
    let rejected = rejected.lazy().sort([RN], Default::default()).collect()?;
    // the raw text of rejected rows (to quote in rejects.csv): a second pass, only when there are any
    let rejected = if rejected.height() == 0 {
        rejected
    } else {
        let rns = Series::new(
            "r".into(),
            rejected.column(RN)?.cast(&DataType::UInt32)?.u32()?.iter().flatten().collect::<Vec<u32>>(),
        );
        let raw: Vec<Expr> =
            v.present.iter().map(|c| col(c.as_str()).cast(DataType::String).alias(format!("{RAW}{c}"))).collect();
        let text = v
            .raw
            .clone()
            .filter(col(RN).is_in(lit(rns).implode(false), false))
            .select(std::iter::once(col(RN)).chain(raw).collect::<Vec<_>>());
        rejected
            .lazy()
            .join(text, [col(RN)], [col(RN)], JoinArgs::new(JoinType::Left))
            .sort([RN], Default::default())
            .collect()?
    };
    let channels = if channels {
        let empty = || {
            DataFrame::empty_with_schema(&Schema::from_iter([Field::new("__unknown_channel".into(), DataType::String)]))
        };
        Some(
            unknown
                .unwrap_or_else(empty)
                .lazy()
                .group_by([col("__unknown_channel").alias("channel")])
                .agg([len().alias("n")])
                .collect()?,
        )
    } else {
        None
    };
    Ok(Split { good, rejects: reject_rows(&rejected, v, tz)?, total, valid, channels })
}

const RAW: &str = "__raw_";

/// A file's path as polars reads it: absolute and without `.` or `..` (its async reader, which
/// the CLI uses, rejects `..` segments: `audit ../dump` failed). Messages keep the user's path.
fn polars_path(path: &Path) -> PlRefPath {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    PlRefPath::new(p.to_string_lossy().as_ref())
}

/// Records in the source (blank CSV lines excluded): for CSV polars' own count, which the caller
/// checks against the byte scan's; for Parquet the footer's row count.
fn source_rows(v: &Validated) -> Result<u64> {
    let n = match &v.source.format {
        Format::Csv(scan) => {
            // polars' own record count, to check that its records are the scan's records
            let lf = LazyCsvReader::new(polars_path(&v.source.path))
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_truncate_ragged_lines(true)
                .with_glob(false)
                .finish()?;
            let n = lf
                .select([len().alias("n")])
                .collect()?
                .column("n")?
                .cast(&DataType::UInt64)?
                .u64()?
                .get(0)
                .unwrap_or(0);
            n - scan.blank.len() as u64
        }
        Format::Parquet => {
            let file = std::fs::File::open(&v.source.path)
                .map_err(|e| Error::new(format!("{}: cannot read: {e}", v.source.path.display())))?;
            ParquetReader::new(file)
                .num_rows()
                .map_err(|e| Error::new(format!("{}: cannot read the Parquet footer: {e}", v.source.path.display())))?
                as u64
        }
    };
    Ok(n)
}

/// Rejects from the rejected rows' raw columns and codes.
fn reject_rows(df: &DataFrame, v: &Validated, tz: Tz) -> Result<Vec<Reject>> {
    let rn = df.column(RN)?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    let code = df.column(CODE)?.u32()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (column, reason) = &v.checks[code.get(i).unwrap_or(0) as usize];
        let value = if column.is_empty() {
            String::new()
        } else {
            df.column(&format!("{RAW}{column}"))?.str()?.get(i).unwrap_or("").to_string()
        };
        let mut why = reason.clone();
        if why == "bad timestamp" {
            why = match crate::time::parse_instant(&value, &tz) {
                Err(crate::time::TimeError::NonExistent) => {
                    "bad timestamp (does not exist in the zone: a DST gap)".into()
                }
                Ok(t) if crate::time::in_range(t).is_none() => "bad timestamp (outside the years 1 to 9999)".into(),
                _ => "bad timestamp (not RFC 3339, YYYY-MM-DD[ HH:MM:SS] or a real date)".into(),
            };
        } else if why == BAD_MONEY {
            let p = v.money.iter().find(|(c, _)| c == column).map_or(money::Physical::Text, |(_, p)| *p);
            why = money::why(&value, p).reason();
        }
        out.push(Reject {
            table: v.source.table.as_str(),
            line: v.source.row_of(rn.get(i).unwrap_or(0)),
            column: column.clone(),
            reason: why,
            value,
        });
    }
    Ok(out)
}

/// A loaded, validated dump: typed good rows, with prices and retail narrowed to registered SKUs.
pub struct Dump {
    pub dir: PathBuf,
    /// Good registrations, first of each id kept, with `k` (dense SKU key) — in file order.
    pub registrations: DataFrame,
    /// Good prices rows of registered SKUs: held, or still to be read by one pass.
    pub prices: Prices,
    /// Good ladder tiers, first of each (offer, SKU, min_qty) kept; `None` when the table is absent.
    pub ladders: Option<DataFrame>,
    /// Good retail rows of registered SKUs, with `k`; `None` when the table is absent.
    pub retail: Option<DataFrame>,
    pub tables: Vec<Loaded>,
    pub rejects: Vec<Reject>,
    /// Channel names outside SPEC's list, with their good row counts.
    pub unknown_channels: Vec<(String, u64)>,
    /// Optional columns present in `registrations`.
    pub registration_columns: Vec<String>,
}

impl Dump {
    pub fn source(&self, t: Table) -> Option<&Source> {
        self.tables.iter().find(|l| l.source.table == t).map(|l| &l.source)
    }

    /// Empty the registrations, ladders and retail frames (the facts call this once they have
    /// read them; the tables' counts, sources and rejects stay).
    pub fn drop_frames(&mut self) {
        self.registrations = DataFrame::empty();
        for t in [&mut self.ladders, &mut self.retail].into_iter().flatten() {
            *t = DataFrame::empty();
        }
    }

    /// The held price rows (`None` when they were streamed).
    pub fn price_rows(&self) -> Option<&DataFrame> {
        match &self.prices {
            Prices::Rows(df) => Some(df),
            _ => None,
        }
    }

    /// Hand every good price row of a registered SKU to `visit` (columns `rn`, `k`, `ts`,
    /// `price`, `is_list`, `channel`, `until`): the held frame at once, or batch by batch
    /// from the one streaming pass over the file, which then also counts the table's rows,
    /// rejects and unknown channels. A streamed table can be passed over only once.
    pub fn pass_prices(&mut self, visit: &mut BatchVisitor) -> Result<()> {
        match std::mem::replace(&mut self.prices, Prices::Passed) {
            Prices::Rows(df) => {
                visit(&df)?;
                self.prices = Prices::Rows(df);
            }
            Prices::Pending(p) => {
                let s = crate::timing("load prices", || p.split(Some(visit)))?;
                let t = self.tables.iter_mut().find(|l| l.source.table == Table::Prices).expect("prices recorded");
                t.read = s.total;
                t.used = s.valid;
                t.rejected = s.rejects.len() as u64;
                self.rejects.extend(s.rejects);
                self.rejects.sort_by(|a, b| (a.table, a.line, &a.column).cmp(&(b.table, b.line, &b.column)));
                self.unknown_channels = unknown_channel_counts(s.channels.as_ref())?;
            }
            Prices::Passed => bail!("the price rows were streamed already"),
        }
        Ok(())
    }
}

/// Good price rows of registered SKUs.
pub enum Prices {
    /// Held (explain, tests).
    Rows(DataFrame),
    /// Not read yet: [`Dump::pass_prices`] streams them.
    Pending(Box<PendingPrices>),
    /// Streamed once, or dropped.
    Passed,
}

/// The validated price table and what its pass keeps.
pub struct PendingPrices {
    v: Validated,
    keys: DataFrame,
    project: Vec<(&'static str, Expr)>,
    tz: Tz,
}

impl PendingPrices {
    fn split(&self, sink: Option<&mut BatchVisitor>) -> Result<Split> {
        split(&self.v, Some(&self.keys), true, self.tz, Some(self.project.clone()), sink)
    }
}

/// Unknown channel names and their good row counts, from a pass's per-channel counts.
fn unknown_channel_counts(ch: Option<&DataFrame>) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    if let Some(ch) = ch {
        let names = ch.column("channel")?.str()?;
        let n = ch.column("n")?.cast(&DataType::UInt64)?;
        let n = n.u64()?;
        for i in 0..ch.height() {
            if let Some(name) = names.get(i).filter(|n| !n.is_empty()) {
                if !crate::profile::KNOWN_CHANNELS.contains(&name) {
                    out.push((name.to_string(), n.get(i).unwrap_or(0)));
                }
            }
        }
        out.sort();
    }
    Ok(out)
}

/// Mark later duplicates of `key` among good rows as rejects (the first in file order is kept).
fn dedupe(
    good: DataFrame,
    key: &[&str],
    column: &str,
    reason: &str,
    source: &Source,
) -> Result<(DataFrame, Vec<Reject>)> {
    let keys: Vec<Expr> = key.iter().map(|k| col(*k)).collect();
    let marked = good.lazy().with_column(col(RN).min().over(keys)?.neq(col(RN)).alias("__dup")).collect()?;
    let dups = marked.clone().lazy().filter(col("__dup")).select([col(RN), col(column)]).collect()?;
    let kept = marked.lazy().filter(col("__dup").not()).drop(cols(["__dup"])).collect()?;
    let rn = dups.column(RN)?.cast(&DataType::UInt64)?;
    let vals = dups.column(column)?.cast(&DataType::String)?;
    let rejects = rn
        .u64()?
        .iter()
        .zip(vals.str()?.iter())
        .map(|(r, v)| Reject {
            table: source.table.as_str(),
            line: source.row_of(r.unwrap_or(0)),
            column: column.into(),
            reason: reason.into(),
            value: v.unwrap_or("").into(),
        })
        .collect();
    Ok((kept, rejects))
}

/// `k` of a row whose SKU is not registered (a null key is a rejected row: it matches nothing).
const NOT_REGISTERED: IdxSize = IdxSize::MAX;

/// The dense SKU key `k` of each row's (`offer_id`, `sku_id`), [`NOT_REGISTERED`] when the SKU
/// is not registered: a hash lookup per row, in the pass's own threads. (Was a left join on the two
/// string keys: its probe and the gather of every string column of all rows were ~15% of the
/// price pass's CPU.) Keys compare as text, whatever the columns' types.
fn registered_key(keys: &DataFrame) -> Result<Expr> {
    let offers = keys.column("offer_id")?.cast(&DataType::String)?;
    let skus = keys.column("sku_id")?.cast(&DataType::String)?;
    let ks = keys.column("k")?.cast(&IDX_DTYPE)?;
    let ks = ks.idx()?;
    let mut map: PlHashMap<Vec<u8>, IdxSize> = PlHashMap::with_capacity(keys.height());
    let mut buf = Vec::new();
    for ((o, s), k) in offers.str()?.iter().zip(skus.str()?.iter()).zip(ks.iter()) {
        if let (Some(o), Some(s), Some(k)) = (o, s, k) {
            pair_key(&mut buf, o, s);
            map.entry(buf.clone()).or_insert(k);
        }
    }
    let map = std::sync::Arc::new(map);
    let lookup = move |c: &mut [Column]| -> PolarsResult<Column> {
        let (o, s) = (c[0].str()?.rechunk(), c[1].str()?.rechunk());
        let (o, s) = (o.downcast_as_array(), s.downcast_as_array());
        let mut out = Vec::with_capacity(o.len());
        let mut buf = Vec::with_capacity(64);
        // rows of one SKU usually come together: remember the last pair's key
        let mut last: Option<(&str, &str, IdxSize)> = None;
        for (o, s) in o.values_iter().zip(s.values_iter()) {
            let k = match last {
                Some((lo, ls, k)) if lo == o && ls == s => k,
                _ => {
                    pair_key(&mut buf, o, s);
                    let k = map.get(buf.as_slice()).copied().unwrap_or(NOT_REGISTERED);
                    last = Some((o, s, k));
                    k
                }
            };
            out.push(k);
        }
        Ok(IdxCa::from_vec("k".into(), out).into_column())
    };
    let text = |c: &str| col(c).cast(DataType::String);
    Ok(text("offer_id").map_many(lookup, &[text("sku_id")], |_, _| Ok(Field::new("k".into(), IDX_DTYPE))))
}

/// `(offer, sku)` as one unambiguous byte string: the offer's length, the offer, the SKU.
fn pair_key(buf: &mut Vec<u8>, offer: &str, sku: &str) {
    buf.clear();
    buf.extend_from_slice(&(offer.len() as u64).to_le_bytes());
    buf.extend_from_slice(offer.as_bytes());
    buf.extend_from_slice(sku.as_bytes());
}

/// Load and validate every table of the dump in `dir`.
///
/// `stream_prices`: leave the price rows to one later pass ([`Dump::pass_prices`]) instead of
/// holding them.
pub fn load(dir: &Path, tz: Tz, profiles: &[String], stream_prices: bool) -> Result<Dump> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let mut paths = Vec::new();
    for t in Table::ALL {
        match find_table(dir, t)? {
            Some(p) => paths.push((t, p)),
            None if schema::required(t) => bail!(
                "{}: missing table `{}` ({}.csv or {}.parquet)",
                dir.display(),
                t.as_str(),
                t.as_str(),
                t.as_str()
            ),
            None => {}
        }
    }
    // Validate every table first, so that a missing column anywhere fails before any work.
    let mut validated: Vec<Validated> = Vec::new();
    for (t, p) in &paths {
        validated.push(validate(p, *t, tz, profiles)?);
    }
    let take = |t: Table, v: &mut Vec<Validated>| v.iter().position(|x| x.source.table == t).map(|i| v.remove(i));
    let mut tables = Vec::new();
    let mut rejects = Vec::new();

    // `used`: the rows kept, counted where they are (a held table's frame after its
    // duplicates were dropped; the validation's count for a table narrowed to registered SKUs)
    let record = |v: &Validated, s: &Split, used: u64, dups: u64, tables: &mut Vec<Loaded>| {
        tables.push(Loaded {
            source: v.source.clone(),
            read: s.total,
            used,
            blank_lines: v.blank_lines,
            rejected: s.rejects.len() as u64 + dups,
            present: v.present.clone(),
        });
    };

    // registrations → keys
    let rv = take(Table::Registrations, &mut validated).expect("required");
    let rs = crate::timing("load registrations", || split(&rv, None, false, tz, None, None))?;
    let (regs, dup) =
        dedupe(rs.good.clone(), &["registration_id"], "registration_id", "duplicate registration_id", &rv.source)?;
    record(&rv, &rs, regs.height() as u64, dup.len() as u64, &mut tables);
    rejects.extend(rs.rejects.iter().cloned());
    rejects.extend(dup);
    let keys = regs
        .clone()
        .lazy()
        .select([col("offer_id"), col("sku_id")])
        .unique_stable(None, UniqueKeepStrategy::First)
        .with_row_index("k", None)
        .collect()?;
    let regs = regs
        .lazy()
        .join(
            keys.clone().lazy(),
            [col("offer_id"), col("sku_id")],
            [col("offer_id"), col("sku_id")],
            JoinArgs::new(JoinType::Left),
        )
        .sort([RN], Default::default())
        .collect()?;

    // prices of registered SKUs
    let pv = take(Table::Prices, &mut validated).expect("required");
    // held rows (explain reads them) name the regular channel; streamed rows go only to the
    // fold, which reads an empty or missing channel as `regular` itself (no if-then-else over
    // every row of the pass)
    let channel = if stream_prices {
        col("channel")
    } else {
        when(col("channel").is_null().or(col("channel").eq(lit("")))).then(lit("regular")).otherwise(col("channel"))
    };
    let project = vec![
        ("ts", col("ts")),
        ("price", col("price")),
        ("is_list", col("kind").eq(lit("list"))),
        ("channel", channel),
        ("until", col("until")),
    ];
    let pending = PendingPrices { v: pv, keys: keys.clone(), project, tz };
    let mut unknown_channels = Vec::new();
    let prices = if stream_prices {
        // read later, in one pass into the facts (`Dump::pass_prices`); counted then
        let v = &pending.v;
        tables.push(Loaded {
            source: v.source.clone(),
            read: 0,
            used: 0,
            blank_lines: v.blank_lines,
            rejected: 0,
            present: v.present.clone(),
        });
        Prices::Pending(Box::new(pending))
    } else {
        let ps = crate::timing("load prices", || pending.split(None))?;
        record(&pending.v, &ps, ps.valid, 0, &mut tables);
        rejects.extend(ps.rejects.iter().cloned());
        unknown_channels = unknown_channel_counts(ps.channels.as_ref())?;
        Prices::Rows(ps.good)
    };

    // ladders: every group
    let ladders = match take(Table::Ladders, &mut validated) {
        Some(lv) => {
            let ls = crate::timing("load ladders", || split(&lv, None, false, tz, None, None))?;
            rejects.extend(ls.rejects.iter().cloned());
            let (kept, dup) = dedupe(
                ls.good.clone(),
                &["offer_id", "sku_id", "min_qty"],
                "min_qty",
                "duplicate min_qty in ladder group",
                &lv.source,
            )?;
            record(&lv, &ls, kept.height() as u64, dup.len() as u64, &mut tables);
            rejects.extend(dup);
            Some(kept)
        }
        None => None,
    };

    // retail of registered SKUs
    let retail = match take(Table::Retail, &mut validated) {
        Some(tv) => {
            let project = ["observed_at", "price", "platform"].map(|c| (c, col(c))).to_vec();
            let ts = crate::timing("load retail", || split(&tv, Some(&keys), false, tz, Some(project), None))?;
            record(&tv, &ts, ts.valid, 0, &mut tables);
            rejects.extend(ts.rejects.iter().cloned());
            Some(ts.good)
        }
        None => None,
    };
    rejects.sort_by(|a, b| (a.table, a.line, &a.column).cmp(&(b.table, b.line, &b.column)));
    let registration_columns =
        tables.iter().find(|l| l.source.table == Table::Registrations).map(|l| l.present.clone()).unwrap_or_default();
    Ok(Dump {
        dir: dir.to_path_buf(),
        registrations: regs,
        prices,
        ladders,
        retail,
        tables,
        rejects,
        unknown_channels,
        registration_columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(read: u64, used: u64, rejected: u64) -> Loaded {
        Loaded {
            source: Source { table: Table::Prices, path: "d/prices.parquet".into(), format: Format::Parquet },
            read,
            used,
            blank_lines: 0,
            rejected,
            present: vec![],
        }
    }

    /// The reconciliation compares three counts from three places; a row lost (or counted twice)
    /// between them is an internal error naming the table.
    #[test]
    fn a_lost_row_fails_the_reconciliation() {
        assert!(reconcile(&[loaded(10, 7, 3)]).is_ok());
        let e = reconcile(&[loaded(10, 7, 3), loaded(10, 6, 3)]).unwrap_err();
        assert!(
            e.message.starts_with("internal error: rows lost: d/prices.parquet: 10 rows read, 6 used, 3 rejected"),
            "{e}"
        );
        assert_eq!(e.kind, crate::error::ErrorKind::Internal);
        assert!(reconcile(&[loaded(10, 8, 3)]).is_err(), "a row counted twice");
        assert!(reconcile(&[loaded(u64::MAX, u64::MAX, 1)]).is_err(), "no wrap");
    }
}
