//! Which rows of a Parquet row group hold one offer: `explain`'s focused read (issue 21), where
//! the price table is narrowed to the offer of the registration explained.
//!
//! The `offer_id` column chunk is compared where it lies, page by page, never decoded into
//! strings: a row group whose statistics exclude the offer is not read at all; a dictionary page
//! is compared once and its data pages' indices scanned for the offer's entry (a page whose
//! dictionary lacks the offer is skipped); a plain page's values are compared in place, and so
//! are the delta encodings' (`DELTA_LENGTH_BYTE_ARRAY`; `DELTA_BYTE_ARRAY`, Spark's version-2
//! writer's past a full dictionary: each value's prefix shared with the value before is
//! compared through what that value shared with the offer). Only the rows found are then
//! decoded, in every column ([`super::pieces`]). A type this module does not compare in place
//! (a number stored as `offer_id`, a nested column) is decoded by polars and compared as the
//! scan's filter compares it: the offer's rows are the same either way.

use super::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_buffer::Buffer;
use polars_parquet::parquet::compression::DecompressionContext;
use polars_parquet::parquet::encoding::delta_bitpacked;
use polars_parquet::parquet::encoding::hybrid_rle::{HybridRleChunk, HybridRleDecoder};
use polars_parquet::parquet::encoding::Encoding;
use polars_parquet::parquet::error::ParquetError;
use polars_parquet::parquet::metadata::RowGroupMetadata;
use polars_parquet::parquet::page::{split_buffer, Page};
use polars_parquet::parquet::read::{decompress, PageReader};
use polars_parquet::parquet::schema::types::PhysicalType;
use polars_parquet::parquet::statistics::Statistics;
use polars_parquet::read::ColumnChunkMetadata;
use std::io::Cursor;

/// The rows (0-based, ascending) of row group `g` whose `offer_id` is `offer`, and whether they
/// were found by comparing the column's bytes with the offer's (else: decoded and cast to text,
/// as the scan's filter compares). `footer`: the file's footer (the statistics are read from
/// it); `bytes`: the file; `field`: `offer_id` as the piece reader decodes it.
pub(crate) fn offer_rows(
    g: &RowGroupMetadata,
    footer: &[u8],
    bytes: &Buffer<u8>,
    field: &ArrowField,
    offer: &str,
) -> Result<(Vec<usize>, bool)> {
    let chunks: Vec<&ColumnChunkMetadata> = g
        .columns_under_root_iter(field.name.as_str())
        .ok_or_else(|| Error::internal("offer_id's column chunk is missing"))?
        .collect();
    let slice = |m: &ColumnChunkMetadata| {
        let r = m.byte_range();
        bytes.clone().sliced(r.start as usize..r.end as usize)
    };
    if let [c] = chunks[..] {
        if excluded_by_statistics(c, footer, offer.as_bytes()) {
            return Ok((Vec::new(), true));
        }
        if let Some(rows) = compare_in_place(c, slice(c), offer.as_bytes(), g.num_rows())? {
            return Ok((rows, true));
        }
    }
    // decoded, then compared as the scan's filter compares (`offer_id` cast to text)
    let chunks = chunks.into_iter().map(|c| (c, slice(c))).collect();
    let (arrays, _) = polars_io::parquet::read::_internal::to_deserializer(chunks, field.clone(), None)?;
    let s = Series::try_from((field, arrays))?.cast(&DataType::String)?;
    let same = s.str()?.equal(offer);
    Ok((same.iter().enumerate().filter(|(_, b)| *b == Some(true)).map(|(i, _)| i).collect(), false))
}

/// The mask of `rows` rows with `hits` set.
pub(crate) fn mask(rows: usize, hits: &[usize]) -> Bitmap {
    let mut m = MutableBitmap::from_len_zeroed(rows);
    for &i in hits {
        m.set(i, true);
    }
    m.into()
}

/// A Parquet reader's error as priceaudit's.
trait Pq<T> {
    fn pq(self) -> Result<T>;
}

impl<T> Pq<T> for std::result::Result<T, ParquetError> {
    fn pq(self) -> Result<T> {
        self.map_err(|e| Error::from(PolarsError::from(e)))
    }
}

