//! E306 low-offer-supply: too little supply for the offer.
//!
//! What it checks: Σ `sku_supply` over the offer's registrations in the same activity and promo_start `< 1000` fails (huopin); every registration of the group that has its own value is flagged with the sum (a row without a value is not checked, SPEC §5.3).
//! Checked only where the column is present and the row has a value (a column absent from the
//! dump: the rule is listed as not checked in the summary).
//!
//! Why the platform cares: the offer as a whole must be able to serve the group-buy.
//!
//! Seed: 000 招品门槛 5(1) (商品总供货量 ≥ 1000).
//!
//! Example: three SKUs of one offer with 300, 300, 399 → E306 (999) on each.

use super::eligibility::{check_metric, metric_not_checked};
use super::*;

pub const RULE: Rule = Rule {
    code: "E306",
    name: "low-offer-supply",
    severity: Severity::Error,
    source: include_str!("e306_offer_supply.rs"),
    check: Check::Registration(check),
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "sku_supply", Some(cx.facts.offer_supply()))),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    check_metric(cx, "offer supply (Σ sku_supply)", cx.reg.metric("sku_supply").and(cx.facts.offer_supply()))
}
