//! Shared shape of the eligibility rules E301–E308: a metric against a threshold.

use super::*;

/// Which way a threshold goes.
#[derive(Clone, Copy)]
pub enum Bound {
    /// The metric must be at least the threshold.
    AtLeast,
    /// The metric must be at most the threshold.
    AtMost,
}

/// Check `value` (a registration metric or an offer-level sum) against the profile's threshold
/// for the rule. No value or no threshold: not checked.
pub fn check_metric(cx: &Ctx, what: &str, value: Option<Dec>, bound: Bound) -> Vec<Finding> {
    let (Some(v), Some(t)) = (value, cx.profile.eligibility.get(cx.rule.code).copied()) else { return vec![] };
    let (fails, need) = match bound {
        Bound::AtLeast => (v < t, "at least"),
        Bound::AtMost => (v > t, "at most"),
    };
    if !fails {
        return vec![];
    }
    let msg = format!("{what} is {v}; {need} {t} required");
    vec![cx.finding(v.to_string(), String::new(), t.to_string(), None, msg)]
}
