//! P107 promo-override-higher: another activity of the SKU is priced above an overlapping big promo.
//!
//! What it checks: a registration D of an activity that is not a big promo, and a big-promo
//! registration R (ae-platform, ae-store: profiles with `big_promo = true` that run P107) of the
//! same (offer_id, sku_id) whose windows overlap (`D.promo_start ≤ R.promo_end` and
//! `D.promo_end ≥ R.promo_start`), with `D.promo_price > R.promo_price`. The finding is on D, once
//! per such R; evidence is R.
//!
//! Why the platform cares: during a big promo the platform enforces the big-promo price on every
//! channel; another activity priced higher is cancelled by the platform (大促期控价).
//!
//! Seed: 003 (大促期间其他活动价格高于大促价将被取消).
//!
//! Example: a 严选 registration at 35.00 overlapping an ae-store big promo at 34.00 → P107 on the
//! 严选 registration.

use super::*;

pub const RULE: Rule = Rule {
    code: "P107",
    name: "promo-override-higher",
    severity: Severity::Warning,
    source: include_str!("p107_promo_override_higher.rs"),
    check: Check::Price { bound, finding },
    needs: &[Fact::BigPromos],
    scope: Scope::Others,
    explain: Some(explain),
    ..DEFAULTS
};

/// `promo_price ≤` every overlapping big promo's price, whatever this registration's price.
fn bound(cx: &Ctx) -> Option<PriceBound> {
    let lowest = cx.facts.big_promos.iter().map(|&i| cx.all[i].promo_price).min()?;
    Some(PriceBound::upper(lowest, false))
}

/// On a big promo (whose profile runs the rule) with no finding: where it is checked; on a
/// registration it flags: that it is overridden.
fn explain(_: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    if fired.is_empty() {
        vec![("—".into(), "checked on the other registrations of this SKU (a big promo flags them)".into())]
    } else {
        vec![("FAIL".into(), "overridden by an overlapping big promo at a lower price".into())]
    }
}

/// One finding per overlapping big promo priced below this registration.
fn finding(cx: &Ctx, _: &PriceBound) -> Vec<Finding> {
    cx.facts
        .big_promos
        .iter()
        .filter(|&&i| cx.reg.promo_price > cx.all[i].promo_price)
        .map(|&i| {
            let r = &cx.all[i];
            let rp = &cx.settings.profiles[r.profile];
            let msg = format!(
                "promo price {} is above big promo {} ({}) at {} in an overlapping window; the platform will cancel this registration",
                cx.reg.promo_price, r.registration_id, r.activity, r.promo_price
            );
            let mut f = cx.finding(cx.reg.promo_price.to_string(), r.promo_price.to_string(), r.promo_price.to_string(), Some(cx.registration_evidence(r)), msg);
            f.severity = rp.severity(RULE.code);
            f
        })
        .collect()
}
