//! The TOML config file (`--config FILE`): run settings and profile overrides.
//!
//! ```toml
//! timezone = "America/Los_Angeles"      # zone of naive timestamps
//! ladder_spread_limit = "10"            # P105
//!
//! [profile.ae-platform.category_discount] # override a built-in profile
//! apparel = "0.05"
//!
//! [profile.clearance]                   # add a profile
//! extends = "huopin"
//! list_factor = "0.85"
//! ```
//!
//! The file is read with serde derive into [`FileToml`] and [`ProfileToml`]: every key is a
//! field (`deny_unknown_fields`), and every value has a type that checks itself as it is read
//! ([`Decimal`] refuses TOML floats so that no factor passes through binary floating point; a
//! [`RuleCode`] is one of the registry's). An error names the file, the key's path and the reason.
//! What a type cannot check alone (`extends` naming a profile, cycles) is checked after reading.

use super::{Baseline, Basis, Profile, Settings};
use crate::error::{Error, Result};
use crate::findings::Severity;
use crate::money::Dec;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The longest window or lead time a setting may give: 100 years (36,500 days; hours: × 24).
pub const MAX_DAYS: i64 = 36_500;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileToml {
    /// Zone of naive timestamps.
    timezone: Option<Zone>,
    /// P105's spread limit.
    ladder_spread_limit: Option<Factor>,
    /// `[profile.NAME]`: a built-in profile's overrides, or a new profile.
    #[serde(default)]
    profile: BTreeMap<String, ProfileToml>,
}

/// One `[profile.NAME]` table: each key sets the [`Profile`] field of its name.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProfileToml {
    extends: Option<String>,
    description: Option<String>,
    rules: Option<Vec<RuleCode>>,
    severity: Option<BTreeMap<RuleCode, SeverityToml>>,
    basis: Option<BasisToml>,
    lowest_30d_days: Option<Whole<MAX_DAYS>>,
    lowest_180d_days: Option<Whole<MAX_DAYS>>,
    lowest_factor: Option<Factor>,
    excluded_channels: Option<Vec<String>>,
    list_factor: Option<Factor>,
    list_strict: Option<bool>,
    retail_factor: Option<Factor>,
    retail_strict: Option<bool>,
    category_discount: Option<BTreeMap<String, Discount>>,
    warmup_hours: Option<Whole<{ MAX_DAYS * 24 }>>,
    min_lead_hours: Option<Whole<{ MAX_DAYS * 24 }>>,
    conflict_group: Option<String>,
    big_promo: Option<bool>,
    eligibility: Option<BTreeMap<EligibilityCode, Decimal>>,
    gates: Option<Vec<GateToml>>,
    title_terms: Option<Vec<String>>,
    title_terms_add: Option<Vec<String>>,
    baseline: Option<BaselineToml>,
    baseline_days: Option<Whole<MAX_DAYS>>,
    price_tick: Option<Tick>,
    lock_hours: Option<Whole<{ MAX_DAYS * 24 }>>,
    fatigue_days: Option<Whole<MAX_DAYS>>,
    fatigue_offers: Option<Whole<{ i32::MAX as i64 }>>,
    registration_opens: Option<InstantText>,
    registration_closes: Option<InstantText>,
    max_offers_per_merchant: Option<Whole<{ i32::MAX as i64 }>>,
    no_sales_hours: Option<Whole<{ MAX_DAYS * 24 }>>,
    turnover_hours: Option<Whole<{ MAX_DAYS * 24 }>>,
    turnover_min: Option<Factor>,
}

/// A `[[profile.NAME.gates]]` table (SPEC §11): a gate rule of the registry and one comparison
/// (`table`, `column`, `op`, `value`) or `any_of`, a list of comparisons. Read whole and checked
/// as a gate ([`super::Gate`]): a bad one is an error at its key.
#[derive(Deserialize)]
#[serde(try_from = "GateFields")]
pub struct GateToml(super::Gate);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateFields {
    code: GateCode,
    table: Option<String>,
    column: Option<String>,
    op: Option<OpToml>,
    value: Option<GateValueToml>,
    /// An entry channel's own threshold of a decimal gate, met as well (SPEC §10.1).
    own: Option<Decimal>,
    any_of: Option<Vec<CmpFields>>,
}

