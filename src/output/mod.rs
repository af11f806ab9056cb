//! Writing an audit's outputs (SPEC §7, §8): `findings.csv`, `findings.json`, `rejects.csv`,
//! `summary.json`, `report.md`, `report.html`, and `findings.parquet` on request. Every file is
//! written to a temporary name in the output directory and renamed into place, so an
//! interrupted run never leaves a half-written file that looks complete; nothing else in the
//! directory is touched.

pub mod charts;
pub mod digest;
pub mod direct;
pub mod report;
pub mod spill;

use crate::error::{Error, Result};
use crate::findings::{Finding, COLUMNS};
use crate::Audit;
use polars::prelude::*;
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `dir/name` atomically (temp file + rename).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    write_atomic_with(dir, name, |w| Ok(w.write_all(bytes)?))
}

/// Write `dir/name` atomically (temp file + rename) from `render`, which streams into a
/// buffered writer: no output is held whole in memory.
pub fn write_atomic_with(dir: &Path, name: &str, render: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<PathBuf> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error| Error::new(format!("{}: {e}", target.display()));
    {
        let mut w = direct::DirectWriter::create(&tmp).map_err(io)?;
        // no fsync: the rename guards against a run killed mid-write; forcing ~1 GB of outputs
        // (100 M rows) to disk cost seconds and protects only against a power cut
        crate::timing(&format!("write {name}"), || render(&mut w))
            .map_err(|e| Error::new(format!("{}: {}", target.display(), e.message)))?;
        w.flush().map_err(io)?;
    }
    std::fs::rename(&tmp, &target).map_err(io)?;
    Ok(target)
}

/// A CSV writer as every CSV file priceaudit writes is written (RFC 4180 quoting, `\n` line ends).
pub(crate) fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w)
}

fn write_csv<'a, const N: usize>(
    w: &mut dyn Write,
    header: &[&str],
    rows: impl Iterator<Item = [Cow<'a, str>; N]>,
) -> Result<()> {
    let mut w = csv_writer(w);
    let err = |e: csv::Error| Error::new(format!("csv: {e}"));
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(r.iter().map(|c| c.as_bytes())).map_err(err)?;
    }
    w.flush()?;
    Ok(())
}

/// What a `write_*` function writes, as bytes.
fn to_bytes(write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(&mut out)?;
    Ok(out)
}

pub fn findings_csv(findings: &[Finding]) -> Result<Vec<u8>> {
    to_bytes(|w| write_findings_csv(w, findings))
}

pub fn write_findings_csv(w: &mut dyn Write, findings: &[Finding]) -> Result<()> {
    write_csv(w, &COLUMNS, findings.iter().map(|f| f.cells_ref()))
}

/// `findings.json`: an array of objects with the CSV's columns; empty cells are null,
/// `evidence_row` is a number.
pub fn findings_json(findings: &[Finding]) -> Result<Vec<u8>> {
    to_bytes(|w| write_findings_json(w, findings))
}

pub fn write_findings_json(out: &mut dyn Write, findings: &[Finding]) -> Result<()> {
    // written directly (no serde_json::Value per finding): an array with one finding per line,
    // each byte for byte as serde_json writes a map (keys in sorted order, compact). (Pretty
    // printed, the file was 2.7× the CSV, and writing it the largest share of the outputs.)
    let keys = json_key_order();
    let mut array = JsonArray::new(out);
    for f in findings {
        array.row(|line| finding_json_line(line, &keys, &f.cells_ref()))?;
    }
    array.finish()
}

/// A JSON array written a row at a time, one object per line: `[`, the rows separated by `,`
/// and a line break, `]`; `[]` when there is none (every JSON file priceaudit writes; the rows as
/// serde_json writes them).
pub(crate) struct JsonArray<'w> {
    out: &'w mut dyn Write,
    rows: u64,
    line: Vec<u8>,
}

