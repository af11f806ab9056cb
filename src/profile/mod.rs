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
    pub title_terms: crate::rules::TitleTerms,
    /// P109 baseline and its window in days.
    pub baseline: Option<Baseline>,
    pub baseline_days: i64,
    /// The price grid of the highest compliant promo price.
    pub price_tick: Dec,
    /// SPEC §10: a member of the huopin family (`huopin`, its entry channels, and any profile
    /// extending one of them: the flag is inherited with the rest).
    pub huopin_family: bool,
    /// P110's lock: `None` = `[registered_at, promo_end]` (the huopin family); `Some(h)` =
    /// `[promo_start − h, promo_start − warmup_hours)` (ae-store, 312).
    pub lock_hours: Option<i64>,
    /// S203/S204: the fatigue period in days (3) and S204's distinct offers per period (2).
    pub fatigue_days: i64,
    pub fatigue_offers: i64,
    /// S207: the registration window (no built-in sets one; a config does).
    pub registration_opens: Option<ConfigInstant>,
    pub registration_closes: Option<ConfigInstant>,
    /// S208: at most this many distinct offers per merchant (no built-in sets it).
    pub max_offers_per_merchant: Option<i64>,
    /// K501: hours after promo_start by which a sale is due (4); K503: the turnover window in
    /// hours (12) and the turnover it must reach (10000).
    pub no_sales_hours: i64,
    pub turnover_hours: i64,
    pub turnover_min: Dec,
}

/// An instant a config gives (S207's window), as written and as resolved in the run's zone (a
/// naive one is local to the run's zone, SPEC §3: `Settings::resolve_instants` resolves it once
/// the zone is final).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigInstant {
    pub text: String,
    pub at: i64,
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

/// A built-in gate of SPEC §5.3: its rule's code, the `registrations` metric, the comparison and
/// the value. (SPEC §11's merchant gates are declared in `rules::merchant_gates`.)
fn gate(code: &str, column: &str, op: Op, value: &str) -> Gate {
    Gate::one(code, crate::rules::gate::Cmp::metric(column, op, d(value)))
}

/// Give gate `code` of `p` an entry channel's own threshold (SPEC §10.1).
fn own(p: &mut Profile, code: &str, value: &str) {
    let g = p.gates.iter_mut().find(|g| g.code == code).and_then(Gate::single);
    g.unwrap_or_else(|| panic!("{} has no single gate {code}", p.name)).own = Some(d(value));
}

/// Add rule `code` at its default severity.
fn add_rule(p: &mut Profile, code: &str) {
    let rule = crate::rules::by_code(code).unwrap_or_else(|| panic!("built-in profile names unknown rule {code}"));
    p.rules.insert(code.to_string(), rule.severity);
}

/// A built-in profile derived from another as that one stands *after* the config (SPEC §10: a
/// `huopin-*` profile extends `huopin`, and a config change to `huopin` carries down unless the
/// child sets the key itself). `derive` sets the child's own keys on a copy of the parent.
pub struct Derived {
    pub name: &'static str,
    pub parent: &'static str,
    pub description: &'static str,
    pub derive: fn(&mut Profile),
}

/// The five 伙拼 entry channels of seed 000 (SPEC §10.1): huopin's rules and thresholds, each
/// metric meeting the stricter of the general threshold and the channel's own.
pub fn derived() -> Vec<Derived> {
    vec![
        Derived {
            name: "huopin-quality",
            parent: "huopin",
            description: "1688 伙拼品质货 entry channel (seed 000): as huopin; own thresholds sales_30d ≥ 100 (过百), conversion ≥ 0.03",
            derive: |p| {
                own(p, E301, "100");
                own(p, E303, "0.03");
            },
        },
        Derived {
            name: "huopin-hot",
            parent: "huopin",
            description: "1688 伙爆榜 entry channel (seed 000): as huopin; own thresholds sales_30d ≥ 10000 (过万), buyers ≥ 100 (过百), conversion ≥ 0.06",
            derive: |p| {
                own(p, E301, "10000");
                own(p, E302, "100");
                own(p, E303, "0.06");
            },
        },
        Derived {
            name: "huopin-single",
            parent: "huopin",
            description: "1688 伙拼单品团 entry channel (seed 000): as huopin; own thresholds sales_30d ≥ 1000 (过千), conversion ≥ 0.04",
            derive: |p| {
                own(p, E301, "1000");
                own(p, E303, "0.04");
            },
        },
        Derived {
            name: "huopin-weekend",
            parent: "huopin",
            description: "1688 伙拼周末团 entry channel (seed 000): as huopin, and the merchant's 伙拼 tier at least silver (M709)",
            derive: |_| {},
        },
        Derived {
            name: "huopin-double",
            parent: "huopin",
            description: "1688 伙拼折上折 entry channel (seed 000): as huopin; own thresholds sales_30d ≥ 100, buyers ≥ 3, sku_supply ≥ 500; supply value sku_supply × promo ≥ 1000 (E309)",
            derive: |p| {
                own(p, E301, "100");
                own(p, E302, "3");
                own(p, E305, "500");
                add_rule(p, E309);
                add_rule(p, P114);
                p.eligibility.insert(E309.into(), d("1000"));
            },
        },
    ]
}

