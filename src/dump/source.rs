//! Where a table comes from: finding `NAME.csv` / `NAME.parquet` / `NAME/` (a directory of part
//! files, SPEC §2) in a dump, opening it as a lazy frame with its row index, and the row numbers
//! users see (CSV lines, Parquet rows, a row's index over the parts).

use super::*;

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
    /// A directory of part files of one format (SPEC §2).
    Parts(Box<Parts>),
    /// Rows handed over in memory ([`Frame`]).
    Frame(Box<FrameRows>),
}

/// A table handed over in memory (the Python module, a Spark task) instead of read from a file.
#[derive(Clone)]
pub struct Frame {
    pub df: DataFrame,
    /// The row number each row shows in findings and rejects (`evidence_row`, a reject's line), in
    /// the frame's row order; `None`: its 0-based index.
    pub rows: Option<std::sync::Arc<[u64]>>,
    /// When the rows came from a directory of part files (a Spark task's share of SPEC §2's table
    /// directory): each part's name as a reject names it (`prices/part-00001.parquet`) and its
    /// first row in `rows`' numbering, in that order. A reject then names its part and its row
    /// there, as the CLI's does. Empty: rejects name the table.
    pub parts: Vec<(String, u64)>,
}

impl Frame {
    /// A frame whose rows show their 0-based index.
    pub fn new(df: DataFrame) -> Frame {
        Frame { df, rows: None, parts: Vec::new() }
    }
}

/// What an in-memory table's [`Source`] keeps of it: its row count and row numbers.
#[derive(Debug, Clone)]
pub struct FrameRows {
    pub height: u64,
    pub rows: Option<std::sync::Arc<[u64]>>,
    pub parts: Vec<(String, u64)>,
}

/// Where the tables of an audit come from.
pub enum Input {
    /// A dump directory (SPEC §2).
    Dir(PathBuf),
    /// Tables in memory; the registrations and prices are required, as in a dump.
    Frames(Vec<(Table, Frame)>),
}

/// One table of an [`Input`].
pub enum TableIn {
    Path(PathBuf),
    Frame(Frame),
}

/// The part files of a table given as a directory, in byte order of their relative paths.
#[derive(Debug, Clone)]
pub struct Parts {
    pub csv: bool,
    pub parts: Vec<Part>,
}

/// One part file.
#[derive(Debug, Clone)]
pub struct Part {
    pub path: PathBuf,
    /// As a reject names it: the table's directory name and the part's path in it
    /// (`prices/part-00001.csv`).
    pub name: String,
    /// The part's first record number in the table's row index.
    pub offset: u64,
    /// Records (a CSV part's blank lines included: polars reads each as a row).
    pub records: u64,
    /// Rows of the earlier parts (blank lines not counted): the index of the part's first row.
    pub rows_before: u64,
    /// A CSV part's byte scan.
    pub scan: Option<Box<CsvScan>>,
}

impl Parts {
    /// The part holding record `rn`, and `rn` within it.
    fn part_of(&self, rn: u64) -> (&Part, u64) {
        let i = self.parts.partition_point(|p| p.offset <= rn).saturating_sub(1);
        let p = &self.parts[i];
        (p, rn - p.offset)
    }
}

impl Part {
    /// Blank lines before record `local` of a CSV part.
    fn blanks_before(&self, local: u64) -> u64 {
        self.scan.as_ref().map_or(0, |s| s.blank.partition_point(|b| *b < local) as u64)
    }
}

impl Source {
    /// The row number SPEC §7 shows for a record: the CSV line (header = 1), the 0-based
    /// Parquet row, or for a directory the 0-based row index over its parts (SPEC §2).
    pub fn row_of(&self, rn: u64) -> u64 {
        match &self.format {
            Format::Csv(scan) => scan.line_of(rn),
            Format::Parquet => rn,
            Format::Parts(parts) => {
                let (p, local) = parts.part_of(rn);
                p.rows_before + local - p.blanks_before(local)
            }
            Format::Frame(f) => f.rows.as_ref().map_or(rn, |r| r[rn as usize]),
        }
    }

    /// Where a reject of record `rn` is: the table (for a directory, the part) and its CSV line or
    /// Parquet row there.
    pub fn place_of(&self, rn: u64) -> (String, u64) {
        match &self.format {
            Format::Parts(parts) => {
                let (p, local) = parts.part_of(rn);
                (p.name.clone(), p.scan.as_ref().map_or(local, |s| s.line_of(local)))
            }
            Format::Frame(f) if !f.parts.is_empty() => {
                let row = self.row_of(rn);
                let i = f.parts.partition_point(|p| p.1 <= row).saturating_sub(1);
                (f.parts[i].0.clone(), row.saturating_sub(f.parts[i].1))
            }
            _ => (self.table.as_str().to_string(), self.row_of(rn)),
        }
    }

