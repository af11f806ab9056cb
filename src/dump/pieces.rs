//! The price pass over Parquet on priceaudit's own threads: the row groups read in pieces of
//! about [`crate::runtime::DECODE_MAX_ROWS`] rows (a large row group cut, small ones joined)
//! straight from the file's mapped bytes, and each piece run through the very plan the streaming
//! pass would run (its scan swapped for the piece), on two workers, the batches handed to the fold
//! as they come.
//!
//! Why not polars' streaming engine here: it holds a dozen decoded pieces in flight between its
//! source, its pipelines and the sink (about 3 M rows of 1M-row row groups: 0.5 GB more than
//! `synth`'s layout, and the first touches of that memory a tenth of the run), and it maps the
//! file whole. Here two pieces are decoded and run at once and one waits for the fold, and the
//! file's pages each piece touched are handed back once it is decoded (PERF.md). A row group cut
//! into pieces has its column chunks decompressed once for all of them ([`super::unpacked`]):
//! a writer that stores a chunk as one page would otherwise have each piece decompress it whole.
//!
//! `explain`'s focused read of one offer's rows goes through here too (its held rows, no fold):
//! the pieces are whole row groups (small ones joined), whose `offer_id` column
//! [`super::offer_rows`] compares where it lies; only the rows found are decoded in the other
//! columns, and a piece without any is not run through the plan.
//!
//! Same rows, same outputs: the plan is the streaming pass's (validation, registered-SKU key,
//! projection), only its leaf differs, and the columns are decoded by polars' own Parquet
//! decoder into the types polars' scan gives them. Where that cannot be shown before the pass
//! (a type the scan would give differently, parts that do not share one scan, a plan of another
//! shape) the pass is polars' streaming one; `PRICEAUDIT_PRICE_SCAN=polars` asks for it (the
//! tests compare the two).

