//! S206 other-activity-conflict: a huopin registration while the offer is in another activity.
//!
//! What it checks (SPEC §10.3): a registration of the same offer in a profile outside the huopin
//! family whose promo window (closed) meets `[registered_at, promo_end]` of this registration
//! (报名期间: from registration to the end, closed at both ends: a window ending exactly at
//! `registered_at` meets it). Once per other registration, with it as evidence. No figures.
//!
//! Why the platform cares: during a 伙拼 registration the product may not take part in other
//! marketing activities.
//!
//! Seed: 000 常见问题 6 (报名期间不可同时参加其他营销活动).
//!
//! Example: huopin registered 6/1, promo 6/5–6/7; the same offer in yanxuan 5/20–6/1 → S206
//! (ends at the registration instant); yanxuan 5/20–5/31 → passes.

use super::*;
use crate::facts::groups::Groups;

pub const RULE: Rule = Rule {
    code: "S206",
    name: "other-activity-conflict",
    severity: Severity::Error,
    source: include_str!("s206_other_activity_conflict.rs"),
    check: Check::Across(check),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let mut out = Vec::new();
    let groups = Groups::by(regs, |r| r.offer_id.as_str());
    for group in groups.all() {
        let group: Vec<usize> = group.iter().map(|&g| g as usize).collect();
        let others: Vec<usize> = group.iter().copied().filter(|&o| !a.profile(o).huopin_family).collect();
        if others.is_empty() {
            continue;
        }
        for &i in group.iter().filter(|&&i| a.runs(i) && a.profile(i).huopin_family) {
            let cx = a.ctx(i);
            for &o in &others {
                let other = &regs[o];
                if other.promo_start <= cx.reg.promo_end && other.promo_end >= cx.reg.registered_at {
                    let msg = format!(
                        "registered {} for a promo ending {}; the offer is in {} [{}, {}] (registration {}) meanwhile",
                        crate::time::fmt_utc(cx.reg.registered_at),
                        crate::time::fmt_utc(cx.reg.promo_end),
                        other.activity,
                        crate::time::fmt_utc(other.promo_start),
                        crate::time::fmt_utc(other.promo_end),
                        other.registration_id
                    );
                    out.push(cx.bare_finding(Some(cx.slot_evidence(other)), msg));
                }
            }
        }
    }
    out
}
