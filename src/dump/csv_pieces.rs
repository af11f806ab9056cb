//! The price pass over a CSV file on priceaudit's own threads, as [`super::pieces`] reads Parquet:
//! the file mapped, its records parsed in pieces of [`csv_scan::PIECE_RECORDS`] (cut where the
//! byte scan, [`csv_scan`], found every so many records to end), each piece's fields made the
//! text columns polars' CSV scan gives (all `String`, `rn` first), and run through the very plan
//! the streaming pass would run over the scan, on two workers.
//!
//! Why not polars' CSV reader: it splits, unquotes and copies every field through its own
//! builders and counts the records again (a file of every field quoted, as pandas' `QUOTE_ALL`
//! and DuckDB's `FORCE_QUOTE` write it, took 3.1 s against a Parquet file's 0.9 s at 10 M rows),
//! and its mapped file counts in the pass's memory (PERF.md).
//!
//! Same rows, same outputs: a file is read here only if the byte scan found it regular
//! ([`csv_scan::CsvScan::regular`]: every quote opens or closes a field or is an escaped `""`, no
//! lone `\r`), the shapes whose reading is RFC 4180's and polars' alike: an unquoted field's bytes
//! (empty: null), a quoted field's bytes between its quotes with `""` as `"`, a blank line a row of
//! nulls, a short record padded with nulls, a long one cut (the validation rejects both), `\r\n` as
//! `\n`. A directory of such parts naming the same columns in the same order is read part after
//! part. Other files, parts whose columns differ or gain a hive key, and a header that does not
//! name the scan's columns go to polars' reader; `PRICEAUDIT_PRICE_SCAN=polars` asks for it (the
//! tests compare the two).
//!
//! `explain`'s one pass over a CSV price table (the horizon and the offer's rows,
//! [`super::horizon_and_offer_rows`]) is parsed here too, under its own plan.

use super::csv_scan::CsvScan;
use super::pieces::Visit;
use super::*;
use polars_arrow::array::{MutableBinaryViewArray, Utf8ViewArray};
use std::sync::Arc;

/// A regular CSV price file (or the parts of a table of them), mapped, and its pieces.
pub(crate) struct CsvPieces {
    maps: Vec<Arc<memmap2::Mmap>>,
    /// The scan's text columns, in the header's order (`rn` not among them).
    columns: Vec<PlSmallStr>,
    pub(super) pieces: Vec<Piece>,
}

/// Records `rn..rn + records` of the table, at bytes `start..end` of file `file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    file: usize,
    start: usize,
    end: usize,
    rn: u64,
    records: u64,
}

