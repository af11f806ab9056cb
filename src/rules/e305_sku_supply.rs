//! E305 low-sku-supply: too little supply for the SKU.
//!
//! What it checks: `sku_supply < 100` fails (huopin), per SKU.
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: a group-buy must be able to ship what it sells.
//!
//! Seed: 000 招品门槛 5(1) (单SKU供货量 ≥ 100).
//!
//! Example: sku_supply 99 → E305; 100 passes.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E305",
    name: "low-sku-supply",
    severity: Severity::Error,
    source: include_str!("e305_sku_supply.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "sku_supply", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "sku_supply", cx.reg.metric("sku_supply"), Bound::AtLeast)
}
