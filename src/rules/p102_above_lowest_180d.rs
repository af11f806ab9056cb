//! P102 above-lowest-180d: the promo price is above the 180-day lowest (less the category discount).
//!
//! What it checks: `promo_price > lowest_180d × (1 − category_discount)` fails. `lowest_180d` is
//! the minimum listed price in force in `[registered_at − 180×24h, registered_at]`, with the
//! AliExpress exclusions (ru_group, flash_deal, trial, coins, presale, promo_nov, promo_aug,
//! winter_clearance, member_price, bundle_price). `category_discount` is 0 unless configured per
//! category (`[profile.ae-platform.category_discount]`).
//!
//! Why the platform cares: AliExpress platform big promos (328) require the promo price to be at
//! or below the lowest price of the last 180 days, so that the "lowest price of the season" claim
//! is true.
//!
//! Seed: 003 (platform activity, FAQ 1–3: which prices count toward the 180-day lowest).
//!
//! Example: listed at 20.00 for months, a flash deal at 12.00 (excluded), promo 19.99 passes;
//! promo 20.01 → P102 (threshold 20).

use super::*;

pub const RULE: Rule = Rule {
    code: "P102",
    name: "above-lowest-180d",
    severity: Severity::Error,
    source: include_str!("p102_above_lowest_180d.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::Lowest180d],
    explain: Some(explain),
    not_checked: Some(missing_reference),
    ..DEFAULTS
};

/// `promo_price ≤ lowest_180d × (1 − category_discount)`.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let low = cx.facts.lowest_180d.as_ref()?;
    let discount = cx.profile.discount_for(&cx.reg.category);
    Some(PriceBound::upper(low.price().mul(Dec::from_int(1).sub(discount)), false))
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    let PriceBound::Upper { value, .. } = *b else { return vec![] };
    let Some(low) = &cx.facts.lowest_180d else { return vec![] };
    let msg = format!(
        "promo price {} is above the {}-day lowest {} × (1 − {}) = {} ({})",
        cx.reg.promo_price,
        cx.profile.lowest_180d_days,
        low.price(),
        cx.profile.discount_for(&cx.reg.category),
        value,
        describe(low)
    );
    vec![cx.price_finding(low, value, msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match (&cx.facts.lowest_180d, bound(cx)) {
        (Some(l), Some(PriceBound::Upper { value, .. })) => (
            verdict(fired),
            format!(
                "fails when promo > {} (lowest_180d {} × (1 − {})); promo {}",
                value,
                l.price(),
                cx.profile.discount_for(&cx.reg.category),
                cx.reg.promo_price
            ),
        ),
        _ => ("not checked".into(), "no lowest_180d (P108)".into()),
    }]
}
