//! Facts that relate registrations to each other (small table, plain Rust): other promotions in a
//! warm-up (P106), big promos overriding another activity (P107), schedule conflicts (S202), and
//! offer-level sums (E306, E308).

use super::windows::Windows;
use crate::money::Dec;
use crate::profile::Settings;
use crate::registration::Registration;
// polars' hasher (foldhash): these maps are keyed by every registration, SipHash was a tenth of the time
use polars::prelude::PlHashMap as HashMap;

fn groups<'a, K: std::hash::Hash + Eq>(
    regs: &'a [Registration],
    key: impl Fn(&'a Registration) -> K,
) -> HashMap<K, Vec<usize>> {
    let mut m: HashMap<K, Vec<usize>> = HashMap::with_capacity_and_hasher(regs.len(), Default::default());
    for r in regs {
        m.entry(key(r)).or_default().push(r.idx);
    }
    m
}

/// P106: the other registration of the same SKU with the lowest promo price whose window meets
/// this one's warm-up (`its promo_start < promo_start` and `its promo_end ≥ ws`); ties: earliest
/// promo_start, then file order.
pub fn warmup_registrations(regs: &[Registration], wins: &[Windows]) -> Vec<Option<usize>> {
    let by_k = groups(regs, |r| r.k);
    regs.iter()
        .zip(wins)
        .map(|(r, w)| {
            let win = w.warmup?;
            by_k[&r.k]
                .iter()
                .map(|&o| &regs[o])
                .filter(|o| o.idx != r.idx && o.promo_start < r.promo_start && o.promo_end >= win.from)
                .min_by(|a, b| (a.promo_price, a.promo_start, a.idx).cmp(&(b.promo_price, b.promo_start, b.idx)))
                .map(|o| o.idx)
        })
        .collect()
}

/// P107: for each registration D of a non-big-promo activity, the big-promo registrations R of
/// the same SKU (whose profile runs P107) with overlapping windows and a lower promo price.
pub fn overriding_big_promos(regs: &[Registration], settings: &Settings) -> Vec<Vec<usize>> {
    let by_k = groups(regs, |r| r.k);
    regs.iter()
        .map(|d| {
            if settings.profiles[d.profile].big_promo {
                return vec![];
            }
            by_k[&d.k]
                .iter()
                .map(|&o| &regs[o])
                .filter(|r| {
                    let p = &settings.profiles[r.profile];
                    p.big_promo
                        && p.runs("P107")
                        && d.promo_start <= r.promo_end
                        && d.promo_end >= r.promo_start
                        && d.promo_price > r.promo_price
                })
                .map(|r| r.idx)
                .collect()
        })
        .collect()
}

/// S202: the other registrations of the same offer in the same conflict group whose
/// `[promo_start, promo_end]` overlap (closed) and that are not the same slot.
pub fn schedule_conflicts(regs: &[Registration], settings: &Settings) -> Vec<Vec<usize>> {
    let by_offer = groups(regs, |r| r.offer_id.as_str());
    regs.iter()
        .map(|a| {
            let Some(group) = &settings.profiles[a.profile].conflict_group else { return vec![] };
            by_offer[a.offer_id.as_str()]
                .iter()
                .map(|&o| &regs[o])
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

/// E306/E308: Σ of a metric over the offer's registrations in the same activity and promo_start
/// (rows without a value add nothing; `None` when no row of the group has one).
pub fn offer_sums(regs: &[Registration], metric: &str) -> Vec<Option<Dec>> {
    let mut sums: HashMap<(&str, &str, i64), Option<Dec>> =
        HashMap::with_capacity_and_hasher(regs.len(), Default::default());
    for r in regs {
        let slot = sums.entry((r.offer_id.as_str(), r.activity.as_str(), r.promo_start)).or_insert(None);
        if let Some(v) = r.metric(metric) {
            *slot = Some(slot.map_or(v, |s| s.add(v)));
        }
    }
    regs.iter().map(|r| sums[&(r.offer_id.as_str(), r.activity.as_str(), r.promo_start)]).collect()
}
