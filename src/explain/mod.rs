//! `priceaudit explain`: the whole derivation of one registration — its profile, every window
//! (local time and UTC), every price row of its SKU with counted / excluded and why, each
//! reference with its evidence row, each threshold computed exactly, each rule's verdict, and the
//! highest compliant price. The row classification here is a second, row-by-row reading of the
//! same SPEC sentences the polars plan computes in bulk; `explain` checks that both agree.

pub mod svg;

use crate::error::{Error, Result};
use crate::facts::prices::{intervals, price_rows, ChannelBits, PriceRow};
use crate::facts::windows::Window;
use crate::facts::{Reference, RegFacts};
use crate::findings::Finding;
use crate::profile::{Profile, Settings, ALWAYS_EXCLUDED};
use crate::registration::Registration;
use crate::time::{fmt_local, fmt_utc};
use crate::Audit;
use chrono_tz::Tz;
use polars::prelude::*;
use serde::Serialize;
use std::fmt::Write;

/// One fact column of the row table: which rows count toward it and why the others do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    Lowest30d,
    Lowest180d,
    List,
    Warmup,
    Baseline,
    LastTxn,
}

impl Fact {
    pub fn label(self) -> &'static str {
        match self {
            Fact::Lowest30d => "lowest_30d",
            Fact::Lowest180d => "lowest_180d",
            Fact::List => "list",
            Fact::Warmup => "warm-up",
            Fact::Baseline => "baseline",
            Fact::LastTxn => "last txn",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowInfo {
    pub fact: Fact,
    pub from_utc: String,
    pub to_utc: String,
    pub from_local: String,
    pub to_local: String,
    pub closed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RowInfo {
    pub line: u64,
    pub ts_utc: String,
    pub ts_local: String,
    pub kind: &'static str,
    pub channel: String,
    pub price: String,
    /// End of a list row's interval (empty: open-ended or a txn).
    pub end_utc: String,
    /// For each active fact: `counted`, `evidence`, or why not.
    pub status: Vec<(Fact, String)>,
    #[serde(skip)]
    pub raw: PriceRow,
    #[serde(skip)]
    pub superseded: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckInfo {
    pub rule: String,
    pub verdict: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub registration_id: String,
    pub offer_id: String,
    pub sku_id: String,
    pub merchant_id: String,
    pub activity: String,
    pub category: String,
    pub line: u64,
    pub promo_price: String,
    pub registered_at: String,
    pub promo_start: String,
    pub promo_end: String,
    pub profile: String,
    pub windows: Vec<WindowInfo>,
    pub rows: Vec<RowInfo>,
    pub references: Vec<(String, String, String)>,
    pub checks: Vec<CheckInfo>,
    pub max_ok_price: String,
    pub binding_rule: String,
    pub max_ok_note: String,
    pub verdict: String,
    pub findings: Vec<String>,
    /// Other registrations of the same SKU (they count in the warm-up, P106, and P107).
    pub others: Vec<String>,
    #[serde(skip)]
    pub chart: svg::ChartData,
}

fn profile_line(p: &Profile) -> String {
    let mut excl: Vec<String> = p.excluded_channels.clone();
    excl.extend(ALWAYS_EXCLUDED.iter().map(|s| s.to_string()));
    format!(
        "{}: basis {}, lowest over {}/{} days, excluded channels {}, list × {} ({}), retail × {} ({}), warm-up {} h, lead {} h{}",
        p.name,
        p.basis.as_str(),
        p.lowest_30d_days,
        p.lowest_180d_days,
        excl.join(" "),
        p.list_factor,
        if p.list_strict { "fails at ≥" } else { "fails at >" },
        p.retail_factor,
        if p.retail_strict { "fails at ≥" } else { "fails at >" },
        p.warmup_hours,
        p.min_lead_hours,
        p.baseline.map(|b| format!(", baseline {} over {} days", b.as_str(), p.baseline_days)).unwrap_or_default()
    )
}

/// The deliberate cross-check of the bulk fold (`facts::prices`) by this row-by-row reading of
/// SPEC §4/§5.1/§9: for every fact of the registration, the rows classified as counted must give
/// the fold's reference (the minimum for the lowest prices, the warm-up and the eu-omnibus
/// baseline; the latest row in force for the list price; the cn-samr baseline's minimum, else the
/// last transaction). A disagreement is an internal error, never a silent explanation.
fn cross_check(f: &RegFacts, rows: &[RowInfo], facts: &[(Fact, Window)]) -> Result<()> {
    use crate::findings::Table;
    let counted = |fact: Fact| -> Vec<&RowInfo> {
        rows.iter()
            .filter(|ri| ri.status.iter().any(|(x, s)| *x == fact && (s == "counted" || s == "evidence")))
            .collect()
    };
    let min = |fact: Fact| counted(fact).iter().map(|ri| ri.raw.price).min();
    // the latest row by (ts, file order)
    let last = |fact: Fact| counted(fact).into_iter().max_by_key(|ri| (ri.raw.ts, ri.raw.rn)).map(|ri| ri.raw.price);
    let price = |r: &Option<Reference>| r.as_ref().map(|x| x.price());
    let from_prices = |r: &Option<Reference>| r.as_ref().is_some_and(|x| x.evidence.table == Table::Prices);
    let has = |fact: Fact| facts.iter().any(|(x, _)| *x == fact);
    let mut wrong = Vec::new();
    for (fact, _) in facts {
        let ok = match fact {
            Fact::Lowest30d => min(*fact) == price(&f.lowest_30d),
            Fact::Lowest180d => min(*fact) == price(&f.lowest_180d),
            // only computed from prices when the registration gives no list_price
            Fact::List => !from_prices(&f.list) && f.list.is_some() || last(*fact) == price(&f.list),
            // another registration's promo price wins only when strictly lower (ties: prices rows)
            Fact::Warmup => match (&f.warmup_min, min(*fact)) {
                (Some(w), m) if w.evidence.table == Table::Prices => Some(w.price()) == m,
                (Some(w), m) => m.is_none_or(|m| w.price() < m),
                (None, m) => m.is_none(),
            },
            Fact::Baseline if has(Fact::LastTxn) => match min(*fact) {
                Some(m) => price(&f.baseline) == Some(m),
                None => price(&f.baseline) == last(Fact::LastTxn),
            },
            Fact::Baseline => min(*fact) == price(&f.baseline),
            Fact::LastTxn => true, // checked with the baseline
        };
        if !ok {
            wrong.push(fact.label());
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "explain's row-by-row reading disagrees with the bulk fold on {}",
            wrong.join(", ")
        )))
    }
}

/// The active facts of a registration, with their windows.
fn active(f: &RegFacts) -> Vec<(Fact, Window)> {
    let w = &f.windows;
    let mut v = Vec::new();
    if let Some(x) = w.lowest_30d {
        v.push((Fact::Lowest30d, x));
    }
    if let Some(x) = w.lowest_180d {
        v.push((Fact::Lowest180d, x));
    }
    if let Some(t) = w.list_at {
        v.push((Fact::List, Window { from: t, to: t, closed: true }));
    }
    if let Some(x) = w.warmup {
        v.push((Fact::Warmup, x));
    }
    if let Some((x, _)) = w.baseline {
        v.push((Fact::Baseline, x));
    }
    if let Some(t) = w.last_txn_before {
        v.push((Fact::LastTxn, Window { from: i64::MIN / 2, to: t, closed: false }));
    }
    v
}

/// Why a row does or does not count toward a fact (SPEC §2, §4, §5.1, §9), row by row.
fn classify(row: &PriceRow, superseded: bool, fact: Fact, w: &Window, p: &Profile, f: &RegFacts) -> Option<String> {
    if superseded {
        return Some("superseded".into());
    }
    if ALWAYS_EXCLUDED.contains(&row.channel.as_str()) {
        return Some(format!("excluded: {}", row.channel));
    }
    let in_window = if row.is_list { w.meets_interval(row.ts, row.end) } else { w.holds_point(row.ts) };
    match fact {
        Fact::Lowest30d | Fact::Lowest180d => {
            if p.excludes(&row.channel) {
                return Some(format!("excluded: {}", row.channel));
            }
            if (row.is_list && !p.basis.list()) || (!row.is_list && !p.basis.txn()) {
                return Some(format!("basis is {}", p.basis.as_str()));
            }
        }
        Fact::List => {
            if !row.is_list {
                return Some("not a list row".into());
            }
            if !crate::facts::prices::is_list_reference_channel(&row.channel) {
                return Some(format!("not regular: {}", row.channel));
            }
            let in_force = row.ts <= w.from && row.end.is_none_or(|e| e > w.from);
            return (!in_force).then(|| "not in force".into());
        }
        Fact::Baseline => {
            let lists = f.windows.baseline.is_some_and(|(_, l)| l);
            if row.is_list && !lists {
                return Some("txn only".into());
            }
        }
        Fact::LastTxn => {
            if row.is_list {
                return Some("txn only".into());
            }
        }
        Fact::Warmup => {}
    }
    (!in_window).then(|| "outside window".into())
}

fn reference_line(name: &str, r: &Option<Reference>, tz: &Tz) -> (String, String, String) {
    match r {
        None => (name.into(), "none".into(), "no candidate row".into()),
        Some(r) => {
            let e = &r.evidence;
            let when = e.ts.map(|t| format!(" at {} ({})", fmt_local(t, tz), fmt_utc(t))).unwrap_or_default();
            let ch = e.channel.as_ref().map(|c| format!(" {c}")).unwrap_or_default();
            (name.into(), r.price().to_string(), format!("{} line/row {}{ch}{when}", e.table.as_str(), e.row))
        }
    }
}

/// The verdict of each rule that runs on the registration, as the rule explains itself (its
/// exact threshold), in registry order: first the rules of its own profile, then the rules other
/// registrations' profiles ran on it (P107's big promo) where they fired.
fn checks(
    r: &Registration,
    f: &RegFacts,
    settings: &Settings,
    dump: &crate::facts::Facts,
    findings: &[&Finding],
) -> Vec<CheckInfo> {
    use crate::rules::Scope;
    let profile = &settings.profiles[r.profile];
    let mut out = Vec::new();
    let fired_of = |rule: &crate::rules::Rule| -> Vec<&Finding> {
        findings.iter().copied().filter(|x| x.rule == rule.code).collect()
    };
    let own = crate::rules::ALL
        .iter()
        .filter(|x| !x.dump_wide() && profile.runs(x.code))
        .map(|x| (x, x.scope == Scope::Profile));
    let others = crate::rules::ALL.iter().filter(|x| x.scope == Scope::Others).map(|x| (x, true));
    for (rule, with_findings) in own.chain(others) {
        let fired: Vec<&Finding> = if with_findings { fired_of(rule) } else { vec![] };
        if rule.scope == Scope::Others && with_findings && fired.is_empty() {
            continue;
        }
        let cx = crate::rules::Ctx { reg: r, facts: f, profile, all: &dump.registrations, dump, settings, rule };
        let lines = match rule.explain {
            Some(explain) => explain(&cx, &fired),
            None => vec![(
                crate::rules::verdict(&fired),
                fired.iter().map(|x| x.message.clone()).collect::<Vec<_>>().join("; "),
            )],
        };
        out.extend(lines.into_iter().map(|(verdict, detail)| CheckInfo { rule: rule.code.into(), verdict, detail }));
    }
    out
}

/// Explain registration `id` of an audited dump.
pub fn explain(a: &Audit, id: &str) -> Result<Explanation> {
    let idx = a.facts.registrations.iter().position(|r| r.registration_id == id).ok_or_else(|| {
        Error::new(format!("registration {id:?} is not in the dump (or was rejected: see rejects.csv)"))
    })?;
    let r = &a.facts.registrations[idx];
    let f = &a.facts.per_reg[idx];
    let p = &a.settings.profiles[r.profile];
    let tz = crate::time::zone(&a.settings.timezone).map_err(Error::new)?;
    let psrc = a.dump.source(crate::findings::Table::Prices).expect("prices");
    // every price row of the SKU, superseded ones included
    let held = a.dump.price_rows().ok_or_else(|| Error::new("explain needs the price rows held (not streamed)"))?;
    let sku = held.clone().lazy().filter(col("k").eq(lit(r.k))).collect()?;
    let bits = ChannelBits::new(&a.settings)?;
    let iv = intervals(&sku, &bits)?;
    let sup: Vec<bool> = iv.column("superseded")?.bool()?.iter().map(|v| v.unwrap_or(false)).collect();
    let mut rows: Vec<(PriceRow, bool)> = price_rows(&iv)?.into_iter().zip(sup).collect();
    rows.sort_by_key(|(x, _)| (x.ts, x.rn));
    let facts = active(f);
    let evidence_rn = |fact: Fact| -> Option<u64> {
        let rf = match fact {
            Fact::Lowest30d => &f.lowest_30d,
            Fact::Lowest180d => &f.lowest_180d,
            Fact::List => &f.list,
            Fact::Warmup => &f.warmup_min,
            Fact::Baseline | Fact::LastTxn => &f.baseline,
        };
        rf.as_ref().filter(|x| x.evidence.table == crate::findings::Table::Prices).map(|x| x.evidence.row)
    };
    let mut row_infos = Vec::new();
    for (row, superseded) in &rows {
        let line = psrc.row_of(row.rn);
        let status = facts
            .iter()
            .map(|(fact, w)| {
                let s = match classify(row, *superseded, *fact, w, p, f) {
                    Some(why) => why,
                    None if evidence_rn(*fact) == Some(line) => "evidence".into(),
                    None => "counted".into(),
                };
                (*fact, s)
            })
            .collect();
        row_infos.push(RowInfo {
            line,
            ts_utc: fmt_utc(row.ts),
            ts_local: fmt_local(row.ts, &tz),
            kind: if row.is_list { "list" } else { "txn" },
            channel: row.channel.clone(),
            price: row.price.to_string(),
            end_utc: row.end.map(fmt_utc).unwrap_or_default(),
            status,
            raw: row.clone(),
            superseded: *superseded,
        });
    }
    cross_check(f, &row_infos, &facts)?;
    let windows = facts
        .iter()
        .filter(|(fact, _)| !matches!(fact, Fact::LastTxn))
        .map(|(fact, w)| WindowInfo {
            fact: *fact,
            from_utc: fmt_utc(w.from),
            to_utc: fmt_utc(w.to),
            from_local: fmt_local(w.from, &tz),
            to_local: fmt_local(w.to, &tz),
            closed: w.closed,
        })
        .collect();
    // the references the profile's rules read, in fact order
    let needs = crate::rules::needs(p);
    let references: Vec<_> = crate::facts::Fact::ALL
        .into_iter()
        .filter(|x| needs.has(*x) && x.applies(p))
        .filter(|x| {
            x.reference_label().is_some() || matches!(x, crate::facts::Fact::Retail | crate::facts::Fact::Warmup)
        })
        .map(|x| {
            let name = match (x, p.baseline) {
                (crate::facts::Fact::Baseline, Some(b)) => format!("{} ({})", x.name(), b.as_str()),
                _ => x.name().to_string(),
            };
            reference_line(&name, &x.reference(f).cloned(), &tz)
        })
        .collect();
    let mine: Vec<&Finding> = a.findings.iter().filter(|x| x.registration_id == r.registration_id).collect();
    let v = &a.verdicts[idx];
    let chart = svg::ChartData::new(r, f, p, &rows, &facts);
    // the rules reading the warm-up and the big promos, named from the registry
    let reader =
        |fact: crate::facts::Fact| crate::rules::ALL.iter().find(|x| x.needs.contains(&fact)).map_or("", |x| x.code);
    let (warmup_rule, big_rule) = (reader(crate::facts::Fact::Warmup), reader(crate::facts::Fact::BigPromos));
    let others = a
        .facts
        .registrations
        .iter()
        .filter(|o| o.k == r.k && o.idx != r.idx)
        .map(|o| {
            let in_warmup = f.windows.warmup.is_some_and(|w| o.promo_start < r.promo_start && o.promo_end >= w.from);
            // a big promo overriding this one: the rule's finding here names it as evidence
            let overriding = mine.iter().any(|x| {
                x.rule == big_rule
                    && x.evidence
                        .as_ref()
                        .is_some_and(|e| e.table == crate::findings::Table::Registrations && e.row == o.row)
            });
            format!(
                "{} {} [{}, {}] promo {}{}{}",
                o.registration_id,
                o.activity,
                fmt_utc(o.promo_start),
                fmt_utc(o.promo_end),
                o.promo_price,
                if in_warmup { format!("  (meets this warm-up: counts for {warmup_rule})") } else { String::new() },
                if overriding { format!("  (big promo overriding this one: {big_rule})") } else { String::new() }
            )
        })
        .collect();
    Ok(Explanation {
        registration_id: r.registration_id.to_string(),
        offer_id: r.offer_id.to_string(),
        sku_id: r.sku_id.to_string(),
        merchant_id: r.merchant_id.to_string(),
        activity: r.activity.to_string(),
        category: r.category.clone(),
        line: r.row,
        promo_price: r.promo_price.to_string(),
        registered_at: format!("{} ({})", fmt_local(r.registered_at, &tz), fmt_utc(r.registered_at)),
        promo_start: format!("{} ({})", fmt_local(r.promo_start, &tz), fmt_utc(r.promo_start)),
        promo_end: format!("{} ({})", fmt_local(r.promo_end, &tz), fmt_utc(r.promo_end)),
        profile: profile_line(p),
        windows,
        rows: row_infos,
        references,
        checks: checks(r, f, &a.settings, &a.facts, &mine),
        max_ok_price: crate::verdict::shown(&v.max_ok_price),
        binding_rule: v.binding_rule.unwrap_or("").to_string(),
        max_ok_note: v.note.clone(),
        verdict: v.verdict.as_str().into(),
        findings: mine.iter().map(|x| format!("{} {} {}: {}", x.rule, x.name, x.severity, x.message)).collect(),
        others,
        chart,
    })
}

/// The ids of every registration of an offer (and SKU), in file order.
pub fn registrations_of(a: &Audit, offer: &str, sku: Option<&str>) -> Vec<String> {
    a.facts
        .registrations
        .iter()
        .filter(|r| r.offer_id == offer && sku.is_none_or(|s| r.sku_id == s))
        .map(|r| r.registration_id.to_string())
        .collect()
}

/// The derivation as text that fits a terminal.
pub fn text(e: &Explanation) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Registration {} (registrations line/row {}): offer {} sku {} merchant {} category {}",
        e.registration_id,
        e.line,
        e.offer_id,
        e.sku_id,
        e.merchant_id,
        if e.category.is_empty() { "-" } else { &e.category }
    );
    let _ = writeln!(o, "  promo price {}   verdict {}", e.promo_price, e.verdict.to_uppercase());
    let _ = writeln!(
        o,
        "  registered  {}\n  promo start {}\n  promo end   {}",
        e.registered_at, e.promo_start, e.promo_end
    );
    let _ = writeln!(o, "\nProfile {}", e.profile);
    if !e.windows.is_empty() {
        let _ = writeln!(o, "\nWindows");
        for w in &e.windows {
            let (open, close) = ("[", if w.closed { "]" } else { ")" });
            if w.fact == Fact::List {
                let _ = writeln!(o, "  {:<12} in force at {} ({})", w.fact.label(), w.from_local, w.from_utc);
            } else {
                let _ = writeln!(
                    o,
                    "  {:<12} {open}{}, {}{close}   UTC {open}{}, {}{close}",
                    w.fact.label(),
                    w.from_local,
                    w.to_local,
                    w.from_utc,
                    w.to_utc
                );
            }
        }
    }
    let _ = writeln!(o, "\nPrice rows of this SKU ({}): counted, ★ evidence, or why not", e.rows.len());
    let facts: Vec<Fact> = e.rows.first().map(|r| r.status.iter().map(|(f, _)| *f).collect()).unwrap_or_default();
    let mut head = format!("  {:>6} {:<20} {:<4} {:<16} {:>12} ", "line", "ts (UTC)", "kind", "channel", "price");
    for f in &facts {
        let _ = write!(head, "| {:<20}", f.label());
    }
    let _ = writeln!(o, "{}", head.trim_end());
    for r in &e.rows {
        let mut line = format!(
            "  {:>6} {:<20} {:<4} {:<16} {:>12} ",
            r.line,
            r.ts_utc,
            r.kind,
            r.channel.chars().take(16).collect::<String>(),
            r.price
        );
        for (_, s) in &r.status {
            let s = if s == "evidence" { "★ evidence".to_string() } else { s.clone() };
            let _ = write!(line, "| {:<20}", s.chars().take(20).collect::<String>());
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    if !e.others.is_empty() {
        let _ = writeln!(o, "\nOther registrations of this SKU");
        for x in &e.others {
            let _ = writeln!(o, "  {x}");
        }
    }
    let _ = writeln!(o, "\nReferences");
    for (name, value, from) in &e.references {
        let _ = writeln!(o, "  {name:<22} {value:>12}   {from}");
    }
    let _ = writeln!(o, "\nRules");
    for c in &e.checks {
        let _ = writeln!(o, "  {} {:<12} {}", c.rule, c.verdict, c.detail);
    }
    let _ = writeln!(
        o,
        "\nHighest compliant promo price: {}{}",
        if e.max_ok_price.is_empty() { "none".to_string() } else { e.max_ok_price.clone() },
        if e.binding_rule.is_empty() { String::new() } else { format!(" (bound by {})", e.binding_rule) }
    );
    let _ = writeln!(o, "  {}", e.max_ok_note);
    if !e.findings.is_empty() {
        let _ = writeln!(o, "\nFindings");
        for f in &e.findings {
            let _ = writeln!(o, "  {f}");
        }
    }
    o
}
