//! Loading a dump directory (SPEC §2): find `NAME.csv` / `NAME.parquet`, parse money and time
//! exactly, and split good rows from rejects. This is the only place that turns text into money
//! and instants; it knows nothing of rules.

pub mod csv_scan;
pub mod schema;

use crate::bail;
use crate::error::{Error, Result};
use crate::findings::Table;
use crate::money::MONEY_REGEX;
use chrono_tz::Tz;
use csv_scan::CsvScan;
use polars::prelude::*;
use schema::Kind;
use std::path::{Path, PathBuf};

/// Name of the row-index column every loaded table carries (polars' 0-based record number).
pub const RN: &str = "rn";
const REJECT_COLUMN: &str = "__reject_column";
const REJECT_REASON: &str = "__reject_reason";

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

/// One table after validation.
pub struct Loaded {
    pub source: Source,
    /// Records read (blank lines not counted).
    pub read: u64,
    /// Blank lines skipped in a CSV file.
    pub blank_lines: u64,
    pub rejected: u64,
    /// Optional columns the file has.
    pub present: Vec<String>,
}

impl Loaded {
    pub fn used(&self) -> u64 {
        self.read - self.rejected
    }
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
        let lf = LazyCsvReader::new(PlRefPath::new(name.as_str()))
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
        let lf = LazyFrame::scan_parquet(PlRefPath::new(name.as_str()), args)
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

/// A raw column as text, with `""` (and polars' null) as null.
fn as_text(name: &str, dtype: &DataType) -> Expr {
    let c = col(name);
    let s = if dtype == &DataType::String { c } else { c.cast(DataType::String) };
    when(s.clone().str().len_bytes().eq(lit(0u32))).then(null_str()).otherwise(s)
}

/// The time-parsing UDF: text → UTC microseconds, null where not a valid timestamp.
fn parse_times(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.str()?;
        let out: Int64Chunked = ca.iter().map(|o| o.and_then(|s| crate::time::parse_instant(s, &tz).ok())).collect();
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

/// Naive Parquet timestamps (local micros) → UTC micros in the run's zone.
fn naive_to_utc(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.i64()?;
        let out: Int64Chunked =
            ca.iter().map(|o| o.and_then(|v| crate::time::naive_micros_to_utc(v, &tz).ok())).collect();
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

fn int64_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::Int64))
}

/// A column's parsed value and the checks that reject a row, in order: `(bad, reason)`.
struct Parsed {
    value: Expr,
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
    let text = as_text(name, dtype);
    let missing = text.clone().is_null();
    let mut checks = Vec::new();
    let value = match kind {
        Kind::Key => {
            checks.push((missing, "empty key".to_string()));
            text
        }
        Kind::OptKey => text.fill_null(lit("")),
        Kind::Text | Kind::Metric => text,
        Kind::Activity => {
            let known = Series::new("known".into(), profiles);
            let ok = text.clone().is_in(lit(known).implode(false), false).fill_null(lit(false));
            checks.push((missing.clone(), "empty activity".to_string()));
            checks.push((ok.not(), "unknown activity".to_string()));
            text
        }
        Kind::PriceKind => {
            checks.push((missing.clone(), "empty kind".to_string()));
            let ok = text.clone().eq(lit("txn")).or(text.clone().eq(lit("list"))).fill_null(lit(false));
            checks.push((ok.not(), "unknown kind".to_string()));
            text
        }
        Kind::Money => {
            if matches!(dtype, DataType::Float32 | DataType::Float64) {
                bail!("column `{name}` is binary floating point ({dtype}); money must be a decimal or string column");
            }
            let shape = text.clone().str().contains(lit(MONEY_REGEX), true).fill_null(lit(false));
            let negative = text.clone().str().contains(lit(r"^-[0-9]+(\.[0-9]+)?$"), true).fill_null(lit(false));
            let zero = text.clone().str().contains(lit(r"^\+?0+(\.0+)?$"), true).fill_null(lit(false));
            if required {
                checks.push((missing.clone(), "missing price".to_string()));
            }
            checks.push((negative, "non-positive price".to_string()));
            checks.push((missing.clone().not().and(shape.clone().not()), "unparsable price".to_string()));
            checks.push((zero, "non-positive price".to_string()));
            when(shape).then(text.cast(DataType::Decimal(38, 10))).otherwise(lit(NULL).cast(DataType::Decimal(38, 10)))
        }
        Kind::Time => {
            let v = match dtype {
                DataType::Datetime(_, Some(_)) => col(name).dt().timestamp(TimeUnit::Microseconds),
                DataType::Datetime(_, None) => {
                    col(name).dt().timestamp(TimeUnit::Microseconds).map(naive_to_utc(tz), int64_field)
                }
                DataType::Date => col(name)
                    .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                    .dt()
                    .timestamp(TimeUnit::Microseconds)
                    .map(naive_to_utc(tz), int64_field),
                _ => text.clone().map(parse_times(tz), int64_field),
            };
            if required {
                checks.push((missing.clone(), "missing timestamp".to_string()));
            }
            checks.push((missing.not().and(v.clone().is_null()), "bad timestamp".to_string()));
            v
        }
        Kind::MinQty => {
            let shape = text.clone().str().contains(lit(r"^\+?[0-9]{1,18}$"), true).fill_null(lit(false));
            let v =
                when(shape.clone()).then(text.clone().cast(DataType::Int64)).otherwise(lit(NULL).cast(DataType::Int64));
            let ok = v.clone().gt_eq(lit(1i64)).fill_null(lit(false));
            checks.push((ok.not(), "min_qty is not an integer ≥ 1".to_string()));
            v
        }
    };
    Ok(Parsed { value, checks })
}

