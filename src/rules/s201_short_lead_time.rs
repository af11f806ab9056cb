//! S201 short-lead-time: the registration came too close to the promo start.
//!
//! What it checks: `promo_start − registered_at < min_lead_hours` fails (huopin: 72 h). The
//! observed value is the lead time in hours (rounded to 6 decimal places for display; the
//! comparison is exact, in microseconds).
//!
//! Why the platform cares: 伙拼 registrations must be submitted at least 72 hours before the
//! activity so that review and warm-up can happen.
//!
//! Seed: 004 三.1 (报名需在活动开始前72小时提交).
//!
//! Example: registered 71 h 59 m 59 s before promo start → S201; exactly 72 h passes.

use super::*;
use crate::time::MICROS_PER_HOUR;

pub const RULE: Rule = Rule {
    code: "S201",
    name: "short-lead-time",
    severity: Severity::Error,
    source: include_str!("s201_short_lead_time.rs"),
    check: Check::Registration(check),
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    let lead = cx.reg.promo_start - cx.reg.registered_at;
    let min = cx.profile.min_lead_hours;
    if lead >= min * MICROS_PER_HOUR {
        return vec![];
    }
    let shown = hours_of(lead);
    let msg = format!("registered {shown} h before promo start; at least {min} h required");
    vec![cx.finding(shown.to_string(), String::new(), min.to_string(), None, msg)]
}

/// Lead time in hours, rounded half-up to 6 decimal places.
fn hours_of(micros: i64) -> Dec {
    // micros / 3.6e9, exactly, then rounded: (micros × 10^6 / 3.6e9) = micros / 3600 at scale 6.
    let scaled = (micros as i128) * 1_000_000;
    let q = scaled / (MICROS_PER_HOUR as i128);
    let r = scaled % (MICROS_PER_HOUR as i128);
    let q = if 2 * r.abs() >= MICROS_PER_HOUR as i128 { q + scaled.signum() } else { q };
    Dec::new(q, 6).normalized()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_rounded_half_up_for_display() {
        assert_eq!(hours_of(72 * MICROS_PER_HOUR - 1_000_000).to_string(), "71.999722");
        assert_eq!(hours_of(20 * MICROS_PER_HOUR + 28 * 60 * 1_000_000).to_string(), "20.466667");
        assert_eq!(hours_of(48 * MICROS_PER_HOUR).to_string(), "48");
    }
}
