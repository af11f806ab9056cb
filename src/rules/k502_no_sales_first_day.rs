//! K502 no-sales-first-day: no huopin sale in the slot on the promo's first day; every huopin activity of the offer is cleared.
//!
//! What it checks (SPEC §10.4, the huopin family): the slot's counted sales (as K501) hold no
//! row before the first local midnight (the run's zone) strictly after `promo_start` (a promo
//! starting at midnight has 24 h). Then every huopin-family registration of the offer whose
//! `promo_end ≥` the slot's `promo_start` is flagged (立刻清退该商品参与的全部伙拼活动); a
//! registration in range of several failing slots gets one K502. No figures, no evidence. A
//! window ending after the dump's horizon: not checked.
//!
//! Why the platform cares: a 伙拼 that sells nothing on its first day is withdrawn from every
//! 伙拼 it takes part in.
//!
//! Seed: 004 三.3.
//!
//! Example: promo 6/6 10:00 Shanghai: the first huopin sale at 6/6 23:59:59 passes; at 6/7
//! 00:00 → K502 on this slot and on a later huopin slot of the same offer.

use super::*;
use crate::facts::groups::Groups;

pub const RULE: Rule = Rule {
    code: "K502",
    name: "no-sales-first-day",
    severity: Severity::Error,
    source: include_str!("k502_no_sales_first_day.rs"),
    check: Check::Across(check),
    needs: &[Fact::Sales],
    explain: Some(explain),
    not_checked: Some(|cx, facts| beyond_horizon(cx, facts, midnight(cx))),
    ..DEFAULTS
};

fn midnight(cx: &Ctx) -> i64 {
    let tz = crate::time::zone(&cx.settings.timezone).expect("the run's zone was checked");
    crate::time::next_local_midnight(cx.reg.promo_start, &tz)
}

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let slots = &a.facts.slots;
    // the failing slots' (offer, promo_start)
    let mut failing: Vec<(usize, i64)> = Vec::new();
    for s in slots {
        let first = s.first();
        if !a.runs(first) {
            continue;
        }
        let cx = a.ctx(first);
        let Some(x) = sales(&cx) else { continue };
        let end = midnight(&cx);
        if horizon_reaches(&cx, end) && x.first.is_none_or(|f| f >= end) {
            failing.push((first, cx.reg.promo_start));
        }
    }
    if failing.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let by_offer = Groups::by(regs, |r| r.offer_id.as_str());
    let mut flagged = vec![false; regs.len()];
    for (first, start) in failing {
        for i in by_offer.with(first) {
            if flagged[i] || !a.runs(i) || !a.profile(i).huopin_family || regs[i].promo_end < start {
                continue;
            }
            flagged[i] = true;
            let cx = a.ctx(i);
            let f = &regs[first];
            let msg = format!(
                "no huopin sale on the first day of {}'s promo starting {} (registration {}): every huopin activity of the offer is cleared",
                f.activity,
                crate::time::fmt_utc(start),
                f.registration_id
            );
            out.push(cx.bare_finding(None, msg));
        }
    }
    out
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    sales_explain(cx, fired, midnight(cx))
}
