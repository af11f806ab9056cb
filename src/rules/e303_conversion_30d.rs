//! E303 low-conversion-30d: conversion rate too low in the last 30 days.
//!
//! What it checks: `conversion_30d < 0.05` fails (huopin), compared exactly.
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: traffic given to a promotion must convert.
//!
//! Seed: 000 招品门槛 3 (转化率 ≥ 5%).
//!
//! Example: conversion_30d 0.0499 → E303; 0.05 passes.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E303",
    name: "low-conversion-30d",
    severity: Severity::Error,
    source: include_str!("e303_conversion_30d.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "conversion_30d", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "conversion_30d", cx.reg.metric("conversion_30d"), Bound::AtLeast)
}
