//! The rule registry. Each rule lives in its own file; the file's `//!` doc comment is the rule's
//! documentation (what it checks, why the platform cares, the seed, an example) and is what
//! `priceaudit rules CODE` prints. To add a rule: add a file, add one line to [`ALL`].
//!
//! A rule reads facts ([`crate::facts`]) and its profile; it never sees raw tables. A rule is
//! checked per registration (`Check::Registration`), as a bound on the promo price
//! (`Check::Price`), per ladder group (`Check::Ladder`), as a declared gate (`Check::Gate`), or
//! once over all registrations when it relates them (`Check::Across`: slots, merchants, titles).

mod c401_absolute_claim_in_title;
pub use c401_absolute_claim_in_title::TitleTerms;
mod d601_duplicate_listing;
mod d602_category_changed;
mod e306_offer_supply;
mod e308_offer_market_stock;
mod e309_low_supply_value;
mod eligibility;
pub mod gate;
pub mod gate_value;
mod k501_no_sales_4h;
mod k502_no_sales_first_day;
mod k503_low_turnover_12h;
pub mod merchant_gates;
mod p101_above_lowest_30d;
mod p102_above_lowest_180d;
mod p103_not_below_list;
mod p104_not_below_retail;
mod p105_ladder_spread;
mod p106_warmup_undercut;
mod p107_promo_override_higher;
mod p108_unverifiable_reference;
mod p109_inflated_reference_price;
mod p110_list_price_edited_in_lock;
mod p111_above_lowest_tier;
mod p112_stacked_discount;
mod p113_unsupported_retail_claim;
mod p114_first_hour_not_half_price;
mod s201_short_lead_time;
mod s202_schedule_conflict;
mod s203_offer_fatigue;
mod s204_merchant_fatigue;
mod s205_weekly_repeat;
mod s206_other_activity_conflict;
mod s207_outside_registration_window;
mod s208_store_offer_cap;

use crate::facts::{Fact, FactSet, Facts, LadderGroup, Reference, RegFacts};
use crate::findings::{Evidence, Finding, Severity};
use crate::money::Dec;
use crate::profile::{Profile, Settings};
use crate::registration::Registration;
use std::borrow::Cow;

/// What a rule is evaluated on, and how.
#[derive(Clone, Copy)]
pub enum Check {
    /// Once per registration the rule runs on.
    Registration(fn(&Ctx) -> Vec<Finding>),
    /// A price rule: the promo price must stay within `bound`; the check is "the promo price
    /// breaks the bound", and the same bound is the rule's part of `max_ok_price` (one
    /// definition for both). `finding` writes the finding(s) of a broken bound.
    Price { bound: fn(&Ctx) -> Option<PriceBound>, finding: fn(&Ctx, &PriceBound) -> Vec<Finding> },
    /// Once per ladder group of the dump (not tied to a profile).
    Ladder(fn(&LadderGroup, &Settings) -> Option<Finding>),
    /// Once over all registrations: a rule relating registrations to each other (slots,
    /// merchants, titles: SPEC §10.3, §10.5), which flags those whose profile runs it.
    Across(fn(&Across) -> Vec<Finding>),
    /// A gate: one comparison of one column against a value, declared as data by the profiles
    /// that run it ([`gate`]).
    Gate,
}

/// The bound a price rule puts on the promo price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceBound {
    /// An upper bound: `price ≤ value`, or `price < value` when strict.
    Upper { value: Dec, strict: bool },
    /// A lower bound as a product: `price × factor ≥ min` (E309: `sku_supply × price ≥ 1000`),
    /// compared exactly (no division).
    AtLeast { factor: Dec, min: Dec },
}

impl PriceBound {
    /// `price ≤ value` (`<` when strict).
    pub const fn upper(value: Dec, strict: bool) -> PriceBound {
        PriceBound::Upper { value, strict }
    }

    pub fn broken_by(&self, price: Dec) -> bool {
        match *self {
            PriceBound::Upper { value, strict: true } => price >= value,
            PriceBound::Upper { value, strict: false } => price > value,
            PriceBound::AtLeast { factor, min } => price.mul(factor) < min,
        }
    }
}

