//! Issue 17: random Arrow tables written to Parquet and audited. Every money column of every
//! table gets a random physical type (decimal of random precision and scale, integers, strings)
//! and random values around the domain's edges, with nulls. Whatever comes in: no panic, every
//! row used or rejected (the reconciliation, which can fail, holds), the rejected rows are
//! exactly those a model of SPEC §2 written here refuses, and every used value reads exactly.
//!
//! CI runs a short pass (`PROPTEST_CASES`, default 48); the closing note of issue 17 gives the
//! long run: `PROPTEST_CASES=20000 cargo test --release --test parquet_money_fuzz`.

mod common;

use polars::prelude::*;
use priceaudit::{audit, AuditOptions};
use proptest::prelude::*;
use std::path::Path;

/// A money column's physical type.
#[derive(Clone, Debug)]
enum Ty {
    Dec(usize, usize),
    I32,
    I64,
    U64,
    Text,
}

/// One cell: a typed value `mantissa × 10^-scale` (the scale is the column's), or text.
#[derive(Clone, Debug)]
enum Cell {
    Null,
    Num(i128),
    Text(String),
}

fn ty() -> impl Strategy<Value = Ty> {
    prop_oneof![
        (1usize..=38).prop_flat_map(|p| (Just(p), 0..=p)).prop_map(|(p, s)| Ty::Dec(p, s)),
        Just(Ty::Dec(38, 18)),
        Just(Ty::Dec(38, 0)),
        Just(Ty::I32),
        Just(Ty::I64),
        Just(Ty::U64),
        Just(Ty::Text),
    ]
}

/// A mantissa of at most `digits` digits, often at an edge (all nines, a power of ten, small).
fn mantissa(digits: usize) -> impl Strategy<Value = i128> {
    let max = 10i128.pow(digits.min(38) as u32) - 1;
    prop_oneof![
        3 => 0..=max,
        1 => Just(max),
        1 => (0..digits.min(38) as u32).prop_map(|e| 10i128.pow(e)),
        1 => 0..=max.min(999),
    ]
    .prop_flat_map(move |m| prop_oneof![6 => Just(m), 1 => Just(-m)])
}

fn text_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,30}(\\.[0-9]{1,12})?",
        "\\+?[0-9]{1,3}\\.[0-9]{0,2}",
        "-[0-9]{1,4}",
        "[0-9a-z.,e+ -]{0,8}",
        Just("0".to_string()),
        Just(format!("{}.{}", "9".repeat(28), "9".repeat(10))),
    ]
}

fn cells(t: Ty, n: usize) -> BoxedStrategy<(Ty, Vec<Cell>)> {
    let cell: BoxedStrategy<Cell> = match t {
        Ty::Dec(p, _) => mantissa(p).prop_map(Cell::Num).boxed(),
        Ty::I32 => (i32::MIN..=i32::MAX).prop_map(|v| Cell::Num(v as i128)).boxed(),
        Ty::I64 => {
            prop_oneof![(-5i64..100_000), Just(i64::MAX), Just(i64::MIN)].prop_map(|v| Cell::Num(v as i128)).boxed()
        }
        Ty::U64 => prop_oneof![(0u64..100_000), Just(u64::MAX)].prop_map(|v| Cell::Num(v as i128)).boxed(),
        Ty::Text => text_cell().prop_map(Cell::Text).boxed(),
    };
    let cell = prop_oneof![8 => cell, 1 => Just(Cell::Null)];
    (Just(t), proptest::collection::vec(cell, n..=n)).boxed()
}

fn column(name: &str, t: &Ty, cells: &[Cell]) -> Column {
    let nums = || cells.iter().map(|c| if let Cell::Num(v) = c { Some(*v) } else { None });
    let s = match t {
        Ty::Dec(p, s) => {
            Int128Chunked::from_iter_options(name.into(), nums()).into_decimal(*p, *s).unwrap().into_series()
        }
        Ty::I32 => Series::new(name.into(), nums().map(|v| v.map(|v| v as i32)).collect::<Vec<_>>()),
        Ty::I64 => Series::new(name.into(), nums().map(|v| v.map(|v| v as i64)).collect::<Vec<_>>()),
        Ty::U64 => Series::new(name.into(), nums().map(|v| v.map(|v| v as u64)).collect::<Vec<_>>()),
        Ty::Text => Series::new(
            name.into(),
            cells.iter().map(|c| if let Cell::Text(s) = c { Some(s.clone()) } else { None }).collect::<Vec<_>>(),
        ),
    };
    s.into_column()
}

