//! Gates: a rule that is one comparison of one column against a value (SPEC §5.3's E301–E305 and
//! E307; §11's merchant and product gates build on it) is data, not a file of code each. The
//! registry holds a gate rule's metadata (code, name, severity, documentation with its seed); each
//! profile carries its gates as data (`Profile::gates`: code, column, comparison, value), built in
//! from the seeds and replaceable or added from TOML (`[[profile.NAME.gates]]`, or
//! `eligibility.CODE = value` for the value alone). One generic check below serves them all.

use super::eligibility::metric_not_checked;
use super::gate_value::GateValue;
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

/// The table a gate reads: the registration's own row, or its merchant's row of `merchants`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateTable {
    Registrations,
    Merchants,
}

impl GateTable {
    pub fn parse(s: &str) -> Option<GateTable> {
        match s {
            "registrations" => Some(GateTable::Registrations),
            "merchants" => Some(GateTable::Merchants),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GateTable::Registrations => "registrations",
            GateTable::Merchants => "merchants",
        }
    }
}

/// One comparison of a gate: `table.column op value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmp {
    pub table: GateTable,
    pub column: String,
    pub op: Op,
    pub value: GateValue,
    /// The value as the profile writes it (a finding's threshold shows it).
    pub text: String,
    /// An entry channel's own threshold of a decimal gate (SPEC §10.1), met as well: the column
    /// must meet the stricter of the two. Kept apart so that a config can relax the general one.
    pub own: Option<Dec>,
}

impl Cmp {
    /// A comparison from its parts; the value is read as SPEC §11 says (`Err`: why it cannot be).
    /// A `registrations` column holds a decimal metric: its gates compare decimals.
    pub fn new(table: GateTable, column: &str, op: Op, text: &str) -> Result<Cmp, String> {
        let value = GateValue::parse(op, text)?;
        if table == GateTable::Registrations && !matches!(value, GateValue::Decimal(_) | GateValue::List(_)) {
            return Err(format!("registrations.{column} is a decimal metric: {text:?} is no decimal"));
        }
        let text = match &value {
            GateValue::List(items) => items.join(", "),
            _ => text.trim().to_string(),
        };
        Ok(Cmp { table, column: column.into(), op, value, text, own: None })
    }

    /// A decimal comparison of a `registrations` metric (SPEC §5.3's gates).
    pub fn metric(column: &str, op: Op, value: Dec) -> Cmp {
        Cmp {
            table: GateTable::Registrations,
            column: column.into(),
            op,
            value: GateValue::Decimal(value),
            text: value.to_string(),
            own: None,
        }
    }

    /// Set a decimal gate's general value (`eligibility.CODE = value`).
    pub fn set_decimal(&mut self, value: Dec) {
        self.value = GateValue::Decimal(value);
        self.text = value.to_string();
    }

    /// The decimal the column must meet: the stricter of the general and the own threshold.
    pub fn threshold(&self) -> Option<Dec> {
        let GateValue::Decimal(v) = self.value else { return None };
        Some(match (self.own, self.op) {
            (Some(o), Op::Ge | Op::Gt) => o.max(v),
            (Some(o), Op::Le | Op::Lt) => o.min(v),
            _ => v,
        })
    }

    /// The value the column must meet, as text: as written, or with an own threshold the
    /// stricter decimal.
    fn required_text(&self) -> String {
        match (self.own, self.threshold()) {
            (Some(_), Some(t)) => t.to_string(),
            _ => self.text.clone(),
        }
    }

    /// `op value`, as a finding's threshold shows a merchant gate (`>= 2A`).
    pub fn op_text(&self) -> String {
        format!("{} {}", self.op.as_str(), self.required_text())
    }

    /// The column as named in text: a metric bare (`sales_30d`), a merchants column with its
    /// table (`merchants.medal`).
    pub fn name(&self) -> String {
        match self.table {
            GateTable::Registrations => self.column.clone(),
            GateTable::Merchants => format!("merchants.{}", self.column),
        }
    }

