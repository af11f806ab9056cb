//! S204 merchant-fatigue: a merchant promotes more offers in the fatigue period than allowed.
//!
//! What it checks (SPEC §10.3): one merchant's slots in one activity, ordered by slot time
//! (ties: file order). A slot of local date `d` whose offer is not among the offers of the
//! merchant's earlier slots dated `d − fatigue_days + 1 … d` fails when those earlier slots
//! (failed ones included) already hold `fatigue_offers` (2) distinct offers. The evidence is the
//! earliest of those earlier slots. A slot's merchant is its first registration's; an empty
//! merchant is not checked.
//!
//! Why the platform cares: 伙拼 lets one merchant promote two products per three days, so that
//! the traffic is shared among merchants.
//!
//! Seed: 000 报名注意事项 7 (单个商家每3天只能推广2个产品).
//!
//! Example: merchant M registers offers A and B on 6/1 and offer C on 6/3 → S204 on C's slot
//! (evidence: A's slot); C on 6/4 passes (6/1 is outside 6/2–6/4).

use super::*;
use crate::facts::slots::groups_in_order;
use polars::prelude::PlHashMap as HashMap;

pub const RULE: Rule = Rule {
    code: "S204",
    name: "merchant-fatigue",
    severity: Severity::Error,
    source: include_str!("s204_merchant_fatigue.rs"),
    check: Check::Across(check),
    not_checked: Some(|cx, facts| {
        // the slot's merchant: its first registration's
        let first = facts.slots[facts.slot_of[cx.reg.idx] as usize].first();
        facts.registrations[first]
            .merchant_id
            .is_empty()
            .then_some(Unchecked::new(Missing::Column, Cow::Borrowed("no merchant_id")))
    }),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let tz = a.zone();
    let slots = &a.facts.slots;
    let mut out = Vec::new();
    for group in groups_in_order(slots, regs, |r| (r.merchant_id.as_str(), r.activity.as_str())) {
        if regs[slots[group[0]].first()].merchant_id.is_empty() {
            continue;
        }
        let days: Vec<i64> = group.iter().map(|&s| slots[s].day).collect();
        let offer_of = |i: usize| regs[slots[group[i]].first()].offer_id.as_str();
        // the earlier slots dated d − fatigue_days + 1 … d: `lo..j` (dates never decrease), with
        // the count of each offer among them
        let mut lo = 0;
        let mut held: HashMap<&str, usize> = HashMap::default();
        for j in 0..group.len() {
            let slot = &slots[group[j]];
            let p = a.profile(slot.first());
            while lo < j && days[lo] <= days[j] - p.fatigue_days {
                let o = offer_of(lo);
                let n = held.get_mut(o).expect("held");
                *n -= 1;
                if *n == 0 {
                    held.remove(o);
                }
                lo += 1;
            }
            let offer = offer_of(j);
            let fails = !held.contains_key(offer) && held.len() as i64 >= p.fatigue_offers;
            if fails {
                let mut offers: Vec<&str> = held.keys().copied().collect();
                offers.sort_unstable();
                let e = &regs[slots[group[lo]].first()];
                for &m in slot.members.iter().filter(|&&m| a.runs(m)) {
                    let cx = a.ctx(m);
                    let msg = format!(
                        "merchant {} already promotes {} offers ({}) in {} from {} to {}; at most {} per {} days",
                        cx.reg.merchant_id,
                        offers.len(),
                        offers.join(", "),
                        cx.reg.activity,
                        crate::time::fmt_local_date(slots[group[lo]].time, &tz),
                        crate::time::fmt_local_date(slot.time, &tz),
                        p.fatigue_offers,
                        p.fatigue_days
                    );
                    out.push(cx.bare_finding(Some(cx.slot_evidence(e)), msg));
                }
            }
            *held.entry(offer).or_insert(0) += 1;
        }
    }
    out
}