impl<'w> JsonArray<'w> {
    pub(crate) fn new(out: &'w mut dyn Write) -> JsonArray<'w> {
        JsonArray { out, rows: 0, line: Vec::with_capacity(1024) }
    }

    /// One row, which `render` appends to the line (built in one buffer and written at once: one
    /// call through `dyn Write` per row rather than ~50; 3.3 M findings took 9.2 s).
    pub(crate) fn row(&mut self, render: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        self.line.clear();
        self.line.extend_from_slice(if self.rows == 0 { b"[\n" } else { b",\n" });
        render(&mut self.line)?;
        self.rows += 1;
        Ok(self.out.write_all(&self.line)?)
    }

    pub(crate) fn finish(self) -> Result<()> {
        Ok(self.out.write_all(if self.rows == 0 { b"[]\n" } else { b"\n]\n" })?)
    }
}

/// The order of `findings.json`'s keys: [`COLUMNS`]' indices sorted by name (as serde_json writes
/// a map).
pub(crate) fn json_key_order() -> Vec<usize> {
    let mut keys: Vec<usize> = (0..COLUMNS.len()).collect();
    keys.sort_by_key(|&i| COLUMNS[i]);
    keys
}

/// One finding's object of `findings.json` from its cells ([`COLUMNS`]' order), its keys in the
/// order `keys` gives (sorted by name), appended to `line`.
pub(crate) fn finding_json_line<S: AsRef<str>>(line: &mut Vec<u8>, keys: &[usize], cells: &[S]) -> Result<()> {
    line.push(b'{');
    for (j, &i) in keys.iter().enumerate() {
        line.extend_from_slice(if j == 0 { b"\"" } else { b",\"" });
        line.extend_from_slice(COLUMNS[i].as_bytes());
        line.extend_from_slice(b"\":");
        let v = cells[i].as_ref();
        if v.is_empty() {
            line.extend_from_slice(b"null");
        } else if COLUMNS[i] == "evidence_row" {
            line.extend_from_slice(v.parse::<u64>().unwrap_or(0).to_string().as_bytes());
        } else {
            json_string(line, v)?;
        }
    }
    line.push(b'}');
    Ok(())
}

/// `s` as a JSON string, byte for byte as serde_json writes it: as is between quotes when no byte
/// needs escaping (the usual cell), else through serde_json.
fn json_string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s).map_err(|e| Error::new(e.to_string()))
    }
}

/// Rows of CSV cells as a frame with the CSV's columns: text (exact decimals stay text; an empty
/// cell null), the columns named in `numbers` as nullable UInt64.
pub(crate) fn frame_of<const N: usize>(
    columns: &[&str; N],
    cells: &[[Cow<str>; N]],
    numbers: &[&str],
) -> Result<DataFrame> {
    let mut cols = Vec::new();
    for (i, name) in columns.iter().enumerate() {
        if numbers.contains(name) {
            let v: Vec<Option<u64>> = cells.iter().map(|c| c[i].parse::<u64>().ok()).collect();
            cols.push(Column::new((*name).into(), v));
        } else {
            let v: Vec<Option<&str>> =
                cells.iter().map(|c| if c[i].is_empty() { None } else { Some(c[i].as_ref()) }).collect();
            cols.push(Column::new((*name).into(), v));
        }
    }
    Ok(DataFrame::new(cells.len(), cols)?)
}

/// The findings as a frame: `findings.csv`'s columns, `evidence_row` a nullable UInt64 (the
/// Parquet file's and the Python module's table).
pub fn findings_frame(findings: &[Finding]) -> Result<DataFrame> {
    let cells: Vec<[Cow<str>; 17]> = findings.iter().map(|f| f.cells_ref()).collect();
    frame_of(&COLUMNS, &cells, &["evidence_row"])
}

/// The verdicts as a frame: `registrations.csv`'s columns, `errors` and `warnings` UInt64.
pub fn registrations_frame(v: &[crate::verdict::RegistrationVerdict]) -> Result<DataFrame> {
    let cells: Vec<_> = v.iter().map(|r| r.cells_ref()).collect();
    frame_of(&crate::verdict::COLUMNS, &cells, &["errors", "warnings"])
}

