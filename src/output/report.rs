//! The human reports: `report.md` and a self-contained `report.html` (inline CSS, no network).

use super::digest::{Digest, WouldPass};
use crate::findings::Finding;
use crate::Audit;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A Markdown table cell, escaped as every HTML cell is: a character that would end the cell
/// (`|`, a line break), start markup (`` ` ``, `<`, `&`) or escape (`\\`) is backslash-escaped, so
/// an id or value reads as written.
fn md_cell(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '`' | '<' | '>' | '&' | '*' | '_' | '[' | ']' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Findings per rule, in registry order, with each rule's family, name and severity counts.
fn by_rule(d: &Digest) -> Vec<(&'static str, &'static str, &'static str, u64, u64)> {
    crate::rules::ALL
        .iter()
        .filter_map(|r| d.severity_by_rule.get(r.code).map(|&(e, w)| (r.family(), r.code, r.name, e, w)))
        .collect()
}

/// The merchants failing merchant gates, most gates first (then most registrations, then by
/// id): merchant, registrations affected, the gates (`M701 ×3 M702`).
fn merchant_gate_rows(s: &crate::summary::Summary) -> Vec<(&str, u64, String)> {
    let mut rows: Vec<(&str, u64, usize, String)> = s
        .merchant_gates
        .iter()
        .map(|(m, g)| {
            let gates: Vec<String> =
                g.gates.iter().map(|(c, n)| if *n > 1 { format!("{c} ×{n}") } else { c.clone() }).collect();
            (m.as_str(), g.registrations, g.gates.len(), gates.join(" "))
        })
        .collect();
    rows.sort_by(|x, y| y.2.cmp(&x.2).then(y.1.cmp(&x.1)).then(x.0.cmp(y.0)));
    rows.into_iter().map(|(m, n, _, g)| (m, n, g)).collect()
}

/// Findings a person reads in a report: at most this many per rule (every rule represented);
/// findings.csv has them all.
pub const REPORT_ROWS_PER_RULE: usize = 200;
/// Rows of the other long report tables (rejects, What would pass).
pub const REPORT_ROWS: usize = 1000;

/// The findings shown in a report, and how many were left out.
fn shown(d: &Digest) -> (&[Finding], u64) {
    (&d.shown, d.summary.findings - d.shown.len() as u64)
}

fn left_out_note(left: u64, what: &str) -> String {
    if left == 0 {
        String::new()
    } else {
        format!("{left} more {what} not shown here; all are in the CSV/JSON outputs.")
    }
}

/// `report.md` of an audit.
pub fn markdown(a: &Audit) -> String {
    markdown_of(&Digest::of(a))
}

/// `report.md` from an audit's digest.
pub fn markdown_of(a: &Digest) -> String {
    let s = &a.summary;
    let mut o = String::new();
    let _ = writeln!(o, "# priceaudit report\n");
    let _ = writeln!(o, "Dump `{}`, naive times in {}.\n", s.dump, s.timezone);
    let _ = writeln!(o, "## Input\n\n| table | format | read | used | rejected |\n|---|---|---:|---:|---:|");
    for (name, t) in &s.tables {
        let _ = writeln!(o, "| {name} | {} | {} | {} | {} |", t.format, t.rows_read, t.rows_used, t.rows_rejected);
    }
    if !s.unknown_channels.is_empty() {
        let list: Vec<String> = s.unknown_channels.iter().map(|(c, n)| format!("{} ({n})", md_cell(c))).collect();
        let _ = writeln!(o, "\nUnknown channels (counted like `regular`): {}.", list.join(", "));
    }
    let _ = writeln!(
        o,
        "\n## Findings: {}\n\n| family | rule | name | errors | warnings |\n|---|---|---|---:|---:|",
        s.findings
    );
    for (family, code, name, e, w) in by_rule(a) {
        let _ = writeln!(o, "| {family} | {code} | {name} | {e} | {w} |");
    }
    let _ = writeln!(o, "\n### By activity\n\n| activity | registrations | findings |\n|---|---:|---:|");
    for (act, n) in &s.registrations_by_activity {
        let _ = writeln!(o, "| {} | {n} | {} |", md_cell(act), s.by_activity.get(act).copied().unwrap_or(0));
    }
    if !s.merchant_gates.is_empty() {
        let _ = writeln!(o, "\n### Merchants failing merchant gates\n\nWhich merchants fail which gate (SPEC §11), most gates first: a merchant's row of `merchants` fails for every registration it makes in the gate's profiles.\n\n| merchant | registrations | gates failed |\n|---|---:|---|");
        for (m, n, gates) in merchant_gate_rows(s).into_iter().take(REPORT_ROWS) {
            let _ = writeln!(o, "| {} | {n} | {} |", md_cell(m), gates);
        }
    }
    let wp = &a.would_pass;
    if !wp.is_empty() {
        let _ = writeln!(o, "\n## What would pass\n\nRegistrations failing on price, largest cut first: the highest compliant promo price, the rule that sets it, and how much to cut.\n\n| registration | activity | promo price | fails | max ok price | binding rule | cut by | note |\n|---|---|---:|---|---:|---|---:|---|");
        for WouldPass { verdict: r, rules, .. } in wp.iter().take(REPORT_ROWS) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md_cell(&r.registration_id),
                md_cell(&r.activity),
                r.promo_price,
                rules,
                crate::verdict::shown(&r.max_ok_price),
                r.binding_rule.unwrap_or(""),
                crate::verdict::shown(&r.headroom),
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
                md_cell(&n.why())
            );
        }
    }
    if !a.rejects.is_empty() {
        let _ = writeln!(
            o,
            "\n## Rejected rows: {}\n\n| table | line | column | reason | value |\n|---|---:|---|---|---|",
            s.rejects
        );
        for r in a.rejects.iter().take(200) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                r.table,
                r.line,
                r.column,
                md_cell(&r.reason),
                md_cell(&r.value)
            );
        }
    }
    let (findings, left) = shown(a);
    let _ = writeln!(o, "\n## Findings\n\n{}\n\n| rule | severity | registration | offer | sku | observed | reference | threshold | message |\n|---|---|---|---|---|---:|---:|---:|---|", left_out_note(left, &format!("findings (at most {REPORT_ROWS_PER_RULE} per rule are listed)")));
    for f in findings {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.rule,
            f.severity,
            md_cell(&f.registration_id),
            md_cell(&f.offer_id),
            md_cell(&f.sku_id),
            f.observed,
            f.reference,
            f.threshold,
            md_cell(&f.message)
        );
    }
    o
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #d6d6d6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none}.num{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#b3001b;font-weight:600}.warning{color:#a05a00;font-weight:600}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}.muted{color:#666}.charts{display:flex;gap:16px;flex-wrap:wrap}
input#filter{padding:4px 8px;width:320px;margin:6px 0}";

