//! SPEC §10's conventions shared by the rules that relate registrations to each other: a
//! **slot** is the registrations of one offer that share activity, promo_start and promo_end (as
//! in S202); its **time** is the earliest `registered_at` of its registrations (ties: file order),
//! its **merchant** that of its first registration in file order. A slot-level finding is written
//! once for every registration of the slot, and "the earlier slot" as evidence is that slot's
//! first registration.

use super::groups::Groups;
use crate::registration::Registration;

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
    let groups = Groups::by(regs, |r| (r.offer_id.as_str(), r.activity.as_str(), r.promo_start, r.promo_end));
    let slots = groups
        .all()
        .map(|g| {
            let members: Vec<usize> = g.iter().map(|&m| m as usize).collect();
            // the earliest registered_at, the first in file order among equals
            let timed = *members.iter().min_by_key(|&&m| (regs[m].registered_at, m)).expect("a slot has members");
            Slot { time: regs[timed].registered_at, timed, members, day: 0 }
        })
        .collect();
    (slots, groups.of)
}

/// The slots grouped by a key of their first registration, each group in slot order (time,
/// then file order): S203's offer and activity, S204's merchant and activity.
pub fn groups_in_order<'a, K: std::hash::Hash + Eq>(
    slots: &'a [Slot],
    regs: &'a [Registration],
    key: impl Fn(&'a Registration) -> K,
) -> Vec<Vec<usize>> {
    let groups = Groups::by(slots, |s| key(&regs[s.first()]));
    groups
        .all()
        .map(|g| {
            let mut g: Vec<usize> = g.iter().map(|&s| s as usize).collect();
            g.sort_by_key(|&s| slots[s].order());
            g
        })
        .collect()
}
