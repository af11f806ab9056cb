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
    check: Check::Price { bound, finding },
    needs: &[Fact::Retail],
    explain: Some(explain),
    not_checked: Some(not_checked),
    ..DEFAULTS
};

/// `promo_price < retail × retail_factor` (strict) or `≤` (`retail_strict = false`).
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let retail = cx.facts.retail.as_ref()?;
    Some(PriceBound::upper(retail.price().mul(cx.profile.retail_factor), cx.profile.retail_strict))
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    factor_finding(cx, &cx.facts.retail, "retail", cx.profile.retail_factor, b)
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    let missing = "no retail data (counted in the summary)";
    factor_explain(cx, fired, &cx.facts.retail, "retail", cx.profile.retail_factor, bound(cx), missing)
}

/// No retail reference is no P108 (SPEC §4.4): the rule is not checked, and the summary says why.
fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    if cx.facts.retail.is_some() {
        return None;
    }
    Some(Unchecked::new(
        Missing::Data,
        if facts.has_retail {
            "no retail_price and no retail observation in the 30 days before registration"
        } else {
            "no retail_price and no retail table in the dump"
        },
    ))
}
