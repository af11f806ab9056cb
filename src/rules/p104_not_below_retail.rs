//! P104 not-below-retail: the promo price is not below 80% of the downstream retail price.
//!
//! What it checks: `promo_price ≥ retail × 0.8` fails. The retail reference is the
//! registration's `retail_price`, else the lowest `retail.price` of the SKU observed in
//! `[registered_at − 30 days, registered_at]`. No retail data: not checked (counted in the
//! summary, not a finding). Factor and strictness are settings (`retail_factor`, `retail_strict`).
//!
//! Why the platform cares: 1688 伙拼 is a wholesale channel; its price must leave resellers room
//! below the same item's C-end retail price on Taobao, PDD, JD, Douyin.
//!
//! Seed: 000 (伙拼价低于下游同款零售价8折).
//!
//! Example: retail 10.00, promo 8.00 → P104 (exactly at 10 × 0.8 fails); promo 7.99 passes.

use super::*;

pub const RULE: Rule = Rule {
    code: "P104",
    name: "not-below-retail",
    severity: Severity::Error,
    source: include_str!("p104_not_below_retail.rs"),
    check: Check::Registration(check),
};

fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(retail) = &cx.facts.retail else { return vec![] };
    let threshold = retail.price().mul(cx.profile.retail_factor);
    let promo = cx.reg.promo_price;
    let fails = if cx.profile.retail_strict { promo >= threshold } else { promo > threshold };
    if fails {
        let op = if cx.profile.retail_strict { "not below" } else { "above" };
        let msg = format!(
            "promo price {promo} is {op} retail {} × {} = {} ({})",
            retail.price(),
            cx.profile.retail_factor,
            threshold,
            describe(retail)
        );
        return vec![cx.price_finding(retail, threshold, msg)];
    }
    vec![]
}