/// One comparison of `any_of`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CmpFields {
    table: Option<String>,
    column: String,
    op: OpToml,
    value: GateValueToml,
}

/// A comparison from its fields: `table` defaults to `registrations` for a registrations metric
/// and must be given for a `merchants` column.
fn cmp(
    table: Option<String>,
    column: String,
    OpToml(op): OpToml,
    GateValueToml { text, list }: GateValueToml,
) -> std::result::Result<crate::rules::gate::Cmp, String> {
    use crate::rules::gate::{Cmp, GateTable, Op};
    use crate::rules::gate_value::GateValue;
    let metric = crate::dump::schema::METRICS.contains(&column.as_str());
    let metrics = crate::dump::schema::METRICS.join(", ");
    let table = match table.as_deref() {
        None if metric => GateTable::Registrations,
        None => {
            return Err(format!(
                "`column`: {column:?} is not a registrations metric ({metrics}); a merchants column needs table = \"merchants\""
            ))
        }
        Some(t) => GateTable::parse(t)
            .ok_or_else(|| format!("`table`: unknown table {t:?} (expected merchants or registrations)"))?,
    };
    if table == GateTable::Registrations && !metric {
        return Err(format!("`column`: {column:?} is not a registrations metric ({metrics})"));
    }
    if column.trim().is_empty() {
        return Err("`column`: a gate needs a column".into());
    }
    if list && op != Op::In {
        return Err(format!("`value`: a list compares with op `in`, not `{}`", op.as_str()));
    }
    let c = Cmp::new(table, &column, op, &text).map_err(|e| format!("`value`: {e}"))?;
    match c.value {
        GateValue::Decimal(d) if !d.in_money_domain() => {
            Err(format!("`value`: {d} is out of range (at most 28 integer digits and 10 decimal places)"))
        }
        GateValue::Bool(_) if op != Op::Eq => Err(format!("`op`: a boolean compares with `=`, not `{}`", op.as_str())),
        _ => Ok(c),
    }
}

impl TryFrom<GateFields> for GateToml {
    type Error = String;
    fn try_from(f: GateFields) -> std::result::Result<GateToml, String> {
        let GateFields { code: GateCode(code), table, column, op, value, own, any_of } = f;
        let gate = match (any_of, column, op, value) {
            (Some(members), None, None, None) => {
                if table.is_some() || own.is_some() {
                    return Err("`any_of` takes its tables in its members, and no `own`".into());
                }
                if members.is_empty() {
                    return Err("`any_of` needs at least one comparison".into());
                }
                let members = members
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| cmp(m.table, m.column, m.op, m.value).map_err(|e| format!("any_of[{i}]: {e}")))
                    .collect::<std::result::Result<Vec<_>, String>>()?;
                super::Gate { code, members, any_of: true }
            }
            (None, Some(column), Some(op), Some(value)) => {
                let mut c = cmp(table, column, op, value)?;
                if let Some(Decimal(o)) = own {
                    if c.threshold().is_none() || c.table != crate::rules::gate::GateTable::Registrations {
                        return Err("`own` is a second threshold of a decimal registrations gate".into());
                    }
                    c.own = Some(o);
                }
                super::Gate::one(&code, c)
            }
            (Some(_), ..) => return Err("a gate has either `any_of` or `column`, `op` and `value`".into()),
            _ => return Err("a gate needs `column`, `op` and `value` (or `any_of`)".into()),
        };
        Ok(GateToml(gate))
    }
}

/// A gate's value (SPEC §11): a string or integer (a decimal, a level name or a boolean), a
/// boolean, or for `in` a list; never a TOML float.
pub struct GateValueToml {
    text: String,
    /// Written as a TOML array.
    list: bool,
}

impl<'de> Deserialize<'de> for GateValueToml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GateValueToml;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal, level name or boolean written as a string, or a list for `in`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<GateValueToml, E> {
                Ok(GateValueToml { text: s.to_string(), list: false })
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<GateValueToml, E> {
                Ok(GateValueToml { text: i.to_string(), list: false })
            }
            fn visit_u64<E: de::Error>(self, i: u64) -> std::result::Result<GateValueToml, E> {
                Ok(GateValueToml { text: i.to_string(), list: false })
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<GateValueToml, E> {
                Ok(GateValueToml { text: b.to_string(), list: false })
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<GateValueToml, E> {
                Err(E::custom(format!("write decimals as strings (\"{f}\"), not TOML floats")))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<GateValueToml, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = seq.next_element::<GateValueToml>()? {
                    if x.list || x.text.contains(',') {
                        return Err(de::Error::custom(format!("a list member is one value: {:?}", x.text)));
                    }
                    items.push(x.text);
                }
                Ok(GateValueToml { text: items.join(", "), list: true })
            }
        }
        d.deserialize_any(V)
    }
}