/// `rejects.csv`'s columns.
pub const REJECT_COLUMNS: [&str; 5] = ["table", "line", "column", "reason", "value"];

fn reject_cells(r: &crate::dump::Reject) -> [Cow<'_, str>; 5] {
    [
        Cow::Borrowed(r.table.as_str()),
        Cow::Owned(r.line.to_string()),
        Cow::Borrowed(r.column.as_str()),
        Cow::Borrowed(r.reason.as_str()),
        Cow::Borrowed(r.value.as_str()),
    ]
}

/// The rejects as a frame: `rejects.csv`'s columns, `line` UInt64.
pub fn rejects_frame(rejects: &[crate::dump::Reject]) -> Result<DataFrame> {
    let cells: Vec<_> = rejects.iter().map(reject_cells).collect();
    frame_of(&REJECT_COLUMNS, &cells, &["line"])
}

/// `findings.parquet`: the CSV's columns as strings (exact decimals stay text), `evidence_row`
/// as a nullable UInt64.
pub fn findings_parquet(findings: &[Finding]) -> Result<Vec<u8>> {
    let mut df = findings_frame(findings)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df)?;
    Ok(buf)
}

pub fn registrations_csv(v: &[crate::verdict::RegistrationVerdict]) -> Result<Vec<u8>> {
    to_bytes(|w| write_registrations_csv(w, v))
}

pub fn write_registrations_csv(w: &mut dyn Write, v: &[crate::verdict::RegistrationVerdict]) -> Result<()> {
    write_csv(w, &crate::verdict::COLUMNS, v.iter().map(|r| r.cells_ref()))
}

pub fn registrations_json(v: &[crate::verdict::RegistrationVerdict]) -> Result<Vec<u8>> {
    to_bytes(|w| write_registrations_json(w, v))
}

pub fn write_registrations_json(out: &mut dyn Write, v: &[crate::verdict::RegistrationVerdict]) -> Result<()> {
    // written directly, an array with one registration per line, each byte for byte as
    // serde_json writes the struct (fields in declaration order = COLUMNS order; `errors` and
    // `warnings` numbers; compact): 100 M rows' 1 M registrations took 1.4 s through serde
    let mut array = JsonArray::new(out);
    for r in v {
        array.row(|line| registration_json_line(line, &r.cells_ref()))?;
    }
    array.finish()
}

/// One verdict's object of `registrations.json` from its cells, appended to `line`.
pub(crate) fn registration_json_line<S: AsRef<str>>(line: &mut Vec<u8>, cells: &[S]) -> Result<()> {
    use crate::verdict::COLUMNS;
    line.push(b'{');
    for (i, (key, cell)) in COLUMNS.iter().zip(cells).enumerate() {
        line.extend_from_slice(if i == 0 { b"\"" } else { b",\"" });
        line.extend_from_slice(key.as_bytes());
        line.extend_from_slice(b"\":");
        match *key {
            "errors" | "warnings" => line.extend_from_slice(cell.as_ref().as_bytes()),
            _ => json_string(line, cell.as_ref())?,
        }
    }
    line.push(b'}');
    Ok(())
}

pub fn rejects_csv(rejects: &[crate::dump::Reject]) -> Result<Vec<u8>> {
    to_bytes(|w| write_csv(w, &REJECT_COLUMNS, rejects.iter().map(reject_cells)))
}

/// Every output file `audit` can write, in the order the terminal lists them; all but
/// `findings.parquet` are written by default.
pub const FILES: [&str; 9] = [
    "findings.csv",
    "findings.json",
    "registrations.csv",
    "registrations.json",
    "rejects.csv",
    "summary.json",
    "report.md",
    "report.html",
    "findings.parquet",
];

/// The output files to write (`--outputs`): names of [`FILES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outputs(Vec<&'static str>);

impl Default for Outputs {
    /// Every file but `findings.parquet`.
    fn default() -> Outputs {
        Outputs(FILES[..8].to_vec())
    }
}

