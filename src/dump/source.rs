//! Where a table comes from: finding `NAME.csv` / `NAME.parquet` in a dump, opening it as a
//! lazy frame with its row index, and the row numbers users see (CSV lines, Parquet rows).

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
pub(crate) fn open(path: &Path, t: Table) -> Result<(LazyFrame, Source, Schema)> {
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
    // a column type polars cannot decode fails only once rows are read: named here, up front
    if !is_csv {
        if let Some(cols) = unreadable_columns(path) {
            bail!("{name}: cannot read column {cols}");
        }
    }
    let schema = lf.collect_schema().map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
    for col in schema::columns(t).iter().filter(|c| c.required) {
        if !schema.contains(col.name) {
            bail!("{name}: missing required column `{}`", col.name);
        }
    }
    Ok((lf, Source { table: t, path: path.to_path_buf(), format }, (*schema).clone()))
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