/// The result of validating one table: its typed good rows (lazy, not yet collected) and the
/// expressions that name each row's reject column and reason.
pub struct Validated {
    /// Typed columns (SPEC names), `rn`, and the two reject columns (null = good row).
    pub lf: LazyFrame,
    pub source: Source,
    pub present: Vec<String>,
    pub records: u64,
    pub blank_lines: u64,
}

/// Validate `t` from `path`: parse every column, flag bad rows (first failing check wins).
pub fn validate(path: &Path, t: Table, tz: Tz, profiles: &[String]) -> Result<Validated> {
    let (mut lf, source, schema) = open(path, t)?;
    if let Format::Csv(scan) = &source.format {
        if !scan.blank.is_empty() {
            // polars reads a blank line as an all-null row; it is not a row of the table.
            let blank = Series::new("blank".into(), scan.blank.iter().map(|r| *r as u32).collect::<Vec<_>>());
            lf = lf.filter(col(RN).is_in(lit(blank).implode(false), false).not());
        }
    }
    let file = path.display().to_string();
    let mut selects = vec![col(RN)];
    let mut reject_col: Vec<(Expr, String, String)> = Vec::new();
    let mut present = Vec::new();
    let (records, blank_lines) = match &source.format {
        Format::Csv(scan) => {
            let ragged: Vec<u32> = scan.ragged.iter().map(|(r, _)| *r as u32).collect();
            if !ragged.is_empty() {
                let s = Series::new("ragged".into(), ragged);
                let expected = scan.header_fields;
                reject_col.push((
                    col(RN).is_in(lit(s).implode(false), false),
                    String::new(),
                    format!("wrong number of fields (header has {expected})"),
                ));
            }
            (scan.records - scan.blank.len() as u64, scan.blank.len() as u64)
        }
        Format::Parquet => (0, 0),
    };
    for spec in schema::columns(t) {
        let Some(dtype) = schema.get(spec.name) else {
            // An optional column the file does not have: all null ("" for ladder sku_id).
            let v = if spec.kind == Kind::OptKey { lit("") } else { null_str() };
            let v = match spec.kind {
                Kind::Time => lit(NULL).cast(DataType::Int64),
                Kind::Money => lit(NULL).cast(DataType::Decimal(38, 10)),
                _ => v,
            };
            selects.push(v.alias(spec.name));
            continue;
        };
        present.push(spec.name.to_string());
        let p = parse_column(spec.name, spec.kind, spec.required, dtype, tz, profiles)
            .map_err(|e| Error::new(format!("{file}: {}", e.message)))?;
        for (bad, reason) in p.checks {
            reject_col.push((bad, spec.name.to_string(), reason));
        }
        selects.push(p.value.alias(spec.name));
    }
    // Every column check reads the raw text, so it runs in the same select as the parse.
    let (col_expr, reason_expr) = reject_exprs(&reject_col);
    let mut all = selects;
    all.extend(raw_copies(&schema, t));
    all.push(col_expr.alias(REJECT_COLUMN));
    all.push(reason_expr.alias(REJECT_REASON));
    let mut lf = lf.select(all);
    // Cross-column checks, on parsed values, for rows no column check rejected.
    let cross: Option<(Expr, &str, &str)> = match t {
        Table::Prices => Some((col("until").lt_eq(col("ts")), "until", "until not after ts")),
        Table::Registrations => {
            Some((col("promo_end").lt(col("promo_start")), "promo_end", "promo_end before promo_start"))
        }
        _ => None,
    };
    if let Some((cond, column, why)) = cross {
        let hit = col(REJECT_COLUMN).is_null().and(cond.fill_null(lit(false)));
        lf = lf.with_columns([
            when(hit.clone()).then(lit(column)).otherwise(col(REJECT_COLUMN)).alias(REJECT_COLUMN),
            when(hit).then(lit(why)).otherwise(col(REJECT_REASON)).alias(REJECT_REASON),
        ]);
    }
    Ok(Validated { lf, source, present, records, blank_lines })
}

