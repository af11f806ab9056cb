//! P113 unsupported-retail-claim (warning): the registration claims a retail price above every observation.
//!
//! What it checks (SPEC §10.2): the registration gives `retail_price`, the SKU has `retail`
//! observations in `[registered_at − 30 d, registered_at]`, and `retail_price >` the highest of
//! them. Observed = retail_price, reference = threshold = that highest; the evidence is that
//! observation (ties: earliest `observed_at`, then file order). No observation: not checked. A
//! promo-price change does not fix it.
//!
//! Why the platform cares: an inflated "same item elsewhere" price makes P104's 8折 look met;
//! a false same-item price is downranked.
//!
//! Seed: 000 常见问题 7 (虚假同款价格会导致降权).
//!
//! Example: observations 100 (taobao) and 120 (jd) in the last 30 days: a claimed 120 passes,
//! 120.01 → P113.

use super::*;

pub const RULE: Rule = Rule {
    code: "P113",
    name: "unsupported-retail-claim",
    severity: Severity::Warning,
    source: include_str!("p113_unsupported_retail_claim.rs"),
    check: Check::Registration(check),
    needs: &[Fact::RetailHigh],
    explain: Some(explain),
    not_checked: Some(not_checked),
    ..DEFAULTS
};

fn highest<'a>(cx: &Ctx<'a>) -> Option<&'a Reference> {
    cx.facts.extra.as_ref()?.retail_high.as_ref()
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let (Some(claim), Some(h)) = (cx.reg.retail_price(), highest(cx)) else { return vec![] };
    if claim <= h.price() {
        return vec![];
    }
    let msg = format!(
        "retail price {claim} is above every retail observation of the 30 days before registration (highest {}: {})",
        h.price(),
        describe(h)
    );
    vec![cx.finding(claim.to_string(), h.price().to_string(), h.price().to_string(), Some(h.evidence.clone()), msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    vec![match (cx.reg.retail_price(), highest(cx)) {
        (Some(claim), Some(h)) => (
            verdict(fired),
            format!("fails when the claimed retail {claim} > {} (highest observation: {})", h.price(), describe(h)),
        ),
        (None, _) => ("—".into(), "no retail_price given".into()),
        (Some(_), None) => ("not checked".into(), "no retail observation in the 30 days before registration".into()),
    }]
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    if cx.reg.retail_price.is_none() || highest(cx).is_some() {
        return None;
    }
    Some(if facts.has_retail {
        Unchecked::new(Missing::Data, "no retail observation in the 30 days before registration")
    } else {
        Unchecked::new(Missing::Table, "no retail table in the dump")
    })
}
