//! A row group cut into pieces ([`super::pieces`]) has its column chunks decompressed once for
//! all its pieces, not once per piece.
//!
//! A piece of rows `start..start + len` decodes only the pages those rows lie in, but a page is
//! compressed whole: each piece that falls in a page decompresses all of it. Writers that put a
//! column chunk in one page (DuckDB does: a 1M-row row group's `ts` is one 8 MB page) then have
//! every piece of the row group decompress the whole chunk: four pieces, four times the work
//! (PERF.md: at 100 M rows this was half of the pass's decoding). Here the first piece of such a
//! row group to be read decompresses its chunks' pages into a copy of the chunk whose pages are
//! stored uncompressed (the same pages, values and encodings, each page's header saying so), and
//! every piece of the row group decodes its rows from that copy (a page stored uncompressed is
//! read where it lies). The copy goes when the row group's last piece has been read.
//!
//! Only where it pays and the memory is small: a row group cut into pieces, stored compressed,
//! of flat columns (one leaf each), whose read columns take at most [`MAX_BYTES`] uncompressed.
//! A chunk this module cannot unpack (a page type it does not know, a header it cannot read, a
//! codec not built in) is left to the decoder, which reads it as it always did and reports what
//! is wrong with it.

use polars_buffer::Buffer;
use polars_parquet::parquet::compression::{decompress, Compression, DecompressionContext};
use polars_parquet::parquet::metadata::ColumnChunkMetadata;
use polars_parquet::parquet::read::{BasicDecompressor, PageMetaData, PageReader};
use polars_parquet_format::thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};
use polars_parquet_format::{PageHeader, PageType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The most uncompressed bytes a row group's read columns may take to be unpacked (a DuckDB
/// 1M-row row group of the price columns takes about 16 MB; a pyarrow 8M-row one, whose pages
/// are small and cut rarely, about 130 MB, and is not unpacked).
pub(super) const MAX_BYTES: i64 = 48 << 20;

/// Over [`MAX_BYTES`], a row group cut into pieces is still unpacked in the columns whose pages
/// each hold the rows of [`PAGE_PIECES`] pieces or more, up to this many uncompressed bytes of
/// them: every piece in such a page would decompress all of it. DuckDB writes a column chunk as
/// one page whatever the row group's size: 10 M rows in one row group were decompressed whole by
/// each of their 39 pieces (PERF.md); pyarrow's and Spark's 1 MB pages are not unpacked.
pub(super) const LARGE_MAX_BYTES: i64 = 256 << 20;

/// See [`LARGE_MAX_BYTES`].
const PAGE_PIECES: i64 = 2;

/// The row groups of a scan that are unpacked, and their unpacked chunks while pieces of them
/// are left to read.
#[derive(Default)]
pub(super) struct Unpacked {
    held: Mutex<HashMap<(usize, usize), Held>>,
}

struct Held {
    /// The row group's spans not yet read.
    left: usize,
    /// Which of its read columns to unpack.
    which: Arc<[bool]>,
    /// Its read columns' chunks, unpacked by the first span read (each `None` where it could not
    /// be: then read as stored).
    chunks: Arc<OnceLock<Vec<Option<Buffer<u8>>>>>,
}

impl Unpacked {
    /// Row group `rg` of file `file` is unpacked for its `spans` spans, in the read columns
    /// `which` says ([`worth_it`]).
    pub(super) fn plan(&mut self, file: usize, rg: usize, spans: usize, which: Vec<bool>) {
        let held = self.held.get_mut().unwrap_or_else(|e| e.into_inner());
        held.insert((file, rg), Held { left: spans, which: which.into(), chunks: Arc::new(OnceLock::new()) });
    }

    /// How many row groups are planned to be unpacked (and not yet let go).
    pub(super) fn planned(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The unpacked chunks of row group `rg` of file `file` (made the first time by `unpack`,
    /// given which read columns to unpack), for one of its spans; the last span's call lets them
    /// go once its caller is done.
    pub(super) fn take(
        &self,
        file: usize,
        rg: usize,
        unpack: impl FnOnce(&[bool]) -> Vec<Option<Buffer<u8>>>,
    ) -> Option<Arc<OnceLock<Vec<Option<Buffer<u8>>>>>> {
        let (chunks, which) = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let h = held.get_mut(&(file, rg))?;
            h.left -= 1;
            let taken = (h.chunks.clone(), h.which.clone());
            if h.left == 0 {
                held.remove(&(file, rg));
            }
            taken
        };
        // (outside the lock: the other worker may unpack another row group meanwhile; a worker
        // wanting this one waits for it)
        chunks.get_or_init(|| unpack(&which));
        Some(chunks)
    }
}

/// Which read columns of a row group cut into `pieces` pieces to unpack (`None`: none), its
/// columns `chunks` (all the read columns', in `file`) each one leaf and some stored compressed:
/// every column when they take at most [`MAX_BYTES`] uncompressed; else those whose pages hold
/// [`PAGE_PIECES`] pieces' rows or more, when they take at most [`LARGE_MAX_BYTES`]. (Judged by
/// each chunk's first data page: a writer's pages are of one size. The caller drops the file's
/// pages the headers were read from.)
pub(super) fn worth_it(chunks: &[Vec<&ColumnChunkMetadata>], file: &[u8], pieces: usize) -> Option<Vec<bool>> {
    worth_it_within(chunks, file, pieces, MAX_BYTES, LARGE_MAX_BYTES)
}

/// [`worth_it`] with the bounds `max` and `large_max`.
fn worth_it_within(
    chunks: &[Vec<&ColumnChunkMetadata>],
    file: &[u8],
    pieces: usize,
    max: i64,
    large_max: i64,
) -> Option<Vec<bool>> {
    let flat = chunks.iter().all(|c| c.len() == 1 && c[0].descriptor().descriptor.max_rep_level == 0);
    let compressed = |m: &ColumnChunkMetadata| m.compression() != Compression::Uncompressed;
    if !flat || !chunks.iter().flatten().any(|m| compressed(m)) {
        return None;
    }
    // the uncompressed bytes of the columns `which` says
    let bytes = |which: &[bool]| {
        let mut ms = chunks.iter().zip(which).filter(|(_, w)| **w).map(|(c, _)| c[0]);
        ms.try_fold(0i64, |s, m| s.checked_add(m.uncompressed_size().max(0)))
    };
    let every = vec![true; chunks.len()];
    if bytes(&every).is_some_and(|b| b <= max) {
        return Some(every);
    }
    let which: Vec<bool> = chunks.iter().map(|c| compressed(c[0]) && large_pages(c[0], file, pieces)).collect();
    let large = bytes(&which);
    (which.contains(&true) && large.is_some_and(|b| b <= large_max)).then_some(which)
}

/// Does the first data page of chunk `m` (in `file`) hold [`PAGE_PIECES`] of its `pieces`
/// pieces' rows or more (its uncompressed bytes against the chunk's)? `false` where a header
/// cannot be read.
fn large_pages(m: &ColumnChunkMetadata, file: &[u8], pieces: usize) -> bool {
    let r = m.byte_range();
    let Some(mut rest) =
        usize::try_from(r.start).ok().zip(usize::try_from(r.end).ok()).and_then(|(a, b)| file.get(a..b))
    else {
        return false;
    };
    while let Some((h, _)) = next_page(&mut rest) {
        if h.type_ == PageType::DICTIONARY_PAGE {
            continue;
        }
        let (page, pieces) = (i64::from(h.uncompressed_page_size), i64::try_from(pieces).unwrap_or(i64::MAX));
        return page.checked_mul(pieces).is_none_or(|p| p >= PAGE_PIECES.saturating_mul(m.uncompressed_size()));
    }
    false
}

/// Column chunk `bytes` (all its pages, as stored, compressed with `codec`) with every page
/// stored uncompressed: each page's header as it was but for its stored size (the uncompressed
/// one), its checksum (dropped: it was of the compressed bytes) and, for a v2 data page, its
/// `is_compressed` flag; then the page's uncompressed bytes. `None` where a header cannot be read
/// or written, a page type is not a data or dictionary page, the codec fails, or the pages' sizes
/// add up to more than `max` bytes (the chunk's uncompressed size in the footer: a header is not
/// trusted with an allocation).
pub(super) fn unpack_chunk(bytes: &[u8], codec: Compression, max: i64) -> Option<Vec<u8>> {
    if codec == Compression::Uncompressed {
        return None;
    }
    let mut left = usize::try_from(max).ok()?;
    let mut out = Vec::new();
    let mut ctx = DecompressionContext::Unset;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (mut h, data) = next_page(&mut rest)?;
        let size = usize::try_from(h.uncompressed_page_size).ok()?;
        left = left.checked_sub(size)?;
        let mut page = vec![0u8; size];
        match h.type_ {
            PageType::DATA_PAGE | PageType::DICTIONARY_PAGE => decompress(codec, data, &mut page, &mut ctx).ok()?,
            PageType::DATA_PAGE_V2 => {
                let v2 = h.data_page_header_v2.as_mut()?;
                // the levels are stored uncompressed ahead of the values
                let levels = usize::try_from(v2.definition_levels_byte_length)
                    .ok()?
                    .checked_add(usize::try_from(v2.repetition_levels_byte_length).ok()?)?;
                page.get_mut(..levels)?.copy_from_slice(data.get(..levels)?);
                if v2.is_compressed.unwrap_or(true) {
                    decompress(codec, &data[levels..], &mut page[levels..], &mut ctx).ok()?;
                } else {
                    // (a page stored uncompressed within a compressed chunk: as it is)
                    if data.len() != size {
                        return None;
                    }
                    page.copy_from_slice(data);
                }
                v2.is_compressed = Some(false);
            }
            _ => return None,
        }
        h.compressed_page_size = h.uncompressed_page_size;
        h.crc = None;
        h.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut out)).ok()?;
        out.extend_from_slice(&page);
    }
    Some(out)
}