const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(t){t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){var rows=Array.prototype.slice.call(t.querySelectorAll('tr')).slice(1);var asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';rows.sort(function(a,b){var x=a.children[i].textContent,y=b.children[i].textContent;var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});rows.forEach(function(r){t.appendChild(r);});});});});
var f=document.getElementById('filter');if(f){f.addEventListener('input',function(){var q=f.value.toLowerCase();document.querySelectorAll('#findings tr').forEach(function(r,i){if(i>0){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';}});});}";

fn table_head(o: &mut String, id: &str, sortable: bool, cols: &[&str]) {
    let _ = write!(o, "<table id=\"{id}\"{}><tr>", if sortable { " class=\"sortable\"" } else { "" });
    for c in cols {
        let _ = write!(o, "<th>{c}</th>");
    }
    o.push_str("</tr>\n");
}

/// `report.html` of an audit.
pub fn html(a: &Audit) -> String {
    html_of(&Digest::of(a))
}

/// `report.html` from an audit's digest.
pub fn html_of(a: &Digest) -> String {
    let s = &a.summary;
    let mut o = String::new();
    let _ = write!(o, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>priceaudit report</title>\n<style>{STYLE}</style></head><body>\n");
    o.push_str("<h1>priceaudit report</h1>\n");
    let profiles: Vec<&String> = s.registrations_by_activity.keys().collect();
    let _ = writeln!(
        o,
        "<p class=\"muted\">Dump <code>{}</code> · naive times in {} · profiles {}</p>",
        esc(&s.dump),
        esc(&s.timezone),
        esc(&profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))
    );
    let errors = s.by_severity.get("error").copied().unwrap_or(0);
    let warnings = s.by_severity.get("warning").copied().unwrap_or(0);
    o.push_str("<div class=\"cards\" id=\"cards\">");
    let _ = write!(o, "<div class=card><b>{}</b>registrations</div>", s.registrations);
    for v in ["pass", "fail", "at-risk", "unverifiable"] {
        let _ = write!(o, "<div class=card><b>{}</b>{v}</div>", s.verdicts.get(v).copied().unwrap_or(0));
    }
    let _ = write!(o, "<div class=card><b class=error>{errors}</b>errors</div><div class=card><b class=warning>{warnings}</b>warnings</div><div class=card><b>{}</b>rejected rows</div>", s.rejects);
    o.push_str("</div>\n<h2>Input</h2>\n");
    table_head(&mut o, "input", false, &["table", "file", "format", "read", "used", "rejected", "reconciled"]);
    for (name, t) in &s.tables {
        let _ = writeln!(o, "<tr><td>{name}</td><td><code>{}</code></td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td></tr>", esc(&t.file), t.format, t.rows_read, t.rows_used, t.rows_rejected, if t.reconciled { "yes" } else { "NO" });
    }
    o.push_str("</table>\n");
    if !s.unknown_channels.is_empty() {
        let list: Vec<String> =
            s.unknown_channels.iter().map(|(c, n)| format!("<code>{}</code> ({n})", esc(c))).collect();
        let _ = writeln!(o, "<p>Unknown channels, counted like <code>regular</code>: {}</p>", list.join(", "));
    }
    o.push_str("<h2>Findings by rule and activity</h2>\n<div class=\"charts\">\n");
    let rule_rows: Vec<(String, u64, u64)> =
        by_rule(a).into_iter().map(|(_, c, n, e, w)| (format!("{c} {n}"), e, w)).collect();
    o.push_str(&super::charts::stacked_bars("Findings by rule", &rule_rows, ("errors", "warnings")));
    let act_rows: Vec<(String, u64, u64)> =
        a.severity_by_activity.iter().map(|(k, &(e, w))| (k.clone(), e, w)).collect();
    o.push_str(&super::charts::stacked_bars("Findings by activity", &act_rows, ("errors", "warnings")));
    o.push_str("</div>\n<p class=\"muted\"><span style=\"color:#be1e2d\">■</span> errors &nbsp; <span style=\"color:#e6961e\">■</span> warnings</p>\n");
    table_head(&mut o, "by-rule", true, &["family", "rule", "name", "errors", "warnings"]);
    for (family, code, name, e, w) in by_rule(a) {
        let _ = writeln!(
            o,
            "<tr><td>{family}</td><td>{code}</td><td>{name}</td><td class=num>{e}</td><td class=num>{w}</td></tr>"
        );
    }
    o.push_str("</table>\n<h2>Top merchants</h2>\n");
    let mut merchants: Vec<(&String, &u64)> = s.by_merchant.iter().collect();
    merchants.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    table_head(&mut o, "merchants", true, &["merchant", "findings"]);
    for (m, n) in merchants.into_iter().take(10) {
        let _ = writeln!(o, "<tr><td>{}</td><td class=num>{n}</td></tr>", esc(m));
    }
    o.push_str("</table>\n");
    if !s.merchant_gates.is_empty() {
        o.push_str("<h2>Merchants failing merchant gates</h2><p>Which merchants fail which gate (SPEC §11), most gates first.</p>\n");
        table_head(&mut o, "merchant-gates", true, &["merchant", "registrations", "gates failed"]);
        for (m, n, gates) in merchant_gate_rows(s).into_iter().take(REPORT_ROWS) {
            let _ = writeln!(o, "<tr><td>{}</td><td class=num>{n}</td><td>{}</td></tr>", esc(m), esc(&gates));
        }
        o.push_str("</table>\n");
    }
    let wp = &a.would_pass;
    if !wp.is_empty() {
        o.push_str("<h2>What would pass</h2><p>Registrations failing on price, largest cut first: the highest compliant promo price, the rule that sets it, and how much to cut.</p>\n");
        table_head(
            &mut o,
            "would-pass",
            true,
            &["registration", "activity", "promo price", "fails", "max ok price", "binding rule", "cut by", "note"],
        );
        for WouldPass { verdict: r, rules, .. } in wp.iter().take(REPORT_ROWS) {
            let _ = writeln!(o, "<tr><td>{}</td><td>{}</td><td class=num>{}</td><td>{}</td><td class=num>{}</td><td>{}</td><td class=num>{}</td><td>{}</td></tr>", esc(&r.registration_id), esc(&r.activity), r.promo_price, rules, crate::verdict::shown(&r.max_ok_price), r.binding_rule.unwrap_or(""), crate::verdict::shown(&r.headroom), esc(&r.note));
        }
        o.push_str("</table>\n");
    }
    let _ = writeln!(
        o,
        "<h2>Findings ({})</h2>\n<input id=\"filter\" placeholder=\"filter: rule, registration, offer, text…\">",
        s.findings
    );
    table_head(
        &mut o,
        "findings",
        true,
        &[
            "rule",
            "severity",
            "registration",
            "offer",
            "sku",
            "activity",
            "observed",
            "reference",
            "threshold",
            "evidence",
            "message",
        ],
    );
    let (findings, left) = shown(a);
    for f in findings {
        let ev = f.evidence.as_ref().map(|e| format!("{} {}", e.table.as_str(), e.row)).unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td><td>{}</td></tr>",
            f.rule, f.severity, f.severity, esc(&f.registration_id), esc(&f.offer_id), esc(&f.sku_id), esc(&f.activity), esc(&f.observed), esc(&f.reference), esc(&f.threshold), ev, esc(&f.message)
        );
    }
    o.push_str("</table>\n");
    if left > 0 {
        let _ = writeln!(
            o,
            "<p class=\"muted\" id=\"left-out\">{}</p>",
            left_out_note(left, &format!("findings (at most {REPORT_ROWS_PER_RULE} per rule are listed)"))
        );
    }
    if !a.rejects.is_empty() {
        let _ = writeln!(o, "<h2>Rejected rows ({})</h2>", s.rejects);
        table_head(&mut o, "rejects", true, &["table", "line", "column", "reason", "value"]);
        for r in a.rejects.iter().take(REPORT_ROWS) {
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
        o.push_str("<h2>Not checked</h2>\n");
        table_head(&mut o, "not-checked", false, &["rule", "registrations", "why"]);
        for n in &s.not_checked {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=num>{}</td><td>{}</td></tr>",
                n.rule,
                n.registrations.map(|x| x.to_string()).unwrap_or_else(|| "all".into()),
                esc(&n.why())
            );
        }
        o.push_str("</table>\n");
    }
    let _ = write!(o, "<script>{SCRIPT}</script>\n</body></html>\n");
    o
}

/// The one-screen summary `audit` prints.
pub fn terminal(a: &Audit, out: &std::path::Path) -> String {
    terminal_wrote(a, out, &super::Outputs::default())
}

/// The terminal summary naming the files written.
pub fn terminal_wrote(a: &Audit, out: &std::path::Path, outputs: &super::Outputs) -> String {
    terminal_of(&Digest::of(a), out, outputs)
}

/// The terminal summary from an audit's digest.
pub fn terminal_of(a: &Digest, out: &std::path::Path, outputs: &super::Outputs) -> String {
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
    for (_, code, name, e, w) in by_rule(a) {
        let _ = writeln!(o, "  {code} {name:<30} {e:>6} errors {w:>6} warnings");
    }
    for n in &s.not_checked {
        let who = n.registrations.map(|x| format!("{x} registrations")).unwrap_or_else(|| "whole dump".into());
        let _ = writeln!(o, "  not checked: {} for {who}: {}", n.rule, n.why());
    }
    let _ = writeln!(o, "wrote {}/ ({})", out.display(), outputs.names().join(", "));
    o
}

/// The built-in profiles that run rule `r`, the huopin family named as one ("huopin family"
/// when every member runs it); a dump-wide rule: every ladder group; a rule a config turns on:
/// where it runs.
fn profiles_running(r: &crate::rules::Rule) -> String {
    if r.dump_wide() {
        return "every ladder group".into();
    }
    let defaults = crate::profile::builtins();
    let running: Vec<&crate::profile::Profile> = defaults.iter().filter(|p| p.runs(r.code)).collect();
    if running.is_empty() {
        return r.runs_where.to_string();
    }
    profile_names(&running, &defaults)
}

/// The names of `ps` (built-in profiles), the huopin family named as one when all of
/// `defaults`' members are among them.
fn profile_names(ps: &[&crate::profile::Profile], defaults: &[crate::profile::Profile]) -> String {
    let family = defaults.iter().filter(|p| p.huopin_family).count();
    let whole_family = ps.iter().filter(|p| p.huopin_family).count() == family;
    let mut names: Vec<&str> =
        ps.iter().filter(|p| !(whole_family && p.huopin_family)).map(|p| p.name.as_str()).collect();
    if whole_family {
        names.insert(0, "huopin family");
    }
    names.join(", ")
}

/// A gate rule's gates as the built-in profiles declare them, each with the profiles that carry
/// it (`merchants.medal >= 2A (huopin family)`); empty for other rules.
fn gates_declared(r: &crate::rules::Rule) -> Vec<String> {
    if !matches!(r.check, crate::rules::Check::Gate) {
        return vec![];
    }
    let defaults = crate::profile::builtins();
    let mut by_gate: Vec<(String, Vec<&crate::profile::Profile>)> = Vec::new();
    for p in &defaults {
        let Some(g) = p.gate(r.code) else { continue };
        let text = g.describe();
        match by_gate.iter_mut().find(|(t, _)| *t == text) {
            Some((_, ps)) => ps.push(p),
            None => by_gate.push((text, vec![p])),
        }
    }
    by_gate.into_iter().map(|(text, ps)| format!("{text} ({})", profile_names(&ps, &defaults))).collect()
}

/// The rule's seed, as its documentation's `Seed:` line gives it.
fn seed_of(r: &crate::rules::Rule) -> String {
    r.doc().lines().find_map(|l| l.strip_prefix("Seed: ")).unwrap_or("").trim_end_matches('.').to_string()
}

/// `priceaudit rules [CODE]`.
pub fn rules_catalog(code: Option<&str>, markdown: bool) -> crate::error::Result<String> {
    let used_by = |c: &str| -> String { crate::rules::by_code(c).map(profiles_running).unwrap_or_default() };
    let mut o = String::new();
    match code {
        Some(c) => {
            let r = crate::rules::by_code(&c.to_uppercase())
                .ok_or_else(|| crate::error::Error::new(format!("unknown rule code {c:?}")))?;
            let _ = writeln!(o, "{}\n\nseverity: {}\nprofiles: {}", r.doc(), r.severity, used_by(r.code));
            for g in gates_declared(r) {
                let _ = writeln!(o, "gate: {g}");
            }
        }
        None if markdown => o.push_str(&rules_markdown_table()),
        None => {
            for r in crate::rules::ALL.iter() {
                let summary = r.summary();
                let what = summary.split_once(": ").map(|x| x.1).unwrap_or(&summary);
                let _ = writeln!(
                    o,
                    "{} {:<30} {:<8} {}\n      profiles: {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    what,
                    used_by(r.code)
                );
                for g in gates_declared(r) {
                    let _ = writeln!(o, "      gate: {g}; seed {}", seed_of(r));
                }
            }
            let _ = writeln!(o, "\n`priceaudit rules CODE` prints a rule's full documentation.");
        }
    }
    Ok(o)
}

/// The README's rule table, generated from the registry (a test keeps the README in step).
pub fn rules_markdown_table() -> String {
    let mut o = String::from(
        "| code | name | severity | profiles | what it flags | gate (SPEC §11) |\n|---|---|---|---|---|---|\n",
    );
    for r in crate::rules::ALL.iter() {
        let profiles = profiles_running(r);
        let summary = r.summary();
        let what = summary.split_once(": ").map(|x| x.1).unwrap_or(&summary).to_string();
        let gates = gates_declared(r).join("; ").replace('|', "\\|");
        let _ = writeln!(o, "| {} | {} | {} | {} | {} | {} |", r.code, r.name, r.severity, profiles, what, gates);
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
        if p.lowest_factor != crate::money::Dec::from_int(1) {
            let _ = writeln!(o, "lowest_factor = {}", p.lowest_factor);
        }
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
        if !p.gates.is_empty() {
            let gates: Vec<String> = p.gates.iter().map(|g| format!("{}: {}", g.code, g.describe())).collect();
            let _ = writeln!(o, "gates = {}", gates.join("; "));
        }
        if !p.eligibility.is_empty() {
            let el: Vec<String> = p.eligibility.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(o, "eligibility = {}", el.join(" "));
        }
        if let Some(b) = p.baseline {
            let _ = writeln!(o, "baseline = {} over {} days", b.as_str(), p.baseline_days);
        }
        if crate::rules::needs(p).has(crate::facts::Fact::TitleTerms) {
            let _ = writeln!(o, "title_terms = {}", p.title_terms.list().join(" "));
        }
        // SPEC §10's settings, where the profile's rules read them
        let needs = crate::rules::needs(p);
        if p.huopin_family {
            let _ =
                writeln!(o, "huopin family: fatigue_days = {}  fatigue_offers = {}", p.fatigue_days, p.fatigue_offers);
        }
        if needs.has(crate::facts::Fact::LockEdits) {
            let lock = match (p.huopin_family, p.lock_hours) {
                (false, Some(h)) => format!("[promo_start − {h} h, promo_start − {} h)", p.warmup_hours),
                _ => "[registered_at, promo_end]".to_string(),
            };
            let _ = writeln!(o, "lock = {lock}");
        }
        if needs.has(crate::facts::Fact::Sales) {
            let _ = writeln!(
                o,
                "no_sales_hours = {}  turnover_hours = {}  turnover_min = {}",
                p.no_sales_hours, p.turnover_hours, p.turnover_min
            );
        }
        for (key, at) in
            [("registration_opens", &p.registration_opens), ("registration_closes", &p.registration_closes)]
        {
            if let Some(at) = at {
                let _ = writeln!(o, "{key} = {:?} ({})", at.text, crate::time::fmt_utc(at.at));
            }
        }
        if let Some(n) = p.max_offers_per_merchant {
            let _ = writeln!(o, "max_offers_per_merchant = {n}");
        }
        let _ = writeln!(o, "price_tick = {}\n", p.price_tick);
    }
    o
}
