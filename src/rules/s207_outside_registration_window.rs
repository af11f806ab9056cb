//! S207 outside-registration-window: registered before registration opened or after it closed.
//!
//! What it checks (SPEC §10.3): on a profile that sets `registration_opens` and/or
//! `registration_closes` (instants of SPEC §3; a naive one is in the run's zone; no built-in
//! profile sets them, a config does), `registered_at` before opens or after closes fails (both
//! bounds inclusive). No figures, no evidence.
//!
//! Why the platform cares: a campaign accepts registrations only in its announced period.
//!
//! Seed: 002 报名时间, 003 招商时间 (platform registration 2/12 00:00:00 – 3/6 23:59:59 US
//! Pacific time; `fixtures/config/ae-328.toml` reproduces it).
//!
//! Example: closes 2018-03-06 23:59:59 (America/Los_Angeles): registered 3/6 23:59:59 passes,
//! 3/7 00:00:00 → S207.

use super::*;

pub const RULE: Rule = Rule {
    code: "S207",
    name: "outside-registration-window",
    severity: Severity::Error,
    source: include_str!("s207_outside_registration_window.rs"),
    check: Check::Registration(check),
    runs_where: "profiles whose config sets registration_opens or registration_closes",
    ..DEFAULTS
};

fn check(cx: &Ctx) -> Vec<Finding> {
    let at = cx.reg.registered_at;
    let (opens, closes) = (&cx.profile.registration_opens, &cx.profile.registration_closes);
    let msg = match (opens, closes) {
        (Some(o), _) if at < o.at => format!(
            "registered {}, before registration opened ({})",
            crate::time::fmt_utc(at),
            crate::time::fmt_utc(o.at)
        ),
        (_, Some(c)) if at > c.at => format!(
            "registered {}, after registration closed ({})",
            crate::time::fmt_utc(at),
            crate::time::fmt_utc(c.at)
        ),
        _ => return vec![],
    };
    vec![cx.bare_finding(None, msg)]
}
