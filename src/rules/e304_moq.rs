//! E304 moq-too-high: the minimum order quantity is too high.
//!
//! What it checks: `moq > 5` fails (huopin); `moq > 2` fails (yanxuan).
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: a group-buy or 严选 item must be buyable in small quantities.
//!
//! Seed: 000 招品门槛 4 (起批量 ≤ 5), 002 三.1 (起批量 ≤ 2).
//!
//! Example: huopin moq 6 → E304; 5 passes. yanxuan moq 3 → E304.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E304",
    name: "moq-too-high",
    severity: Severity::Error,
    source: include_str!("e304_moq.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "moq", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "moq", cx.reg.metric("moq"), Bound::AtMost)
}
