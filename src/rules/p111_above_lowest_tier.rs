//! P111 above-lowest-tier: the promo price is above the SKU's lowest ladder tier.
//!
//! What it checks (SPEC §10.2): `promo_price >` the minimum `price` over the tiers of the SKU's
//! ladder group — its own tiers; without them the offer-level tiers (empty `sku_id`), even when
//! these are lower than its own — whatever that tier's `min_qty`. Observed = promo_price,
//! reference = threshold = that minimum; the evidence is the tier row (ties: file order), with
//! no time. No ladder for the SKU or the offer: not checked. Its bound is part of
//! `max_ok_price` (≤ the minimum tier).
//!
//! Why the platform cares: the 伙拼 price must be the lowest big-customer price the offer shows;
//! a cheaper quantity tier means the group-buy is not the best deal.
//!
//! Seed: 000 注意点 1(3) (伙拼价格务必填写最低的大客户价格).
//!
//! Example: tiers 10 (1 piece), 9 (10 pieces), 8.5 (100 pieces): promo 8.50 passes, 8.51 → P111.

use super::*;

pub const RULE: Rule = Rule {
    code: "P111",
    name: "above-lowest-tier",
    severity: Severity::Error,
    source: include_str!("p111_above_lowest_tier.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::LowestTier],
    explain: Some(explain),
    not_checked: Some(not_checked),
    ..DEFAULTS
};

/// The SKU's lowest tier.
fn tier<'a>(cx: &Ctx<'a>) -> Option<&'a LadderGroup> {
    cx.facts.lowest_tier.map(|i| &cx.dump.ladders[i as usize])
}

/// `promo_price ≤ the lowest tier`.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    tier(cx).map(|g| PriceBound::upper(g.lowest.price(), false))
}

fn finding(cx: &Ctx, b: &PriceBound) -> Vec<Finding> {
    let (Some(g), PriceBound::Upper { value, .. }) = (tier(cx), *b) else { return vec![] };
    let whose = if g.sku_id.is_empty() { "the offer's" } else { "the SKU's" };
    let msg = format!(
        "promo price {} is above {whose} lowest ladder tier {value} ({})",
        cx.reg.promo_price,
        describe(&g.lowest)
    );
    vec![cx.price_finding(&g.lowest, value, msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match tier(cx) {
        Some(g) => (
            verdict(fired),
            format!(
                "fails when promo > {} (lowest tier of {}, ladders row {}); promo {}",
                g.lowest.price(),
                if g.sku_id.is_empty() { "the offer-level ladder".to_string() } else { format!("SKU {}", g.sku_id) },
                g.lowest.evidence.row,
                cx.reg.promo_price
            ),
        ),
        None => ("not checked".into(), "no ladder tiers for the SKU or its offer".into()),
    }]
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    if cx.facts.lowest_tier.is_some() {
        return None;
    }
    Some(if facts.has_ladders {
        Unchecked::new(Missing::Data, "no ladder tiers for the SKU or its offer")
    } else {
        Unchecked::new(Missing::Table, "no ladders table in the dump")
    })
}
