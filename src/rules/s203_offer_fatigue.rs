//! S203 offer-fatigue: an offer registered again within the fatigue period of its last slot.
//!
//! What it checks (SPEC §10.3): the slots of one offer in one activity, ordered by slot time
//! (ties: file order). A slot whose local date (the run's zone) is less than `fatigue_days` (3)
//! after the date of an earlier slot fails; the evidence is the latest such earlier slot (its
//! first registration). One finding per registration of the later slot; no figures.
//!
//! Why the platform cares: 伙拼 lets a product register once in three days; a new registration
//! counts from the day after the previous one.
//!
//! Seed: 000 报名注意事项 7 (同一个品在3天只能报名一次; 再次报名日期是以上一次的报名之日后3天).
//!
//! Example: offer O registered on 6/1 for one slot and on 6/3 for another → S203 on the 6/3
//! slot (2 days after); registered on 6/4 instead → passes.

use super::*;
use crate::facts::slots::groups_in_order;

pub const RULE: Rule = Rule {
    code: "S203",
    name: "offer-fatigue",
    severity: Severity::Error,
    source: include_str!("s203_offer_fatigue.rs"),
    check: Check::Across(check),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let tz = a.zone();
    let slots = &a.facts.slots;
    let mut out = Vec::new();
    for group in groups_in_order(slots, regs, |r| (r.offer_id.as_str(), r.activity.as_str())) {
        for pair in group.windows(2) {
            let (earlier, later) = (&slots[pair[0]], &slots[pair[1]]);
            let p = a.profile(later.first());
            let days = later.day - earlier.day;
            // the immediately earlier slot is the latest earlier one, and its date the nearest
            if days >= p.fatigue_days {
                continue;
            }
            let e = &regs[earlier.first()];
            for &m in later.members.iter().filter(|&&m| a.runs(m)) {
                let cx = a.ctx(m);
                let msg = format!(
                    "offer {} registered for {} on {}, {days} day(s) after its slot registered on {} (registration {}); at least {} days apart required",
                    cx.reg.offer_id,
                    cx.reg.activity,
                    crate::time::fmt_local_date(later.time, &tz),
                    crate::time::fmt_local_date(earlier.time, &tz),
                    e.registration_id,
                    p.fatigue_days
                );
                out.push(cx.bare_finding(Some(cx.slot_evidence(e)), msg));
            }
        }
    }
    out
}
