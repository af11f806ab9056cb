//! P108 unverifiable-reference: a reference price a rule needs has no data.
//!
//! What it checks: for each registration, the references its profile's rules need — lowest_30d
//! (P101), lowest_180d (P102), the list price (P103, P109), the baseline (P109) — that have no
//! candidate row. One warning per registration; the message names every missing reference.
//! (No retail data is not a P108: P104 is then not checked, and the summary counts it.)
//!
//! Why the platform cares: a check that cannot be evaluated must never pass silently; a risk
//! analyst needs to know which registrations could not be verified and why.
//!
//! Seed: — (SPEC §5.1).
//!
//! Example: a huopin registration with no transaction in the last 30 days and no list price →
//! P108 "no lowest_30d (P101), no list price (P103)".

use super::*;

pub const RULE: Rule = Rule {
    code: "P108",
    name: "unverifiable-reference",
    severity: Severity::Warning,
    source: include_str!("p108_unverifiable_reference.rs"),
    check: Check::Registration(check),
};

/// The references a registration's rules need and lack, as message parts.
pub fn missing(cx: &Ctx) -> Vec<&'static str> {
    let (p, f) = (cx.profile, cx.facts);
    let mut out = Vec::new();
    if p.runs("P101") && f.lowest_30d.is_none() {
        out.push("no lowest_30d (P101)");
    }
    if p.runs("P102") && f.lowest_180d.is_none() {
        out.push("no lowest_180d (P102)");
    }
    if (p.runs("P103") || p.runs("P109")) && f.list.is_none() {
        out.push(if p.runs("P103") { "no list price (P103)" } else { "no list price (P109)" });
    }
    if p.runs("P109") && p.baseline.is_some() && f.baseline.is_none() {
        out.push("no baseline (P109)");
    }
    out
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let miss = missing(cx);
    if miss.is_empty() {
        return vec![];
    }
    let msg = format!("cannot verify: {}", miss.join(", "));
    vec![cx.finding(cx.reg.promo_price.to_string(), String::new(), String::new(), None, msg)]
}
