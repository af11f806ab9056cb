//! P110 list-price-edited-in-lock: the regular list price was edited (or the listing taken down) in the lock.
//!
//! What it checks (SPEC §10.2): an **edit** in the lock — (a) a `regular` `list` row of the SKU
//! with `ts` in the lock whose price differs from that of the regular list row in force at
//! `ts − 1 µs` (none in force then: a first listing, no edit), or (b) an instant of the lock at
//! which no regular list row is in force although one was at the lock's start (the listing
//! taken down). The lock is `[registered_at, promo_end]` in the huopin family (closed: a row
//! whose `until` is exactly promo_end leaves the last instant uncovered) and `[promo_start −
//! lock_hours, promo_start − warmup_hours)` for ae-store (312 h and 216 h, whatever an explicit
//! `warmup_start` says). Only channel `regular` (an empty channel is regular; unknown channels
//! are not); `registrations.list_price` plays no part. One finding per registration, for the
//! first edit (earliest instant, then file order); the message counts the edits. (a): observed
//! = evidence price = the new price, reference = the previous price; (b): observed empty,
//! reference = evidence price = the last row in force's price. No threshold. A promo-price
//! change does not fix it.
//!
//! Why the platform cares: raising the list price after registering and then "discounting" it
//! (先涨后降) fakes the discount; after registration the SKU and its prices may not be edited.
//!
//! Seed: 000 常见问题 6 (报名后不可修改sku, 色码价格), 003 锁定时间 (store discounts locked 3/15 –
//! 3/18, listed throughout: 在架).
//!
//! Example: registered 6/1 10:00 at list 100: a list row 110 at 6/3 → P110 (observed 110,
//! reference 100); the same row at 6/1 09:59:59 (before the lock) → passes.

use super::*;

pub const RULE: Rule = Rule {
    code: "P110",
    name: "list-price-edited-in-lock",
    severity: Severity::Error,
    source: include_str!("p110_list_price_edited_in_lock.rs"),
    check: Check::Registration(check),
    needs: &[Fact::LockEdits],
    explain: Some(explain),
    ..DEFAULTS
};

fn edit<'a>(cx: &Ctx<'a>) -> Option<&'a crate::facts::LockEdit> {
    cx.facts.extra.as_ref()?.lock_edit.as_ref()
}

fn lock(cx: &Ctx) -> String {
    let w = crate::facts::windows::lock(cx.reg, cx.profile);
    format!("[{}, {}{}", crate::time::fmt_utc(w.from), crate::time::fmt_utc(w.to), if w.closed { "]" } else { ")" })
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(e) = edit(cx) else { return vec![] };
    let more = match e.count {
        1 => String::new(),
        n => format!(" ({n} edits in the lock)"),
    };
    let (observed, msg) = if e.taken_down {
        (
            String::new(),
            format!(
                "the regular listing ({}) was taken down at {}, inside the lock {}{more}",
                e.previous,
                crate::time::fmt_utc(e.at),
                lock(cx)
            ),
        )
    } else {
        (
            e.row.price().to_string(),
            format!(
                "the regular list price was edited from {} to {} at {}, inside the lock {}{more}",
                e.previous,
                e.row.price(),
                crate::time::fmt_utc(e.at),
                lock(cx)
            ),
        )
    };
    vec![cx.finding(observed, e.previous.to_string(), String::new(), Some(e.row.evidence.clone()), msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    let what = match edit(cx) {
        Some(e) => format!("first edit at {} ({}; {} edit(s))", crate::time::fmt_utc(e.at), describe(&e.row), e.count),
        None => "no edit of the regular list price".to_string(),
    };
    vec![(verdict(fired), format!("lock {}: {what}", lock(cx)))]
}