const RAW_PREFIX: &str = "raw::";

/// Copies of the raw columns, kept so that checks on the raw text can run after the typed
/// select, and so that rejects can quote the offending value.
fn raw_copies(schema: &Schema, t: Table) -> Vec<Expr> {
    schema::columns(t)
        .iter()
        .filter_map(|c| schema.get(c.name).map(|dt| as_text(c.name, dt).alias(format!("{RAW_PREFIX}{}", c.name))))
        .collect()
}

fn reject_exprs(checks: &[(Expr, String, String)]) -> (Expr, Expr) {
    let mut colx: Option<Then> = None;
    let mut reason: Option<Then> = None;
    let mut colc: Option<ChainedThen> = None;
    let mut reasonc: Option<ChainedThen> = None;
    for (cond, column, why) in checks {
        match (colx.take(), colc.take()) {
            (None, None) => colx = Some(when(cond.clone()).then(lit(column.as_str()))),
            (Some(t), None) => colc = Some(t.when(cond.clone()).then(lit(column.as_str()))),
            (_, Some(c)) => colc = Some(c.when(cond.clone()).then(lit(column.as_str()))),
        }
        match (reason.take(), reasonc.take()) {
            (None, None) => reason = Some(when(cond.clone()).then(lit(why.as_str()))),
            (Some(t), None) => reasonc = Some(t.when(cond.clone()).then(lit(why.as_str()))),
            (_, Some(c)) => reasonc = Some(c.when(cond.clone()).then(lit(why.as_str()))),
        }
    }
    let fin = |t: Option<Then>, c: Option<ChainedThen>| match (t, c) {
        (_, Some(c)) => c.otherwise(null_str()),
        (Some(t), None) => t.otherwise(null_str()),
        (None, None) => null_str(),
    };
    (fin(colx, colc), fin(reason, reasonc))
}

/// The outputs of one table's validation query.
struct Split {
    good: DataFrame,
    rejects: DataFrame,
    /// Rows polars read (after blank lines were dropped).
    total: u64,
    /// Good rows per `channel` (prices only).
    channels: Option<DataFrame>,
}