    /// The rows of the source as its metadata tells them before reading: a CSV file's records
    /// from the byte scan, a Parquet file's from its footer (a progress bar's total).
    pub fn rows_hint(&self) -> Option<u64> {
        match &self.format {
            Format::Csv(scan) => Some(scan.records - scan.blank.len() as u64),
            Format::Parquet => parquet_rows(&self.path).ok(),
            Format::Parts(parts) => {
                Some(parts.parts.iter().map(|p| p.records - p.scan.as_ref().map_or(0, |s| s.blank.len() as u64)).sum())
            }
            Format::Frame(f) => Some(f.height),
        }
    }

    /// As a summary names it: `csv`, `parquet`, or `arrow` for a table handed over in memory.
    pub fn format_name(&self) -> &'static str {
        match &self.format {
            Format::Frame(_) => "arrow",
            _ if self.is_csv() => "csv",
            _ => "parquet",
        }
    }

    pub fn is_csv(&self) -> bool {
        match &self.format {
            Format::Csv(_) => true,
            Format::Parquet | Format::Frame(_) => false,
            Format::Parts(p) => p.csv,
        }
    }
}

/// Find `NAME.csv`, `NAME.parquet` or the directory `NAME/` in `dir`.
pub fn find_table(dir: &Path, t: Table) -> Result<Option<PathBuf>> {
    let name = t.as_str();
    let found: Vec<PathBuf> = [dir.join(format!("{name}.csv")), dir.join(format!("{name}.parquet"))]
        .into_iter()
        .filter(|p| p.is_file())
        .chain(Some(dir.join(name)).filter(|p| p.is_dir()))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => {
            let names: Vec<String> =
                found.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
            bail!("{}: {} all hold table `{name}`; keep one", dir.display(), names.join(" and "))
        }
    }
}

/// Is the table [`find_table`] found at `path` CSV (a `.csv` file, or a directory whose first
/// part is one)? `false` for Parquet, or a directory that cannot be read (the loader reports it).
pub fn is_csv_table(path: &Path) -> bool {
    if path.is_dir() {
        part_files(path).ok().and_then(|f| f.first().map(|f| is_csv_file(f))).unwrap_or(false)
    } else {
        is_csv_file(path)
    }
}

/// Is the file at `path` read as CSV (its extension `csv`, in any case)?
fn is_csv_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// The part files under `dir` (SPEC §2): every `*.csv` or `*.parquet` below it, hive partition
/// folders walked, names starting with `_` or `.` skipped; sorted by relative path (bytes).
pub(crate) fn part_files(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries = std::fs::read_dir(d).map_err(|e| Error::new(format!("{}: cannot read: {e}", d.display())))?;
        for e in entries {
            let e = e.map_err(|e| Error::new(format!("{}: cannot read: {e}", d.display())))?;
            let name = e.file_name();
            let n = name.to_string_lossy();
            if n.starts_with('_') || n.starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                out.push(p.strip_prefix(root).expect("below the root").to_path_buf());
            }
        }
        Ok(())
    }
    let mut rel = Vec::new();
    walk(dir, dir, &mut rel)?;
    rel.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    Ok(rel)
}

