//! The price-row facts, in one polars plan over the registered SKUs' rows: for every registration,
//! the row that sets each reference (lowest_30d, lowest_180d, list in force, warm-up minimum,
//! P109 baseline), and for those whose rules read them SPEC §10's (P112's and P114's huopin sales,
//! K501–K503's counted sales, P110's edits of the regular list chain in the lock). Rules never see
//! this table; they get the evidence rows.

use super::windows::Windows;
use crate::dump::RN;
use crate::error::{Error, Result};
use crate::profile::{Settings, ALWAYS_EXCLUDED, KNOWN_CHANNELS};
use crate::registration::Registration;
use polars::prelude::*;
use std::collections::HashMap;

/// SPEC §2: a `list` row is in force over `[ts, end)`; `end` is `until`, else the `ts` of the next
/// `list` row of the same (SKU, channel) in (ts, file) order, else open. A row followed by another
/// at the same instant is superseded: its interval is empty and it counts nowhere.
///
/// Takes `list` rows only; adds `end` (null: open-ended) and `superseded`.
pub fn with_list_intervals(list_rows: LazyFrame) -> LazyFrame {
    let next = |c: &str| col(c).shift(lit(-1));
    list_rows
        .sort(["k", "channel", "ts", RN], SortMultipleOptions::default())
        .with_columns([
            next("ts").alias("__next_ts"),
            next("k").eq(col("k")).and(next("channel").eq(col("channel"))).fill_null(lit(false)).alias("__same"),
        ])
        .with_column(col("__same").and(col("__next_ts").eq(col("ts"))).fill_null(lit(false)).alias("superseded"))
        .with_column(
            when(col("superseded"))
                .then(col("ts"))
                .when(col("until").is_not_null())
                .then(col("until"))
                .when(col("__same"))
                .then(col("__next_ts"))
                .otherwise(lit(NULL).cast(DataType::Int64))
                .alias("end"),
        )
        .drop(cols(["__next_ts", "__same"]))
}

/// The channel bit of every excludable channel name (SPEC §4.1 exclusions of every profile, and
/// `member_price`/`bundle_price`); other channels have no bit and are never excluded.
///
/// Channels excluded by exactly the same profiles share a bit (what a bit answers is "is this
/// row excluded for this profile?"), so the 64 bits bound the distinct exclusion *patterns*,
/// not the channel names: any number of names fits while the profiles exclude them in at most
/// 64 different combinations (built in: 3).
pub struct ChannelBits {
    bits: HashMap<String, u64>,
    /// Each profile's mask, by profile index.
    masks: Vec<u64>,
    /// The bits of the channels every profile excludes.
    always: u64,
}

impl ChannelBits {
    pub fn new(settings: &Settings) -> Result<ChannelBits> {
        // each name's pattern: always excluded, or the set of profiles excluding it
        let mut pattern: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, p) in settings.profiles.iter().enumerate() {
            for n in &p.excluded_channels {
                pattern.entry(n.as_str()).or_default().push(i);
            }
        }
        // the channels excluded everywhere keep a class of their own (the warm-up and the
        // baselines exclude them and nothing else): every profile, and a marker no profile has
        let mut every: Vec<usize> = (0..settings.profiles.len()).collect();
        every.push(usize::MAX);
        for n in ALWAYS_EXCLUDED {
            pattern.insert(n, every.clone());
        }
        let mut classes: Vec<Vec<usize>> = Vec::new();
        let mut bits = HashMap::new();
        for (name, mut ps) in pattern {
            ps.sort_unstable();
            ps.dedup();
            let class = match classes.iter().position(|c| *c == ps) {
                Some(c) => c,
                None => {
                    classes.push(ps);
                    classes.len() - 1
                }
            };
            if class >= 64 {
                return Err(Error::config(format!(
                    "the profiles' `excluded_channels` exclude channels in more than 64 different combinations of profiles; at most 64 are supported (channel {name:?})"
                )));
            }
            bits.insert(name.to_string(), 1u64 << class);
        }
        let mut masks = vec![0u64; settings.profiles.len()];
        for (c, ps) in classes.iter().enumerate() {
            for &p in ps.iter().filter(|&&p| p != usize::MAX) {
                masks[p] |= 1u64 << c;
            }
        }
        let always = ALWAYS_EXCLUDED.iter().map(|n| bits.get(*n).copied().unwrap_or(0)).fold(0, |a, b| a | b);
        Ok(ChannelBits { bits, masks, always })
    }

    pub fn bit(&self, channel: &str) -> u64 {
        self.bits.get(channel).copied().unwrap_or(0)
    }

    /// The mask of the channels profile `profile` (an index into `Settings::profiles`) excludes,
    /// the ones excluded everywhere included.
    pub fn mask(&self, profile: usize) -> u64 {
        self.masks[profile]
    }

    /// The channels excluded everywhere (`member_price`, `bundle_price`).
    pub fn always(&self) -> u64 {
        self.always
    }
}

/// `regular` and unknown channels may be the §4.3 list price; known non-regular ones may not.
pub fn is_list_reference_channel(channel: &str) -> bool {
    channel == "regular" || !KNOWN_CHANNELS.contains(&channel)
}