impl Outputs {
    /// `--outputs findings.csv,summary.json`: every name one of [`FILES`] (`Err` names the
    /// unknown one and the known).
    pub fn parse(names: &[String]) -> Result<Outputs> {
        let mut out = Vec::new();
        for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let known = FILES.iter().find(|f| **f == n).ok_or_else(|| {
                Error::new(format!("--outputs: unknown output file {n:?} (known: {})", FILES.join(", ")))
            })?;
            if !out.contains(known) {
                out.push(*known);
            }
        }
        if out.is_empty() {
            return Err(Error::new(format!("--outputs: no output file named (known: {})", FILES.join(", "))));
        }
        Ok(Outputs(out))
    }

    /// Add a file (`--parquet` adds `findings.parquet`).
    pub fn with(mut self, name: &'static str) -> Outputs {
        if !self.0.contains(&name) {
            self.0.push(name);
        }
        self
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }

    /// The chosen files in [`FILES`] order.
    pub fn names(&self) -> Vec<&'static str> {
        FILES.iter().copied().filter(|f| self.has(f)).collect()
    }
}

/// What a run killed mid-write left in `out` (a `.priceaudit-shares-PID` spill directory, a
/// `.NAME.tmp-PID` output file): removed when that process is gone ([`crate::audit_into`] calls it
/// before it writes). A live process's (another
/// audit writing into the same directory) are left alone.
pub(crate) fn sweep_leftovers(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let pid = match name.strip_prefix(".priceaudit-shares-") {
            Some(pid) => pid,
            None => match name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")) {
                Some((file, pid)) if FILES.contains(&file) => pid,
                _ => continue,
            },
        };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        if pid <= 0 || pid as u32 == std::process::id() || alive(pid) {
            continue;
        }
        let path = e.path();
        let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
}

/// Whether process `pid` (> 0) exists (signal 0: nothing is sent).
fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled
    let checked = unsafe { libc::kill(pid, 0) };
    checked == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

type Render<'a> = Box<dyn FnOnce(&mut dyn Write) -> Result<()> + Send + 'a>;

/// Write the chosen outputs of `audit` into `out` (created if needed). Returns the paths
/// written. The files are independent: half are rendered on a second thread; each is written as
/// soon as it is rendered, so at most two are in memory at once.
pub fn write_all(audit: &Audit, out: &Path, outputs: &Outputs) -> Result<Vec<PathBuf>> {
    write_audit(audit, &digest::Digest::of(audit), out, outputs)
}

/// [`write_all`] with the audit's digest ([`digest::Digest::of`]) already made.
pub fn write_audit(audit: &Audit, digest: &digest::Digest, out: &Path, outputs: &Outputs) -> Result<Vec<PathBuf>> {
    let rows: Vec<(&'static str, Render)> = vec![
        ("findings.csv", Box::new(|w| write_findings_csv(w, &audit.findings))),
        ("findings.json", Box::new(|w| write_findings_json(w, &audit.findings))),
        ("registrations.csv", Box::new(|w| write_registrations_csv(w, &audit.verdicts))),
        ("registrations.json", Box::new(|w| write_registrations_json(w, &audit.verdicts))),
        ("findings.parquet", Box::new(|w| Ok(w.write_all(&findings_parquet(&audit.findings)?)?))),
    ];
    write_with(rows, digest, &audit.dump.rejects, out, outputs)
}

/// Write the chosen of the files made from an audit's digest and rejects (`rejects.csv`,
/// `summary.json`, `report.md`, `report.html`: an audit in shares writes its rows' files itself)
/// into `out`. Returns the paths written.
pub fn write_digest(
    digest: &digest::Digest,
    rejects: &[crate::dump::Reject],
    out: &Path,
    outputs: &Outputs,
) -> Result<Vec<PathBuf>> {
    write_with(Vec::new(), digest, rejects, out, outputs)
}

