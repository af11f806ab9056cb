//! The finding row of SPEC §7, severities, and the deterministic order of findings.

use crate::money::{Dec, Packed};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The input table a piece of evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Prices,
    Registrations,
    Ladders,
    Retail,
    /// Merchant-level metrics (SPEC §2, §11), optional.
    Merchants,
}

impl Table {
    pub const ALL: [Table; 5] = [Table::Prices, Table::Registrations, Table::Ladders, Table::Retail, Table::Merchants];
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Prices => "prices",
            Table::Registrations => "registrations",
            Table::Ladders => "ladders",
            Table::Retail => "retail",
            Table::Merchants => "merchants",
        }
    }
}

/// The row a reference or verdict rests on (SPEC §7 `evidence_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub table: Table,
    /// CSV: the line (header = 1); Parquet: the 0-based row index.
    pub row: u64,
    /// UTC microseconds, when the row has a time.
    pub ts: Option<i64>,
    /// Packed: the evidence of six references is held for every registration.
    pub price: Option<Packed>,
    /// Shared, not copied: a 100 M-row audit holds millions of evidence rows citing a few names.
    pub channel: Option<std::sync::Arc<str>>,
}

/// One finding (SPEC §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub registration_id: crate::id::Id,
    pub offer_id: crate::id::Id,
    pub sku_id: crate::id::Id,
    pub merchant_id: crate::id::Id,
    pub activity: crate::id::Id,
    pub observed: String,
    pub reference: String,
    pub threshold: String,
    pub evidence: Option<Evidence>,
    pub message: String,
}

/// The column names of `findings.csv`, in order (SPEC §7).
pub const COLUMNS: [&str; 17] = [
    "rule",
    "name",
    "severity",
    "registration_id",
    "offer_id",
    "sku_id",
    "merchant_id",
    "activity",
    "observed",
    "reference",
    "threshold",
    "evidence_table",
    "evidence_row",
    "evidence_ts",
    "evidence_price",
    "evidence_channel",
    "message",
];

impl Finding {
    /// The row as the strings written to CSV/JSON/Parquet, in [`COLUMNS`] order.
    pub fn cells(&self) -> [String; 17] {
        self.cells_ref().map(Cow::into_owned)
    }

    /// [`Finding::cells`] borrowing what the finding holds (the writers' form: no copies).
    pub fn cells_ref(&self) -> [Cow<'_, str>; 17] {
        let ev = self.evidence.as_ref();
        fn b(s: &str) -> Cow<'_, str> {
            Cow::Borrowed(s)
        }
        [
            Cow::Borrowed(self.rule),
            Cow::Borrowed(self.name),
            Cow::Borrowed(self.severity.as_str()),
            b(&self.registration_id),
            b(&self.offer_id),
            b(&self.sku_id),
            b(&self.merchant_id),
            b(&self.activity),
            b(&self.observed),
            b(&self.reference),
            b(&self.threshold),
            Cow::Borrowed(ev.map(|e| e.table.as_str()).unwrap_or_default()),
            ev.map(|e| Cow::Owned(e.row.to_string())).unwrap_or_default(),
            ev.and_then(|e| e.ts).map(|t| Cow::Owned(crate::time::fmt_utc(t))).unwrap_or_default(),
            ev.and_then(|e| e.price.as_ref()).map(|p| Cow::Owned(p.to_string())).unwrap_or_default(),
            b(ev.and_then(|e| e.channel.as_deref()).unwrap_or_default()),
            b(&self.message),
        ]
    }

    fn sort_key(&self) -> (&str, &str, &str, &str, Option<(Table, u64)>, &str) {
        (
            self.rule,
            &self.registration_id,
            &self.offer_id,
            &self.sku_id,
            self.evidence.as_ref().map(|e| (e.table, e.row)),
            &self.message,
        )
    }
}

/// Sort findings deterministically: rule, registration, offer, SKU, evidence row, message.
/// (A stable sort: findings with equal keys keep their order.)
///
/// (Through [`Gathered::sorted_into`]: the order found on indices, each finding then moved once.)
pub fn sort(findings: &mut Vec<Finding>) {
    let mut all = Gathered::default();
    all.extend(findings.drain(..));
    all.sorted_into(findings);
}

/// One rule's findings as it makes them, in blocks of a fixed size: a vector grown by doubling
/// copied each finding about twice more and touched up to twice its memory (a registration-heavy
/// dump makes millions of findings, and on this project's machines fresh memory costs more than
/// the copies).
#[derive(Default)]
pub struct Gathered {
    blocks: Vec<Vec<Option<Finding>>>,
    len: usize,
}

