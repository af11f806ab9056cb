//! The price-row facts, in one polars plan over the registered SKUs' rows: for every registration,
//! the row that sets each reference (lowest_30d, lowest_180d, list in force, warm-up minimum,
//! P109 baseline). Rules never see this table; they get the evidence rows.

use super::windows::{Window, Windows};
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
pub struct ChannelBits {
    bits: HashMap<String, u64>,
}

impl ChannelBits {
    pub fn new(settings: &Settings) -> Result<ChannelBits> {
        let mut bits = HashMap::new();
        let names = ALWAYS_EXCLUDED
            .iter()
            .map(|s| s.to_string())
            .chain(settings.profiles.iter().flat_map(|p| p.excluded_channels.iter().cloned()));
        for n in names {
            let next = bits.len();
            bits.entry(n).or_insert(next);
        }
        if bits.len() > 63 {
            return Err(Error::new(format!(
                "{} distinct excluded channel names; at most 63 are supported",
                bits.len()
            )));
        }
        Ok(ChannelBits { bits: bits.into_iter().map(|(k, v)| (k, 1u64 << v)).collect() })
    }

    pub fn bit(&self, channel: &str) -> u64 {
        self.bits.get(channel).copied().unwrap_or(0)
    }

    /// The mask of channels excluded by `names` plus the ones excluded everywhere.
    pub fn mask<'a>(&self, names: impl Iterator<Item = &'a String>) -> u64 {
        ALWAYS_EXCLUDED.iter().map(|n| self.bit(n)).chain(names.map(|n| self.bit(n))).fold(0, |a, b| a | b)
    }

    pub fn always(&self) -> u64 {
        self.mask(std::iter::empty())
    }
}

/// `regular` and unknown channels may be the §4.3 list price; known non-regular ones may not.
pub fn is_list_reference_channel(channel: &str) -> bool {
    channel == "regular" || !KNOWN_CHANNELS.contains(&channel)
}

/// The price rows of registered SKUs with `chbit`, `list_ref`, `end` and `superseded`
/// (`txn` rows: no end, never superseded).
pub fn intervals(prices: &DataFrame, bits: &ChannelBits) -> Result<DataFrame> {
    Ok(intervals_lazy(prices, bits).collect()?)
}

/// [`intervals`] as a plan, for the facts join to stream (the table is never copied whole).
pub fn intervals_lazy(prices: &DataFrame, bits: &ChannelBits) -> LazyFrame {
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
    concat([lists, txns], UnionArgs::default()).expect("two frames of one schema")
}

/// The per-registration parameters of the facts plan, as a DataFrame keyed by `ri`.
fn params(regs: &[Registration], wins: &[Windows], settings: &Settings, bits: &ChannelBits) -> Result<DataFrame> {
    let n = regs.len();
    let mut ri = Vec::with_capacity(n);
    let mut k = Vec::with_capacity(n);
    let mut xmask = Vec::with_capacity(n);
    let (mut b_txn, mut b_list) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut cols: HashMap<&str, (Vec<bool>, Vec<i64>, Vec<i64>)> = HashMap::new();
    let names = ["l30", "l180", "li", "wu", "bl", "fb"];
    for nm in names {
        cols.insert(nm, (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)));
    }
    let mut bl_list = Vec::with_capacity(n);
    let mut push = |name: &str, w: Option<(i64, i64)>| {
        let e = cols.get_mut(name).unwrap();
        e.0.push(w.is_some());
        e.1.push(w.map_or(0, |x| x.0));
        e.2.push(w.map_or(0, |x| x.1));
    };
    let span = |w: &Option<Window>| w.map(|w| (w.from, w.to));
    for (r, w) in regs.iter().zip(wins) {
        let p = &settings.profiles[r.profile];
        ri.push(r.idx as u32);
        k.push(r.k);
        xmask.push(bits.mask(p.excluded_channels.iter()));
        b_txn.push(p.basis.txn());
        b_list.push(p.basis.list());
        push("l30", span(&w.lowest_30d));
        push("l180", span(&w.lowest_180d));
        push("li", w.list_at.map(|t| (t, t)));
        push("wu", span(&w.warmup));
        push("bl", w.baseline.map(|(b, _)| (b.from, b.to)));
        bl_list.push(w.baseline.is_some_and(|(_, l)| l));
        push("fb", w.last_txn_before.map(|t| (t, t)));
    }
    let mut columns = vec![
        Column::new("ri".into(), ri),
        Column::new("k".into(), k),
        Column::new("xmask".into(), xmask),
        Column::new("b_txn".into(), b_txn),
        Column::new("b_list".into(), b_list),
        Column::new("bl_list".into(), bl_list),
    ];
    for nm in names {
        let (on, a, b) = cols.remove(nm).unwrap();
        columns.push(Column::new(format!("{nm}_on").into(), on));
        columns.push(Column::new(format!("{nm}_a").into(), a));
        columns.push(Column::new(format!("{nm}_b").into(), b));
    }
    Ok(DataFrame::new(n, columns)?)
}