/// A value written as a TOML string and read by a parser whose error is the reason.
macro_rules! from_string {
    ($(#[$doc:meta])* $name:ident($inner:ty), |$s:ident| $parse:expr) => {
        $(#[$doc])*
        pub struct $name($inner);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let $s = String::deserialize(d)?;
                let parsed: std::result::Result<$inner, String> = $parse;
                parsed.map($name).map_err(de::Error::custom)
            }
        }
    };
}

from_string!(
    /// A time zone name the clock knows.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    Zone(String),
    |s| crate::time::zone(&s).map(|_| s.clone()).map_err(|e| e.to_string())
);
from_string!(
    /// A rule code of the registry.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    RuleCode(String),
    |s| match crate::rules::by_code(&s) {
        Some(_) => Ok(s),
        None => Err(format!("unknown rule code {s:?} (see `priceaudit rules`)")),
    }
);
from_string!(
    /// The key of `eligibility.CODE`: an E rule of the registry.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    EligibilityCode(String),
    |s| if !s.starts_with('E') {
        Err("eligibility thresholds are keyed by an E rule code (E301–E311)".to_string())
    } else {
        match crate::rules::by_code(&s) {
            Some(_) => Ok(s),
            None => Err(format!("unknown rule code {s:?} (see `priceaudit rules`)")),
        }
    }
);
from_string!(
    /// A gate rule of the registry.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    GateCode(String),
    |s| match crate::rules::by_code(&s) {
        None => Err(format!("unknown rule code {s:?} (see `priceaudit rules`)")),
        Some(r) if !matches!(r.check, crate::rules::Check::Gate) => Err(format!("{s} is not a gate rule")),
        Some(_) => Ok(s),
    }
);
from_string!(
    /// A registrations metric column.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    Metric(String),
    |s| if crate::dump::schema::METRICS.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(format!("{s:?} is not a registrations metric ({})", crate::dump::schema::METRICS.join(", ")))
    }
);
from_string!(
    /// `error` or `warning`.
    SeverityToml(Severity),
    |s| Severity::parse(&s).ok_or_else(|| format!("{s:?} is not error or warning"))
);
from_string!(
    /// `txn`, `list` or `both`.
    BasisToml(Basis),
    |s| Basis::parse(&s).ok_or_else(|| format!("{s:?} is not txn, list or both"))
);
from_string!(
    /// `eu-omnibus`, `cn-samr` or `none`.
    BaselineToml(Option<Baseline>),
    |s| if s == "none" {
        Ok(None)
    } else {
        Baseline::parse(&s).map(Some).ok_or_else(|| format!("{s:?} is not eu-omnibus, cn-samr or none"))
    }
);
from_string!(
    /// An instant in one of SPEC §3's forms (a naive one is resolved in the run's zone later).
    InstantText(String),
    |s| crate::time::parse_instant(&s, &chrono_tz::UTC)
        .map(|_| s.clone())
        .map_err(|_| format!("{s:?} is not a timestamp (SPEC §3: 2018-02-12 00:00:00, or with Z or ±HH:MM)"))
);
from_string!(
    /// A comparison: `>=`, `>`, `<=`, `<`, `=`.
    OpToml(super::Op),
    |s| match super::Op::parse(&s) {
        Some(op) => Ok(op),
        None => Err(format!("unknown op {s:?} (expected >=, >, <=, <, =, in)")),
    }
);