/// The price rows of registered SKUs with `chbit`, `list_ref`, `end` and `superseded`
/// (`txn` rows: no end, never superseded); for `explain`, which shows every row of one SKU.
pub fn intervals(prices: &DataFrame, bits: &ChannelBits) -> Result<DataFrame> {
    let chbit = bits.bits.iter().fold(lit(0u64).cast(DataType::UInt64), |acc, (name, bit)| {
        when(col("channel").eq(lit(name.as_str()))).then(lit(*bit).cast(DataType::UInt64)).otherwise(acc)
    });
    let known = Series::new("known".into(), KNOWN_CHANNELS.to_vec());
    let list_ref = col("channel").eq(lit("regular")).or(col("channel").is_in(lit(known).implode(false), false).not());
    let lf =
        prices.clone().lazy().with_columns([chbit.cast(DataType::UInt64).alias("chbit"), list_ref.alias("list_ref")]);
    let lists = with_list_intervals(lf.clone().filter(col("is_list")));
    let txns = lf
        .filter(col("is_list").not())
        .with_columns([lit(false).alias("superseded"), lit(NULL).cast(DataType::Int64).alias("end")]);
    Ok(concat([lists, txns], UnionArgs::default())?.collect()?)
}

/// The row that sets a price reference: enough to show it as evidence. (A registration's fold
/// holds eight: the price in two halves, 8-byte aligned, and the channel code + 1, whose niche
/// holds the `None` of an `Option<Hit>`, make that 40 bytes rather than 64.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hit {
    price: [u64; 2],
    ts: i64,
    rn: u64,
    ch: std::num::NonZeroU32,
}

const _: () = assert!(std::mem::size_of::<Option<Hit>>() == 40);

/// A price's `i128` as two `u64` halves (8-byte aligned, where an `i128` aligns its struct to 16:
/// the rows the fold holds keep it so), and back.
fn halves(price: i128) -> [u64; 2] {
    let p = price as u128;
    [p as u64, (p >> 64) as u64]
}

fn whole(h: [u64; 2]) -> i128 {
    ((h[0] as u128) | ((h[1] as u128) << 64)) as i128
}

impl Hit {
    fn new(price: [u64; 2], ts: i64, rn: u64, ch: u32) -> Hit {
        let ch = ch.checked_add(1).and_then(std::num::NonZeroU32::new).expect("a channel code below u32::MAX");
        Hit { price, ts, rn, ch }
    }

    fn price(&self) -> i128 {
        whole(self.price)
    }

    fn ch(&self) -> u32 {
        self.ch.get() - 1
    }

    /// Ordering key of "lowest": price, then earliest, then first in file order.
    fn low_key(&self) -> (i128, i64, u64) {
        (self.price(), self.ts, self.rn)
    }
    /// Ordering key of "latest": ts, then last in file order.
    fn late_key(&self) -> (i64, u64) {
        (self.ts, self.rn)
    }
    /// Ordering key of "highest" (the smallest key wins): price, then earliest, then first in
    /// file order.
    fn high_key(&self) -> (std::cmp::Reverse<i128>, i64, u64) {
        (std::cmp::Reverse(self.price()), self.ts, self.rn)
    }
}

fn keep_highest(slot: &mut Option<Hit>, h: Hit) {
    if slot.is_none_or(|s| h.high_key() < s.high_key()) {
        *slot = Some(h);
    }
}

/// The SPEC §10 facts of one registration from the price rows, folded only for the
/// registrations whose rules need them (most have none: [`RegFold::extra`] is then [`NO_EXTRA`]).
#[derive(Clone, Debug, Default)]
struct ExtraFold {
    /// Its windows.
    w: super::windows::PromoWindows,
    /// P112: the lowest `huopin` transaction in `[promo_start, promo_end]`.
    promo_low: Option<Hit>,
    /// P114: the highest `huopin` transaction in `[promo_start, promo_start + 1 h)`.
    first_hour_high: Option<Hit>,
    /// K501/K502: the earliest `huopin` transaction from `ws` on.
    first_sale: Option<i64>,
    /// K503: over `[ws, promo_start + turnover_hours)`: Σ price × qty (money units, `None` once
    /// it no longer fits an `i128`: then above every threshold), the rows, and whether a row had
    /// no `qty`.
    turnover: Option<i128>,
    turnover_rows: u32,
    missing_qty: bool,
    /// P110: the first edit of the regular list price in the lock, and how many there are.
    lock_edit: Option<LockEdit>,
}

const NO_EXTRA: u32 = u32::MAX;

/// P110's first edit (SPEC §10.2): at `at`, a new price (`taken_down` false: `row` is the
/// editing row, `previous` the price before) or the listing taken down (`row` the last row in
/// force, `previous` its price).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockEdit {
    pub at: i64,
    pub taken_down: bool,
    pub row: PriceHit,
    pub previous: i128,
    /// Every edit in the lock (the message counts them).
    pub count: u32,
}

fn keep_lowest(slot: &mut Option<Hit>, h: Hit) {
    if slot.is_none_or(|s| h.low_key() < s.low_key()) {
        *slot = Some(h);
    }
}

fn keep_latest(slot: &mut Option<Hit>, h: Hit) {
    if slot.is_none_or(|s| h.late_key() > s.late_key()) {
        *slot = Some(h);
    }
}

/// One registration's windows and exclusions, and the best row found so far for each fact.
struct RegFold<'a> {
    /// Borrowed: a copy was 160 bytes for each of a big dump's million registrations.
    w: &'a Windows,
    /// Channels excluded from its N-day lowest.
    xmask: u64,
    basis_txn: bool,
    basis_list: bool,
    lowest_30d: Option<Hit>,
    lowest_180d: Option<Hit>,
    list: Option<Hit>,
    warmup: Option<Hit>,
    baseline: Option<Hit>,
    last_txn: Option<Hit>,
    /// Index of its [`ExtraFold`], or [`NO_EXTRA`].
    extra: u32,
}

