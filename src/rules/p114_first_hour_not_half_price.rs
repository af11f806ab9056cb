//! P114 first-hour-not-half-price: a sale in the 折上折's first hour is above half the 30-day lowest.
//!
//! What it checks (SPEC §10.2, profile `huopin-double`): a `txn` row of the SKU with channel
//! `huopin` in `[promo_start, promo_start + 1 h)` priced above `lowest_30d × 0.5`. Observed =
//! its price, reference = lowest_30d, threshold = lowest_30d × 0.5; the evidence is the highest
//! such row (ties: earliest `ts`, then file order). No such row: not checked; no lowest_30d:
//! P108. A promo-price change does not fix it (it is the transactions' price).
//!
//! Why the platform cares: 折上折 promises a real half price in its first hour.
//!
//! Seed: 000 折上折 (前1小时为真实5折价).
//!
//! Example: lowest_30d 20: a sale at 10.00 in the first hour passes, 10.01 → P114; a sale at
//! 15 one hour after the start is outside the window.

use super::*;

pub const RULE: Rule = Rule {
    code: "P114",
    name: "first-hour-not-half-price",
    severity: Severity::Error,
    source: include_str!("p114_first_hour_not_half_price.rs"),
    check: Check::Registration(check),
    needs: &[Fact::FirstHour, Fact::Lowest30d],
    explain: Some(explain),
    not_checked: Some(not_checked),
    ..DEFAULTS
};

/// Half: seed 000's 5折.
fn half() -> Dec {
    Dec::new(5, 1)
}

fn highest<'a>(cx: &Ctx<'a>) -> Option<&'a Reference> {
    cx.facts.extra.as_ref()?.first_hour_high.as_ref()
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let (Some(h), Some(low)) = (highest(cx), cx.facts.lowest_30d.as_ref()) else { return vec![] };
    let t = low.price().mul(half());
    if h.price() <= t {
        return vec![];
    }
    let msg = format!(
        "a huopin sale in the first hour at {} is above lowest_30d {} × 0.5 = {t} ({})",
        h.price(),
        low.price(),
        describe(h)
    );
    vec![cx.finding(h.price().to_string(), low.price().to_string(), t.to_string(), Some(h.evidence.clone()), msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match (highest(cx), cx.facts.lowest_30d.as_ref()) {
        (Some(h), Some(low)) => (
            verdict(fired),
            format!(
                "fails when a first-hour huopin sale > {} (lowest_30d {} × 0.5); highest {} ({})",
                low.price().mul(half()),
                low.price(),
                h.price(),
                describe(h)
            ),
        ),
        (None, _) => ("not checked".into(), "no huopin transaction in the promo's first hour".into()),
        (Some(_), None) => ("not checked".into(), "no lowest_30d (reported as P108)".into()),
    }]
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    if highest(cx).is_none() {
        return Some(Unchecked::new(Missing::Data, "no huopin transaction in the promo's first hour"));
    }
    missing_reference(cx, facts)
}
