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
    unverifiable: true,
    ..DEFAULTS
};

/// The references a registration's rules need and lack, as the message writes them: each
/// reference fact (in fact order) that a rule of the profile needs, applies to the profile and
/// has no data, named with the first such rule (registry order), `no lowest_30d (P101)`, joined
/// with `, ` (empty: nothing lacking). (This runs for every registration: the first rule of the
/// profile needing each fact was found once, [`Facts::first_needing`].)
pub fn missing(cx: &Ctx) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for &fact in &Fact::ALL {
        let Some(label) = fact.reference_label() else { continue };
        if fact.reference(cx.facts).is_some() {
            continue;
        }
        let Some(code) = cx.dump.first_needing(cx.reg.profile, fact) else { continue };
        let sep = if out.is_empty() { "" } else { ", " };
        let _ = write!(out, "{sep}no {label} ({code})");
    }
    out
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let miss = missing(cx);
    if miss.is_empty() {
        return vec![];
    }
    let msg = format!("cannot verify: {miss}");
    vec![cx.finding(cx.reg.promo_price.to_string(), String::new(), String::new(), None, msg)]
}
