//! P103 not-below-list: the promo price is not far enough below the list (published) price.
//!
//! What it checks: huopin: `promo_price ≥ list × 0.9` fails (the promo must be strictly below
//! 90% of list); yanxuan: `promo_price > list × 0.95` fails. The list price is the
//! registration's `list_price`, else the `regular` (or unknown-channel) `list` row in force at
//! `registered_at` (latest ts, then last in file order). Factor and strictness are settings
//! (`list_factor`, `list_strict`).
//!
//! Why the platform cares: a campaign promises a real discount on the published price; the
//! threshold is computed exactly (9.99 × 0.9 = 8.991: 8.99 passes, 8.991 does not).
//!
//! Seed: 000 (伙拼价低于发布价9折), 002 (严选: 不高于发布价的9.5折).
//!
//! Example: huopin, list 9.99, promo 8.99 passes; promo 8.991 → P103 (threshold 8.991).

use super::*;

pub const RULE: Rule = Rule {
    code: "P103",
    name: "not-below-list",
    severity: Severity::Error,
    source: include_str!("p103_not_below_list.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::List],
    explain: Some(explain),
    not_checked: Some(missing_reference),
    ..DEFAULTS
};

/// `promo_price < list × list_factor` (strict) or `≤` (`list_strict = false`).
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let list = cx.facts.list.as_ref()?;
    Some(PriceBound::upper(list.price().mul(cx.profile.list_factor), cx.profile.list_strict))
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    factor_finding(cx, &cx.facts.list, "list", cx.profile.list_factor, b)
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    factor_explain(cx, fired, &cx.facts.list, "list", cx.profile.list_factor, bound(cx), "no list price (P108)")
}
