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

/// Files from this size on are scanned in two halves at once, one per core (PERF.md: the scan
/// is on the load's critical path, the other tables loaded long before it ends).
pub const SPLIT_FROM: u64 = 64 << 20;

/// Scan the CSV file at `path` in chunks (never the whole file in memory: at 10 M rows it was
/// 0.64 GB held through the load), checking that it is UTF-8 as it goes; a large file in two
/// halves at once ([`SPLIT_FROM`]).
pub fn scan_file(path: &std::path::Path) -> Result<CsvScan, ScanError> {
    scan_file_from(path, SPLIT_FROM)
}

/// [`scan_file`], files of `split_from` bytes or more in two halves (the tests' small files too).
#[doc(hidden)]
pub fn scan_file_from(path: &std::path::Path, split_from: u64) -> Result<CsvScan, ScanError> {
    let io = |e: std::io::Error| ScanError::Io(e.to_string());
    let f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut a = Feeder::default();
    if len >= split_from {
        if let Some(scan) = scan_halves(&f, len, &mut a)? {
            return Ok(scan);
        }
    }
    // (what a split scan read already, continued)
    let at = a.read;
    a.feed_range(&f, at, len)?;
    a.finish()
}

/// A scanner fed a range of the file at a time, the UTF-8 check carried across chunks.
#[derive(Default)]
struct Feeder {
    s: Scanner,
    /// An incomplete UTF-8 sequence at a chunk's end, completed by the next chunk.
    carry: Vec<u8>,
    /// Bytes fed.
    read: u64,
}

impl Feeder {
    /// Feed bytes `from..to` of `f`, in chunks of 1 MiB.
    fn feed_range(&mut self, f: &std::fs::File, from: u64, to: u64) -> Result<(), ScanError> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; (1usize << 20).min((to - from) as usize)];
        let mut at = from;
        while at < to {
            let want = buf.len().min((to - at) as usize);
            let mut n = 0;
            while n < want {
                match f.read_at(&mut buf[n..want], at + n as u64) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ScanError::Io(e.to_string())),
                }
            }
            if n == 0 {
                break; // (the file shrank)
            }
            at += n as u64;
            self.feed(&buf[..n])?;
        }
        Ok(())
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), ScanError> {
        self.read += chunk.len() as u64;
        // (the carry holds no newline: it is the start of a character)
        let newlines = self.s.newlines();
        self.s.feed(chunk);
        // UTF-8, across chunk boundaries
        let mut check: Vec<u8>;
        let text: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            check = std::mem::take(&mut self.carry);
            check.extend_from_slice(chunk);
            &check
        };
        match simdutf8::compat::from_utf8(text) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                self.carry = text[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(e) => {
                let line = newlines + text[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
                Err(ScanError::NotUtf8 { line })
            }
        }
    }

    fn finish(self) -> Result<CsvScan, ScanError> {
        if self.read == 0 {
            return Err(ScanError::Empty);
        }
        if !self.carry.is_empty() {
            return Err(ScanError::NotUtf8 { line: self.s.newlines() + 1 });
        }
        Ok(self.s.finish())
    }
}

