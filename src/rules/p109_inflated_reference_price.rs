//! P109 inflated-reference-price: the displayed reference ("was") price is above the legal baseline.
//!
//! What it checks: `list_price > baseline` fails. `list_price` is the registration's, else the
//! list price in force at `registered_at` (SPEC §4.3). The baseline ends at `promo_start` (the
//! promotion's own price is not part of its reference):
//! eu-omnibus: the lowest price in force (both kinds, all channels but member_price and
//! bundle_price, list rows carried forward) in `[promo_start − 30×24h, promo_start)`;
//! cn-samr: the lowest transaction in `[promo_start − 7×24h, promo_start)`, else the last
//! transaction before `promo_start`.
//!
//! Why the platform cares: every "was ¥X, now ¥Y" banner is a legal claim; a reference price
//! higher than the recent real price is a false discount under EU Directive 2019/2161 Art. 6a and
//! SAMR 规范促销行为暂行规定 (2020).
//!
//! Seed: — (SPEC §9, regulatory).
//!
//! Example: list price 100 displayed while the item sold at 80 five days before the promo →
//! P109 under both profiles.

use super::*;

pub const RULE: Rule = Rule {
    code: "P109",
    name: "inflated-reference-price",
    severity: Severity::Error,
    source: include_str!("p109_inflated_reference_price.rs"),
    check: Check::Registration(check),
    needs: &[Fact::Baseline, Fact::List],
    explain: Some(explain),
    not_checked: Some(missing_reference),
    ..DEFAULTS
};

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match (&cx.facts.list, &cx.facts.baseline) {
        (Some(l), Some(b)) => (verdict(fired), format!("fails when list {} > baseline {}", l.price(), b.price())),
        _ => ("not checked".into(), "no list price or no baseline (P108)".into()),
    }]
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let (Some(list), Some(base)) = (&cx.facts.list, &cx.facts.baseline) else { return vec![] };
    if list.price() > base.price() {
        let msg = format!(
            "reference price {} is above the {} baseline {} ({})",
            list.price(),
            cx.profile.baseline.map_or("", |b| b.as_str()),
            base.price(),
            describe(base)
        );
        return vec![cx.finding(
            list.price().to_string(),
            base.price().to_string(),
            base.price().to_string(),
            Some(base.evidence.clone()),
            msg,
        )];
    }
    vec![]
}