use super::unpacked::{self, Unpacked};
use super::*;
use polars_buffer::Buffer;
use polars_parquet::read::{infer_schema, ColumnChunkMetadata, FileMetadata, Filter};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Pieces decoded and run at once (this machine's two cores: one worker took 5–14% more time
/// for 40–75 MB less, a third held 20–60 MB more for about the same time: PERF.md).
const WORKERS: usize = 2;

/// Small row groups (those [`ALONE`] lets join) are joined into pieces of up to a quarter of the
/// piece size: a piece has a fixed cost (about 0.5 ms), and a quarter of the rows in flight held
/// 0.1 GB less than the full size when 20k-row row groups were joined. (A large row group is cut
/// at the full size: cutting it finer decompresses the pages a cut falls in once per piece, +17%
/// time on 1M-row row groups with pieces of 100k rows, before [`super::unpacked`]: PERF.md.)
const JOIN: usize = 4;

/// Only spans of fewer rows than a quarter of the joined size ([`JOIN`]) are joined: a piece of
/// several spans is several chunks, which the plan's columns concatenate; 2k-row row groups need
/// joining (each alone: 4886 pieces, 4.6 s against 2.9 s), 20k-row ones do not (each alone: the
/// same time and 55 MB less than three to a piece: PERF.md).
const ALONE: usize = 4;

/// Add `span` to the pieces: to the last piece when both are spans of fewer than `join / ALONE`
/// rows and the piece stays within `join` rows, else as a piece of its own. (`explain`'s pieces,
/// whole row groups, are joined up to `join` rows whatever their size: `alone` = `usize::MAX`.)
fn place(pieces: &mut Vec<Vec<Span>>, span: Span, join: usize, alone: usize) {
    match pieces.last_mut() {
        Some(p) if span.len < alone && p[0].len < alone && rows(p) + span.len <= join => p.push(span),
        _ => pieces.push(vec![span]),
    }
}

/// The price table's offer column.
const OFFER: &str = "offer_id";

/// A column whose Arrow type is a dictionary of text (pandas' `category`, polars' `Categorical`
/// and `Enum`, pyarrow's `dictionary_encode`) decoded as the plain text it stands for: polars'
/// scan decodes it into categories, which the plan then casts to text (`categories_as_text`), and
/// building the categories cost a fifth of the pass's CPU on such a file (PERF.md). The stored
/// pages are the same either way; other columns as they are.
fn as_text(f: &ArrowField) -> ArrowField {
    match f.dtype() {
        ArrowDataType::Dictionary(_, values, _)
            if matches!(values.as_ref(), ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 | ArrowDataType::Utf8View) =>
        {
            ArrowField::new(f.name.clone(), ArrowDataType::Utf8View, f.is_nullable)
        }
        _ => f.clone(),
    }
}

/// The price table's Parquet files as the piece reader reads them, and its pieces.
pub(crate) struct PieceScan {
    files: Vec<PieceFile>,
    /// Each piece: consecutive spans of rows (a large row group cut, small ones joined, [`JOIN`];
    /// whole row groups, small ones joined, when only an offer's rows are read).
    pieces: Vec<Vec<Span>>,
    /// Only the rows of this offer (`explain`'s focused read: [`Validated::offer`]), found by
    /// [`super::offer_rows`] before the other columns are decoded.
    offer: Option<String>,
    /// The row groups cut into pieces whose chunks are decompressed once for all their pieces.
    unpacked: Unpacked,
}

struct PieceFile {
    md: FileMetadata,
    /// The file's bytes, mapped.
    bytes: Buffer<u8>,
    map: Arc<memmap2::Mmap>,
    /// The columns read, in the scan's order, as the footer's Arrow schema types them.
    fields: Vec<ArrowField>,
    /// The rows' `rn` is the file's first column (a share's rows written apart), not their
    /// place in the file.
    stored_rn: bool,
}

/// Rows `start..start + len` of row group `rg` of file `file`; `rn`: its first row's index.
#[derive(Clone, Copy)]
struct Span {
    file: usize,
    rg: usize,
    start: usize,
    len: usize,
    rn: u64,
}

/// The mapped file as a buffer's owner.
struct Mapped(Arc<memmap2::Mmap>);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PieceScan {
    /// The piece reader for `v`'s rows under `main` (the streaming pass's plan), or `None` where
    /// the pass is polars' (see the module's documentation).
    pub(crate) fn of(v: &Validated, main: &LazyFrame) -> Result<Option<PieceScan>> {
        if std::env::var("PRICEAUDIT_PRICE_SCAN").is_ok_and(|s| s == "polars") {
            return Ok(None);
        }
        let files: Vec<(PathBuf, u64)> = match &v.source.format {
            Format::Parquet => vec![(v.source.path.clone(), 0)],
            Format::Parts(p) if !p.csv => p.parts.iter().map(|p| (p.path.clone(), p.offset)).collect(),
            _ => return Ok(None),
        };
        PieceScan::of_files(v, main, files, false)
    }

    /// The piece reader for a share's price rows written apart ([`split_prices`]: the raw
    /// columns and each row's `rn` in the whole table), `None` when they are not.
    pub(crate) fn of_spill(v: &Validated, main: &LazyFrame) -> Result<Option<PieceScan>> {
        match (&v.spill, &v.offer) {
            (Some(path), None) => match PieceScan::of_files(v, main, vec![(path.clone(), 0)], true)? {
                Some(scan) => Ok(Some(scan)),
                // (`split_prices` read each file back before handing it over)
                None => Err(Error::internal("a share's price rows written apart read back differently")),
            },
            _ => Ok(None),
        }
    }

    /// [`PieceScan::of`] over `files` (each with its first row's index in the table), whose rows
    /// carry their own `rn` column when `stored_rn`.
    fn of_files(
        v: &Validated,
        main: &LazyFrame,
        files: Vec<(PathBuf, u64)>,
        stored_rn: bool,
    ) -> Result<Option<PieceScan>> {
        // one scan at the plan's leaf (parts of different schemas are a union of scans)
        let Some(scan) = leaf(&main.logical_plan) else { return Ok(None) };
        let scanned = LazyFrame::from(scan.clone()).collect_schema()?;
        // the piece size polars' own Parquet source is given (`runtime::configure`; 0: whole row
        // groups), else the same default
        let default: usize = crate::runtime::DECODE_MAX_ROWS.parse().expect("a number");
        let max_rows = std::env::var("POLARS_PARQUET_DECODE_MAX_ROWS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(default);
        let max_rows = if max_rows == 0 { usize::MAX } else { max_rows };
        // (whole row groups are still joined only up to the default's share, never into one frame)
        let join = max_rows.min(default) / JOIN;
        let (mut out, mut pieces): (Vec<PieceFile>, Vec<Vec<Span>>) = (Vec::new(), Vec::new());
        let mut unpacked = Unpacked::default();
        for (path, rn0) in files {
            let name = path.display().to_string();
            let file = std::fs::File::open(&path).map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?;
            // SAFETY: the file is only read; a file changed while it is audited is not supported
            // (as for polars' own memory-mapped reads).
            let map = Arc::new(
                unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::new(format!("{name}: cannot read: {e}")))?,
            );
            let md = polars_parquet::read::read_metadata(&mut std::io::Cursor::new(&map[..]))
                .map_err(|e| Error::new(format!("{name}: cannot read as Parquet: {e}")))?;
            let arrow = infer_schema(&md).map_err(|e| Error::new(format!("{name}: cannot read as Parquet: {e}")))?;
            let mut fields = Vec::new();
            if v.offer.is_some() && !v.present.iter().any(|c| c == OFFER) {
                return Ok(None);
            }
            let stored = stored_rn.then_some(RN.to_string());
            for c in stored.iter().chain(&v.present) {
                let Some(f) = arrow.get(c.as_str()) else { return Ok(None) };
                // the type polars' scan gives the column, or the pass is the scan's
                if scanned.get(c.as_str()) != Some(&DataType::from_arrow_field(f)) {
                    return Ok(None);
                }
                fields.push(as_text(f));
            }
            let mut rn = rn0;
            for (rg, g) in md.row_groups.iter().enumerate() {
                // each read column's chunks (one per leaf)
                let mut chunks: Vec<Vec<&ColumnChunkMetadata>> = Vec::with_capacity(fields.len());
                for c in &fields {
                    let Some(leaves) = g.columns_under_root_iter(c.name.as_str()) else { return Ok(None) };
                    let leaves: Vec<&ColumnChunkMetadata> = leaves.collect();
                    for m in &leaves {
                        let r = m.byte_range();
                        if r.start > r.end || r.end > map.len() as u64 {
                            bail!("{name}: cannot read as Parquet: column `{}` lies outside the file", c.name);
                        }
                    }
                    chunks.push(leaves);
                }
                let n = g.num_rows();
                if v.offer.is_some() {
                    // whole row groups (the offer's rows are found in each), small ones joined
                    place(&mut pieces, Span { file: out.len(), rg, start: 0, len: n, rn }, join, usize::MAX);
                    rn += n as u64;
                    continue;
                }
                let step = max_rows.min(n).max(1);
                // a row group cut into pieces: its chunks decompressed once for them, where that pays
                if n > step {
                    let spans = n.div_ceil(step);
                    if let Some(which) = unpacked::worth_it(&chunks, &map, spans) {
                        unpacked.plan(out.len(), rg, spans, which);
                    }
                    // (the file's pages that reading page headers to judge it mapped, if any)
                    let r = g.full_byte_range();
                    release_pages(&map, r.start, r.end);
                }
                for start in (0..n).step_by(step) {
                    let len = step.min(n - start);
                    place(
                        &mut pieces,
                        Span { file: out.len(), rg, start, len, rn: rn + start as u64 },
                        join,
                        join / ALONE,
                    );
                }
                rn += n as u64;
            }
            // row indices past polars' index type: the scan's own error
            if rn > IdxSize::MAX as u64 {
                return Ok(None);
            }
            let bytes = Buffer::from_owner(Mapped(map.clone()));
            out.push(PieceFile { md, bytes, map, fields, stored_rn });
        }
        Ok(Some(PieceScan { files: out, pieces, offer: v.offer.clone(), unpacked }))
    }

    /// Read every piece and run `main` over it on two workers, handing each output batch to
    /// `visit` on this thread (in about row order; the batches' `rn` say where they are). An
    /// error of `visit` stops the pass. An offer's read ([`PieceScan::offer`]): the workers only
    /// decode its rows; `main` runs once over them all, in file order, one batch.
    pub(crate) fn run(self, main: &LazyFrame, file: &str, visit: &mut Visit) -> Result<()> {
        let offer = self.offer.as_deref();
        if crate::runtime::detailed_timings() {
            eprintln!("  {file}: {} row groups unpacked once for their pieces", self.unpacked.planned());
        }
        run_pieces(main, file, &self.pieces, &|p: &Vec<Span>| read_piece(&self, p, offer), offer.is_some(), visit)
    }
}

/// What a piece reader hands each output batch to, on the pass's thread.
pub(crate) type Visit<'a> = dyn FnMut(DataFrame) -> Result<()> + 'a;

/// Each of `pieces` read by `read` and run through `main` (its scan swapped for the piece's rows)
/// on two workers, each output batch handed to `visit` on this thread (in about piece order; the
/// batches' `rn` say where they are). An error of `visit` stops the pass. `gather` (an offer's
/// read, [`PieceScan::offer`]): the pieces' rows are only read on the workers, then `main` runs
/// once over them all, in file order, one batch. (The CSV piece reader's pieces run here too.)
pub(super) fn run_pieces<P: Sync>(
    main: &LazyFrame,
    file: &str,
    pieces: &[P],
    read: &(dyn Fn(&P) -> Result<DataFrame> + Sync),
    gather: bool,
    visit: &mut Visit,
) -> Result<()> {
    let opts = main.get_current_optimizations();
    // `main` over decoded rows (a decoder's or the plan's panic on a malformed file is the
    // file's error, as the streaming pass reports it)
    let run_plan = |df: DataFrame| -> Result<DataFrame> {
        let plan = with_leaf(&main.logical_plan, &Arc::new(df))
            .ok_or_else(|| Error::internal("the price pass's plan changed shape"))?;
        Ok(LazyFrame::from(plan).with_optimizations(opts).collect_with_engine(Engine::InMemory)?.unwrap_single())
    };
    let caught = |f: &mut dyn FnMut() -> Result<Option<DataFrame>>| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err(Error::new("the pass over the price rows panicked")))
            .map_err(|e| Error::new(format!("{file}: {}", e.message)))
    };
    // microseconds spent decoding pieces, running the plan, and in `visit` (`PRICEAUDIT_TIMINGS=2`)
    let spent = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let work = |p: &P| {
        let t0 = std::time::Instant::now();
        caught(&mut || {
            let df = read(p)?;
            let t1 = std::time::Instant::now();
            spent[0].fetch_add((t1 - t0).as_micros() as u64, Ordering::Relaxed);
            if gather {
                // an offer's rows: decoded here, run through the plan together
                return Ok((df.height() > 0).then_some(df));
            }
            let out = run_plan(df)?;
            spent[1].fetch_add(t1.elapsed().as_micros() as u64, Ordering::Relaxed);
            Ok(Some(out))
        })
    };
    let mut found = Vec::new();
    let mut take = |df: DataFrame| {
        let t = std::time::Instant::now();
        if gather {
            found.push(df);
        } else {
            visit(df)?;
        }
        spent[2].fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(())
    };
    let mut passed = on_workers(pieces, &work, &mut take);
    if passed.is_ok() && !found.is_empty() {
        let t = std::time::Instant::now();
        let out = caught(&mut || {
            let mut frames = std::mem::take(&mut found).into_iter();
            let mut rows = frames.next().expect("some rows");
            for more in frames {
                rows.vstack_mut_owned(more)?;
            }
            Ok(Some(run_plan(rows.sort([RN], Default::default())?)?))
        });
        spent[1].fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        passed = out.and_then(|df| visit(df.expect("the plan's rows")));
    }
    if crate::runtime::detailed_timings() {
        let [d, p, v] = spent.each_ref().map(|a| a.load(Ordering::Relaxed) as f64 / 1e6);
        eprintln!("  {file}: {} pieces, decoding {d:.3} s, the plan {p:.3} s, the fold's side {v:.3} s", pieces.len());
    }
    passed
}

