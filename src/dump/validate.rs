//! Building each table's validation: every column parsed once into its typed value, and the
//! checks that reject a row (SPEC §2), with each row's first failing check by one UDF.

use super::*;

pub(crate) fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// `true` where a raw column is empty: null, or `""` (polars reads an unquoted empty CSV field as
/// null and a quoted one as `""`).
pub(crate) fn missing(name: &str, dtype: &DataType) -> Expr {
    if dtype == &DataType::String {
        col(name).map(empty_text, bool_field)
    } else {
        col(name).is_null()
    }
}

/// A raw column as text (no copy when it already is text).
pub(crate) fn text(name: &str, dtype: &DataType) -> Expr {
    match dtype {
        DataType::String => col(name),
        // a float as the shortest decimal that round-trips in its own width, never in exponent
        // form (polars' cast writes 1e-7): `0.0000001`, as a gate compares decimals
        DataType::Float32 | DataType::Float64 => col(name).map(float_text, string_field),
        _ => col(name).cast(DataType::String),
    }
}

/// A column's values as text, a decimal by its value (`100.000000000000000000` of a
/// DECIMAL(38,18) is `100`): the `merchants` metrics, and a money column whose parts differ in
/// type.
pub(crate) fn value_text(name: &str, dtype: &DataType) -> Expr {
    match dtype {
        DataType::Decimal(..) => col(name).cast(DataType::String).map(decimal_text, string_field),
        _ => text(name, dtype),
    }
}

fn float_text(c: Column) -> PolarsResult<Column> {
    let out: StringChunked = match c.dtype() {
        DataType::Float32 => c.f32()?.iter().map(|o| o.map(|v| v.to_string())).collect(),
        _ => c.f64()?.iter().map(|o| o.map(|v| v.to_string())).collect(),
    };
    Ok(out.with_name(c.name().clone()).into_column())
}

/// A decimal's text without the trailing zeros of its scale (`100.000000000000000000` → `100`,
/// `0.000110` → `0.00011`): its value.
fn decimal_text(c: Column) -> PolarsResult<Column> {
    let out: StringChunked = c
        .str()?
        .iter()
        .map(|o| {
            o.map(|s| match s.split_once('.') {
                Some((int, frac)) => match frac.trim_end_matches('0') {
                    "" => int.to_string(),
                    f => format!("{int}.{f}"),
                },
                None => s.to_string(),
            })
        })
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

pub(crate) fn string_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::String))
}

/// The time-parsing UDF: text → UTC microseconds, null where not a valid timestamp. Naive text
/// (the usual form) is read by hand and put in the zone by [`QuarterOffsets`], as naive Parquet
/// timestamps are; other text by [`crate::time::parse_instant`].
pub(crate) fn parse_times(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.str()?;
        let out: Int64Chunked = with_offsets(tz, |offsets| {
            ca.iter()
                .map(|o| {
                    o.and_then(|s| match crate::time::naive_local_micros(s) {
                        Some(local) => offsets.utc(local),
                        None => crate::time::parse_instant(s, &tz).ok(),
                    })
                })
                .collect()
        });
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

/// Naive Parquet timestamps (local micros) → UTC micros in the run's zone.
pub(crate) fn naive_to_utc(tz: Tz) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let ca = c.i64()?;
        let out: Int64Chunked = with_offsets(tz, |offsets| map_values(ca, |v| offsets.utc(v)));
        Ok(out.with_name(c.name().clone()).into_column())
    }
}

/// `f` with this thread's [`QuarterOffsets`] of `tz` (kept across batches).
fn with_offsets<T>(tz: Tz, f: impl FnOnce(&mut QuarterOffsets) -> T) -> T {
    thread_local! {
        static OFFSETS: std::cell::RefCell<Option<QuarterOffsets>> = const { std::cell::RefCell::new(None) };
    }
    OFFSETS.with_borrow_mut(|offsets| {
        let offsets = match offsets {
            Some(o) if o.tz == tz => o,
            _ => offsets.insert(QuarterOffsets::new(tz)),
        };
        f(offsets)
    })
}

