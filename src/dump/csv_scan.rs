//! A quote-aware pass over a CSV file's bytes that tells, for each record polars will read, its
//! physical line (header = line 1) and whether its field count matches the header's.
//!
//! polars' CSV reader cannot say either: a row with too many fields fails the whole read (we read
//! with `truncate_ragged_lines` and reject those rows here), a row with too few is silently
//! padded with nulls, and its row index counts records, not lines (quoted newlines shift it).
//! POLARS-NOTES measured such a pass at 0.9 s per 10 M rows on one thread.

/// What the pass found. Record numbers are polars' 0-based row index of the data rows.
#[derive(Debug, Default, Clone)]
pub struct CsvScan {
    /// Fields in the header.
    pub header_fields: usize,
    /// Data records, blank lines included (polars reads a blank line as an all-null row).
    pub records: u64,
    /// Records whose field count differs from the header's: (record, fields).
    pub ragged: Vec<(u64, usize)>,
    /// Blank lines inside the data (records with no bytes at all).
    pub blank: Vec<u64>,
    /// Where the line of a record stops being `first_line + record`: (record, its line).
    breaks: Vec<(u64, u64)>,
    /// Line of the first data record.
    first_line: u64,
    /// Where the data records begin (the byte after the header's line end), the file's length,
    /// and every [`PIECE_RECORDS`]th record's first byte: (its byte offset, its record number).
    /// The CSV piece reader ([`super::csv_pieces`]) parses the records between two cuts.
    pub data_start: u64,
    pub len: u64,
    pub cuts: Vec<(u64, u64)>,
    /// Every quote of the file opens a field (first byte of a field), closes one (followed by a
    /// comma, a line end, the end of the file, or a quote: an escaped `""`), or is escaped, and
    /// no `\r` outside quotes stands but before a `\n`: the plain shapes of RFC 4180 that the
    /// piece reader parses as polars' reader does. (Other files are read by polars' reader.)
    pub regular: bool,
}

/// Records per piece of the CSV piece reader (as the Parquet pieces' rows,
/// [`crate::runtime::DECODE_MAX_ROWS`]).
pub const PIECE_RECORDS: u64 = 1 << 18;

impl CsvScan {
    /// The physical line (1-based, header = 1) on which record `rn` starts.
    pub fn line_of(&self, rn: u64) -> u64 {
        let i = self.breaks.partition_point(|(r, _)| *r <= rn);
        if i == 0 {
            self.first_line + rn
        } else {
            let (r, l) = self.breaks[i - 1];
            l + (rn - r)
        }
    }
}

/// Scan `bytes` (a whole CSV file). A leading UTF-8 BOM is skipped, `\r\n` ends a line like `\n`.
pub fn scan(bytes: &[u8]) -> CsvScan {
    let mut s = Scanner::default();
    s.feed(bytes);
    s.finish()
}

/// [`scan`] by the byte loop alone: the reference the 64-byte blocks are checked against (the
/// unit tests, the fuzz target).
#[doc(hidden)]
pub fn scan_bytewise(bytes: &[u8]) -> CsvScan {
    let mut s = Scanner { bytewise: true, ..Scanner::default() };
    s.feed(bytes);
    s.finish()
}

/// Scan the CSV file at `path` in chunks (never the whole file in memory: at 10 M rows it was
/// 0.64 GB held through the load), checking that it is UTF-8 as it goes.
pub fn scan_file(path: &std::path::Path) -> Result<CsvScan, ScanError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| ScanError::Io(e.to_string()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut s = Scanner::default();
    // an incomplete UTF-8 sequence at a chunk's end, completed by the next chunk
    let mut carry: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        // fill the buffer (the first chunk holds the BOM whole, if any)
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ScanError::Io(e.to_string())),
            }
        }
        if n == 0 {
            break;
        }
        total += n as u64;
        let chunk = &buf[..n];
        // (the carry holds no newline: it is the start of a character)
        let newlines = s.newlines();
        s.feed(chunk);
        // UTF-8, across chunk boundaries
        let mut check: Vec<u8>;
        let text: &[u8] = if carry.is_empty() {
            chunk
        } else {
            check = std::mem::take(&mut carry);
            check.extend_from_slice(chunk);
            &check
        };
        match simdutf8::compat::from_utf8(text) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => carry = text[e.valid_up_to()..].to_vec(),
            Err(e) => {
                let line = newlines + text[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
                return Err(ScanError::NotUtf8 { line });
            }
        }
    }
    if total == 0 {
        return Err(ScanError::Empty);
    }
    if !carry.is_empty() {
        return Err(ScanError::NotUtf8 { line: s.newlines() + 1 });
    }
    Ok(s.finish())
}

