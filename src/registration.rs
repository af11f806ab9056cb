//! A registration as a typed Rust row. Registrations are the small table (one row per registered
//! SKU); the price table never leaves polars.

use crate::dump::schema::METRICS;
use crate::dump::{Dump, RN};
use crate::error::Result;
use crate::findings::Table;
use crate::id::{Id, Interner};
use crate::money::{Dec, Packed};
use polars::prelude::*;

#[derive(Clone, Debug)]
pub struct Registration {
    /// Position in [`crate::facts::Facts::registrations`] (file order of good rows).
    pub idx: usize,
    /// Dense key of (offer_id, sku_id).
    pub k: u32,
    /// polars record number and the row users see (CSV line or Parquet row).
    pub rn: u64,
    pub row: u64,
    pub registration_id: Id,
    pub offer_id: Id,
    pub sku_id: Id,
    pub merchant_id: Id,
    pub activity: Id,
    /// Index of the activity's profile in `Settings::profiles`.
    pub profile: usize,
    pub category: String,
    pub registered_at: i64,
    pub approved_at: Option<i64>,
    pub promo_start: i64,
    pub promo_end: i64,
    pub warmup_start: Option<i64>,
    pub promo_price: Dec,
    /// Packed (16 bytes; an `Option<Dec>` is 64): read them by [`Self::list_price`] and
    /// [`Self::retail_price`].
    pub list_price: Option<Packed>,
    pub retail_price: Option<Packed>,
    pub title: String,
    /// Eligibility metrics in [`METRICS`] order (SPEC §5.3), `None` where empty or not a number.
    pub metrics: [Option<Packed>; METRICS.len()],
    /// The metrics given but not decimals, as written (by [`METRICS`] index): a gate names one
    /// as its example of a value it cannot compare. Rare: `None` for almost every row.
    pub unreadable: Option<Box<[Unreadable]>>,
}

/// A metric given but not a decimal: its index in [`METRICS`] and its text.
pub type Unreadable = (u8, Box<str>);

impl Registration {
    /// The metric of column `name` (one of [`METRICS`]).
    /// The list price the registration gives.
    pub fn list_price(&self) -> Option<Dec> {
        self.list_price.as_ref().map(Packed::get)
    }

    /// The retail price the registration gives.
    pub fn retail_price(&self) -> Option<Dec> {
        self.retail_price.as_ref().map(Packed::get)
    }

    pub fn metric(&self, name: &str) -> Option<Dec> {
        let i = METRICS.iter().position(|m| *m == name)?;
        self.metrics[i].as_ref().map(Packed::get)
    }

    /// The text of metric `name` when it was given but is not a decimal.
    pub fn unreadable_metric(&self, name: &str) -> Option<&str> {
        let i = METRICS.iter().position(|m| *m == name)? as u8;
        self.unreadable.as_deref()?.iter().find(|(j, _)| *j == i).map(|(_, t)| &**t)
    }
}

fn times(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(df.column(name)?.i64()?.iter().collect())
}

pub fn money(df: &DataFrame, name: &str) -> Result<Vec<Option<Dec>>> {
    Ok(scaled(df, name)?.into_iter().map(|v| v.map(Dec::from_money)).collect())
}

/// A money column's scaled integers (16 bytes a row, where an `Option<Dec>` is 64).
fn scaled(df: &DataFrame, name: &str) -> Result<Vec<Option<i128>>> {
    Ok(df.column(name)?.decimal()?.physical().iter().collect())
}

