//! SPEC §11's gate values, as the merchant and product gates compare them (issue 20): a gate's
//! value is read as a decimal first, then a level name, then a boolean (`1` is a decimal); `in`
//! takes a list. A data value (trimmed) is compared the gate value's way, or cannot be compared
//! (text where a decimal is needed, a level outside the gate's scale such as `AA级`): the gate is
//! then not checked, never failed.
//!
//! The building block of the merchant gates; the gates themselves come with the `merchants`
//! columns they read.

use super::gate::Op;
use crate::money::Dec;

/// An ordered scale of level names (case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Medals `A < 2A < 3A < 4A < 5A`, also written `AA` … `AAAAA`.
    Medal,
    /// 诚信通 levels `L0 < … < L6`.
    Cxt,
    /// 伙拼 tiers `bronze < silver < gold < platinum < diamond`.
    Tier,
}

/// A level name's scale and rank.
pub fn level(text: &str) -> Option<(Scale, u8)> {
    // read for every registration a gate checks: no allocation
    let t = text.trim();
    const TIERS: [&str; 5] = ["bronze", "silver", "gold", "platinum", "diamond"];
    if let Some(i) = TIERS.iter().position(|x| x.eq_ignore_ascii_case(t)) {
        return Some((Scale::Tier, i as u8));
    }
    let b = t.as_bytes();
    match b {
        [b'l' | b'L', d @ b'0'..=b'6'] => Some((Scale::Cxt, d - b'0')),
        // `2A` … `5A` (A is written `A`: `1A` is no medal of SPEC §11's scale)
        [d @ b'2'..=b'5', b'a' | b'A'] => Some((Scale::Medal, d - b'1')),
        _ if !b.is_empty() && b.len() <= 5 && b.iter().all(|&c| c == b'a' || c == b'A') => {
            Some((Scale::Medal, b.len() as u8 - 1))
        }
        _ => None,
    }
}

impl Scale {
    /// The highest rank of the scale.
    pub fn top(self) -> u8 {
        match self {
            Scale::Medal | Scale::Tier => 4,
            Scale::Cxt => 6,
        }
    }

