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
    pub not_checked: Vec<NotChecked>,
}

pub fn summarize(dump: &Dump, facts: &Facts, findings: &[Finding], settings: &Settings) -> Summary {
    let mut tables = BTreeMap::new();
    for l in &dump.tables {
        let s = TableSummary {
            file: l.source.path.display().to_string(),
            format: if l.source.is_csv() { "csv" } else { "parquet" },
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
        let mut m: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
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
        not_checked: not_checked(dump, facts, settings),
    }
}

/// Rules that could not be evaluated somewhere, and why.
fn not_checked(dump: &Dump, facts: &Facts, settings: &Settings) -> Vec<NotChecked> {
    let mut out = Vec::new();
    if !facts.has_ladders {
        out.push(NotChecked {
            rule: "P105".into(),
            registrations: None,
            reason: "no ladders table in the dump".into(),
        });
    }
    fn runs<'a>(
        facts: &'a Facts,
        settings: &'a Settings,
        code: &'a str,
    ) -> impl Iterator<Item = (&'a crate::registration::Registration, &'a crate::facts::RegFacts)> + 'a {
        let runs: Vec<bool> = settings.profiles.iter().map(|p| p.runs(code)).collect();
        facts.registrations.iter().zip(&facts.per_reg).filter(move |(r, _)| runs[r.profile])
    }
    let runs = |code: &'static str| runs(facts, settings, code);
    let no_retail = runs("P104").filter(|(_, f)| f.retail.is_none()).count() as u64;
    if no_retail > 0 {
        let why = if facts.has_retail {
            "no retail_price and no retail observation in the 30 days before registration"
        } else {
            "no retail_price and no retail table in the dump"
        };
        out.push(NotChecked { rule: "P104".into(), registrations: Some(no_retail), reason: why.into() });
    }
    for (code, what) in
        [("P101", "lowest_30d"), ("P102", "lowest_180d"), ("P103", "list price"), ("P109", "baseline or list price")]
    {
        let n = runs(code)
            .filter(|(_, f)| match code {
                "P101" => f.lowest_30d.is_none(),
                "P102" => f.lowest_180d.is_none(),
                "P103" => f.list.is_none(),
                _ => f.list.is_none() || f.baseline.is_none(),
            })
            .count() as u64;
        if n > 0 {
            out.push(NotChecked {
                rule: code.into(),
                registrations: Some(n),
                reason: format!("no {what} (reported as P108)"),
            });
        }
    }
    let metric_of = |code: &str| match code {
        "E301" => "sales_30d",
        "E302" => "buyers_30d",
        "E303" => "conversion_30d",
        "E304" => "moq",
        "E305" | "E306" => "sku_supply",
        _ => "sku_market_stock",
    };
    for code in ["E301", "E302", "E303", "E304", "E305", "E306", "E307", "E308"] {
        let total = runs(code).count() as u64;
        if total == 0 {
            continue;
        }
        let m = metric_of(code);
        if !dump.registration_columns.iter().any(|c| c == m) {
            out.push(NotChecked {
                rule: code.into(),
                registrations: Some(total),
                reason: format!("column {m} is not in registrations"),
            });
            continue;
        }
        let empty = runs(code)
            .filter(|(r, f)| match code {
                "E306" => r.metric(m).is_none() || f.offer_supply().is_none(),
                "E308" => r.metric(m).is_none() || f.offer_market_stock().is_none(),
                _ => r.metric(m).is_none(),
            })
            .count() as u64;
        if empty > 0 {
            out.push(NotChecked {
                rule: code.into(),
                registrations: Some(empty),
                reason: format!("no {m} value (empty or not a number)"),
            });
        }
    }
    out
}