/// A column chunk that does not hold what its metadata says.
fn malformed(what: &str) -> Error {
    Error::new(format!("cannot read as Parquet: offer_id: {what}"))
}

/// Whether the chunk's statistics show that no row holds `offer`: its minimum and maximum, when
/// both are given and all three are ASCII (where the signed byte order of older writers and
/// the unsigned order of the format agree; a truncated bound still bounds).
fn excluded_by_statistics(c: &ColumnChunkMetadata, footer: &[u8], offer: &[u8]) -> bool {
    let Some(Ok(Statistics::Binary(s))) = c.statistics(footer) else { return false };
    match (&s.min_value, &s.max_value) {
        (Some(min), Some(max)) if [min.as_slice(), max, offer].iter().all(|b| b.is_ascii()) => {
            offer < min.as_slice() || offer > max.as_slice()
        }
        _ => false,
    }
}

/// The rows of a flat, byte-array column chunk (`chunk`: its bytes) equal to `offer`, compared
/// page by page without decoding (`None`: a page this does not read: the caller decodes).
fn compare_in_place(
    c: &ColumnChunkMetadata,
    chunk: Buffer<u8>,
    offer: &[u8],
    rows: usize,
) -> Result<Option<Vec<usize>>> {
    let d = &c.descriptor().descriptor;
    if d.primitive_type.physical_type != PhysicalType::ByteArray || d.max_rep_level != 0 || d.max_def_level > 1 {
        return Ok(None);
    }
    let nullable = d.max_def_level == 1;
    let mut pages = PageReader::new(Cursor::new(chunk), c, vec![], usize::MAX);
    let mut ctx = DecompressionContext::Unset;
    // (one buffer for every page: a buffer already as long as the page is not zeroed again)
    let mut buf = Vec::new();
    // the dictionary's entries equal to the offer
    let dict: Option<Vec<bool>> = match pages.read_dict().pq()? {
        Some(p) => {
            let page = decompress(polars_parquet::parquet::page::CompressedPage::Dict(p), &mut buf, &mut ctx).pq()?;
            let Page::Dict(page) = page else { return Ok(None) };
            let mut entries = Vec::with_capacity(page.num_values);
            let mut values = PlainValues::new(&page.buffer);
            for _ in 0..page.num_values {
                entries.push(same(values.next()?, offer));
            }
            if let polars_parquet::parquet::CowBuffer::Owned(b) = page.buffer {
                buf = b;
            }
            Some(entries)
        }
        None => None,
    };
    // (a page of a dictionary without the offer holds none of its rows)
    let dict_has_offer = dict.as_ref().is_some_and(|d| d.contains(&true));
    let (mut hits, mut row0) = (Vec::new(), 0usize);
    // rows of a page with a value, in order (a nullable column's)
    let mut defined: Vec<u32> = Vec::new();
    for page in pages {
        let page = page.pq()?;
        let compressed = page_is_compressed(&page);
        let Page::Data(mut page) = decompress(page, &mut buf, &mut ctx).pq()? else { return Ok(None) };
        let n = page.num_values();
        let split = split_buffer(&page).pq()?;
        // value `j` of the page is row `at(j)` of the page
        let values_n = if nullable {
            if page.definition_level_encoding() != Encoding::Rle {
                return Ok(None);
            }
            defined.clear();
            let mut row = 0u32;
            for chunk in HybridRleDecoder::new(split.def, 1, n).into_chunk_iter() {
                match chunk.pq()? {
                    HybridRleChunk::Rle(v, len) => {
                        if v == 1 {
                            defined.extend(row..row + len as u32);
                        }
                        row += len as u32;
                    }
                    HybridRleChunk::Bitpacked(dec) => {
                        let mut levels = Vec::with_capacity(dec.len());
                        dec.collect_into(&mut levels);
                        for l in levels {
                            if l == 1 {
                                defined.push(row);
                            }
                            row += 1;
                        }
                    }
                }
            }
            if row as usize != n {
                return Err(malformed("definition levels do not cover the page"));
            }
            defined.len()
        } else {
            n
        };
        let at = |j: usize| row0 + if nullable { defined[j] as usize } else { j };
        match page.encoding() {
            Encoding::Plain => {
                let mut values = PlainValues::new(split.values);
                for j in 0..values_n {
                    if same(values.next()?, offer) {
                        hits.push(at(j));
                    }
                }
            }
            Encoding::PlainDictionary | Encoding::RleDictionary => {
                let Some(dict) = &dict else {
                    return Err(malformed("a dictionary-encoded page without a dictionary"));
                };
                if dict_has_offer && values_n > 0 {
                    let (&bits, indices) = split.values.split_first().ok_or_else(|| malformed("empty page"))?;
                    let mut j = 0usize;
                    let mut chunk_values = Vec::new();
                    for chunk in HybridRleDecoder::new(indices, bits as u32, values_n).into_chunk_iter() {
                        match chunk.pq()? {
                            HybridRleChunk::Rle(v, len) => {
                                if *dict.get(v as usize).ok_or_else(|| malformed("index past the dictionary"))? {
                                    hits.extend((j..j + len).map(at));
                                }
                                j += len;
                            }
                            HybridRleChunk::Bitpacked(dec) => {
                                chunk_values.clear();
                                dec.collect_into(&mut chunk_values);
                                for &v in &chunk_values {
                                    if *dict.get(v as usize).ok_or_else(|| malformed("index past the dictionary"))? {
                                        hits.push(at(j));
                                    }
                                    j += 1;
                                }
                            }
                        }
                    }
                    if j != values_n {
                        return Err(malformed("dictionary indices do not cover the page"));
                    }
                }
            }
            Encoding::DeltaLengthByteArray => {
                let (lengths, data) = delta_values(split.values, values_n)?;
                let mut off = 0usize;
                for (j, &len) in lengths.iter().enumerate() {
                    if same(next_bytes(data, &mut off, len)?, offer) {
                        hits.push(at(j));
                    }
                }
            }
            Encoding::DeltaByteArray => {
                let (prefixes, rest) = delta_values(split.values, values_n)?;
                let (suffixes, data) = delta_values(rest, values_n)?;
                // the value before: its length, and how many of its first bytes are the offer's
                let (mut last, mut shared) = (0usize, 0usize);
                let mut off = 0usize;
                for (j, (&prefix, &suffix)) in prefixes.iter().zip(&suffixes).enumerate() {
                    let prefix = usize::try_from(prefix)
                        .ok()
                        .filter(|&p| p <= last)
                        .ok_or_else(|| malformed("a delta prefix longer than the value before"))?;
                    let suffix = next_bytes(data, &mut off, suffix)?;
                    // (a prefix past what the value before shared with the offer keeps its
                    // first difference; within it, the suffix goes on comparing)
                    if prefix <= shared {
                        shared = prefix + common_prefix(suffix, &offer[prefix..]);
                    }
                    last = prefix + suffix.len();
                    if last == offer.len() && shared == offer.len() {
                        hits.push(at(j));
                    }
                }
            }
            _ => return Ok(None),
        }
        row0 += n;
        if compressed {
            buf = std::mem::take(page.buffer_mut());
        }
    }
    if row0 != rows {
        return Err(malformed("the column chunk's pages do not hold the row group's rows"));
    }
    Ok(Some(hits))
}