/// Which registrations a rule runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Those whose profile lists the rule.
    Profile,
    /// Every registration: the rule belongs to *another* registration's profile and flags this
    /// one (P107: the big promo's profile runs it, the other activity is flagged; the facts hold
    /// only big promos whose profile runs it).
    Others,
}

/// Why a rule was not checked on a registration (or on the dump), grouped in the summary in this
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    /// A table the rule reads is absent (the whole dump).
    Table,
    /// Optional data is absent (no P108: e.g. no retail price).
    Data,
    /// A reference price is absent (reported as P108).
    Reference,
    /// A column or a cell the rule reads is absent.
    Column,
}

/// Why a rule was not checked on a registration: what is missing, the reason (the summary counts
/// registrations per reason) and an example of the value that could not be used (SPEC §11: an
/// uncomparable gate value, an absent merchant), the first met kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Unchecked {
    pub missing: Missing,
    pub reason: Cow<'static, str>,
    pub example: Option<String>,
}

impl Unchecked {
    pub fn new(missing: Missing, reason: impl Into<Cow<'static, str>>) -> Unchecked {
        Unchecked { missing, reason: reason.into(), example: None }
    }

    pub fn example(mut self, value: &str) -> Unchecked {
        self.example = Some(value.to_string());
        self
    }
}

/// One line of `explain`'s checks: the verdict (`pass`, `FAIL`, `not checked`, `—`) and the
/// derivation.
pub type Explained = (String, String);

/// A rule of the catalog: the only place that knows its facts, check, bound, explanation and
/// not-checked reasons.
#[derive(Clone, Copy)]
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    /// Default severity (a profile may override it).
    pub severity: Severity,
    /// The rule's source file; its leading `//!` lines are the documentation.
    pub source: &'static str,
    /// The documentation of a rule declared as data (a gate), which has no file of its own.
    pub doc: &'static str,
    pub check: Check,
    /// The facts the check reads: the facts stage computes, per profile, what its rules need.
    pub needs: &'static [Fact],
    pub scope: Scope,
    /// A finding of this rule (and no error) makes a registration's verdict `unverifiable`.
    pub unverifiable: bool,
    /// `explain`'s lines for this rule on a registration, given its findings there (`None`:
    /// the verdict and the findings' messages).
    pub explain: Option<fn(&Ctx, &[&Finding]) -> Vec<Explained>>,
    /// Why the rule is not checked on a registration.
    pub not_checked: Option<fn(&Ctx, &Facts) -> Option<Unchecked>>,
    /// Why the rule is not checked on the whole dump (a dump-wide rule).
    pub not_checked_dump: Option<fn(&Facts) -> Option<String>>,
    /// Where the rule runs when no built-in profile lists it (a rule a config setting turns on).
    pub runs_where: &'static str,
}

/// The defaults of a rule's optional declarations; a rule file writes `..DEFAULTS`.
pub const DEFAULTS: Rule = Rule {
    code: "",
    name: "",
    severity: Severity::Error,
    source: "",
    doc: "",
    check: Check::Registration(|_| vec![]),
    needs: &[],
    scope: Scope::Profile,
    unverifiable: false,
    explain: None,
    not_checked: None,
    not_checked_dump: None,
    runs_where: "",
};

