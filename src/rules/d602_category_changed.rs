//! D602 category-changed (warning): an offer registered under different categories.
//!
//! What it checks (SPEC §10.5): the offer's registrations (any profile) carry two or more
//! distinct non-empty `category` values (trimmed, case-sensitive). Each registration running the
//! rule whose non-empty category differs from that of the offer's earliest registration with a
//! non-empty category (`registered_at`, then file order) is flagged, with that earliest
//! registration as evidence. No figures.
//!
//! Why the platform cares: publishing one offer under changing categories is the trace of 类目错配
//! (a mismatched category to reach another channel's thresholds); a warning, not its proof.
//!
//! Seed: 004 三.4(3) (多次更改offer类目发布在不同的类目).
//!
//! Example: offer O registered as "apparel" on 6/1 and "toys" on 6/5 → D602 on the 6/5
//! registration; "apparel " (a trailing space) → passes.

use super::*;
use crate::facts::groups::Groups;

pub const RULE: Rule = Rule {
    code: "D602",
    name: "category-changed",
    severity: Severity::Warning,
    source: include_str!("d602_category_changed.rs"),
    check: Check::Across(check),
    ..DEFAULTS
};

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    let categorised: Vec<usize> = (0..regs.len()).filter(|&i| !regs[i].category.trim().is_empty()).collect();
    let mut out = Vec::new();
    let groups = Groups::by(&categorised, |&i| regs[i].offer_id.as_str());
    for group in groups.all() {
        let members: Vec<usize> = group.iter().map(|&g| categorised[g as usize]).collect();
        let first = *members.iter().min_by_key(|&&i| (regs[i].registered_at, i)).expect("a group has members");
        let cat = regs[first].category.trim();
        for &i in members.iter().filter(|&&i| a.runs(i) && regs[i].category.trim() != cat) {
            let cx = a.ctx(i);
            let msg = format!(
                "category {:?} differs from {:?} of the offer's first registration {} ({})",
                cx.reg.category.trim(),
                cat,
                regs[first].registration_id,
                crate::time::fmt_utc(regs[first].registered_at)
            );
            out.push(cx.bare_finding(Some(cx.slot_evidence(&regs[first])), msg));
        }
    }
    out
}
