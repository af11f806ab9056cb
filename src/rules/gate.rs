//! Gates: a rule that is one comparison of one column against a value (SPEC §5.3's E301–E305 and
//! E307; §11's merchant and product gates build on it) is data, not a file of code each. The
//! registry holds a gate rule's metadata (code, name, severity, documentation with its seed); each
//! profile carries its gates as data (`Profile::gates`: code, column, comparison, value), built in
//! from the seeds and replaceable or added from TOML (`[[profile.NAME.gates]]`, or
//! `eligibility.CODE = value` for the value alone). One generic check below serves them all.

use super::eligibility::metric_not_checked;
use super::*;

/// A comparison of a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    /// SPEC §11: the value is one of a list (merchant gates; see [`super::gate_value`]).
    In,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            ">=" => Op::Ge,
            ">" => Op::Gt,
            "<=" => Op::Le,
            "<" => Op::Lt,
            "=" => Op::Eq,
            "in" => Op::In,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "=",
            Op::In => "in",
        }
    }

    /// Does `value op threshold` hold (exactly)?
    pub fn holds(self, value: Dec, threshold: Dec) -> bool {
        match self {
            Op::Ge => value >= threshold,
            Op::Gt => value > threshold,
            Op::Le => value <= threshold,
            Op::Lt => value < threshold,
            Op::Eq => value == threshold,
            // a list is no decimal threshold: `in` gates compare through `gate_value`
            Op::In => false,
        }
    }

    /// How a finding's message states what is required.
    fn required(self) -> &'static str {
        match self {
            Op::Ge => "at least",
            Op::Gt => "more than",
            Op::Le => "at most",
            Op::Lt => "less than",
            Op::Eq => "exactly",
            Op::In => "one of",
        }
    }
}

/// A gate as a profile carries it: the code of its rule, the `registrations` column it reads, the
/// comparison and the value the column must meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub code: String,
    pub column: String,
    pub op: Op,
    /// The general threshold (SPEC §5.3's, or a config's).
    pub value: Dec,
    /// An entry channel's own threshold (SPEC §10.1), met as well: the column must meet the
    /// stricter of the two. Kept apart so that a config can relax the general one.
    pub own: Option<Dec>,
}

impl Gate {
    /// The threshold the column must meet: the stricter of the general and the own one.
    pub fn threshold(&self) -> Dec {
        match (self.own, self.op) {
            (Some(o), Op::Ge | Op::Gt) => o.max(self.value),
            (Some(o), Op::Le | Op::Lt) => o.min(self.value),
            _ => self.value,
        }
    }

    /// The gate as text: `sales_30d >= 1000`, or with an own threshold `sales_30d >= 10000
    /// (general 1000, own 10000)`.
    pub fn describe(&self) -> String {
        let base = format!("{} {} {}", self.column, self.op.as_str(), self.threshold());
        match self.own {
            Some(o) => format!("{base} (general {}, own {o})", self.value),
            None => base,
        }
    }
}

/// A gate rule's registry entry: metadata only; its column, comparison and value are data of the
/// profiles that run it.
const fn gate(code: &'static str, name: &'static str, doc: &'static str) -> Rule {
    Rule {
        code,
        name,
        severity: Severity::Error,
        source: "",
        doc,
        check: Check::Gate,
        not_checked: Some(not_checked),
        ..DEFAULTS
    }
}

/// The one implementation of every gate: the registration's value of the gate's column against
/// the gate's value. No value: not checked (the summary says why).
pub fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(g) = cx.profile.gate(cx.rule.code) else { return vec![] };
    let Some(v) = cx.reg.metric(&g.column) else { return vec![] };
    let t = g.threshold();
    if g.op.holds(v, t) {
        return vec![];
    }
    let msg = format!("{} is {v}; {} {t} required", g.column, g.op.required());
    vec![cx.finding(v.to_string(), String::new(), t.to_string(), None, msg)]
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<(Missing, Cow<'static, str>)> {
    let g = cx.profile.gate(cx.rule.code)?;
    metric_not_checked(cx, facts, &g.column, None)
}

pub const E301: Rule = gate("E301", "low-sales-30d", "E301 low-sales-30d: too few sales in the last 30 days.\n\nWhat it checks: `sales_30d < 1000` fails (huopin).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 伙拼 admits only proven sellers, so that a group-buy reaches its volume.\n\nSeed: 000 招品门槛 1 (近30天销量 ≥ 1000).\n\nExample: sales_30d 999 → E301; 1000 passes.");

pub const E302: Rule = gate("E302", "few-buyers-30d", "E302 few-buyers-30d: too few buyers in the last 30 days.\n\nWhat it checks: `buyers_30d < 30` fails (huopin).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: many distinct buyers show real demand, not a few wholesale orders.\n\nSeed: 000 招品门槛 2 (近30天买家数 ≥ 30).\n\nExample: buyers_30d 29 → E302; 30 passes.");

pub const E303: Rule = gate("E303", "low-conversion-30d", "E303 low-conversion-30d: conversion rate too low in the last 30 days.\n\nWhat it checks: `conversion_30d < 0.05` fails (huopin), compared exactly.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: traffic given to a promotion must convert.\n\nSeed: 000 招品门槛 3 (转化率 ≥ 5%).\n\nExample: conversion_30d 0.0499 → E303; 0.05 passes.");

pub const E304: Rule = gate("E304", "moq-too-high", "E304 moq-too-high: the minimum order quantity is too high.\n\nWhat it checks: `moq > 5` fails (huopin); `moq > 2` fails (yanxuan).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: a group-buy or 严选 item must be buyable in small quantities.\n\nSeed: 000 招品门槛 4 (起批量 ≤ 5), 002 三.1 (起批量 ≤ 2).\n\nExample: huopin moq 6 → E304; 5 passes. yanxuan moq 3 → E304.");

pub const E305: Rule = gate("E305", "low-sku-supply", "E305 low-sku-supply: too little supply for the SKU.\n\nWhat it checks: `sku_supply < 100` fails (huopin), per SKU.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: a group-buy must be able to ship what it sells.\n\nSeed: 000 招品门槛 5(1) (单SKU供货量 ≥ 100).\n\nExample: sku_supply 99 → E305; 100 passes.");

pub const E310: Rule = gate("E310", "low-pickup-48h-rate", "E310 low-pickup-48h-rate: too few orders picked up within 48 hours.\n\nWhat it checks: `pickup_48h_rate < 0.9` fails (yanxuan), a rate as a fraction, compared exactly (SPEC §11).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 严选 promises fast dispatch; a product that ships late breaks it.\n\nSeed: 002 二.3(1) (48小时揽收率 ≥ 90%).\n\nExample: pickup_48h_rate 0.8999 → E310; 0.9 passes.");

pub const E311: Rule = gate("E311", "low-growth-score", "E311 low-growth-score: the product's growth score is too low.\n\nWhat it checks: `growth_score < 60` fails (yanxuan), compared exactly (SPEC §11).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 严选 admits products whose 成长分 shows a sound track record.\n\nSeed: 002 二.3(2) (商品成长分 ≥ 60).\n\nExample: growth_score 59.99 → E311; 60 passes.");

pub const E307: Rule = gate("E307", "low-sku-market-stock", "E307 low-sku-market-stock: too little market stock for the SKU.\n\nWhat it checks: `sku_market_stock < 300` fails (huopin), per SKU.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: the stock shown to the market must cover the promotion.\n\nSeed: 000 招品门槛 5(2) (单SKU市场库存 ≥ 300).\n\nExample: sku_market_stock 299 → E307; 300 passes.");