impl Rule {
    /// The rule's documentation: the `//!` doc comment of its file.
    pub fn doc(&self) -> String {
        if self.source.is_empty() {
            return self.doc.to_string();
        }
        self.source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(l.trim_start_matches("//!")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The rule's family, by its code's letter (SPEC §5, §10): price, schedule, eligibility,
    /// clearance after the start, content, listing.
    pub fn family(&self) -> &'static str {
        match self.code.as_bytes().first() {
            Some(b'P') => "price",
            Some(b'S') => "schedule",
            Some(b'E') => "eligibility",
            Some(b'K') => "clearance",
            Some(b'C') => "content",
            Some(b'D') => "listing",
            Some(b'M') => "merchant",
            _ => "other",
        }
    }

    /// The first line of the documentation.
    pub fn summary(&self) -> String {
        self.doc().lines().next().unwrap_or("").to_string()
    }

    /// Does the rule run on registrations of profile `p`?
    pub fn runs_on(&self, p: &Profile) -> bool {
        match self.scope {
            Scope::Profile => p.runs(self.code),
            Scope::Others => true,
        }
    }

    /// Is it a dump-wide rule (every ladder group), tied to no profile?
    pub fn dump_wide(&self) -> bool {
        matches!(self.check, Check::Ladder(_))
    }

    /// Its bound on the promo price of the registration in `cx`, if it is a price rule with
    /// the data to set one.
    pub fn bound(&self, cx: &Ctx) -> Option<PriceBound> {
        match self.check {
            Check::Price { bound, .. } => bound(cx),
            _ => None,
        }
    }

    /// Can a promo-price change fix its findings?
    pub fn price_fixable(&self) -> bool {
        matches!(self.check, Check::Price { .. })
    }

    /// Its findings on the registration in `cx`, and why it could not be checked there (the
    /// rules' evaluation asks both at one visit; a gate it runs through [`gate::GateJudge`], which
    /// compares once for both).
    pub fn judge(&self, cx: &Ctx) -> (Vec<Finding>, Option<Unchecked>) {
        (self.findings(cx), self.not_checked.and_then(|f| f(cx, cx.dump)))
    }

    /// Its findings on the registration in `cx`.
    pub fn findings(&self, cx: &Ctx) -> Vec<Finding> {
        match self.check {
            Check::Registration(f) => f(cx),
            Check::Gate => gate::check(cx),
            Check::Price { bound, finding } => match bound(cx) {
                Some(b) if b.broken_by(cx.reg.promo_price) => finding(cx, &b),
                _ => vec![],
            },
            Check::Ladder(_) | Check::Across(_) => vec![],
        }
    }
}

/// What a rule relating registrations sees: every registration and its facts.
pub struct Across<'a> {
    pub facts: &'a Facts,
    pub settings: &'a Settings,
    pub rule: &'a Rule,
}

impl Across<'_> {
    /// The context of registration `i` (to write its finding).
    pub fn ctx(&self, i: usize) -> Ctx<'_> {
        let reg = &self.facts.registrations[i];
        Ctx {
            reg,
            facts: &self.facts.per_reg[i],
            profile: &self.settings.profiles[reg.profile],
            all: &self.facts.registrations,
            dump: self.facts,
            settings: self.settings,
            rule: self.rule,
        }
    }

    /// Does the rule run on registration `i` (its profile lists it)?
    pub fn runs(&self, i: usize) -> bool {
        self.rule.runs_on(&self.settings.profiles[self.facts.registrations[i].profile])
    }

    /// The profile of registration `i`.
    pub fn profile(&self, i: usize) -> &Profile {
        &self.settings.profiles[self.facts.registrations[i].profile]
    }

    /// The run's zone (SPEC §3), for local dates.
    pub fn zone(&self) -> chrono_tz::Tz {
        crate::time::zone(&self.settings.timezone).expect("the run's zone was checked with the settings")
    }
}

/// `FAIL` when the rule fired on the registration, else `pass` (for `explain`).
pub fn verdict(fired: &[&Finding]) -> String {
    if fired.is_empty() { "pass" } else { "FAIL" }.to_string()
}

/// The finding of a rule comparing the promo price with `reference × factor` (P103, P104): "promo
/// price P is not below list L × F = T" (strict) or "is above" (not strict).
pub fn factor_finding(
    cx: &Ctx,
    reference: &Option<Reference>,
    name: &str,
    factor: Dec,
    b: &PriceBound,
) -> Vec<Finding> {
    let (Some(r), PriceBound::Upper { value, strict }) = (reference, *b) else { return vec![] };
    let op = if strict { "not below" } else { "above" };
    let msg = format!(
        "promo price {} is {op} {name} {} × {factor} = {value} ({})",
        cx.reg.promo_price,
        r.price(),
        describe(r)
    );
    vec![cx.price_finding(r, value, msg)]
}