/// The `rn` of the row that sets each price reference, per registration (`None`: no candidate).
#[derive(Clone, Debug, Default)]
pub struct PriceEvidence {
    pub lowest_30d: Option<u64>,
    pub lowest_180d: Option<u64>,
    pub list: Option<u64>,
    pub warmup: Option<u64>,
    pub baseline: Option<u64>,
    pub last_txn: Option<u64>,
}

fn not_excluded(mask: Expr) -> Expr {
    mask.and(col("chbit")).eq(lit(0u64))
}

/// `txn` at ts in `[a, b]` (closed) or `[a, b)`; `list` over `[ts, end)` meeting it.
fn in_window(a: Expr, b: Expr, closed: bool) -> Expr {
    let ts = col("ts");
    let before_end = if closed { ts.clone().lt_eq(b) } else { ts.clone().lt(b) };
    let list_meets = before_end.clone().and(col("end").is_null().or(col("end").gt(a.clone())));
    let txn_in = ts.gt_eq(a).and(before_end);
    when(col("is_list")).then(list_meets).otherwise(txn_in)
}

/// The `rn` of the lowest-priced row where `cond` holds (ties: earliest ts, then file order).
/// The joined frame is sorted by (registration, price, ts, rn) once, so within each group the
/// first row that holds is the one.
fn lowest_rn(cond: Expr) -> Expr {
    col(RN).filter(cond.fill_null(lit(false))).first()
}

/// The `rn` of the latest row where `cond` holds (ties: the last in file order).
fn latest_rn(cond: Expr) -> Expr {
    let cond = cond.fill_null(lit(false));
    let at_latest = cond.clone().and(col("ts").eq(col("ts").filter(cond).max()));
    col(RN).filter(at_latest).max()
}

