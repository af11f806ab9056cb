//! Issue 17: one money domain for every table and every physical type. The dumps under
//! `fixtures/numeric-edges/` were written by pyarrow (`make.py` there), one per physical type of
//! the money columns: Parquet strings, DECIMAL(38,0), (38,9), (38,11), (38,18) as Spark writes,
//! (18,2), INT64, INT32, and the strings as CSV. Each value sits at or beside an edge of SPEC §2
//! (28 integer digits pass, 29 are rejected; 10 decimal places pass, 11 are rejected; a typed
//! decimal judged by its value). `expected.json` was computed by the generator, not by
//! priceaudit: which rows are rejected, and how each used value must read.

use priceaudit::{audit, AuditOptions};
use std::path::Path;

mod common;

const DUMPS: [&str; 9] = [
    "string",
    "string-csv",
    "decimal38_0",
    "decimal38_9",
    "decimal38_11",
    "decimal38_18",
    "decimal18_2",
    "int64",
    "int32",
];

fn expected(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

fn check(name: &str) {
    let dir = Path::new("fixtures/numeric-edges").join(name);
    let want = expected(&dir);
    let a = audit(&dir, &AuditOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));

    // exactly the planted rejects, each naming its table, row and column
    let mut got: Vec<(String, u64, String)> =
        a.dump.rejects.iter().map(|r| (r.table.to_string(), r.line, r.column.clone())).collect();
    got.sort();
    let mut exp: Vec<(String, u64, String)> = want["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap(), r[2].as_str().unwrap().to_string()))
        .collect();
    exp.sort();
    assert_eq!(got, exp, "{name}: rejects");
    for r in &a.dump.rejects {
        assert!(
            [
                "unparsable price",
                "non-positive price",
                "price out of range",
                "price has more than 10",
                "sku_supply out of range"
            ]
            .iter()
            .any(|w| r.reason.starts_with(w)),
            "{name}: reason {:?} of {r:?}",
            r.reason
        );
    }
    assert!(a.summary.reconciled, "{name}: not reconciled");
    for t in a.summary.tables.values() {
        assert_eq!(t.rows_read, t.rows_used + t.rows_rejected, "{name}: {}", t.file);
    }

    // every used value reads exactly as written (by value for typed columns)
    let regs = want["registrations"].as_object().unwrap();
    assert_eq!(a.verdicts.len(), regs.len(), "{name}: used registrations");
    for v in &a.verdicts {
        let e = &regs[v.registration_id.as_str()];
        let (col, val) = e.as_object().unwrap().iter().next().unwrap();
        let val = val.as_str().unwrap();
        let got = match col.as_str() {
            "promo_price" => v.cell("promo_price"),
            "list_price" => v.cell("list"),
            "retail_price" => v.cell("retail"),
            _ => unreachable!(),
        };
        assert_eq!(got, val, "{name}: {} {col}", v.registration_id);
        // the references from the tables come from used rows only
        assert_eq!(
            v.cell("lowest_30d"),
            want["lowest_30d"].as_str().unwrap(),
            "{name}: {} lowest_30d",
            v.registration_id
        );
        if col != "retail_price" {
            assert_eq!(v.cell("retail"), want["retail_min"].as_str().unwrap(), "{name}: {} retail", v.registration_id);
        }
    }
    // no reference or threshold of zero can come from a refused value
    for f in &a.findings {
        assert!(f.reference != "0" && f.threshold != "0", "{name}: {f:?}");
    }
    let p105: Vec<_> = a.findings.iter().filter(|f| f.rule == "P105").collect();
    if want["p105"].as_bool().unwrap() {
        assert_eq!(p105.len(), 1, "{name}: one ladder group");
        assert_eq!(p105[0].observed, want["ladder_max"].as_str().unwrap(), "{name}");
        assert_eq!(p105[0].reference, want["ladder_min"].as_str().unwrap(), "{name}");
    } else {
        assert!(p105.is_empty(), "{name}: {p105:?}");
    }
}

#[test]
fn pyarrow_parquet_strings() {
    check("string");
}

#[test]
fn csv_text() {
    check("string-csv");
}

#[test]
fn decimal_38_0_beyond_28_digits_is_rejected_not_fatal() {
    check("decimal38_0");
}

#[test]
fn decimal_38_9_at_28_and_29_integer_digits() {
    check("decimal38_9");
}

#[test]
fn decimal_38_11_judged_by_its_value() {
    check("decimal38_11");
}

#[test]
fn decimal_38_18_as_spark_writes_reads_exactly() {
    check("decimal38_18");
}

#[test]
fn decimal_18_2() {
    check("decimal18_2");
}

#[test]
fn parquet_integers() {
    check("int64");
    check("int32");
}

#[test]
fn every_dump_is_listed() {
    for e in std::fs::read_dir("fixtures/numeric-edges").unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            assert!(DUMPS.contains(&p.file_name().unwrap().to_str().unwrap()), "{p:?} has no test");
        }
    }
}

