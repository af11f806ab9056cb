//! E309 low-supply-value: the SKU's supply is worth too little at the promo price (伙拼折上折).
//!
//! What it checks: `sku_supply × promo_price < 1000` fails (profile `huopin-double`), where the
//! row has a `sku_supply` value (SPEC §10.6); observed = the product, threshold = 1000 (the
//! setting `eligibility.E309`). Compared exactly, as a product (no division).
//! A price rule of a new kind: it bounds the promo price from *below* (`promo_price ≥ 1000 /
//! sku_supply`), so a higher price fixes it; when no price on the grid satisfies both the upper
//! bounds and this one, `max_ok_price` is empty with `binding_rule` E309 (SPEC §10.7).
//!
//! Why the platform cares: 折上折 promises a real stock behind the half price; a token supply
//! makes the discount a bait.
//!
//! Seed: 000 折上折 (单品供货量库存货值≥1000元).
//!
//! Example: sku_supply 100 at promo 9.99 → 999 → E309; at 10.00 → 1000 passes.

use super::eligibility::metric_not_checked;
use super::*;

pub const RULE: Rule = Rule {
    code: "E309",
    name: "low-supply-value",
    severity: Severity::Error,
    source: include_str!("e309_low_supply_value.rs"),
    check: Check::Price { bound, finding },
    not_checked: Some(|cx, facts| metric_not_checked(cx, facts, "sku_supply", None)),
    ..DEFAULTS
};

/// `promo_price × sku_supply ≥ eligibility.E309`.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let supply = cx.reg.metric("sku_supply")?;
    let min = cx.profile.eligibility.get(RULE.code).copied()?;
    Some(PriceBound::AtLeast { factor: supply, min })
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    let PriceBound::AtLeast { factor, min } = *b else { return vec![] };
    let value = cx.reg.promo_price.mul(factor);
    let msg = format!(
        "supply value sku_supply {factor} × promo price {} = {value}; at least {min} required",
        cx.reg.promo_price
    );
    vec![cx.finding(value.to_string(), String::new(), min.to_string(), None, msg)]
}