/// The model of SPEC §2: `Ok(normalised value)`, `Err(())` for a reject, `None` for empty.
fn model(t: &Ty, c: &Cell) -> Option<Result<String, ()>> {
    let (digits, scale, neg): (String, usize, bool) = match (t, c) {
        (_, Cell::Null) => return None,
        (Ty::Text, Cell::Text(s)) if s.is_empty() => return None,
        (Ty::Text, Cell::Text(s)) => {
            // [+]digits[.digits], ≤ 28 and ≤ 10 digits as written, > 0
            let body = s.strip_prefix('+').unwrap_or(s);
            let (i, f) = match body.split_once('.') {
                Some((i, f)) => (i, Some(f)),
                None => (body, None),
            };
            let all = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
            if !all(i) || f.is_some_and(|f| !all(f)) || i.len() > 28 || f.unwrap_or("").len() > 10 {
                return Some(Err(()));
            }
            (format!("{i}{}", f.unwrap_or("")), f.unwrap_or("").len(), false)
        }
        (Ty::Dec(_, s), Cell::Num(v)) => (v.unsigned_abs().to_string(), *s, *v < 0),
        (_, Cell::Num(v)) => (v.unsigned_abs().to_string(), 0, *v < 0),
        _ => unreachable!(),
    };
    // the value's digits: integer part and significant decimals
    let digits = format!("{}{digits}", "0".repeat(scale.saturating_sub(digits.len()) + 1));
    let (int, frac) = digits.split_at(digits.len() - scale);
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if neg || (int.is_empty() && frac.is_empty()) || int.len() > 28 || frac.len() > 10 {
        return Some(Err(()));
    }
    let int = if int.is_empty() { "0" } else { int };
    Some(Ok(if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") }))
}

fn text_col(name: &str, v: Vec<String>) -> Column {
    Series::new(name.into(), v).into_column()
}

fn write(dir: &Path, table: &str, cols: Vec<Column>) {
    let mut df = DataFrame::new_infer_height(cols).unwrap();
    let f = std::fs::File::create(dir.join(format!("{table}.parquet"))).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_parquet_money_is_used_exactly_or_rejected(
        (pt, pc) in ty().prop_flat_map(|t| cells(t, 12)),
        (rt, rc) in ty().prop_flat_map(|t| cells(t, 8)),
        (lt, lc) in ty().prop_flat_map(|t| cells(t, 6)),
        (tt, tc) in ty().prop_flat_map(|t| cells(t, 6)),
    ) {
        let d = tempfile::tempdir().unwrap();
        let n = pc.len();
        write(d.path(), "prices", vec![
            text_col("offer_id", vec!["O1".into(); n]),
            text_col("sku_id", vec!["A".into(); n]),
            text_col("ts", (0..n).map(|i| format!("2024-05-20 10:{i:02}:00")).collect()),
            column("price", &pt, &pc),
            text_col("kind", vec!["txn".into(); n]),
        ]);
        let m = rc.len();
        write(d.path(), "registrations", vec![
            text_col("registration_id", (0..m).map(|i| format!("R{i}")).collect()),
            text_col("offer_id", vec!["O1".into(); m]),
            text_col("sku_id", vec!["A".into(); m]),
            text_col("activity", vec!["huopin".into(); m]),
            text_col("registered_at", vec!["2024-06-01 10:00:00".into(); m]),
            text_col("promo_start", vec!["2024-06-06 10:00:00".into(); m]),
            text_col("promo_end", vec!["2024-06-08 10:00:00".into(); m]),
            column("promo_price", &rt, &rc),
        ]);
        let l = lc.len();
        write(d.path(), "ladders", vec![
            text_col("offer_id", vec!["O1".into(); l]),
            text_col("sku_id", vec!["A".into(); l]),
            Series::new("min_qty".into(), (1..=l as i64).collect::<Vec<_>>()).into_column(),
            column("price", &lt, &lc),
        ]);
        let r = tc.len();
        write(d.path(), "retail", vec![
            text_col("offer_id", vec!["O1".into(); r]),
            text_col("sku_id", vec!["A".into(); r]),
            text_col("observed_at", (0..r).map(|i| format!("2024-05-25 10:{i:02}:00")).collect()),
            column("price", &tt, &tc),
        ]);

        let a = audit(d.path(), &AuditOptions::default()).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert!(a.summary.reconciled);
        // rejected rows: exactly the model's (a null required price is "missing price")
        let expect = |table: &str, column: &str, t: &Ty, cs: &[Cell]| -> Vec<(String, u64, String)> {
            cs.iter().enumerate().filter_map(|(i, c)| match model(t, c) {
                Some(Ok(_)) => None,
                _ => Some((table.to_string(), i as u64, column.to_string())),
            }).collect()
        };
        let mut want = expect("prices", "price", &pt, &pc);
        want.extend(expect("registrations", "promo_price", &rt, &rc));
        want.extend(expect("ladders", "price", &lt, &lc));
        want.extend(expect("retail", "price", &tt, &tc));
        want.sort();
        let mut got: Vec<(String, u64, String)> = a.dump.rejects.iter().map(|r| (r.table.to_string(), r.line, r.column.clone())).collect();
        got.sort();
        prop_assert_eq!(got, want);
        // used values, exactly
        let lowest = |t: &Ty, cs: &[Cell]| cs.iter().filter_map(|c| model(t, c)?.ok()).min_by(|a, b| {
            priceaudit::money::Dec::parse(a).unwrap().cmp(&priceaudit::money::Dec::parse(b).unwrap())
        });
        for v in &a.verdicts {
            let i: usize = v.registration_id[1..].parse().unwrap();
            prop_assert_eq!(Some(Ok(v.cell("promo_price"))), model(&rt, &rc[i]));
            prop_assert_eq!(v.cell("lowest_30d"), lowest(&pt, &pc).unwrap_or_default());
            prop_assert_eq!(v.cell("retail"), lowest(&tt, &tc).unwrap_or_default());
        }
        for f in a.findings.iter().filter(|f| f.rule == "P105") {
            prop_assert_eq!(Some(f.reference.clone()), lowest(&lt, &lc));
        }
    }
}