/// The zone's offset by quarter hour of local time, where it is one offset over the whole quarter
/// (checked at both ends, so a quarter with a transition inside is resolved per value), kept by
/// each of polars' threads across batches: rows in random order asked the zone database once per
/// row. The quarters of ±2¹⁶ around the first value seen (±1.9 years) are held in a flat table
/// of one byte each, naming one of the few offsets seen (a table of the offsets themselves, 1 MB,
/// missed the cache on rows in random order: most of this UDF's time), the others in a map.
struct QuarterOffsets {
    tz: Tz,
    /// The quarter at `near[0]`, once a value was seen.
    base: Option<i64>,
    /// Each quarter's code: [`Self::UNKNOWN`], [`Self::MIXED`], or `offsets[code - FIRST]`.
    near: Vec<u8>,
    far: PlHashMap<i64, u8>,
    offsets: Vec<i64>,
}

impl QuarterOffsets {
    const Q: i64 = 15 * 60 * 1_000_000;
    const SPAN: i64 = 1 << 17;
    /// Not yet asked (the table's initial value).
    const UNKNOWN: u8 = 0;
    /// Not one offset over the quarter (or more distinct offsets than a byte names).
    const MIXED: u8 = 1;
    const FIRST: u8 = 2;

    fn new(tz: Tz) -> QuarterOffsets {
        QuarterOffsets { tz, base: None, near: Vec::new(), far: PlHashMap::default(), offsets: Vec::new() }
    }

    /// UTC microseconds of local microseconds `v`, `None` where the zone has no such local time
    /// or the instant is out of range.
    fn utc(&mut self, v: i64) -> Option<i64> {
        let q = v.div_euclid(Self::Q);
        let base = *self.base.get_or_insert_with(|| q.saturating_sub(Self::SPAN / 2));
        let slot = match q.checked_sub(base) {
            Some(i) if (0..Self::SPAN).contains(&i) => {
                if self.near.is_empty() {
                    self.near = vec![Self::UNKNOWN; Self::SPAN as usize];
                }
                &mut self.near[i as usize]
            }
            _ => self.far.entry(q).or_insert(Self::UNKNOWN),
        };
        if *slot == Self::UNKNOWN {
            *slot = match Self::uniform(q, &self.tz) {
                Some(off) => match self.offsets.iter().position(|o| *o == off) {
                    Some(k) => Self::FIRST + k as u8,
                    None if self.offsets.len() < (u8::MAX - Self::FIRST) as usize => {
                        self.offsets.push(off);
                        Self::FIRST + (self.offsets.len() - 1) as u8
                    }
                    None => Self::MIXED,
                },
                None => Self::MIXED,
            };
        }
        match *slot {
            Self::MIXED => crate::time::naive_micros_to_utc(v, &self.tz).ok(),
            code => v.checked_sub(self.offsets[(code - Self::FIRST) as usize]),
        }
    }

    /// The offset of quarter `q` when it is the same at both its ends.
    fn uniform(q: i64, tz: &Tz) -> Option<i64> {
        let a = q.checked_mul(Self::Q)?;
        let b = a.checked_add(Self::Q - 1)?;
        match (crate::time::naive_micros_to_utc(a, tz), crate::time::naive_micros_to_utc(b, tz)) {
            (Ok(x), Ok(y)) if a.checked_sub(x)? == b.checked_sub(y)? => a.checked_sub(x),
            _ => None,
        }
    }
}

/// `f` over each value of `ca`, null where the value is null or `f` gives `None`. A column
/// without nulls in or out (the usual one) is written straight to a vector; the others through
/// the iterator of options.
pub(crate) fn map_values<T, U>(
    ca: &ChunkedArray<T>,
    mut f: impl FnMut(T::Native) -> Option<U::Native>,
) -> ChunkedArray<U>
where
    T: PolarsNumericType,
    U: PolarsNumericType,
{
    if ca.null_count() == 0 {
        let mut out = Vec::with_capacity(ca.len());
        let all = ca.downcast_iter().all(|arr| {
            arr.values().iter().all(|v| match f(*v) {
                Some(x) => {
                    out.push(x);
                    true
                }
                None => false,
            })
        });
        if all {
            return ChunkedArray::from_vec(ca.name().clone(), out);
        }
    }
    ca.iter().map(|o| o.and_then(&mut f)).collect()
}