/// The good registrations of a dump as Rust rows (file order).
pub fn from_dump(dump: &Dump, settings: &crate::profile::Settings) -> Result<Vec<Registration>> {
    let df = &dump.registrations;
    let source = dump.source(Table::Registrations).expect("registrations loaded");
    let n = df.height();
    let rn: Vec<u64> = df.column(RN)?.cast(&DataType::UInt64)?.u64()?.iter().map(|v| v.unwrap_or(0)).collect();
    let k: Vec<u32> = df.column("k")?.cast(&DataType::UInt32)?.u32()?.iter().map(|v| v.unwrap_or(0)).collect();
    // the text columns read in place as the rows are made (each value copied once, into its
    // registration: a `String` per cell first was seven allocations a row more)
    use rayon::prelude::*;
    let names = ["registration_id", "offer_id", "sku_id", "merchant_id", "activity", "category", "title"];
    let text: Vec<Column> = names.iter().map(|c| Ok(df.column(c)?.cast(&DataType::String)?)).collect::<Result<_>>()?;
    let [mut id, mut offer, mut sku, mut merchant, mut activity, mut category, mut title] = {
        let mut cells = Vec::with_capacity(text.len());
        for c in &text {
            cells.push(c.str()?.iter().map(|v| v.unwrap_or("")));
        }
        let Ok(cells) = <[_; 7]>::try_from(cells) else { unreachable!("seven columns") };
        cells
    };
    fn next<'a>(cells: &mut impl Iterator<Item = &'a str>) -> &'a str {
        cells.next().unwrap_or("")
    }
    let (reg, appr, ps, pe, ws) = (
        times(df, "registered_at")?,
        times(df, "approved_at")?,
        times(df, "promo_start")?,
        times(df, "promo_end")?,
        times(df, "warmup_start")?,
    );
    // scaled integers and packed decimals (16 bytes; an `Option<Dec>` is 64): at 100 M price
    // rows these columns are a million rows each
    let (promo, list, retail) = (scaled(df, "promo_price")?, scaled(df, "list_price")?, scaled(df, "retail_price")?);
    // each metric's values, and its rows given but not decimals (with their text)
    type Metric = (Vec<Option<Packed>>, Vec<(usize, Box<str>)>);
    let parsed: Vec<Metric> = METRICS
        .par_iter()
        .map(|m| {
            let c = df.column(m)?.cast(&DataType::String)?;
            let mut bad = Vec::new();
            let values = c
                .str()?
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let d = Dec::parse(v.unwrap_or("")).map(Packed::from);
                    if d.is_none() {
                        if let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) {
                            bad.push((i, t.into()));
                        }
                    }
                    d
                })
                .collect();
            Ok((values, bad))
        })
        .collect::<Result<_>>()?;
    let mut unreadable: Vec<Vec<(u8, Box<str>)>> = Vec::new();
    let mut metric_cols: Vec<Vec<Option<Packed>>> = Vec::with_capacity(parsed.len());
    for (j, (values, bad)) in parsed.into_iter().enumerate() {
        for (i, t) in bad {
            if unreadable.is_empty() {
                unreadable.resize_with(n, Vec::new);
            }
            unreadable[i].push((j as u8, t));
        }
        metric_cols.push(values);
    }
    // offers, merchants and activities repeat over rows: each held once
    let (mut offers, mut merchants, mut activities) = (Interner::default(), Interner::default(), Interner::default());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let activity = next(&mut activity);
        out.push(Registration {
            idx: i,
            k: k[i],
            rn: rn[i],
            row: source.row_of(rn[i]),
            registration_id: next(&mut id).into(),
            offer_id: offers.id(next(&mut offer)),
            sku_id: next(&mut sku).into(),
            merchant_id: merchants.id(next(&mut merchant)),
            profile: settings.profile_index(activity).expect("activity validated against profiles"),
            activity: activities.id(activity),
            category: next(&mut category).to_string(),
            registered_at: reg[i].expect("required"),
            approved_at: appr[i],
            promo_start: ps[i].expect("required"),
            promo_end: pe[i].expect("required"),
            warmup_start: ws[i],
            promo_price: Dec::from_money(promo[i].expect("required")),
            list_price: list[i].map(|m| Dec::from_money(m).into()),
            retail_price: retail[i].map(|m| Dec::from_money(m).into()),
            title: next(&mut title).to_string(),
            metrics: std::array::from_fn(|j| metric_cols[j][i].take()),
            unreadable: unreadable.get_mut(i).filter(|u| !u.is_empty()).map(|u| std::mem::take(u).into_boxed_slice()),
        });
    }
    Ok(out)
}
