//! The rule registry. Each rule lives in its own file; the file's `//!` doc comment is the rule's
//! documentation (what it checks, why the platform cares, the seed, an example) and is what
//! `priceaudit rules CODE` prints. To add a rule: add a file, add one line to [`ALL`].
//!
//! A rule reads facts ([`crate::facts`]) and its profile; it never sees raw tables.

mod c401_absolute_claim_in_title;
mod e301_sales_30d;
mod e302_buyers_30d;
mod e303_conversion_30d;
mod e304_moq;
mod e305_sku_supply;
mod e306_offer_supply;
mod e307_sku_market_stock;
mod e308_offer_market_stock;
mod eligibility;
mod p101_above_lowest_30d;
mod p102_above_lowest_180d;
mod p103_not_below_list;
mod p104_not_below_retail;
mod p105_ladder_spread;
mod p106_warmup_undercut;
mod p107_promo_override_higher;
mod p108_unverifiable_reference;
mod p109_inflated_reference_price;
mod s201_short_lead_time;
mod s202_schedule_conflict;

use crate::facts::{Facts, LadderGroup, Reference, RegFacts};
use crate::findings::{Evidence, Finding, Severity};
use crate::money::Dec;
use crate::profile::{Profile, Settings};
use crate::registration::Registration;

/// What a rule is evaluated on.
#[derive(Clone, Copy)]
pub enum Check {
    /// Once per registration whose profile runs the rule.
    Registration(fn(&Ctx) -> Vec<Finding>),
    /// Once per ladder group of the dump (not tied to a profile).
    Ladder(fn(&LadderGroup, &Settings) -> Option<Finding>),
}

/// A rule of the catalog.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    /// Default severity (a profile may override it).
    pub severity: Severity,
    /// The rule's source file; its leading `//!` lines are the documentation.
    pub source: &'static str,
    pub check: Check,
}

impl Rule {
    /// The rule's documentation: the `//!` doc comment of its file.
    pub fn doc(&self) -> String {
        self.source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| l.trim_start_matches("//!").strip_prefix(' ').unwrap_or(l.trim_start_matches("//!")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The first line of the documentation.
    pub fn summary(&self) -> String {
        self.doc().lines().next().unwrap_or("").to_string()
    }
}

/// Every rule, in code order.
pub const ALL: &[Rule] = &[
    p101_above_lowest_30d::RULE,
    p102_above_lowest_180d::RULE,
    p103_not_below_list::RULE,
    p104_not_below_retail::RULE,
    p105_ladder_spread::RULE,
    p106_warmup_undercut::RULE,
    p107_promo_override_higher::RULE,
    p108_unverifiable_reference::RULE,
    p109_inflated_reference_price::RULE,
    s201_short_lead_time::RULE,
    s202_schedule_conflict::RULE,
    e301_sales_30d::RULE,
    e302_buyers_30d::RULE,
    e303_conversion_30d::RULE,
    e304_moq::RULE,
    e305_sku_supply::RULE,
    e306_offer_supply::RULE,
    e307_sku_market_stock::RULE,
    e308_offer_market_stock::RULE,
    c401_absolute_claim_in_title::RULE,
];

pub fn by_code(code: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.code == code)
}

/// What a registration rule sees.
pub struct Ctx<'a> {
    pub reg: &'a Registration,
    pub facts: &'a RegFacts,
    pub profile: &'a Profile,
    pub all: &'a [Registration],
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

/// Evaluate every rule: registration rules per registration by its profile, ladder rules per group.
/// Rules run in parallel; their findings are joined in registry order, then sorted.
pub fn evaluate(facts: &Facts, settings: &Settings) -> Vec<Finding> {
    use rayon::prelude::*;
    let per_rule: Vec<Vec<Finding>> = ALL
        .par_iter()
        .map(|rule| {
            let mut out = Vec::new();
            match rule.check {
                Check::Registration(f) => {
                    // P107 belongs to the big promo's profile but flags the other registration:
                    // its facts already hold only big promos whose profile runs it.
                    let runs: Vec<bool> =
                        settings.profiles.iter().map(|p| p.runs(rule.code) || rule.code == "P107").collect();
                    for (r, rf) in facts.registrations.iter().zip(&facts.per_reg) {
                        if !runs[r.profile] {
                            continue;
                        }
                        let profile = &settings.profiles[r.profile];
                        let cx = Ctx { reg: r, facts: rf, profile, all: &facts.registrations, settings, rule };
                        out.extend(f(&cx));
                    }
                }
                Check::Ladder(f) => out.extend(facts.ladders.iter().filter_map(|g| f(g, settings))),
            }
            out
        })
        .collect();
    let mut out: Vec<Finding> = per_rule.into_iter().flatten().collect();
    crate::findings::sort(&mut out);
    out
}
