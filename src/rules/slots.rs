//! SPEC §10's conventions shared by the rules that relate registrations to each other: a
//! **slot** is the registrations of one offer that share activity, promo_start and promo_end (as
//! in S202); its **time** is the earliest `registered_at` of its registrations (ties: file order),
//! its **merchant** that of its first registration in file order. A slot-level finding is written
//! once for every registration of the slot, and "the earlier slot" as evidence is that slot's
//! first registration.

use crate::registration::Registration;
use polars::prelude::PlHashMap as HashMap;

/// One slot.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Its registrations in file order (indices into the registrations).
    pub members: Vec<usize>,
    /// The earliest `registered_at` of its registrations.
    pub time: i64,
    /// The registration holding that time (the first in file order among equals): the slot's
    /// order among slots is `(time, timed)`.
    pub timed: usize,
    /// The local date of `time` in the run's zone, as a day number (SPEC §10's "dates"); set by
    /// [`set_days`].
    pub day: i64,
}

/// Set every slot's local date in `tz` (once, for S203 and S204).
pub fn set_days(slots: &mut [Slot], tz: &chrono_tz::Tz) {
    for s in slots {
        s.day = crate::time::local_day(s.time, tz);
    }
}

impl Slot {
    /// Its first registration in file order (evidence, merchant).
    pub fn first(&self) -> usize {
        self.members[0]
    }

    /// The order of slots by time, ties by file order.
    pub fn order(&self) -> (i64, usize) {
        (self.time, self.timed)
    }
}

/// Every slot of the dump, in order of first appearance, and each registration's slot.
pub fn slots(regs: &[Registration]) -> (Vec<Slot>, Vec<u32>) {
    let mut ids: HashMap<(&str, &str, i64, i64), u32> =
        HashMap::with_capacity_and_hasher(regs.len(), Default::default());
    let mut slots: Vec<Slot> = Vec::new();
    let mut of = Vec::with_capacity(regs.len());
    for r in regs {
        let key = (r.offer_id.as_str(), r.activity.as_str(), r.promo_start, r.promo_end);
        let id = *ids.entry(key).or_insert_with(|| {
            slots.push(Slot { members: vec![], time: r.registered_at, timed: r.idx, day: 0 });
            (slots.len() - 1) as u32
        });
        let s = &mut slots[id as usize];
        s.members.push(r.idx);
        if r.registered_at < s.time {
            s.time = r.registered_at;
            s.timed = r.idx;
        }
        of.push(id);
    }
    (slots, of)
}

/// Indices of `items` grouped by `key`, each group in the items' order, groups in order of first
/// appearance.
pub fn group_by<'a, T, K: std::hash::Hash + Eq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<Vec<usize>> {
    let mut ids: HashMap<K, usize> = HashMap::with_capacity_and_hasher(items.len(), Default::default());
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let g = *ids.entry(key(it)).or_insert_with(|| {
            groups.push(vec![]);
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The slots grouped by a key of their first registration, each group in slot order (time,
/// then file order): S203's offer and activity, S204's merchant and activity.
pub fn groups_in_order<'a, K: std::hash::Hash + Eq>(
    slots: &'a [Slot],
    regs: &'a [Registration],
    key: impl Fn(&'a Registration) -> K,
) -> Vec<Vec<usize>> {
    let mut groups = group_by(slots, |s| key(&regs[s.first()]));
    for g in &mut groups {
        g.sort_by_key(|&s| slots[s].order());
    }
    groups
}
