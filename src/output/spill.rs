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
    /// The record being made up.
    rec: Vec<u8>,
}

impl SpillWriter {
    pub fn create(path: &Path) -> Result<SpillWriter> {
        let w = DirectWriter::create(path).map_err(io_err(path))?;
        Ok(SpillWriter { w, path: path.to_path_buf(), rec: Vec::new() })
    }

    /// One record: `rn` (when the file's records have one) and the cells, made up in the
    /// writer's scratch and written at once (a write per length and per cell was 35 a finding).
    pub fn write<S: AsRef<str>>(&mut self, rn: Option<u64>, cells: &[S]) -> Result<()> {
        let rec = &mut self.rec;
        rec.clear();
        if let Some(rn) = rn {
            rec.extend_from_slice(&rn.to_le_bytes());
        }
        for c in cells {
            let b = c.as_ref().as_bytes();
            let mut n = b.len() as u64;
            while n >= 0x80 {
                rec.push((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            rec.push(n as u8);
            rec.extend_from_slice(b);
        }
        self.w.write_all(rec).map_err(io_err(&self.path))
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

impl Record {
    /// `other` copied into this record's strings (their room reused).
    fn copy_from(&mut self, other: &Record) {
        self.rn = other.rn;
        self.cells.resize(other.cells.len(), String::new());
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            a.clone_from(b);
        }
    }
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
        if self.keyed {
            let mut b = [0u8; 8];
            self.r.read_exact(&mut b).map_err(|_| self.damaged("record number"))?;
            rec.rn = u64::from_le_bytes(b);
        }
        rec.cells.resize(self.cells, String::new());
        for cell in rec.cells.iter_mut() {
            let n = self.length()?;
            let mut bytes = std::mem::take(cell).into_bytes();
            bytes.clear();
            bytes.reserve(n);
            // from the reader's buffer as far as it holds the cell, then on
            while bytes.len() < n {
                let have = self.r.fill_buf().map_err(io_err(&self.path))?;
                if have.is_empty() {
                    return Err(self.damaged("cell"));
                }
                let take = have.len().min(n - bytes.len());
                bytes.extend_from_slice(&have[..take]);
                self.r.consume(take);
            }
            *cell = String::from_utf8(bytes).map_err(|_| self.damaged("text"))?;
        }
        Ok(true)
    }

    /// A cell's length (LEB128), read from the buffer when it holds the whole number.
    fn length(&mut self) -> Result<usize> {
        let (mut n, mut shift, mut used) = (0u64, 0u32, 0usize);
        let buf = self.r.fill_buf().map_err(io_err(&self.path))?;
        let mut done = false;
        for &b in buf.iter().take(10) {
            used += 1;
            n |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                done = true;
                break;
            }
            shift += 7;
        }
        if done {
            self.r.consume(used);
        } else {
            // (the number runs past the buffer's end, or is too long: byte by byte)
            (n, shift) = (0, 0);
            loop {
                let mut b = [0u8; 1];
                self.r.read_exact(&mut b).map_err(|_| self.damaged("length"))?;
                n |= ((b[0] & 0x7f) as u64) << shift;
                if b[0] & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 63 {
                    return Err(self.damaged("length"));
                }
            }
        }
        if n > MAX_CELL {
            return Err(self.damaged("length"));
        }
        Ok(n as usize)
    }

    fn damaged(&self, what: &str) -> Error {
        Error::internal(format!("{}: spill file damaged ({what})", self.path.display()))
    }
}

/// The shares' spills merged: each next record is the least of the shares' next records by
/// `order` (ties to the earlier share), handed to `each`. `key` is computed once per record read,
/// and `order` compares two records with their keys.
///
/// A loser tree over the shares' heads: each record out costs about log2(shares) comparisons
/// (a scan of the heads cost shares − 1; 12 shares of a registration-heavy dump: 11).
pub fn merge<K>(
    mut readers: Vec<SpillReader>,
    key: impl Fn(&Record) -> K,
    order: impl Fn((&Record, &K), (&Record, &K)) -> std::cmp::Ordering,
    mut each: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let k = readers.len();
    if k == 0 {
        return Ok(());
    }
    let mut heads: Vec<Option<(Record, K)>> = Vec::with_capacity(k);
    for r in readers.iter_mut() {
        let mut rec = Record::default();
        heads.push(if r.next(&mut rec)? {
            let kk = key(&rec);
            Some((rec, kk))
        } else {
            None
        });
    }
    // does share `a`'s head go out before share `b`'s? (an exhausted share's never)
    let before = |heads: &[Option<(Record, K)>], a: usize, b: usize| match (&heads[a], &heads[b]) {
        (Some(x), Some(y)) => order((&x.0, &x.1), (&y.0, &y.1)).then(a.cmp(&b)).is_lt(),
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => a < b,
    };
    // tree[0]: the winner; tree[1..k]: each match's loser (share i is leaf node k + i, node n's
    // parent n / 2)
    let mut tree = vec![usize::MAX; k];
    for leaf in 0..k {
        let (mut w, mut n) = (leaf, (leaf + k) / 2);
        loop {
            if n == 0 {
                tree[0] = w;
                break;
            }
            if tree[n] == usize::MAX {
                // the first of the node's two players waits for the other
                tree[n] = w;
                break;
            }
            if before(&heads, tree[n], w) {
                std::mem::swap(&mut tree[n], &mut w);
            }
            n /= 2;
        }
    }
    loop {
        let i = tree[0];
        let Some((mut rec, _)) = heads[i].take() else { return Ok(()) };
        each(&rec)?;
        if readers[i].next(&mut rec)? {
            let kk = key(&rec);
            heads[i] = Some((rec, kk));
        }
        // the share's new head plays its way up
        let (mut w, mut n) = (i, (i + k) / 2);
        while n > 0 {
            if before(&heads, tree[n], w) {
                std::mem::swap(&mut tree[n], &mut w);
            }
            n /= 2;
        }
        tree[0] = w;
    }
}

/// The part of a spilled finding's place in the findings' order that is parsed from its text: the
/// evidence's table and row ([`merge`]'s `key`, computed once per record).
fn evidence_key(c: &[String]) -> Option<(Table, u64)> {
    let table = Table::ALL.into_iter().find(|t| t.as_str() == c[11]);
    table.map(|t| (t, c[12].parse::<u64>().unwrap_or(0)))
}

/// Two spilled findings in the findings' order ([`crate::findings::sort`]'s key, read from their
/// cells and [`evidence_key`]).
fn finding_order(
    (a, ea): (&Record, &Option<(Table, u64)>),
    (b, eb): (&Record, &Option<(Table, u64)>),
) -> std::cmp::Ordering {
    let (a, b) = (&a.cells, &b.cells);
    (&a[0], &a[3], &a[4], &a[5], ea, &a[16]).cmp(&(&b[0], &b[3], &b[4], &b[5], eb, &b[16]))
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

    /// The shares' spills (`readers`) merged ([`merge`]) into the files: each record a CSV row of
    /// its cells under `header`, a JSON object by `json_line`, and handed to `each` too.
    ///
    /// Each file is written on a thread of its own, in batches of records copied into recycled
    /// buffers: the merge (reading, decoding, comparing) and the writing (quoting, escaping, the
    /// direct writes' waits) each had a core's worth of work and took turns on one (PERF.md); the
    /// CSV and JSON files then each had their thread (the JSON file the longer work).
    fn merge<K>(
        &mut self,
        readers: Vec<SpillReader>,
        key: impl Fn(&Record) -> K,
        order: impl Fn((&Record, &K), (&Record, &K)) -> std::cmp::Ordering,
        header: &[&str],
        json_line: impl Fn(&mut Vec<u8>, &[String]) -> Result<()> + Send,
        mut each: impl FnMut(&Record) -> Result<()>,
    ) -> Result<()> {
        /// Records handed to the writing threads at a time.
        const BATCH: usize = 4096;
        let stem = self.stem;
        let (csv_file, json_file) = (self.csv.as_mut().map(|p| &mut p.w), self.json.as_mut().map(|p| &mut p.w));
        type Batch = std::sync::Arc<Vec<Record>>;
        std::thread::scope(|s| {
            // each file on a thread of its own, both reading the same batches; a batch comes back
            // from each, and is used again once both are done with it
            let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
            let mut writers = Vec::new();
            let mut to_writers = Vec::new();
            if let Some(w) = csv_file {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
                let empty_tx = empty_tx.clone();
                to_writers.push(tx);
                writers.push(s.spawn(move || -> Result<()> {
                    let csv_err = |e: csv::Error| Error::new(format!("{stem}.csv: {e}"));
                    let mut csv = super::csv_writer(w);
                    csv.write_record(header).map_err(csv_err)?;
                    for batch in rx {
                        for rec in batch.iter() {
                            csv.write_record(&rec.cells).map_err(csv_err)?;
                        }
                        let _ = empty_tx.send(batch); // (the merge may have ended)
                    }
                    csv.flush().map_err(|e| Error::new(format!("{stem}.csv: {e}")))
                }));
            }
            if let Some(w) = json_file {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
                let empty_tx = empty_tx.clone();
                to_writers.push(tx);
                writers.push(s.spawn(move || -> Result<()> {
                    let named = |e: Error| Error::new(format!("{stem}.json: {}", e.message));
                    let mut json = super::JsonArray::new(w);
                    for batch in rx {
                        for rec in batch.iter() {
                            json.row(|line| json_line(line, &rec.cells)).map_err(named)?;
                        }
                        let _ = empty_tx.send(batch);
                    }
                    json.finish().map_err(named)
                }));
            }
            drop(empty_tx);
            // a batch both writers are done with, else a new one
            let recycled = || -> Vec<Record> {
                while let Ok(b) = empty_rx.try_recv() {
                    if let Ok(b) = std::sync::Arc::try_unwrap(b) {
                        return b;
                    }
                }
                Vec::new()
            };
            let send = |batch: Vec<Record>| -> bool {
                let batch = std::sync::Arc::new(batch);
                to_writers.iter().all(|tx| tx.send(batch.clone()).is_ok())
            };
            let (mut batch, mut filled): (Vec<Record>, usize) = (Vec::new(), 0);
            let mut writer_gone = false;
            let merged = merge(readers, key, order, |rec| {
                match batch.get_mut(filled) {
                    Some(r) => r.copy_from(rec),
                    None => batch.push(rec.clone()),
                }
                filled += 1;
                if filled == BATCH {
                    if !send(std::mem::replace(&mut batch, recycled())) {
                        writer_gone = true;
                        return Err(Error::internal("a writing thread stopped"));
                    }
                    filled = 0;
                }
                each(rec)
            });
            if merged.is_ok() && filled > 0 {
                batch.truncate(filled);
                writer_gone |= !send(batch);
            }
            drop(to_writers);
            let mut written = Ok(());
            for w in writers {
                let done = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                written = written.and(done);
            }
            // a writing thread's own error first (the merge stopped because of it; the CSV
            // file's before the JSON file's)
            match (written, merged) {
                (Err(e), _) => Err(e),
                (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(())) if writer_gone => Err(Error::internal("a writing thread stopped")),
                (Ok(()), Ok(())) => Ok(()),
            }
        })
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
            |r| evidence_key(&r.cells),
            finding_order,
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
    files.merge(
        readers,
        |_| (),
        |(a, _), (b, _)| a.rn.cmp(&b.rn),
        &COLUMNS,
        super::registration_json_line,
        |_| Ok(()),
    )?;
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
        let record = |f: &Finding| Record { rn: 0, cells: f.cells_ref().map(|c| c.into_owned()).to_vec() };
        let mut by_cells: Vec<Record> = all.iter().map(record).collect();
        by_cells.sort_by(|a, b| finding_order((a, &evidence_key(&a.cells)), (b, &evidence_key(&b.cells))));
        crate::findings::sort(&mut all);
        let sorted: Vec<Record> = all.iter().map(record).collect();
        assert!(by_cells.iter().map(|r| &r.cells).eq(sorted.iter().map(|r| &r.cells)));
        // the evidence row compares as a number, not as text ("9" before "18")
        let same = |a: &Record, b: &Record| [0, 3, 4, 5, 11].iter().all(|&i| a.cells[i] == b.cells[i]);
        let pairs: Vec<&[Record]> =
            sorted.windows(2).filter(|w| same(&w[0], &w[1]) && !w[0].cells[12].is_empty()).collect();
        let n = |r: &Record| r.cells[12].parse::<u64>().unwrap();
        assert!(pairs.iter().all(|w| n(&w[0]) <= n(&w[1])));
        assert!(pairs.iter().any(|w| w[0].cells[12] > w[1].cells[12]), "a pair text would order the other way");
    }

    /// The merge of any number of shares is their rows in order, equal keys in share order: the
    /// shares' records (keys with many ties, shares of uneven length, empty shares) merged against
    /// all of them sorted stably.
    #[test]
    fn merge_of_many_shares_is_a_stable_sort() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(parent.path()).unwrap();
        for shares in [1usize, 2, 3, 5, 8, 12, 13] {
            // record j of share s: key (j * 7 + s) % 10 / 3 in order within the share (many ties)
            let mut expected: Vec<(u64, String)> = Vec::new();
            let mut paths = Vec::new();
            for s in 0..shares {
                let len = if s % 4 == 3 { 0 } else { 5 + s * 37 % 50 };
                let mut keys: Vec<u64> = (0..len as u64).map(|j| (j * 7 + s as u64) % 10 / 3).collect();
                keys.sort();
                let p = dir.file(&format!("m{shares}-{s}"));
                let mut w = SpillWriter::create(&p).unwrap();
                for (j, k) in keys.iter().enumerate() {
                    let tag = format!("{s}/{j}");
                    w.write(Some(*k), &[tag.as_str()]).unwrap();
                    expected.push((*k, tag));
                }
                w.finish().unwrap();
                paths.push(p);
            }
            expected.sort_by_key(|(k, _)| *k);
            let readers = paths.iter().map(|p| SpillReader::open(p, 1, true).unwrap()).collect();
            let mut got: Vec<(u64, String)> = Vec::new();
            merge(
                readers,
                |_| (),
                |(a, _), (b, _)| a.rn.cmp(&b.rn),
                |r| {
                    got.push((r.rn, r.cells[0].clone()));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(got, expected, "{shares} shares");
        }
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
            let outputs = super::super::Outputs::parse(&[
                "findings.parquet".into(),
                "findings.csv".into(),
                "findings.json".into(),
            ])
            .unwrap();
            write_findings(&paths, &dir, &out, &outputs, n as u64).unwrap();
            let merged = std::fs::read(out.join("findings.parquet")).unwrap();
            assert!(merged == super::super::findings_parquet(&all).unwrap(), "{n} findings");
            let csv = std::fs::read(out.join("findings.csv")).unwrap();
            assert!(csv == super::super::findings_csv(&all).unwrap(), "{n} findings");
            // (written on the merge's writing thread, in batches of recycled records)
            let json = std::fs::read(out.join("findings.json")).unwrap();
            assert!(json == super::super::findings_json(&all).unwrap(), "{n} findings");
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(parent.path()).unwrap();
        let long = "x".repeat(300);
        // lengths at each edge of a LEB128 byte: one byte up to 127, two from 128, three from 16384
        let (at127, at128, at16383, at16384) = ("y".repeat(127), "y".repeat(128), "z".repeat(16383), "z".repeat(16384));
        let rows: Vec<(u64, Vec<&str>)> = vec![
            (7, vec!["", "a", "商家"]),
            (u64::MAX, vec![&long, "\n\"", ""]),
            (0, vec!["", "", ""]),
            (3, vec![&at127, &at128, &at16383]),
            (4, vec![&at16384, "", &at127]),
        ];
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
