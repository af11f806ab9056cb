//! P112 stacked-discount: a huopin transaction in the promo sold below the registered one-price.
//!
//! What it checks (SPEC §10.2): a `txn` row of the SKU with channel `huopin` (literally, whatever
//! the entry-channel profile) and `promo_start ≤ ts ≤ promo_end` has `price < promo_price` (a
//! coupon, 满减 or member discount stacked on the one-price). Observed = that price, reference =
//! threshold = promo_price; the evidence is the lowest such row (ties: earliest `ts`, then file
//! order). Its bound is part of `max_ok_price`: the promo price may be at most the lowest
//! counted huopin transaction of the promo.
//!
//! Why the platform cares: the 伙拼 price is one price for every buyer; a stacked discount makes
//! the registered price a fiction.
//!
//! Seed: 000 招品门槛 6, 注意点 1(3), 常见问题 4(2).
//!
//! Example: promo 9.00, a huopin sale at 8.99 on the first day → P112; at 9.00 → passes.

use super::*;

pub const RULE: Rule = Rule {
    code: "P112",
    name: "stacked-discount",
    severity: Severity::Error,
    source: include_str!("p112_stacked_discount.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::PromoTxn],
    explain: Some(explain),
    ..DEFAULTS
};

fn lowest<'a>(cx: &Ctx<'a>) -> Option<&'a Reference> {
    cx.facts.extra.as_ref()?.promo_low.as_ref()
}

/// `promo_price ≤ the lowest huopin transaction of the promo`.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    lowest(cx).map(|l| PriceBound::upper(l.price(), false))
}

fn finding(cx: &Ctx, _: &PriceBound) -> Vec<Finding> {
    let Some(l) = lowest(cx) else { return vec![] };
    let p = cx.reg.promo_price.to_string();
    let msg = format!("a huopin sale in the promo at {} is below the promo price {p} ({})", l.price(), describe(l));
    vec![cx.finding(l.price().to_string(), p.clone(), p, Some(l.evidence.clone()), msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match lowest(cx) {
        Some(l) => (
            verdict(fired),
            format!(
                "fails when a huopin sale in the promo is below promo {}; lowest {} ({})",
                cx.reg.promo_price,
                l.price(),
                describe(l)
            ),
        ),
        None => ("pass".into(), "no huopin transaction in the promo window".into()),
    }]
}