/// A decimal setting, written as a string (`"0.85"`) or an integer, never a TOML float, and held
/// to the money domain (≤ 28 integer digits, ≤ 10 decimal places) so that no product of a
/// setting and a price can leave the exact arithmetic's range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decimal(Dec);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal written as a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Dec, E> {
                Dec::parse(s).ok_or_else(|| E::custom(format!("{s:?} is not a decimal")))
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<Dec, E> {
                Ok(Dec::from_int(i))
            }
            fn visit_u64<E: de::Error>(self, i: u64) -> std::result::Result<Dec, E> {
                i64::try_from(i).map(Dec::from_int).map_err(|_| E::custom(format!("{i} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Dec, E> {
                Err(E::custom(format!("write decimals as strings (\"{f}\"), not TOML floats")))
            }
        }
        let v = d.deserialize_any(V)?;
        if !v.in_money_domain() {
            return Err(de::Error::custom(format!(
                "{v} is out of range (at most 28 integer digits and 10 decimal places)"
            )));
        }
        Ok(Decimal(v))
    }
}

/// A [`Decimal`] checked by `ok` after reading.
macro_rules! checked_decimal {
    ($(#[$doc:meta])* $name:ident, |$d:ident| $ok:expr, $why:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(Dec);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let Decimal($d) = Decimal::deserialize(d)?;
                if $ok {
                    Ok($name($d))
                } else {
                    Err(de::Error::custom($why))
                }
            }
        }
    };
}

checked_decimal!(
    /// A factor: a decimal ≥ 0.
    Factor, |d| d >= Dec::ZERO, "must not be negative"
);
checked_decimal!(
    /// A category discount: a decimal in `[0, 1]`.
    Discount, |d| d >= Dec::ZERO && d <= Dec::from_int(1), "a discount must be between 0 and 1"
);
checked_decimal!(
    /// The price grid: a decimal > 0.
    Tick, |d| d.is_positive(), "must be > 0"
);

/// A whole number in `0..=MAX`, written as an integer or a string (a window or lead time:
/// bounded so that every instant the rules form from it stays inside the timestamps' range).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Whole<const MAX: i64>(i64);

impl<'de, const MAX: i64> Deserialize<'de> for Whole<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number ≥ 0")
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> std::result::Result<i64, E> {
                if i < 0 {
                    return Err(E::custom(format!("expected a whole number ≥ 0, found {i}")));
                }
                Ok(i)
            }
            fn visit_u64<E: de::Error>(self, i: u64) -> std::result::Result<i64, E> {
                i64::try_from(i).map_err(|_| E::custom(format!("{i} is out of range")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<i64, E> {
                s.parse::<i64>()
                    .ok()
                    .filter(|i| *i >= 0)
                    .ok_or_else(|| E::custom(format!("{s:?} is not a whole number ≥ 0")))
            }
        }
        let i = d.deserialize_any(V)?;
        if i > MAX {
            return Err(de::Error::custom(format!("{i} is out of range (at most {MAX})")));
        }
        Ok(Whole(i))
    }
}

fn err(file: &str, key: &str, reason: impl fmt::Display) -> Error {
    Error::config(format!("config {file}: key `{key}`: {reason}"))
}