/// Each of `pieces` handed to `work` on [`WORKERS`] threads, and what it gives (`Some`) to `take`
/// on this thread, in about piece order. The next piece is taken by a counter, no lock (a lock
/// held while a piece was read once made the workers take turns); one result waits (two held no
/// less memory and gained no time, PERF.md). The first error, of `work` (a panic there is an
/// error too) or of `take`, stops the pass and is returned.
fn on_workers<P: Sync, T: Send>(
    pieces: &[P],
    work: &(dyn Fn(&P) -> Result<Option<T>> + Sync),
    take: &mut dyn FnMut(T) -> Result<()>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<T>>(1);
        for _ in 0..WORKERS {
            let (tx, next) = (tx.clone(), &next);
            // (a worker stops when the pieces run out or its result finds the receiver gone)
            s.spawn(move || {
                while let Some(p) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(p)))
                        .unwrap_or_else(|_| Err(Error::new("reading the price rows: a worker panicked")));
                    let out = match out {
                        Ok(None) => continue,
                        Ok(Some(t)) => Ok(t),
                        Err(e) => Err(e),
                    };
                    let failed = out.is_err();
                    if tx.send(out).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // (an error drops the receiver: the workers stop at their next result)
        rx.iter().try_for_each(|out| out.and_then(&mut *take))
    })
}

