//! The rows of an audit run in shares, spilled to disk share by share and merged back into one
//! set of files (issue 21, Deliver 3: memory bounded however many registrations). Each share's
//! findings are spilled in the findings' order and its verdicts in file order (each with its
//! registration's record number); a k-way merge of the shares' spills writes `findings.csv`,
//! `findings.json`, `findings.parquet`, `registrations.csv` and `registrations.json` byte for byte
//! as the whole audit writes them (the Parquet file's row groups aside), holding one row per
//! share.
//!
//! A spill is a file of records of text cells (a fixed count per file), each cell its length as
//! a LEB128 number then its bytes; a verdict record starts with its record number (8 bytes).

use super::direct::{DirectReader, DirectWriter};
use crate::error::{Error, Result};
use crate::findings::{Finding, Table, COLUMNS};
use std::borrow::Cow;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

/// A directory of spills, removed with everything in it when dropped.
pub struct SpillDir {
    pub path: PathBuf,
}

impl SpillDir {
    /// A fresh directory in `parent` (the outputs' directory: the same disk as the outputs).
    pub fn new(parent: &Path) -> Result<SpillDir> {
        std::fs::create_dir_all(parent).map_err(|e| Error::new(format!("{}: {e}", parent.display())))?;
        let path = parent.join(format!(".priceaudit-shares-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        Ok(SpillDir { path })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::new(format!("{}: {e}", path.display()))
}

/// Writes records of cells to a spill file.
pub struct SpillWriter {
    w: DirectWriter,
    path: PathBuf,
}

impl SpillWriter {
    pub fn create(path: &Path) -> Result<SpillWriter> {
        let w = DirectWriter::create(path).map_err(io_err(path))?;
        Ok(SpillWriter { w, path: path.to_path_buf() })
    }

    /// One record: `rn` (when the file's records have one) and the cells.
    pub fn write<S: AsRef<str>>(&mut self, rn: Option<u64>, cells: &[S]) -> Result<()> {
        let mut go = || -> std::io::Result<()> {
            if let Some(rn) = rn {
                self.w.write_all(&rn.to_le_bytes())?;
            }
            for c in cells {
                let b = c.as_ref().as_bytes();
                let mut n = b.len() as u64;
                loop {
                    let byte = (n & 0x7f) as u8;
                    n >>= 7;
                    if n == 0 {
                        self.w.write_all(&[byte])?;
                        break;
                    }
                    self.w.write_all(&[byte | 0x80])?;
                }
                self.w.write_all(b)?;
            }
            Ok(())
        };
        go().map_err(io_err(&self.path))
    }

    pub fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(io_err(&self.path))
    }
}

/// A cell longer than this is a damaged spill (no cell of an audit comes near).
const MAX_CELL: u64 = 1 << 31;

/// Reads a spill file's records back.
pub struct SpillReader {
    r: DirectReader,
    path: PathBuf,
    cells: usize,
    keyed: bool,
}

/// One record read back.
#[derive(Default, Clone, Debug)]
pub struct Record {
    pub rn: u64,
    pub cells: Vec<String>,
}

impl SpillReader {
    /// A spill of records of `cells` cells, each led by a record number when `keyed`.
    pub fn open(path: &Path, cells: usize, keyed: bool) -> Result<SpillReader> {
        let r = DirectReader::open(path).map_err(io_err(path))?;
        Ok(SpillReader { r, path: path.to_path_buf(), cells, keyed })
    }

    /// The next record into `rec` (its strings reused); `false` at the end.
    pub fn next(&mut self, rec: &mut Record) -> Result<bool> {
        let at_end = self.r.fill_buf().map_err(io_err(&self.path))?.is_empty();
        if at_end {
            return Ok(false);
        }
        let path = self.path.clone();
        let bad = |what: &str| Error::internal(format!("{}: spill file damaged ({what})", path.display()));
        if self.keyed {
            let mut b = [0u8; 8];
            self.r.read_exact(&mut b).map_err(|_| bad("record number"))?;
            rec.rn = u64::from_le_bytes(b);
        }
        rec.cells.resize(self.cells, String::new());
        for cell in rec.cells.iter_mut() {
            let (mut n, mut shift) = (0u64, 0u32);
            loop {
                let mut b = [0u8; 1];
                self.r.read_exact(&mut b).map_err(|_| bad("length"))?;
                n |= ((b[0] & 0x7f) as u64) << shift;
                if b[0] & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 63 {
                    return Err(bad("length"));
                }
            }
            if n > MAX_CELL {
                return Err(bad("length"));
            }
            let mut bytes = std::mem::take(cell).into_bytes();
            bytes.clear();
            bytes.resize(n as usize, 0);
            self.r.read_exact(&mut bytes).map_err(|_| bad("cell"))?;
            *cell = String::from_utf8(bytes).map_err(|_| bad("text"))?;
        }
        Ok(true)
    }
}

/// The shares' spills merged: each next record is the least of the shares' next records by
/// `less` (ties to the earlier share), handed to `each`.
pub fn merge(
    mut readers: Vec<SpillReader>,
    less: impl Fn(&Record, &Record) -> bool,
    mut each: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let mut heads: Vec<Option<Record>> = Vec::with_capacity(readers.len());
    for r in readers.iter_mut() {
        let mut rec = Record::default();
        heads.push(if r.next(&mut rec)? { Some(rec) } else { None });
    }
    loop {
        // a few shares: a scan of the heads is cheaper than a heap's bookkeeping
        let mut best: Option<usize> = None;
        for (i, h) in heads.iter().enumerate() {
            if let Some(h) = h {
                if best.is_none_or(|b| less(h, heads[b].as_ref().expect("a head"))) {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else { return Ok(()) };
        each(heads[i].as_ref().expect("a head"))?;
        let mut rec = heads[i].take().expect("a head");
        if readers[i].next(&mut rec)? {
            heads[i] = Some(rec);
        }
    }
}

/// A spilled finding's place in the findings' order ([`crate::findings::sort`]'s key, read from
/// its cells).
fn finding_key(c: &[String]) -> (&str, &str, &str, &str, Option<(Table, u64)>, &str) {
    let table = Table::ALL.into_iter().find(|t| t.as_str() == c[11]);
    let evidence = table.map(|t| (t, c[12].parse::<u64>().unwrap_or(0)));
    (&c[0], &c[3], &c[4], &c[5], evidence, &c[16])
}

/// Spill one share's findings (in the findings' order).
pub fn spill_findings(path: &Path, findings: &[Finding]) -> Result<()> {
    let mut w = SpillWriter::create(path)?;
    for f in findings {
        w.write(None, &f.cells_ref())?;
    }
    w.finish()
}

/// Spill one share's verdicts (in file order), each with its registration's record number.
pub fn spill_verdicts(path: &Path, audit: &crate::Audit) -> Result<()> {
    let mut w = SpillWriter::create(path)?;
    for (v, r) in audit.verdicts.iter().zip(&audit.facts.registrations) {
        w.write(Some(r.rn), &v.cells_ref())?;
    }
    w.finish()
}

/// An output file being written: in the spill directory (on the outputs' disk; removed with it if
/// the run fails), renamed into place by [`Self::commit`].
struct Pending {
    w: DirectWriter,
    tmp: PathBuf,
    target: PathBuf,
}

impl Pending {
    fn create(spill: &SpillDir, out: &Path, name: &str) -> Result<Pending> {
        let target = out.join(name);
        let tmp = spill.file(&format!("out-{name}"));
        let w = DirectWriter::create(&tmp).map_err(io_err(&target))?;
        Ok(Pending { w, tmp, target })
    }

    fn commit(mut self) -> Result<PathBuf> {
        self.w.flush().map_err(io_err(&self.target))?;
        std::fs::rename(&self.tmp, &self.target).map_err(io_err(&self.target))?;
        Ok(self.target)
    }
}

/// A merge's CSV and JSON files of one kind (`findings` or `registrations`): those chosen.
struct RowFiles {
    stem: &'static str,
    csv: Option<Pending>,
    json: Option<Pending>,
}

impl RowFiles {
    fn create(spill: &SpillDir, out: &Path, outputs: &super::Outputs, stem: &'static str) -> Result<RowFiles> {
        let file = |ext: &str| -> Result<Option<Pending>> {
            let name = format!("{stem}.{ext}");
            outputs.has(&name).then(|| Pending::create(spill, out, &name)).transpose()
        };
        Ok(RowFiles { stem, csv: file("csv")?, json: file("json")? })
    }

    /// The shares' spills (`readers`) merged by `less` into the files: each record a CSV row of
    /// its cells under `header`, a JSON object by `json_line`, and handed to `each` too.
    fn merge(
        &mut self,
        readers: Vec<SpillReader>,
        less: impl Fn(&Record, &Record) -> bool,
        header: &[&str],
        json_line: impl Fn(&mut Vec<u8>, &[String]) -> Result<()>,
        mut each: impl FnMut(&Record) -> Result<()>,
    ) -> Result<()> {
        let stem = self.stem;
        let named = |ext: &'static str| move |e: Error| Error::new(format!("{stem}.{ext}: {}", e.message));
        let csv_err = |e: csv::Error| Error::new(format!("{stem}.csv: {e}"));
        let mut csv = self.csv.as_mut().map(|p| super::csv_writer(&mut p.w));
        let mut json = self.json.as_mut().map(|p| super::JsonArray::new(&mut p.w));
        if let Some(w) = csv.as_mut() {
            w.write_record(header).map_err(csv_err)?;
        }
        merge(readers, less, |rec| {
            if let Some(w) = csv.as_mut() {
                w.write_record(&rec.cells).map_err(csv_err)?;
            }
            if let Some(j) = json.as_mut() {
                j.row(|line| json_line(line, &rec.cells)).map_err(named("json"))?;
            }
            each(rec)
        })?;
        if let Some(mut w) = csv {
            w.flush().map_err(|e| Error::new(format!("{stem}.csv: {e}")))?;
        }
        if let Some(j) = json {
            j.finish().map_err(named("json"))?;
        }
        Ok(())
    }

    /// The files renamed into place.
    fn commit(self) -> Result<Vec<PathBuf>> {
        [self.csv, self.json].into_iter().flatten().map(Pending::commit).collect()
    }
}

/// The findings of the shares' spills (`paths`, in share order) merged into the chosen of
/// `findings.csv`, `findings.json` and `findings.parquet` in `out`. Returns the paths written.
///
/// `total`: the findings in all (`findings.parquet`'s row groups are cut as polars cuts the whole
/// audit's: one below 2¹⁸ findings, else `total / 2¹⁸` groups of equal size, the last taking the
/// rest).
pub fn write_findings(
    paths: &[PathBuf],
    spill: &SpillDir,
    out: &Path,
    outputs: &super::Outputs,
    total: u64,
) -> Result<Vec<PathBuf>> {
    let readers = paths.iter().map(|p| SpillReader::open(p, COLUMNS.len(), false)).collect::<Result<Vec<_>>>()?;
    let mut files = RowFiles::create(spill, out, outputs, "findings")?;
    let mut parquet_out =
        outputs.has("findings.parquet").then(|| Pending::create(spill, out, "findings.parquet")).transpose()?;
    let keys = super::json_key_order();
    let mut batch: Vec<[Cow<str>; 17]> = Vec::new();
    let mut groups = row_groups(total).into_iter();
    let mut group = groups.next().unwrap_or(0);
    let schema = super::findings_frame(&[])?.schema().as_ref().clone();
    {
        let mut parquet = match parquet_out.as_mut() {
            Some(p) => Some(polars::prelude::ParquetWriter::new(&mut p.w).batched(&schema)?),
            None => None,
        };
        files.merge(
            readers,
            |a, b| finding_key(&a.cells) < finding_key(&b.cells),
            &COLUMNS,
            |line, cells| super::finding_json_line(line, &keys, cells),
            |rec| {
                if let Some(w) = parquet.as_mut() {
                    batch.push(std::array::from_fn(|i| Cow::Owned(rec.cells[i].clone())));
                    if batch.len() as u64 == group {
                        w.write_batch(&super::frame_of(&COLUMNS, &batch, &["evidence_row"])?)?;
                        batch.clear();
                        group = groups.next().unwrap_or(u64::MAX);
                    }
                }
                Ok(())
            },
        )?;
        if let Some(w) = parquet.as_mut() {
            // (no findings: one empty group, as polars writes an empty frame)
            if !batch.is_empty() || total == 0 {
                w.write_batch(&super::frame_of(&COLUMNS, &batch, &["evidence_row"])?)?;
            }
            w.finish()?;
        }
    }
    let mut written = files.commit()?;
    if let Some(p) = parquet_out {
        written.push(p.commit()?);
    }
    Ok(written)
}

/// The row groups polars writes a frame of `rows` rows in (one chunk; `ParquetWriter::finish`'s
/// default row group size, 512², and `chunk_df_for_writing`'s cut).
fn row_groups(rows: u64) -> Vec<u64> {
    const SIZE: u64 = 512 * 512;
    let n = rows / SIZE;
    if n <= 1 {
        return vec![rows];
    }
    let each = rows / n;
    let mut out = vec![each; n as usize - 1];
    out.push(rows - each * (n - 1));
    out
}

/// The verdicts of the shares' spills merged in file order into the chosen of
/// `registrations.csv` and `registrations.json` in `out`. Returns the paths written.
pub fn write_verdicts(
    paths: &[PathBuf],
    spill: &SpillDir,
    out: &Path,
    outputs: &super::Outputs,
) -> Result<Vec<PathBuf>> {
    use crate::verdict::COLUMNS;
    let readers = paths.iter().map(|p| SpillReader::open(p, COLUMNS.len(), true)).collect::<Result<Vec<_>>>()?;
    let mut files = RowFiles::create(spill, out, outputs, "registrations")?;
    files.merge(readers, |a, b| a.rn < b.rn, &COLUMNS, super::registration_json_line, |_| Ok(()))?;
    files.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Evidence, Severity};

    /// Findings that differ in each of the sort's keys (rule, registration, offer, SKU, evidence
    /// table and row, message; with and without evidence), in a scrambled order.
    fn findings(n: usize) -> Vec<Finding> {
        let rules = [crate::rules::ALL[0].code, crate::rules::ALL[3].code];
        let tables = [Table::Prices, Table::Registrations, Table::Ladders];
        (0..n)
            .map(|i| {
                let j = (i.wrapping_mul(7919)) % n.max(1);
                Finding {
                    rule: rules[j % 2],
                    name: "n",
                    severity: Severity::Warning,
                    registration_id: format!("R{}", j % 5).into(),
                    offer_id: format!("O{}", j % 3).into(),
                    sku_id: if j.is_multiple_of(4) { Default::default() } else { format!("S{}", j % 2).into() },
                    merchant_id: "M".into(),
                    activity: "huopin".into(),
                    observed: "1".into(),
                    reference: "2".into(),
                    threshold: "3".into(),
                    evidence: (!j.is_multiple_of(6)).then(|| Evidence {
                        table: tables[j % 3],
                        row: (j % 11) as u64 * 9,
                        ts: None,
                        price: None,
                        channel: None,
                    }),
                    message: format!("m{}", j % 13),
                }
            })
            .collect()
    }

    /// The merge's order read back from cells is the findings' order ([`crate::findings::sort`]).
    #[test]
    fn cells_order_as_findings_sort() {
        let mut all = findings(500);
        let mut by_cells: Vec<[String; 17]> = all.iter().map(|f| f.cells_ref().map(|c| c.into_owned())).collect();
        by_cells.sort_by(|a, b| finding_key(a).cmp(&finding_key(b)));
        crate::findings::sort(&mut all);
        let sorted: Vec<[String; 17]> = all.iter().map(|f| f.cells_ref().map(|c| c.into_owned())).collect();
        assert!(by_cells == sorted);
        // the evidence row compares as a number, not as text ("9" after "18")
        let (a, b) = (&sorted[0], &sorted[1]);
        assert!(finding_key(a) <= finding_key(b));
    }

    /// polars' cut of a one-chunk frame into row groups (`chunk_df_for_writing`, 512² rows).
    #[test]
    fn row_groups_as_polars_cuts_them() {
        const S: u64 = 512 * 512;
        assert_eq!(row_groups(0), vec![0]);
        assert_eq!(row_groups(S - 1), vec![S - 1]);
        assert_eq!(row_groups(S), vec![S]);
        assert_eq!(row_groups(2 * S - 1), vec![2 * S - 1]);
        assert_eq!(row_groups(2 * S), vec![S, S]);
        assert_eq!(row_groups(2 * S + 5), vec![S + 2, S + 3]);
        assert_eq!(row_groups(600_000), vec![300_000, 300_000]);
        assert_eq!(row_groups(3 * S + 7), vec![S + 2, S + 2, S + 3]);
    }

    /// The merged `findings.parquet` is the one the whole audit writes, byte for byte, below and
    /// above polars' row group size (one group; three of unequal split).
    #[test]
    fn merged_parquet_is_the_whole_audits() {
        for n in [0usize, 1, 700, 3 * 512 * 512 + 7] {
            let mut all = findings(n);
            crate::findings::sort(&mut all);
            let parent = tempfile::tempdir().unwrap();
            let dir = SpillDir::new(parent.path()).unwrap();
            // two shares: alternate findings
            let (a, b): (Vec<_>, Vec<_>) = all.iter().cloned().enumerate().partition(|(i, _)| i % 2 == 0);
            let strip = |v: Vec<(usize, Finding)>| v.into_iter().map(|(_, f)| f).collect::<Vec<_>>();
            let paths = [dir.file("a"), dir.file("b")];
            spill_findings(&paths[0], &strip(a)).unwrap();
            spill_findings(&paths[1], &strip(b)).unwrap();
            let out = dir.file("out");
            std::fs::create_dir(&out).unwrap();
            let outputs = super::super::Outputs::parse(&["findings.parquet".into(), "findings.csv".into()]).unwrap();
            write_findings(&paths, &dir, &out, &outputs, n as u64).unwrap();
            let merged = std::fs::read(out.join("findings.parquet")).unwrap();
            assert!(merged == super::super::findings_parquet(&all).unwrap(), "{n} findings");
            let csv = std::fs::read(out.join("findings.csv")).unwrap();
            assert!(csv == super::super::findings_csv(&all).unwrap(), "{n} findings");
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(parent.path()).unwrap();
        let long = "x".repeat(300);
        let rows: Vec<(u64, Vec<&str>)> =
            vec![(7, vec!["", "a", "商家"]), (u64::MAX, vec![&long, "\n\"", ""]), (0, vec!["", "", ""])];
        for keyed in [false, true] {
            let p = dir.file(&format!("s{keyed}"));
            let mut w = SpillWriter::create(&p).unwrap();
            for (rn, cells) in &rows {
                w.write(keyed.then_some(*rn), cells).unwrap();
            }
            w.finish().unwrap();
            let mut r = SpillReader::open(&p, 3, keyed).unwrap();
            let mut rec = Record::default();
            for (rn, cells) in &rows {
                assert!(r.next(&mut rec).unwrap());
                assert_eq!(rec.cells, *cells);
                assert_eq!(rec.rn, if keyed { *rn } else { 0 });
            }
            assert!(!r.next(&mut rec).unwrap());
        }
        let path = dir.path.clone();
        drop(dir);
        assert!(!path.exists(), "the spill directory is removed");
    }
}