impl ExtraFold {
    /// A `huopin` `txn` row (`qty`: its quantity, if given).
    fn huopin_txn(&mut self, h: Hit, qty: Option<i64>) {
        let w = self.w;
        if w.promo.is_some_and(|x| x.holds_point(h.ts)) {
            keep_lowest(&mut self.promo_low, h);
        }
        if w.first_hour.is_some_and(|x| x.holds_point(h.ts)) {
            keep_highest(&mut self.first_hour_high, h);
        }
        if let Some(s) = w.sales {
            if h.ts >= s.from {
                self.first_sale = Some(self.first_sale.map_or(h.ts, |f| f.min(h.ts)));
            }
            if s.holds_point(h.ts) {
                self.turnover_rows = self.turnover_rows.saturating_add(1);
                match qty {
                    Some(q) => {
                        self.turnover = self.turnover.and_then(|t| h.price().checked_mul(q as i128)?.checked_add(t));
                    }
                    None => self.missing_qty = true,
                }
            }
        }
    }
}

impl RegFold<'_> {
    /// A `txn` row at `h.ts` of channel bit `chbit`.
    fn txn(&mut self, h: Hit, chbit: u64, always: u64) {
        if self.basis_txn && self.xmask & chbit == 0 {
            if self.w.lowest_30d.is_some_and(|w| w.holds_point(h.ts)) {
                keep_lowest(&mut self.lowest_30d, h);
            }
            if self.w.lowest_180d.is_some_and(|w| w.holds_point(h.ts)) {
                keep_lowest(&mut self.lowest_180d, h);
            }
        }
        if always & chbit == 0 {
            if self.w.warmup.is_some_and(|w| w.holds_point(h.ts)) {
                keep_lowest(&mut self.warmup, h);
            }
            if self.w.baseline.is_some_and(|(w, _)| w.holds_point(h.ts)) {
                keep_lowest(&mut self.baseline, h);
            }
            if self.w.last_txn_before.is_some_and(|t| h.ts < t) {
                keep_latest(&mut self.last_txn, h);
            }
        }
    }

    /// A (not superseded) `list` row in force over `[h.ts, end)`.
    fn list(&mut self, h: Hit, end: Option<i64>, chbit: u64, list_ref: bool, always: u64) {
        if self.basis_list && self.xmask & chbit == 0 {
            if self.w.lowest_30d.is_some_and(|w| w.meets_interval(h.ts, end)) {
                keep_lowest(&mut self.lowest_30d, h);
            }
            if self.w.lowest_180d.is_some_and(|w| w.meets_interval(h.ts, end)) {
                keep_lowest(&mut self.lowest_180d, h);
            }
        }
        // §4.3: a regular (or unknown-channel) list row in force at t: ts ≤ t < end.
        if list_ref && self.w.list_at.is_some_and(|t| h.ts <= t && end.is_none_or(|e| e > t)) {
            keep_latest(&mut self.list, h);
        }
        if always & chbit == 0 {
            if self.w.warmup.is_some_and(|w| w.meets_interval(h.ts, end)) {
                keep_lowest(&mut self.warmup, h);
            }
            if self.w.baseline.is_some_and(|(w, with_list)| with_list && w.meets_interval(h.ts, end)) {
                keep_lowest(&mut self.baseline, h);
            }
        }
    }
}

/// A `list` row kept until every row is seen (its end needs the next one of its SKU and channel).
/// 48 bytes (with `i128` and `Option<i64>` fields it took 64), as every `list` row of the pass
/// is held at once.
#[derive(Clone, Copy)]
struct ListRow {
    k: u32,
    ch: u32,
    ts: i64,
    /// `until`, [`NO_UNTIL`] when empty.
    until: i64,
    rn: u64,
    /// The price's i128 in two halves (8-byte alignment).
    price: [u64; 2],
}

const NO_UNTIL: i64 = i64::MIN; // never a good row's: `until ≤ ts` rejects it
const _: () = assert!(std::mem::size_of::<ListRow>() == 48);

impl ListRow {
    fn until(&self) -> Option<i64> {
        (self.until != NO_UNTIL).then_some(self.until)
    }

    /// The order `finish` folds the rows in: by SKU, channel, time, then file order.
    fn order(&self) -> (u32, u32, i64, u64) {
        (self.k, self.ch, self.ts, self.rn)
    }
}

/// Channel names as small codes: `profile::channel_names` first, then every other name met, in
/// order. Each code has its exclusion bit and whether it may be the §4.3 list price.
struct Channels {
    names: Vec<String>,
    index: PlHashMap<String, u32>,
    bit: Vec<u64>,
    list_ref: Vec<bool>,
}

impl Channels {
    fn new(table: &[String], bits: &ChannelBits) -> Channels {
        let mut c = Channels { names: vec![], index: PlHashMap::new(), bit: vec![], list_ref: vec![] };
        for n in table {
            c.code(n, bits);
        }
        c
    }

    fn code(&mut self, name: &str, bits: &ChannelBits) -> u32 {
        if let Some(&c) = self.index.get(name) {
            return c;
        }
        let c = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), c);
        self.bit.push(bits.bit(name));
        self.list_ref.push(is_list_reference_channel(name));
        c
    }
}