/// `explain` of a rule comparing the promo price with `reference × factor` (P103, P104).
pub fn factor_explain(
    cx: &Ctx,
    fired: &[&Finding],
    reference: &Option<Reference>,
    name: &str,
    factor: Dec,
    bound: Option<PriceBound>,
    missing: &str,
) -> Vec<Explained> {
    vec![match (reference, bound) {
        (Some(r), Some(PriceBound::Upper { value, strict })) => {
            let op = if strict { "≥" } else { ">" };
            (
                verdict(fired),
                format!(
                    "fails when promo {op} {} ({name} {} × {factor}); promo {}",
                    value,
                    r.price(),
                    cx.reg.promo_price
                ),
            )
        }
        _ => ("not checked".into(), missing.into()),
    }]
}

/// Why a rule is not checked when a reference it needs has no data (reported as P108): "no
/// lowest_30d", "no baseline or list price" (the rule's reference facts, in its order).
pub fn missing_reference(cx: &Ctx, _: &Facts) -> Option<Unchecked> {
    let refs: Vec<Fact> = cx.rule.needs.iter().copied().filter(|f| f.reference_label().is_some()).collect();
    if refs.iter().all(|f| f.reference(cx.facts).is_some()) {
        return None;
    }
    let labels: Vec<&str> = refs.iter().filter_map(|f| f.reference_label()).collect();
    let unverifiable = ALL.iter().find(|r| r.unverifiable).map_or("", |r| r.code);
    Some(Unchecked::new(Missing::Reference, format!("no {} (reported as {unverifiable})", labels.join(" or "))))
}

/// K501–K503: the counted sales of the registration's slot (SPEC §10.4).
pub fn sales<'a>(cx: &Ctx<'a>) -> Option<&'a crate::facts::prices::Sales> {
    cx.facts.extra.as_ref()?.sales.as_ref()
}

/// Does the dump reach `end` (its horizon, the latest valid price `ts`, is at or after it)?
pub fn horizon_reaches(cx: &Ctx, end: i64) -> bool {
    cx.dump.horizon.is_some_and(|h| end <= h)
}

/// A K rule's window ending after the dump's horizon is not checked (SPEC §10.4).
pub fn beyond_horizon(cx: &Ctx, _: &Facts, end: i64) -> Option<Unchecked> {
    (!horizon_reaches(cx, end))
        .then_some(Unchecked::new(Missing::Data, Cow::Borrowed("the dump ends before the window closes")))
}

/// `explain` of a K rule: the window, the counted sales and the dump's horizon.
pub fn sales_explain(cx: &Ctx, fired: &[&Finding], end: i64) -> Vec<Explained> {
    let Some(s) = sales(cx) else { return vec![("—".into(), "no counted sales computed".into())] };
    let ws = crate::time::fmt_utc(s.from);
    let horizon = cx.dump.horizon.map_or("none".to_string(), crate::time::fmt_utc);
    let first = s.first.map_or("none".to_string(), crate::time::fmt_utc);
    let v = if horizon_reaches(cx, end) { verdict(fired) } else { "not checked".into() };
    vec![(
        v,
        format!(
            "window [{ws}, {}); first counted huopin sale {first}; {} counted sale(s) in the turnover window; dump horizon {horizon}",
            crate::time::fmt_utc(end),
            s.rows
        ),
    )]
}

/// The facts the rules of profile `p` need.
pub fn needs(p: &Profile) -> FactSet {
    ALL.iter().filter(|r| p.runs(r.code)).flat_map(|r| r.needs.iter().copied()).collect()
}