/// The scan of `f` (`len` bytes) in two halves at once: `a` from the start to the first line end
/// past the middle, another scanner from there to the end on a thread of its own, assuming the
/// second half begins outside quotes (a record's start); joined when `a` ends outside quotes.
/// `None` (with `a` fed as far as it got, to be continued) when the assumption fails, the header
/// does not end in the first half, or the second half has an error (whose line the whole scan
/// gives).
fn scan_halves(f: &std::fs::File, len: u64, a: &mut Feeder) -> Result<Option<CsvScan>, ScanError> {
    use std::os::unix::fs::FileExt;
    // the split: after the first `\n` at or past the middle
    let mut window = vec![0u8; 1 << 16];
    let n = f.read_at(&mut window, len / 2).map_err(|e| ScanError::Io(e.to_string()))?;
    let Some(i) = window[..n].iter().position(|&c| c == b'\n') else { return Ok(None) };
    let split = len / 2 + i as u64 + 1;
    // the header's field count, from the first chunk (the second half's ragged records need it)
    a.feed_range(f, 0, split.min(1 << 20))?;
    if !a.s.header_done {
        return Ok(None);
    }
    let mut b = Feeder { s: Scanner::after_header(a.s.out.header_fields, split), ..Feeder::default() };
    let at = a.read;
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| b.feed_range(f, split, len));
        (a.feed_range(f, at, split), second.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    first?;
    // (the first half ends with a line end: its state is whole)
    if second.is_err() || a.s.in_quotes || !b.carry.is_empty() {
        return Ok(None);
    }
    Ok(Some(std::mem::take(&mut a.s).joined(b.s)))
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
    /// The file offset of the next byte fed, and of the byte after the last record end.
    pos: u64,
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

    /// A scanner for the bytes from offset `at` on, a record's start past the header (of
    /// `header_fields` fields): [`Scanner::joined`] to the scan of the bytes before.
    fn after_header(header_fields: usize, at: u64) -> Scanner {
        let mut s = Scanner::default();
        s.start();
        (s.header_done, s.pos, s.next_start, s.out.data_start) = (true, at, at, at);
        s.out.header_fields = header_fields;
        s.out.first_line = 1;
        s
    }

    /// The scan of the whole file from this scan of its bytes up to a record's start and `b`'s
    /// of the rest ([`Scanner::after_header`]): `b`'s records numbered on from this one's, their
    /// lines from the line `b` began on, a cut where it began.
    fn joined(mut self, mut b: Scanner) -> CsvScan {
        b.finish_records();
        let (r0, g) = (self.rn, self.line);
        let out = &mut self.out;
        out.ragged.extend(b.out.ragged.iter().map(|&(r, f)| (r + r0, f)));
        out.blank.extend(b.out.blank.iter().map(|&r| r + r0));
        if b.rn > 0 {
            // `b`'s first record, on its line `first_line` (1: the line it began on, `g`)
            let line = g + b.out.first_line - 1;
            let expected = match out.breaks.last() {
                Some((r, l)) => l + (r0 - r),
                None => out.first_line + r0,
            };
            if r0 == 0 {
                out.first_line = line;
            } else if line != expected {
                out.breaks.push((r0, line));
            }
            out.breaks.extend(b.out.breaks.iter().map(|&(r, l)| (r + r0, l + g - 1)));
        }
        // (`b`'s data began where it was started)
        if out.cuts.last().is_none_or(|&(at, _)| at < b.out.data_start) {
            out.cuts.push((b.out.data_start, r0));
        }
        out.cuts.extend(b.out.cuts.iter().map(|&(at, r)| (at, r + r0)));
        out.records = r0 + b.rn;
        out.len = b.pos;
        out.regular = !self.irregular && !b.irregular && !b.in_quotes;
        self.out
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
                    self.block(m, self.pos);
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
    /// quoting off and on again, as in the byte loop. `block_at`: the file offset of its first byte.
    fn block(&mut self, m: Masks, block_at: u64) {
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
            self.next_start = block_at + u64::from(at) + 1;
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

    /// The last record, which no line end ended (a `\r` ending the file is not a byte of it).
    fn finish_records(&mut self) {
        if self.pending_cr {
            self.irregular = true; // a `\r` ending the file
        }
        if self.rec_bytes > 0 || self.in_quotes {
            self.next_start = self.pos;
            self.end_record();
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
        self.finish_records();
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
pub(crate) mod tests {
    use super::*;

    /// A xorshift generator from `seed`: `next(n)` is below `n` (the generated files' choices).
    pub(crate) fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

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
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
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

    /// A file scanned in two halves at once gives the whole scan's records, lines, ragged and
    /// blank records, quoting check and extent, and cuts at records' starts: 1500 generated files
    /// (quoted line ends, escaped quotes, `\r\n`, blank and ragged rows), the middle falling
    /// inside quotes (the halves' assumption wrong: scanned whole) or not, and a bad byte in
    /// either half (the whole scan's line).
    #[test]
    fn halves_scan_as_the_whole() {
        let mut next = xorshift(0x5DEE_CE66_D1CE_4E5B);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        let (mut joined, mut assumed_wrong) = (0, 0);
        for case in 0..1500 {
            let mut f = b"a,b,c\n".to_vec();
            if case % 7 == 0 {
                f.splice(0..0, *b"\xef\xbb\xbf");
            }
            let quote_all = next(2) == 0;
            for _ in 0..next(60) {
                let fields = if next(15) == 0 { 1 + next(4) } else { 3 };
                for k in 0..fields {
                    if k > 0 {
                        f.push(b',');
                    }
                    let quoted = quote_all || next(5) == 0;
                    if quoted {
                        f.push(b'"');
                    }
                    match next(12) {
                        0 if quoted => f.extend_from_slice(b"q,\r\nq\n\n\"\"x"),
                        1 => f.extend_from_slice("价".as_bytes()),
                        2 if case % 50 == 0 => f.push(0xff),
                        _ => f.extend(std::iter::repeat_n(b'7', next(12) as usize)),
                    }
                    if quoted {
                        f.push(b'"');
                    }
                }
                f.extend_from_slice(if next(3) == 0 { b"\r\n" } else { b"\n" });
                if next(12) == 0 {
                    f.push(b'\n');
                }
            }
            std::fs::write(&p, &f).unwrap();
            let whole = scan_file_from(&p, u64::MAX);
            let halves = scan_file_from(&p, 0);
            let (whole, halves) = match (whole, halves) {
                (Ok(w), Ok(h)) => (w, h),
                (w, h) => {
                    assert_eq!(w.unwrap_err(), h.unwrap_err(), "case {case}");
                    continue;
                }
            };
            let shape = |s: &CsvScan| {
                let lines: Vec<u64> = (0..s.records).map(|r| s.line_of(r)).collect();
                (s.header_fields, s.records, s.ragged.clone(), s.blank.clone(), lines, s.data_start, s.len, s.regular)
            };
            assert_eq!(shape(&halves), shape(&whole), "case {case}: {:?}", String::from_utf8_lossy(&f));
            // every cut a record's start (every record's, from a scan cutting at each)
            let mut each = Scanner::with_piece_records(1);
            each.feed(&f);
            let each = each.finish();
            for c in &halves.cuts {
                assert!(each.cuts.contains(c) || *c == (each.data_start, 0), "case {case}: cut {c:?}");
            }
            if halves.cuts.len() > whole.cuts.len() {
                joined += 1;
            } else {
                assumed_wrong += 1;
            }
        }
        // both ways taken, often
        assert!(joined > 500 && assumed_wrong > 50, "{joined} joined, {assumed_wrong} scanned whole");
    }

    #[test]
    fn header_only_and_empty() {
        assert_eq!(scan(b"a,b\n").records, 0);
        assert_eq!(scan(b"").records, 0);
    }
}
