//! P105 ladder-spread: a quantity ladder whose highest tier is over 10× its lowest.
//!
//! What it checks: in one ladder group (offer_id, sku_id; an empty sku_id is the offer-level
//! ladder), `max(price) > 10 × min(price)` fails. Evaluated for every ladder group of the dump,
//! not only registered offers. The limit is the setting `ladder_spread_limit` (10).
//! Evidence: the lowest tier's ladders row (ties: the first in file order).
//!
//! Why the platform cares: a fake "low tier" (1 piece at 10.00, 10 000 pieces at 0.01) makes a
//! listing rank as the cheapest while nobody can buy at that price (低档低价).
//!
//! Seed: 004 (伙拼基础规则: 阶梯价最高档与最低档价差不得超过10倍).
//!
//! Example: tiers 10.00 and 0.01 → P105; 10.00 and 1.00 passes (exactly 10×); 10.00 and 0.99 → P105.

use super::*;

pub const RULE: Rule = Rule {
    code: "P105",
    name: "ladder-spread",
    severity: Severity::Error,
    source: include_str!("p105_ladder_spread.rs"),
    check: Check::Ladder(check),
    not_checked_dump: Some(|facts| (!facts.has_ladders).then(|| "no ladders table in the dump".to_string())),
    ..DEFAULTS
};

fn check(g: &LadderGroup, settings: &Settings) -> Option<Finding> {
    let limit = settings.ladder_spread_limit;
    let threshold = g.lowest.price().mul(limit);
    if g.highest <= threshold {
        return None;
    }
    Some(Finding {
        rule: RULE.code,
        name: RULE.name,
        severity: RULE.severity,
        registration_id: Default::default(),
        offer_id: g.offer_id.as_str().into(),
        sku_id: g.sku_id.as_str().into(),
        merchant_id: Default::default(),
        activity: Default::default(),
        observed: g.highest.to_string(),
        reference: g.lowest.price().to_string(),
        threshold: threshold.to_string(),
        evidence: Some(g.lowest.evidence.clone()),
        message: format!(
            "highest tier {} is more than {} × the lowest tier {} (= {}) across {} tiers",
            g.highest,
            limit,
            g.lowest.price(),
            threshold,
            g.tiers
        ),
    })
}
