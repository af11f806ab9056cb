//! P106 warmup-undercut: a price at or below the promo price was in force during the warm-up.
//!
//! What it checks: the warm-up window is `[ws, promo_start)` with `ws = warmup_start` when the
//! registration gives it, else `max(promo_start − warmup_hours, approved_at)` (huopin 72 h,
//! ae-* 216 h). Prices in force there: the SKU's `txn` rows with `ws ≤ ts < promo_start`, its
//! `list` rows with `ts < promo_start` and `end > ws` (any channel but member_price and
//! bundle_price), and the promo price of every other registration of the SKU whose window meets
//! the warm-up (`its promo_start < promo_start`, `its promo_end ≥ ws`). Fails when the lowest of
//! these is `≤ promo_price`. Evidence: that lowest (ties: prices rows first, then earliest time,
//! then file order).
//!
//! Why the platform cares: during the warm-up buyers add the item to their carts expecting the
//! promo to be the best price; a cheaper price before the promo makes the promo a fake discount
//! (预热期控价), and approval starts the warm-up at once (审核通过即刻开始预热).
//!
//! Seed: 003 (预热期控价), 000 (warm-up starts at approval).
//!
//! Example: listed 100, big promo registered at 60, a daily activity at 59 starting inside the
//! warm-up → P106; at 61 → none.

use super::*;

pub const RULE: Rule = Rule {
    code: "P106",
    name: "warmup-undercut",
    severity: Severity::Error,
    source: include_str!("p106_warmup_undercut.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::Warmup],
    explain: Some(explain),
    ..DEFAULTS
};

/// `promo_price < the lowest price in force in the warm-up`.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    cx.facts.warmup_min.as_ref().map(|w| PriceBound::upper(w.price(), true))
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match &cx.facts.warmup_min {
        Some(w) => {
            (verdict(fired), format!("fails when the warm-up minimum {} ≤ promo {}", w.price(), cx.reg.promo_price))
        }
        None => ("pass".into(), "no price in force in the warm-up".into()),
    }]
}

fn finding(cx: &Ctx, _: &PriceBound) -> Vec<Finding> {
    let Some(low) = &cx.facts.warmup_min else { return vec![] };
    let promo = cx.reg.promo_price;
    let Some(w) = cx.facts.windows.warmup else { return vec![] };
    let msg = format!(
        "{} in the warm-up [{}, {}) is at or below the promo price {promo} ({})",
        low.price(),
        crate::time::fmt_utc(w.from),
        crate::time::fmt_utc(w.to),
        describe(low)
    );
    vec![cx.finding(low.price().to_string(), promo.to_string(), promo.to_string(), Some(low.evidence.clone()), msg)]
}
