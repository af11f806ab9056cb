//! The human reports: `report.md` and a self-contained `report.html` (inline CSS, no network).

use crate::findings::Finding;
use crate::Audit;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Findings per rule, in registry order, with each rule's name and severity counts.
fn by_rule(findings: &[Finding]) -> Vec<(&'static str, &'static str, usize, usize)> {
    crate::rules::ALL
        .iter()
        .map(|r| {
            let errors =
                findings.iter().filter(|f| f.rule == r.code && f.severity == crate::findings::Severity::Error).count();
            let warnings = findings
                .iter()
                .filter(|f| f.rule == r.code && f.severity == crate::findings::Severity::Warning)
                .count();
            (r.code, r.name, errors, warnings)
        })
        .filter(|(_, _, e, w)| e + w > 0)
        .collect()
}

/// Registrations failing on price, worst headroom first: (verdict row, price rules fired).
fn would_pass(a: &Audit) -> Vec<(&crate::verdict::RegistrationVerdict, String)> {
    let mut v: Vec<(&crate::verdict::RegistrationVerdict, String)> = a
        .verdicts
        .iter()
        .filter_map(|r| {
            let price: Vec<&str> = r.rules.split(' ').filter(|c| crate::verdict::PRICE_RULES.contains(c)).collect();
            (!price.is_empty()).then(|| (r, price.join(" ")))
        })
        .collect();
    let key = |r: &crate::verdict::RegistrationVerdict| crate::money::Dec::parse(&r.headroom);
    v.sort_by(|(a, _), (b, _)| key(b).cmp(&key(a)).then(a.registration_id.cmp(&b.registration_id)));
    v
}

pub fn markdown(a: &Audit) -> String {
    let s = &a.summary;
    let mut o = String::new();
    let _ = writeln!(o, "# priceaudit report\n");
    let _ = writeln!(o, "Dump `{}`, naive times in {}.\n", s.dump, s.timezone);
    let _ = writeln!(o, "## Input\n\n| table | format | read | used | rejected |\n|---|---|---:|---:|---:|");
    for (name, t) in &s.tables {
        let _ = writeln!(o, "| {name} | {} | {} | {} | {} |", t.format, t.rows_read, t.rows_used, t.rows_rejected);
    }
    if !s.unknown_channels.is_empty() {
        let list: Vec<String> = s.unknown_channels.iter().map(|(c, n)| format!("`{c}` ({n})")).collect();
        let _ = writeln!(o, "\nUnknown channels (counted like `regular`): {}.", list.join(", "));
    }
    let _ = writeln!(o, "\n## Findings: {}\n\n| rule | name | errors | warnings |\n|---|---|---:|---:|", s.findings);
    for (code, name, e, w) in by_rule(&a.findings) {
        let _ = writeln!(o, "| {code} | {name} | {e} | {w} |");
    }
    let _ = writeln!(o, "\n### By activity\n\n| activity | registrations | findings |\n|---|---:|---:|");
    for (act, n) in &s.registrations_by_activity {
        let _ = writeln!(o, "| {act} | {n} | {} |", s.by_activity.get(act).copied().unwrap_or(0));
    }
    let wp = would_pass(a);
    if !wp.is_empty() {
        let _ = writeln!(o, "\n## What would pass\n\nRegistrations failing on price, largest cut first: the highest compliant promo price, the rule that sets it, and how much to cut.\n\n| registration | activity | promo price | fails | max ok price | binding rule | cut by | note |\n|---|---|---:|---|---:|---|---:|---|");
        for (r, rules) in &wp {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.registration_id,
                r.activity,
                r.promo_price,
                rules,
                r.max_ok_price,
                r.binding_rule,
                r.headroom,
                md_cell(&r.note)
            );
        }
    }
    if !s.not_checked.is_empty() {
        let _ = writeln!(o, "\n## Not checked\n\n| rule | registrations | why |\n|---|---:|---|");
        for n in &s.not_checked {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                n.rule,
                n.registrations.map(|x| x.to_string()).unwrap_or_else(|| "all".into()),
                md_cell(&n.reason)
            );
        }
    }
    if !a.dump.rejects.is_empty() {
        let _ = writeln!(
            o,
            "\n## Rejected rows: {}\n\n| table | line | column | reason | value |\n|---|---:|---|---|---|",
            a.dump.rejects.len()
        );
        for r in a.dump.rejects.iter().take(200) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | `{}` |",
                r.table,
                r.line,
                r.column,
                md_cell(&r.reason),
                md_cell(&r.value)
            );
        }
    }
    let _ = writeln!(o, "\n## Findings\n\n| rule | severity | registration | offer | sku | observed | reference | threshold | message |\n|---|---|---|---|---|---:|---:|---:|---|");
    for f in &a.findings {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.rule,
            f.severity,
            f.registration_id,
            f.offer_id,
            f.sku_id,
            f.observed,
            f.reference,
            f.threshold,
            md_cell(&f.message)
        );
    }
    o
}