/// Facts of SPEC §4.1, §4.3, §5.1 P106, §9: one join of registrations with their SKU's rows and
/// one grouped aggregation.
pub fn price_evidence(
    iv: LazyFrame,
    regs: &[Registration],
    wins: &[Windows],
    settings: &Settings,
    bits: &ChannelBits,
) -> Result<Vec<PriceEvidence>> {
    let params = params(regs, wins, settings, bits)?;
    let always = lit(bits.always());
    let rows = iv.filter(col("superseded").not()).select([
        col("k"),
        col(RN),
        col("ts"),
        col("price"),
        col("is_list"),
        col("end"),
        col("chbit"),
        col("list_ref"),
    ]);
    let j = params.lazy().join(rows, [col("k")], [col("k")], JoinArgs::new(JoinType::Inner));
    let on = |n: &str| col(format!("{n}_on"));
    let a = |n: &str| col(format!("{n}_a"));
    let b = |n: &str| col(format!("{n}_b"));
    let basis = when(col("is_list")).then(col("b_list")).otherwise(col("b_txn"));
    let lowest = |n: &str| on(n).and(basis.clone()).and(not_excluded(col("xmask"))).and(in_window(a(n), b(n), true));
    // §4.3: a regular (or unknown-channel) list row in force at t: ts ≤ t < end.
    let list_at = on("li")
        .and(col("is_list"))
        .and(col("list_ref"))
        .and(col("ts").lt_eq(a("li")))
        .and(col("end").is_null().or(col("end").gt(a("li"))));
    let warmup = on("wu").and(not_excluded(always.clone())).and(in_window(a("wu"), b("wu"), false));
    let baseline = on("bl")
        .and(not_excluded(always.clone()))
        .and(col("is_list").not().or(col("bl_list")))
        .and(in_window(a("bl"), b("bl"), false));
    let last_txn = on("fb").and(not_excluded(always)).and(col("is_list").not()).and(col("ts").lt(a("fb")));
    // Evaluate each fact's condition right after the join and keep only what the aggregation
    // reads, so the sort moves narrow rows. In memory: the group-by keeps each group's rows in
    // frame order, which the sort sets.
    let out = j
        .select([
            col("ri"),
            col("price"),
            col("ts"),
            col(RN),
            lowest("l30").fill_null(lit(false)).alias("c_l30"),
            lowest("l180").fill_null(lit(false)).alias("c_l180"),
            list_at.fill_null(lit(false)).alias("c_li"),
            warmup.fill_null(lit(false)).alias("c_wu"),
            baseline.fill_null(lit(false)).alias("c_bl"),
            last_txn.fill_null(lit(false)).alias("c_fb"),
        ])
        .filter(any_horizontal([col("c_l30"), col("c_l180"), col("c_li"), col("c_wu"), col("c_bl"), col("c_fb")])?)
        // the join and conditions stream in chunks; only the narrow candidates are materialised
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single()
        .lazy()
        .sort(["ri", "price", "ts", RN], SortMultipleOptions::default())
        .group_by([col("ri")])
        .agg([
            lowest_rn(col("c_l30")).alias("l30"),
            lowest_rn(col("c_l180")).alias("l180"),
            latest_rn(col("c_li")).alias("li"),
            lowest_rn(col("c_wu")).alias("wu"),
            lowest_rn(col("c_bl")).alias("bl"),
            latest_rn(col("c_fb")).alias("fb"),
        ])
        .collect()?;
    let mut ev = vec![PriceEvidence::default(); regs.len()];
    let ri = out.column("ri")?.u32()?;
    let get = |name: &str| -> Result<Vec<Option<u64>>> {
        Ok(out.column(name)?.cast(&DataType::UInt64)?.u64()?.iter().collect())
    };
    let (l30, l180, li, wu, bl, fb) = (get("l30")?, get("l180")?, get("li")?, get("wu")?, get("bl")?, get("fb")?);
    for (i, r) in ri.iter().enumerate() {
        let e = &mut ev[r.expect("ri") as usize];
        *e = PriceEvidence {
            lowest_30d: l30[i],
            lowest_180d: l180[i],
            list: li[i],
            warmup: wu[i],
            baseline: bl[i],
            last_txn: fb[i],
        };
    }
    Ok(ev)
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

/// Fetch the given rows (distinct `rn`s) of a price frame: one walk over the `rn`
/// column against a bitmap of the wanted ones finds their positions (the streaming load does not
/// promise file order), then a gather takes them.
pub fn rows_by_rn(prices: &DataFrame, rns: &[u64]) -> Result<RowsByRn> {
    let pos = positions(prices, rns)?;
    let df = prices.take(&IdxCa::from_vec("pos".into(), pos))?;
    let mut rows = price_rows(&df)?;
    rows.sort_unstable_by_key(|r| r.rn);
    Ok(RowsByRn(rows))
}

/// Price rows sorted by `rn`, looked up by binary search (millions of lookups at 100 M rows).
pub struct RowsByRn(Vec<PriceRow>);

impl std::ops::Index<&u64> for RowsByRn {
    type Output = PriceRow;
    fn index(&self, rn: &u64) -> &PriceRow {
        let i = self.0.binary_search_by_key(rn, |r| r.rn).expect("evidence row fetched");
        &self.0[i]
    }
}

/// The positions in `df` of the rows whose `rn` is in `rns`.
fn positions(df: &DataFrame, rns: &[u64]) -> Result<Vec<IdxSize>> {
    let Some(&max) = rns.iter().max() else { return Ok(vec![]) };
    let mut wanted = vec![0u64; max as usize / 64 + 1];
    for &r in rns {
        wanted[r as usize / 64] |= 1 << (r % 64);
    }
    let is_wanted = |v: u64| v <= max && wanted[v as usize / 64] & (1 << (v % 64)) != 0;
    let rn = df.column(RN)?.as_materialized_series();
    let mut out = Vec::with_capacity(rns.len());
    let mut i: IdxSize = 0;
    let mut visit = |v: u64| {
        if is_wanted(v) {
            out.push(i);
        }
        i += 1;
    };
    match rn.dtype() {
        DataType::UInt32 => rn.u32()?.downcast_iter().for_each(|a| a.values().iter().for_each(|&v| visit(v as u64))),
        _ => {
            let rn = rn.cast(&DataType::UInt64)?;
            rn.u64()?.downcast_iter().for_each(|a| a.values().iter().for_each(|&v| visit(v)))
        }
    }
    Ok(out)
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

    #[test]
    fn positions_do_not_assume_file_order() {
        // the streaming load may hand rows back out of file order
        let df = DataFrame::new(4, vec![Column::new(RN.into(), [5u32, 2, 9, 7])]).unwrap();
        assert_eq!(positions(&df, &[2, 7]).unwrap(), vec![1, 3]);
        assert_eq!(positions(&df, &[9]).unwrap(), vec![2]);
        assert!(positions(&df, &[]).unwrap().is_empty());
        assert!(positions(&df, &[100]).unwrap().is_empty());
    }
}
