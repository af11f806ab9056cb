//! P101 above-lowest-30d: the promo price is above the lowest price of the last 30 days.
//!
//! What it checks: `promo_price > lowest_30d × lowest_factor` fails (`lowest_factor` is a
//! profile setting, default 1: SPEC §10.1; the threshold is `lowest_30d × lowest_factor`).
//! `lowest_30d` is the minimum price of the SKU's rows in `[registered_at − 30×24h, registered_at]` (both ends included) whose kind is
//! the profile's basis (huopin: transactions; ae-store: listed prices, a list price set before
//! the window and still in force at its start counts) and whose channel the profile does not
//! exclude (huopin: `huopin`; ae-*: ru_group, flash_deal, trial, coins, presale, promo_nov,
//! promo_aug, winter_clearance; everywhere: member_price, bundle_price).
//!
//! Why the platform cares: a promotion must be the lowest price a buyer could have paid in the
//! last month; a promo price above it is a fake discount.
//!
//! Seed: 000 (伙拼 price ①: 不高于近30天最低成交价, FAQ 4: private manual price changes count,
//! 伙拼 prices do not), 003 (store activity).
//!
//! Example: transactions at 10.00 and 9.50 in the last 30 days, promo 9.60 → P101 (threshold 9.5);
//! promo 9.50 passes.

use super::*;

pub const RULE: Rule = Rule {
    code: "P101",
    name: "above-lowest-30d",
    severity: Severity::Error,
    source: include_str!("p101_above_lowest_30d.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::Lowest30d],
    explain: Some(explain),
    not_checked: Some(missing_reference),
    ..DEFAULTS
};

/// `promo_price ≤ lowest_30d × lowest_factor` (factor 1 unless the profile sets it).
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let l = cx.facts.lowest_30d.as_ref()?;
    Some(PriceBound::upper(l.price().mul(cx.profile.lowest_factor), false))
}

/// ` × factor = threshold` when the profile sets a factor other than 1 (else nothing: the
/// threshold is the lowest itself).
fn times_factor(cx: &Ctx, threshold: Dec) -> String {
    let f = cx.profile.lowest_factor;
    if f == Dec::from_int(1) {
        String::new()
    } else {
        format!(" × {f} = {threshold}")
    }
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    let PriceBound::Upper { value, .. } = *b else { return vec![] };
    let Some(low) = &cx.facts.lowest_30d else { return vec![] };
    let msg = format!(
        "promo price {} is above the {}-day lowest {}{} ({})",
        cx.reg.promo_price,
        cx.profile.lowest_30d_days,
        low.price(),
        times_factor(cx, value),
        describe(low)
    );
    vec![cx.price_finding(low, value, msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match &cx.facts.lowest_30d {
        Some(l) => {
            let threshold = l.price().mul(cx.profile.lowest_factor);
            (
                verdict(fired),
                format!(
                    "fails when promo > lowest_30d {}{}; promo {}",
                    l.price(),
                    times_factor(cx, threshold),
                    cx.reg.promo_price
                ),
            )
        }
        None => ("not checked".into(), "no lowest_30d (P108)".into()),
    }]
}
