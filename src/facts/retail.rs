//! The downstream retail reference (SPEC §4.4): the minimum `retail.price` of the SKU observed in
//! `[registered_at − 30 days, registered_at]`, when the registration gives none.

use super::windows::Windows;
use crate::dump::RN;
use crate::error::Result;
use crate::money::Dec;
use crate::registration::Registration;
use polars::prelude::*;

/// A retail observation as evidence.
#[derive(Clone, Debug)]
pub struct RetailRow {
    pub rn: u64,
    pub observed_at: i64,
    pub price: Dec,
    pub platform: String,
}

/// For each registration, the retail row that sets its reference (lowest price, then earliest
/// observation, then file order).
pub fn retail_evidence(retail: &DataFrame, regs: &[Registration], wins: &[Windows]) -> Result<Vec<Option<RetailRow>>> {
    pick(retail, regs, wins.iter().map(|w| w.retail), false)
}

/// P113 (SPEC §10.2): for each registration that gives `retail_price`, the highest retail
/// observation of its SKU in the window (ties: earliest observation, then file order).
pub fn highest_retail(
    retail: &DataFrame,
    regs: &[Registration],
    windows: impl Iterator<Item = Option<super::windows::Window>>,
) -> Result<Vec<Option<RetailRow>>> {
    pick(retail, regs, windows, true)
}

/// The retail row of each registration's SKU in its window (`None`: not wanted): the lowest
/// price, or the highest when `highest`; ties: earliest observation, then file order.
fn pick(
    retail: &DataFrame,
    regs: &[Registration],
    windows: impl Iterator<Item = Option<super::windows::Window>>,
    highest: bool,
) -> Result<Vec<Option<RetailRow>>> {
    let wanted: Vec<(u32, u32, i64, i64)> =
        regs.iter().zip(windows).filter_map(|(r, w)| w.map(|win| (r.idx as u32, r.k, win.from, win.to))).collect();
    if wanted.is_empty() || retail.height() == 0 {
        return Ok(Vec::new()); // nothing wanted: no row per registration either
    }
    let mut out = vec![None; regs.len()];
    let params = DataFrame::new(
        wanted.len(),
        vec![
            Column::new("ri".into(), wanted.iter().map(|w| w.0).collect::<Vec<_>>()),
            Column::new("k".into(), wanted.iter().map(|w| w.1).collect::<Vec<_>>()),
            Column::new("a".into(), wanted.iter().map(|w| w.2).collect::<Vec<_>>()),
            Column::new("b".into(), wanted.iter().map(|w| w.3).collect::<Vec<_>>()),
        ],
    )?;
    let best = params
        .lazy()
        .join(retail.clone().lazy(), [col("k")], [col("k")], JoinArgs::new(JoinType::Inner))
        .filter(col("observed_at").gt_eq(col("a")).and(col("observed_at").lt_eq(col("b"))))
        .sort(
            ["ri", "price", "observed_at", RN],
            SortMultipleOptions::default().with_order_descending_multi([false, highest, false, false]),
        )
        .group_by([col("ri")])
        .agg([col(RN).first(), col("observed_at").first(), col("price").first(), col("platform").first()])
        .collect()?;
    let ri = best.column("ri")?.u32()?;
    let rn = best.column(RN)?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    let at = best.column("observed_at")?.i64()?;
    let price = crate::registration::money(&best, "price")?;
    let platform = best.column("platform")?.cast(&DataType::String)?;
    let platform = platform.str()?;
    for i in 0..best.height() {
        out[ri.get(i).unwrap() as usize] = Some(RetailRow {
            rn: rn.get(i).unwrap_or(0),
            observed_at: at.get(i).unwrap_or(0),
            price: price[i].unwrap_or(Dec::ZERO),
            platform: platform.get(i).unwrap_or("").to_string(),
        });
    }
    Ok(out)
}