/// Facts of SPEC §4.1, §4.3, §5.1 P106, §9 in one pass over the price rows of registered SKUs,
/// batch by batch (the rows are never held): for every registration, the row that sets each
/// reference. `txn` rows are folded as they come; `list` rows are kept compactly, and folded at
/// the end once sorting gives each its end.
pub struct PriceFold<'a> {
    bits: &'a ChannelBits,
    always: u64,
    channels: Channels,
    /// Registrations of SKU `k`: `by_k[start[k]..start[k + 1]]`.
    start: Vec<u32>,
    by_k: Vec<u32>,
    regs: Vec<RegFold<'a>>,
    /// The SPEC §10 fold state of the registrations that need it.
    extras: Vec<ExtraFold>,
    /// The codes of the channels SPEC §10 reads literally.
    huopin: u32,
    regular: u32,
    lists: ListRows,
    /// `txn` rows of registered SKUs gathered for [`PriceFold::fold_txns`], up to `txn_chunk`
    /// ([`TXN_CHUNK`]).
    txns: Vec<TxnRow>,
    txn_chunk: usize,
}

/// `txn` rows gathered before they are folded by SKU (48 bytes a row): four per registered SKU,
/// within these bounds (13–50 MB). Four rows of each SKU together is most of what sorting a chunk
/// gains; more rows held only raised the peak (10 M rows in random order, 88 k registered SKUs: a
/// chunk of 17 MB rather than 50, the peak 21–27 MB lower in the same time; at 100 M rows the
/// upper bound is what runs: PERF.md).
const TXN_CHUNK: std::ops::RangeInclusive<usize> = 1 << 18..=1 << 20;
const TXN_ROWS_PER_SKU: usize = 4;

/// Are the rows clustered by SKU (at most one change of SKU in eight rows)? Then they are
/// folded as they come; otherwise sorted by SKU first.
fn clustered(rows: &[TxnRow]) -> bool {
    rows.windows(2).filter(|w| w[0].k != w[1].k).count() * 8 <= rows.len()
}

/// No quantity given.
const NO_QTY: i64 = i64::MIN;

/// A gathered `txn` row (the price as two words: 8-byte alignment keeps the row at 48 bytes).
struct TxnRow {
    price: [u64; 2],
    ts: i64,
    rn: u64,
    ch: u32,
    k: u32,
    qty: i64,
}

/// The kept `list` rows, in fixed-size chunks: a growing `Vec` doubles and copies, and its
/// last growth held 1.5× the rows twice over at the pass's peak (10 M rows: 107 MB of the
/// pass's 443 MB; 100 M rows: about ten times that).
#[derive(Default)]
struct ListRows {
    chunks: Vec<Vec<ListRow>>,
}

impl ListRows {
    /// 3 MB a chunk.
    const CHUNK: usize = 1 << 16;

    fn push(&mut self, row: ListRow) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < c.capacity() => c.push(row),
            _ => {
                let mut c = Vec::with_capacity(Self::CHUNK);
                c.push(row);
                self.chunks.push(c);
            }
        }
    }

    /// Every row in (k, ch, ts, rn) order, without a copy: each chunk sorted in place (both
    /// cores), then merged. (Scattering them into one sorted `Vec` cost 1.4 s at 100 M rows, most
    /// of it the kernel handing out and zeroing the 270 MB of fresh pages.)
    fn into_sorted(mut self) -> SortedLists {
        use rayon::prelude::*;
        self.chunks.par_iter_mut().for_each(|c| c.sort_unstable_by_key(ListRow::order));
        let heads = self
            .chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.first().map(|l| std::cmp::Reverse((l.order(), i))))
            .collect();
        SortedLists { pos: vec![0; self.chunks.len()], chunks: self.chunks, heads }
    }
}

/// [`ListRows::into_sorted`]: a k-way merge of the sorted chunks.
struct SortedLists {
    chunks: Vec<Vec<ListRow>>,
    pos: Vec<usize>,
    /// The next row of each chunk not yet merged: (its order, chunk).
    heads: std::collections::BinaryHeap<std::cmp::Reverse<((u32, u32, i64, u64), usize)>>,
}

impl Iterator for SortedLists {
    type Item = ListRow;

    fn next(&mut self) -> Option<ListRow> {
        let std::cmp::Reverse((_, c)) = self.heads.pop()?;
        let row = self.chunks[c][self.pos[c]];
        self.pos[c] += 1;
        if let Some(l) = self.chunks[c].get(self.pos[c]) {
            self.heads.push(std::cmp::Reverse((l.order(), c)));
        }
        Some(row)
    }
}

/// A price reference's row, as evidence: compact (one per reference and registration, so
/// 100 M-row dumps hold millions): the fold's own [`Hit`], 40 bytes in an `Option` where fields
/// of an `i128` price and a `u32` channel took 64 (a registration's evidence holds six to eight;
/// PERF.md, "page faults").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceHit(Hit);

const _: () = assert!(std::mem::size_of::<Option<PriceHit>>() == 40);

impl PriceHit {
    /// The row's record number.
    pub fn rn(&self) -> u64 {
        self.0.rn
    }

    /// The row's time (UTC microseconds).
    pub fn ts(&self) -> i64 {
        self.0.ts
    }

    pub fn price(&self) -> crate::money::Dec {
        crate::money::Dec::from_money(self.0.price())
    }

    /// The channel: an index into [`PriceFacts::channels`].
    pub fn ch(&self) -> u32 {
        self.0.ch()
    }
}

/// What the fold hands out: each registration's references, and the channel names they cite.
pub struct PriceFacts {
    pub per_reg: Vec<PriceEvidence>,
    pub channels: Vec<String>,
}