/// Why a CSV file could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    Io(String),
    /// No byte at all (no header row).
    Empty,
    /// Not UTF-8 from this line on.
    NotUtf8 {
        line: u64,
    },
}

/// The bits (bit `j` for byte `j`) of 64 bytes' newlines, commas, quotes and `\r`s: SSE2 (part of
/// x86-64) compares 16 at a time.
pub(super) fn masks(b: &[u8; 64]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        let mut m = Masks::default();
        for k in 0..4 {
            // SAFETY: an unaligned load of 16 of `b`'s 64 bytes
            let v = unsafe { _mm_loadu_si128(b.as_ptr().add(16 * k) as *const __m128i) };
            #[allow(unused_unsafe)]
            let bits = |c: u8| unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u16 as u64 };
            m.newlines |= bits(b'\n') << (16 * k);
            m.commas |= bits(b',') << (16 * k);
            m.quotes |= bits(b'"') << (16 * k);
            m.crs |= bits(b'\r') << (16 * k);
        }
        m
    }
    #[cfg(not(target_arch = "x86_64"))]
    masks_bytewise(b)
}

/// [`masks`] a byte at a time (other targets; the tests' reference).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn masks_bytewise(b: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (j, &c) in b.iter().enumerate() {
        m.newlines |= u64::from(c == b'\n') << j;
        m.commas |= u64::from(c == b',') << j;
        m.quotes |= u64::from(c == b'"') << j;
        m.crs |= u64::from(c == b'\r') << j;
    }
    m
}

/// Which of 64 bytes are newlines, commas, quotes and `\r`s (bit `j` for byte `j`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Masks {
    pub(super) newlines: u64,
    pub(super) commas: u64,
    pub(super) quotes: u64,
    pub(super) crs: u64,
}

/// Bit `j` set where an odd number of `x`'s bits `0..=j` are set.
pub(super) fn prefix_xor(mut x: u64) -> u64 {
    for s in [1, 2, 4, 8, 16, 32] {
        x ^= x << s;
    }
    x
}

/// The scan's state between chunks.
#[derive(Default)]
pub struct Scanner {
    out: CsvScan,
    started: bool,
    /// The line the cursor is on, and the line the current record started on.
    line: u64,
    rec_line: u64,
    fields: usize,
    in_quotes: bool,
    /// Bytes in the current record, not counting `\r\n`.
    rec_bytes: usize,
    header_done: bool,
    rn: u64,
    /// A `\r` outside quotes ended the last chunk: ignored if a `\n` follows (or nothing).
    pending_cr: bool,
    /// The file's first bytes while they may still be a BOM cut short by a chunk's end.
    head: Vec<u8>,
    /// Every byte by the byte loop (the tests' reference for the block path).
    bytewise: bool,
    /// The file offset of the next byte fed, of the block being scanned, and of the byte after
    /// the last record end.
    pos: u64,
    block_at: u64,
    next_start: u64,
    /// A quote may open a field at the next byte (file start, after a comma, a newline or a
    /// closing quote).
    open_ok: bool,
    /// The last byte was a closing quote: the next must be a comma, a line end or a quote.
    pending_close: bool,
    /// An irregular quote or a lone `\r` was seen ([`CsvScan::regular`]).
    irregular: bool,
    /// Records per cut ([`PIECE_RECORDS`]; the tests' smaller).
    piece_records: u64,
}

impl Scanner {
    /// A scanner cutting every `n` records ([`CsvScan::cuts`]; the tests' small pieces).
    #[cfg(test)]
    pub(crate) fn with_piece_records(n: u64) -> Scanner {
        Scanner { piece_records: n, ..Scanner::default() }
    }