/// Every rule's code as a constant the compiler checks (the built-in profiles name rules with
/// these; a typo does not compile).
pub mod code {
    pub const P101: &str = super::p101_above_lowest_30d::RULE.code;
    pub const P102: &str = super::p102_above_lowest_180d::RULE.code;
    pub const P103: &str = super::p103_not_below_list::RULE.code;
    pub const P104: &str = super::p104_not_below_retail::RULE.code;
    pub const P105: &str = super::p105_ladder_spread::RULE.code;
    pub const P106: &str = super::p106_warmup_undercut::RULE.code;
    pub const P107: &str = super::p107_promo_override_higher::RULE.code;
    pub const P108: &str = super::p108_unverifiable_reference::RULE.code;
    pub const P109: &str = super::p109_inflated_reference_price::RULE.code;
    pub const P110: &str = super::p110_list_price_edited_in_lock::RULE.code;
    pub const P111: &str = super::p111_above_lowest_tier::RULE.code;
    pub const P112: &str = super::p112_stacked_discount::RULE.code;
    pub const P113: &str = super::p113_unsupported_retail_claim::RULE.code;
    pub const P114: &str = super::p114_first_hour_not_half_price::RULE.code;
    pub const S201: &str = super::s201_short_lead_time::RULE.code;
    pub const S202: &str = super::s202_schedule_conflict::RULE.code;
    pub const S203: &str = super::s203_offer_fatigue::RULE.code;
    pub const S204: &str = super::s204_merchant_fatigue::RULE.code;
    pub const S205: &str = super::s205_weekly_repeat::RULE.code;
    pub const S206: &str = super::s206_other_activity_conflict::RULE.code;
    pub const S207: &str = super::s207_outside_registration_window::RULE.code;
    pub const S208: &str = super::s208_store_offer_cap::RULE.code;
    pub const E301: &str = super::gate::E301.code;
    pub const E302: &str = super::gate::E302.code;
    pub const E303: &str = super::gate::E303.code;
    pub const E304: &str = super::gate::E304.code;
    pub const E305: &str = super::gate::E305.code;
    pub const E306: &str = super::e306_offer_supply::RULE.code;
    pub const E307: &str = super::gate::E307.code;
    pub const E308: &str = super::e308_offer_market_stock::RULE.code;
    pub const E309: &str = super::e309_low_supply_value::RULE.code;
    pub const E310: &str = super::gate::E310.code;
    pub const E311: &str = super::gate::E311.code;
    pub const K501: &str = super::k501_no_sales_4h::RULE.code;
    pub const K502: &str = super::k502_no_sales_first_day::RULE.code;
    pub const K503: &str = super::k503_low_turnover_12h::RULE.code;
    pub const C401: &str = super::c401_absolute_claim_in_title::RULE.code;
    pub const D601: &str = super::d601_duplicate_listing::RULE.code;
    pub const D602: &str = super::d602_category_changed::RULE.code;
}

/// Every rule, in family order (price, schedule, eligibility, clearance, content, listing), then
/// the merchant gates ([`merchant_gates`]).
pub static ALL: std::sync::LazyLock<Vec<Rule>> = std::sync::LazyLock::new(|| {
    let mut all = CORE.to_vec();
    all.extend_from_slice(merchant_gates::RULES);
    all
});

/// The rules of their own files and the gates of SPEC §5.3, in family order.
const CORE: &[Rule] = &[
    p101_above_lowest_30d::RULE,
    p102_above_lowest_180d::RULE,
    p103_not_below_list::RULE,
    p104_not_below_retail::RULE,
    p105_ladder_spread::RULE,
    p106_warmup_undercut::RULE,
    p107_promo_override_higher::RULE,
    p108_unverifiable_reference::RULE,
    p109_inflated_reference_price::RULE,
    p110_list_price_edited_in_lock::RULE,
    p111_above_lowest_tier::RULE,
    p112_stacked_discount::RULE,
    p113_unsupported_retail_claim::RULE,
    p114_first_hour_not_half_price::RULE,
    s201_short_lead_time::RULE,
    s202_schedule_conflict::RULE,
    s203_offer_fatigue::RULE,
    s204_merchant_fatigue::RULE,
    s205_weekly_repeat::RULE,
    s206_other_activity_conflict::RULE,
    s207_outside_registration_window::RULE,
    s208_store_offer_cap::RULE,
    gate::E301,
    gate::E302,
    gate::E303,
    gate::E304,
    gate::E305,
    e306_offer_supply::RULE,
    gate::E307,
    e308_offer_market_stock::RULE,
    e309_low_supply_value::RULE,
    gate::E310,
    gate::E311,
    k501_no_sales_4h::RULE,
    k502_no_sales_first_day::RULE,
    k503_low_turnover_12h::RULE,
    c401_absolute_claim_in_title::RULE,
    d601_duplicate_listing::RULE,
    d602_category_changed::RULE,
];