/// The first page of `rest` (its header, its bytes as stored), `rest` moved past it; `None`
/// where the header cannot be read or the page runs past `rest`.
fn next_page<'a>(rest: &mut &'a [u8]) -> Option<(PageHeader, &'a [u8])> {
    let mut cursor = std::io::Cursor::new(*rest);
    let h = PageHeader::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut cursor, rest.len())).ok()?;
    let at = usize::try_from(cursor.position()).ok()?;
    let end = at.checked_add(usize::try_from(h.compressed_page_size).ok()?)?;
    let data = rest.get(at..end)?;
    *rest = &rest[end..];
    Some((h, data))
}

/// A page reader over an unpacked chunk (`bytes`, from [`unpack_chunk`]) of column `meta`.
pub(super) fn reader(meta: &ColumnChunkMetadata, bytes: Buffer<u8>) -> BasicDecompressor {
    let page_meta =
        PageMetaData::new(0, meta.num_values(), Compression::Uncompressed, meta.descriptor().descriptor.clone());
    BasicDecompressor::new(
        PageReader::new_with_page_meta(std::io::Cursor::new(bytes), page_meta, vec![], usize::MAX),
        vec![],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;
    use polars_parquet::write::{CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions};

    /// `df` as a Parquet file of one row group: data pages of `version`, of about `page` bytes
    /// (`None`: polars' default, one page for these columns), compressed by `compression`; text
    /// and numbers dictionary-encoded where polars' writer encodes them so.
    fn parquet(df: &DataFrame, version: Version, compression: CompressionOptions, page: Option<usize>) -> Vec<u8> {
        let arrow = df.schema().to_arrow(CompatLevel::newest());
        let options =
            WriteOptions { statistics: StatisticsOptions::full(), version, compression, data_page_size: page };
        let encodings: Buffer<Vec<_>> =
            arrow.iter_values().map(|f| polars_parquet::write::get_dtype_encoding(&f.dtype)).collect();
        let mut file = FileWriter::try_new(Vec::new(), arrow, options).unwrap();
        let fields = file.parquet_schema().fields().to_vec();
        let mut df = df.clone();
        df.rechunk_mut();
        let batch = df.iter_chunks(CompatLevel::newest(), false).next().unwrap();
        file.write(df.height() as u64, polars_parquet::write::row_group_iter(batch, encodings, fields, options))
            .unwrap();
        file.end(None).unwrap();
        file.into_inner()
    }

    /// 5000 rows: text of 37 values with nulls, times, numbers with nulls, booleans.
    fn rows() -> DataFrame {
        let n = 5000i64;
        let text: Vec<Option<String>> =
            (0..n).map(|i| (i % 11 != 3).then(|| format!("offer-{}", i * 7 % 37))).collect();
        let ts: Vec<i64> = (0..n).map(|i| 1_700_000_000_000_000 + i * 1_234_567).collect();
        let qty: Vec<Option<i64>> = (0..n).map(|i| (i % 5 != 0).then_some(i % 13)).collect();
        let flag: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        df!("offer_id" => text, "ts" => ts, "qty" => qty, "flag" => flag).unwrap()
    }

    /// The headers of `chunk`'s pages, in order.
    fn headers(chunk: &[u8]) -> Vec<PageHeader> {
        let mut rest = chunk;
        let mut out = Vec::new();
        while !rest.is_empty() {
            out.push(next_page(&mut rest).expect("a page").0);
        }
        out
    }

    /// Every column of a row group written with one big page, with many small ones, in v1 and v2
    /// data pages, by four codecs, decodes from its unpacked chunk to the same values as from the
    /// stored one, over ranges at either end, across pages and whole; each unpacked page is
    /// stored uncompressed (its header says so, no checksum) and the pages are the stored ones.
    #[test]
    fn unpacked_chunks_decode_as_stored() {
        let df = rows();
        let n = df.height();
        let ranges = [(0, n), (0, 1), (n - 1, n), (0, 2500), (2500, n), (1234, 3777), (4999, 5000), (17, 18)];
        let configs = [
            (Version::V1, CompressionOptions::Snappy, None),
            (Version::V1, CompressionOptions::Zstd(None), Some(1024)),
            (Version::V2, CompressionOptions::Snappy, Some(2000)),
            (Version::V2, CompressionOptions::Zstd(None), None),
            (Version::V1, CompressionOptions::Lz4Raw, Some(3000)),
            (Version::V2, CompressionOptions::Gzip(None), Some(1500)),
        ];
        let mut unpacked_pages = 0;
        for (version, compression, page) in configs {
            let file = parquet(&df, version, compression, page);
            let md = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&file)).unwrap();
            let arrow = polars_parquet::read::infer_schema(&md).unwrap();
            let g = &md.row_groups[0];
            for field in arrow.iter_values() {
                let m = g.columns_under_root_iter(field.name.as_str()).unwrap().next().unwrap();
                let r = m.byte_range();
                let stored = &file[r.start as usize..r.end as usize];
                let unpacked = unpack_chunk(stored, m.compression(), m.uncompressed_size()).expect("unpacked");
                // the same pages, each stored uncompressed
                let (before, after) = (headers(stored), headers(&unpacked));
                assert_eq!(before.len(), after.len(), "{} {compression:?}", field.name);
                for (b, a) in before.iter().zip(&after) {
                    assert_eq!((a.type_, a.uncompressed_page_size), (b.type_, b.uncompressed_page_size));
                    assert_eq!(a.compressed_page_size, a.uncompressed_page_size);
                    assert!(a.crc.is_none());
                    if let Some(v2) = &a.data_page_header_v2 {
                        assert_eq!(v2.is_compressed, Some(false));
                        assert_eq!(v2.num_rows, b.data_page_header_v2.as_ref().unwrap().num_rows);
                    }
                }
                unpacked_pages += after.len();
                let unpacked = Buffer::from(unpacked);
                for &(lo, hi) in &ranges {
                    let filter = polars_parquet::read::Filter::new_ranged(lo, hi);
                    let (want, _) = polars_io::parquet::read::_internal::to_deserializer(
                        vec![(m, Buffer::from(stored.to_vec()))],
                        field.clone(),
                        Some(filter.clone()),
                    )
                    .unwrap();
                    let (got, _) = polars_parquet::read::column_iter_to_arrays(
                        vec![reader(m, unpacked.clone())],
                        vec![&m.descriptor().descriptor.primitive_type],
                        field.clone(),
                        Some(filter),
                    )
                    .unwrap();
                    let want = Series::try_from((field, want)).unwrap();
                    let got = Series::try_from((field, got)).unwrap();
                    assert_eq!(got.len(), hi - lo);
                    assert!(
                        got.equals_missing(&want),
                        "{} rows {lo}..{hi}, {version:?} {compression:?} pages of {page:?}",
                        field.name
                    );
                }
            }
        }
        // the small pages were many
        assert!(unpacked_pages > 6 * 4 * 2, "{unpacked_pages} pages");
    }

    /// What cannot be unpacked is left to the decoder: a chunk stored uncompressed, bytes that
    /// are not pages, a page cut short, the wrong codec, pages larger than the footer says.
    #[test]
    fn what_cannot_be_unpacked_is_left_as_stored() {
        let file = parquet(&rows(), Version::V1, CompressionOptions::Snappy, None);
        let md = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&file)).unwrap();
        let m = md.row_groups[0].columns_under_root_iter("ts").unwrap().next().unwrap();
        let r = m.byte_range();
        let stored = &file[r.start as usize..r.end as usize];
        let max = m.uncompressed_size();
        assert!(unpack_chunk(stored, m.compression(), max).is_some());
        assert!(unpack_chunk(stored, Compression::Uncompressed, max).is_none());
        assert!(unpack_chunk(&stored[..stored.len() - 1], m.compression(), max).is_none());
        assert!(unpack_chunk(&[0xff; 64], m.compression(), max).is_none());
        // (a codec that is not the stored one fails to decompress)
        assert!(unpack_chunk(stored, Compression::Zstd, max).is_none());
        // pages larger than the footer says (a header claiming more than the chunk holds): at
        // the pages' own sizes, unpacked; a byte less, not
        let pages: i64 = headers(stored).iter().map(|h| h.uncompressed_page_size as i64).sum();
        assert!(pages <= max);
        assert!(unpack_chunk(stored, m.compression(), pages).is_some());
        assert!(unpack_chunk(stored, m.compression(), pages - 1).is_none());
    }

    /// A row group's chunks are unpacked once, by its first span read, and let go with its last;
    /// a row group not planned is not unpacked.
    #[test]
    fn a_row_group_is_unpacked_once_and_let_go_after_its_last_span() {
        let mut u = Unpacked::default();
        u.plan(0, 3, 3, vec![true, false]);
        let made = std::sync::atomic::AtomicUsize::new(0);
        let unpack = |which: &[bool]| {
            assert_eq!(which, [true, false]);
            made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vec![Some(Buffer::from(vec![1u8, 2, 3])), None]
        };
        let first = u.take(0, 3, unpack).expect("planned");
        assert!(u.take(1, 3, unpack).is_none() && u.take(0, 2, unpack).is_none());
        let second = u.take(0, 3, unpack).expect("planned");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(u.take(0, 3, unpack).is_some());
        // the last span taken: no longer held here (its caller's copy only)
        assert!(u.take(0, 3, unpack).is_none());
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(first.get().unwrap()[0].as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(Arc::strong_count(&first), 2);
    }

    /// The named columns' chunks of `file`'s row group.
    fn chunks_of<'a>(md: &'a polars_parquet::read::FileMetadata, names: &[&str]) -> Vec<Vec<&'a ColumnChunkMetadata>> {
        let g = &md.row_groups[0];
        names.iter().map(|c| g.columns_under_root_iter(c).unwrap().collect()).collect()
    }

    fn metadata(file: &[u8]) -> polars_parquet::read::FileMetadata {
        polars_parquet::read::read_metadata(&mut std::io::Cursor::new(file)).unwrap()
    }

    /// Unpacked: flat columns stored compressed within the bound; not: a chunk stored
    /// uncompressed, a list column (a repeated leaf), nor columns one byte past the bound (whose
    /// small pages hold few pieces' rows).
    #[test]
    fn worth_it_for_flat_compressed_columns_within_the_bound() {
        let df = rows();
        let all = ["offer_id", "ts", "qty", "flag"];
        let snappy = parquet(&df, Version::V1, CompressionOptions::Snappy, None);
        let md = metadata(&snappy);
        let chunks = chunks_of(&md, &all);
        let bytes: i64 = chunks.iter().flatten().map(|m| m.uncompressed_size()).sum();
        assert!(bytes > 0 && bytes < MAX_BYTES);
        assert_eq!(worth_it(&chunks, &snappy, 4), Some(vec![true; 4]));
        // the bound is the read columns' uncompressed bytes: at it, every column unpacked; one
        // byte over, only the columns of large pages (below: none of small pages)
        let small = parquet(&df, Version::V1, CompressionOptions::Snappy, Some(1024));
        let md = metadata(&small);
        let chunks = chunks_of(&md, &["offer_id", "ts"]);
        let within: i64 = chunks.iter().flatten().map(|m| m.uncompressed_size()).sum();
        assert_eq!(worth_it_within(&chunks, &small, 4, within, i64::MAX), Some(vec![true; 2]));
        assert_eq!(worth_it_within(&chunks, &small, 4, within - 1, i64::MAX), None);
        let plain = parquet(&df, Version::V1, CompressionOptions::Uncompressed, None);
        assert_eq!(worth_it(&chunks_of(&metadata(&plain), &["offer_id", "ts"]), &plain, 4), None);
        let lists = df!("l" => [Series::new("".into(), [1i64, 2]), Series::new("".into(), [3i64])]).unwrap();
        let nested = parquet(&lists, Version::V1, CompressionOptions::Snappy, None);
        assert_eq!(worth_it(&chunks_of(&metadata(&nested), &["l"]), &nested, 4), None);
    }

    /// Past the bound, a row group is unpacked in the columns whose first data page (past a
    /// dictionary page) holds two pieces' rows or more: at that many pieces and not one fewer;
    /// not past the larger bound; not its columns of small pages.
    #[test]
    fn past_the_bound_the_columns_of_large_pages_are_unpacked() {
        let df = rows();
        let one_page = parquet(&df, Version::V1, CompressionOptions::Snappy, None);
        let md = metadata(&one_page);
        for name in ["offer_id", "ts", "qty"] {
            let chunks = chunks_of(&md, &[name]);
            let m = chunks[0][0];
            let r = m.byte_range();
            let pages = headers(&one_page[r.start as usize..r.end as usize]);
            let first = pages.iter().find(|h| h.type_ != PageType::DICTIONARY_PAGE).unwrap();
            assert!(name != "offer_id" || pages[0].type_ == PageType::DICTIONARY_PAGE, "a dictionary first");
            // the fewest pieces two of whose rows the page holds: 2 * chunk / page, rounded up
            let (page, chunk) = (i64::from(first.uncompressed_page_size), m.uncompressed_size());
            let least = usize::try_from((2 * chunk + page - 1) / page).unwrap();
            assert!(least >= 2, "{name}: {least}");
            let judge = |pieces: usize, large_max: i64| worth_it_within(&chunks, &one_page, pieces, 0, large_max);
            assert_eq!(judge(least, chunk), Some(vec![true]), "{name}");
            assert_eq!(judge(least - 1, chunk), None, "{name}");
            assert_eq!(judge(least, chunk - 1), None, "{name}: past the larger bound");
        }
        // the same column in one page and in small pages (two files): only the first unpacked
        let small = parquet(&df, Version::V1, CompressionOptions::Snappy, Some(1024));
        let (a, b) = (metadata(&one_page), metadata(&small));
        let big = chunks_of(&a, &["ts"]);
        assert_eq!(worth_it_within(&big, &one_page, 64, 0, i64::MAX), Some(vec![true]));
        assert_eq!(worth_it_within(&chunks_of(&b, &["ts"]), &small, 64, 0, i64::MAX), None);
        // headers that cannot be read: not unpacked
        let garbled = vec![0xffu8; one_page.len()];
        assert_eq!(worth_it_within(&big, &garbled, 64, 0, i64::MAX), None);
    }
}