/// Is each eligibility metric cell a decimal outside SPEC §2's numeric domain (> 28 integer
/// digits or > 10 decimal places by value)? Its sums over a group (E306, E308) then stay exact.
/// Text that is no decimal is not refused here: the metric is then not checked (SPEC §5.3).
pub(crate) fn metric_out_of_domain(c: Column) -> PolarsResult<Column> {
    let out: BooleanChunked = c.str()?.iter().map(|o| o.is_some_and(metric_text_out_of_domain)).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// One metric cell: a decimal outside the domain? Short plain numbers (the usual cell) are in it
/// without parsing: at most 28 characters hold at most 28 integer digits, and at most 10
/// characters after the point at most 10 decimal places.
fn metric_text_out_of_domain(s: &str) -> bool {
    let frac = s.find('.').map_or(0, |i| s.len() - i - 1);
    if s.len() <= 28 && frac <= 10 {
        return false;
    }
    crate::money::Dec::parse(s).is_some_and(|d| !d.in_money_domain())
}

/// `prices.qty` as text → its integer (SPEC §2: digits only, leading zeros allowed), null where it
/// is not one (the row check then refuses a non-empty cell). A quantity beyond 18 digits is held
/// as `i64::MAX`: its turnover is above every threshold either way.
pub(crate) fn parse_qty(c: Column) -> PolarsResult<Column> {
    let out: Int64Chunked = c.str()?.iter().map(|o| o.and_then(qty_of)).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

fn qty_of(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 18 {
        return Some(i64::MAX);
    }
    digits.parse().ok() // all zeros: no quantity
}

pub(crate) fn bool_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::Boolean))
}

pub(crate) fn int64_field(_: &Schema, f: &Field) -> PolarsResult<Field> {
    Ok(Field::new(f.name().clone(), DataType::Int64))
}

/// Name of the typed value of a column that needs converting.
pub(crate) fn typed(name: &str) -> String {
    format!("__v_{name}")
}

/// A column's typed value (`None`: the raw column is the value) and the checks that reject a
/// row, in order: `(bad, reason)`. Checks read the raw column and the typed one (`v`), so each
/// conversion runs once.
pub(crate) struct Parsed {
    pub(crate) value: Option<Expr>,
    pub(crate) checks: Vec<(Expr, String)>,
    /// How a money column is stored (its rejects' reasons depend on it).
    pub(crate) money: Option<money::Physical>,
}