/// The `n` numbers of a `DELTA_BINARY_PACKED` run at the start of `bytes` (a delta-encoded
/// page's lengths), and the bytes after the run.
fn delta_values(bytes: &[u8], n: usize) -> Result<(Vec<i64>, &[u8])> {
    let (mut run, rest) = delta_bitpacked::Decoder::try_new(bytes).pq()?;
    if run.len() != n {
        return Err(malformed("a delta-encoded page holds another count of values than its levels"));
    }
    let mut out = Vec::with_capacity(n);
    run.collect_n(&mut out, n).pq()?;
    Ok((out, rest))
}

/// The next `len` bytes of `data` from `*off` (moved past them).
fn next_bytes<'a>(data: &'a [u8], off: &mut usize, len: i64) -> Result<&'a [u8]> {
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| off.checked_add(l))
        .filter(|&e| e <= data.len())
        .ok_or_else(|| malformed("a delta-encoded value past its page"))?;
    let v = &data[*off..end];
    *off = end;
    Ok(v)
}

/// How many first bytes `a` and `b` share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn page_is_compressed(p: &polars_parquet::parquet::page::CompressedPage) -> bool {
    use polars_parquet::parquet::compression::Compression;
    match p {
        polars_parquet::parquet::page::CompressedPage::Data(d) => d.compression() != Compression::Uncompressed,
        polars_parquet::parquet::page::CompressedPage::Dict(d) => d.compression() != Compression::Uncompressed,
    }
}