    /// The level of `rank`, as written (medals as `2A`; `long`: as `AA`).
    pub fn name(self, rank: u8, long: bool) -> String {
        const TIERS: [&str; 5] = ["bronze", "silver", "gold", "platinum", "diamond"];
        match self {
            Scale::Medal if long || rank == 0 => "A".repeat(rank as usize + 1),
            Scale::Medal => format!("{}A", rank + 1),
            Scale::Cxt => format!("L{rank}"),
            Scale::Tier => TIERS[rank as usize].to_string(),
        }
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, any case.
pub fn boolean(text: &str) -> Option<bool> {
    let t = text.trim();
    let is = |w: &str| t.eq_ignore_ascii_case(w);
    if is("true") || is("1") || is("yes") {
        Some(true)
    } else if is("false") || is("0") || is("no") {
        Some(false)
    } else {
        None
    }
}

/// Equal ignoring case (ASCII without allocating; other scripts by their lower case).
fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// A decimal as SPEC §10.8 writes gate decimals: `[+-]digits[.digits]`, nothing else.
pub fn decimal(text: &str) -> Option<Dec> {
    let t = text.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (body.contains('.') && frac.is_empty()) {
        return None;
    }
    Dec::parse(t)
}

/// A gate's value, as a profile declares it.
#[derive(Clone, Debug, PartialEq)]
pub enum GateValue {
    Decimal(Dec),
    Level(Scale, u8),
    Bool(bool),
    /// `in`: the members as written.
    List(Vec<String>),
}

impl GateValue {
    /// Read a gate's value as written (`op` `in`: a comma-separated list): a decimal, else a
    /// level name, else a boolean.
    pub fn parse(op: Op, text: &str) -> Result<GateValue, String> {
        if op == Op::In {
            let items: Vec<String> = text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            return if items.is_empty() { Err("an `in` gate needs a list".into()) } else { Ok(GateValue::List(items)) };
        }
        if let Some(d) = decimal(text) {
            return Ok(GateValue::Decimal(d));
        }
        if let Some((s, r)) = level(text) {
            return Ok(GateValue::Level(s, r));
        }
        if let Some(b) = boolean(text) {
            return Ok(GateValue::Bool(b));
        }
        Err(format!("{text:?} is no decimal, level name (A…5A, L0…L6, bronze…diamond) or boolean"))
    }

    /// What a data value is compared as (a not-checked reason names it).
    pub fn kind(&self) -> &'static str {
        match self {
            GateValue::Decimal(_) => "a decimal",
            GateValue::Level(Scale::Medal, _) => "a medal (A…5A)",
            GateValue::Level(Scale::Cxt, _) => "a 诚信通 level (L0…L6)",
            GateValue::Level(Scale::Tier, _) => "a 伙拼 tier (bronze…diamond)",
            GateValue::Bool(_) => "a boolean",
            GateValue::List(_) => "a list",
        }
    }

    /// `data op value`, or `None` when the data value cannot be compared this way.
    pub fn holds(&self, op: Op, data: &str) -> Option<bool> {
        let data = data.trim();
        let ord = |o: std::cmp::Ordering| match op {
            Op::Ge => o.is_ge(),
            Op::Gt => o.is_gt(),
            Op::Le => o.is_le(),
            Op::Lt => o.is_lt(),
            Op::Eq => o.is_eq(),
            Op::In => false,
        };
        match self {
            GateValue::Decimal(v) => decimal(data).map(|d| ord(d.cmp(v))),
            GateValue::Level(scale, rank) => match level(data) {
                Some((s, r)) if s == *scale => Some(ord(r.cmp(rank))),
                _ => None,
            },
            GateValue::Bool(b) => boolean(data).map(|d| if op == Op::Eq { d == *b } else { ord(d.cmp(b)) }),
            GateValue::List(items) => Some(items.iter().any(|i| match (decimal(i), decimal(data)) {
                (Some(a), Some(b)) => a == b,
                _ => same_text(i, data),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(op: Op, v: &str) -> GateValue {
        GateValue::parse(op, v).unwrap()
    }

    #[test]
    fn medals_levels_and_tiers_in_order() {
        let ge_2a = gate(Op::Ge, "2A");
        assert_eq!(ge_2a.holds(Op::Ge, "2A"), Some(true));
        assert_eq!(ge_2a.holds(Op::Ge, "A"), Some(false));
        assert_eq!(ge_2a.holds(Op::Ge, "AA"), Some(true), "AA is 2A");
        assert_eq!(ge_2a.holds(Op::Ge, " aaa "), Some(true));
        assert_eq!(ge_2a.holds(Op::Ge, "5A"), Some(true));
        assert_eq!(ge_2a.holds(Op::Ge, "AA级"), None, "an unknown level cannot be compared");
        assert_eq!(ge_2a.holds(Op::Ge, "L3"), None, "another scale cannot be compared");
        assert_eq!(ge_2a.holds(Op::Ge, "6A"), None);
        let l2 = gate(Op::Ge, "L2");
        assert_eq!(
            (l2.holds(Op::Ge, "L2"), l2.holds(Op::Ge, "l1"), l2.holds(Op::Ge, "L6")),
            (Some(true), Some(false), Some(true))
        );
        let silver = gate(Op::Ge, "silver");
        assert_eq!((silver.holds(Op::Ge, "Gold"), silver.holds(Op::Ge, "bronze")), (Some(true), Some(false)));
    }

    #[test]
    fn decimals_exact_booleans_and_lists() {
        let stars = gate(Op::Ge, "3.5");
        assert_eq!((stars.holds(Op::Ge, "3.5"), stars.holds(Op::Ge, "3.4999")), (Some(true), Some(false)));
        assert_eq!(stars.holds(Op::Ge, "3.5000"), Some(true));
        for bad in ["1e3", "5%", "3,5", "abc", ".5", "5."] {
            assert_eq!(stars.holds(Op::Ge, bad), None, "{bad}");
        }
        let rate = gate(Op::Le, "0.0001");
        assert_eq!((rate.holds(Op::Le, "0.0001"), rate.holds(Op::Le, "0.00010001")), (Some(true), Some(false)));
        assert_eq!(gate(Op::Ge, "-1").holds(Op::Ge, "-0.5"), Some(true), "negative decimals allowed");
        // `1` is a decimal; `true` a boolean
        assert_eq!(GateValue::parse(Op::Eq, "1").unwrap(), GateValue::Decimal(Dec::from_int(1)));
        let f = gate(Op::Eq, "false");
        assert_eq!(
            (f.holds(Op::Eq, "NO"), f.holds(Op::Eq, "0"), f.holds(Op::Eq, "yes"), f.holds(Op::Eq, "x")),
            (Some(true), Some(true), Some(false), None)
        );
        let ids = gate(Op::In, "SKA, super_factory, strength");
        assert_eq!((ids.holds(Op::In, "ska"), ids.holds(Op::In, "factory_goods")), (Some(true), Some(false)));
        let hours = gate(Op::In, "24, 48");
        assert_eq!(
            (hours.holds(Op::In, "48.0"), hours.holds(Op::In, "72")),
            (Some(true), Some(false)),
            "decimals compare as decimals"
        );
        assert!(GateValue::parse(Op::Ge, "AA级").is_err());
    }
}
