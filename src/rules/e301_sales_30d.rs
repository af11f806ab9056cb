//! E301 low-sales-30d: too few sales in the last 30 days.
//!
//! What it checks: `sales_30d < 1000` fails (huopin).
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: 伙拼 admits only proven sellers, so that a group-buy reaches its volume.
//!
//! Seed: 000 招品门槛 1 (近30天销量 ≥ 1000).
//!
//! Example: sales_30d 999 → E301; 1000 passes.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E301",
    name: "low-sales-30d",
    severity: Severity::Error,
    source: include_str!("e301_sales_30d.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "sales_30d", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "sales_30d", cx.reg.metric("sales_30d"), Bound::AtLeast)
}
