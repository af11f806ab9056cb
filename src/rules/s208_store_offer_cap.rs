//! S208 store-offer-cap: a merchant registers more distinct offers than the campaign allows.
//!
//! What it checks (SPEC §10.3): on a profile that sets `max_offers_per_merchant` N (no built-in
//! does; a config does), over the whole dump, a merchant's registrations in the profile whose
//! offer is not among its first N distinct offers (order: `registered_at`, then file order)
//! fail. The evidence is the registration whose offer was the N-th. An empty merchant is not
//! checked. No figures.
//!
//! Why the platform cares: a store may enter a limited number of products in a big promo.
//!
//! Seed: 003 (该店铺内报名商品数上限为30款).
//!
//! Example: N = 2; a merchant registers offers A, B, then C → S208 on C (evidence: B's
//! registration); a second SKU of A afterwards passes.

use super::*;
use crate::facts::groups::Groups;
use polars::prelude::PlHashSet as HashSet;

pub const RULE: Rule = Rule {
    code: "S208",
    name: "store-offer-cap",
    severity: Severity::Error,
    source: include_str!("s208_store_offer_cap.rs"),
    check: Check::Across(check),
    runs_where: "profiles whose config sets max_offers_per_merchant",
    not_checked: Some(|cx, _| {
        cx.reg.merchant_id.is_empty().then_some(Unchecked::new(Missing::Column, Cow::Borrowed("no merchant_id")))
    }),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let mut out = Vec::new();
    let mine: Vec<usize> = (0..regs.len()).filter(|&i| a.runs(i) && !regs[i].merchant_id.is_empty()).collect();
    let groups = Groups::by(&mine, |&i| (regs[i].merchant_id.as_str(), regs[i].profile));
    for group in groups.all() {
        let mut group: Vec<usize> = group.iter().map(|&g| mine[g as usize]).collect();
        let Some(n) = a.profile(group[0]).max_offers_per_merchant else { continue };
        group.sort_by_key(|&i| (regs[i].registered_at, i));
        // the merchant's first N distinct offers
        let mut offers: HashSet<&str> = HashSet::default();
        let mut nth: Option<usize> = None;
        for &i in &group {
            let offer = regs[i].offer_id.as_str();
            if offers.contains(offer) {
                continue;
            }
            if (offers.len() as i64) < n {
                offers.insert(offer);
                if offers.len() as i64 == n {
                    nth = Some(i);
                }
                continue;
            }
            let cx = a.ctx(i);
            let msg = format!(
                "offer {offer} is not among merchant {}'s first {n} offers in {} (the {n}th: {})",
                cx.reg.merchant_id,
                cx.reg.activity,
                nth.map_or("none", |e| regs[e].offer_id.as_str())
            );
            out.push(cx.bare_finding(nth.map(|e| cx.slot_evidence(&regs[e])), msg));
        }
    }
    out
}
