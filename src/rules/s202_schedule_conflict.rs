//! S202 schedule-conflict: two registrations of one offer in the same activity group overlap.
//!
//! What it checks: registrations of the same offer_id whose profiles share a conflict group (all
//! huopin activities) and whose `[promo_start, promo_end]` overlap (closed: touching ends
//! overlap), unless they are the same slot (same activity, promo_start and promo_end: the SKUs of
//! one offer registered together are one registration of the offer). Each registration is
//! flagged once per other registration it conflicts with; evidence is the other one.
//!
//! Why the platform cares: an offer can be in only one 伙拼 activity at a time; overlapping
//! registrations are rejected (活动时间问题).
//!
//! Seed: 000 (活动时间问题, 说明).
//!
//! Example: one offer registered for 1.1–1.3 and for 1.2–1.5 → S202 on both; a daily activity
//! that ends before the big promo's window starts does not conflict.

use super::*;

pub const RULE: Rule = Rule {
    code: "S202",
    name: "schedule-conflict",
    severity: Severity::Error,
    source: include_str!("s202_schedule_conflict.rs"),
    check: Check::Registration(check),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    cx.facts
        .conflicts
        .iter()
        .map(|&i| {
            let o = &cx.all[i];
            let msg = format!(
                "[{}, {}] overlaps registration {} ({}, [{}, {}]) of the same offer",
                crate::time::fmt_utc(cx.reg.promo_start),
                crate::time::fmt_utc(cx.reg.promo_end),
                o.registration_id,
                o.activity,
                crate::time::fmt_utc(o.promo_start),
                crate::time::fmt_utc(o.promo_end)
            );
            // SPEC §10: "evidence_price and evidence_channel empty"
            cx.finding(String::new(), String::new(), String::new(), Some(cx.slot_evidence(o)), msg)
        })
        .collect()
}
