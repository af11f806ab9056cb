//! Shared parts of the eligibility rules: the offer sums against a minimum (E306, E308), and why a
//! rule reading a metric column is not checked (those two, the gates, E309).

use super::*;

/// Why an E rule reading metric column `column` (and, for an offer sum, `sum`) is not checked
/// on a registration: the column is not in the dump, or the row has no value.
pub fn metric_not_checked(cx: &Ctx, facts: &Facts, column: &str, sum: Option<Option<Dec>>) -> Option<Unchecked> {
    // the usual row has its value (then the column is there): decided without the column list
    let missing = cx.reg.metric(column).is_none() || sum.is_some_and(|s| s.is_none());
    if !missing {
        return None;
    }
    if !facts.registration_columns.iter().any(|c| c == column) {
        return Some(Unchecked::new(Missing::Column, format!("column {column} is not in registrations")));
    }
    Some(match cx.reg.unreadable_metric(column) {
        Some(text) => {
            Unchecked::new(Missing::Column, format!("{column} value cannot be compared with a decimal")).example(text)
        }
        None => Unchecked::new(Missing::Column, format!("no {column} value (empty)")),
    })
}

/// Check `value` (an offer-level sum) against the profile's minimum for the rule (E306, E308).
/// No value or no threshold: not checked.
pub fn check_metric(cx: &Ctx, what: &str, value: Option<Dec>) -> Vec<Finding> {
    let (Some(v), Some(t)) = (value, cx.profile.eligibility.get(cx.rule.code).copied()) else { return vec![] };
    if v >= t {
        return vec![];
    }
    let msg = format!("{what} is {v}; at least {t} required");
    vec![cx.finding(v.to_string(), String::new(), t.to_string(), None, msg)]
}
