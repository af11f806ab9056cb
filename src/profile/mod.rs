//! Profiles (SPEC §6): a campaign's price basis, windows, exclusions, factors, thresholds and the
//! rules it runs. The built-in ones come from the seeds; a TOML config file (`--config`) overrides
//! any setting and adds profiles (see [`config`]).

pub mod config;

use crate::findings::Severity;
use crate::money::Dec;
use crate::rules::code::*;
pub use crate::rules::gate::{Gate, Op};
use std::collections::BTreeMap;

/// Channels excluded everywhere (SPEC §4.1 "Everywhere", seed 003 FAQ): member/fan-exclusive and
/// bundle extra discounts are never a reference price.
pub const ALWAYS_EXCLUDED: [&str; 2] = ["member_price", "bundle_price"];

/// Channel names SPEC §2 knows; any other is reported as unknown and counts like `regular`.
pub const KNOWN_CHANNELS: [&str; 14] = [
    "regular",
    "private_adjust",
    "huopin",
    "daily_activity",
    "flash_deal",
    "trial",
    "coins",
    "presale",
    "ru_group",
    "promo_aug",
    "promo_nov",
    "winter_clearance",
    "member_price",
    "bundle_price",
];

/// Which `prices.kind` rows count for the N-day lowest (SPEC §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    Txn,
    List,
    Both,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Txn => "txn",
            Basis::List => "list",
            Basis::Both => "both",
        }
    }
    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "txn" => Some(Basis::Txn),
            "list" => Some(Basis::List),
            "both" => Some(Basis::Both),
            _ => None,
        }
    }
    pub fn txn(self) -> bool {
        matches!(self, Basis::Txn | Basis::Both)
    }
    pub fn list(self) -> bool {
        matches!(self, Basis::List | Basis::Both)
    }
}

/// The regulatory baseline of P109 (SPEC §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// EU Omnibus: lowest price in force (both kinds) in `[promo_start − days, promo_start)`.
    EuOmnibus,
    /// China SAMR: lowest transaction in `[promo_start − days, promo_start)`, else the last one.
    CnSamr,
}

impl Baseline {
    pub fn as_str(self) -> &'static str {
        match self {
            Baseline::EuOmnibus => "eu-omnibus",
            Baseline::CnSamr => "cn-samr",
        }
    }
    pub fn parse(s: &str) -> Option<Baseline> {
        match s {
            "eu-omnibus" => Some(Baseline::EuOmnibus),
            "cn-samr" => Some(Baseline::CnSamr),
            _ => None,
        }
    }
}

/// Every setting of one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// The rules this profile runs, with their severity.
    pub rules: BTreeMap<String, Severity>,
    /// Price basis of the N-day lowest (P101/P102).
    pub basis: Basis,
    /// Window of `lowest_30d` in days (P101).
    pub lowest_30d_days: i64,
    /// P101 fails when `promo_price > lowest_30d × lowest_factor` (SPEC §10.1; default 1).
    pub lowest_factor: Dec,
    /// Window of `lowest_180d` in days (P102).
    pub lowest_180d_days: i64,
    /// Channels excluded from the N-day lowest, besides [`ALWAYS_EXCLUDED`].
    pub excluded_channels: Vec<String>,
    /// P103: the promo price must be below `list × list_factor` …
    pub list_factor: Dec,
    /// … strictly (`true`: fails at `≥`, huopin) or not (`false`: fails at `>`, yanxuan).
    pub list_strict: bool,
    /// P104: below `retail × retail_factor`, strict as above.
    pub retail_factor: Dec,
    pub retail_strict: bool,
    /// P102: `lowest_180d × (1 − discount)` per category; categories not listed use 0.
    pub category_discount: BTreeMap<String, Dec>,
    /// P106: warm-up length before `promo_start` when the registration gives no `warmup_start`.
    pub warmup_hours: i64,
    /// S201: minimum hours between registration and promo start.
    pub min_lead_hours: i64,
    /// S202: registrations of one offer in the same group must not overlap.
    pub conflict_group: Option<String>,
    /// P107: this activity is a big promo (AliExpress platform/store activity) whose price
    /// overrides other activities of the same SKU.
    pub big_promo: bool,
    /// Thresholds of the eligibility rules that are not gates (E306, E308 sums; E309), by code.
    pub eligibility: BTreeMap<String, Dec>,
    /// The gates this profile runs, as data (SPEC §5.3 E301–E305, E307): code, column,
    /// comparison, value. Their codes are in `rules` too.
    pub gates: Vec<Gate>,
    /// C401 absolute terms.
    pub title_terms: Vec<String>,
    /// P109 baseline and its window in days.
    pub baseline: Option<Baseline>,
    pub baseline_days: i64,
    /// The price grid of the highest compliant promo price.
    pub price_tick: Dec,
}