pub fn by_code(code: &str) -> Option<&'static Rule> {
    // asked for every finding (verdicts, reports): an index rather than a scan of the registry
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, usize>> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| ALL.iter().enumerate().map(|(i, r)| (r.code, i)).collect());
    index.get(code).map(|&i| &ALL[i])
}

/// The rules with a price bound, in registry order (`max_ok_price` reads their bounds for every
/// registration).
pub fn price_rules() -> &'static [&'static Rule] {
    static PRICE: std::sync::OnceLock<Vec<&'static Rule>> = std::sync::OnceLock::new();
    PRICE.get_or_init(|| ALL.iter().filter(|r| r.price_fixable()).collect())
}

/// The rule of a finding (every finding is made by a rule of the registry).
pub fn of(f: &Finding) -> &'static Rule {
    by_code(f.rule).expect("a finding's rule is in the registry")
}

/// What a registration rule sees.
pub struct Ctx<'a> {
    pub reg: &'a Registration,
    pub facts: &'a RegFacts,
    pub profile: &'a Profile,
    pub all: &'a [Registration],
    /// Every fact of the dump (ladder groups, which [`RegFacts::lowest_tier`] indexes; the
    /// horizon).
    pub dump: &'a Facts,
    pub settings: &'a Settings,
    pub rule: &'a Rule,
}

impl Ctx<'_> {
    /// A finding on this registration.
    pub fn finding(
        &self,
        observed: String,
        reference: String,
        threshold: String,
        evidence: Option<Evidence>,
        message: String,
    ) -> Finding {
        Finding {
            rule: self.rule.code,
            name: self.rule.name,
            severity: self.profile.rules.get(self.rule.code).copied().unwrap_or(self.rule.severity),
            registration_id: self.reg.registration_id.clone(),
            offer_id: self.reg.offer_id.clone(),
            sku_id: self.reg.sku_id.clone(),
            merchant_id: self.reg.merchant_id.clone(),
            activity: self.reg.activity.clone(),
            observed,
            reference,
            threshold,
            evidence,
            message,
        }
    }

    /// The common price-rule finding: promo price against `reference × factor`.
    pub fn price_finding(&self, reference: &Reference, threshold: Dec, message: String) -> Finding {
        self.finding(
            self.reg.promo_price.to_string(),
            reference.price().to_string(),
            threshold.to_string(),
            Some(reference.evidence.clone()),
            message,
        )
    }

    /// Another registration as evidence of SPEC §10's rules: its row and promo start
    /// (`evidence_price` and `evidence_channel` empty, SPEC §10).
    pub fn slot_evidence(&self, other: &Registration) -> Evidence {
        Evidence { price: None, ..self.registration_evidence(other) }
    }

    /// A finding with no figures (observed, reference, threshold empty).
    pub fn bare_finding(&self, evidence: Option<Evidence>, message: String) -> Finding {
        self.finding(String::new(), String::new(), String::new(), evidence, message)
    }

    /// Another registration as evidence (P107, S202): its row, promo start and promo price.
    pub fn registration_evidence(&self, other: &Registration) -> Evidence {
        Evidence {
            table: crate::findings::Table::Registrations,
            row: other.row,
            ts: Some(other.promo_start),
            price: Some(other.promo_price.into()),
            channel: None,
        }
    }
}

/// Where a reference came from, for messages: "txn 2024-05-01T02:00:00Z (prices line 17)".
pub fn describe(r: &Reference) -> String {
    let e = &r.evidence;
    let what = match (e.table, &e.channel) {
        (crate::findings::Table::Prices, Some(ch)) => format!("{ch} price"),
        (crate::findings::Table::Retail, Some(p)) => format!("{p} retail price"),
        (crate::findings::Table::Registrations, _) if e.ts.is_some() => {
            "another registration's promo price".to_string()
        }
        (crate::findings::Table::Registrations, _) => "the registration's own value".to_string(),
        _ => "price".to_string(),
    };
    let when = e.ts.map(|t| format!(" at {}", crate::time::fmt_utc(t))).unwrap_or_default();
    format!("{what}{when}, {} row {}", e.table.as_str(), e.row)
}