/// A hive partition folder's `key=value` pairs on a part's relative path (`%XX` decoded).
fn hive_keys(rel: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            let c = c.as_os_str().to_string_lossy();
            if let Some((k, v)) = c.split_once('=') {
                out.push((k.to_string(), percent_decode(v)));
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Open a table given as a directory of part files: each part as a file (its own row-index
/// offset, its hive keys the table names and the part lacks as columns), every part cast to
/// the columns' common types, then concatenated in path order.
fn open_parts(dir: &Path, t: Table) -> Result<(LazyFrame, Source, Schema)> {
    let shown = dir.display().to_string();
    let rel = part_files(dir)?;
    let ext = |p: &Path| p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if rel.is_empty() {
        bail!("{shown}: the table directory has no part files (*.csv or *.parquet)");
    }
    if let Some(other) = rel.iter().find(|p| !matches!(ext(p).as_str(), "csv" | "parquet")) {
        bail!("{shown}: {} is neither a .csv nor a .parquet part", other.display());
    }
    let csv = ext(&rel[0]) == "csv";
    if let Some(other) = rel.iter().find(|p| (ext(p) == "csv") != csv) {
        bail!(
            "{shown}: parts of two formats ({} and {}); a table's parts have one format",
            rel[0].display(),
            other.display()
        );
    }
    let table_dir = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| t.as_str().into());
    let mut parts = Vec::new();
    let mut frames = Vec::new();
    let mut hive_added = false;
    let (mut offset, mut rows_before) = (0u64, 0u64);
    for r in &rel {
        let path = dir.join(r);
        let name = format!("{table_dir}/{}", r.to_string_lossy());
        let (mut lf, format, schema) = open_file(&path, t, offset, false)?;
        let (records, scan) = match format {
            Format::Csv(scan) => (scan.records, Some(scan)),
            _ => (parquet_rows(&path)?, None),
        };
        let mut schema = schema;
        for (k, v) in hive_keys(r) {
            if schema::columns(t).iter().any(|c| c.name == k) && !schema.contains(&k) {
                lf = lf.with_column(lit(v).alias(k.as_str()));
                hive_added = true;
                schema.insert_at_index(schema.len(), k.as_str().into(), DataType::String)?;
            }
        }
        for col in schema::columns(t).iter().filter(|c| c.required) {
            if !schema.contains(col.name) {
                bail!("{}: missing required column `{}`", path.display(), col.name);
            }
        }
        let blank = scan.as_ref().map_or(0, |s| s.blank.len() as u64);
        parts.push(Part { path, name, offset, records, rows_before, scan });
        frames.push((lf, schema));
        offset += records;
        rows_before += records - blank;
    }
    let frames_same = frames.windows(2).all(|w| w[0].1 == w[1].1);
    // the columns' common types, in the first part's column order, then the others' new ones; a
    // money column whose parts differ in type is read as each part's exact text (a decimal's
    // value without its scale's trailing zeros), so that each value is judged as SPEC §2 says
    let money = |n: &str| schema::columns(t).iter().any(|c| c.name == n && c.kind == schema::Kind::Money);
    let mut common = Schema::default();
    for (_, s) in &frames {
        for (n, dt) in s.iter() {
            let dt = match common.get(n) {
                Some(have) if have == dt => continue,
                Some(_) if money(n) => DataType::String,
                Some(have) => polars_core::utils::try_get_supertype(have, dt).unwrap_or(DataType::String),
                None => dt.clone(),
            };
            common.with_column(n.clone(), dt);
        }
    }
    // Parquet parts of one schema (the usual export): one multi-file scan, polars' own (its row
    // index runs on over the files); else each part cast to the common types, concatenated in
    // order
    let same = frames_same && !csv && !hive_added;
    let lf = if same {
        let paths: Vec<PlRefPath> = parts.iter().map(|p| polars_path(&p.path)).collect();
        let mut args = ScanArgsParquet {
            row_index: Some(RowIndex { name: RN.into(), offset: 0 }),
            glob: false,
            ..Default::default()
        };
        args.hive_options.enabled = Some(false);
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)
            .map_err(|e| Error::new(format!("{shown}: cannot read the parts: {e}")))?
    } else {
        let mut lfs: Vec<LazyFrame> = Vec::new();
        for ((lf, s), part) in frames.into_iter().zip(&parts) {
            let mut cols: Vec<Expr> = Vec::new();
            for (n, dt) in common.iter() {
                cols.push(match s.get(n) {
                    Some(have) if have == dt => col(n.clone()),
                    Some(have) if money(n) => match super::money::Physical::of(n, have)
                        .map_err(|e| Error::new(format!("{}: {}", part.path.display(), e.message)))?
                    {
                        super::money::Physical::Decimal(_) => super::validate::value_text(n, have),
                        _ => col(n.clone()).cast(DataType::String),
                    },
                    Some(_) => col(n.clone()).cast(dt.clone()),
                    None => lit(NULL).cast(dt.clone()).alias(n.clone()),
                });
            }
            lfs.push(lf.select(cols));
        }
        let args = UnionArgs { parallel: false, maintain_order: true, ..Default::default() };
        concat(lfs, args).map_err(|e| Error::new(format!("{shown}: cannot read the parts: {e}")))?
    };
    let format = Format::Parts(Box::new(Parts { csv, parts }));
    Ok((lf, Source { table: t, path: dir.to_path_buf(), format }, common))
}

/// The Parquet files a table is read from (one, or its parts in order); `None` for CSV.
pub(crate) fn parquet_files(source: &Source) -> Option<Vec<&Path>> {
    match &source.format {
        Format::Parquet => Some(vec![source.path.as_path()]),
        Format::Parts(p) if !p.csv => Some(p.parts.iter().map(|x| x.path.as_path()).collect()),
        _ => None,
    }
}

/// The latest `ts` of a table's rows as its Parquet footers' row-group statistics give it (UTC
/// micros; naive timestamps local to `tz`), without reading a row: `None` unless every part is
/// Parquet with an INT64 timestamp `ts` and every row group has the statistic.
pub(crate) fn footer_ts_max(source: &Source, tz: chrono_tz::Tz) -> Option<i64> {
    parquet_files(source)?.into_iter().map(|f| file_ts_max(f, tz)).try_fold(None::<i64>, |m, x| Some(m.max(x?)))?
}

fn file_ts_max(path: &Path, tz: chrono_tz::Tz) -> Option<Option<i64>> {
    use polars_parquet::parquet::schema::types::{PrimitiveLogicalType, TimeUnit};
    use polars_parquet::parquet::statistics::Statistics;
    let mut reader = ParquetReader::new(std::fs::File::open(path).ok()?);
    let meta = reader.get_metadata().ok()?.clone();
    let col =
        meta.schema().columns().iter().position(|c| c.path_in_schema.len() == 1 && c.path_in_schema[0] == "ts")?;
    let Some(PrimitiveLogicalType::Timestamp { unit, is_adjusted_to_utc }) =
        meta.schema().columns()[col].descriptor.primitive_type.logical_type
    else {
        return None;
    };
    let mut max: Option<i64> = None;
    for rg in &meta.row_groups {
        if rg.num_rows() == 0 {
            continue;
        }
        let chunk = rg.parquet_columns().get(col)?;
        match chunk.statistics(&meta.footer_buf)?.ok()? {
            Statistics::Int64(s) => match s.max_value {
                Some(v) => max = max.max(Some(v)),
                // an all-null row group has no maximum; one with values must
                None if s.null_count == Some(rg.num_rows() as i64) => {}
                None => return None,
            },
            _ => return None,
        }
    }
    let Some(v) = max else { return Some(None) };
    let micros = match unit {
        TimeUnit::Milliseconds => v.checked_mul(1000)?,
        TimeUnit::Microseconds => v,
        TimeUnit::Nanoseconds => v.div_euclid(1000),
    };
    Some(if is_adjusted_to_utc { Some(micros) } else { crate::time::naive_micros_to_utc(micros, &tz).ok() })
}

/// A Parquet file's row count, from its footer.
pub(crate) fn parquet_rows(path: &Path) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|e| Error::new(format!("{}: cannot read: {e}", path.display())))?;
    let mut reader = ParquetReader::new(file);
    let n = reader.num_rows().map_err(|e| Error::new(format!("{}: cannot read as Parquet: {e}", path.display())))?;
    Ok(n as u64)
}

