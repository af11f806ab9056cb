//! Per-registration verdicts and the highest compliant promo price (`registrations.csv`).
//!
//! The highest compliant price is the largest price on the profile's grid (`price_tick`,
//! default 0.01) that passes every price rule the registration is checked by: each price rule
//! declares its bound on the promo price (`rules::Check::Price`), the same bound its check
//! reads, so the two cannot disagree. The binding rule is the one that sets it (ties: the first
//! in registry order). Rules that a price change cannot fix (every rule without a bound) are
//! listed apart.

use crate::facts::{Facts, RegFacts};
use crate::findings::{Finding, Severity};
use crate::money::{Dec, Packed};
use crate::profile::Settings;
use crate::registration::Registration;
use crate::rules::PriceBound;
use polars::prelude::PlHashMap as HashMap;
use serde::Serialize;
use std::borrow::Cow;

/// The rules a promo-price change can fix: those with a price bound.
pub fn price_rules() -> Vec<&'static str> {
    crate::rules::price_rules().iter().map(|r| r.code).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    AtRisk,
    Unverifiable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::AtRisk => "at-risk",
            Verdict::Unverifiable => "unverifiable",
        }
    }
}

/// The highest compliant promo price and what sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxOk {
    /// `None` when no price on the grid passes, or nothing bounds the price.
    pub price: Option<Dec>,
    pub binding_rule: Option<&'static str>,
    /// Why there is no price, or how the bound was derived.
    pub note: String,
}