impl CsvPieces {
    /// The piece reader for `v`'s CSV rows under `main` (the streaming pass's plan), or `None`
    /// where the pass is polars' (see the module's documentation). A directory of CSV parts is
    /// read here when its parts are all regular and name the same columns, and the table is their
    /// rows one part after the other (a union of their scans, no hive key added).
    pub(crate) fn of(v: &Validated, main: &LazyFrame) -> Result<Option<CsvPieces>> {
        if std::env::var("PRICEAUDIT_PRICE_SCAN").is_ok_and(|s| s == "polars") {
            return Ok(None);
        }
        // each file, its byte scan and its first record's number in the table
        let files: Vec<(&std::path::Path, &CsvScan, u64)> = match &v.source.format {
            Format::Csv(scan) => vec![(v.source.path.as_path(), scan, 0)],
            Format::Parts(p) if p.csv => {
                match p.parts.iter().map(|x| Some((x.path.as_path(), x.scan.as_deref()?, x.offset))).collect() {
                    Some(f) => f,
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        if files.iter().any(|(_, scan, _)| !scan.regular) {
            return Ok(None);
        }
        // one scan (or a union of the parts' scans) at the plan's leaf, giving `rn` then the
        // files' columns as text
        let Some(leaf) = super::pieces::leaf_or_union(&main.logical_plan) else { return Ok(None) };
        let scanned = LazyFrame::from(leaf.clone()).collect_schema()?;
        let mut names = scanned.iter();
        match names.next() {
            Some((n, t)) if n.as_str() == RN && *t == IDX_DTYPE => {}
            _ => return Ok(None),
        }
        let columns: Vec<PlSmallStr> = names.map(|(n, _)| n.clone()).collect();
        if scanned.iter().skip(1).any(|(_, t)| *t != DataType::String) {
            return Ok(None);
        }
        let (mut maps, mut pieces) = (Vec::new(), Vec::new());
        for (path, scan, offset) in files {
            if offset + scan.records > IdxSize::MAX as u64 {
                return Ok(None);
            }
            let name = path.display().to_string();
            let file = std::fs::File::open(path).map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
            // SAFETY: the file is only read; a file changed while it is audited is not supported
            // (as for polars' own memory-mapped reads). Each piece is checked as UTF-8 again.
            let map = Arc::new(
                unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?,
            );
            if map.len() as u64 != scan.len {
                bail!("{name}: the file changed while it was read");
            }
            // the header names the scan's columns, in its order
            let header = &map[..scan.data_start as usize];
            let header = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(header);
            if simdutf8::basic::from_utf8(header).is_err() {
                bail!("{name}: line 1: the file is not UTF-8");
            }
            let named = header_names(header)?;
            if named.len() != columns.len() || named.iter().zip(&columns).any(|(a, b)| a != b.as_str()) {
                return Ok(None);
            }
            let f = maps.len();
            pieces.extend(pieces_of(scan).into_iter().map(|p| Piece { file: f, rn: p.rn + offset, ..p }));
            maps.push(map);
        }
        Ok(Some(CsvPieces { pieces, maps, columns }))
    }

    /// Parse every piece and run `main` over it on two workers ([`super::pieces::run_pieces`]),
    /// handing each output batch to `visit` on this thread.
    pub(crate) fn run(self, main: &LazyFrame, file: &str, visit: &mut Visit) -> Result<()> {
        super::pieces::run_pieces(main, file, &self.pieces, &|p: &Piece| self.read(p), false, visit)
    }

    /// Parse piece `p`: `rn` and the text columns, as polars' CSV scan gives them.
    pub(super) fn read(&self, p: &Piece) -> Result<DataFrame> {
        let map = &self.maps[p.file];
        let bytes = &map[p.start..p.end];
        if simdutf8::basic::from_utf8(bytes).is_err() {
            bail!("the file is not UTF-8 (it changed while it was read)");
        }
        let df = parse(bytes, &self.columns, p.rn, p.records)?;
        super::pieces::release_pages(map, p.start as u64, p.end as u64);
        Ok(df)
    }
}

/// The pieces between the scan's cuts (the last to the file's end).
fn pieces_of(scan: &CsvScan) -> Vec<Piece> {
    let mut out = Vec::new();
    let (mut start, mut rn) = (scan.data_start, 0u64);
    for &(at, next) in scan.cuts.iter().chain([(scan.len, scan.records)].iter()) {
        if next > rn {
            out.push(Piece { file: 0, start: start as usize, end: at as usize, rn, records: next - rn });
        }
        (start, rn) = (at, next);
    }
    out
}

/// A field's value (a regular file's, [`CsvScan::regular`]): `None` for an empty unquoted field
/// (null), else the bytes (a quoted field's between its quotes, `""` as `"`).
fn value<'a>(f: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<Option<&'a str>> {
    let bytes: &[u8] = match f {
        [] => return Ok(None),
        [b'"', inner @ .., b'"'] => {
            // (fields are short: a plain loop, not a search's set-up)
            if inner.iter().any(|&c| c == b'"') {
                scratch.clear();
                let mut rest = inner;
                while let Some(q) = memchr::memchr(b'"', rest) {
                    // (an escaped quote: two)
                    scratch.extend_from_slice(&rest[..=q]);
                    rest = rest.get(q + 2..).unwrap_or_default();
                }
                scratch.extend_from_slice(rest);
                scratch
            } else {
                inner
            }
        }
        [b'"', ..] => return Err(Error::internal("a CSV field's quotes are not the byte scan's")),
        _ => f,
    };
    // SAFETY: the piece was checked as UTF-8, and a field is cut at ASCII bytes (quotes, commas,
    // line ends)
    Ok(Some(unsafe { std::str::from_utf8_unchecked(bytes) }))
}

/// The header's column names (quoted ones unquoted).
fn header_names(header: &[u8]) -> Result<Vec<String>> {
    let header = header.strip_suffix(b"\n").unwrap_or(header);
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    let (mut names, mut start, mut quoted) = (Vec::new(), 0, false);
    let mut scratch = Vec::new();
    for i in 0..=header.len() {
        match header.get(i) {
            Some(b'"') => quoted = !quoted,
            Some(b',') | None if !quoted => {
                names.push(value(&header[start..i], &mut scratch)?.unwrap_or_default().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    Ok(names)
}

/// `records` records of `bytes` (from the start of one), numbered from `rn`, as `rn` and the text
/// `columns`. The fields' ends are found 64 bytes at a time (the byte scan's masks: commas and
/// newlines outside quotes), then each field's value pushed to its column.
fn parse(bytes: &[u8], columns: &[PlSmallStr], rn: u64, records: u64) -> Result<DataFrame> {
    use super::csv_scan::{masks, prefix_xor};
    let n = records as usize;
    let width = columns.len();
    let mut cols: Vec<MutableBinaryViewArray<str>> =
        (0..width).map(|_| MutableBinaryViewArray::with_capacity(n)).collect();
    let mut scratch = Vec::new();
    // the field in the record, where it starts, the records done, the quotes' state
    let (mut k, mut start, mut done, mut in_quotes) = (0usize, 0usize, 0usize, false);
    let mut put = |cols: &mut [MutableBinaryViewArray<str>], k: usize, f: &[u8]| -> Result<()> {
        if let Some(c) = cols.get_mut(k) {
            match value(f, &mut scratch)? {
                Some(v) => c.push_value(v),
                None => c.push_null(),
            }
        }
        Ok(())
    };
    let len = bytes.len();
    let mut at = 0;
    while at < len {
        let m = match bytes.get(at..at + 64) {
            Some(b) => masks(b.try_into().expect("64 bytes")),
            None => {
                // the last bytes, padded with zeros (no byte that matters)
                let mut tail = [0u8; 64];
                tail[..len - at].copy_from_slice(&bytes[at..]);
                masks(&tail)
            }
        };
        let mut inside = prefix_xor(m.quotes);
        if in_quotes {
            inside = !inside;
        }
        in_quotes = inside >> 63 == 1;
        let mut ends = (m.commas | m.newlines) & !inside;
        while ends != 0 {
            let p = at + ends.trailing_zeros() as usize;
            ends &= ends - 1;
            if bytes[p] == b',' {
                put(&mut cols, k, &bytes[start..p])?;
                k += 1;
            } else {
                // a line end (`\r\n` as `\n`)
                let end = if p > start && bytes[p - 1] == b'\r' { p - 1 } else { p };
                if k == 0 && end == start {
                    // a blank line: a row of nulls
                    cols.iter_mut().for_each(|c| c.push_null());
                } else {
                    put(&mut cols, k, &bytes[start..end])?;
                    // a short record: the missing fields null (a long one's extra fields dropped)
                    cols.iter_mut().skip(k + 1).for_each(|c| c.push_null());
                }
                (k, done) = (0, done + 1);
            }
            start = p + 1;
        }
        at += 64;
    }
    // the last record, with no line end after it
    if start < len || k > 0 {
        put(&mut cols, k, &bytes[start..])?;
        cols.iter_mut().skip(k + 1).for_each(|c| c.push_null());
        done += 1;
    }
    if done != n {
        return Err(Error::internal(format!("a CSV piece holds {done} records where its byte scan counted {n}")));
    }
    let rn0 = IdxSize::try_from(rn).map_err(|_| Error::internal("row index past polars' index type"))?;
    let mut out = Vec::with_capacity(width + 1);
    out.push(IdxCa::from_vec(RN.into(), (rn0..rn0 + n as IdxSize).collect()).into_column());
    for (name, c) in columns.iter().zip(cols) {
        let arr: Utf8ViewArray = c.into();
        out.push(StringChunked::with_chunk(name.clone(), arr).into_column());
    }
    Ok(DataFrame::new(n, out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns of polars' CSV scan of `text` (as `source.rs` opens a CSV table) and of the
    /// piece reader's parse, cut into pieces of `per` records.
    fn both(text: &[u8], per: u64) -> (DataFrame, DataFrame) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        let polars = LazyCsvReader::new(super::super::polars_path(&p))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_truncate_ragged_lines(true)
            .with_glob(false)
            .with_row_index(Some(RowIndex { name: RN.into(), offset: 0 }))
            .finish()
            .unwrap()
            .collect()
            .unwrap();
        let mut s = super::super::csv_scan::Scanner::with_piece_records(per);
        s.feed(text);
        let scan = s.finish();
        assert!(scan.regular, "{:?}", String::from_utf8_lossy(text));
        let columns: Vec<PlSmallStr> = polars.get_column_names().into_iter().skip(1).cloned().collect();
        let mut ours: Option<DataFrame> = None;
        for piece in pieces_of(&scan) {
            let df = parse(&text[piece.start..piece.end], &columns, piece.rn, piece.records).unwrap();
            match ours.as_mut() {
                Some(o) => {
                    o.vstack_mut_owned(df).unwrap();
                }
                None => ours = Some(df),
            }
        }
        let ours = ours.unwrap_or_else(|| polars.clear());
        (polars, ours)
    }

    fn same(text: &[u8], per: u64) {
        let (polars, ours) = both(text, per);
        assert!(polars.equals_missing(&ours), "{:?}\npolars: {polars}\nours: {ours}", String::from_utf8_lossy(text));
    }

    #[test]
    fn fields_read_as_polars_reads_them() {
        same(b"a,b,c\n1,2,3\n", 5);
        // quoted, escaped, empty quoted, empty unquoted, a quoted line end, `\r\n`
        same(b"\"a\",\"b\",c\r\n\"x\"\"y\",\"\",\r\n,\"q\r\nq\",\"7,8\"\r\n", 1);
        // blank lines, short and long records, no final newline
        same(b"a,b\n1\n\n1,2,3\n\r\n4,5", 2);
        // a BOM, text of several bytes, spaces kept
        same("\u{feff}a,b\n 价 ,\"格 \"\n".as_bytes(), 1);
        // header only
        same(b"a,b\n", 1);
        same(b"a,b", 1);
    }

    /// 2000 generated regular files (every field quoted or none, quoted commas, line ends and
    /// escaped quotes, empty fields, blank lines, ragged records), cut into pieces of 1 to 4
    /// records: the same columns, nulls and row numbers as polars' scan.
    #[test]
    fn generated_files_read_as_polars_reads_them() {
        let mut next = super::super::csv_scan::tests::xorshift(0x9E37_79B9_7F4A_7C15);
        for case in 0..2000 {
            let cols = 1 + next(4);
            let mut f = Vec::new();
            for k in 0..cols {
                if k > 0 {
                    f.push(b',');
                }
                f.extend_from_slice(format!("c{k}").as_bytes());
            }
            f.extend_from_slice(b"\n");
            let quote_all = next(2) == 0;
            for _ in 0..next(12) {
                if next(10) == 0 {
                    f.extend_from_slice(if next(2) == 0 { b"\n" } else { b"\r\n" });
                    continue;
                }
                let fields = if next(8) == 0 { 1 + next(cols + 2) } else { cols };
                for k in 0..fields {
                    if k > 0 {
                        f.push(b',');
                    }
                    let quoted = quote_all || next(4) == 0;
                    let body: &[u8] = match next(9) {
                        0 => b"",
                        1 => b"x y",
                        2 => "价".as_bytes(),
                        3 if quoted => b"a,b",
                        4 if quoted => b"l1\r\nl2\nl3",
                        5 if quoted => b"say \"\"hi\"\"",
                        6 if quoted => b"\"\"",
                        _ => b"12.50",
                    };
                    if quoted {
                        f.push(b'"');
                    }
                    f.extend_from_slice(body);
                    if quoted {
                        f.push(b'"');
                    }
                }
                f.extend_from_slice(if next(3) == 0 { b"\r\n" } else { b"\n" });
            }
            if next(3) == 0 {
                while f.last() == Some(&b'\n') || f.last() == Some(&b'\r') {
                    f.pop();
                }
            }
            same(&f, 1 + next(4));
            let _ = case;
        }
    }
}