/// The row that sets each price reference of one registration (`None`: no candidate).
#[derive(Clone, Debug, Default)]
pub struct PriceEvidence {
    pub lowest_30d: Option<PriceHit>,
    pub lowest_180d: Option<PriceHit>,
    pub list: Option<PriceHit>,
    pub warmup: Option<PriceHit>,
    pub baseline: Option<PriceHit>,
    pub last_txn: Option<PriceHit>,
    /// SPEC §10's facts, where the registration's rules need them.
    pub extra: Option<Box<PriceExtra>>,
}

/// SPEC §10's facts of one registration from the price rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceExtra {
    /// P112: the lowest `huopin` transaction in the promo window.
    pub promo_low: Option<PriceHit>,
    /// P114: the highest `huopin` transaction in the promo's first hour.
    pub first_hour_high: Option<PriceHit>,
    /// K501–K503: the SKU's counted sales (`None`: not needed).
    pub sales: Option<Sales>,
    /// P110: the first edit in the lock.
    pub lock_edit: Option<LockEdit>,
}

/// The counted sales of one SKU (SPEC §10.4): `huopin` transactions from the warm-up start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sales {
    /// `ws`: the counting starts there (the slot's first registration's warm-up start).
    pub from: i64,
    /// The earliest, from `ws` on.
    pub first: Option<i64>,
    /// Over the turnover window: Σ price × qty in money units (`None`: too large for an `i128`,
    /// above every threshold), the rows, and whether one had no `qty`.
    pub turnover: Option<i128>,
    pub rows: u32,
    pub missing_qty: bool,
}

impl Sales {
    /// The sales of two SKUs of one slot together (SPEC §10.4: each row once).
    pub fn merge(self, o: Sales) -> Sales {
        Sales {
            from: self.from,
            first: match (self.first, o.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            // a sum past an i128 stays above every threshold
            turnover: self.turnover.zip(o.turnover).and_then(|(a, b)| a.checked_add(b)),
            rows: self.rows.saturating_add(o.rows),
            missing_qty: self.missing_qty || o.missing_qty,
        }
    }
}

impl<'a> PriceFold<'a> {
    /// `channel_table`: the channel names to code first (`profile::channel_names`), in order.
    pub fn new(
        regs: &[Registration],
        wins: &'a [Windows],
        promo_wins: &[Option<super::windows::PromoWindows>],
        settings: &Settings,
        bits: &'a ChannelBits,
        channel_table: &[String],
    ) -> PriceFold<'a> {
        let nk = regs.iter().map(|r| r.k as usize + 1).max().unwrap_or(0);
        let mut start = vec![0u32; nk + 1];
        for r in regs {
            start[r.k as usize + 1] += 1;
        }
        for i in 0..nk {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut by_k = vec![0u32; regs.len()];
        for (i, r) in regs.iter().enumerate() {
            by_k[fill[r.k as usize] as usize] = i as u32;
            fill[r.k as usize] += 1;
        }
        let mut extras = Vec::new();
        let regs = regs
            .iter()
            .zip(wins)
            .zip(promo_wins)
            .map(|((r, w), pw)| {
                let p = &settings.profiles[r.profile];
                let extra = match pw {
                    Some(pw) => {
                        extras.push(ExtraFold { w: *pw, turnover: Some(0), ..Default::default() });
                        (extras.len() - 1) as u32
                    }
                    None => NO_EXTRA,
                };
                RegFold {
                    extra,
                    w,
                    xmask: bits.mask(r.profile),
                    basis_txn: p.basis.txn(),
                    basis_list: p.basis.list(),
                    lowest_30d: None,
                    lowest_180d: None,
                    list: None,
                    warmup: None,
                    baseline: None,
                    last_txn: None,
                }
            })
            .collect();
        let mut channels = Channels::new(channel_table, bits);
        let (huopin, regular) = (channels.code("huopin", bits), channels.code("regular", bits));
        PriceFold {
            bits,
            always: bits.always(),
            channels,
            start,
            by_k,
            regs,
            extras,
            huopin,
            regular,
            lists: ListRows::default(),
            txns: Vec::new(),
            txn_chunk: nk.saturating_mul(TXN_ROWS_PER_SKU).clamp(*TXN_CHUNK.start(), *TXN_CHUNK.end()),
        }
    }

    fn regs_of(&self, k: u32) -> std::ops::Range<usize> {
        let k = k as usize;
        if k + 1 >= self.start.len() {
            return 0..0;
        }
        self.start[k] as usize..self.start[k + 1] as usize
    }

