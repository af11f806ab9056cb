//! `summary.json`: counts by rule, severity, activity and merchant; the input reconciliation
//! (rows read = used + rejected, per table); unknown channels; rules not checked and why.

use crate::dump::Dump;
use crate::facts::Facts;
use crate::findings::Finding;
use crate::profile::Settings;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, Clone, Debug)]
pub struct TableSummary {
    pub file: String,
    pub format: &'static str,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    /// Blank lines in a CSV file: not rows, skipped.
    pub blank_lines_skipped: u64,
    /// rows_read == rows_used + rows_rejected
    pub reconciled: bool,
}

#[derive(Serialize, Clone, Debug)]
pub struct NotChecked {
    pub rule: String,
    /// Registrations it was not checked for (absent for dump-wide reasons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations: Option<u64>,
    pub reason: String,
    /// A value that could not be used (SPEC §11: an uncomparable gate value, an absent merchant),
    /// the first met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// Its place in the list (not written): what is missing, the rule's place in the registry,
    /// and the record number of the first registration met (`None`: dump-wide, first).
    #[serde(skip)]
    pub place: (crate::rules::Missing, usize, Option<u64>),
}

impl NotChecked {
    /// The reason, with its example value if it has one: `medal value cannot be compared with a
    /// medal (A…5A) (e.g. "AA级")`.
    pub fn why(&self) -> String {
        match &self.example {
            Some(e) => format!("{} (e.g. {e:?})", self.reason),
            None => self.reason.clone(),
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub dump: String,
    pub timezone: String,
    pub tables: BTreeMap<String, TableSummary>,
    pub reconciled: bool,
    pub rejects: u64,
    pub unknown_channels: BTreeMap<String, u64>,
    pub registrations: u64,
    pub registrations_by_activity: BTreeMap<String, u64>,
    /// Registrations by verdict (pass, fail, at-risk, unverifiable).
    pub verdicts: BTreeMap<String, u64>,
    pub ladder_groups: u64,
    pub findings: u64,
    pub by_rule: BTreeMap<String, u64>,
    pub by_severity: BTreeMap<String, u64>,
    pub by_activity: BTreeMap<String, u64>,
    pub by_merchant: BTreeMap<String, u64>,
    /// SPEC §11: the merchants failing merchant gates (findings whose evidence is a `merchants`
    /// row): per merchant, the registrations affected and the findings per gate.
    pub merchant_gates: BTreeMap<String, MerchantGates>,
    pub not_checked: Vec<NotChecked>,
}

/// Add `more`'s counts to `to`'s.
fn add_counts(to: &mut BTreeMap<String, u64>, more: BTreeMap<String, u64>) {
    for (k, n) in more {
        *to.entry(k).or_insert(0) += n;
    }
}

impl Summary {
    /// The summary of a whole dump from its shares' summaries ([`crate::dump::Share`]; `None`:
    /// no share): counts added up (a table's `read` is the whole source's in every share);
    /// a not-checked reason's registrations added up, with the example and place of the first
    /// registration met in the dump.
    pub fn merge(parts: Vec<Summary>) -> Option<Summary> {
        let mut parts = parts.into_iter();
        let mut out = parts.next()?;
        for p in parts {
            for (name, t) in p.tables {
                match out.tables.get_mut(&name) {
                    Some(o) => {
                        o.rows_used += t.rows_used;
                        o.rows_rejected += t.rows_rejected;
                    }
                    None => {
                        out.tables.insert(name, t);
                    }
                }
            }
            out.rejects += p.rejects;
            add_counts(&mut out.unknown_channels, p.unknown_channels);
            out.registrations += p.registrations;
            add_counts(&mut out.registrations_by_activity, p.registrations_by_activity);
            add_counts(&mut out.verdicts, p.verdicts);
            out.ladder_groups += p.ladder_groups;
            out.findings += p.findings;
            add_counts(&mut out.by_rule, p.by_rule);
            add_counts(&mut out.by_severity, p.by_severity);
            add_counts(&mut out.by_activity, p.by_activity);
            add_counts(&mut out.by_merchant, p.by_merchant);
            for (m, g) in p.merchant_gates {
                let o = out.merchant_gates.entry(m).or_default();
                o.registrations += g.registrations;
                add_counts(&mut o.gates, g.gates);
            }
            out.not_checked.extend(p.not_checked);
        }
        for t in out.tables.values_mut() {
            t.reconciled = t.rows_used.checked_add(t.rows_rejected) == Some(t.rows_read);
        }
        out.reconciled = out.tables.values().all(|t| t.reconciled);
        // the earliest of each reason first (a stable sort: dump-wide reasons stay in share order)
        let mut all = std::mem::take(&mut out.not_checked);
        all.sort_by_key(|n| n.place);
        for n in all {
            let same = out.not_checked.iter_mut().find(|x| {
                x.rule == n.rule && x.reason == n.reason && x.registrations.is_some() == n.registrations.is_some()
            });
            match same {
                Some(x) => x.registrations = x.registrations.zip(n.registrations).map(|(a, b)| a + b),
                None => out.not_checked.push(n),
            }
        }
        Some(out)
    }
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct MerchantGates {
    pub registrations: u64,
    pub gates: BTreeMap<String, u64>,
}

/// Merchant-gate findings by merchant (one pass; findings are sorted, so a registration's are
/// counted once by its id). Counted by borrowed keys, then ordered.
fn merchant_gates(findings: &[Finding]) -> BTreeMap<String, MerchantGates> {
    use polars::prelude::{PlHashMap, PlHashSet};
    let mut by: PlHashMap<&str, (u64, PlHashMap<&str, u64>)> = PlHashMap::default();
    let mut seen: PlHashSet<(&str, &str)> = PlHashSet::default();
    for f in findings {
        if f.evidence.as_ref().is_none_or(|e| e.table != crate::findings::Table::Merchants) {
            continue;
        }
        let m = by.entry(f.merchant_id.as_str()).or_default();
        *m.1.entry(f.rule).or_insert(0) += 1;
        if seen.insert((f.merchant_id.as_str(), f.registration_id.as_str())) {
            m.0 += 1;
        }
    }
    by.into_iter()
        .map(|(m, (registrations, gates))| {
            let gates = gates.into_iter().map(|(g, n)| (g.to_string(), n)).collect();
            (m.to_string(), MerchantGates { registrations, gates })
        })
        .collect()
}

/// The summary of an audit; `unchecked`: each rule's not-checked counts, as the rules'
/// evaluation counted them ([`crate::rules::Evaluated`]).
pub fn summarize(
    dump: &Dump,
    facts: &Facts,
    findings: &[Finding],
    settings: &Settings,
    unchecked: Vec<crate::rules::UncheckedCounts>,
) -> Summary {
    let mut tables = BTreeMap::new();
    for l in &dump.tables {
        let s = TableSummary {
            file: l.source.path.display().to_string(),
            format: l.source.format_name(),
            rows_read: l.read,
            rows_used: l.used,
            rows_rejected: l.rejected,
            blank_lines_skipped: l.blank_lines,
            reconciled: l.reconciled(),
        };
        tables.insert(l.source.table.as_str().to_string(), s);
    }
    // counted by borrowed key (one hash per finding), then ordered
    let count = |key: &dyn for<'f> Fn(&'f Finding) -> &'f str| {
        let mut m: polars::prelude::PlHashMap<&str, u64> = Default::default();
        for f in findings {
            *m.entry(key(f)).or_insert(0) += 1;
        }
        m.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<BTreeMap<String, u64>>()
    };
    let mut by_activity_regs: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &facts.registrations {
        *by_activity_regs.entry(r.activity.as_str()).or_insert(0) += 1;
    }
    let by_activity_regs = by_activity_regs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Summary {
        dump: dump.dir.display().to_string(),
        timezone: settings.timezone.clone(),
        reconciled: tables.values().all(|t| t.reconciled),
        tables,
        rejects: dump.rejects.len() as u64,
        unknown_channels: dump.unknown_channels.iter().cloned().collect(),
        registrations: facts.registrations.len() as u64,
        registrations_by_activity: by_activity_regs,
        verdicts: BTreeMap::new(),
        ladder_groups: facts.ladders.len() as u64,
        findings: findings.len() as u64,
        by_rule: count(&|f| f.rule),
        by_severity: count(&|f| f.severity.as_str()),
        by_activity: count(&|f| if f.activity.is_empty() { "(ladders)" } else { &f.activity }),
        by_merchant: count(&|f| if f.merchant_id.is_empty() { "(none)" } else { &f.merchant_id }),
        merchant_gates: merchant_gates(findings),
        not_checked: crate::timing("not checked", || not_checked(facts, unchecked)),
    }
}

/// Rules that could not be evaluated somewhere, and why: each rule's own reasons (dump-wide, or
/// per registration it runs on, counted per reason by the rules' evaluation: `unchecked`, by
/// registry place), grouped by what is missing (a table, data, a reference, a column), then in
/// registry order.
fn not_checked(facts: &Facts, unchecked: Vec<crate::rules::UncheckedCounts>) -> Vec<NotChecked> {
    let mut out: Vec<(crate::rules::Missing, usize, NotChecked)> = Vec::new();
    let mut unchecked = unchecked.into_iter();
    for (i, rule) in crate::rules::ALL.iter().enumerate() {
        out.extend(rule_not_checked(facts, i, rule, unchecked.next().unwrap_or_default()));
    }
    out.sort_by_key(|(m, i, _)| (*m, *i));
    out.into_iter().map(|(_, _, n)| n).collect()
}

/// The not-checked reasons of `rule` (number `i` of the registry): dump-wide, then per
/// registration, `counts` in the order first met.
fn rule_not_checked(
    facts: &Facts,
    i: usize,
    rule: &crate::rules::Rule,
    counts: crate::rules::UncheckedCounts,
) -> Vec<(crate::rules::Missing, usize, NotChecked)> {
    use crate::rules::Missing;
    let mut out = Vec::new();
    if let Some(reason) = rule.not_checked_dump.and_then(|f| f(facts)) {
        let place = (Missing::Table, i, None);
        out.push((
            Missing::Table,
            i,
            NotChecked { rule: rule.code.into(), registrations: None, reason, example: None, place },
        ));
    }
    for (u, n, first) in counts {
        let nc = NotChecked {
            rule: rule.code.into(),
            registrations: Some(n),
            reason: u.reason.into_owned(),
            example: u.example,
            place: (u.missing, i, Some(first)),
        };
        out.push((u.missing, i, nc));
    }
    out
}
