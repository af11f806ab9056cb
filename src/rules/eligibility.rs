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

/// Why an E rule reading metric column `column` (and, for an offer sum, `sum`) is not checked
/// on a registration: the column is not in the dump, or the row has no value.
pub fn metric_not_checked(
    cx: &Ctx,
    facts: &Facts,
    column: &str,
    sum: Option<Option<Dec>>,
) -> Option<(Missing, Cow<'static, str>)> {
    if !facts.registration_columns.iter().any(|c| c == column) {
        return Some((Missing::Column, format!("column {column} is not in registrations").into()));
    }
    let missing = cx.reg.metric(column).is_none() || sum.is_some_and(|s| s.is_none());
    missing.then(|| (Missing::Column, format!("no {column} value (empty or not a number)").into()))
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
