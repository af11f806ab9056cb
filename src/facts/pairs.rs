//! Facts that relate registrations to each other (small table, plain Rust): other promotions in a
//! warm-up (P106), big promos overriding another activity (P107), schedule conflicts (S202), and
//! offer-level sums (E306, E308).

use super::windows::Windows;
use super::{Fact, FactSet};
use crate::money::Dec;
use crate::profile::Settings;
use crate::registration::Registration;
// polars' hasher (foldhash): these maps are keyed by every registration, SipHash was a tenth of the time
use polars::prelude::PlHashMap as HashMap;

/// Registrations grouped by a key, each group's members in file order, in two flat arrays
/// (a `Vec` per group was a million small allocations at 100 M price rows).
struct Groups {
    /// The group of each registration.
    of: Vec<u32>,
    /// Members of group `g`: `members[start[g]..start[g + 1]]`.
    start: Vec<u32>,
    members: Vec<u32>,
}

impl Groups {
    /// Group by dense ids: `of[i] < n` is registration `i`'s.
    fn dense(of: Vec<u32>, n: usize) -> Groups {
        let mut start = vec![0u32; n + 1];
        for &g in &of {
            start[g as usize + 1] += 1;
        }
        for g in 0..n {
            start[g + 1] += start[g];
        }
        let mut next = start.clone();
        let mut members = vec![0u32; of.len()];
        for (i, &g) in of.iter().enumerate() {
            members[next[g as usize] as usize] = i as u32;
            next[g as usize] += 1;
        }
        Groups { of, start, members }
    }

    /// Group by any key (numbered in order of first appearance).
    fn by<'a, K: std::hash::Hash + Eq>(regs: &'a [Registration], key: impl Fn(&'a Registration) -> K) -> Groups {
        let mut ids: HashMap<K, u32> = HashMap::with_capacity_and_hasher(regs.len(), Default::default());
        let of: Vec<u32> = regs
            .iter()
            .map(|r| {
                let n = ids.len() as u32;
                *ids.entry(key(r)).or_insert(n)
            })
            .collect();
        Groups::dense(of, ids.len())
    }

    /// The members of registration `i`'s group (itself included).
    fn with(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let g = self.of[i] as usize;
        self.members[self.start[g] as usize..self.start[g + 1] as usize].iter().map(|&m| m as usize)
    }
}

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

#[cfg(test)]
mod tests {
    use super::Groups;

    #[test]
    fn groups_list_each_registrations_group_in_file_order() {
        // registrations 0..5 in groups 2, 0, 2, 1, 0 (group 3 empty)
        let g = Groups::dense(vec![2, 0, 2, 1, 0], 4);
        let with = |i| g.with(i).collect::<Vec<_>>();
        assert_eq!(with(0), vec![0, 2]);
        assert_eq!(with(2), vec![0, 2]);
        assert_eq!(with(1), vec![1, 4]);
        assert_eq!(with(4), vec![1, 4]);
        assert_eq!(with(3), vec![3]);
        assert_eq!(g.start, vec![0, 2, 3, 5, 5]);
    }
}