    fn describe(&self) -> String {
        let base = format!("{} {}", self.name(), self.op_text());
        match (self.own, &self.value) {
            (Some(o), GateValue::Decimal(v)) => format!("{base} (general {v}, own {o})"),
            _ => base,
        }
    }

    /// What the registration's row (or its merchant's) holds for this comparison.
    fn seen<'a>(&self, cx: &Ctx<'a>, facts: &'a Facts) -> Seen<'a> {
        match self.table {
            GateTable::Registrations => {
                let Some(v) = cx.reg.metric(&self.column) else {
                    let why = metric_not_checked(cx, facts, &self.column, None)
                        .unwrap_or_else(|| Unchecked::new(Missing::Column, "no value"));
                    return Seen::Skip(why);
                };
                let holds = match self.threshold() {
                    Some(t) => self.op.holds(v, t),
                    None => self.value.holds(self.op, &v.to_string()).unwrap_or(false),
                };
                if holds {
                    Seen::Pass(Read::Dec(v))
                } else {
                    Seen::Fail(Read::Dec(v))
                }
            }
            GateTable::Merchants => {
                use crate::facts::MerchantValue as V;
                let c = &self.column;
                let skip = |m: Missing, r: String| Seen::Skip(Unchecked::new(m, r));
                match crate::facts::Merchants::value_of(facts.merchants.as_ref(), cx.reg, c) {
                    V::NoTable => skip(Missing::Table, "no merchants table in the dump".into()),
                    V::NoMerchant if cx.reg.merchant_id.is_empty() => skip(Missing::Column, "no merchant_id".into()),
                    V::NoMerchant => Seen::Skip(
                        Unchecked::new(Missing::Data, "the registration's merchant is not in merchants")
                            .example(&cx.reg.merchant_id),
                    ),
                    V::NoColumn => skip(Missing::Column, format!("column {c} is not in merchants")),
                    V::Empty => skip(Missing::Column, format!("no {c} value (empty)")),
                    V::Value(v) => match self.value.holds(self.op, v) {
                        Some(true) => Seen::Pass(Read::Text(v)),
                        Some(false) => Seen::Fail(Read::Text(v)),
                        None => Seen::Skip(
                            Unchecked::new(
                                Missing::Column,
                                format!("{c} value cannot be compared with {}", self.value.kind()),
                            )
                            .example(v),
                        ),
                    },
                }
            }
        }
    }
}

/// A comparison's outcome on one registration.
enum Seen<'a> {
    /// Compared and true: the value read.
    Pass(Read<'a>),
    /// Compared and false: the value read.
    Fail(Read<'a>),
    Skip(Unchecked),
}

/// A value a comparison read, written out (as in the data) only where a finding or `explain`
/// shows it: a gate passes on most registrations, and formats nothing then.
#[derive(Clone, Copy)]
enum Read<'a> {
    /// A registration's metric (a decimal; written as it is normalised in `registrations.csv`).
    Dec(Dec),
    /// A merchant's value as written (trimmed).
    Text(&'a str),
}

impl std::fmt::Display for Read<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Read::Dec(d) => d.fmt(f),
            Read::Text(t) => f.write_str(t),
        }
    }
}

/// A gate as a profile carries it: the code of its rule and its comparison, or `any_of` several
/// (SPEC §11: passes when a member passes, fails when every member was compared and failed).
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub code: String,
    /// One comparison, or the members of `any_of`.
    pub members: Vec<Cmp>,
    pub any_of: bool,
}

impl Gate {
    pub fn one(code: &str, cmp: Cmp) -> Gate {
        Gate { code: code.into(), members: vec![cmp], any_of: false }
    }

