//! K503 low-turnover-12h: the slot's huopin turnover 12 hours after the start is under 10000.
//!
//! What it checks (SPEC §10.4, the huopin family): `Σ price × qty < 10000` (`turnover_min`) over
//! the slot's counted sales (as K501: `huopin` transactions of the slot's SKUs, each once, from
//! the slot's warm-up start) before `promo_start + 12 h` (`turnover_hours`). Observed = the sum,
//! threshold = 10000; every registration of the slot is flagged; no evidence. A counted row
//! without `qty`, or no `qty` column: not checked. A window ending after the dump's horizon: not
//! checked.
//!
//! Why the platform cares: a 伙拼 selling under 10,000 yuan in its first twelve hours is taken off.
//!
//! Seed: 000 下架规则 (活动开始后12小时, 伙拼交易额不足1万元).
//!
//! Example: sales 99.99 × 100 = 9999 → K503; 100 × 100 = 10000 passes.

use super::*;
use crate::time::MICROS_PER_HOUR;

pub const RULE: Rule = Rule {
    code: "K503",
    name: "low-turnover-12h",
    severity: Severity::Error,
    source: include_str!("k503_low_turnover_12h.rs"),
    check: Check::Registration(check),
    needs: &[Fact::Sales],
    explain: Some(explain),
    not_checked: Some(not_checked),
    ..DEFAULTS
};

fn window_end(cx: &Ctx) -> i64 {
    cx.reg.promo_start + cx.profile.turnover_hours * MICROS_PER_HOUR
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(s) = sales(cx) else { return vec![] };
    if !cx.dump.has_qty {
        return vec![]; // not checked: no quantities at all
    }
    // a sum past an i128 is above every threshold
    let (false, Some(sum)) = (s.missing_qty, s.turnover) else { return vec![] };
    let sum = Dec::from_money(sum);
    let min = cx.profile.turnover_min;
    if !horizon_reaches(cx, window_end(cx)) || sum >= min {
        return vec![];
    }
    let msg = format!(
        "huopin turnover {sum} over {} counted sale(s) before {} (promo start + {} h); at least {min} required",
        s.rows,
        crate::time::fmt_utc(window_end(cx)),
        cx.profile.turnover_hours
    );
    vec![cx.finding(sum.to_string(), String::new(), min.to_string(), None, msg)]
}

fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    let mut lines = sales_explain(cx, fired, window_end(cx));
    if let Some(s) = sales(cx) {
        let sum = match (s.missing_qty, s.turnover) {
            (true, _) => "a counted sale has no qty".to_string(),
            (false, None) => "beyond any threshold".to_string(),
            (false, Some(t)) => format!("Σ price × qty = {}", Dec::from_money(t)),
        };
        lines.push(("".into(), format!("turnover: {sum} (at least {} required)", cx.profile.turnover_min)));
    }
    lines
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    if let Some(r) = beyond_horizon(cx, facts, window_end(cx)) {
        return Some(r);
    }
    let s = sales(cx)?;
    if !facts.has_qty {
        return Some(Unchecked::new(Missing::Column, "no qty column in prices"));
    }
    if s.missing_qty {
        return Some(Unchecked::new(Missing::Data, "a counted sale has no qty"));
    }
    None
}