/// Absolute terms of seed 002 备注 6 and SPEC §5.4 (simplified and traditional forms), the usual
/// 广告法 §9(3) absolute terms, and English equivalents (matched as whole words).
pub const DEFAULT_TITLE_TERMS: [&str; 37] = [
    "最大",
    "最好",
    "全球第一",
    "最低价",
    "第一",
    "最便宜",
    "顶级",
    "极品",
    "国家级",
    "最低價",
    "頂級",
    "極品",
    "國家級",
    "最佳",
    "最优",
    "最高级",
    "最先进",
    "首个",
    "首选",
    "唯一",
    "独一无二",
    "顶尖",
    "世界级",
    "全网最低",
    "史无前例",
    "绝无仅有",
    "万能",
    "销量冠军",
    "best",
    "cheapest",
    "lowest price",
    "No.1",
    "number one",
    "world's first",
    "top-grade",
    "best-selling",
    "world-class",
];

fn d(s: &str) -> Dec {
    Dec::parse(s).expect("built-in decimal")
}

/// A built-in profile's rules at their default severity. A code that is not in the registry is
/// a bug of the built-in data: every run (and the tests) stop at it.
fn rules(codes: &[&str]) -> BTreeMap<String, Severity> {
    codes
        .iter()
        .map(|c| {
            let rule = crate::rules::by_code(c).unwrap_or_else(|| panic!("built-in profile names unknown rule {c}"));
            (c.to_string(), rule.severity)
        })
        .collect()
}

/// A built-in gate: its rule's code, the `registrations` column, the comparison and the value.
fn gate(code: &str, column: &str, op: Op, value: &str) -> Gate {
    Gate { code: code.into(), column: column.into(), op, value: d(value) }
}

fn base(name: &str, description: &str, codes: &[&str]) -> Profile {
    Profile {
        name: name.into(),
        description: description.into(),
        rules: rules(codes),
        basis: Basis::Txn,
        lowest_30d_days: 30,
        lowest_factor: d("1"),
        lowest_180d_days: 180,
        excluded_channels: vec![],
        list_factor: d("0.9"),
        list_strict: true,
        retail_factor: d("0.8"),
        retail_strict: true,
        category_discount: BTreeMap::new(),
        warmup_hours: 72,
        min_lead_hours: 72,
        conflict_group: None,
        big_promo: false,
        eligibility: BTreeMap::new(),
        gates: vec![],
        title_terms: DEFAULT_TITLE_TERMS.iter().map(|s| s.to_string()).collect(),
        baseline: None,
        baseline_days: 30,
        price_tick: d("0.01"),
    }
}

const AE_EXCLUDED: [&str; 8] =
    ["ru_group", "flash_deal", "trial", "coins", "presale", "promo_nov", "promo_aug", "winter_clearance"];

