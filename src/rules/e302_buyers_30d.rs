//! E302 few-buyers-30d: too few buyers in the last 30 days.
//!
//! What it checks: `buyers_30d < 30` fails (huopin).
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: many distinct buyers show real demand, not a few wholesale orders.
//!
//! Seed: 000 招品门槛 2 (近30天买家数 ≥ 30).
//!
//! Example: buyers_30d 29 → E302; 30 passes.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E302",
    name: "few-buyers-30d",
    severity: Severity::Error,
    source: include_str!("e302_buyers_30d.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "buyers_30d", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "buyers_30d", cx.reg.metric("buyers_30d"), Bound::AtLeast)
}