pub fn html(a: &Audit) -> String {
    let s = &a.summary;
    let mut o = String::new();
    o.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>priceaudit report</title>\n<style>\n",
    );
    o.push_str("body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}.num{text-align:right}.error{color:#b00020}.warning{color:#a66300}\n");
    o.push_str("</style></head><body>\n<h1>priceaudit report</h1>\n");
    let _ = writeln!(o, "<p>Dump <code>{}</code>, naive times in {}.</p>", esc(&s.dump), esc(&s.timezone));
    o.push_str("<h2>Input</h2><table id=\"input\"><tr><th>table</th><th>format</th><th>read</th><th>used</th><th>rejected</th></tr>\n");
    for (name, t) in &s.tables {
        let _ = writeln!(
            o,
            "<tr><td>{name}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            t.format, t.rows_read, t.rows_used, t.rows_rejected
        );
    }
    o.push_str("</table>\n");
    let _ = writeln!(o, "<h2>Findings: {}</h2><table id=\"by-rule\"><tr><th>rule</th><th>name</th><th>errors</th><th>warnings</th></tr>", s.findings);
    for (code, name, e, w) in by_rule(&a.findings) {
        let _ = writeln!(o, "<tr><td>{code}</td><td>{name}</td><td class=num>{e}</td><td class=num>{w}</td></tr>");
    }
    o.push_str("</table>\n<table id=\"findings\"><tr><th>rule</th><th>severity</th><th>registration</th><th>offer</th><th>sku</th><th>observed</th><th>reference</th><th>threshold</th><th>message</th></tr>\n");
    for f in &a.findings {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td></tr>",
            f.rule,
            f.severity,
            f.severity,
            esc(&f.registration_id),
            esc(&f.offer_id),
            esc(&f.sku_id),
            esc(&f.observed),
            esc(&f.reference),
            esc(&f.threshold),
            esc(&f.message)
        );
    }
    o.push_str("</table>\n");
    let wp = would_pass(a);
    if !wp.is_empty() {
        o.push_str("<h2>What would pass</h2><p>Registrations failing on price, largest cut first.</p><table id=\"would-pass\"><tr><th>registration</th><th>activity</th><th>promo price</th><th>fails</th><th>max ok price</th><th>binding rule</th><th>cut by</th><th>note</th></tr>\n");
        for (r, rules) in &wp {
            let _ = writeln!(o, "<tr><td>{}</td><td>{}</td><td class=num>{}</td><td>{}</td><td class=num>{}</td><td>{}</td><td class=num>{}</td><td>{}</td></tr>", esc(&r.registration_id), esc(&r.activity), r.promo_price, rules, r.max_ok_price, r.binding_rule, r.headroom, esc(&r.note));
        }
        o.push_str("</table>\n");
    }
    if !a.dump.rejects.is_empty() {
        let _ = writeln!(o, "<h2>Rejected rows: {}</h2><table id=\"rejects\"><tr><th>table</th><th>line</th><th>column</th><th>reason</th><th>value</th></tr>", a.dump.rejects.len());
        for r in &a.dump.rejects {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=num>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                r.table,
                r.line,
                esc(&r.column),
                esc(&r.reason),
                esc(&r.value)
            );
        }
        o.push_str("</table>\n");
    }
    if !s.not_checked.is_empty() {
        o.push_str(
            "<h2>Not checked</h2><table id=\"not-checked\"><tr><th>rule</th><th>registrations</th><th>why</th></tr>\n",
        );
        for n in &s.not_checked {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=num>{}</td><td>{}</td></tr>",
                n.rule,
                n.registrations.map(|x| x.to_string()).unwrap_or_else(|| "all".into()),
                esc(&n.reason)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</body></html>\n");
    o
}

/// The one-screen summary `audit` prints.
pub fn terminal(a: &Audit, out: &std::path::Path) -> String {
    let s = &a.summary;
    let mut o = String::new();
    let _ = writeln!(o, "priceaudit: {} registrations, {} ladder groups", s.registrations, s.ladder_groups);
    for (name, t) in &s.tables {
        let _ = writeln!(
            o,
            "  {name:<14} read {:>10}  used {:>10}  rejected {:>6}",
            t.rows_read, t.rows_used, t.rows_rejected
        );
    }
    if !s.unknown_channels.is_empty() {
        let list: Vec<String> = s.unknown_channels.iter().map(|(c, n)| format!("{} ({n})", c.escape_debug())).collect();
        let _ = writeln!(o, "  unknown channels (counted like regular): {}", list.join(", "));
    }
    let errors = s.by_severity.get("error").copied().unwrap_or(0);
    let warnings = s.by_severity.get("warning").copied().unwrap_or(0);
    let _ = writeln!(o, "findings: {} ({errors} errors, {warnings} warnings)", s.findings);
    let verdicts: Vec<String> = s.verdicts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(o, "registrations: {}", verdicts.join(", "));
    for (code, name, e, w) in by_rule(&a.findings) {
        let _ = writeln!(o, "  {code} {name:<28} {e:>6} errors {w:>6} warnings");
    }
    for n in &s.not_checked {
        let who = n.registrations.map(|x| format!("{x} registrations")).unwrap_or_else(|| "whole dump".into());
        let _ = writeln!(o, "  not checked: {} for {who}: {}", n.rule, n.reason);
    }
    let _ = writeln!(
        o,
        "wrote {}/ (findings.csv, findings.json, registrations.csv, registrations.json, rejects.csv, summary.json, report.md, report.html)",
        out.display()
    );
    o
}

/// `priceaudit rules [CODE]`.
pub fn rules_catalog(code: Option<&str>, markdown: bool) -> crate::error::Result<String> {
    let defaults = crate::profile::builtins();
    let used_by = |c: &str| -> String {
        if c == "P105" {
            return "(every ladder group)".into();
        }
        defaults.iter().filter(|p| p.runs(c)).map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let mut o = String::new();
    match code {
        Some(c) => {
            let r = crate::rules::by_code(&c.to_uppercase())
                .ok_or_else(|| crate::error::Error::new(format!("unknown rule code {c:?}")))?;
            let _ = writeln!(o, "{}\n\nseverity: {}\nprofiles: {}", r.doc(), r.severity, used_by(r.code));
        }
        None if markdown => o.push_str(&rules_markdown_table()),
        None => {
            for r in crate::rules::ALL {
                let summary = r.summary();
                let what = summary.split_once(": ").map(|x| x.1).unwrap_or(&summary);
                let _ = writeln!(
                    o,
                    "{} {:<28} {:<8} {}\n      profiles: {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    what,
                    used_by(r.code)
                );
            }
            let _ = writeln!(o, "\n`priceaudit rules CODE` prints a rule's full documentation.");
        }
    }
    Ok(o)
}

/// The README's rule table, generated from the registry (a test keeps the README in step).
pub fn rules_markdown_table() -> String {
    let defaults = crate::profile::builtins();
    let mut o = String::from("| code | name | severity | profiles | what it flags |\n|---|---|---|---|---|\n");
    for r in crate::rules::ALL {
        let profiles = if r.code == "P105" {
            "every ladder group".to_string()
        } else {
            defaults.iter().filter(|p| p.runs(r.code)).map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
        };
        let summary = r.summary();
        let what = summary.split_once(": ").map(|x| x.1).unwrap_or(&summary).to_string();
        let _ = writeln!(o, "| {} | {} | {} | {} | {} |", r.code, r.name, r.severity, profiles, what);
    }
    o
}

/// `priceaudit profiles`: every profile's effective settings.
pub fn profiles(s: &crate::profile::Settings) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "timezone = {:?}\nladder_spread_limit = \"{}\"\n", s.timezone, s.ladder_spread_limit);
    for p in &s.profiles {
        let _ = writeln!(o, "[profile.{}]  # {}", p.name, p.description);
        let rules: Vec<String> = p.rules.iter().map(|(c, sev)| format!("{c}:{sev}")).collect();
        let _ = writeln!(o, "rules = {}", rules.join(" "));
        let _ = writeln!(
            o,
            "basis = {}  lowest_30d_days = {}  lowest_180d_days = {}",
            p.basis.as_str(),
            p.lowest_30d_days,
            p.lowest_180d_days
        );
        let _ = writeln!(o, "excluded_channels = {:?} (+ member_price, bundle_price)", p.excluded_channels);
        let _ = writeln!(
            o,
            "list_factor = {} (fails at {})  retail_factor = {} (fails at {})",
            p.list_factor,
            if p.list_strict { "≥" } else { ">" },
            p.retail_factor,
            if p.retail_strict { "≥" } else { ">" }
        );
        if !p.category_discount.is_empty() {
            let cd: Vec<String> = p.category_discount.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(o, "category_discount = {}", cd.join(" "));
        }
        let _ = writeln!(
            o,
            "warmup_hours = {}  min_lead_hours = {}  big_promo = {}  conflict_group = {}",
            p.warmup_hours,
            p.min_lead_hours,
            p.big_promo,
            p.conflict_group.as_deref().unwrap_or("-")
        );
        if !p.eligibility.is_empty() {
            let el: Vec<String> = p.eligibility.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(o, "eligibility = {}", el.join(" "));
        }
        if let Some(b) = p.baseline {
            let _ = writeln!(o, "baseline = {} over {} days", b.as_str(), p.baseline_days);
        }
        let _ = writeln!(o, "price_tick = {}\n", p.price_tick);
    }
    o
}