impl Derived {
    /// The child of `parent` (the parent as it stands, config included).
    pub fn from(&self, parent: &Profile) -> Profile {
        let mut p = parent.clone();
        p.name = self.name.into();
        p.description = self.description.into();
        (self.derive)(&mut p);
        crate::rules::merchant_gates::attach(&mut p);
        p
    }
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
        title_terms: crate::rules::TitleTerms::new(DEFAULT_TITLE_TERMS.iter().map(|s| s.to_string()).collect()),
        baseline: None,
        baseline_days: 30,
        price_tick: d("0.01"),
        huopin_family: false,
        lock_hours: None,
        fatigue_days: 3,
        fatigue_offers: 2,
        registration_opens: None,
        registration_closes: None,
        max_offers_per_merchant: None,
        no_sales_hours: 4,
        turnover_hours: 12,
        turnover_min: d("10000"),
    }
}

const AE_EXCLUDED: [&str; 8] =
    ["ru_group", "flash_deal", "trial", "coins", "presale", "promo_nov", "promo_aug", "winter_clearance"];

/// The built-in profiles of SPEC §6 and §9.
pub fn builtins() -> Vec<Profile> {
    let mut huopin = base(
        "huopin",
        "1688 伙拼 group-buy (seed 000, 004): 30-day lowest transaction, list × 0.9, retail × 0.8, 72 h warm-up and lead time",
        &[
            P101, P103, P104, P106, P108, P110, P111, P112, P113, S201, S202, S203, S204, S205, S206, E301, E302, E303,
            E304, E305, E306, E307, E308, K501, K502, K503, C401, D601, D602,
        ],
    );
    huopin.excluded_channels = vec!["huopin".into()];
    huopin.conflict_group = Some("huopin".into());
    huopin.huopin_family = true;
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

    let mut yanxuan = base(
        "yanxuan",
        "1688 严选 campaign (seed 002): list × 0.95 (fails above), moq ≤ 2, no absolute claims",
        &[P103, P108, E304, E310, E311, C401],
    );
    yanxuan.list_factor = d("0.95");
    yanxuan.list_strict = false;
    // seed 002 三.1: 起批量 ≤ 2
    yanxuan.gates = vec![gate(E304, "moq", Op::Le, "2")];
    // seed 002 二.3(1)–(2), SPEC §11: 48 h pickup rate ≥ 90%, growth score ≥ 60
    yanxuan.gates.push(gate(E310, "pickup_48h_rate", Op::Ge, "0.9"));
    yanxuan.gates.push(gate(E311, "growth_score", Op::Ge, "60"));

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
    ae_store.rules = rules(&[P101, P106, P107, P108, P110]);
    // SPEC §10.2: store discounts locked 3/15 00:00 – 3/18 23:59:59 for the 3/28 promo (seed 003)
    ae_store.lock_hours = Some(312);

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

    // SPEC §10.1: seed 001 清仓, "在8.5折以下" (以下 includes the number): fails above list × 0.85
    let mut clearance = base(
        "clearance",
        "1688 清仓 clearance (seed 001): promo at most list × 0.85 (fails above), no absolute claims",
        &[P103, P108, C401],
    );
    clearance.list_factor = d("0.85");
    clearance.list_strict = false;

    // SPEC §11: seed 001's 诚信通 activities run their merchant gates and C401 only
    let cxt_daily =
        base("cxt-daily", "1688 诚信通 日常活动 (seed 001): merchant gates M721–M728, no absolute claims", &[C401]);
    let cxt_huopin =
        base("cxt-huopin", "1688 诚信通 火拼专场 (seed 001): merchant gates M731–M740, no absolute claims", &[C401]);

    let mut roots = vec![huopin, yanxuan, ae_platform, ae_store, eu, cn, clearance, cxt_daily, cxt_huopin];
    for p in &mut roots {
        crate::rules::merchant_gates::attach(p);
    }
    let mut all = roots.clone();
    for child in derived() {
        let parent = roots.iter().find(|p| p.name == child.parent).expect("a derived profile's parent is built in");
        all.push(child.from(parent));
    }
    all
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
    /// Resolve the config's instants (S207's window) in the run's zone, once it is final (after
    /// the config's `timezone` and `--tz`).
    pub fn resolve_instants(&mut self) -> Result<(), String> {
        let tz = crate::time::zone(&self.timezone)?;
        for p in &mut self.profiles {
            for (key, slot) in
                [("registration_opens", &mut p.registration_opens), ("registration_closes", &mut p.registration_closes)]
            {
                if let Some(ci) = slot {
                    ci.at = crate::time::parse_instant(&ci.text, &tz).map_err(|e| {
                        format!(
                            "profile.{}.{key}: {:?} is not an instant in {} ({e:?})",
                            p.name, ci.text, self.timezone
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }
    pub fn profile_index(&self, name: &str) -> Option<usize> {
        self.profiles.iter().position(|p| p.name == name)
    }
}