/// Open a table as a lazy frame with its raw columns and `rn`, check the required columns.
pub(crate) fn open(input: &TableIn, t: Table) -> Result<(LazyFrame, Source, Schema)> {
    let (lf, source, schema) = match input {
        TableIn::Frame(f) => open_frame(f, t)?,
        TableIn::Path(path) if path.is_dir() => open_parts(path, t)?,
        TableIn::Path(path) => {
            let (lf, format, schema) = open_file(path, t, 0, true)?;
            (lf, Source { table: t, path: path.to_path_buf(), format }, schema)
        }
    };
    let (lf, schema) = categories_as_text(lf, schema, t);
    Ok((lf, source, schema))
}

/// Categorical, enum and binary columns as plain text. A Parquet file whose Arrow schema has
/// dictionary columns (pandas' `category`, polars' `Categorical`, pyarrow's `dictionary_encode`)
/// reads back as categories, which every later step reads as the text they stand for. A string
/// column written as bare `BYTE_ARRAY` (no UTF8 annotation, as Impala and some other writers
/// store strings) reads back as binary: its bytes as UTF-8 text, a byte sequence that is not
/// UTF-8 as U+FFFD (kept visible: an unknown channel, an unparsable price or time, a key that
/// matches nothing), never a null.
///
/// Only the columns the table reads: SPEC's, and every column of `merchants` (its metrics).
fn categories_as_text(lf: LazyFrame, mut schema: Schema, t: Table) -> (LazyFrame, Schema) {
    let read = |n: &str| t == Table::Merchants || schema::columns(t).iter().any(|c| c.name == n);
    let casts: Vec<(PlSmallStr, Expr)> = schema
        .iter()
        .filter(|(n, _)| read(n.as_str()))
        .filter_map(|(n, d)| {
            let c = col(n.clone());
            match d {
                DataType::Categorical(..) | DataType::Enum(..) => Some((n.clone(), c.cast(DataType::String))),
                DataType::Binary | DataType::BinaryOffset => Some((
                    n.clone(),
                    c.cast(DataType::Binary).map(binary_text, super::validate::string_field).alias(n.clone()),
                )),
                _ => None,
            }
        })
        .collect();
    if casts.is_empty() {
        return (lf, schema);
    }
    for (n, _) in &casts {
        schema.with_column(n.clone(), DataType::String);
    }
    (lf.with_columns(casts.into_iter().map(|(_, e)| e).collect::<Vec<_>>()), schema)
}