/// Run one validated table: good rows (through `keep`), rejects, and counts, in one query.
fn split(v: &Validated, keep: impl FnOnce(LazyFrame) -> LazyFrame, channels: bool) -> Result<Split> {
    let file = v.source.path.display().to_string();
    let t = v.source.table;
    let typed: Vec<Expr> = std::iter::once(col(RN)).chain(schema::columns(t).iter().map(|c| col(c.name))).collect();
    let good = keep(v.lf.clone().filter(col(REJECT_COLUMN).is_null()).select(typed));
    // The offending value: the raw text of the rejected column.
    let mut value: Option<ChainedThen> = None;
    let mut first: Option<Then> = None;
    for c in schema::columns(t).iter().filter(|c| v.present.iter().any(|p| p == c.name)) {
        let cond = col(REJECT_COLUMN).eq(lit(c.name));
        let raw = col(format!("{RAW_PREFIX}{}", c.name));
        match (first.take(), value.take()) {
            (None, None) => first = Some(when(cond).then(raw)),
            (Some(f), None) => value = Some(f.when(cond).then(raw)),
            (_, Some(ch)) => value = Some(ch.when(cond).then(raw)),
        }
    }
    let value = match (first, value) {
        (_, Some(ch)) => ch.otherwise(null_str()),
        (Some(f), None) => f.otherwise(null_str()),
        _ => null_str(),
    };
    let rejects = v.lf.clone().filter(col(REJECT_COLUMN).is_not_null()).select([
        col(RN),
        col(REJECT_COLUMN).alias("column"),
        col(REJECT_REASON).alias("reason"),
        value.fill_null(lit("")).alias("value"),
    ]);
    let count = v.lf.clone().select([len().alias("n")]);
    let mut plans = vec![good.logical_plan, rejects.logical_plan, count.logical_plan];
    if channels {
        let ch = v.lf.clone().filter(col(REJECT_COLUMN).is_null()).group_by([col("channel")]).agg([len().alias("n")]);
        plans.push(ch.logical_plan);
    }
    let mut out = LazyFrame::collect_all_with_engine(plans, Engine::Streaming, OptFlags::default())
        .map_err(|e| Error::new(format!("{file}: {e}")))?
        .into_iter();
    let good = out.next().unwrap();
    let rejects = out.next().unwrap().sort([RN], Default::default())?;
    let total = out.next().unwrap().column("n")?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0);
    let channels = out.next();
    if let Format::Csv(_) = &v.source.format {
        if total != v.records {
            bail!("{file}: polars read {total} records but the file has {} (an unusual quoting?); cannot give exact line numbers", v.records);
        }
    }
    Ok(Split { good, rejects, total, channels })
}

fn reject_rows(df: &DataFrame, source: &Source, tz: Tz) -> Result<Vec<Reject>> {
    let rn = df.column(RN)?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    let column = df.column("column")?.str()?;
    let reason = df.column("reason")?.str()?;
    let value = df.column("value")?.str()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let r = rn.get(i).unwrap_or(0);
        let mut why = reason.get(i).unwrap_or("").to_string();
        let val = value.get(i).unwrap_or("").to_string();
        if why == "bad timestamp" {
            why = match crate::time::parse_instant(&val, &tz) {
                Err(crate::time::TimeError::NonExistent) => {
                    "bad timestamp (does not exist in the zone: a DST gap)".into()
                }
                _ if val.is_empty() => why,
                _ => "bad timestamp (not RFC 3339, YYYY-MM-DD[ HH:MM:SS] or a real date)".into(),
            };
        }
        out.push(Reject {
            table: source.table.as_str(),
            line: source.row_of(r),
            column: column.get(i).unwrap_or("").to_string(),
            reason: why,
            value: val,
        });
    }
    Ok(out)
}