/// Write the chosen of `rows` (files rendered by the caller) and of the files made from the
/// digest and rejects, on two threads. Returns their paths in [`FILES`]' order, or the error of
/// the first of them (in that order) that failed: every file is tried, so which error is reported
/// does not hang on which thread came first.
fn write_with(
    rows: Vec<(&'static str, Render)>,
    digest: &digest::Digest,
    rejects: &[crate::dump::Reject],
    out: &Path,
    outputs: &Outputs,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::new(format!("{}: {e}", out.display())))?;
    let bytes = |b: Vec<u8>, w: &mut dyn Write| -> Result<()> { Ok(w.write_all(&b)?) };
    let mut files = rows;
    files.push(("rejects.csv", Box::new(|w| bytes(rejects_csv(rejects)?, w))));
    files.push((
        "summary.json",
        Box::new(|w| {
            serde_json::to_writer_pretty(&mut *w, &digest.summary).map_err(|e| Error::new(e.to_string()))?;
            Ok(w.write_all(b"\n")?)
        }),
    ));
    files.push(("report.md", Box::new(|w| bytes(report::markdown_of(digest).into_bytes(), w))));
    files.push(("report.html", Box::new(|w| bytes(report::html_of(digest).into_bytes(), w))));
    // Two threads take the files from one queue, the likely largest first (the rows' files, the
    // registrations' before the findings': one per registration; then the reports), so that the
    // two finish together whatever the dump's mix of findings and registrations.
    let place = |name: &str| LARGEST_FIRST.iter().position(|f| *f == name).unwrap_or(LARGEST_FIRST.len());
    files.retain(|(name, _)| outputs.has(name));
    files.sort_by_key(|(name, _)| place(name));
    let queue: Vec<std::sync::Mutex<Option<(&'static str, Render)>>> =
        files.into_iter().map(|f| std::sync::Mutex::new(Some(f))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || -> Vec<(&'static str, Result<PathBuf>)> {
        let mut done = Vec::new();
        while let Some(slot) = queue.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let taken = slot.lock().map(|mut s| s.take()).unwrap_or(None);
            if let Some((name, render)) = taken {
                done.push((name, write_atomic_with(out, name, render)));
            }
        }
        done
    };
    let (mut done, theirs) = std::thread::scope(|scope| {
        let theirs = scope.spawn(work);
        let mine = work();
        (mine, theirs.join().map_err(|_| Error::new("writing outputs: a worker thread panicked")))
    });
    done.extend(theirs?);
    // the paths (and the first error) in the files' order
    done.sort_by_key(|(name, _)| FILES.iter().position(|f| f == name));
    done.into_iter().map(|(_, p)| p).collect()
}

/// The output files, the likely largest first ([`write_with`]'s queue).
const LARGEST_FIRST: [&str; 9] = [
    "registrations.json",
    "registrations.csv",
    "findings.json",
    "findings.csv",
    "findings.parquet",
    "report.html",
    "report.md",
    "summary.json",
    "rejects.csv",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Evidence, Severity, Table};
    use crate::money::Dec;

    /// An array of `rows` with one per line, each as serde_json writes it.
    fn lines<T: serde::Serialize>(rows: &[T]) -> Vec<u8> {
        if rows.is_empty() {
            return b"[]\n".to_vec();
        }
        let each: Vec<String> = rows.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        format!("[\n{}\n]\n", each.join(",\n")).into_bytes()
    }

    /// What serde_json writes for the same rows as maps (the format before the direct writer),
    /// one per line.
    fn via_serde(findings: &[Finding]) -> Vec<u8> {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = findings
            .iter()
            .map(|f| {
                COLUMNS
                    .iter()
                    .zip(f.cells())
                    .map(|(k, v)| {
                        let val = match (v.is_empty(), *k) {
                            (true, _) => serde_json::Value::Null,
                            (false, "evidence_row") => v.parse::<u64>().unwrap().into(),
                            _ => v.into(),
                        };
                        (k.to_string(), val)
                    })
                    .collect()
            })
            .collect();
        lines(&rows)
    }

    /// Every byte class: plain, the escaped ones (quote, backslash, each control), DEL and
    /// non-ASCII (as is), the fast path's edges.
    #[test]
    fn json_strings_are_serde_json_s() {
        let mut cases: Vec<String> = vec!["".into(), "plain 9.5".into(), "\"".into(), "\\".into(), "\u{7f}".into()];
        cases.extend((0u8..0x20).map(|b| format!("a{}b", b as char)));
        cases.push("商家 \u{2028} é".into());
        for s in cases {
            let mut out = Vec::new();
            json_string(&mut out, &s).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn findings_json_is_what_serde_json_writes() {
        let f = Finding {
            rule: crate::rules::ALL[0].code,
            name: crate::rules::ALL[0].name,
            severity: Severity::Error,
            registration_id: "R\"1\\".into(),
            offer_id: "O1".into(),
            sku_id: Default::default(),
            merchant_id: "M 商家".into(),
            activity: "huopin".into(),
            observed: "9.6".into(),
            reference: "9.5".into(),
            threshold: "9.5".into(),
            evidence: Some(Evidence {
                table: Table::Prices,
                row: 17,
                ts: Some(0),
                price: Some(Dec::parse("9.5").unwrap().into()),
                channel: Some("regular".into()),
            }),
            message: "line\nbreak\ttab".into(),
        };
        let mut g = f.clone();
        g.evidence = None;
        for set in [vec![], vec![f.clone()], vec![f, g]] {
            assert_eq!(
                String::from_utf8(findings_json(&set).unwrap()).unwrap(),
                String::from_utf8(via_serde(&set)).unwrap()
            );
        }
    }

    #[test]
    fn registrations_json_is_what_serde_json_writes() {
        use crate::verdict::{RegistrationVerdict, Verdict, COLUMNS};
        let d = |t: &str| Some(Dec::parse(t).unwrap().into());
        let (a, b) = (crate::rules::ALL[0].code, crate::rules::ALL[6].code);
        let v = RegistrationVerdict {
            registration_id: "R\"1\\".into(),
            offer_id: "O1".into(),
            sku_id: Default::default(),
            merchant_id: "M 商家".into(),
            activity: "huopin".into(),
            promo_price: Dec::parse("9.60").unwrap().into(),
            verdict: Verdict::AtRisk,
            errors: 3,
            warnings: 12,
            rules: vec![a, b].into(),
            lowest_30d: d("9.5"),
            lowest_180d: None,
            list: d("10"),
            retail: None,
            warmup_min: None,
            baseline: None,
            max_ok_price: d("9.5"),
            binding_rule: Some(a),
            headroom: d("0.1"),
            not_price_fixable: vec![b].into(),
            note: "line\nbreak\ttab ≤".into(),
        };
        // the row's text: decimals normalised, codes joined by a space, absent values empty
        let cells = v.cells_ref().map(|c| c.into_owned());
        assert_eq!(cells[5..10], ["9.6", "at-risk", "3", "12", &format!("{a} {b}")]);
        assert_eq!(cells[10..20], ["9.5", "", "10", "", "", "", "9.5", a, "0.1", b]);
        let mut w = v.clone();
        w.verdict = Verdict::Pass;
        w.errors = 0;
        w.rules = Box::new([]);
        w.binding_rule = None;
        for set in [vec![], vec![v.clone()], vec![v, w]] {
            // each row's cells as a map in column order (`errors` and `warnings` as numbers)
            struct Row(Vec<(&'static str, serde_json::Value)>);
            impl serde::Serialize for Row {
                fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                    use serde::ser::SerializeMap;
                    let mut m = s.serialize_map(Some(self.0.len()))?;
                    for (k, v) in &self.0 {
                        m.serialize_entry(k, v)?;
                    }
                    m.end()
                }
            }
            let rows: Vec<Row> = set
                .iter()
                .map(|r| {
                    Row(COLUMNS
                        .iter()
                        .zip(r.cells_ref())
                        .map(|(k, c)| match *k {
                            "errors" | "warnings" => (*k, serde_json::Value::from(c.parse::<u64>().unwrap())),
                            _ => (*k, serde_json::Value::from(c.into_owned())),
                        })
                        .collect())
                })
                .collect();
            let serde = lines(&rows);
            assert_eq!(
                String::from_utf8(registrations_json(&set).unwrap()).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }
}