/// The price bounds of one registration: one per price rule of `rules` (those its profile runs,
/// in registry order) that has the data to set one.
pub fn bounds(
    r: &Registration,
    f: &RegFacts,
    settings: &Settings,
    dump: &crate::facts::Facts,
    rules: &[&'static crate::rules::Rule],
) -> Vec<(&'static str, PriceBound)> {
    let profile = &settings.profiles[r.profile];
    rules
        .iter()
        .copied()
        .filter_map(|rule| {
            let cx = crate::rules::Ctx { reg: r, facts: f, profile, all: &dump.registrations, dump, settings, rule };
            rule.bound(&cx).map(|b| (rule.code, b))
        })
        .collect()
}

/// The largest grid price passing every bound: below every upper bound and, where a rule sets
/// a lower one (SPEC §10.7: E309), not below it (none passes both: no price, the lower bound's
/// rule binding).
pub fn max_ok(bounds: &[(&'static str, PriceBound)], tick: Dec) -> MaxOk {
    let mut best: Option<(&'static str, Dec, Dec, bool)> = None;
    // the highest of the lower bounds on the grid (`None` inside: no price can pass it)
    let mut floor: Option<(&'static str, Option<Dec>)> = None;
    for &(rule, b) in bounds {
        match b {
            PriceBound::Upper { value: bound, strict } => {
                let on_grid = if strict { bound.below_to(tick) } else { bound.floor_to(tick) };
                if best.is_none_or(|(_, _, b, _)| on_grid < b) {
                    best = Some((rule, bound, on_grid, strict));
                }
            }
            PriceBound::AtLeast { factor, min } => {
                let lowest = Dec::least_multiple_reaching(tick, factor, min);
                let higher = match floor {
                    None => true,
                    Some((_, None)) => false,
                    Some((_, Some(f))) => lowest.is_none_or(|l| l > f),
                };
                if higher {
                    floor = Some((rule, lowest));
                }
            }
        }
    }
    if let Some((lrule, lowest)) = floor {
        let blocked = match (lowest, &best) {
            (None, _) => true,
            (Some(l), Some((_, _, price, _))) => *price < l,
            (Some(_), None) => false,
        };
        if blocked {
            let needs = lowest.map_or("a price no grid price reaches".to_string(), |l| format!("a price ≥ {l}"));
            let upper = best.map_or(String::new(), |(rule, bound, _, strict)| {
                format!(" and {rule} a price {} {bound}", if strict { "<" } else { "≤" })
            });
            return MaxOk {
                price: None,
                binding_rule: Some(lrule),
                note: format!("no price on the {tick} grid passes: {lrule} needs {needs}{upper}"),
            };
        }
    }
    match best {
        None => MaxOk {
            price: None,
            binding_rule: None,
            note: "no price rule bounds this registration (no reference data)".into(),
        },
        Some((rule, bound, price, strict)) if !price.is_positive() => MaxOk {
            price: None,
            binding_rule: Some(rule),
            note: format!(
                "no price on the {tick} grid passes: {rule} needs a price {} {bound}",
                if strict { "<" } else { "≤" }
            ),
        },
        Some((rule, bound, price, strict)) => MaxOk {
            price: Some(price),
            binding_rule: Some(rule),
            note: format!("{rule}: price {} {bound}, on the {tick} grid", if strict { "<" } else { "≤" }),
        },
    }
}

/// One row of `registrations.csv`, held as values (written out only by [`Self::cells_ref`]: a
/// registration-heavy dump holds millions of these).
#[derive(Clone, Debug)]
pub struct RegistrationVerdict {
    pub registration_id: crate::id::Id,
    pub offer_id: crate::id::Id,
    pub sku_id: crate::id::Id,
    pub merchant_id: crate::id::Id,
    pub activity: crate::id::Id,
    pub promo_price: Packed,
    pub verdict: Verdict,
    pub errors: u64,
    pub warnings: u64,
    /// The rules that fired on it, in code order, each once.
    pub rules: Box<[&'static str]>,
    pub lowest_30d: Option<Packed>,
    pub lowest_180d: Option<Packed>,
    pub list: Option<Packed>,
    pub retail: Option<Packed>,
    pub warmup_min: Option<Packed>,
    pub baseline: Option<Packed>,
    pub max_ok_price: Option<Packed>,
    pub binding_rule: Option<&'static str>,
    /// `promo_price − max_ok_price`.
    pub headroom: Option<Packed>,
    /// Rules that fired and that no price change can fix.
    pub not_price_fixable: Box<[&'static str]>,
    pub note: String,
}

pub const COLUMNS: [&str; 21] = [
    "registration_id",
    "offer_id",
    "sku_id",
    "merchant_id",
    "activity",
    "promo_price",
    "verdict",
    "errors",
    "warnings",
    "rules",
    "lowest_30d",
    "lowest_180d",
    "list",
    "retail",
    "warmup_min",
    "baseline",
    "max_ok_price",
    "binding_rule",
    "headroom",
    "not_price_fixable",
    "note",
];

/// A decimal of a verdict as written: empty when absent.
pub fn shown(d: &Option<Packed>) -> String {
    d.as_ref().map(Packed::to_string).unwrap_or_default()
}

impl RegistrationVerdict {
    /// The text of `column` (a name of [`COLUMNS`]) as `registrations.csv` writes it.
    pub fn cell(&self, column: &str) -> String {
        let i = COLUMNS.iter().position(|c| *c == column).unwrap_or_else(|| panic!("no column {column}"));
        self.cells_ref()[i].to_string()
    }

    /// The row as written to `registrations.csv`, in [`COLUMNS`] order, borrowing what it holds.
    pub fn cells_ref(&self) -> [Cow<'_, str>; 21] {
        fn b(s: &str) -> Cow<'_, str> {
            Cow::Borrowed(s)
        }
        fn dec(d: &Option<Packed>) -> Cow<'static, str> {
            Cow::Owned(shown(d)) // (empty: no allocation)
        }
        fn codes(c: &[&'static str]) -> Cow<'static, str> {
            match c {
                [] => Cow::Borrowed(""),
                [one] => Cow::Borrowed(one),
                _ => Cow::Owned(c.join(" ")),
            }
        }
        [
            b(&self.registration_id),
            b(&self.offer_id),
            b(&self.sku_id),
            b(&self.merchant_id),
            b(&self.activity),
            Cow::Owned(self.promo_price.to_string()),
            Cow::Borrowed(self.verdict.as_str()),
            Cow::Owned(self.errors.to_string()),
            Cow::Owned(self.warnings.to_string()),
            codes(&self.rules),
            dec(&self.lowest_30d),
            dec(&self.lowest_180d),
            dec(&self.list),
            dec(&self.retail),
            dec(&self.warmup_min),
            dec(&self.baseline),
            dec(&self.max_ok_price),
            Cow::Borrowed(self.binding_rule.unwrap_or("")),
            dec(&self.headroom),
            codes(&self.not_price_fixable),
            b(&self.note),
        ]
    }
}

/// Each registration's findings, in the findings' order: the registrations' ids (unique: the
/// loader drops duplicates) numbered, each finding's registration looked up (in parallel), the
/// findings grouped by it in flat arrays. (A map from id to a vector of findings built one finding
/// at a time made a vector per registration: 1.86 M of them on the registration-heavy dump.)
/// Registration `i`'s findings are group `i`; findings of no registration (ladder groups') the
/// last group.
fn findings_by_registration(facts: &Facts, findings: &[Finding]) -> crate::facts::groups::Groups {
    use rayon::prelude::*;
    let regs = &facts.registrations;
    let none = u32::try_from(regs.len()).expect("under 2^32 registrations");
    let mut number: HashMap<&str, u32> = HashMap::with_capacity_and_hasher(regs.len(), Default::default());
    for (i, r) in (0..none).zip(regs) {
        number.entry(r.registration_id.as_str()).or_insert(i);
    }
    let of: Vec<u32> = findings
        .par_iter()
        .map(|f| match f.registration_id.as_str() {
            "" => none,
            id => number.get(id).copied().unwrap_or(none),
        })
        .collect();
    crate::facts::groups::Groups::dense(of, regs.len() + 1)
}

/// Verdicts of every registration, in file order.
pub fn verdicts(facts: &Facts, findings: &[Finding], settings: &Settings) -> Vec<RegistrationVerdict> {
    use rayon::prelude::*;
    let by_reg = findings_by_registration(facts, findings);
    // each profile's price rules, in registry order
    let price_rules: Vec<Vec<&'static crate::rules::Rule>> = settings
        .profiles
        .iter()
        .map(|p| crate::rules::price_rules().iter().copied().filter(|rule| rule.runs_on(p)).collect())
        .collect();
    facts
        .registrations
        .par_iter()
        .zip(&facts.per_reg)
        .enumerate()
        .map(|(i, (r, f))| {
            let p = &settings.profiles[r.profile];
            let mine: Vec<&Finding> = by_reg.group(i).iter().map(|&at| &findings[at as usize]).collect();
            let errors = mine.iter().filter(|x| x.severity == Severity::Error).count() as u64;
            let warnings = mine.len() as u64 - errors;
            let verdict = if errors > 0 {
                Verdict::Fail
            } else if mine.iter().any(|x| crate::rules::of(x).unverifiable) {
                Verdict::Unverifiable
            } else if warnings > 0 {
                Verdict::AtRisk
            } else {
                Verdict::Pass
            };
            let mut codes: Vec<&'static str> = mine.iter().map(|x| x.rule).collect();
            codes.dedup();
            let fixed: Vec<&'static str> = codes
                .iter()
                .copied()
                .filter(|c| crate::rules::by_code(c).is_some_and(|rule| !rule.price_fixable()))
                .collect();
            let m = max_ok(&bounds(r, f, settings, facts, &price_rules[r.profile]), p.price_tick);
            let show = |x: &Option<crate::facts::Reference>| x.as_ref().map(|x| Packed::from(x.price()));
            let mut note = m.note.clone();
            if !fixed.is_empty() {
                note.push_str(&format!("; not fixable by price: {}", fixed.join(" ")));
            }
            RegistrationVerdict {
                registration_id: r.registration_id.clone(),
                offer_id: r.offer_id.clone(),
                sku_id: r.sku_id.clone(),
                merchant_id: r.merchant_id.clone(),
                activity: r.activity.clone(),
                promo_price: r.promo_price.into(),
                verdict,
                errors,
                warnings,
                rules: codes.into(),
                lowest_30d: show(&f.lowest_30d),
                lowest_180d: show(&f.lowest_180d),
                list: show(&f.list),
                retail: show(&f.retail),
                warmup_min: show(&f.warmup_min),
                baseline: show(&f.baseline),
                max_ok_price: m.price.map(Packed::from),
                binding_rule: m.binding_rule,
                headroom: m.price.map(|x| r.promo_price.sub(x).into()),
                not_price_fixable: fixed.into(),
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    /// Issue 7's worked examples (huopin: P103 strict at list × 0.9).
    #[test]
    fn highest_compliant_price_examples() {
        let tick = d("0.01");
        // bounds labelled "list" and "lowest" (any label: the binding one is returned)
        let up = |v: Dec, strict: bool| PriceBound::upper(v, strict);
        let list = |l: &str| max_ok(&[("list", up(d(l).mul(d("0.9")), true))], tick);
        assert_eq!(list("9.99").price, Some(d("8.99")));
        assert_eq!(list("10.00").price, Some(d("8.99")));
        assert_eq!(list("10.01").price, Some(d("9")));
        let both = max_ok(&[("lowest", up(d("8.50"), false)), ("list", up(d("10").mul(d("0.9")), true))], tick);
        assert_eq!((both.price, both.binding_rule), (Some(d("8.5")), Some("lowest")));
        let none = max_ok(&[("warm-up", up(d("0.01"), true))], tick);
        assert_eq!(none.price, None);
        assert!(none.note.contains("no price"), "{}", none.note);
        assert_eq!(max_ok(&[], tick).price, None);
    }

    /// SPEC §10.7: a lower bound (`price × 300 ≥ 1000`: price ≥ 3.34 on the grid) under an upper
    /// one: the upper one binds while it is above; below, no price passes and the lower binds.
    #[test]
    fn a_lower_bound_blocks_when_no_grid_price_reaches_it() {
        let tick = d("0.01");
        let supply = PriceBound::AtLeast { factor: d("300"), min: d("1000") };
        let m = max_ok(&[("upper", PriceBound::upper(d("5"), false)), ("supply", supply)], tick);
        assert_eq!((m.price, m.binding_rule), (Some(d("5")), Some("upper")));
        let m = max_ok(&[("upper", PriceBound::upper(d("3.34"), false)), ("supply", supply)], tick);
        assert_eq!((m.price, m.binding_rule), (Some(d("3.34")), Some("upper")));
        let m = max_ok(&[("upper", PriceBound::upper(d("3.34"), true)), ("supply", supply)], tick);
        assert_eq!((m.price, m.binding_rule), (None, Some("supply")));
        assert!(m.note.contains("≥ 3.34"), "{}", m.note);
        let none = PriceBound::AtLeast { factor: d("0"), min: d("1000") };
        assert_eq!(max_ok(&[("upper", PriceBound::upper(d("9"), false)), ("supply", none)], tick).price, None);
        // only a lower bound: nothing bounds the price from above
        assert_eq!(max_ok(&[("supply", supply)], tick).binding_rule, None);
    }
}
