//! Loading a dump directory (SPEC §2): find `NAME.csv` / `NAME.parquet` / `NAME/`, or take
//! tables handed over in memory ([`Input::Frames`]: the Python module, a Spark task), parse money
//! and time exactly, and split good rows from rejects. This is the only place that turns text into money
//! and instants; it knows nothing of rules.

mod csv_pieces;
pub mod csv_scan;
pub mod money;
mod offer_rows;
mod pieces;
mod reconcile;
mod rejects;
pub mod schema;
mod share;
mod source;
mod stream;
mod udfs;
mod unpacked;
mod validate;

use reconcile::*;
pub use reconcile::{reconcile, Loaded};
use rejects::*;
pub use rejects::{sort_rejects, Reject};
pub use share::{Share, SharePlan};
use source::*;
pub use source::{find_table, is_csv_table, Format, Frame, FrameRows, Input, Source, TableIn};
pub use stream::BatchVisitor;
use stream::*;
use udfs::*;
use validate::*;
pub use validate::{validate, Validated};

use crate::bail;
use crate::error::{Error, Result};
use crate::findings::Table;
use chrono_tz::Tz;
use csv_scan::CsvScan;
use polars::prelude::*;
use schema::Kind;
use std::path::{Path, PathBuf};

/// How far the price passes are: rows checked so far, of the rows the source holds (a terminal's
/// progress bar reads it from another thread while the passes run). An audit in shares passes
/// over each share's rows, two shares at a time: the rows checked are every pass's so far.
#[derive(Debug, Default)]
pub struct RowProgress {
    watched: std::sync::Mutex<(Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>, Option<u64>)>,
}

impl RowProgress {
    fn watch(&self, seen: std::sync::Arc<std::sync::atomic::AtomicU64>, total: Option<u64>) {
        let mut w = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        w.0.push(seen);
        w.1 = total;
    }

    /// (rows checked by every pass so far, rows in the source if known), once a pass is set up.
    pub fn get(&self) -> Option<(u64, Option<u64>)> {
        let w = self.watched.lock().unwrap_or_else(|e| e.into_inner());
        let done = w.0.iter().map(|seen| seen.load(std::sync::atomic::Ordering::Relaxed)).sum();
        (!w.0.is_empty()).then_some((done, w.1))
    }
}

/// Name of the row-index column every loaded table carries (polars' 0-based record number).
pub const RN: &str = "rn";

/// A price batch's column saying which of its rows to fold ([`Dump::pass_prices`]): the batches
/// of the pass are handed on unfiltered, their rows not kept (rejected, or of SKUs not registered)
/// marked `false` here.
pub const KEEP: &str = "__keep";

/// A loaded, validated dump: typed good rows, with prices and retail narrowed to registered SKUs.
pub struct Dump {
    pub dir: PathBuf,
    /// Good registrations, first of each id kept, with `k` (dense SKU key) — in file order.
    pub registrations: DataFrame,
    /// Good prices rows of registered SKUs: held, or still to be read by one pass.
    pub prices: Prices,
    /// Good ladder tiers, first of each (offer, SKU, min_qty) kept; `None` when the table is absent.
    pub ladders: Option<DataFrame>,
    /// Good retail rows of registered SKUs, with `k`; `None` when the table is absent.
    pub retail: Option<DataFrame>,
    /// Good merchants rows, the first of each `merchant_id` kept (SPEC §10.8: an empty id too);
    /// `None` when the table is absent.
    pub merchants: Option<DataFrame>,
    pub tables: Vec<Loaded>,
    pub rejects: Vec<Reject>,
    /// Channel names outside SPEC's list, with their good row counts.
    pub unknown_channels: Vec<(String, u64)>,
    /// Optional columns present in `registrations`.
    pub registration_columns: Vec<String>,
    /// The latest `ts` of any good `prices` row (every SKU's), set as the rows pass the
    /// validation (`i64::MIN` before any): SPEC §10.4's horizon.
    latest_price: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Optional columns present in `prices`.
    pub price_columns: Vec<String>,
}

impl Dump {
    /// SPEC §10.4's horizon: the latest `ts` of any valid `prices` row, once they have passed
    /// (`None`: no valid row).
    pub fn horizon(&self) -> Option<i64> {
        latest(&self.latest_price)
    }

