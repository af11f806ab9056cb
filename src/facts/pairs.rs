//! Facts that relate registrations to each other (small table, plain Rust): other promotions in a
//! warm-up (P106), big promos overriding another activity (P107), schedule conflicts (S202), and
//! offer-level sums (E306, E308).

use super::groups::Groups;
use super::windows::Windows;
use super::{Fact, FactSet};
use crate::money::Dec;
use crate::profile::Settings;
use crate::registration::Registration;

/// Registrations by SKU (`k` is dense: the registered SKUs, numbered).
fn by_sku(regs: &[Registration]) -> Groups {
    let n = regs.iter().map(|r| r.k as usize + 1).max().unwrap_or(0);
    Groups::dense(regs.iter().map(|r| r.k).collect(), n)
}

/// P106: the other registration of the same SKU with the lowest promo price whose window meets
/// this one's warm-up (`its promo_start < promo_start` and `its promo_end ≥ ws`); ties: earliest
/// promo_start, then file order.
pub fn warmup_registrations(regs: &[Registration], wins: &[Windows]) -> Vec<Option<usize>> {
    let by_k = by_sku(regs);
    regs.iter()
        .zip(wins)
        .map(|(r, w)| {
            let win = w.warmup?;
            by_k.with(r.idx)
                .map(|o| &regs[o])
                .filter(|o| o.idx != r.idx && o.promo_start < r.promo_start && o.promo_end >= win.from)
                .min_by(|a, b| (a.promo_price, a.promo_start, a.idx).cmp(&(b.promo_price, b.promo_start, b.idx)))
                .map(|o| o.idx)
        })
        .collect()
}

/// P107: for each registration D of a non-big-promo activity, the big-promo registrations R of
/// the same SKU (whose profile runs P107) with overlapping windows, whatever their price: those
/// priced below D override it (the rule), and every one bounds D's highest compliant price.
///
/// `needs`: what each profile's rules need; a big promo counts where its profile's rules need
/// [`Fact::BigPromos`].
pub fn overlapping_big_promos(regs: &[Registration], settings: &Settings, needs: &[FactSet]) -> Vec<Vec<usize>> {
    let by_k = by_sku(regs);
    regs.iter()
        .map(|d| {
            if settings.profiles[d.profile].big_promo {
                return vec![];
            }
            by_k.with(d.idx)
                .map(|o| &regs[o])
                .filter(|r| {
                    let p = &settings.profiles[r.profile];
                    p.big_promo
                        && needs[r.profile].has(Fact::BigPromos)
                        && d.promo_start <= r.promo_end
                        && d.promo_end >= r.promo_start
                })
                .map(|r| r.idx)
                .collect()
        })
        .collect()
}

/// S202: the other registrations of the same offer in the same conflict group whose
/// `[promo_start, promo_end]` overlap (closed) and that are not the same slot.
pub fn schedule_conflicts(regs: &[Registration], settings: &Settings) -> Vec<Vec<usize>> {
    let by_offer = Groups::by(regs, |r| r.offer_id.as_str());
    regs.iter()
        .map(|a| {
            let Some(group) = &settings.profiles[a.profile].conflict_group else { return vec![] };
            by_offer
                .with(a.idx)
                .map(|o| &regs[o])
                .filter(|b| {
                    b.idx != a.idx
                        && settings.profiles[b.profile].conflict_group.as_ref() == Some(group)
                        && a.promo_start <= b.promo_end
                        && b.promo_start <= a.promo_end
                        && !(a.activity == b.activity && a.promo_start == b.promo_start && a.promo_end == b.promo_end)
                })
                .map(|b| b.idx)
                .collect()
        })
        .collect()
}

/// E306/E308: Σ of each metric over the offer's registrations in the same activity and
/// promo_start (rows without a value add nothing; `None` when no row of the group has one).
pub fn offer_sums<const N: usize>(regs: &[Registration], metrics: [&str; N]) -> [Vec<Option<Dec>>; N] {
    let slots = Groups::by(regs, |r| (r.offer_id.as_str(), r.activity.as_str(), r.promo_start));
    metrics.map(|metric| {
        let mut sums: Vec<Option<Dec>> = vec![None; slots.start.len() - 1];
        for (r, &g) in regs.iter().zip(&slots.of) {
            if let Some(v) = r.metric(metric) {
                let slot = &mut sums[g as usize];
                *slot = Some(slot.map_or(v, |s| s.add(v)));
            }
        }
        slots.of.iter().map(|&g| sums[g as usize]).collect()
    })
}