/// `registrations.csv` with one huopin registration of O1/A (for dumps that test `prices`).
fn one_registration(dir: &Path) {
    let r = common::reg("R1", "O1", "A", "huopin", "2024-06-01", "2024-06-06", "2024-06-08", "9", "", "");
    common::write(dir, "registrations.csv", common::REGS, &[&r]);
}

/// A float money column stays a file-level refusal naming the column; so does a type that holds
/// no money (a boolean).
#[test]
fn float_and_boolean_money_columns_are_refused_naming_the_column() {
    use polars::prelude::*;
    for (dtype, word) in [(DataType::Float64, "floating point"), (DataType::Boolean, "holds no money")] {
        let d = tempfile::tempdir().unwrap();
        one_registration(d.path());
        let price = Series::new("price".into(), &[1.5f64]).cast(&dtype).unwrap();
        let mut df = DataFrame::new_infer_height(vec![
            Series::new("offer_id".into(), &["O1"]).into_column(),
            Series::new("sku_id".into(), &["A"]).into_column(),
            Series::new("ts".into(), &["2024-05-20"]).into_column(),
            price.into_column(),
            Series::new("kind".into(), &["txn"]).into_column(),
        ])
        .unwrap();
        let f = std::fs::File::create(d.path().join("prices.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
        let e = audit(d.path(), &AuditOptions::default()).err().expect("refused");
        assert!(e.message.contains("`price`") && e.message.contains(word), "{}", e.message);
    }
}

/// The worked case: `sku_supply` of 70 nines on one registration and 1e-69 on another of
/// the offer summed to a negative E306 total; both are now refused at the border, and the offer's
/// other registrations are summed exactly.
#[test]
fn metrics_outside_the_domain_are_rejected_and_sums_stay_exact() {
    let nines = "9".repeat(70);
    let tiny = format!("0.{}1", "0".repeat(68));
    let r = |id: &str, supply: &str| {
        format!("{id},O1,A,M1,huopin,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,9,,,,,,,,{supply},")
    };
    let rows = [r("R1", &nines), r("R2", &tiny), r("R3", "500.0000000001"), r("R4", "499.9999999998")];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let d = common::TinyDump::new(&["O1,A,2024-05-20,10,txn,,"], &rows);
    let a = d.audit();
    let rejected: Vec<(u64, &str)> = a.dump.rejects.iter().map(|r| (r.line, r.column.as_str())).collect();
    assert_eq!(rejected, vec![(2, "sku_supply"), (3, "sku_supply")]);
    // R3 + R4 over the offer: 999.9999999999 exactly, one unit of the tenth place under 1000
    let e306: Vec<_> = a.findings.iter().filter(|f| f.rule == "E306").collect();
    assert_eq!(e306.len(), 2, "{e306:?}");
    assert!(e306.iter().all(|f| f.observed == "999.9999999999" && f.threshold == "1000"), "{e306:?}");
}

/// Zoned Parquet timestamps outside the years 1–9999 (an i64 can hold far more) are bad
/// timestamps, rejected; the edges themselves are used.
#[test]
fn parquet_timestamps_outside_the_years_1_to_9999_are_rejected() {
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    one_registration(d.path());
    let ts = [
        priceaudit::time::MIN_INSTANT,
        priceaudit::time::MAX_INSTANT,
        priceaudit::time::MIN_INSTANT - 1,
        priceaudit::time::MAX_INSTANT + 1,
        i64::MAX / 2,
        1_716_192_000_000_000,
    ];
    let n = ts.len();
    let ts =
        Series::new("ts".into(), &ts).cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))).unwrap();
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("offer_id".into(), vec!["O1"; n]).into_column(),
        Series::new("sku_id".into(), vec!["A"; n]).into_column(),
        ts.into_column(),
        Series::new("price".into(), vec!["10"; n]).into_column(),
        Series::new("kind".into(), vec!["txn"; n]).into_column(),
    ])
    .unwrap();
    ParquetWriter::new(std::fs::File::create(d.path().join("prices.parquet")).unwrap()).finish(&mut df).unwrap();
    let a = audit(d.path(), &AuditOptions::default()).unwrap();
    let rejected: Vec<(u64, &str)> = a.dump.rejects.iter().map(|r| (r.line, r.column.as_str())).collect();
    assert_eq!(rejected, vec![(2, "ts"), (3, "ts"), (4, "ts")]);
    assert!(a.summary.reconciled);
    assert_eq!(a.summary.tables["prices"].rows_used, 3);
}

/// A Parquet type polars cannot read (pyarrow's DECIMAL256, here DECIMAL(40, 2)) is a file-level
/// error naming the column (exit 2), not a bare decoder message.
#[test]
fn an_unreadable_decimal256_column_is_named() {
    let e = audit(Path::new("fixtures/unreadable/decimal256"), &AuditOptions::default()).err().expect("refused");
    assert!(e.message.contains("prices.parquet") && e.message.contains("`price` (DECIMAL(40, 2)"), "{}", e.message);
}
