//! S205 weekly-repeat (warning): an offer in two huopin-family promotions within a week.
//!
//! What it checks (SPEC §10.3): two slots of one offer, both in the huopin family, whose promo
//! windows do not overlap (overlapping ones are S202's) and whose `promo_start` are less than
//! 7 × 24 h apart. The later slot (by promo_start, then slot time) is flagged, once per such
//! earlier slot, with that slot as evidence. No figures.
//!
//! Why the platform cares: seed 000 advises one 伙拼 per product per week, so that each promotion
//! sells at a genuinely special price.
//!
//! Seed: 000 注意点 3 (同一商品在一周内建议只参加一场).
//!
//! Example: offer O in huopin 6/1 10:00–6/2 and in huopin-hot from 6/8 09:59 → S205 on the
//! 6/8 slot; from 6/8 10:00 (exactly 7 days) → passes.

use super::*;
use crate::facts::groups::Groups;
use crate::time::MICROS_PER_DAY;

pub const RULE: Rule = Rule {
    code: "S205",
    name: "weekly-repeat",
    severity: Severity::Warning,
    source: include_str!("s205_weekly_repeat.rs"),
    check: Check::Across(check),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let slots = &a.facts.slots;
    let family: Vec<usize> = (0..slots.len()).filter(|&s| a.profile(slots[s].first()).huopin_family).collect();
    let mut out = Vec::new();
    let groups = Groups::by(&family, |&s| regs[slots[s].first()].offer_id.as_str());
    for group in groups.all() {
        let mut group: Vec<usize> = group.iter().map(|&i| family[i as usize]).collect();
        group.sort_by_key(|&s| (regs[slots[s].first()].promo_start, slots[s].order()));
        for j in 1..group.len() {
            let later = &regs[slots[group[j]].first()];
            for &i in group[..j].iter().rev() {
                let earlier = &regs[slots[i].first()];
                if later.promo_start - earlier.promo_start >= 7 * MICROS_PER_DAY {
                    break;
                }
                let overlap = earlier.promo_start <= later.promo_end && later.promo_start <= earlier.promo_end;
                if overlap {
                    continue;
                }
                for &m in slots[group[j]].members.iter().filter(|&&m| a.runs(m)) {
                    let cx = a.ctx(m);
                    let msg = format!(
                        "promo starts {}, less than 7 days after the promo of registration {} ({}, starting {}); one huopin promotion per week is advised",
                        crate::time::fmt_utc(later.promo_start),
                        earlier.registration_id,
                        earlier.activity,
                        crate::time::fmt_utc(earlier.promo_start)
                    );
                    out.push(cx.bare_finding(Some(cx.slot_evidence(earlier)), msg));
                }
            }
        }
    }
    out
}