/// A loaded, validated dump: typed good rows, with prices and retail narrowed to registered SKUs.
pub struct Dump {
    pub dir: PathBuf,
    /// Good registrations, first of each id kept, with `k` (dense SKU key) — in file order.
    pub registrations: DataFrame,
    /// Good prices rows of registered SKUs: `k` and the typed columns, `is_list`.
    pub prices: DataFrame,
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

/// Load and validate every table of the dump in `dir`.
pub fn load(dir: &Path, tz: Tz, profiles: &[String]) -> Result<Dump> {
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
    let path_of = |t: Table| paths.iter().find(|(x, _)| *x == t).map(|(_, p)| p.clone());
    // Validate every table first, so that a missing column anywhere fails before any work.
    let mut validated: Vec<Validated> = Vec::new();
    for (t, p) in &paths {
        validated.push(validate(p, *t, tz, profiles)?);
    }
    let take = |t: Table, v: &mut Vec<Validated>| v.iter().position(|x| x.source.table == t).map(|i| v.remove(i));
    let mut tables = Vec::new();
    let mut rejects = Vec::new();

    let record = |v: &Validated, s: &Split, extra: u64, tables: &mut Vec<Loaded>| {
        let rejected = s.rejects.height() as u64 + extra;
        tables.push(Loaded {
            source: v.source.clone(),
            read: s.total,
            blank_lines: v.blank_lines,
            rejected,
            present: v.present.clone(),
        });
    };

    // registrations → keys
    let rv = take(Table::Registrations, &mut validated).expect("required");
    let rs = split(&rv, |lf| lf, false)?;
    rejects.extend(reject_rows(&rs.rejects, &rv.source, tz)?);
    let (regs, dup) =
        dedupe(rs.good.clone(), &["registration_id"], "registration_id", "duplicate registration_id", &rv.source)?;
    record(&rv, &rs, dup.len() as u64, &mut tables);
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
    let keys_lf = keys.clone().lazy();
    let ps = split(
        &pv,
        |lf| {
            lf.join(
                keys_lf,
                [col("offer_id"), col("sku_id")],
                [col("offer_id"), col("sku_id")],
                JoinArgs::new(JoinType::Inner),
            )
            .select([
                col("k"),
                col(RN),
                col("ts"),
                col("price"),
                col("kind").eq(lit("list")).alias("is_list"),
                col("channel").fill_null(lit("regular")).alias("channel"),
                col("until"),
            ])
        },
        true,
    )?;
    rejects.extend(reject_rows(&ps.rejects, &pv.source, tz)?);
    record(&pv, &ps, 0, &mut tables);
    let mut unknown_channels = Vec::new();
    if let Some(ch) = &ps.channels {
        let names = ch.column("channel")?.str()?;
        let n = ch.column("n")?.cast(&DataType::UInt64)?;
        let n = n.u64()?;
        for i in 0..ch.height() {
            if let Some(name) = names.get(i) {
                if !crate::profile::KNOWN_CHANNELS.contains(&name) {
                    unknown_channels.push((name.to_string(), n.get(i).unwrap_or(0)));
                }
            }
        }
        unknown_channels.sort();
    }

    // ladders: every group
    let ladders = match take(Table::Ladders, &mut validated) {
        Some(lv) => {
            let ls = split(&lv, |lf| lf, false)?;
            rejects.extend(reject_rows(&ls.rejects, &lv.source, tz)?);
            let (kept, dup) = dedupe(
                ls.good.clone(),
                &["offer_id", "sku_id", "min_qty"],
                "min_qty",
                "duplicate min_qty in ladder group",
                &lv.source,
            )?;
            record(&lv, &ls, dup.len() as u64, &mut tables);
            rejects.extend(dup);
            Some(kept)
        }
        None => None,
    };

    // retail of registered SKUs
    let retail = match take(Table::Retail, &mut validated) {
        Some(tv) => {
            let keys_lf = keys.clone().lazy();
            let ts = split(
                &tv,
                |lf| {
                    lf.join(
                        keys_lf,
                        [col("offer_id"), col("sku_id")],
                        [col("offer_id"), col("sku_id")],
                        JoinArgs::new(JoinType::Inner),
                    )
                    .select([col("k"), col(RN), col("observed_at"), col("price"), col("platform")])
                },
                false,
            )?;
            rejects.extend(reject_rows(&ts.rejects, &tv.source, tz)?);
            record(&tv, &ts, 0, &mut tables);
            Some(ts.good)
        }
        None => None,
    };
    let _ = path_of;
    rejects.sort_by(|a, b| (a.table, a.line, &a.column).cmp(&(b.table, b.line, &b.column)));
    let registration_columns =
        tables.iter().find(|l| l.source.table == Table::Registrations).map(|l| l.present.clone()).unwrap_or_default();
    Ok(Dump {
        dir: dir.to_path_buf(),
        registrations: regs,
        prices: ps.good,
        ladders,
        retail,
        tables,
        rejects,
        unknown_channels,
        registration_columns,
    })
}