    /// Fold one batch of good price rows (`rn`, `k`, `ts`, `price`, `is_list`, `channel`,
    /// `until`; `qty` when the dump has it); with a [`crate::dump::KEEP`] column, only its rows
    /// marked `true` (the others' values are anything: a rejected row's may be null).
    pub fn add(&mut self, df: &DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let mut df = df.clone();
        df.rechunk_mut();
        // each column's one array (the frame rechunked)
        fn one<T: PolarsDataType>(ca: &ChunkedArray<T>) -> &T::Array {
            ca.downcast_as_array()
        }
        let rn = df.column(RN)?.cast(&DataType::UInt64)?;
        let rn = one(rn.u64()?).values();
        let k = df.column("k")?.cast(&DataType::UInt32)?;
        let k = one(k.u32()?).values();
        let ts = one(df.column("ts")?.i64()?);
        let price = df.column("price")?.decimal()?.physical().clone();
        let price = one(&price);
        let is_list = one(df.column("is_list")?.bool()?);
        let until = one(df.column("until")?.i64()?);
        let channel = one(df.column("channel")?.str()?);
        // K503's quantities, when the dump has them
        let qty = match df.column("qty") {
            Ok(c) => Some(c.cast(&DataType::Int64)?),
            Err(_) => None,
        };
        let qty = qty.as_ref().map(|c| c.i64().map(one)).transpose()?;
        // the rows to fold: those marked kept (every row of a batch without marks); a kept row
        // holds a time and a price (the checks refuse a row without)
        let kept = match df.column(crate::dump::KEEP) {
            Ok(c) => {
                let m = one(c.bool()?);
                match m.validity() {
                    Some(valid) => polars_arrow::bitmap::and(m.values(), valid),
                    None => m.values().clone(),
                }
            }
            Err(_) => polars_arrow::bitmap::Bitmap::new_with_value(true, df.height()),
        };
        // a batch gathered alone and already clustered by SKU is folded at once (gathered up to
        // a chunk only when the rows come in another order: they are sorted by SKU then)
        let alone = self.txns.is_empty();
        // neighbouring rows often share a channel: remember the last name's code
        let mut last: Option<(&str, u32)> = None;
        for i in kept.true_idx_iter() {
            let (Some(t), Some(p)) = (ts.get(i), price.get(i)) else {
                return Err(Error::internal("a kept price row without its time or price"));
            };
            // SPEC §2: an empty or missing channel is `regular`
            let name = match channel.get(i) {
                None | Some("") => "regular",
                Some(n) => n,
            };
            let ch = match last {
                Some((n, c)) if n == name => c,
                _ => {
                    let c = self.channels.code(name, self.bits);
                    last = Some((name, c));
                    c
                }
            };
            let h = Hit::new(halves(p), t, rn[i], ch);
            if is_list.get(i).unwrap_or(false) {
                if self.regs_of(k[i]).is_empty() {
                    continue; // no registration reads it
                }
                self.lists.push(ListRow {
                    k: k[i],
                    ch,
                    ts: h.ts,
                    until: until.get(i).unwrap_or(NO_UNTIL),
                    rn: h.rn,
                    price: h.price,
                });
            } else if !self.regs_of(k[i]).is_empty() {
                let qty = qty.and_then(|q| q.get(i)).unwrap_or(NO_QTY);
                self.txns.push(TxnRow { price: h.price, ts: h.ts, rn: h.rn, ch, k: k[i], qty });
                if self.txns.len() >= self.txn_chunk {
                    self.fold_txns();
                }
            }
        }
        if alone && clustered(&self.txns) {
            self.fold_txns();
        } else if self.txns.capacity() < self.txn_chunk {
            // gathering a chunk: its room taken once (doubling up to it held the last two
            // sizes together, 72 MB, at the pass's peak)
            self.txns.reserve_exact(self.txn_chunk - self.txns.len());
        }
        Ok(())
    }

    /// Fold the gathered `txn` rows into their registrations, by SKU: a SKU's registrations' fold
    /// state is then visited once per chunk, whatever the dump's row order. (Rows in random
    /// order, as a hash-partitioned export writes them, visited it at random, a cache miss or
    /// more per row: 8× the fold's time of rows clustered by SKU.) The fold does not depend on
    /// the rows' order (ties go by `rn`); rows already clustered are folded as they are.
    fn fold_txns(&mut self) {
        let mut rows = std::mem::take(&mut self.txns);
        if !clustered(&rows) {
            rows.sort_unstable_by_key(|r| r.k);
        }
        for r in &rows {
            let h = Hit::new(r.price, r.ts, r.rn, r.ch);
            let chbit = self.channels.bit[r.ch as usize];
            let huopin = r.ch == self.huopin;
            for j in self.regs_of(r.k) {
                let ri = self.by_k[j] as usize;
                self.regs[ri].txn(h, chbit, self.always);
                let e = self.regs[ri].extra;
                if huopin && e != NO_EXTRA {
                    self.extras[e as usize].huopin_txn(h, (r.qty != NO_QTY).then_some(r.qty));
                }
            }
        }
        rows.clear();
        self.txns = rows;
    }