pub(crate) fn parse_column(
    name: &str,
    kind: Kind,
    required: bool,
    dtype: &DataType,
    tz: Tz,
    profiles: &[String],
    instant: bool,
) -> Result<Parsed> {
    let raw = text(name, dtype);
    let empty = missing(name, dtype);
    let v = col(typed(name));
    let as_text = (dtype != &DataType::String).then(|| raw.clone());
    let mut checks = Vec::new();
    let mut physical = None;
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
            checks.push((raw.map(none_of(&["txn", "list"]), bool_field), "unknown kind".to_string()));
            as_text
        }
        Kind::Money => {
            // one UDF for every physical type; an empty cell stays null (missing), a cell
            // outside the domain becomes null too and is refused here ([`BAD_MONEY`], whose
            // reason the reject names from the cell, `money::why`)
            let p = money::Physical::of(name, dtype)?;
            physical = Some(p);
            if required {
                checks.push((empty.clone(), "missing price".to_string()));
            }
            if p == money::Physical::Decimal(crate::money::MONEY_SCALE) {
                // a decimal at the money scale (as synth and most writers store prices) is
                // already the loaded value: no UDF, polars' own identity cast; only the sign can
                // leave the domain (a 38-digit decimal at scale 10 has at most 28 integer digits)
                let zero = lit(0i32).cast(money::money_dtype());
                checks.push((v.clone().lt_eq(zero).fill_null(lit(false)), BAD_MONEY.to_string()));
                return Ok(Parsed { value: Some(col(name).cast(money::money_dtype())), checks, money: Some(p) });
            }
            checks.push((empty.not().and(v.is_null()), BAD_MONEY.to_string()));
            Some(col(name).map(money::to_money(p), |_, f| Ok(Field::new(f.name().clone(), money::money_dtype()))))
        }
        Kind::Time => {
            let value = match dtype {
                DataType::Datetime(_, Some(_)) => col(name).dt().timestamp(TimeUnit::Microseconds),
                // an instant polars reads naive ([`spark_instants`]): its value is UTC's wall time
                DataType::Datetime(_, None) if instant => col(name).dt().timestamp(TimeUnit::Microseconds),
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
            // outside the years 1–9999 (a typed Parquet timestamp can hold any i64): a check
            // beside the value, not a UDF nulling the value, which cost the price pass memory
            // (PERF.md); one pass giving the check's bits, not two comparisons and an `or`
            let out_of_range = v.clone().map(outside(crate::time::MIN_INSTANT, crate::time::MAX_INSTANT), bool_field);
            checks.push((empty.not().and(v.is_null().or(out_of_range)), "bad timestamp".to_string()));
            Some(value)
        }
        Kind::Qty => {
            checks.push((
                empty.not().and(v.gt_eq(lit(1i64)).fill_null(lit(false)).not()),
                "qty is not an integer ≥ 1".to_string(),
            ));
            // a quantity past an i64 is held as i64::MAX: exact enough, its turnover (K503) is
            // above every threshold either way
            let max = lit(i64::MAX);
            if dtype.is_unsigned_integer() {
                Some(when(col(name).gt(lit(i64::MAX as u64))).then(max).otherwise(col(name).cast(DataType::Int64)))
            } else if dtype.is_integer() {
                Some(col(name).cast(DataType::Int64))
            } else if dtype.is_float() {
                // a float column (pandas writes an integer column with gaps as float64): a whole
                // value is that integer; a fraction, NaN or infinity is no quantity
                let whole = col(name).cast(DataType::Int64);
                let exact = whole.clone().cast(DataType::Float64).eq(col(name).cast(DataType::Float64));
                Some(when(exact.fill_null(lit(false))).then(whole).otherwise(lit(NULL).cast(DataType::Int64)))
            } else {
                // text: one pass over the cells (three string kernels over every row of a large
                // CSV cost a quarter of its price pass)
                Some(raw.map(parse_qty, int64_field))
            }
        }
        Kind::MinQty => {
            let shape = raw.clone().str().contains(lit(r"^\+?[0-9]{1,18}$"), true).fill_null(lit(false));
            checks.push((v.gt_eq(lit(1i64)).fill_null(lit(false)).not(), "min_qty is not an integer ≥ 1".to_string()));
            Some(when(shape).then(raw.cast(DataType::Int64)).otherwise(lit(NULL).cast(DataType::Int64)))
        }
    };
    Ok(Parsed { value, checks, money: physical })
}

/// The columns of a Parquet table that hold instants though polars reads them as naive
/// timestamps: INT96 columns that Spark's schema in the file's footer types `timestamp`. Spark
/// writes such a value as the UTC instant (its default `outputTimestampType`), and reads it
/// back so; its `timestamp_ntz` (wall time) is never INT96. Other INT96 columns (pyarrow's of naive
/// values, Impala's) stay naive: local time in the run's zone (SPEC §3). Every Parquet file of
/// the table must say so (a file that cannot be read says nothing: the scan reports it).
fn spark_instants(source: &Source) -> Vec<String> {
    let Some(files) = super::source::parquet_files(source) else { return Vec::new() };
    let mut common: Option<Vec<String>> = None;
    for f in files {
        let of_file = std::fs::File::open(f)
            .ok()
            .and_then(|mut r| polars_parquet::read::read_metadata(&mut r).ok())
            .map(|md| spark_int96_timestamps(&md))
            .unwrap_or_default();
        common = Some(match common {
            None => of_file,
            Some(c) => c.into_iter().filter(|n| of_file.contains(n)).collect(),
        });
    }
    common.unwrap_or_default()
}

