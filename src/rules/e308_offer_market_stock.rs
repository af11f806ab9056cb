//! E308 low-offer-market-stock: too little market stock for the offer.
//!
//! What it checks: Σ `sku_market_stock` over the offer's registrations in the same activity and promo_start `< 3000` fails (huopin); every registration of the group that has its own value is flagged with the sum (a row without a value is not checked, SPEC §5.3).
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: the offer as a whole must have stock for the promotion.
//!
//! Seed: 000 招品门槛 5(2) (商品总市场库存 ≥ 3000).
//!
//! Example: two SKUs with 1500 and 1499 → E308 (2999) on both.

use super::eligibility::{check_metric, metric_not_checked};
use super::*;

pub const RULE: Rule = Rule {
    code: "E308",
    name: "low-offer-market-stock",
    severity: Severity::Error,
    source: include_str!("e308_offer_market_stock.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| {
        metric_not_checked(cx, facts, "sku_market_stock", Some(cx.facts.offer_market_stock()))
    }),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(
        cx,
        "offer market stock (Σ sku_market_stock)",
        cx.reg.metric("sku_market_stock").and(cx.facts.offer_market_stock()),
    )
}
