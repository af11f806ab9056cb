//! Counting rows from three places (the source, the validation, the reject list) and checking
//! that they add up (SPEC §2: rows read = rows used + rows rejected).

use super::*;

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
    if let Some(t) = tables.iter().find(|t| !t.reconciled()) {
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

/// Records in the source (blank CSV lines excluded): for CSV polars' own count, which the caller
/// checks against the byte scan's; for Parquet the footer's row count.
pub(crate) fn source_rows(v: &Validated) -> Result<u64> {
    if let Some(n) = v.scanned {
        return Ok(n);
    }
    match &v.source.format {
        Format::Csv(scan) => file_rows(&v.source.path, Some(scan)),
        Format::Parquet => file_rows(&v.source.path, None),
        Format::Frame(f) => Ok(f.height),
        Format::Parts(parts) => {
            parts.parts.iter().try_fold(0u64, |n, p| Ok(n + file_rows(&p.path, p.scan.as_deref())?))
        }
    }
}

/// One file's records: a CSV file's (`scan`) as polars counts them, less its blank lines; a
/// Parquet file's from its footer.
fn file_rows(path: &Path, scan: Option<&CsvScan>) -> Result<u64> {
    let n = match scan {
        Some(scan) => {
            // polars' own record count, to check that its records are the scan's records
            let lf = LazyCsvReader::new(polars_path(path))
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
        // the footer's row count
        None => parquet_rows(path)?,
    };
    Ok(n)
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