    /// Fold the kept `list` rows (SPEC §2: in force over `[ts, end)`, `end` = `until`, else the
    /// next `list` row of the same SKU and channel in (ts, file) order; a row followed by another
    /// at the same instant is superseded and counts nowhere), then hand out the evidence.
    pub fn finish(mut self) -> PriceFacts {
        self.fold_txns();
        self.txns = Vec::new();
        let mut lists = std::mem::take(&mut self.lists).into_sorted().peekable();
        // P110: the regular chain of one SKU, kept while its rows pass (they are contiguous)
        let mut chain: Vec<ChainRow> = Vec::new();
        while let Some(l) = lists.next() {
            let next = lists.peek().filter(|n| n.k == l.k && n.ch == l.ch);
            if next.is_some_and(|n| n.ts == l.ts) {
                continue; // superseded
            }
            let end = l.until().or(next.map(|n| n.ts));
            let h = Hit::new(l.price, l.ts, l.rn, l.ch);
            if l.ch == self.regular && self.needs_lock(l.k) {
                chain.push(ChainRow { hit: h, end });
                if next.is_none() {
                    self.lock_edits(l.k, &chain);
                    chain.clear();
                }
            }
            let (chbit, list_ref) = (self.channels.bit[l.ch as usize], self.channels.list_ref[l.ch as usize]);
            for j in self.regs_of(l.k) {
                let ri = self.by_k[j] as usize;
                self.regs[ri].list(h, end, chbit, list_ref, self.always);
            }
        }
        let per_reg = self
            .regs
            .iter()
            .map(|r| PriceEvidence {
                lowest_30d: hit(r.lowest_30d),
                lowest_180d: hit(r.lowest_180d),
                list: hit(r.list),
                warmup: hit(r.warmup),
                baseline: hit(r.baseline),
                last_txn: hit(r.last_txn),
                extra: (r.extra != NO_EXTRA).then(|| {
                    let e = &self.extras[r.extra as usize];
                    Box::new(PriceExtra {
                        promo_low: hit(e.promo_low),
                        first_hour_high: hit(e.first_hour_high),
                        sales: e.w.sales.map(|w| Sales {
                            from: w.from,
                            first: e.first_sale,
                            turnover: e.turnover,
                            rows: e.turnover_rows,
                            missing_qty: e.missing_qty,
                        }),
                        lock_edit: e.lock_edit,
                    })
                }),
            })
            .collect();
        PriceFacts { per_reg, channels: self.channels.names }
    }
}

fn hit(h: Option<Hit>) -> Option<PriceHit> {
    h.map(PriceHit)
}

/// A regular `list` row of one SKU (not superseded), in force over `[ts, end)`: P110's chain.
#[derive(Clone, Copy, Debug)]
struct ChainRow {
    hit: Hit,
    end: Option<i64>,
}

impl PriceFold<'_> {
    /// Does a registration of SKU `k` read P110's lock edits?
    fn needs_lock(&self, k: u32) -> bool {
        self.regs_of(k).any(|j| {
            let e = self.regs[self.by_k[j] as usize].extra;
            e != NO_EXTRA && self.extras[e as usize].w.lock.is_some()
        })
    }

    /// P110 for every registration of SKU `k` that reads it, from the SKU's regular chain.
    fn lock_edits(&mut self, k: u32, chain: &[ChainRow]) {
        for j in self.regs_of(k) {
            let e = self.regs[self.by_k[j] as usize].extra;
            if e == NO_EXTRA {
                continue;
            }
            if let Some(lock) = self.extras[e as usize].w.lock {
                self.extras[e as usize].lock_edit = lock_edit(&lock, chain);
            }
        }
    }
}

/// SPEC §10.2 P110 on one SKU's regular chain (by `ts`; no two rows at one instant): (a) a row
/// starting in the lock whose price differs from that of the row in force at `ts − 1 µs` (none
/// in force: a first listing, no edit); (b) an instant of the lock covered by no row although
/// one was in force at the lock's start (the listing taken down: the first uncovered instant of
/// each gap). The first edit by (instant, file order), and how many.
fn lock_edit(lock: &super::windows::Window, chain: &[ChainRow]) -> Option<LockEdit> {
    let in_force = |c: &ChainRow, t: i64| c.hit.ts <= t && c.end.is_none_or(|e| e > t);
    let later = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => a > b,
    };
    // (instant, file order, taken down, row, previous price)
    let mut edits: Vec<(i64, u64, bool, Hit, i128)> = Vec::new();
    for (i, c) in chain.iter().enumerate() {
        if !lock.holds_point(c.hit.ts) {
            continue;
        }
        // the latest row in force just before (rows start at distinct instants)
        if let Some(p) = chain[..i].iter().rev().find(|p| in_force(p, c.hit.ts - 1)) {
            if p.hit.price() != c.hit.price() {
                edits.push((c.hit.ts, c.hit.rn, false, c.hit, p.hit.price()));
            }
        }
    }
    // (b): the coverage from the rows in force at the lock's start, gap by gap
    if let Some(q) = chain.iter().rposition(|c| in_force(c, lock.from)) {
        let (mut cov, mut last) = (chain[q].end, q);
        for (i, c) in chain[..q].iter().enumerate() {
            if in_force(c, lock.from) && later(c.end, cov) {
                (cov, last) = (c.end, i);
            }
        }
        for (i, c) in chain.iter().enumerate().skip(q + 1) {
            let Some(e) = cov else { break };
            if c.hit.ts > e {
                if !lock.holds_point(e) {
                    break;
                }
                edits.push((e, chain[last].hit.rn, true, chain[last].hit, chain[last].hit.price()));
                (cov, last) = (c.end, i);
            } else if later(c.end, cov) {
                (cov, last) = (c.end, i);
            }
        }
        // the coverage's last end (a gap already counted moved `cov` past itself)
        if let Some(e) = cov {
            if lock.holds_point(e) {
                edits.push((e, chain[last].hit.rn, true, chain[last].hit, chain[last].hit.price()));
            }
        }
    }
    let count = edits.len() as u32;
    let (at, _, taken_down, row, previous) = edits.into_iter().min_by_key(|x| (x.0, x.1))?;
    Some(LockEdit { at, taken_down, row: PriceHit(row), previous, count })
}

/// A price row as evidence.
#[derive(Clone, Debug)]
pub struct PriceRow {
    pub rn: u64,
    pub ts: i64,
    pub price: crate::money::Dec,
    pub channel: String,
    pub is_list: bool,
    pub end: Option<i64>,
}