/// Why a rule could not be checked, counted over the registrations it runs on: each reason once,
/// in the order first met, with the registrations it holds for and the record number of the
/// first of them.
pub type UncheckedCounts = Vec<(Unchecked, u64, u64)>;

/// What [`evaluate`] found: the findings, sorted, and each rule's not-checked counts (by its
/// place in [`ALL`]; the summary lists them).
pub struct Evaluated {
    pub findings: Vec<Finding>,
    pub unchecked: Vec<UncheckedCounts>,
}

/// Count `u` (of registration record `rn`) into `counts`.
fn count_unchecked(counts: &mut UncheckedCounts, u: &Unchecked, rn: u64) {
    match counts.iter_mut().find(|(x, _, _)| x.reason == u.reason) {
        Some(c) => c.1 += 1,
        None => counts.push((u.clone(), 1, rn)),
    }
}

/// Evaluate every rule: registration rules per registration by its profile, ladder rules per group.
/// Rules run in parallel; their findings are joined in registry order, then sorted. Each rule is
/// asked at the same time why it could not be checked on each registration it runs on (one
/// visit of the registration for both).
pub fn evaluate(facts: &Facts, settings: &Settings) -> Evaluated {
    use rayon::prelude::*;
    let (per_rule, unchecked): (Vec<crate::findings::Gathered>, Vec<UncheckedCounts>) = ALL
        .par_iter()
        .map(|rule| {
            let t0 = std::time::Instant::now();
            let mut out = crate::findings::Gathered::default();
            let mut counts = UncheckedCounts::new();
            let runs: Vec<bool> = settings.profiles.iter().map(|p| rule.runs_on(p)).collect();
            let each = |f: &mut dyn FnMut(&Ctx)| {
                for (r, rf) in facts.registrations.iter().zip(&facts.per_reg) {
                    if !runs[r.profile] {
                        continue;
                    }
                    let profile = &settings.profiles[r.profile];
                    f(&Ctx { reg: r, facts: rf, profile, all: &facts.registrations, dump: facts, settings, rule });
                }
            };
            match rule.check {
                Check::Ladder(f) => out.extend(facts.ladders.iter().filter_map(|g| f(g, settings))),
                Check::Across(f) => out.extend(f(&Across { facts, settings, rule })),
                Check::Gate => {
                    let mut judge = gate::GateJudge::new(rule, settings, facts);
                    each(&mut |cx| judge.judge(cx, &mut out, &mut counts));
                }
                Check::Registration(_) | Check::Price { .. } => each(&mut |cx| {
                    let (found, why) = rule.judge(cx);
                    out.extend(found);
                    if let Some(u) = why {
                        count_unchecked(&mut counts, &u, cx.reg.rn);
                    }
                }),
            }
            // a rule over all registrations (or ladder groups) says apart why it could not be
            // checked on each registration it runs on
            if let (Check::Ladder(_) | Check::Across(_), Some(why)) = (rule.check, rule.not_checked) {
                each(&mut |cx| {
                    if let Some(u) = why(cx, facts) {
                        count_unchecked(&mut counts, &u, cx.reg.rn);
                    }
                });
            }
            if crate::runtime::detailed_timings() {
                eprintln!("  rule {}: {:.3} s, {} findings", rule.code, t0.elapsed().as_secs_f64(), out.len());
            }
            (out, counts)
        })
        .unzip();
    // Every finding of a rule carries its code, the sort's first key: each rule's findings are
    // sorted apart, then the rules laid end to end in code order: the same order as one sort of
    // them all (a stable one: equal keys only within a rule, in the order made).
    let mut per_rule = per_rule;
    let mut all = Vec::with_capacity(per_rule.iter().map(|g| g.len()).sum());
    if !per_rule.iter().all(|g| g.rule().is_none_or(|code| g.all_of(code))) {
        // (a rule writing another's code: one sort of them all)
        all.extend(per_rule.into_iter().flatten());
        crate::findings::sort(&mut all);
        return Evaluated { findings: all, unchecked };
    }
    per_rule.sort_by_key(|g| g.rule());
    // into one vector of the exact size, each finding moved once
    for g in per_rule {
        g.sorted_into(&mut all);
    }
    Evaluated { findings: all, unchecked }
}