    pub fn feed(&mut self, b: &[u8]) {
        const BOM: &[u8] = b"\xef\xbb\xbf";
        if !self.started {
            let mut head = std::mem::take(&mut self.head);
            head.extend_from_slice(b);
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.head = head; // wait for the rest: a BOM or data
                return;
            }
            self.start();
            let rest = match head.strip_prefix(BOM) {
                Some(rest) => {
                    self.pos = BOM.len() as u64;
                    rest
                }
                None => &head[..],
            }
            .to_vec();
            return self.feed(&rest);
        }
        if !b.is_empty() && std::mem::take(&mut self.pending_cr) && b[0] != b'\n' {
            self.rec_bytes += 1;
            self.irregular = true; // a lone `\r`
            self.open_ok = false;
        }
        let n = b.len();
        let mut i = 0;
        while i < n {
            // 64 bytes at once (but a block ending in a `\r`, which the next block's first byte
            // may make a line end: a byte at a time)
            if !self.bytewise && i + 64 <= n {
                let m = masks(b[i..i + 64].try_into().expect("64 bytes"));
                if m.crs >> 63 == 0 {
                    self.block_at = self.pos;
                    self.block(m);
                    self.pos += 64;
                    i += 64;
                    continue;
                }
            }
            self.byte(b, i);
            self.pos += 1;
            i += 1;
        }
    }

    /// 64 bytes, none of which but the last is a `\r` (with the quotes' state carried over):
    /// what the byte loop does to them, by their masks. A byte is inside quotes where the quotes
    /// before it (and the state the block starts in) say so; an escaped quote (`""`) turns
    /// quoting off and on again, as in the byte loop.
    fn block(&mut self, m: Masks) {
        let mut inside = prefix_xor(m.quotes);
        if self.in_quotes {
            inside = !inside;
        }
        let ends = m.newlines & !inside;
        let commas = m.commas & !inside;
        // a `\r` outside quotes right before a `\n` is no byte of the record
        let skipped = m.crs & !inside & (m.newlines >> 1);
        // regular quoting: an opening quote where a field begins, a closing one before a comma,
        // a line end or another quote (`""`); no lone `\r` outside quotes (bit 63 is no `\r`)
        let (open, close) = (m.quotes & inside, m.quotes & !inside);
        let may_open = ((m.commas | m.newlines | close) << 1) | u64::from(self.open_ok);
        let may_follow = m.commas | m.newlines | m.crs | m.quotes;
        let first_follows = may_follow & 1 == 1;
        if open & !may_open != 0
            || close & !(may_follow >> 1) & !(1 << 63) != 0
            || (self.pending_close && !first_follows)
            || m.crs & !inside & !(m.newlines >> 1) != 0
        {
            self.irregular = true;
        }
        self.pending_close = close >> 63 == 1;
        self.open_ok = ((m.commas | m.newlines | close) >> 63) == 1;
        let counted = !(ends | skipped);
        let (mut rest, mut from) = (ends, 0u32);
        while rest != 0 {
            let at = rest.trailing_zeros();
            let before = ((1u64 << at) - 1) & (!0u64 << from);
            self.fields += (commas & before).count_ones() as usize;
            self.rec_bytes += (counted & before).count_ones() as usize;
            // the newlines inside quotes before this one, and this one
            self.line += u64::from((m.newlines & before).count_ones()) + 1;
            self.next_start = self.block_at + u64::from(at) + 1;
            self.end_record();
            self.rec_line = self.line;
            self.fields = 1;
            self.rec_bytes = 0;
            from = at + 1;
            rest &= rest - 1;
        }
        if from < 64 {
            let after = !0u64 << from;
            self.fields += (commas & after).count_ones() as usize;
            self.rec_bytes += (counted & after).count_ones() as usize;
            self.line += u64::from((m.newlines & after).count_ones());
        }
        self.in_quotes = inside >> 63 == 1;
    }

    /// Byte `i` of `b`.
    fn byte(&mut self, b: &[u8], i: usize) {
        let n = b.len();
        let c = b[i];
        if std::mem::take(&mut self.pending_close) && !matches!(c, b',' | b'\n' | b'\r' | b'"') {
            self.irregular = true;
        }
        if c == b'\r' && !self.in_quotes && i + 1 < n && b[i + 1] != b'\n' {
            self.irregular = true; // a lone `\r` (one ending the chunk: `feed` decides)
        }
        let open_ok = std::mem::replace(&mut self.open_ok, matches!(c, b',' | b'\n'));
        match c {
            b'"' => {
                self.in_quotes = !self.in_quotes;
                if self.in_quotes && !open_ok {
                    self.irregular = true;
                }
                if !self.in_quotes {
                    (self.pending_close, self.open_ok) = (true, true);
                }
                self.rec_bytes += 1;
            }
            b',' if !self.in_quotes => {
                self.fields += 1;
                self.rec_bytes += 1;
            }
            b'\n' => {
                self.line += 1;
                if !self.in_quotes {
                    self.next_start = self.pos + 1;
                    self.end_record();
                    self.rec_line = self.line;
                    self.fields = 1;
                    self.rec_bytes = 0;
                } else {
                    self.rec_bytes += 1;
                }
            }
            b'\r' if !self.in_quotes && i + 1 < n && b[i + 1] == b'\n' => {}
            b'\r' if !self.in_quotes && i + 1 == n => self.pending_cr = true,
            _ => self.rec_bytes += 1,
        }
    }

    /// The newlines fed so far.
    fn newlines(&self) -> u64 {
        if self.started {
            self.line - 1
        } else {
            0
        }
    }

    /// The first byte of the file (its BOM, if any, skipped) is next.
    fn start(&mut self) {
        self.started = true;
        (self.line, self.rec_line, self.fields) = (1, 1, 1);
        self.open_ok = true;
        if self.piece_records == 0 {
            self.piece_records = PIECE_RECORDS;
        }
    }

    fn end_record(&mut self) {
        let out = &mut self.out;
        if !self.header_done {
            self.header_done = true;
            out.header_fields = self.fields;
            out.first_line = self.rec_line + 1;
            out.data_start = self.next_start;
            return;
        }
        let rn = self.rn;
        if rn == 0 && self.rec_line != out.first_line {
            out.first_line = self.rec_line;
        }
        if self.rec_bytes == 0 {
            out.blank.push(rn);
        } else if self.fields != out.header_fields {
            out.ragged.push((rn, self.fields));
        }
        let expected = match out.breaks.last() {
            Some((r, l)) => l + (rn - r),
            None => out.first_line + rn,
        };
        if expected != self.rec_line {
            out.breaks.push((rn, self.rec_line));
        }
        self.rn += 1;
        if self.rn % self.piece_records == 0 {
            out.cuts.push((self.next_start, self.rn));
        }
    }

    /// The scan (a `\r` ending the file is not a byte of the last record).
    pub fn finish(mut self) -> CsvScan {
        if !self.started {
            if self.head.is_empty() {
                return CsvScan::default();
            }
            // the file's few bytes were a BOM's beginning, not a BOM: data
            let head = std::mem::take(&mut self.head);
            self.start();
            self.feed(&head);
        }
        if self.pending_cr {
            self.irregular = true; // a `\r` ending the file
        }
        if self.rec_bytes > 0 || self.in_quotes {
            self.next_start = self.pos;
            self.end_record();
        }
        if !self.header_done {
            self.out.data_start = self.pos;
        }
        self.out.records = self.rn;
        self.out.len = self.pos;
        // (an open quote at the end: not a shape the piece reader reads)
        self.out.regular = !self.irregular && !self.in_quotes;
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_maps_record_to_line() {
        let s = scan(b"a,b,c\n1,2,3\n4,5,6\n");
        assert_eq!((s.header_fields, s.records), (3, 2));
        assert_eq!(s.line_of(0), 2);
        assert_eq!(s.line_of(1), 3);
        assert!(s.ragged.is_empty());
    }

    #[test]
    fn quoted_newlines_shift_lines_and_commas_inside_quotes_do_not_count() {
        let s = scan(b"\xef\xbb\xbfa,b\r\n\"x,\ny\",1\r\n2,3\r\n4\r\n5,6,7\n");
        assert_eq!(s.header_fields, 2);
        assert_eq!(s.records, 4);
        assert_eq!(s.line_of(0), 2);
        assert_eq!(s.line_of(1), 4);
        assert_eq!(s.line_of(2), 5);
        assert_eq!(s.line_of(3), 6);
        assert_eq!(s.ragged, vec![(2, 1), (3, 3)]);
    }

    #[test]
    fn blank_lines_and_missing_final_newline() {
        let s = scan(b"a,b\n1,2\n\n3,4");
        assert_eq!(s.records, 3);
        assert_eq!(s.blank, vec![1]);
        assert_eq!(s.line_of(2), 4);
    }

    /// Fed in chunks split anywhere (inside `\r\n`, inside quotes, inside the BOM's
    /// neighbourhood), the scan is the whole file's.
    #[test]
    fn chunks_split_anywhere_scan_as_the_whole() {
        let files: [&[u8]; 4] = [
            b"\xef\xbb\xbfa,b\r\n\"x,\ny\",1\r\n2,3\r\n4\r\n5,6,7\n",
            b"a,b\n1,2\n\n3,4",
            b"a,b\r\n1,2\r\n\r\n\"q\r\nq\",4\r",
            b"h\r\n\r\nx\ry\r\n",
        ];
        for f in files {
            let whole = scan(f);
            for cut in 0..=f.len() {
                for cut2 in cut..=f.len() {
                    let mut s = Scanner::default();
                    s.feed(&f[..cut]);
                    s.feed(&f[cut..cut2]);
                    s.feed(&f[cut2..]);
                    let part = s.finish();
                    assert_eq!(
                        (part.header_fields, part.records, &part.ragged, &part.blank),
                        (whole.header_fields, whole.records, &whole.ragged, &whole.blank),
                        "{f:?} cut at {cut}, {cut2}"
                    );
                    for r in 0..whole.records {
                        assert_eq!(part.line_of(r), whole.line_of(r));
                    }
                }
            }
        }
    }

    #[test]
    fn scan_file_checks_utf8_across_chunks() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        // a 3-byte character straddling the 1 MiB chunk boundary: valid
        let mut text = b"a,b\n".to_vec();
        while text.len() < (1 << 20) - 1 {
            text.extend_from_slice(b"1,2\n");
        }
        text.truncate((1 << 20) - 1);
        text.extend_from_slice("价,3\n".as_bytes());
        std::fs::write(&p, &text).unwrap();
        assert_eq!(scan_file(&p).unwrap().records, scan(&text).records);
        // an invalid byte in the second chunk: its line counts the first chunk's newlines, and
        // the quoted ones
        let mut bad = text.clone();
        bad.extend_from_slice(b"\"x\ny\",1\r\n5,\xff\n");
        let line = bad.iter().filter(|b| **b == b'\n').count() as u64;
        std::fs::write(&p, &bad).unwrap();
        assert_eq!(scan_file(&p).unwrap_err(), ScanError::NotUtf8 { line });
        // an invalid byte on line 3
        std::fs::write(&p, b"a,b\n1,2\n\xff,3\n").unwrap();
        assert_eq!(scan_file(&p).unwrap_err(), ScanError::NotUtf8 { line: 3 });
        std::fs::write(&p, b"").unwrap();
        assert_eq!(scan_file(&p).unwrap_err(), ScanError::Empty);
        // a truncated sequence at the very end
        std::fs::write(&p, b"a,b\n1,\xe4\xbb").unwrap();
        assert_eq!(scan_file(&p).unwrap_err(), ScanError::NotUtf8 { line: 2 });
    }

    /// The block path (64 bytes at a time) scans as the byte loop does: 3000 generated files of
    /// plain rows and rows whose every field is quoted, with quoted commas, newlines, `\r\n`s and
    /// escaped quotes, `\r\n` line ends, lone `\r`s, blank lines and ragged rows, whole and cut
    /// in three anywhere.
    #[test]
    fn blocks_scan_as_bytes() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let run = |bytewise: bool, parts: &[&[u8]]| {
            let mut s = Scanner { bytewise, piece_records: 3, ..Scanner::default() };
            for p in parts {
                s.feed(p);
            }
            let s = s.finish();
            let lines: Vec<u64> = (0..s.records).map(|r| s.line_of(r)).collect();
            (s.header_fields, s.records, s.ragged, s.blank, lines, (s.data_start, s.len, s.cuts, s.regular))
        };
        for case in 0..3000 {
            let mut f = Vec::new();
            let rows = next(40);
            // half the files quote every field of most rows (as `QUOTE_ALL` writers do)
            let quote_all = next(2) == 0;
            for _ in 0..rows {
                let shape = next(20);
                let fields = if shape == 0 { next(5) } else { 3 };
                let quoted = quote_all && shape != 2;
                for k in 0..fields {
                    if k > 0 {
                        f.push(b',');
                    }
                    if quoted {
                        f.push(b'"');
                    }
                    match next(30) {
                        0 => f.extend_from_slice(b"\"q,\nq\""),
                        1 => f.push(b'\r'),
                        2 => f.extend_from_slice("价".as_bytes()),
                        3 => f.extend_from_slice(b"\"a\"\"b\r\n\"\"c\""),
                        4 if quoted => f.extend_from_slice(b"x\"\",\r\ny"),
                        _ => f.extend(std::iter::repeat_n(b'7', next(25) as usize)),
                    }
                    if quoted {
                        f.push(b'"');
                    }
                }
                f.extend_from_slice(if next(4) == 0 { b"\r\n" } else { b"\n" });
                if shape == 1 {
                    f.push(b'\n'); // a blank line
                }
            }
            if case % 2 == 0 {
                f.pop(); // no final newline
            }
            let want = run(true, &[&f]);
            assert_eq!(run(false, &[&f]), want, "case {case}: {:?}", String::from_utf8_lossy(&f));
            let (a, b) = (next(f.len() as u64 + 1) as usize, next(f.len() as u64 + 1) as usize);
            let (a, b) = (a.min(b), a.max(b));
            assert_eq!(run(false, &[&f[..a], &f[a..b], &f[b..]]), want, "case {case} cut at {a}, {b}");
        }
    }

    /// The SSE2 masks are the byte loop's, on blocks of the bytes that matter and others.
    #[test]
    fn masks_are_the_bytes() {
        let alphabet = b"\n,\"\r a7\xe4\x00\xff";
        let mut x = 7u64;
        for _ in 0..2000 {
            let mut b = [0u8; 64];
            for c in &mut b {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *c = alphabet[(x >> 33) as usize % alphabet.len()];
            }
            assert_eq!(masks(&b), masks_bytewise(&b));
            // and the quotes' parity is the byte loop's
            let mut odd = false;
            for (j, c) in b.iter().enumerate() {
                odd ^= *c == b'"';
                assert_eq!(prefix_xor(masks(&b).quotes) >> j & 1 == 1, odd);
            }
        }
    }

    /// Regular files (every quote opening or closing a field, or escaped; no lone `\r`) and
    /// irregular ones, each at the byte loop and by blocks (the file repeated past 64 bytes); the
    /// cuts at every second record's first byte.
    #[test]
    fn regular_quoting_and_cuts() {
        let regular: [&[u8]; 6] = [
            b"a,b\n1,2\n",
            b"\"a\",\"b\"\r\n\"x\"\"y\",\"\"\r\n\"q,\r\nq\",\n",
            b"a\n\"\"\n\n",
            b"a,b\n\"1\",2\n3,\"4\"",
            b"\xef\xbb\xbf\"a\"\n\"\"\"\"\n",
            b"a,b\n1,\"x\ry\"\n",
        ];
        let irregular: [&[u8]; 7] = [
            b"a,b\n1,x\"y\n",
            b"a,b\n\"1\"x,2\n",
            b"a,b\n 1,\"2\" \n",
            b"a,b\n1,2\r3\n",
            b"a,b\n1,2\r",
            b"a,b\n\"1,2\n",
            b"a,b\n1, \"2\"\n",
        ];
        for (files, want) in [(&regular[..], true), (&irregular[..], false)] {
            for f in files {
                let head = f.iter().position(|&c| c == b'\n').map_or(f.len(), |i| i + 1);
                // the file's records repeated past a block (the first kept whole)
                let mut long = f.to_vec();
                while long.len() < 200 {
                    if long.last() != Some(&b'\n') {
                        long.push(b'\n');
                    }
                    long.extend_from_slice(&f[head..]);
                }
                for (text, bytewise) in [(f.to_vec(), true), (f.to_vec(), false), (long.clone(), true), (long, false)] {
                    let mut s = Scanner { bytewise, piece_records: 2, ..Scanner::default() };
                    s.feed(&text);
                    let s = s.finish();
                    assert_eq!(s.regular, want, "{:?} bytewise {bytewise}", String::from_utf8_lossy(&text));
                    assert_eq!(s.len, text.len() as u64);
                    assert_eq!(s.cuts.len() as u64, s.records / 2);
                    for &(at, rn) in &s.cuts {
                        assert_eq!(rn % 2, 0);
                        // a record starts there: after a line end, or the file ends
                        assert!(at as usize == text.len() || text[at as usize - 1] == b'\n', "{at}");
                    }
                }
            }
        }
        let s = scan(b"\xef\xbb\xbfa,b\r\n1,2\n");
        assert_eq!((s.data_start, s.len), (3 + 5, 3 + 5 + 4));
    }

    #[test]
    fn header_only_and_empty() {
        assert_eq!(scan(b"a,b\n").records, 0);
        assert_eq!(scan(b"").records, 0);
    }
}
