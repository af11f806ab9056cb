//! What the reports and the terminal summary are made from: the summary and the few rows a person
//! reads (at most [`REPORT_ROWS_PER_RULE`] findings per rule, the first [`REPORT_ROWS`] of "What
//! would pass" and of the rejects). An audit's digest is small whatever the dump, and the digests
//! of a dump's shares merge into the whole dump's ([`Digest::merge`]): the reports of an audit run
//! in shares are those of the whole audit.

use super::report::{REPORT_ROWS, REPORT_ROWS_PER_RULE};
use crate::dump::Reject;
use crate::findings::{Finding, Severity};
use crate::summary::Summary;
use crate::verdict::RegistrationVerdict;
use crate::Audit;
use std::collections::BTreeMap;

/// A registration failing on price, as "What would pass" lists it.
#[derive(Clone, Debug)]
pub struct WouldPass {
    pub verdict: RegistrationVerdict,
    /// The price rules that fired, space-separated.
    pub rules: String,
    /// The registration's record number (its place in the file): the last tie-break.
    pub rn: u64,
}

#[derive(Clone, Debug)]
pub struct Digest {
    pub summary: Summary,
    /// Per rule code: (errors, warnings).
    pub severity_by_rule: BTreeMap<&'static str, (u64, u64)>,
    /// Per activity (ladder findings under `(ladder groups)`): (errors, warnings).
    pub severity_by_activity: BTreeMap<String, (u64, u64)>,
    /// The findings a report lists: the first [`REPORT_ROWS_PER_RULE`] of each rule, in the
    /// findings' order.
    pub shown: Vec<Finding>,
    /// "What would pass": the first [`REPORT_ROWS`], largest cut first.
    pub would_pass: Vec<WouldPass>,
    /// The first [`REPORT_ROWS`] rejects, in `rejects.csv`'s order.
    pub rejects: Vec<Reject>,
}

/// The ladder findings' activity in the report's chart.
pub const LADDER_GROUPS: &str = "(ladder groups)";

/// The first [`REPORT_ROWS`] of `rows` in "What would pass"'s order of `key` (cut, registration id,
/// record number): largest cut first (no cut last), then by id, then file order. A total order,
/// so the first rows of the shares' first rows are the whole's first rows.
fn first_would_pass<T>(mut rows: Vec<T>, key: impl Fn(&T) -> (Option<crate::money::Dec>, &str, u64)) -> Vec<T> {
    let order = |a: &T, b: &T| {
        let (x, y) = (key(a), key(b));
        y.0.cmp(&x.0).then(x.1.cmp(y.1)).then(x.2.cmp(&y.2))
    };
    if rows.len() > REPORT_ROWS {
        rows.select_nth_unstable_by(REPORT_ROWS - 1, order);
        rows.truncate(REPORT_ROWS);
    }
    rows.sort_unstable_by(order);
    rows
}

/// The first [`REPORT_ROWS_PER_RULE`] of each rule of `findings` (in their order).
fn first_per_rule<'a>(findings: impl Iterator<Item = &'a Finding>) -> Vec<&'a Finding> {
    let mut per_rule: std::collections::HashMap<&str, usize> = Default::default();
    findings
        .filter(|f| {
            let n = per_rule.entry(f.rule).or_default();
            *n += 1;
            *n <= REPORT_ROWS_PER_RULE
        })
        .collect()
}

impl Digest {
    /// The digest of a whole audit (or of one share's).
    pub fn of(a: &Audit) -> Digest {
        let mut severity_by_rule: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
        let mut severity_by_activity: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        {
            let mut by_activity: std::collections::HashMap<&str, (u64, u64)> = Default::default();
            for f in &a.findings {
                let k = if f.activity.is_empty() { LADDER_GROUPS } else { f.activity.as_str() };
                let (r, act) = (severity_by_rule.entry(f.rule).or_default(), by_activity.entry(k).or_default());
                if f.severity == Severity::Error {
                    r.0 += 1;
                    act.0 += 1;
                } else {
                    r.1 += 1;
                    act.1 += 1;
                }
            }
            for (k, v) in by_activity {
                severity_by_activity.insert(k.to_string(), v);
            }
        }
        let shown = first_per_rule(a.findings.iter()).into_iter().cloned().collect();
        fn price_rules(r: &RegistrationVerdict) -> Vec<&str> {
            r.rules.iter().copied().filter(|c| crate::rules::by_code(c).is_some_and(|x| x.price_fixable())).collect()
        }
        let failing: Vec<(usize, String)> = a
            .verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let rules = price_rules(r);
                (!rules.is_empty()).then(|| (i, rules.join(" ")))
            })
            .collect();
        // selected on borrowed rows (each cut parsed once), then the few kept cloned
        let keyed: Vec<(Option<crate::money::Dec>, &RegistrationVerdict, u64, usize)> = failing
            .iter()
            .enumerate()
            .map(|(j, (i, _))| {
                let v = &a.verdicts[*i];
                (v.headroom.as_ref().map(crate::money::Packed::get), v, a.facts.registrations[*i].rn, j)
            })
            .collect();
        let would_pass = first_would_pass(keyed, |k| (k.0, k.1.registration_id.as_str(), k.2))
            .into_iter()
            .map(|(_, v, rn, j)| WouldPass { verdict: v.clone(), rules: failing[j].1.clone(), rn })
            .collect();
        Digest {
            summary: a.summary.clone(),
            severity_by_rule,
            severity_by_activity,
            shown,
            would_pass,
            rejects: a.dump.rejects.iter().take(REPORT_ROWS).cloned().collect(),
        }
    }

    /// The whole dump's digest from its shares' (`None`: no share).
    pub fn merge(parts: Vec<Digest>) -> Option<Digest> {
        let mut summaries = Vec::new();
        let (mut severity_by_rule, mut severity_by_activity) = (BTreeMap::new(), BTreeMap::<String, (u64, u64)>::new());
        let (mut shown, mut would_pass, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
        for p in parts {
            summaries.push(p.summary);
            for (k, (e, w)) in p.severity_by_rule {
                let x: &mut (u64, u64) = severity_by_rule.entry(k).or_default();
                *x = (x.0 + e, x.1 + w);
            }
            for (k, (e, w)) in p.severity_by_activity {
                let x = severity_by_activity.entry(k).or_default();
                *x = (x.0 + e, x.1 + w);
            }
            shown.extend(p.shown);
            would_pass.extend(p.would_pass);
            rejects.extend(p.rejects);
        }
        let summary = Summary::merge(summaries)?;
        // each share's first rows of each list hold the whole's first rows
        crate::findings::sort(&mut shown);
        let shown = first_per_rule(shown.iter()).into_iter().cloned().collect();
        crate::dump::sort_rejects(&mut rejects);
        rejects.truncate(REPORT_ROWS);
        Some(Digest {
            summary,
            severity_by_rule,
            severity_by_activity,
            shown,
            would_pass: first_would_pass(would_pass, |w: &WouldPass| {
                (w.verdict.headroom.as_ref().map(crate::money::Packed::get), w.verdict.registration_id.as_str(), w.rn)
            }),
            rejects,
        })
    }

    /// `--fail-on`: are there findings at or above it?
    pub fn fails(&self, on: crate::FailOn) -> bool {
        match on {
            crate::FailOn::Never => false,
            crate::FailOn::Warning => self.summary.findings > 0,
            crate::FailOn::Error => self.summary.by_severity.get(Severity::Error.as_str()).is_some_and(|&n| n > 0),
        }
    }
}