/// Every row of a price/interval frame as [`PriceRow`]s (for small frames: evidence, explain).
pub fn price_rows(df: &DataFrame) -> Result<Vec<PriceRow>> {
    let rn = df.column(RN)?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    let ts = df.column("ts")?.i64()?;
    let price = crate::registration::money(df, "price")?;
    let ch = df.column("channel")?.str()?;
    let is_list = df.column("is_list")?.bool()?;
    let end: Vec<Option<i64>> = match df.column("end") {
        Ok(c) => c.i64()?.iter().collect(),
        Err(_) => vec![None; df.height()],
    };
    Ok((0..df.height())
        .map(|i| PriceRow {
            rn: rn.get(i).unwrap_or(0),
            ts: ts.get(i).unwrap_or(0),
            price: price[i].unwrap_or(crate::money::Dec::ZERO),
            channel: ch.get(i).unwrap_or("").to_string(),
            is_list: is_list.get(i).unwrap_or(false),
            end: end[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::windows::Window;

    fn reg(idx: usize, k: u32) -> Registration {
        Registration {
            idx,
            k,
            rn: idx as u64,
            row: idx as u64 + 1,
            registration_id: Default::default(),
            offer_id: Default::default(),
            sku_id: Default::default(),
            merchant_id: Default::default(),
            activity: Default::default(),
            profile: idx % 2,
            category: String::new(),
            registered_at: 1000,
            approved_at: None,
            promo_start: 1400,
            promo_end: 1600,
            warmup_start: Some(1200),
            promo_price: crate::money::Dec::ZERO,
            list_price: None,
            retail_price: None,
            title: String::new(),
            metrics: Default::default(),
            unreadable: None,
        }
    }

    /// A price row: (rn, k, ts, price in money units, is_list, channel, until).
    type Row = (u64, u32, i64, i128, bool, &'static str, Option<i64>);

    fn batch(rows: &[Row]) -> DataFrame {
        let price = Int128Chunked::from_vec("price".into(), rows.iter().map(|r| r.3).collect())
            .into_decimal_unchecked(38, crate::money::MONEY_SCALE as usize);
        DataFrame::new(
            rows.len(),
            vec![
                Column::new(RN.into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                Column::new("k".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
                Column::new("ts".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
                price.into_series().into_column(),
                Column::new("is_list".into(), rows.iter().map(|r| r.4).collect::<Vec<_>>()),
                Column::new("channel".into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
                Column::new("until".into(), rows.iter().map(|r| r.6).collect::<Vec<_>>()),
            ],
        )
        .unwrap()
    }

    /// The fold's evidence does not depend on the rows' order, how they come in batches or how
    /// many `txn` rows are gathered before they are folded by SKU ([`TXN_CHUNK`]): the rows in
    /// file order in one batch and one chunk, shuffled in small batches and chunks of five rows,
    /// and clustered by SKU (folded as they come) give the same rows as evidence.
    #[test]
    fn evidence_is_the_same_whatever_the_order_batches_and_chunks() {
        let settings = Settings::default();
        let bits = ChannelBits::new(&settings).unwrap();
        let table = crate::profile::channel_names(&settings);
        // rows of 64 SKUs; two registrations (two profiles) on every third of the first 60, none on
        // the others
        let regs: Vec<Registration> =
            (0..60u32).filter(|k| k % 3 == 0).flat_map(|k| [k, k]).enumerate().map(|(i, k)| reg(i, k)).collect();
        let w = |from, to, closed| Some(Window { from, to, closed });
        let wins: Vec<Windows> = regs
            .iter()
            .map(|r| Windows {
                lowest_30d: w(300 + r.idx as i64, 1000, true),
                lowest_180d: w(0, 1000, true),
                list_at: Some(1000),
                retail: None,
                warmup: w(1200, 1400, false),
                baseline: Some((Window { from: 500, to: 1400, closed: false }, r.idx % 2 == 0)),
                last_txn_before: Some(1300),
            })
            .collect();
        let promo = vec![None; regs.len()];
        let mut next = crate::dump::csv_scan::tests::xorshift(0x9e37_79b9_7f4a_7c15);
        const CHANNELS: [&str; 5] = ["regular", "huopin", "member_price", "app", "regular"];
        // prices repeat (ties go by time, then file order)
        let rows: Vec<Row> = (0..4000u64)
            .map(|rn| {
                let until = (next(7) == 0).then(|| 1500 + next(500) as i64);
                (
                    rn,
                    next(64) as u32,
                    next(1600) as i64,
                    100 + next(40) as i128,
                    next(5) == 0,
                    CHANNELS[next(5) as usize],
                    until,
                )
            })
            .collect();
        let fold = |batches: Vec<Vec<Row>>, chunk: usize| {
            let mut f = PriceFold::new(&regs, &wins, &promo, &settings, &bits, &table);
            f.txn_chunk = chunk;
            for b in batches {
                f.add(&batch(&b)).unwrap();
            }
            format!("{:?}", f.finish().per_reg)
        };
        let whole = fold(vec![rows.clone()], rows.len() + 1);
        assert!(whole.matches("Some(PriceHit").count() > 150, "the rows set evidence: {whole}");
        let mut shuffled = rows.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, next(i as u64 + 1) as usize);
        }
        assert_eq!(fold(shuffled.chunks(37).map(<[Row]>::to_vec).collect(), 5), whole);
        let mut clustered = rows.clone();
        clustered.sort_by_key(|r| r.1);
        assert_eq!(fold(clustered.chunks(500).map(<[Row]>::to_vec).collect(), 7), whole);
        // the chunk: four rows a registered SKU, within its bounds
        let f = PriceFold::new(&regs, &wins, &promo, &settings, &bits, &table);
        assert_eq!(f.txn_chunk, *TXN_CHUNK.start());
    }
}