    /// Take `at_least` as the horizon when it is later: the whole dump's horizon, when this
    /// audit sees a share of the dump (a Spark task's bucket; [`price_horizon`] over every share).
    pub fn extend_horizon(&self, at_least: i64) {
        self.latest_price.fetch_max(at_least, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn source(&self, t: Table) -> Option<&Source> {
        self.tables.iter().find(|l| l.source.table == t).map(|l| &l.source)
    }

    /// Empty the registrations, ladders and retail frames (the facts call this once they have
    /// read them; the tables' counts, sources and rejects stay).
    pub fn drop_frames(&mut self) {
        self.registrations = DataFrame::empty();
        for t in [&mut self.ladders, &mut self.retail, &mut self.merchants].into_iter().flatten() {
            *t = DataFrame::empty();
        }
    }

    /// Let `progress` follow the price rows' one pass (rows checked of the source's rows), when
    /// they are still to be streamed.
    pub fn watch_price_rows(&self, progress: &RowProgress) {
        if let Prices::Pending(p) = &self.prices {
            progress.watch(p.v.seen.clone(), p.v.source.rows_hint());
        }
    }

    /// The held price rows (`None` when they were streamed).
    pub fn price_rows(&self) -> Option<&DataFrame> {
        match &self.prices {
            Prices::Rows(df) => Some(df),
            _ => None,
        }
    }

    /// Hand every good price row of a registered SKU to `visit` (columns `rn`, `k`, `ts`,
    /// `price`, `is_list`, `channel`, `until`): the held frame at once, or batch by batch
    /// from the one streaming pass over the file, which then also counts the table's rows,
    /// rejects and unknown channels. A streamed batch may also hold rows not to fold (rejected,
    /// or of SKUs not registered, their values anything): it then has a [`KEEP`] column, `false`
    /// on those. A streamed table can be passed over only once.
    pub fn pass_prices(&mut self, visit: &mut BatchVisitor) -> Result<()> {
        match std::mem::replace(&mut self.prices, Prices::Passed) {
            Prices::Rows(df) => {
                visit(&df)?;
                self.prices = Prices::Rows(df);
            }
            Prices::Pending(p) => {
                let s = crate::timing("load prices", || p.split(Some(visit)))?;
                let t = self.tables.iter_mut().find(|l| l.source.table == Table::Prices).expect("prices recorded");
                t.read = s.total;
                t.used = s.valid;
                t.rejected = s.rejects.len() as u64;
                self.rejects.extend(s.rejects);
                sort_rejects(&mut self.rejects);
                self.unknown_channels = unknown_channel_counts(s.channels.as_ref())?;
            }
            Prices::Passed => bail!("the price rows were streamed already"),
        }
        Ok(())
    }
}

/// Good price rows of registered SKUs.
pub enum Prices {
    /// Held (explain, tests).
    Rows(DataFrame),
    /// Not read yet: [`Dump::pass_prices`] streams them.
    Pending(Box<PendingPrices>),
    /// Streamed once, or dropped.
    Passed,
}

/// The validated price table and what its pass keeps.
pub struct PendingPrices {
    v: Validated,
    skus: std::sync::Arc<SkuIndex>,
    project: Vec<(&'static str, Expr)>,
    tz: Tz,
}

impl PendingPrices {
    fn split(&self, sink: Option<&mut BatchVisitor>) -> Result<Split> {
        split(&self.v, Some(&self.skus), true, self.tz, Some(self.project.clone()), sink)
    }
}

/// SPEC §10.4's horizon of some price rows: the latest `ts` of those no check refuses (`None`:
/// none). The horizon of a dump split into shares is the latest of its shares'.
pub fn price_horizon(prices: Frame, tz: Tz) -> Result<Option<i64>> {
    horizon_of(&TableIn::Frame(prices), tz)
}

/// SPEC §10.4's horizon of the dump in `input`: its whole price table validated in one streamed
/// pass (an audit in shares hands it to each share).
pub fn input_horizon(input: &Input, tz: Tz) -> Result<Option<i64>> {
    horizon_of(&table_input(input, Table::Prices)?.expect("a required table"), tz)
}

fn horizon_of(prices: &TableIn, tz: Tz) -> Result<Option<i64>> {
    let v = validate(prices, Table::Prices, tz, &[])?;
    v.lf.select([col(CODE).is_null().sum()]).collect_with_engine(Engine::Streaming)?;
    Ok(latest(&v.latest))
}

/// Each share of `plan` its own file of the dump's price rows, written in `dir` by one pass over
/// the price table ([`pieces::split_prices`]), or `None` where each share reads the whole table
/// (a CSV table, parts of different schemas).
pub fn split_prices(input: &Input, tz: Tz, plan: &SharePlan, dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let table = table_input(input, Table::Prices)?.expect("a required table");
    let v = validate(&table, Table::Prices, tz, &[])?;
    let paths: Vec<PathBuf> = (0..plan.count()).map(|i| dir.join(format!("prices-{i}.parquet"))).collect();
    let split = pieces::split_prices(&v, plan, &paths);
    if !matches!(split, Ok(true)) {
        // (what a split that failed or is not used wrote goes now, not with the directory)
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(split?.then_some(paths))
}

/// Each share of `plan` its own file in `dir` of its rows of the registrations, ladders, retail
/// and merchants tables, each table split by one pass ([`share::split_table`]): the tables split,
/// with the files (for [`SharePlan::with_table_spills`]). A table that is not split, or fails to
/// be, is read whole by each share, which reports its errors as the whole audit does.
pub fn split_tables(input: &Input, plan: &SharePlan, dir: &Path) -> Vec<(Table, Vec<PathBuf>)> {
    let mut out = Vec::new();
    for t in [Table::Registrations, Table::Ladders, Table::Retail, Table::Merchants] {
        let Ok(Some(table)) = table_input(input, t) else { continue };
        let split = crate::timing(&format!("split {}", t.as_str()), || share::split_table(&table, t, plan, dir));
        if let Ok(Some(paths)) = split {
            out.push((t, paths));
        }
    }
    out
}

/// The rows of the dump's `registrations` as its metadata tells them before reading (a Parquet
/// footer, a CSV file's byte scan).
pub fn registration_rows_hint(input: &Input) -> Result<Option<u64>> {
    rows_hint(input, Table::Registrations)
}

/// The rows of the dump's `prices`, as [`registration_rows_hint`]; for CSV an estimate from the
/// files' bytes ([`CSV_BYTES_PER_PRICE_ROW`]): the byte scan of a large price table would cost
/// seconds only to size the shares, which need no more than the order of magnitude.
pub fn price_rows_hint(input: &Input) -> Result<Option<u64>> {
    if let Some(TableIn::Path(p)) = table_input(input, Table::Prices)? {
        if is_csv_table(&p) {
            let files = if p.is_dir() { source::part_files(&p)? } else { vec![p] };
            let bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
            return Ok(Some(bytes / CSV_BYTES_PER_PRICE_ROW));
        }
    }
    rows_hint(input, Table::Prices)
}

/// A price row's bytes in a CSV file, for [`price_rows_hint`]'s estimate (the benchmark's CSV:
/// 54 bytes a row).
pub const CSV_BYTES_PER_PRICE_ROW: u64 = 54;

fn rows_hint(input: &Input, t: Table) -> Result<Option<u64>> {
    let table = table_input(input, t)?.expect("a required table");
    let (_, source, _) = open(&table, t)?;
    Ok(source.rows_hint())
}

/// The latest `ts` a validation kept (`None`: it passed no row).
fn latest(t: &std::sync::atomic::AtomicI64) -> Option<i64> {
    let t = t.load(std::sync::atomic::Ordering::SeqCst);
    (t != i64::MIN).then_some(t)
}

/// Unknown channel names and their good row counts, from a pass's per-channel counts.
fn unknown_channel_counts(ch: Option<&DataFrame>) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    if let Some(ch) = ch {
        let names = ch.column("channel")?.str()?;
        let n = ch.column("n")?.cast(&DataType::UInt64)?;
        let n = n.u64()?;
        for i in 0..ch.height() {
            if let Some(name) = names.get(i).filter(|n| !n.is_empty()) {
                if !crate::profile::KNOWN_CHANNELS.contains(&name) {
                    out.push((name.to_string(), n.get(i).unwrap_or(0)));
                }
            }
        }
        out.sort();
    }
    Ok(out)
}

/// What `explain` reads for: one registration, or every registration of an offer ([`load`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Focus {
    Registration(String),
    Offer(String),
}

/// The offer `focus` is about among the good registrations `regs` (a registration's own, or the
/// offer named), and the merchants of that offer's registrations (`None`: no such registration).
fn focus_of(regs: &DataFrame, focus: &Focus) -> Result<Option<(String, Vec<String>)>> {
    let text = |c: &str| -> Result<Vec<Option<String>>> {
        Ok(regs.column(c)?.cast(&DataType::String)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let (ids, offers, merchants) = (text("registration_id")?, text("offer_id")?, text("merchant_id")?);
    let offer = match focus {
        Focus::Registration(id) => {
            let Some(i) = ids.iter().position(|x| x.as_deref() == Some(id.as_str())) else { return Ok(None) };
            let Some(offer) = offers[i].clone() else { return Ok(None) };
            offer
        }
        Focus::Offer(o) => o.clone(),
    };
    let mut of_offer: Vec<String> = offers
        .iter()
        .zip(&merchants)
        .filter(|(o, _)| o.as_deref() == Some(offer.as_str()))
        .filter_map(|(_, m)| m.clone().filter(|m| !m.is_empty()))
        .collect();
    of_offer.sort();
    of_offer.dedup();
    Ok(Some((offer, of_offer)))
}

/// The registration ids `explain` for `focus` can read: those of the rows of the focus's offers
/// (a registration's: the offers of its id's rows) and of those rows' merchants, and the
/// registration's id — found in the raw columns, before validation (as text, as the focused
/// filters compare). A superset of the ids of the registrations [`focus_of`] then keeps; reading
/// every row of these ids keeps the first good row of each as the whole table would (the dump's
/// other ids never meet them), at a fraction of the rows validated (issue 21: 0.3 s of a 100 M
/// dump's `explain`).
fn ids_of_interest(v: &Validated, focus: &Focus) -> Result<Series> {
    let text = |c: &str| -> Expr {
        match v.present.iter().any(|p| p == c) {
            true => col(c).cast(DataType::String),
            false => lit(NULL).cast(DataType::String).alias(c),
        }
    };
    let raw = v
        .raw
        .clone()
        .select([text("registration_id"), text("offer_id"), text("merchant_id")])
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let (ids, offers, merchants) =
        (raw.column("registration_id")?.str()?, raw.column("offer_id")?.str()?, raw.column("merchant_id")?.str()?);
    let rows = || ids.iter().zip(offers.iter()).zip(merchants.iter()).map(|((i, o), m)| (i, o, m));
    let of_id: std::collections::HashSet<&str> = match focus {
        Focus::Registration(id) => rows().filter(|(i, _, _)| *i == Some(id.as_str())).filter_map(|r| r.1).collect(),
        Focus::Offer(o) => [o.as_str()].into(),
    };
    let id = match focus {
        Focus::Registration(id) => Some(id.as_str()),
        Focus::Offer(_) => None,
    };
    let their_merchants: std::collections::HashSet<&str> =
        rows().filter(|(_, o, _)| o.is_some_and(|o| of_id.contains(o))).filter_map(|r| r.2).collect();
    let mut wanted: Vec<&str> = rows()
        .filter(|(_, o, m)| o.is_some_and(|o| of_id.contains(o)) || m.is_some_and(|m| their_merchants.contains(m)))
        .filter_map(|r| r.0)
        .chain(id)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    Ok(Series::new("ids".into(), wanted))
}

/// `explain`'s read of a CSV price table (no statistics, no filter a text scan can skip rows
/// by): one pass (in pieces where the file is regular, [`csv_pieces`]; else streamed by polars'
/// reader) that parses every row's `ts` (the horizon) and keeps the raw rows of
/// `offer` (their `offer_id` as text, as the focused filter compares); `v` then validates only
/// those. The latest `ts` (`Some(None)`: no row has one), or `None` when the table is not one
/// scan (its pass is then the column read and the filtered scan, as for any table).
fn horizon_and_offer_rows(v: &mut Validated, offer: &str) -> Result<Option<Option<i64>>> {
    let Some(scan) = pieces::leaf(&v.lf.logical_plan).cloned() else { return Ok(None) };
    // (every record of the file passes, unless a share's filter stands on the scan)
    let whole = pieces::filters_its_scan(&v.lf.logical_plan) == Some(false);
    let raw = LazyFrame::from(scan).collect_schema()?;
    if !v.present.iter().any(|c| c == "ts") {
        return Ok(None);
    }
    const H: &str = "__horizon";
    let mut columns: Vec<Expr> = raw.iter_names().map(|c| col(c.clone())).collect();
    // (the typed `ts`, as the validation parses it)
    columns.push(col(typed("ts")).cast(DataType::Int64).alias(H));
    let plan = v.lf.clone().select(columns);
    let (mut latest, mut kept, mut scanned) = (None::<i64>, Vec::new(), 0u64);
    let file = v.source.path.display().to_string();
    let mut visit = |mut df: DataFrame| {
        scanned += df.height() as u64;
        if let Some(t) = df.column(H)?.i64()?.max() {
            latest = latest.max(Some(t));
        }
        let same = df.column("offer_id")?.cast(&DataType::String)?.str()?.equal(offer);
        if same.any() {
            df.drop_in_place(H)?;
            kept.push(text_copied(df.filter(&same)?)?.lazy());
        }
        Ok(())
    };
    // a regular file parsed in pieces, as the audit's pass parses it; else polars' reader
    match csv_pieces::CsvPieces::of(v, &plan)? {
        Some(pieces) => pieces.run(&plan, &file, &mut visit)?,
        None => stream_batches(plan, &file, &mut visit)?,
    }
    let rows = match kept.len() {
        0 => DataFrame::empty_with_schema(&raw),
        _ => concat(kept, UnionArgs::default())?.sort([RN], Default::default()).collect()?,
    };
    let narrowed = pieces::with_leaf(&v.lf.logical_plan, &std::sync::Arc::new(rows))
        .ok_or_else(|| Error::internal("the price table's plan changed shape"))?;
    v.lf = LazyFrame::from(narrowed).with_optimizations(v.lf.get_current_optimizations());
    // (polars' count of the file's records, checked against the byte scan's as for any pass; a
    // share's filter would make it the share's: not kept then)
    v.scanned = whole.then_some(scanned);
    Ok(Some(latest))
}

/// `df` with its text columns copied out of the buffers they view: the few rows kept from a
/// batch would otherwise hold all of the batch's text (10 M quoted CSV rows: 0.9 GB held to the
/// end of `explain`'s pass, against 0.1 GB).
fn text_copied(df: DataFrame) -> Result<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::String => {
                let ca = c.str()?;
                let chunks: Vec<ArrayRef> = ca.downcast_iter().map(|a| Box::new(a.clone().gc()) as ArrayRef).collect();
                // SAFETY: the same arrays' type, garbage-collected
                Ok(unsafe { StringChunked::from_chunks(ca.name().clone(), chunks) }.into_column())
            }
            _ => Ok(c.clone()),
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new(df.height(), columns)?)
}

/// The whole price table's latest `ts` for a focused read, before its rows are narrowed to
/// `offer`'s: from the Parquet footers' statistics; for a CSV file in the one pass that also keeps
/// the offer's rows ([`horizon_and_offer_rows`]); else one column read (streamed: never held
/// whole).
fn whole_horizon(v: &mut Validated, tz: Tz, offer: &str) -> Result<Option<i64>> {
    if let Some(t) = crate::timing("price horizon", || footer_ts_max(&v.source, tz)) {
        return Ok(Some(t));
    }
    if v.source.is_csv() {
        if let Some(t) = crate::timing("price horizon and the offer's rows", || horizon_and_offer_rows(v, offer))? {
            return Ok(t);
        }
    }
    let max =
        v.lf.clone()
            .select(v.outputs.clone())
            .select([col("ts").max()])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
    Ok(max.column("ts")?.cast(&DataType::Int64)?.i64()?.get(0))
}

/// What a summary names as the dump of tables handed over in memory.
pub const IN_MEMORY: &str = "(tables in memory)";

/// Where table `t` of `input` is read from (`None`: an optional table the dump does not have; a
/// missing required table, a table given twice, a dump that is not a directory: `Err`).
pub(crate) fn table_input(input: &Input, t: Table) -> Result<Option<TableIn>> {
    match input {
        Input::Dir(dir) => {
            if !dir.is_dir() {
                bail!("{}: not a directory", dir.display());
            }
            match find_table(dir, t)? {
                Some(p) => Ok(Some(TableIn::Path(p))),
                None if schema::required(t) => bail!(
                    "{}: missing table `{}` ({}.csv or {}.parquet)",
                    dir.display(),
                    t.as_str(),
                    t.as_str(),
                    t.as_str()
                ),
                None => Ok(None),
            }
        }
        Input::Frames(frames) => {
            let mut of_t = frames.iter().filter(|(x, _)| *x == t);
            match (of_t.next(), of_t.next()) {
                (Some(_), Some(_)) => bail!("table `{}` given twice", t.as_str()),
                (Some((_, f)), None) => Ok(Some(TableIn::Frame(f.clone()))),
                (None, _) if schema::required(t) => bail!("missing table `{}`", t.as_str()),
                (None, _) => Ok(None),
            }
        }
    }
}

/// Load and validate every table of the dump in `input`.
///
/// `stream_prices`: leave the price rows to one later pass ([`Dump::pass_prices`]) instead of
/// holding them.
/// `focus`: read for `explain` of the registration it names, or of every registration of the
/// offer it names (issue 21: a spot check must not cost a bulk audit): the registrations of the
/// offer and of those registrations' merchants (what their rules relate them to: slots,
/// fatigue, caps, duplicates, overrides), those merchants' rows, and only the offer's price,
/// ladder and retail rows (the filter pushed into the scans; a Parquet price table's found where
/// its `offer_id` column lies, `offer_rows.rs`). The dump's horizon (SPEC §10.4) is still the
/// whole price table's: the latest `ts` of any row (read alone; a row rejected for another
/// column counts there). Tables are then not reconciled: their rows were not all read.
/// `share`: read only the rows of that share of the dump ([`Share`]); each table's `read` is still
/// the whole source's (the shares' `used` and `rejected` add up to it), and the horizon is the
/// share's until the caller hands over the whole table's.
pub fn load(
    input: &Input,
    tz: Tz,
    profiles: &[String],
    stream_prices: bool,
    focus: Option<&Focus>,
    share: Option<&Share>,
) -> Result<Dump> {
    let mut paths = Vec::new();
    for t in Table::ALL {
        if let Some(p) = table_input(input, t)? {
            paths.push((t, p));
        }
    }
    let dir = match input {
        Input::Dir(dir) => dir.clone(),
        Input::Frames(_) => PathBuf::from(IN_MEMORY),
    };
    // Validate every table first, so that a missing column anywhere fails before any work. The
    // price table's validation (a CSV file's byte scan: 0.4 s of one core at 10 M rows) runs on a
    // thread of its own beside the other tables' validation and loading; its error, if any, is
    // the one returned, as when the tables were validated in order (prices first).
    // (Not for `explain`'s focused read, which needs the price table first and is small: there
    // the thread only added its heap, +0.1 GB at 100 M rows.)
    std::thread::scope(|scope| {
        let aside = focus.is_none();
        let mut prices = paths
            .iter()
            .find(|(t, _)| aside && *t == Table::Prices)
            .map(|(t, p)| scope.spawn(move || validate_rows(p, *t, tz, profiles, share)));
        let loaded = (|| {
            let mut validated: Vec<Validated> = Vec::new();
            for (t, p) in paths.iter().filter(|(t, _)| !aside || *t != Table::Prices) {
                validated.push(validate_rows(p, *t, tz, profiles, share)?);
            }
            assemble(scope, dir.clone(), validated, &mut prices, tz, stream_prices, focus)
        })();
        match (loaded, prices.take().map(join_validation)) {
            (_, Some(Err(e))) | (Err(e), _) => Err(e),
            (Ok(dump), _) => Ok(dump),
        }
    })
}

/// A validation run on its own thread, joined.
fn join_validation(h: std::thread::ScopedJoinHandle<'_, Result<Validated>>) -> Result<Validated> {
    h.join().unwrap_or_else(|_| Err(Error::internal("validating the price table: the thread panicked")))
}

/// A side table loaded: its validation, its pass, the rows kept and the duplicates rejected.
type Loads = (Validated, Split, DataFrame, Vec<Reject>);
type Loader = fn(Validated, Tz) -> Result<Loads>;

/// A side table being loaded on a thread of its own, or to load here (`explain`).
enum Aside<'scope> {
    Thread(std::thread::ScopedJoinHandle<'scope, Result<Loads>>),
    Here(Validated, Loader, Tz),
}

impl Aside<'_> {
    fn get(self) -> Result<Loads> {
        match self {
            Aside::Thread(h) => {
                h.join().unwrap_or_else(|_| Err(Error::internal("loading a table: the thread panicked")))
            }
            Aside::Here(v, load, tz) => load(v, tz),
        }
    }
}

/// Ladders: every group, one row per (offer, SKU, `min_qty`).
fn load_ladders(lv: Validated, tz: Tz) -> Result<Loads> {
    let ls = crate::timing("load ladders", || split(&lv, None, false, tz, None, None))?;
    let (kept, dup) = dedupe(
        ls.good.clone(),
        &["offer_id", "sku_id", "min_qty"],
        "min_qty",
        "duplicate min_qty in ladder group",
        &lv.source,
    )?;
    Ok((lv, ls, kept, dup))
}

/// Merchants: one row per `merchant_id`.
fn load_merchants(mv: Validated, tz: Tz) -> Result<Loads> {
    let ms = crate::timing("load merchants", || split(&mv, None, false, tz, None, None))?;
    let (kept, dup) = dedupe(ms.good.clone(), &["merchant_id"], "merchant_id", "duplicate merchant_id", &mv.source)?;
    Ok((mv, ms, kept, dup))
}

/// The tables of a dump loaded from their validations: the price table's is joined (from
/// `prices`) when its rows are first needed.
fn assemble<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    dir: PathBuf,
    mut validated: Vec<Validated>,
    prices: &mut Option<std::thread::ScopedJoinHandle<'scope, Result<Validated>>>,
    tz: Tz,
    stream_prices: bool,
    focus: Option<&Focus>,
) -> Result<Dump> {
    let mut price_validation = || -> Result<Validated> {
        prices.take().map(join_validation).unwrap_or_else(|| Err(Error::new("missing table `prices`")))
    };
    let take = |t: Table, v: &mut Vec<Validated>| v.iter().position(|x| x.source.table == t).map(|i| v.remove(i));
    let mut tables = Vec::new();
    let mut rejects = Vec::new();

    // `used`: the rows kept, counted where they are (a held table's frame after its
    // duplicates were dropped; the validation's count for a table narrowed to registered SKUs)
    let record = |v: &Validated, s: &Split, used: u64, dups: u64, tables: &mut Vec<Loaded>| {
        tables.push(Loaded {
            source: v.source.clone(),
            read: s.total,
            used,
            blank_lines: v.blank_lines,
            rejected: s.rejects.len() as u64 + dups,
            present: v.present.clone(),
        });
    };

    // Ladders and merchants read nothing of the registrations: loaded on a thread beside them
    // (one core each; not for `explain`, whose focus narrows them to the registrations' offer
    // and merchants). Their rows are recorded in the same order as when loaded in turn.
    let aside = |t: Table, v: &mut Vec<Validated>, load: Loader| {
        take(t, v).map(|x| match focus {
            None => Aside::Thread(scope.spawn(move || load(x, tz))),
            Some(_) => Aside::Here(x, load, tz),
        })
    };
    let (mut ladders, mut merchants) =
        (aside(Table::Ladders, &mut validated, load_ladders), aside(Table::Merchants, &mut validated, load_merchants));
    // registrations → keys
    let mut rv = take(Table::Registrations, &mut validated).expect("required");
    if let Some(f) = focus {
        // explain: only the rows whose ids can matter validated (every row of each such id)
        let ids = crate::timing("registrations of interest", || ids_of_interest(&rv, f))?;
        let of_interest = col("registration_id").cast(DataType::String).is_in(lit(ids).implode(false), false);
        rv.lf = rv.lf.clone().filter(of_interest);
    }
    let rs = crate::timing("load registrations", || split(&rv, None, false, tz, None, None))?;
    let (regs, dup) =
        dedupe(rs.good.clone(), &["registration_id"], "registration_id", "duplicate registration_id", &rv.source)?;
    record(&rv, &rs, regs.height() as u64, dup.len() as u64, &mut tables);
    rejects.extend(rs.rejects.iter().cloned());
    rejects.extend(dup);
    // explain: the offer, and the registrations its registrations' rules relate them to
    let focused = focus.map(|f| crate::timing("the focus's offer and merchants", || focus_of(&regs, f)));
    let (regs, offer) = match focused.transpose()?.flatten() {
        Some((offer, merchants)) => {
            let same_offer = col("offer_id").cast(DataType::String).eq(lit(offer.clone()));
            let merchants = Series::new("m".into(), merchants);
            let same_merchant = col("merchant_id").cast(DataType::String).is_in(lit(merchants).implode(false), false);
            (regs.lazy().filter(same_offer.or(same_merchant)).collect()?, Some(offer))
        }
        None => (regs, None),
    };
    if let Some(o) = &offer {
        if let Some(v) = validated.iter_mut().find(|v| v.source.table == Table::Prices) {
            let t = whole_horizon(v, tz, o)?;
            if let Some(t) = t {
                v.latest.fetch_max(t, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let held = match ladders.as_mut() {
            Some(Aside::Here(lv, ..)) => Some(lv),
            _ => None,
        };
        for v in validated.iter_mut().filter(|v| matches!(v.source.table, Table::Prices | Table::Retail)).chain(held) {
            v.lf = v.lf.clone().filter(col("offer_id").cast(DataType::String).eq(lit(o.clone())));
            v.offer = Some(o.clone());
        }
    }
    let keys = regs
        .clone()
        .lazy()
        .select([col("offer_id"), col("sku_id")])
        .unique_stable(None, UniqueKeepStrategy::First)
        .with_row_index("k", None)
        .collect()?;
    let skus = std::sync::Arc::new(SkuIndex::of_keys(&keys)?);
    let regs = with_sku_keys(regs, &skus)?;

    // prices of registered SKUs: held (explain's focused read) or left to the facts' one pass
    let load_prices = |pv: Validated, tables: &mut Vec<Loaded>, rejects: &mut Vec<Reject>| -> Result<_> {
        // held rows (explain reads them) name the regular channel; streamed rows go only to the
        // fold, which reads an empty or missing channel as `regular` itself (no if-then-else over
        // every row of the pass)
        let channel = if stream_prices {
            col("channel")
        } else {
            when(col("channel").is_null().or(col("channel").eq(lit("")))).then(lit("regular")).otherwise(col("channel"))
        };
        let mut project = vec![
            ("ts", col("ts")),
            ("price", col("price")),
            ("is_list", col("kind").eq(lit("list"))),
            ("channel", channel),
            ("until", col("until")),
        ];
        if pv.present.iter().any(|c| c == "qty") {
            project.push(("qty", col("qty")));
        }
        let (latest_price, price_columns) = (pv.latest.clone(), pv.present.clone());
        let pending = PendingPrices { v: pv, skus: skus.clone(), project, tz };
        let mut unknown_channels = Vec::new();
        let prices = if stream_prices {
            // read later, in one pass into the facts (`Dump::pass_prices`); counted then
            let v = &pending.v;
            tables.push(Loaded {
                source: v.source.clone(),
                read: 0,
                used: 0,
                blank_lines: v.blank_lines,
                rejected: 0,
                present: v.present.clone(),
            });
            Prices::Pending(Box::new(pending))
        } else {
            let ps = crate::timing("load prices", || pending.split(None))?;
            record(&pending.v, &ps, ps.valid, 0, tables);
            rejects.extend(ps.rejects.iter().cloned());
            unknown_channels = unknown_channel_counts(ps.channels.as_ref())?;
            Prices::Rows(ps.good)
        };
        Ok((prices, unknown_channels, latest_price, price_columns))
    };
    // here when already validated (explain validates the price table first: it reads its latest
    // `ts` and narrows its scan), else once the other tables are loaded, its validation beside them
    let prices = match take(Table::Prices, &mut validated) {
        Some(pv) => Some(load_prices(pv, &mut tables, &mut rejects)?),
        None => None,
    };

    // ladders: every group
    // a side table's rows kept, its rejects and duplicates recorded
    let kept = |(v, split, kept, dup): Loads, tables: &mut Vec<Loaded>, rejects: &mut Vec<Reject>| {
        rejects.extend(split.rejects.iter().cloned());
        record(&v, &split, kept.height() as u64, dup.len() as u64, tables);
        rejects.extend(dup);
        kept
    };
    let ladders = ladders.take().map(Aside::get).transpose()?.map(|l| kept(l, &mut tables, &mut rejects));

    // retail of registered SKUs
    let retail = match take(Table::Retail, &mut validated) {
        Some(tv) => {
            let project = ["observed_at", "price", "platform"].map(|c| (c, col(c))).to_vec();
            let ts = crate::timing("load retail", || split(&tv, Some(&skus), false, tz, Some(project), None))?;
            record(&tv, &ts, ts.valid, 0, &mut tables);
            rejects.extend(ts.rejects.iter().cloned());
            Some(ts.good)
        }
        None => None,
    };
    // merchants: every row, one per merchant_id (SPEC §10.8: a duplicate, an empty id included,
    // is rejected and the first kept)
    let merchants = match merchants.take() {
        Some(Aside::Here(mut mv, ..)) if offer.is_some() => {
            // explain: the rows of the registrations' merchants (every row of each: the first
            // kept is the whole table's)
            let named = regs.column("merchant_id")?.cast(&DataType::String)?;
            let named = named.as_materialized_series().drop_nulls().unique()?;
            let of_named = col("merchant_id").cast(DataType::String).is_in(lit(named).implode(false), false);
            mv.lf = mv.lf.clone().filter(of_named);
            Some(load_merchants(mv, tz)?)
        }
        Some(m) => Some(m.get()?),
        None => None,
    };
    let merchants = merchants.map(|m| kept(m, &mut tables, &mut rejects));
    let (prices, unknown_channels, latest_price, price_columns) = match prices {
        Some(loaded) => loaded,
        None => load_prices(price_validation()?, &mut tables, &mut rejects)?,
    };

    // in the order of the tables (`Table::ALL`), whichever was loaded first
    tables.sort_by_key(|l| Table::ALL.iter().position(|t| *t == l.source.table));
    sort_rejects(&mut rejects);
    let registration_columns =
        tables.iter().find(|l| l.source.table == Table::Registrations).map(|l| l.present.clone()).unwrap_or_default();
    Ok(Dump {
        dir,
        registrations: regs,
        prices,
        ladders,
        retail,
        merchants,
        tables,
        rejects,
        unknown_channels,
        registration_columns,
        latest_price,
        price_columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows kept from a batch keep their values and nulls, but not the batch's text buffers.
    #[test]
    fn text_copied_keeps_the_rows_not_the_batch() {
        let long: Vec<Option<String>> =
            (0..1000).map(|i| (i % 7 != 3).then(|| format!("a text longer than a view holds, row {i}"))).collect();
        let df = df!("t" => long, "n" => (0..1000).collect::<Vec<i64>>()).unwrap();
        let keep = BooleanChunked::from_iter((0..1000).map(|i| i == 3 || i == 501));
        let kept = df.filter(&keep).unwrap();
        let buffers = |d: &DataFrame| -> usize {
            d.column("t").unwrap().str().unwrap().downcast_iter().map(|a| a.total_buffer_len()).sum()
        };
        assert!(buffers(&kept) > 30_000, "a filter keeps the batch's buffers");
        let copied = text_copied(kept.clone()).unwrap();
        assert!(copied.equals_missing(&kept));
        assert!(buffers(&copied) < 200, "{}", buffers(&copied));
        assert_eq!(copied.column("t").unwrap().null_count(), 1);
    }
}
