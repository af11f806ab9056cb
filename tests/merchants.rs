//! Issue 20, first step: the optional `merchants` table (SPEC §2, §10.8) loads from CSV or
//! Parquet, keeps the first row of each `merchant_id` (an empty id too: no registration can name
//! it), rejects the later duplicates, and reconciles.

mod common;
use common::*;

fn base() -> TinyDump {
    one_registration(&["O1,A,2024-05-20 10:00:00,10,txn,,"])
}

fn check(a: &priceaudit::Audit) {
    let t = &a.summary.tables["merchants"];
    assert_eq!((t.rows_read, t.rows_used, t.rows_rejected), (5, 3, 2));
    let dup: Vec<(u64, &str, &str, &str)> = a
        .dump
        .rejects
        .iter()
        .filter(|r| r.table == "merchants")
        .map(|r| (r.line, r.column.as_str(), r.reason.as_str(), r.value.as_str()))
        .collect();
    let first = if a.dump.source(priceaudit::findings::Table::Merchants).unwrap().path.extension().unwrap() == "csv" {
        2 // CSV lines (the header is line 1)
    } else {
        0 // Parquet rows
    };
    assert_eq!(
        dup,
        [
            (first + 2, "merchant_id", "duplicate merchant_id", "M1"),
            (first + 4, "merchant_id", "duplicate merchant_id", "")
        ]
    );
    let kept = a.dump.merchants.as_ref().unwrap();
    assert_eq!(kept.height(), 0, "the frame is dropped once the facts are computed");
    assert!(a.summary.reconciled);
}

#[test]
fn merchants_csv_first_of_each_id_kept() {
    let d = base();
    write(d.path(), "merchants.csv", "merchant_id,medal,unused", &["M1,2A,x", "M2,A,", "M1,3A,", ",A,", ",B,"]);
    check(&d.audit());
}

#[test]
fn merchants_parquet_first_of_each_id_kept() {
    use polars::prelude::*;
    let d = base();
    let mut df = df!(
        "merchant_id" => [Some("M1"), Some("M2"), Some("M1"), None, Some("")],
        "medal" => ["2A", "A", "3A", "A", "B"]
    )
    .unwrap();
    let f = std::fs::File::create(d.path().join("merchants.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    check(&d.audit());
}

#[test]
fn merchants_without_merchant_id_is_an_input_error_and_absent_is_fine() {
    let d = base();
    assert!(!d.audit().summary.tables.contains_key("merchants"));
    write(d.path(), "merchants.csv", "merchant,medal", &["M1,2A"]);
    let e = priceaudit::audit(d.path(), &Default::default()).err().expect("missing column");
    assert!(e.message.contains("merchants.csv") && e.message.contains("merchant_id"), "{}", e.message);
    assert_eq!(e.kind, priceaudit::error::ErrorKind::Input);
}

/// The merchants' columns reach the facts, as the merchant gates will read them: a value, or why
/// there is none (SPEC §11's not-checked reasons: no table, merchant absent or empty, column
/// missing, empty value).
#[test]
fn merchant_values_by_id_with_the_reason_when_there_is_none() {
    use priceaudit::facts::{MerchantValue as V, Merchants};
    let d = base();
    write(d.path(), "merchants.csv", "merchant_id,medal,unused", &["M1,2A,x", "M2, A ,", "M1,3A,", ",A,"]);
    let a = d.audit();
    let m = a.facts.merchants.as_ref();
    assert_eq!(Merchants::value(m, "M1", "medal"), V::Value("2A"), "the first row of M1");
    assert_eq!(Merchants::value(m, "M2", "medal"), V::Value("A"), "trimmed");
    assert_eq!(Merchants::value(m, "M2", "unused"), V::Empty);
    assert_eq!(Merchants::value(m, "M9", "medal"), V::NoMerchant);
    assert_eq!(Merchants::value(m, "", "medal"), V::NoMerchant, "an empty merchant names no row");
    assert_eq!(Merchants::value(m, "M1", "tenure_months"), V::NoColumn);
    assert_eq!(Merchants::value(None, "M1", "medal"), V::NoTable);
    // Parquet numbers and booleans read as their text
    use polars::prelude::*;
    let d = base();
    let mut df = df!("merchant_id" => ["M1"], "service_stars" => [3.5f64], "penalized" => [false]).unwrap();
    let f = std::fs::File::create(d.path().join("merchants.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let a = d.audit();
    let m = a.facts.merchants.as_ref();
    assert_eq!(Merchants::value(m, "M1", "service_stars"), V::Value("3.5"));
    assert_eq!(Merchants::value(m, "M1", "penalized"), V::Value("false"));
}