/// Load `path` on top of the built-in settings.
pub fn load(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::config(format!("config {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Parse config text on top of the built-in settings (`file` names it in errors).
pub fn parse(text: &str, file: &str) -> Result<Settings> {
    let syntax = |e: toml::de::Error| Error::config(format!("config {file}: {}", e.to_string().trim()));
    let doc: FileToml = serde_path_to_error::deserialize(toml::Deserializer::parse(text).map_err(syntax)?)
        .map_err(|e| err(file, &e.path().to_string(), e.inner().message()))?;
    let mut settings = Settings::default();
    if let Some(Zone(z)) = doc.timezone {
        settings.timezone = z;
    }
    if let Some(Factor(f)) = doc.ladder_spread_limit {
        settings.ladder_spread_limit = f;
    }
    // Resolve `extends` in dependency order: a profile may extend one defined later in the file,
    // and a derived built-in (`huopin-*`) is derived again from its parent as the config leaves
    // it, then takes its own part of the config (a config `extends` replaces the derivation).
    let derived = super::derived();
    let mut pending: Vec<(String, ProfileToml)> = doc.profile.into_iter().collect();
    for child in &derived {
        if !pending.iter().any(|(n, _)| n == child.name) {
            pending.push((child.name.to_string(), ProfileToml::default()));
        }
    }
    let parent_of = |name: &str, t: &ProfileToml| -> Option<String> {
        t.extends.clone().or_else(|| derived.iter().find(|c| c.name == name).map(|c| c.parent.to_string()))
    };
    while !pending.is_empty() {
        let before = pending.len();
        // the profiles not resolved yet: one whose parent is among them waits for it
        let mut open: Vec<String> = pending.iter().map(|(n, _)| n.clone()).collect();
        let mut rest = Vec::new();
        for (name, t) in pending {
            let prefix = format!("profile.{name}");
            if parent_of(&name, &t).is_some_and(|p| p != name && open.contains(&p)) {
                rest.push((name, t));
                continue;
            }
            open.retain(|n| *n != name);
            let child = derived.iter().find(|c| c.name == name).filter(|_| t.extends.is_none());
            let start = match (&t.extends, settings.profile(&name)) {
                (None, _) if child.is_some() => {
                    let child = child.expect("checked");
                    let parent = settings.profile(child.parent).expect("a derived profile's parent is built in");
                    child.from(parent)
                }
                (Some(p), _) => {
                    let mut base = settings
                        .profile(p)
                        .cloned()
                        .ok_or_else(|| err(file, &format!("{prefix}.extends"), format!("unknown profile {p:?}")))?;
                    base.name = name.clone();
                    base
                }
                (None, Some(existing)) => existing.clone(),
                (None, None) => {
                    let mut p = super::base(&name, "", &[]);
                    p.rules.clear();
                    p
                }
            };
            let mut profile = apply(start, t).map_err(|(key, why)| err(file, &format!("{prefix}.{key}"), why))?;
            // SPEC §10: the five huopin-* profiles are of the huopin family by name, whatever
            // they extend
            if derived.iter().any(|c| c.name == name) {
                profile.huopin_family = true;
            }
            match settings.profiles.iter_mut().find(|p| p.name == name) {
                Some(slot) => *slot = profile,
                None => settings.profiles.push(profile),
            }
        }
        if rest.len() == before {
            return Err(err(file, &format!("profile.{}.extends", rest[0].0), "profiles extend each other in a cycle"));
        }
        pending = rest;
    }
    settings.resolve_instants().map_err(|e| Error::config(format!("config {file}: key `{e}")))?;
    Ok(settings)
}

/// A rule's severity in `p`: the profile's own, else the registry's.
fn severity(p: &Profile, code: &str) -> Severity {
    p.rules
        .get(code)
        .copied()
        .unwrap_or_else(|| crate::rules::by_code(code).map(|r| r.severity).unwrap_or(Severity::Error))
}

/// Set every field `t` gives (each value already checked as it was read).
/// The built-in gate of rule `code` (the first built-in profile's that declares one): the
/// seed's column and comparison, for a profile that runs the rule without declaring its gate.
fn builtin_gate(code: &str) -> Option<super::Gate> {
    super::builtins().into_iter().flat_map(|b| b.gates).find(|g| g.code == code)
}

/// `Err`: the key (below the profile's) and why its value cannot apply.
fn apply(mut p: Profile, t: ProfileToml) -> std::result::Result<Profile, (String, String)> {
    let ProfileToml {
        extends: _,
        description,
        rules,
        severity: severities,
        basis,
        lowest_30d_days,
        lowest_180d_days,
        lowest_factor,
        excluded_channels,
        list_factor,
        list_strict,
        retail_factor,
        retail_strict,
        category_discount,
        warmup_hours,
        min_lead_hours,
        conflict_group,
        big_promo,
        eligibility,
        gates,
        title_terms,
        title_terms_add,
        baseline,
        baseline_days,
        price_tick,
        lock_hours,
        fatigue_days,
        fatigue_offers,
        registration_opens,
        registration_closes,
        max_offers_per_merchant,
        no_sales_hours,
        turnover_hours,
        turnover_min,
    } = t;
    fn set<T, U>(slot: &mut T, v: Option<U>, f: impl FnOnce(U) -> T) {
        if let Some(v) = v {
            *slot = f(v);
        }
    }
    set(&mut p.description, description, |d| d);
    if let Some(codes) = rules {
        p.rules = codes.into_iter().map(|RuleCode(c)| (c.clone(), severity(&p, &c))).collect();
    }
    for (RuleCode(code), SeverityToml(s)) in severities.unwrap_or_default() {
        p.rules.insert(code, s);
    }
    set(&mut p.basis, basis, |BasisToml(b)| b);
    set(&mut p.lowest_30d_days, lowest_30d_days, |Whole(d)| d);
    set(&mut p.lowest_180d_days, lowest_180d_days, |Whole(d)| d);
    set(&mut p.lowest_factor, lowest_factor, |Factor(f)| f);
    set(&mut p.excluded_channels, excluded_channels, |c| c);
    set(&mut p.list_factor, list_factor, |Factor(f)| f);
    set(&mut p.list_strict, list_strict, |b| b);
    set(&mut p.retail_factor, retail_factor, |Factor(f)| f);
    set(&mut p.retail_strict, retail_strict, |b| b);
    for (cat, Discount(d)) in category_discount.unwrap_or_default() {
        p.category_discount.insert(cat, d);
    }
    set(&mut p.warmup_hours, warmup_hours, |Whole(h)| h);
    set(&mut p.min_lead_hours, min_lead_hours, |Whole(h)| h);
    set(&mut p.conflict_group, conflict_group, |s| if s.is_empty() { None } else { Some(s) });
    set(&mut p.big_promo, big_promo, |b| b);
    for (EligibilityCode(code), Decimal(value)) in eligibility.unwrap_or_default() {
        if let Some(g) = p.gates.iter_mut().find(|g| g.code == code) {
            // the value of a decimal comparison of a registrations metric, not of another gate
            match g.single().filter(|c| c.threshold().is_some()) {
                Some(c) => c.set_decimal(value),
                None => {
                    return Err((
                        format!("eligibility.{code}"),
                        format!(
                            "the gate of {code} is `{}`, not one decimal comparison: set it in [[profile.NAME.gates]]",
                            g.describe()
                        ),
                    ))
                }
            }
        } else if let Some(mut g) = builtin_gate(&code) {
            // a gate this profile does not declare yet: the seed's column and comparison
            if let Some(c) = g.single() {
                c.set_decimal(value);
            }
            p.set_gate(g);
        } else {
            p.eligibility.insert(code, value);
        }
    }
    for GateToml(g) in gates.unwrap_or_default() {
        add(&mut p, &g.code);
        p.set_gate(g);
    }
    set(&mut p.title_terms, title_terms, crate::rules::TitleTerms::new);
    if let Some(more) = title_terms_add {
        p.title_terms = p.title_terms.with(more);
    }
    set(&mut p.baseline, baseline, |BaselineToml(b)| b);
    set(&mut p.baseline_days, baseline_days, |Whole(d)| d);
    set(&mut p.price_tick, price_tick, |Tick(t)| t);
    set(&mut p.lock_hours, lock_hours, |Whole(h)| Some(h));
    set(&mut p.fatigue_days, fatigue_days, |Whole(d)| d);
    set(&mut p.fatigue_offers, fatigue_offers, |Whole(n)| n);
    // S207 and S208 run where their settings are set (SPEC §10.3)
    let instant = |InstantText(text)| Some(super::ConfigInstant { text, at: 0 });
    set(&mut p.registration_opens, registration_opens, instant);
    set(&mut p.registration_closes, registration_closes, instant);
    if p.registration_opens.is_some() || p.registration_closes.is_some() {
        add(&mut p, crate::rules::code::S207);
    }
    set(&mut p.max_offers_per_merchant, max_offers_per_merchant, |Whole(n)| Some(n));
    if p.max_offers_per_merchant.is_some() {
        add(&mut p, crate::rules::code::S208);
    }
    set(&mut p.no_sales_hours, no_sales_hours, |Whole(h)| h);
    set(&mut p.turnover_hours, turnover_hours, |Whole(h)| h);
    set(&mut p.turnover_min, turnover_min, |Factor(f)| f);
    // a gate rule the profile runs without declaring its gate (`rules`, `severity`): the
    // built-in gate of its code (every gate rule has one), never a rule that checks nothing
    let undeclared: Vec<String> = p
        .rules
        .keys()
        .filter(|c| crate::rules::by_code(c).is_some_and(|r| matches!(r.check, crate::rules::Check::Gate)))
        .filter(|c| p.gate(c).is_none())
        .cloned()
        .collect();
    for code in undeclared {
        match builtin_gate(&code) {
            Some(g) => p.set_gate(g),
            None => {
                return Err((
                    "rules".into(),
                    format!("{code} is a gate rule with no built-in gate: declare it in [[profile.NAME.gates]]"),
                ))
            }
        }
    }
    Ok(p)
}

/// Run rule `code` (at its severity) if `p` does not yet.
fn add(p: &mut Profile, code: &str) {
    if !p.runs(code) {
        p.rules.insert(code.to_string(), severity(p, code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_and_overrides() {
        let s = parse(
            r#"
            [profile.clearance]
            extends = "huopin"
            list_factor = "0.85"
            [profile.ae-platform.category_discount]
            apparel = "0.05"
            "#,
            "t.toml",
        )
        .unwrap();
        let c = s.profile("clearance").unwrap();
        assert_eq!(c.list_factor.to_string(), "0.85");
        assert!(c.runs("P101") && c.list_strict);
        let ae = s.profile("ae-platform").unwrap();
        assert_eq!(ae.discount_for("apparel").to_string(), "0.05");
        assert_eq!(ae.discount_for("toys").to_string(), "0");
    }

    #[test]
    fn bad_config_names_file_key_and_reason() {
        let e = parse("[profile.huopin]\nlist_factr = \"0.9\"\n", "c.toml").unwrap_err().message;
        assert!(
            e.contains("c.toml") && e.contains("profile.huopin.list_factr") && e.contains("unknown field `list_factr`"),
            "{e}"
        );
        let e = parse("[profile.huopin]\nlist_factor = \"0,9\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("profile.huopin.list_factor") && e.contains("not a decimal"), "{e}");
        let e = parse("[profile.huopin]\nrules = [\"P999\"]\n", "c.toml").unwrap_err().message;
        assert!(e.contains("unknown rule code"), "{e}");
        let e = parse("[profile.huopin]\nlist_factor = 0.9\n", "c.toml").unwrap_err().message;
        assert!(e.contains("not TOML floats"), "{e}");
        // a config error is the config's, not the dump's
        let kind = parse("[profile.huopin]\nlist_factr = \"0.9\"\n", "c.toml").unwrap_err().kind;
        assert_eq!(kind, crate::error::ErrorKind::Config);
        // values outside their domains name the key
        let e = parse("[profile.huopin]\nwarmup_hours = 876001\n", "c.toml").unwrap_err().message;
        assert!(e.contains("profile.huopin.warmup_hours") && e.contains("out of range"), "{e}");
        assert!(parse("[profile.huopin]\nwarmup_hours = 876000\n", "c.toml").is_ok());
        let e = parse(&format!("[profile.huopin]\nlist_factor = \"{}\"\n", "9".repeat(29)), "c.toml").unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = parse("[profile.huopin]\nprice_tick = \"0.00000000001\"\n", "c.toml").unwrap_err();
        assert!(e.message.contains("price_tick") && e.message.contains("out of range"), "{}", e.message);
        assert!(parse("[profile.huopin]\nprice_tick = \"0.0000000001\"\n", "c.toml").is_ok());
        // a path into an array, and a value of the wrong type
        let e = parse("[profile.huopin]\nrules = [\"P101\", \"X1\"]\n", "c.toml").unwrap_err().message;
        assert!(e.contains("key `profile.huopin.rules[1]`") && e.contains("unknown rule code \"X1\""), "{e}");
        let e = parse("[profile.huopin]\nlist_strict = \"yes\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("key `profile.huopin.list_strict`") && e.contains("invalid type"), "{e}");
        let e = parse("[profile.huopin]\nwarmup_hours = -1\n", "c.toml").unwrap_err().message;
        assert!(e.contains("warmup_hours") && e.contains("≥ 0"), "{e}");
    }

    /// Keys apply in the struct's order whatever their order in the file: `rules` first, then a
    /// declared gate adds its rule.
    #[test]
    fn keys_apply_in_declared_order() {
        let text = "[[profile.camp.gates]]\ncode = \"E301\"\ncolumn = \"sales_30d\"\nop = \">=\"\nvalue = \"5\"\n";
        for order in [
            format!("[profile.camp]\nrules = [\"P101\"]\n{text}"),
            format!("{text}[profile.camp]\nrules = [\"P101\"]\n"),
        ] {
            let s = parse(&order, "c.toml").unwrap();
            let camp = s.profile("camp").unwrap();
            assert!(camp.runs("P101") && camp.runs("E301"), "{order}");
            assert_eq!(camp.gate("E301").unwrap().describe(), "sales_30d >= 5");
        }
    }
}