/// The INT96 columns of one file that Spark's schema (its footer's
/// `org.apache.spark.sql.parquet.row.metadata`) types `timestamp`.
fn spark_int96_timestamps(md: &polars_parquet::read::FileMetadata) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct SparkSchema {
        fields: Vec<SparkField>,
    }
    #[derive(serde::Deserialize)]
    struct SparkField {
        name: String,
        #[serde(rename = "type")]
        kind: serde_json::Value,
    }
    let Some(json) = md
        .key_value_metadata()
        .iter()
        .flatten()
        .find(|kv| kv.key == "org.apache.spark.sql.parquet.row.metadata")
        .and_then(|kv| kv.value.as_deref())
    else {
        return Vec::new();
    };
    let Ok(spark) = serde_json::from_str::<SparkSchema>(json) else { return Vec::new() };
    md.schema()
        .columns()
        .iter()
        .filter(|c| {
            c.descriptor.primitive_type.physical_type == polars_parquet::parquet::schema::types::PhysicalType::Int96
        })
        .filter(|c| c.path_in_schema.len() == 1)
        .map(|c| c.path_in_schema[0].to_string())
        .filter(|n| spark.fields.iter().any(|f| f.name == *n && f.kind == serde_json::Value::from("timestamp")))
        .collect()
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
    pub(crate) checks: Vec<(String, String)>,
    /// The expression of each SPEC column in the good rows (typed, or raw, or a null literal).
    pub(crate) outputs: Vec<Expr>,
    /// The scan before validation (raw columns and `rn`), to quote rejected rows.
    pub(crate) raw: LazyFrame,
    /// How each money column is stored (a reject's reason depends on it).
    pub(crate) money: Vec<(String, money::Physical)>,
    /// Rows no check refused, counted by the validation as each batch passes it.
    pub(crate) valid: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Rows checked so far, passed or not (a progress bar's count).
    pub(crate) seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The latest `ts` of those rows (prices: SPEC §10.4's horizon), `i64::MIN` before any.
    pub(crate) latest: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Columns kept beyond SPEC's (the `merchants` metrics), as text.
    pub(crate) extra: Vec<String>,
    /// `explain`'s focused read: only this offer's rows are wanted (`lf` filters them too; a
    /// Parquet price table's piece reader reads only them, [`super::offer_rows`]).
    pub(crate) offer: Option<String>,
    /// The records polars' scan of the file gave in a pass already made over every row (`explain`'s
    /// one pass over a CSV price table): [`super::reconcile::source_rows`] need not count them again.
    pub(crate) scanned: Option<u64>,
    /// A share's price rows written apart ([`Share::price_spill`]): the piece reader reads them
    /// there rather than the whole table (the plan, its share filter included, unchanged).
    pub(crate) spill: Option<PathBuf>,
}

pub(crate) const CODE: &str = "__code";

/// The reason of a money cell outside the domain; the reject names the precise one.
pub(crate) const BAD_MONEY: &str = "bad money";

/// Validate `t` from `path`: parse every column once, then compute each row's reject code.
pub fn validate(input: &TableIn, t: Table, tz: Tz, profiles: &[String]) -> Result<Validated> {
    validate_rows(input, t, tz, profiles, None)
}

/// [`validate`] of the rows of one share of the dump (a filter on the raw scan, before any
/// check: the validation counts only those; [`super::share`]).
pub fn validate_rows(
    input: &TableIn,
    t: Table,
    tz: Tz,
    profiles: &[String],
    share: Option<&Share>,
) -> Result<Validated> {
    let (mut lf, source, schema) = open(input, t)?;
    // a share's rows of a table written apart: read there (the same columns and `rn`)
    if let Some(path) = share.and_then(|s| s.table_spill(t)) {
        lf = LazyFrame::scan_parquet(polars_path(path), ScanArgsParquet::default())?;
    }
    if let Some(rows) = share.and_then(|s| s.rows(t, &schema)) {
        lf = lf.filter(rows);
    }
    // each CSV file's scan and the record number its rows start at
    let scans: Vec<(&CsvScan, u64)> = match &source.format {
        Format::Csv(scan) => vec![(scan.as_ref(), 0)],
        Format::Parquet | Format::Frame(_) => vec![],
        Format::Parts(parts) => parts.parts.iter().filter_map(|p| p.scan.as_deref().map(|s| (s, p.offset))).collect(),
    };
    let blank: Vec<IdxSize> =
        scans.iter().flat_map(|(s, at)| s.blank.iter().map(move |r| (r + at) as IdxSize)).collect();
    if !blank.is_empty() {
        // polars reads a blank line as an all-null row; it is not a row of the table.
        let blank = Series::new("blank".into(), blank);
        lf = lf.filter(col(RN).is_in(lit(blank).implode(false), false).not());
    }
    let raw = lf.clone();
    let file = source.path.display().to_string();
    let mut checks: Vec<(Expr, String, String)> = Vec::new();
    let mut values = Vec::new();
    let mut outputs = Vec::new();
    let mut present = Vec::new();
    let mut money_columns = Vec::new();
    let (mut records, mut blank_lines) = (0, 0);
    for (scan, at) in &scans {
        if !scan.ragged.is_empty() {
            let rows: Vec<IdxSize> = scan.ragged.iter().map(|(r, _)| (r + at) as IdxSize).collect();
            let s = Series::new("ragged".into(), rows);
            let why = format!("wrong number of fields (header has {})", scan.header_fields);
            checks.push((col(RN).is_in(lit(s).implode(false), false), String::new(), why));
        }
        records += scan.records - scan.blank.len() as u64;
        blank_lines += scan.blank.len() as u64;
    }
    let instants = spark_instants(&source);
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
        let instant = spec.kind == Kind::Time && instants.iter().any(|c| c == spec.name);
        let p = parse_column(spec.name, spec.kind, spec.required, dtype, tz, profiles, instant)
            .map_err(|e| Error::new(format!("{file}: {}", e.message)))?;
        money_columns.extend(p.money.map(|m| (spec.name.to_string(), m)));
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
    // `merchants`: every other column is a metric some merchant gate may read (SPEC §11), kept as
    // its text (a gate compares it its own way)
    let mut extra = Vec::new();
    if t == Table::Merchants {
        for (name, dtype) in schema.iter() {
            if name.as_str() != RN && !schema::columns(t).iter().any(|c| c.name == name.as_str()) {
                outputs.push(value_text(name, dtype).alias(name.clone()));
                extra.push(name.to_string());
            }
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
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let latest = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN));
    // the prices' horizon, taken by the same UDF over the rows it passes
    let ts = (t == Table::Prices).then(|| (v("ts"), latest.clone()));
    lf = lf.with_column(
        first_failing(checks.iter().map(|(cond, _, _)| cond.clone()).collect(), valid.clone(), seen.clone(), ts)
            .alias(CODE),
    );
    let checks = checks.into_iter().map(|(_, c, r)| (c, r)).collect();
    Ok(Validated {
        lf,
        source,
        present,
        records,
        blank_lines,
        checks,
        outputs,
        raw,
        money: money_columns,
        valid,
        seen,
        latest,
        extra,
        offer: None,
        scanned: None,
        spill: share.filter(|_| t == Table::Prices).and_then(Share::price_spill).map(Path::to_path_buf),
    })
}

/// Each row's first failing check (its index in `checks`; a null check counts as passing), null
/// for a good row. One UDF over the checks' boolean columns: a batch without a bad row (the usual
/// case) costs one `any` per check. (Was a nested when/then chain, which ran an if-then-else per
/// check over every row.)
///
/// It also counts the rows it passes (`valid`): the "used" side of the reconciliation, counted
/// where the rows are validated rather than derived from the rejects.
///
/// `latest`: a time column (the rows' typed `ts`) whose maximum over the passed rows it keeps.
pub(crate) fn first_failing(
    mut checks: Vec<Expr>,
    valid: std::sync::Arc<std::sync::atomic::AtomicU64>,
    seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
    latest: Option<(Expr, std::sync::Arc<std::sync::atomic::AtomicI64>)>,
) -> Expr {
    use std::sync::atomic::Ordering::Relaxed;
    if checks.is_empty() {
        // no check at all: every row passes (a table with only its row index cannot happen: it
        // has required columns, each with a check)
        return lit(NULL).cast(DataType::UInt32);
    }
    let latest = latest.map(|(ts, max)| {
        checks.push(ts);
        max
    });
    let (first, rest) = checks.split_first().expect("checks");
    let code = move |cols: &mut [Column]| -> PolarsResult<Column> {
        let (cols, ts) = match &latest {
            Some(max) => {
                let (c, t) = cols.split_at(cols.len() - 1);
                (c, Some((t[0].i64()?, max)))
            }
            None => (&*cols, None),
        };
        let n = cols.iter().map(|c| c.len()).max().unwrap_or(0);
        seen.fetch_add(n as u64, Relaxed);
        let bools = cols.iter().map(|c| c.bool()).collect::<PolarsResult<Vec<_>>>()?;
        if !bools.iter().any(|b| b.any()) {
            valid.fetch_add(n as u64, Relaxed);
            if let Some((ts, max)) = ts {
                if let Some(m) = ts.max() {
                    max.fetch_max(m, Relaxed);
                }
            }
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
        if let Some((ts, max)) = ts {
            let m = out.iter().zip(ts.iter()).filter(|(o, _)| o.is_none()).filter_map(|(_, t)| t).max();
            if let Some(m) = m {
                max.fetch_max(m, Relaxed);
            }
        }
        Ok(UInt32Chunked::from_iter_options(CODE.into(), out.into_iter()).into_column())
    };
    first.clone().map_many(code, rest, |_, _| Ok(Field::new(CODE.into(), DataType::UInt32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quarter-hour offset cache gives every value what the zone database gives it, across
    /// DST gaps and folds (Los Angeles), a 30-minute shift (Lord Howe), a historic transition at
    /// an odd second (Shanghai 1940s, Amsterdam 1937's +00:19:32), in any order, twice over.
    #[test]
    fn naive_to_utc_cache_agrees_with_the_zone_database() {
        let day = 86_400_000_000i64;
        let minute = 60_000_000i64;
        for (zone, days) in [
            ("America/Los_Angeles", ["2024-03-10", "2024-11-03"]),
            ("Australia/Lord_Howe", ["2024-04-07", "2024-10-06"]),
            ("Asia/Shanghai", ["1940-06-03", "1991-09-15"]),
            ("Europe/Amsterdam", ["1937-07-01", "1940-05-16"]),
        ] {
            let tz: Tz = zone.parse().unwrap();
            let mut values = Vec::new();
            for d in days {
                let start = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap();
                let start = start.and_utc().timestamp_micros() - day;
                // every 7 minutes 13 seconds over three days, odd steps to cross quarter edges
                let step = 7 * minute + 13_000_000;
                values.extend((0..(3 * day / step)).map(|i| start + i * step));
            }
            // a random-looking order, then again (the cache is kept)
            let mut shuffled = values.clone();
            shuffled.sort_by_key(|v| (v.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64)) >> 7);
            for vs in [&shuffled, &values] {
                let col = Int64Chunked::from_vec("ts".into(), vs.to_vec()).into_column();
                let out = naive_to_utc(tz)(col).unwrap();
                let out = out.i64().unwrap();
                for (i, v) in vs.iter().enumerate() {
                    assert_eq!(out.get(i), crate::time::naive_micros_to_utc(*v, &tz).ok(), "{zone} {v}");
                }
            }
        }
    }

    /// Text timestamps: the UDF (naive text read by hand, put in the zone by the quarter-hour
    /// cache) gives what `parse_instant` gives, value for value: naive date-times every 7 min 13 s
    /// across DST gaps and folds and historic odd-second shifts, with fractions of 1–9 digits
    /// (past the sixth zero, else refused), `T`/`t`/space, dates alone; impossible dates, hours,
    /// minutes and seconds (at the bound and one past it), zone suffixes, stray characters,
    /// years 0000 and 9999, leap days (1900 none, 2000 and 2024 one); in two orders.
    #[test]
    fn parse_times_agrees_with_parse_instant() {
        let day = 86_400_000_000i64;
        let minute = 60_000_000i64;
        let mut texts: Vec<String> = Vec::new();
        for d in ["2024-03-10", "2024-11-03", "2024-04-07", "2024-10-06", "1940-06-03", "1991-09-15", "1937-07-01"] {
            let start = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap();
            let start = start.and_utc().timestamp_micros() - day;
            let step = 7 * minute + 13_000_017;
            for i in 0..(3 * day / step) {
                let t = chrono::DateTime::from_timestamp_micros(start + i * step).unwrap().naive_utc();
                texts.push(match i % 5 {
                    0 => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                    1 => t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                    2 => t.format("%Y-%m-%dt%H:%M:%S%.3f").to_string(),
                    3 => t.format("%Y-%m-%d %H:%M:%S%.9f").to_string(),
                    _ => t.format("%Y-%m-%d").to_string(),
                });
            }
        }
        for t in [
            "2024-02-29 12:00:00",
            "2023-02-29 12:00:00",
            "1900-02-29",
            "2000-02-29",
            "2024-02-30",
            "2024-04-30 23:59:59",
            "2024-04-31 00:00:00",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-05-12 24:00:00",
            "2024-05-12 23:60:00",
            "2024-05-12 23:59:60",
            "2024-05-12 23:59:59.9",
            "2024-05-12 10:00:00.1234567",
            "2024-05-12 10:00:00.123456700",
            "2024-05-12 10:00:00.1234567890",
            "2024-05-12 10:00:00.",
            "2024-05-12 10:00:00Z",
            "2024-05-12T10:00:00+08:00",
            "2024-05-12T10:00:00-03:30",
            "2024-05-12 10:00",
            "2024-05-12 10:00:00 ",
            " 2024-05-12",
            "2024-5-12",
            "2024/05/12",
            "２０２４-05-12",
            "2024-05-12x10:00:00",
            "0000-01-01 00:00:00",
            "0000-02-29",
            "9999-12-31 23:59:59.999999",
            "1969-12-31 23:59:59",
            "1970-01-01",
            "",
            "x",
        ] {
            texts.push(t.to_string());
        }
        for zone in ["America/Los_Angeles", "Australia/Lord_Howe", "Asia/Shanghai", "Europe/Amsterdam", "UTC"] {
            let tz: Tz = zone.parse().unwrap();
            let mut shuffled = texts.clone();
            shuffled.sort_by_key(|t| t.bytes().fold(0u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)));
            for ts in [&shuffled, &texts] {
                let col = StringChunked::from_iter_values("ts".into(), ts.iter().map(|s| s.as_str())).into_column();
                let out = parse_times(tz)(col).unwrap();
                let out = out.i64().unwrap();
                for (i, t) in ts.iter().enumerate() {
                    assert_eq!(out.get(i), crate::time::parse_instant(t, &tz).ok(), "{zone} {t:?}");
                }
            }
        }
    }

    /// Values at the ends of `i64` (their quarter's ends overflow) and nulls come out null, beside
    /// ordinary values, first in a column or after others.
    #[test]
    fn naive_to_utc_extremes_and_nulls_are_null() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let noon = 1_700_000_000_000_000i64; // 2023-11-14T22:13:20 local
        let utc = noon - 8 * 3_600_000_000;
        for vs in [
            vec![Some(i64::MAX), Some(noon), None, Some(i64::MIN)],
            vec![Some(noon), Some(i64::MIN + 1), Some(i64::MAX - 1)],
        ] {
            let col = vs.iter().copied().collect::<Int64Chunked>().into_column();
            let out = naive_to_utc(tz)(col).unwrap();
            let want: Vec<Option<i64>> = vs.iter().map(|v| v.filter(|v| *v == noon).map(|_| utc)).collect();
            assert_eq!(out.i64().unwrap().iter().collect::<Vec<_>>(), want);
        }
    }

    /// `map_values` gives the same column as the iterator of options: without nulls, with a null
    /// in, with `f` refusing a value, over two chunks.
    #[test]
    fn map_values_is_the_iterator_of_options() {
        let f = |v: i64| (v != 3).then_some(v * 10);
        let mut two = Int64Chunked::from_vec("x".into(), vec![1, 2]);
        two.append(&Int64Chunked::from_vec("x".into(), vec![4, 5])).unwrap();
        for ca in [
            Int64Chunked::from_vec("x".into(), vec![1, 2, 4]),
            [Some(1), None, Some(4)].into_iter().collect(),
            Int64Chunked::from_vec("x".into(), vec![1, 3, 4]),
            two,
        ] {
            let got: Int64Chunked = map_values(&ca, f);
            let want: Vec<Option<i64>> = ca.iter().map(|o| o.and_then(f)).collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), want);
            assert_eq!(got.null_count(), want.iter().filter(|v| v.is_none()).count());
        }
    }
}