/// `v == offer`, its last eight bytes first (ids of one length mostly differ there: the plain
/// walk compares every row's value, and a call to `memcmp` per row was a tenth of the read).
#[inline]
fn same(v: &[u8], offer: &[u8]) -> bool {
    if v.len() != offer.len() {
        return false;
    }
    if let (Some(a), Some(b)) = (v.last_chunk::<8>(), offer.last_chunk::<8>()) {
        if a != b {
            return false;
        }
    }
    v == offer
}

/// Plain-encoded byte arrays: each a 4-byte little-endian length, then its bytes.
struct PlainValues<'a> {
    rest: &'a [u8],
}

impl<'a> PlainValues<'a> {
    fn new(b: &'a [u8]) -> Self {
        PlainValues { rest: b }
    }

    fn next(&mut self) -> Result<&'a [u8]> {
        let short = || malformed("a plain value past the page's end");
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or_else(short)?;
        let len = u32::from_le_bytes(*len) as usize;
        let (v, rest) = rest.split_at_checked(len).ok_or_else(short)?;
        self.rest = rest;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars_parquet::read::{infer_schema, read_metadata, FileMetadata};
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/offer-pages").join(name)
    }

    struct File {
        md: FileMetadata,
        bytes: Buffer<u8>,
        field: ArrowField,
    }

    fn open(path: &Path) -> File {
        let bytes = Buffer::from(std::fs::read(path).unwrap());
        let md = read_metadata(&mut Cursor::new(&bytes[..])).unwrap();
        let field = infer_schema(&md).unwrap().get("offer_id").unwrap().clone();
        File { md, bytes, field }
    }

    /// The file's rows holding `offer` by [`offer_rows`], and whether every row group was
    /// compared in place.
    fn found(f: &File, offer: &str) -> (Vec<usize>, bool) {
        let (mut rows, mut in_place, mut row0) = (Vec::new(), true, 0);
        for g in &f.md.row_groups {
            let (hits, compared) = offer_rows(g, &f.md.footer_buf, &f.bytes, &f.field, offer).unwrap();
            assert!(hits.windows(2).all(|w| w[0] < w[1]) && hits.iter().all(|&h| h < g.num_rows()));
            rows.extend(hits.iter().map(|h| row0 + h));
            in_place &= compared;
            row0 += g.num_rows();
        }
        (rows, in_place)
    }

    /// The rows polars' own reader finds (the scan's filter: `offer_id` cast to text, equal).
    fn expected(path: &Path, offer: &str) -> Vec<usize> {
        let df = LazyFrame::scan_parquet(path.to_str().unwrap().into(), Default::default())
            .unwrap()
            .with_row_index("i", None)
            .filter(col("offer_id").cast(DataType::String).eq(lit(offer)))
            .select([col("i")])
            .collect()
            .unwrap();
        df.column("i").unwrap().idx().unwrap().into_no_null_iter().map(|i| i as usize).collect()
    }

    fn values(path: &Path) -> Vec<String> {
        let df = LazyFrame::scan_parquet(path.to_str().unwrap().into(), Default::default())
            .unwrap()
            .select([col("offer_id").cast(DataType::String)])
            .unique_stable(None, UniqueKeepStrategy::First)
            .collect()
            .unwrap();
        df.column("offer_id").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect()
    }

    /// Values that differ from the files' only at their start, only at their end, by a byte
    /// more or less, or not at all in ASCII.
    const ABSENT: [&str; 8] =
        ["O2", "O", "O1 ", "O1O1O1O1O1O", "O1O1O1O1O1O3", "ABCDEFGH12345679", "YBCDEFGH12345678", "\u{8d27}"];

    #[test]
    fn every_value_of_every_encoding_is_found_in_its_rows() {
        for name in [
            "mixed-dict-v1",
            "mixed-dict-v2",
            "mixed-plain-v1",
            "mixed-plain-v2",
            "mixed-delta-v1",
            "mixed-deltalen-v2",
        ] {
            let path = fixture(&format!("{name}.parquet"));
            let f = open(&path);
            let present = values(&path);
            assert_eq!(present.len(), 9, "{name}: {present:?}");
            assert!(present.iter().any(|v| v.is_empty()) && present.iter().any(|v| !v.is_ascii()));
            for offer in present.iter().map(String::as_str).chain(ABSENT) {
                let (rows, in_place) = found(&f, offer);
                assert!(in_place, "{name}: compared in place");
                assert_eq!(rows, expected(&path, offer), "{name}: {offer:?}");
                assert_eq!(rows.is_empty(), ABSENT.contains(&offer), "{name}: {offer:?}");
            }
        }
    }

    #[test]
    fn every_offer_of_the_conformance_prices_is_found_as_polars_finds_it() {
        for (name, in_place) in [
            ("basic-dict-v1", true),
            ("basic-dict-v2-nulls", true),
            ("basic-plain-v2", true),
            ("basic-sorted", true),
            ("basic-delta", true),
            ("basic-int64-ids", false),
        ] {
            let path = fixture(name).join("prices.parquet");
            let f = open(&path);
            let offers = values(&path);
            assert!(offers.len() > 50, "{name}: {}", offers.len());
            let mut total = 0;
            for offer in offers.iter().map(String::as_str).chain(ABSENT) {
                let (rows, compared) = found(&f, offer);
                // (an absent offer past every row group's bounds is read nowhere)
                if !ABSENT.contains(&offer) {
                    assert_eq!(compared, in_place, "{name}");
                }
                assert_eq!(rows, expected(&path, offer), "{name}: {offer}");
                total += rows.len();
            }
            // every row with an offer is some offer's (the nulls: none's)
            let nulls = if name == "basic-dict-v2-nulls" { 3 } else { 0 };
            assert_eq!(total + nulls, f.md.num_rows, "{name}");
        }
    }

    /// A row group's statistics exclude an offer below its minimum or above its maximum, never
    /// its minimum or maximum themselves; non-ASCII bounds exclude nothing.
    #[test]
    fn statistics_exclude_only_offers_outside_the_bounds() {
        let f = open(&fixture("basic-sorted").join("prices.parquet"));
        assert!(f.md.row_groups.len() > 40);
        for g in &f.md.row_groups {
            let c = g.columns_under_root_iter("offer_id").unwrap().next().unwrap();
            let Some(Ok(Statistics::Binary(s))) = c.statistics(&f.md.footer_buf) else { panic!("statistics") };
            let (min, max) = (s.min_value.unwrap(), s.max_value.unwrap());
            assert!(!excluded_by_statistics(c, &f.md.footer_buf, &min));
            assert!(!excluded_by_statistics(c, &f.md.footer_buf, &max));
            // just below the minimum (its prefix), just above the maximum (one more byte)
            assert!(excluded_by_statistics(c, &f.md.footer_buf, &min[..min.len() - 1]));
            assert!(excluded_by_statistics(c, &f.md.footer_buf, &[max.as_slice(), b"\0"].concat()));
            assert!(!excluded_by_statistics(c, &f.md.footer_buf, "\u{8d27}".as_bytes()));
        }
        // so a sorted table's offer is looked for in one or two row groups of 43
        let offer = &values(&fixture("basic-sorted").join("prices.parquet"))[20];
        let kept =
            f.md.row_groups
                .iter()
                .filter(|g| {
                    let c = g.columns_under_root_iter("offer_id").unwrap().next().unwrap();
                    !excluded_by_statistics(c, &f.md.footer_buf, offer.as_bytes())
                })
                .count();
        assert!((1..=2).contains(&kept), "{kept}");
    }
}
