//! K501 no-sales-4h: no huopin sale in the slot by 4 hours after the promo start.
//!
//! What it checks (SPEC §10.4, the huopin family): the slot's counted sales — the `txn` rows of
//! channel `huopin` of any SKU of the slot, each once, from the warm-up start `ws` of the slot's
//! first registration (P106's: explicit `warmup_start`, else `max(promo_start − warmup_hours,
//! approved_at)`) — hold no row before `promo_start + 4 h` (`no_sales_hours`). Every
//! registration of the slot is flagged; no figures, no evidence. A window ending after the dump's
//! horizon (the latest `ts` of any valid price row) is not checked; one ending exactly at it is.
//! Merchant-initiated orders cannot be told apart in a dump: they count.
//!
//! Why the platform cares: a 伙拼 with no sale four hours in is taken off the activity.
//!
//! Seed: 000 下架规则 (活动开始后4小时, 伙拼交易额为0元).
//!
//! Example: promo 6/6 10:00: a huopin sale at 13:59:59 passes; the first at 14:00 → K501 (if the
//! dump reaches 14:00).

use super::*;
use crate::time::MICROS_PER_HOUR;

pub const RULE: Rule = Rule {
    code: "K501",
    name: "no-sales-4h",
    severity: Severity::Error,
    source: include_str!("k501_no_sales_4h.rs"),
    check: Check::Registration(check),
    needs: &[Fact::Sales],
    explain: Some(explain),
    not_checked: Some(|cx, facts| beyond_horizon(cx, facts, window_end(cx))),
    ..DEFAULTS
};

fn window_end(cx: &Ctx) -> i64 {
    cx.reg.promo_start + cx.profile.no_sales_hours * MICROS_PER_HOUR
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(s) = sales(cx).copied() else { return vec![] };
    let end = window_end(cx);
    if !horizon_reaches(cx, end) || s.first.is_some_and(|f| f < end) {
        return vec![];
    }
    let msg = format!(
        "no huopin sale in the slot from {} (warm-up start) to {} (promo start + {} h)",
        crate::time::fmt_utc(s.from),
        crate::time::fmt_utc(end),
        cx.profile.no_sales_hours
    );
    vec![cx.bare_finding(None, msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    sales_explain(cx, fired, window_end(cx))
}