/// Binary values as UTF-8 text (an invalid sequence as U+FFFD).
fn binary_text(c: Column) -> PolarsResult<Column> {
    let out: StringChunked = c.binary()?.iter().map(|o| o.map(String::from_utf8_lossy)).collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// An in-memory table as a lazy frame with `rn` (its rows' 0-based index), its required columns
/// checked; messages name the table.
fn open_frame(f: &Frame, t: Table) -> Result<(LazyFrame, Source, Schema)> {
    let name = t.as_str();
    let height = f.df.height() as u64;
    if let Some(rows) = &f.rows {
        if rows.len() as u64 != height {
            bail!("{name}: {} row numbers for {height} rows", rows.len());
        }
    }
    let schema = (**f.df.schema()).clone();
    for col in schema::columns(t).iter().filter(|c| c.required) {
        if !schema.contains(col.name) {
            bail!("{name}: missing required column `{}`", col.name);
        }
    }
    let lf = f.df.clone().lazy().with_row_index(RN, None);
    let format = Format::Frame(Box::new(FrameRows { height, rows: f.rows.clone(), parts: f.parts.clone() }));
    Ok((lf, Source { table: t, path: PathBuf::from(name), format }, schema))
}

/// Open one file with its row index starting at `offset` (`check`: its required columns, which a
/// directory's part checks with its hive keys).
fn open_file(path: &Path, t: Table, offset: u64, check: bool) -> Result<(LazyFrame, Format, Schema)> {
    let name = path.display().to_string();
    let is_csv = is_csv_file(path);
    let (lf, format) = if is_csv {
        let scan = csv_scan::scan_file(path).map_err(|e| match e {
            csv_scan::ScanError::Io(e) => Error::new(format!("{name}: cannot read: {e}")),
            csv_scan::ScanError::Empty => Error::new(format!("{name}: the file is empty (no header row)")),
            csv_scan::ScanError::NotUtf8 { line } => Error::new(format!("{name}: line {line}: the file is not UTF-8")),
        })?;
        let lf = LazyCsvReader::new(polars_path(path))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_truncate_ragged_lines(true)
            .with_glob(false)
            .with_row_index(Some(RowIndex { name: RN.into(), offset: offset as IdxSize }))
            .finish()
            .map_err(|e| Error::new(format!("{name}: cannot read as CSV: {e}")))?;
        (lf, Format::Csv(Box::new(scan)))
    } else {
        let mut args = ScanArgsParquet {
            row_index: Some(RowIndex { name: RN.into(), offset: offset as IdxSize }),
            glob: false,
            ..Default::default()
        };
        // polars would add a column for each `key=value` folder of the path: the hive keys are
        // the directory reader's to add (SPEC §2: only those the table names)
        args.hive_options.enabled = Some(false);
        let lf = LazyFrame::scan_parquet(polars_path(path), args)
            .map_err(|e| Error::new(format!("{name}: cannot read as Parquet: {e}")))?;
        (lf, Format::Parquet)
    };
    let mut lf = lf;
    // a column type polars cannot decode fails only once rows are read: named here, up front
    if !is_csv {
        if let Some(cols) = unreadable_columns(path) {
            bail!("{name}: cannot read column {cols}");
        }
    }
    let schema = lf.collect_schema().map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
    if check {
        for col in schema::columns(t).iter().filter(|c| c.required) {
            if !schema.contains(col.name) {
                bail!("{name}: missing required column `{}`", col.name);
            }
        }
    }
    Ok((lf, format, (*schema).clone()))
}

/// A file's path as polars reads it: absolute and without `.` or `..` (its async reader, which
/// the CLI uses, rejects `..` segments: `audit ../dump` failed). Messages keep the user's path.
pub(crate) fn polars_path(path: &Path) -> PlRefPath {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    PlRefPath::new(p.to_string_lossy().as_ref())
}

/// The columns of a Parquet file whose type priceaudit (polars) cannot read, named from the
/// footer: decimals wider than 38 digits (DECIMAL256), as `` `price` (DECIMAL(40, 2)) ``.
fn unreadable_columns(path: &Path) -> Option<String> {
    use polars_parquet::parquet::schema::types::PrimitiveLogicalType;
    let file = std::fs::File::open(path).ok()?;
    let mut reader = ParquetReader::new(file);
    let meta = reader.get_metadata().ok()?;
    let cols: Vec<String> = meta
        .schema()
        .columns()
        .iter()
        .filter_map(|c| match c.descriptor.primitive_type.logical_type {
            Some(PrimitiveLogicalType::Decimal(p, s)) if p > 38 => {
                Some(format!("`{}` (DECIMAL({p}, {s}): more than 38 digits)", c.path_in_schema.join(".")))
            }
            _ => None,
        })
        .collect();
    (!cols.is_empty()).then(|| cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CSV prices are a `.csv` file or a directory whose first part (in path order, `_` and `.`
    /// names skipped, hive folders walked) is one; Parquet, nothing, or an ambiguous dump: no.
    #[test]
    fn which_prices_are_csv() {
        let d = tempfile::tempdir().unwrap();
        let at = |rel: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        };
        let csv = || find_table(d.path(), Table::Prices).ok().flatten().is_some_and(|p| is_csv_table(&p));
        assert!(!csv(), "no prices table");
        at("prices.parquet");
        at("registrations.csv");
        assert!(!csv());
        at("prices.csv");
        assert!(!csv(), "both: the loader refuses the dump");
        std::fs::remove_file(d.path().join("prices.parquet")).unwrap();
        assert!(csv());
        std::fs::remove_file(d.path().join("prices.csv")).unwrap();
        at("prices/_SUCCESS");
        at("prices/dt=2024-06-01/part-0.parquet");
        assert!(!csv());
        at("prices/dt=2024-05-31/part-0.csv");
        assert!(csv(), "the first part in path order");
    }

    /// The horizon from the footers: UTC timestamps as they are, naive ones local to the zone,
    /// any unit, the maximum over row groups (an all-null one skipped); no `ts` statistic or a
    /// text `ts`: `None` (the caller then reads the column).
    #[test]
    fn footer_ts_max_reads_row_group_statistics() {
        let d = tempfile::tempdir().unwrap();
        let write = |name: &str, mut df: DataFrame| {
            let p = d.path().join(name);
            ParquetWriter::new(std::fs::File::create(&p).unwrap())
                .with_row_group_size(Some(2))
                .finish(&mut df)
                .unwrap();
            Source { table: Table::Prices, path: p, format: Format::Parquet }
        };
        // 2024-05-20 10:00:00 and 2024-06-01 02:00:00 (micros since the epoch), in three row groups
        let (a, b) = (1_716_199_200_000_000i64, 1_717_207_200_000_000i64);
        let ts = |dt: DataType| {
            Series::new("ts".into(), [Some(a), Some(b), None, None, Some(a)]).cast(&dt).unwrap().into_column()
        };
        let sh: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let utc = write(
            "u.parquet",
            DataFrame::new(
                5,
                vec![ts(DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)))],
            )
            .unwrap(),
        );
        assert_eq!(footer_ts_max(&utc, sh), Some(b));
        let naive =
            write("n.parquet", DataFrame::new(5, vec![ts(DataType::Datetime(TimeUnit::Microseconds, None))]).unwrap());
        assert_eq!(footer_ts_max(&naive, sh), Some(b - 8 * 3_600_000_000), "local to Shanghai");
        let int = write("i.parquet", DataFrame::new(5, vec![ts(DataType::Int64)]).unwrap());
        assert_eq!(footer_ts_max(&int, sh), None, "an integer ts is no timestamp");
        let text =
            write("t.parquet", DataFrame::new(1, vec![Column::new("ts".into(), ["2024-05-20 10:00:00"])]).unwrap());
        assert_eq!(footer_ts_max(&text, sh), None);
    }
}
