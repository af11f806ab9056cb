//! E307 low-sku-market-stock: too little market stock for the SKU.
//!
//! What it checks: `sku_market_stock < 300` fails (huopin), per SKU.
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: the stock shown to the market must cover the promotion.
//!
//! Seed: 000 招品门槛 5(2) (单SKU市场库存 ≥ 300).
//!
//! Example: sku_market_stock 299 → E307; 300 passes.

use super::eligibility::{check_metric, metric_not_checked, Bound};
use super::*;

pub const RULE: Rule = Rule {
    code: "E307",
    name: "low-sku-market-stock",
    severity: Severity::Error,
    source: include_str!("e307_sku_market_stock.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "sku_market_stock", None)),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "sku_market_stock", cx.reg.metric("sku_market_stock"), Bound::AtLeast)
}