/// The built-in profiles of SPEC §6 and §9.
pub fn builtins() -> Vec<Profile> {
    let mut huopin = base(
        "huopin",
        "1688 伙拼 group-buy (seed 000, 004): 30-day lowest transaction, list × 0.9, retail × 0.8, 72 h warm-up and lead time",
        &[P101, P103, P104, P106, P108, S201, S202, E301, E302, E303, E304, E305, E306, E307, E308, C401],
    );
    huopin.excluded_channels = vec!["huopin".into()];
    huopin.conflict_group = Some("huopin".into());
    // seed 000 招品门槛 1–5: the gates, and the offer-level sums
    huopin.gates = vec![
        gate(E301, "sales_30d", Op::Ge, "1000"),
        gate(E302, "buyers_30d", Op::Ge, "30"),
        gate(E303, "conversion_30d", Op::Ge, "0.05"),
        gate(E304, "moq", Op::Le, "5"),
        gate(E305, "sku_supply", Op::Ge, "100"),
        gate(E307, "sku_market_stock", Op::Ge, "300"),
    ];
    huopin.eligibility = [(E306, "1000"), (E308, "3000")].iter().map(|(k, v)| (k.to_string(), d(v))).collect();

    // SPEC §10.1: 伙拼折上折 (seed 000): the general thresholds, E305 ≥ 500 per SKU, E306 ≥ 1000
    // per offer, and E309 supply value ≥ 1000. (P114, its first hour at half price, comes with
    // the rest of §10.)
    let mut huopin_double = huopin.clone();
    huopin_double.name = "huopin-double".into();
    huopin_double.description =
        "1688 伙拼折上折 (seed 000): as huopin, with sku_supply ≥ 500 and a supply value sku_supply × promo ≥ 1000"
            .into();
    huopin_double.rules.insert(E309.into(), crate::rules::by_code(E309).expect("E309 is in the registry").severity);
    huopin_double.set_gate(gate(E305, "sku_supply", Op::Ge, "500"));
    huopin_double.eligibility.insert(E309.into(), d("1000"));

    let mut yanxuan = base(
        "yanxuan",
        "1688 严选 campaign (seed 002): list × 0.95 (fails above), moq ≤ 2, no absolute claims",
        &[P103, P108, E304, C401],
    );
    yanxuan.list_factor = d("0.95");
    yanxuan.list_strict = false;
    // seed 002 三.1: 起批量 ≤ 2
    yanxuan.gates = vec![gate(E304, "moq", Op::Le, "2")];

    let mut ae_platform = base(
        "ae-platform",
        "AliExpress platform big promo (seed 003): 180-day lowest listed price with exclusions, 216 h warm-up",
        &[P102, P106, P107, P108],
    );
    ae_platform.basis = Basis::List;
    ae_platform.excluded_channels = AE_EXCLUDED.iter().map(|s| s.to_string()).collect();
    ae_platform.warmup_hours = 216;
    ae_platform.big_promo = true;

    let mut ae_store = ae_platform.clone();
    ae_store.name = "ae-store".into();
    ae_store.description =
        "AliExpress store activity in a big promo (seed 003): 30-day lowest listed price with exclusions, 216 h warm-up".into();
    ae_store.rules = rules(&[P101, P106, P107, P108]);

    let mut eu = base(
        "eu-omnibus",
        "EU Directive 2019/2161 Art. 6a: the displayed reference price may not exceed the lowest price of the 30 days before the reduction",
        &[P109, P108],
    );
    eu.baseline = Some(Baseline::EuOmnibus);
    eu.baseline_days = 30;

    let mut cn = base(
        "cn-samr",
        "SAMR 规范促销行为暂行规定 (2020): the reference price may not exceed the lowest transaction of the 7 days before the promotion",
        &[P109, P108],
    );
    cn.baseline = Some(Baseline::CnSamr);
    cn.baseline_days = 7;

    vec![huopin, yanxuan, ae_platform, ae_store, eu, cn, huopin_double]
}

impl Profile {
    pub fn runs(&self, code: &str) -> bool {
        self.rules.contains_key(code)
    }

    /// The profile's gate of rule `code`.
    pub fn gate(&self, code: &str) -> Option<&Gate> {
        self.gates.iter().find(|g| g.code == code)
    }

    /// Add gate `g`, or replace the one of its code.
    pub fn set_gate(&mut self, g: Gate) {
        match self.gates.iter_mut().find(|x| x.code == g.code) {
            Some(x) => *x = g,
            None => self.gates.push(g),
        }
    }

    pub fn severity(&self, code: &str) -> Severity {
        self.rules.get(code).copied().unwrap_or(Severity::Error)
    }

    /// Is `channel` excluded from this profile's N-day lowest?
    pub fn excludes(&self, channel: &str) -> bool {
        ALWAYS_EXCLUDED.contains(&channel) || self.excluded_channels.iter().any(|c| c == channel)
    }

    /// The P102 discount for a category (0 when none is configured).
    pub fn discount_for(&self, category: &str) -> Dec {
        self.category_discount.get(category).copied().unwrap_or(Dec::ZERO)
    }
}

/// The channel names the loader codes as small integers (the `ch` column): SPEC's and every
/// profile's excluded ones, in a stable order. Other names are coded as they are met.
pub fn channel_names(settings: &Settings) -> Vec<String> {
    let mut names: Vec<String> = KNOWN_CHANNELS.iter().map(|c| c.to_string()).collect();
    for p in &settings.profiles {
        for c in &p.excluded_channels {
            if !names.contains(c) {
                names.push(c.clone());
            }
        }
    }
    names
}

/// Settings of a run that are not per profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Zone of naive timestamps (SPEC §3).
    pub timezone: String,
    /// P105: the highest tier may be at most this many times the lowest.
    pub ladder_spread_limit: Dec,
    pub profiles: Vec<Profile>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { timezone: crate::time::DEFAULT_ZONE.into(), ladder_spread_limit: d("10"), profiles: builtins() }
    }
}

impl Settings {
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
    pub fn profile_index(&self, name: &str) -> Option<usize> {
        self.profiles.iter().position(|p| p.name == name)
    }
}