    /// The gate as text: `sales_30d >= 1000`, `merchants.medal >= 2A`, with an own threshold
    /// `sales_30d >= 10000 (general 1000, own 10000)`, `any_of` members joined by ` | `.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.members.iter().map(Cmp::describe).collect();
        let joined = parts.join(" | ");
        if self.any_of {
            format!("any_of: {joined}")
        } else {
            joined
        }
    }

    /// The single comparison of a gate that is not `any_of`.
    pub fn single(&mut self) -> Option<&mut Cmp> {
        if self.any_of {
            None
        } else {
            self.members.first_mut()
        }
    }

    /// A finding's threshold (SPEC §11): the op, one space, the value as written (`>= 2A`;
    /// `any_of` members joined by ` | `); gates of E rules give the bare value, like E301.
    fn threshold_text(&self) -> String {
        if self.code.starts_with('E') {
            let v: Vec<String> = self.members.iter().map(Cmp::required_text).collect();
            return v.join(" | ");
        }
        let v: Vec<String> = self.members.iter().map(Cmp::op_text).collect();
        v.join(" | ")
    }

    /// Every member's outcome.
    fn seen<'a>(&self, cx: &Ctx<'a>, facts: &'a Facts) -> Vec<Seen<'a>> {
        self.members.iter().map(|m| m.seen(cx, facts)).collect()
    }

    /// The gate's outcome: a finding's observed value, `Ok(None)` when it passes, `Err` (the first
    /// member's reason) when it cannot be checked. (Asked of every registration once by the rules'
    /// evaluation, [`GateJudge`], for both: a passing member ends it, and nothing is written out
    /// unless it fails.)
    fn outcome(&self, cx: &Ctx, facts: &Facts) -> Outcome {
        let mut skip = None;
        for m in &self.members {
            match m.seen(cx, facts) {
                Seen::Pass(_) => return Ok(None),
                Seen::Skip(why) => {
                    skip.get_or_insert(why);
                }
                Seen::Fail(_) => {}
            }
        }
        if let Some(why) = skip {
            return Err(why);
        }
        let observed: Vec<String> = self
            .seen(cx, facts)
            .iter()
            .filter_map(|s| if let Seen::Fail(v) = s { Some(v.to_string()) } else { None })
            .collect();
        Ok(Some(observed.join(" | ")))
    }
}

/// A gate rule's registry entry: metadata only; its column, comparison and value are data of the
/// profiles that run it.
pub const fn gate(code: &'static str, name: &'static str, doc: &'static str) -> Rule {
    Rule {
        code,
        name,
        severity: Severity::Error,
        source: "",
        doc,
        check: Check::Gate,
        explain: Some(explain),
        not_checked: Some(not_checked),
        ..DEFAULTS
    }
}

/// The one implementation of every gate: the registration's value (or its merchant's) against the
/// gate's. No value, or one that cannot be compared: not checked (the summary says why).
pub fn check(cx: &Ctx) -> Vec<Finding> {
    let Some(g) = cx.profile.gate(cx.rule.code) else { return vec![] };
    let Ok(Some(observed)) = g.outcome(cx, cx.dump) else { return vec![] };
    finding(cx, g, observed)
}

/// A gate rule as the rules' evaluation runs it over every registration ([`super::evaluate`]):
/// each profile's gate looked up once, and a gate that reads only the merchants table compared
/// once per merchant row (its outcome is the row's: the many registrations of one merchant share
/// it), the first registration of each row computing it.
pub struct GateJudge<'a> {
    /// Each profile's gate of the rule.
    gates: Vec<Option<&'a Gate>>,
    /// Per profile, per merchants row: the outcome once computed (empty: not memoized, the gate
    /// reads the registration's own columns, or there is no merchants table).
    memo: Vec<Vec<Option<Outcome>>>,
}

/// A gate's outcome on a registration ([`Gate::outcome`]).
type Outcome = Result<Option<String>, Unchecked>;