/// Split the price table of `v` (validated whole, no share's filter) into `plan`'s shares, in one
/// pass: each piece decoded once, its rows (`rn` and the raw columns, as the scan gives them)
/// written to their share's file of `paths`, uncompressed. Each share's audit then reads its own
/// file through [`PieceScan::of_spill`] and runs its plan, share filter included, on those rows:
/// the same rows, values and `rn` it would have kept from the whole table, read without decoding
/// the others' (a dump of many registrations is audited in a dozen shares). `Ok(false)`: a table
/// the piece reader does not read (CSV, parts of different schemas): each share reads it whole.
pub(crate) fn split_prices(v: &Validated, plan: &SharePlan, paths: &[PathBuf]) -> Result<bool> {
    let Some(scan) = PieceScan::of(v, &v.lf)? else { return Ok(false) };
    let Some(first) = scan.files.first() else { return Ok(false) };
    let Some(key) = first.fields.iter().find(|f| f.name == OFFER) else { return Ok(false) };
    let key = text(OFFER, &DataType::from_arrow_field(key)).alias(OFFER);
    let mut schema = Schema::from_iter([Field::new(RN.into(), IDX_DTYPE)]);
    schema.extend(first.fields.iter().map(|f| Field::new(f.name.clone(), DataType::from_arrow_field(f))));
    let mut writers = share_writers(paths, &schema, 1 << 20)?;
    // a piece's rows, by share
    let split = |p: &[Span]| -> Result<Vec<(u32, DataFrame)>> {
        let df = read_piece(&scan, p, None)?;
        let keys = df.clone().lazy().select([key.clone()]).collect()?;
        let shares = plan.shares_of(Table::Prices, keys.column(OFFER)?.str()?);
        rows_by_share(&df, &shares, plan.count())
    };
    let work = |p: &Vec<Span>| split(p).map(Some);
    on_workers(&scan.pieces, &work, &mut |rows: Vec<(u32, DataFrame)>| {
        rows.iter().try_for_each(|(s, df)| Ok(writers[*s as usize].write_batch(df)?))
    })?;
    for w in writers {
        w.finish()?;
    }
    // read back as the table's scan gives its columns (else each share reads the table whole)
    for p in paths {
        if PieceScan::of_files(v, &v.lf, vec![(p.clone(), 0)], true)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A Parquet writer for each share's file of `paths` (uncompressed, without statistics and
/// without dictionaries: the share reads it once, whole), of rows of `schema`, each writing
/// through a buffer of `buffer` bytes.
pub(crate) fn share_writers(paths: &[PathBuf], schema: &Schema, buffer: usize) -> Result<Vec<ShareWriter>> {
    paths.iter().map(|p| ShareWriter::new(p, schema, buffer)).collect()
}

/// A share's file of split rows, written by polars' Parquet page writer with every column of one
/// leaf plainly encoded. (polars' own writer first estimates each column chunk's cardinality and
/// builds a dictionary where it pays: on a split into two dozen shares, each batch of a few thousand
/// rows, that was a third of the split's time, for a file read once: PERF.md.)
pub(crate) struct ShareWriter {
    file: polars_parquet::write::FileWriter<std::io::BufWriter<std::fs::File>>,
    fields: Vec<polars_parquet::write::ParquetType>,
    encodings: Buffer<Vec<polars_parquet::write::Encoding>>,
    options: polars_parquet::write::WriteOptions,
}

impl ShareWriter {
    fn new(path: &Path, schema: &Schema, buffer: usize) -> Result<ShareWriter> {
        use polars_arrow::datatypes::PhysicalType as ArrowPhysicalType;
        use polars_parquet::write::{
            CompressionOptions, Encoding, FileWriter, StatisticsOptions, Version, WriteOptions,
        };
        let file = std::fs::File::create(path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        let arrow = schema.to_arrow(CompatLevel::newest());
        let options = WriteOptions {
            statistics: StatisticsOptions::empty(),
            version: Version::V1,
            compression: CompressionOptions::Uncompressed,
            data_page_size: None,
        };
        // a column of one leaf (a number, a time, text) plainly; others (nested, dictionary
        // arrays) as polars encodes them
        let encodings = arrow
            .iter_values()
            .map(|f| match f.dtype.to_physical_type() {
                ArrowPhysicalType::Primitive(_)
                | ArrowPhysicalType::Boolean
                | ArrowPhysicalType::BinaryView
                | ArrowPhysicalType::Utf8View
                | ArrowPhysicalType::Binary
                | ArrowPhysicalType::Utf8
                | ArrowPhysicalType::LargeBinary
                | ArrowPhysicalType::LargeUtf8 => vec![Encoding::Plain],
                _ => polars_parquet::write::get_dtype_encoding(&f.dtype),
            })
            .collect();
        let file = FileWriter::try_new(std::io::BufWriter::with_capacity(buffer, file), arrow, options)?;
        let fields = file.parquet_schema().fields().to_vec();
        Ok(ShareWriter { file, fields, encodings, options })
    }

    /// `df`'s rows, a row group per chunk (its columns' chunks aligned).
    pub(crate) fn write_batch(&mut self, df: &DataFrame) -> Result<()> {
        for batch in df.iter_chunks(CompatLevel::newest(), false) {
            let rows = batch.len();
            if rows == 0 {
                continue;
            }
            let group =
                polars_parquet::write::row_group_iter(batch, self.encodings.clone(), self.fields.clone(), self.options);
            self.file.write(rows as u64, group)?;
        }
        Ok(())
    }

    /// The file's footer (the Arrow schema in its metadata, as polars' writer puts it).
    pub(crate) fn finish(mut self) -> Result<()> {
        self.file.end(None)?;
        Ok(())
    }
}

/// The rows of `df` by share (`shares`: each row's, of `count`), each share's in their order in
/// `df`: a counting sort, one gather (which also leaves every column in one chunk, as the Parquet
/// writer needs), then each share's run sliced off. Shares without rows are left out.
pub(crate) fn rows_by_share(df: &DataFrame, shares: &[u32], count: u32) -> Result<Vec<(u32, DataFrame)>> {
    let mut starts = vec![0usize; count as usize + 1];
    for &s in shares {
        starts[s as usize + 1] += 1;
    }
    for s in 0..count as usize {
        starts[s + 1] += starts[s];
    }
    let mut at = starts.clone();
    let mut order: Vec<IdxSize> = vec![0; shares.len()];
    for (row, &s) in shares.iter().enumerate() {
        order[at[s as usize]] = row as IdxSize;
        at[s as usize] += 1;
    }
    let sorted = df.take(&IdxCa::from_vec(RN.into(), order))?;
    let mut out = Vec::new();
    for s in 0..count {
        let (lo, hi) = (starts[s as usize], starts[s as usize + 1]);
        if hi > lo {
            out.push((s, sorted.slice(lo as i64, hi - lo)));
        }
    }
    Ok(out)
}

/// The rows of a piece.
fn rows(p: &[Span]) -> usize {
    p.iter().map(|s| s.len).sum()
}

/// Decode a piece: its spans one after the other, as one frame (`offer`: only that offer's rows).
fn read_piece(scan: &PieceScan, p: &[Span], offer: Option<&str>) -> Result<DataFrame> {
    let mut spans = p.iter().map(|s| read_span(scan, *s, offer));
    let mut df = spans.next().expect("a piece has a span")?;
    for more in spans {
        df.vstack_mut_owned(more?)?;
    }
    Ok(df)
}

/// Decode span `p` of `scan`: `rn` and the read columns, then hand the file's pages of its row
/// group back (they stay in the page cache; a later piece maps them again). `offer`: only the rows
/// of that offer (the span is a whole row group). A row group cut into pieces may be read from
/// its chunks decompressed once ([`unpacked`]).
fn read_span(scan: &PieceScan, p: Span, offer: Option<&str>) -> Result<DataFrame> {
    let f = &scan.files[p.file];
    let g = &f.md.row_groups[p.rg];
    let rn0 = IdxSize::try_from(p.rn).map_err(|_| Error::internal("row index past polars' index type"))?;
    let mut columns = Vec::with_capacity(f.fields.len() + 1);
    // the offer's column, when its rows were found by comparing its bytes (every row the offer)
    let mut offer_column = None;
    let (filter, height) = match offer {
        None => {
            if !f.stored_rn {
                columns.push(IdxCa::from_vec(RN.into(), (rn0..rn0 + p.len as IdxSize).collect()).into_column());
            }
            (Filter::new_ranged(p.start, p.start + p.len), p.len)
        }
        Some(o) => {
            let field = f.fields.iter().find(|c| c.name == OFFER).expect("checked when the pieces were planned");
            let (hits, compared) = super::offer_rows::offer_rows(g, &f.md.footer_buf, &f.bytes, field, o)?;
            if compared && DataType::from_arrow_field(field) == DataType::String {
                offer_column = Some(StringChunked::full(field.name.clone(), o, hits.len()).into_column());
            }
            columns.push(IdxCa::from_vec(RN.into(), hits.iter().map(|&i| rn0 + i as IdxSize).collect()).into_column());
            for m in g.columns_under_root_iter(OFFER).into_iter().flatten() {
                release_pages(&f.map, m.byte_range().start, m.byte_range().end);
            }
            if hits.is_empty() {
                // none here: the columns empty, as they would decode
                for field in &f.fields {
                    columns.push(Column::new_empty(field.name.clone(), &DataType::from_arrow_field(field)));
                }
                return Ok(DataFrame::new(0, columns)?);
            }
            (Filter::new_masked(super::offer_rows::mask(p.len, &hits)), hits.len())
        }
    };
    // the row group's chunks decompressed once for its pieces (its stored pages then read once)
    let unpacked = match offer {
        Some(_) => None,
        None => scan.unpacked.take(p.file, p.rg, |which| {
            let chunks = f.fields.iter().zip(which).map(|(field, &unpack)| {
                if !unpack {
                    return None;
                }
                let m = g.columns_under_root_iter(field.name.as_str())?.next()?;
                let r = m.byte_range();
                let stored = &f.bytes[r.start as usize..r.end as usize];
                let bytes = unpacked::unpack_chunk(stored, m.compression(), m.uncompressed_size());
                release_pages(&f.map, r.start, r.end);
                bytes.map(Buffer::from)
            });
            chunks.collect()
        }),
    };
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for (i, field) in f.fields.iter().enumerate() {
        if field.name == OFFER {
            if let Some(c) = offer_column.take() {
                columns.push(c);
                continue;
            }
        }
        let mut leaves = g.columns_under_root_iter(field.name.as_str()).expect("checked when the pieces were planned");
        if let Some(bytes) = unpacked.as_ref().and_then(|u| u.get()?[i].clone()) {
            // (an unpacked column has one leaf)
            let m = leaves.next().expect("one leaf");
            let types = vec![&m.descriptor().descriptor.primitive_type];
            let (arrays, _) = polars_parquet::read::column_iter_to_arrays(
                vec![unpacked::reader(m, bytes)],
                types,
                field.clone(),
                Some(filter.clone()),
            )?;
            columns.push(Series::try_from((field, arrays))?.into_column());
            continue;
        }
        let chunks: Vec<(&ColumnChunkMetadata, Buffer<u8>)> = leaves
            .map(|m| {
                let r = m.byte_range();
                (lo, hi) = (lo.min(r.start), hi.max(r.end));
                (m, f.bytes.clone().sliced(r.start as usize..r.end as usize))
            })
            .collect();
        let (arrays, _) =
            polars_io::parquet::read::_internal::to_deserializer(chunks, field.clone(), Some(filter.clone()))?;
        columns.push(Series::try_from((field, arrays))?.into_column());
    }
    release_pages(&f.map, lo, hi);
    Ok(DataFrame::new(height, columns)?)
}

/// How far around the bytes a piece read [`release_pages`] drops the mapped pages too: a fault on
/// a page of the file maps the whole large folio the page cache holds it in (up to 2 MB), so the
/// pages of a neighbouring row group or block, dropped when it was read, came back with the next
/// read beside them and stayed. Small row groups then kept most of the file mapped to the pass's
/// end: 100 M rows in 20k-row row groups 3.27 GB against 2.62 GB with the margin, `explain` of one
/// registration there 1.08 GB against 0.21 GB; 10 M, 35 MB of the file mapped against 0.7 MB
/// (PERF.md). A page dropped that a worker still reads is mapped again from the page cache.
const RELEASE_MARGIN: u64 = 2 << 20;

/// Drop the mapped pages of bytes `lo..hi` and [`RELEASE_MARGIN`] around them from this process
/// (they stay in the page cache): what a pass has read does not count in its memory.
pub(super) fn release_pages(map: &memmap2::Mmap, lo: u64, hi: u64) {
    let page = 4096u64;
    let start = lo.saturating_sub(RELEASE_MARGIN) / page * page;
    let end = hi.saturating_add(RELEASE_MARGIN).min(map.len() as u64);
    if start < end {
        // SAFETY: the mapping is a read-only file mapping: a dropped page is mapped again from
        // the file when next read, with the same bytes.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start as usize, (end - start) as usize)
        };
    }
}

/// The plan's one scan, under filters, selections, added columns and functions.
pub(super) fn leaf(plan: &DslPlan) -> Option<&DslPlan> {
    leaf_under(plan).map(|(scan, _)| scan)
}

/// Whether a filter stands between the plan's one scan ([`leaf`]) and its output (`None`: no
/// one scan).
pub(super) fn filters_its_scan(plan: &DslPlan) -> Option<bool> {
    leaf_under(plan).map(|(_, filtered)| filtered)
}

/// [`leaf`], and whether a filter stands above it.
fn leaf_under(plan: &DslPlan) -> Option<(&DslPlan, bool)> {
    match plan {
        DslPlan::Scan { .. } => Some((plan, false)),
        DslPlan::Filter { input, .. } => leaf_under(input).map(|(scan, _)| (scan, true)),
        DslPlan::Select { input, .. } | DslPlan::HStack { input, .. } | DslPlan::MapFunction { input, .. } => {
            leaf_under(input)
        }
        // a subplan polars has converted already (its original kept beside the conversion)
        DslPlan::IR { dsl, .. } => leaf_under(dsl),
        _ => None,
    }
}

/// [`leaf`], or the union of scans a table of parts is read by (each part's scan, its columns
/// selected): the node the CSV piece reader's rows stand for.
pub(super) fn leaf_or_union(plan: &DslPlan) -> Option<&DslPlan> {
    match plan {
        DslPlan::Scan { .. } | DslPlan::Union { .. } => Some(plan),
        DslPlan::Filter { input, .. }
        | DslPlan::Select { input, .. }
        | DslPlan::HStack { input, .. }
        | DslPlan::MapFunction { input, .. } => leaf_or_union(input),
        DslPlan::IR { dsl, .. } => leaf_or_union(dsl),
        _ => None,
    }
}

/// `plan` with its scan ([`leaf`]), or its union of scans ([`leaf_or_union`]), replaced by the
/// rows of `df`.
pub(super) fn with_leaf(plan: &DslPlan, df: &Arc<DataFrame>) -> Option<DslPlan> {
    let on = |input: &Arc<DslPlan>| with_leaf(input, df).map(Arc::new);
    Some(match plan {
        DslPlan::Scan { .. } | DslPlan::Union { .. } => {
            DslPlan::DataFrameScan { df: df.clone(), schema: df.schema().clone() }
        }
        DslPlan::Filter { input, predicate } => DslPlan::Filter { input: on(input)?, predicate: predicate.clone() },
        DslPlan::Select { expr, input, options } => {
            DslPlan::Select { expr: expr.clone(), input: on(input)?, options: *options }
        }
        DslPlan::HStack { input, exprs, options } => {
            DslPlan::HStack { input: on(input)?, exprs: exprs.clone(), options: *options }
        }
        DslPlan::MapFunction { input, function } => {
            DslPlan::MapFunction { input: on(input)?, function: function.clone() }
        }
        // (the conversion is of the old leaf: dropped)
        DslPlan::IR { dsl, .. } => with_leaf(dsl, df)?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dictionary of text (of any of Arrow's three string types) is read as text, named and
    /// nullable as it was; a dictionary of numbers and every other column are read as they are.
    #[test]
    fn text_dictionaries_are_read_as_text_and_other_columns_as_they_are() {
        use polars_arrow::datatypes::IntegerType;
        let dict = |v: ArrowDataType, nullable: bool| {
            let t = ArrowDataType::Dictionary(IntegerType::Int32, Box::new(v), false);
            ArrowField::new("channel".into(), t, nullable)
        };
        for v in [ArrowDataType::Utf8, ArrowDataType::LargeUtf8, ArrowDataType::Utf8View] {
            for nullable in [true, false] {
                let f = as_text(&dict(v.clone(), nullable));
                assert_eq!(f.dtype(), &ArrowDataType::Utf8View);
                assert_eq!((f.name.as_str(), f.is_nullable), ("channel", nullable));
                assert_eq!(DataType::from_arrow_field(&f), DataType::String);
            }
        }
        let others = [
            dict(ArrowDataType::Int64, true),
            ArrowField::new("ts".into(), ArrowDataType::Int64, false),
            ArrowField::new("kind".into(), ArrowDataType::Utf8View, true),
            ArrowField::new("kind".into(), ArrowDataType::LargeUtf8, true),
        ];
        for f in others {
            assert_eq!(as_text(&f), f);
        }
    }

    /// The pages of the bytes read and of [`RELEASE_MARGIN`] around them are no longer mapped (the
    /// page table's present bit, `/proc/self/pagemap`); pages far from them stay.
    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_and_their_neighbours_are_unmapped() {
        use std::io::{Read, Seek, SeekFrom, Write};
        const MB: u64 = 1 << 20;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; (12 * MB) as usize]).unwrap();
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let Ok(mut pagemap) = std::fs::File::open("/proc/self/pagemap") else {
            // (a sandbox without the page table's view: nothing to look at)
            eprintln!("released_pages_and_their_neighbours_are_unmapped: no /proc/self/pagemap here, not checked");
            return;
        };
        let mut mapped = |offset: u64| {
            let page = (map.as_ptr() as u64 + offset) / 4096;
            pagemap.seek(SeekFrom::Start(page * 8)).unwrap();
            let mut entry = [0u8; 8];
            pagemap.read_exact(&mut entry).unwrap();
            u64::from_le_bytes(entry) >> 63 == 1
        };
        // every page read, so mapped
        let sum: u64 = (0..12 * MB).step_by(4096).map(|i| map[i as usize] as u64).sum();
        assert_eq!(sum, 7 * 3 * 1024);
        assert!(mapped(0) && mapped(5 * MB) && mapped(11 * MB));
        let (lo, hi) = (5 * MB + 123, 6 * MB - 77);
        release_pages(&map, lo, hi);
        // the bytes read and 1.5 MB either side unmapped (a kernel that maps the file by 2 MB
        // drops the whole 2 MB a range cuts, but not the 2 MB beyond: with no margin, 1.5 MB out
        // stays mapped)
        for at in [lo, hi - 1, (lo + hi) / 2, lo - 3 * MB / 2, hi + 3 * MB / 2] {
            assert!(!mapped(at), "{at}");
        }
        // far beyond the margin, mapped still
        for at in [0, 12 * MB - 1] {
            assert!(mapped(at), "{at}");
        }
    }

    #[test]
    fn small_spans_are_joined_and_the_others_stand_alone() {
        let plan = |lens: &[usize], join: usize, alone: usize| -> Vec<Vec<usize>> {
            let mut pieces = Vec::new();
            for (rg, &len) in lens.iter().enumerate() {
                place(&mut pieces, Span { file: 0, rg, start: 0, len, rn: 0 }, join, alone);
            }
            pieces.iter().map(|p| p.iter().map(|s| s.len).collect()).collect()
        };
        let (join, alone) = (65_536, 65_536 / ALONE);
        // 2k-row row groups: 32 to a piece, then the rest
        let two_k = plan(&[2048; 40], join, alone);
        assert_eq!(two_k.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 8]);
        // 20k-row row groups: each alone
        assert_eq!(plan(&[20_000; 3], join, alone), vec![vec![20_000]; 3]);
        // at the bound: alone; one row under: joined
        assert_eq!(plan(&[alone, alone], join, alone), vec![vec![alone], vec![alone]]);
        assert_eq!(plan(&[alone - 1, alone - 1], join, alone), vec![vec![alone - 1, alone - 1]]);
        // a small span after a large one, and a large one after small ones: pieces of their own
        assert_eq!(
            plan(&[30_000, 100, 200, 30_000, 5], join, alone),
            vec![vec![30_000], vec![100, 200], vec![30_000], vec![5]]
        );
        // never past the joined size
        assert_eq!(plan(&[16_000, 16_000, 16_000, 16_000, 16_000], join, alone), vec![vec![16_000; 4], vec![16_000]]);
        // `explain`'s whole row groups: joined up to the size whatever theirs
        assert_eq!(plan(&[20_000; 4], join, usize::MAX), vec![vec![20_000; 3], vec![20_000]]);
    }

    /// A share's file reads back as the rows written, in the types written (text, numbers, a
    /// decimal, times with and without a zone, booleans, nulls, a list), batch after batch; and
    /// its one-leaf columns hold no dictionary page, even a text column of two values, which
    /// polars' own writer would give one.
    #[test]
    fn share_files_read_back_as_written_and_plainly() {
        let batch = |from: i64| -> DataFrame {
            let n = 3000usize;
            let ids: Vec<String> = (0..n).map(|i| format!("offer-{}", from + i as i64)).collect();
            let kinds: Vec<Option<&str>> = (0..n).map(|i| [Some("txn"), Some("list"), None][i % 3]).collect();
            let ts: Vec<i64> = (0..n as i64).map(|i| 1_700_000_000_000_000 + from + i).collect();
            let cents: Vec<i128> = (0..n as i128).map(|i| i * 10_000_000_000 + 1).collect();
            let flags: Vec<Option<bool>> = (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect();
            let lists: Vec<Series> = (0..n as i64).map(|i| Series::new("".into(), [i, i + 1])).collect();
            DataFrame::new_infer_height(vec![
                Column::new("offer_id".into(), ids),
                Column::new("kind".into(), kinds),
                Column::new("ts".into(), ts.clone())
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))
                    .unwrap(),
                Column::new("local".into(), ts).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap(),
                Int128Chunked::from_vec("price".into(), cents)
                    .into_decimal_unchecked(38, 10)
                    .into_series()
                    .into_column(),
                Column::new("flag".into(), flags),
                Column::new("tags".into(), lists),
            ])
            .unwrap()
        };
        let (a, b) = (batch(0), batch(5000));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share-0.parquet");
        let mut w = ShareWriter::new(&path, a.schema(), 1 << 12).unwrap();
        w.write_batch(&a).unwrap();
        w.write_batch(&b).unwrap();
        w.finish().unwrap();
        let back = LazyFrame::scan_parquet(polars_path(&path), ScanArgsParquet::default()).unwrap().collect().unwrap();
        let mut both = a.clone();
        both.vstack_mut(&b).unwrap();
        assert_eq!(back.schema(), both.schema());
        assert!(back.equals_missing(&both), "{back}\n{both}");
        let md = polars_parquet::read::read_metadata(&mut std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(md.row_groups.len(), 2);
        // (polars' writer gives the text of two values a dictionary)
        let theirs = dir.path().join("polars.parquet");
        ParquetWriter::new(std::fs::File::create(&theirs).unwrap())
            .with_compression(ParquetCompression::Uncompressed)
            .finish(&mut a.clone())
            .unwrap();
        let md2 = polars_parquet::read::read_metadata(&mut std::fs::File::open(&theirs).unwrap()).unwrap();
        assert!(md2.row_groups[0]
            .columns_under_root_iter("kind")
            .unwrap()
            .next()
            .unwrap()
            .dictionary_page_offset()
            .is_some());
        for rg in &md.row_groups {
            for (name, _) in a.schema().iter().filter(|(n, _)| n.as_str() != "tags") {
                let chunk = &rg.columns_under_root_iter(name).unwrap().next().unwrap();
                assert_eq!(chunk.dictionary_page_offset(), None, "{name}: a dictionary page");
            }
        }
    }
}