impl Gathered {
    const BLOCK: usize = 1 << 14;

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, f: Finding) {
        match self.blocks.last_mut() {
            Some(b) if b.len() < Self::BLOCK => b.push(Some(f)),
            _ => {
                let mut b = Vec::with_capacity(Self::BLOCK);
                b.push(Some(f));
                self.blocks.push(b);
            }
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> &Finding {
        self.blocks[i / Self::BLOCK][i % Self::BLOCK].as_ref().expect("not yet moved")
    }

    /// The first finding's rule code.
    pub fn rule(&self) -> Option<&'static str> {
        (!self.is_empty()).then(|| self.get(0).rule)
    }

    /// Is every finding of rule `code`?
    pub fn all_of(&self, code: &str) -> bool {
        self.blocks.iter().flatten().flatten().all(|f| f.rule == code)
    }

    /// The findings in [`sort`]'s order, moved to the end of `out` (each once; in the order made
    /// when it is already that order). The order is found on indices: a merge sort of the findings
    /// themselves (~250 bytes each) moved every one ~log₂ n times (3.3 M findings: most of 10 s).
    pub fn sorted_into(self, out: &mut Vec<Finding>) {
        use rayon::slice::ParallelSliceMut;
        let sorted = (1..self.len).all(|i| self.get(i - 1).sort_key() <= self.get(i).sort_key());
        if sorted {
            out.extend(self.blocks.into_iter().flatten().flatten());
            return;
        }
        let mut order: Vec<u32> = (0..u32::try_from(self.len).expect("under 2^32 findings per rule")).collect();
        order.par_sort_by(|&a, &b| self.get(a as usize).sort_key().cmp(&self.get(b as usize).sort_key()));
        let mut blocks = self.blocks;
        out.extend(order.into_iter().map(|i| {
            let i = i as usize;
            blocks[i / Self::BLOCK][i % Self::BLOCK].take().expect("each index once")
        }));
    }
}

impl Extend<Finding> for Gathered {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, iter: I) {
        for f in iter {
            self.push(f);
        }
    }
}

impl IntoIterator for Gathered {
    type Item = Finding;
    type IntoIter = std::iter::Flatten<std::iter::Flatten<std::vec::IntoIter<Vec<Option<Finding>>>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.blocks.into_iter().flatten().flatten()
    }
}

/// An exact decimal as a findings cell.
pub fn dec(d: Dec) -> String {
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` findings of rule `rule` in a scrambled order, registration ids drawn from few values so
    /// that many keys are equal; `observed` numbers them in the order made (not a sort key).
    fn scrambled(rule: &'static str, n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| {
                let r = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                Finding {
                    rule,
                    name: "x",
                    severity: Severity::Error,
                    registration_id: format!("R{}", r % 997).into(),
                    offer_id: "O".into(),
                    sku_id: format!("S{}", r % 3).into(),
                    merchant_id: "M".into(),
                    activity: "a".into(),
                    observed: i.to_string(),
                    reference: String::new(),
                    threshold: String::new(),
                    evidence: (!r.is_multiple_of(5)).then_some(Evidence {
                        table: Table::Prices,
                        row: r % 7,
                        ts: None,
                        price: None,
                        channel: None,
                    }),
                    message: String::new(),
                }
            })
            .collect()
    }

    /// The order of a stable sort of the findings by their keys (std's merge sort).
    fn by_stable_sort(mut v: Vec<Finding>) -> Vec<Finding> {
        v.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        v
    }

    /// `sort` and `Gathered::sorted_into` give a stable sort's order (equal keys in the order
    /// made), over more findings than a block, scrambled or already sorted.
    #[test]
    fn sort_and_gathered_give_the_stable_order() {
        let n = Gathered::BLOCK * 2 + 123;
        let sorted = by_stable_sort(scrambled("rule-a", n));
        for v in [scrambled("rule-a", n), sorted.clone(), scrambled("rule-a", 5), Vec::new()] {
            let want = by_stable_sort(v.clone());
            let mut by_sort = v.clone();
            sort(&mut by_sort);
            assert_eq!(by_sort, want);
            let mut g = Gathered::default();
            g.extend(v.clone());
            assert_eq!((g.len(), g.rule(), g.all_of("rule-a")), (v.len(), v.first().map(|f| f.rule), true));
            let mut out = scrambled("rule-b", 3);
            g.sorted_into(&mut out);
            assert_eq!(out[..3], scrambled("rule-b", 3)[..], "appended after what `out` held");
            assert_eq!(out[3..], want[..]);
        }
        let mut g = Gathered::default();
        g.extend(scrambled("rule-a", 3).into_iter().chain(scrambled("rule-c", 1)));
        assert!(!g.all_of("rule-a"));
    }
}