impl<'a> GateJudge<'a> {
    pub fn new(rule: &Rule, settings: &'a Settings, facts: &Facts) -> GateJudge<'a> {
        let gates: Vec<Option<&Gate>> = settings.profiles.iter().map(|p| p.gate(rule.code)).collect();
        let rows = facts.merchants.as_ref().map_or(0, crate::facts::Merchants::len);
        let memo = gates
            .iter()
            .map(|g| match g {
                Some(g) if rows > 0 && g.members.iter().all(|m| m.table == GateTable::Merchants) => vec![None; rows],
                _ => Vec::new(),
            })
            .collect();
        GateJudge { gates, memo }
    }

    /// The gate on the registration of `cx`: its finding into `out`, or why it could not be
    /// checked counted into `counts` ([`check`] and [`not_checked`], from one comparison).
    pub fn judge(&mut self, cx: &Ctx, out: &mut crate::findings::Gathered, counts: &mut super::UncheckedCounts) {
        let Some(g) = self.gates[cx.reg.profile] else { return };
        let memo = &mut self.memo[cx.reg.profile];
        let row = crate::facts::Merchants::row_index_of(cx.dump.merchants.as_ref(), cx.reg);
        let fresh;
        let outcome = match row.and_then(|r| memo.get_mut(r as usize)) {
            Some(slot) => &*slot.get_or_insert_with(|| g.outcome(cx, cx.dump)),
            None => {
                fresh = g.outcome(cx, cx.dump);
                &fresh
            }
        };
        match outcome {
            Ok(Some(observed)) => out.extend(finding(cx, g, observed.clone())),
            Ok(None) => {}
            Err(why) => super::count_unchecked(counts, why, cx.reg.rn),
        }
    }
}

/// The finding of gate `g` failed with `observed`.
fn finding(cx: &Ctx, g: &Gate, observed: String) -> Vec<Finding> {
    // every member was compared and failed: each one's value
    let messages: Vec<String> = g
        .members
        .iter()
        .zip(&g.seen(cx, cx.dump))
        .filter_map(|(m, s)| match s {
            Seen::Fail(v) if m.op == Op::Eq => Some(format!("{} is {v}; {} required", m.name(), m.required_text())),
            Seen::Fail(v) => Some(format!("{} is {v}; {} {} required", m.name(), m.op.required(), m.required_text())),
            _ => None,
        })
        .collect();
    let msg =
        if g.any_of { format!("none of the alternatives holds: {}", messages.join("; ")) } else { messages.join("; ") };
    // a merchant gate's evidence: the merchant's row
    let evidence = g
        .members
        .iter()
        .any(|m| m.table == GateTable::Merchants)
        .then(|| crate::facts::Merchants::row_of(cx.dump.merchants.as_ref(), cx.reg))
        .flatten()
        .map(|row| Evidence { table: crate::findings::Table::Merchants, row, ts: None, price: None, channel: None });
    vec![cx.finding(observed, String::new(), g.threshold_text(), evidence, msg)]
}

fn not_checked(cx: &Ctx, facts: &Facts) -> Option<Unchecked> {
    cx.profile.gate(cx.rule.code)?.outcome(cx, facts).err()
}

/// `explain`: each comparison's value and verdict.
fn explain(cx: &Ctx, fired: &[&Finding]) -> Vec<Explained> {
    let Some(g) = cx.profile.gate(cx.rule.code) else { return vec![] };
    let verdict = match g.outcome(cx, cx.dump) {
        Err(_) => "not checked".to_string(),
        Ok(_) => verdict(fired),
    };
    let parts: Vec<String> = g
        .members
        .iter()
        .zip(&g.seen(cx, cx.dump))
        .map(|(m, s)| match s {
            Seen::Pass(v) => format!("{} = {v}: {} holds", m.name(), m.op_text()),
            Seen::Fail(v) => format!("{} = {v}: not {}", m.name(), m.op_text()),
            Seen::Skip(u) => match &u.example {
                Some(e) => format!("{} {}: {} ({e})", m.name(), m.op_text(), u.reason),
                None => format!("{} {}: {}", m.name(), m.op_text(), u.reason),
            },
        })
        .collect();
    let text = if g.any_of { format!("any of: {}", parts.join(" | ")) } else { parts.join("") };
    vec![(verdict, text)]
}

pub const E301: Rule = gate("E301", "low-sales-30d", "E301 low-sales-30d: too few sales in the last 30 days.\n\nWhat it checks: `sales_30d < 1000` fails (huopin).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 伙拼 admits only proven sellers, so that a group-buy reaches its volume.\n\nSeed: 000 招品门槛 1 (近30天销量 ≥ 1000).\n\nExample: sales_30d 999 → E301; 1000 passes.");

pub const E302: Rule = gate("E302", "few-buyers-30d", "E302 few-buyers-30d: too few buyers in the last 30 days.\n\nWhat it checks: `buyers_30d < 30` fails (huopin).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: many distinct buyers show real demand, not a few wholesale orders.\n\nSeed: 000 招品门槛 2 (近30天买家数 ≥ 30).\n\nExample: buyers_30d 29 → E302; 30 passes.");

pub const E303: Rule = gate("E303", "low-conversion-30d", "E303 low-conversion-30d: conversion rate too low in the last 30 days.\n\nWhat it checks: `conversion_30d < 0.05` fails (huopin), compared exactly.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: traffic given to a promotion must convert.\n\nSeed: 000 招品门槛 3 (转化率 ≥ 5%).\n\nExample: conversion_30d 0.0499 → E303; 0.05 passes.");

pub const E304: Rule = gate("E304", "moq-too-high", "E304 moq-too-high: the minimum order quantity is too high.\n\nWhat it checks: `moq > 5` fails (huopin); `moq > 2` fails (yanxuan).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: a group-buy or 严选 item must be buyable in small quantities.\n\nSeed: 000 招品门槛 4 (起批量 ≤ 5), 002 三.1 (起批量 ≤ 2).\n\nExample: huopin moq 6 → E304; 5 passes. yanxuan moq 3 → E304.");

pub const E305: Rule = gate("E305", "low-sku-supply", "E305 low-sku-supply: too little supply for the SKU.\n\nWhat it checks: `sku_supply < 100` fails (huopin), per SKU.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: a group-buy must be able to ship what it sells.\n\nSeed: 000 招品门槛 5(1) (单SKU供货量 ≥ 100).\n\nExample: sku_supply 99 → E305; 100 passes.");

pub const E310: Rule = gate("E310", "low-pickup-48h-rate", "E310 low-pickup-48h-rate: too few orders picked up within 48 hours.\n\nWhat it checks: `pickup_48h_rate < 0.9` fails (yanxuan), a rate as a fraction, compared exactly (SPEC §11).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 严选 promises fast dispatch; a product that ships late breaks it.\n\nSeed: 002 二.3(1) (48小时揽收率 ≥ 90%).\n\nExample: pickup_48h_rate 0.8999 → E310; 0.9 passes.");

pub const E311: Rule = gate("E311", "low-growth-score", "E311 low-growth-score: the product's growth score is too low.\n\nWhat it checks: `growth_score < 60` fails (yanxuan), compared exactly (SPEC §11).\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: 严选 admits products whose 成长分 shows a sound track record.\n\nSeed: 002 二.3(2) (商品成长分 ≥ 60).\n\nExample: growth_score 59.99 → E311; 60 passes.");

pub const E307: Rule = gate("E307", "low-sku-market-stock", "E307 low-sku-market-stock: too little market stock for the SKU.\n\nWhat it checks: `sku_market_stock < 300` fails (huopin), per SKU.\nA gate (declared as data, `src/rules/gate.rs`): checked only where the column is present and\nthe row has a value (a column absent from the dump: the rule is listed as not checked in the\nsummary). The column, comparison and value are the profile's (`priceaudit profiles`).\n\nWhy the platform cares: the stock shown to the market must cover the promotion.\n\nSeed: 000 招品门槛 5(2) (单SKU市场库存 ≥ 300).\n\nExample: sku_market_stock 299 → E307; 300 passes.");
