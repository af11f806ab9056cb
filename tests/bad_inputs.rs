//! The bad-input corpus (fixtures/bad, written by fixtures/bad/make.py): every class of bad
//! input is rejected with table, line and column, or fails with exit 2 and a message naming the
//! file; nothing panics and rows read = used + rejected.

mod common;

use polars::prelude::*;
use priceaudit::{audit, AuditOptions};
use std::path::Path;

fn run(dir: &Path) -> Result<priceaudit::Audit, String> {
    let tz = std::fs::read_to_string(dir.join("tz.txt")).ok().map(|s| s.trim().to_string());
    audit(dir, &AuditOptions { tz, ..Default::default() }).map_err(|e| e.message)
}

#[test]
fn every_bad_input_class() {
    let mut cases: Vec<_> =
        std::fs::read_dir("fixtures/bad").unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let expected: Vec<String> =
            std::fs::read_to_string(dir.join("expected.txt")).unwrap().lines().map(str::to_string).collect();
        let outcome = std::panic::catch_unwind(|| run(dir));
        let Ok(outcome) = outcome else {
            failures.push(format!("{name}: panicked"));
            continue;
        };
        match (expected.first().and_then(|e| e.strip_prefix("exit2: ")), outcome) {
            (Some(text), Err(msg)) => {
                if !msg.contains(text) {
                    failures.push(format!("{name}: message {msg:?} lacks {text:?}"));
                }
            }
            (Some(text), Ok(_)) => failures.push(format!("{name}: expected exit 2 ({text}), the audit ran")),
            (None, Err(msg)) => failures.push(format!("{name}: unexpected error {msg}")),
            (None, Ok(a)) => {
                let got: Vec<String> =
                    a.dump.rejects.iter().map(|r| format!("{},{},{}", r.table, r.line, r.column)).collect();
                if got != expected {
                    failures.push(format!("{name}: rejects {got:?}, expected {expected:?}"));
                }
                if !a.summary.reconciled {
                    failures.push(format!("{name}: not reconciled"));
                }
                for r in &a.dump.rejects {
                    if r.reason.is_empty() {
                        failures.push(format!("{name}: reject without a reason"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn write_parquet(dir: &Path, name: &str, mut df: DataFrame) {
    let f = std::fs::File::create(dir.join(name)).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
}

fn regs_csv(dir: &Path) {
    std::fs::copy("fixtures/bad/header-only/registrations.csv", dir.join("registrations.csv")).unwrap();
}

#[test]
fn parquet_float_money_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let df = df!("offer_id" => ["O1"], "sku_id" => ["A"], "ts" => ["2024-05-20 10:00:00"], "price" => [9.5f64], "kind" => ["txn"]).unwrap();
    write_parquet(d.path(), "prices.parquet", df);
    regs_csv(d.path());
    let e = run(d.path()).err().expect("float money fails");
    assert!(e.contains("prices.parquet") && e.contains("price") && e.contains("floating point"), "{e}");
}

#[test]
fn parquet_truncated_is_an_input_error() {
    let d = tempfile::tempdir().unwrap();
    let df = df!("offer_id" => ["O1"; 100], "sku_id" => ["A"; 100], "ts" => ["2024-05-20 10:00:00"; 100], "price" => ["9.5"; 100], "kind" => ["txn"; 100]).unwrap();
    write_parquet(d.path(), "prices.parquet", df);
    let bytes = std::fs::read(d.path().join("prices.parquet")).unwrap();
    std::fs::write(d.path().join("prices.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    regs_csv(d.path());
    let e = std::panic::catch_unwind(|| run(d.path())).expect("no panic").err().expect("truncated parquet fails");
    assert!(e.contains("prices.parquet"), "{e}");
}

#[test]
fn parquet_string_and_integer_columns_are_parsed_like_csv() {
    let d = tempfile::tempdir().unwrap();
    let df = df!(
        "offer_id" => ["O1", "O1", "O1"],
        "sku_id" => ["A", "A", "A"],
        "ts" => ["2024-05-20 10:00:00", "2024-02-30", "2024-05-21T02:00:00Z"],
        "price" => ["9.50", "1", "1e3"],
        "kind" => ["txn", "txn", "txn"]
    )
    .unwrap();
    write_parquet(d.path(), "prices.parquet", df);
    regs_csv(d.path());
    let a = run(d.path()).unwrap();
    let got: Vec<(String, u64, String)> =
        a.dump.rejects.iter().map(|r| (r.table.to_string(), r.line, r.column.clone())).collect();
    assert_eq!(
        got,
        vec![("prices".into(), 1, "ts".into()), ("prices".into(), 2, "price".into())],
        "Parquet rows are 0-based"
    );
}

/// Every table is validated before any is loaded, the price table on a thread of its own beside
/// the others: whatever finishes first, a failing price table's error is the one reported (it is
/// the first table), and another table's when the prices pass.
#[test]
fn the_price_tables_error_comes_first() {
    let demo = Path::new("fixtures/demo");
    let copy = |d: &Path| {
        for f in std::fs::read_dir(demo).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, d.join(f.file_name().unwrap())).unwrap();
        }
    };
    // registrations without `promo_price`; prices with a byte that is not UTF-8 near the end
    let drop_promo_price = |d: &Path| {
        let text = std::fs::read_to_string(d.join("registrations.csv")).unwrap();
        let header = text.lines().next().unwrap();
        let at = header.split(',').position(|c| c == "promo_price").expect("demo column");
        let out: Vec<String> = text
            .lines()
            .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != at).map(|(_, c)| c).collect::<Vec<_>>().join(","))
            .collect();
        std::fs::write(d.join("registrations.csv"), out.join("\n") + "\n").unwrap();
    };
    let spoil_prices = |d: &Path| {
        let mut bytes = std::fs::read(d.join("prices.csv")).unwrap();
        let at = bytes.len() - 3;
        bytes[at] = 0xff;
        std::fs::write(d.join("prices.csv"), bytes).unwrap();
    };
    let lines = std::fs::read_to_string(demo.join("prices.csv")).unwrap().lines().count();

    let both = tempfile::tempdir().unwrap();
    copy(both.path());
    drop_promo_price(both.path());
    spoil_prices(both.path());
    let m = run(both.path()).err().expect("an error");
    assert!(m.contains("prices.csv") && m.contains(&format!("line {lines}: the file is not UTF-8")), "{m}");

    let regs_only = tempfile::tempdir().unwrap();
    copy(regs_only.path());
    drop_promo_price(regs_only.path());
    let m = run(regs_only.path()).err().expect("an error");
    assert!(m.contains("registrations.csv") && m.contains("missing required column `promo_price`"), "{m}");
}

/// CSV as exporters that quote every field write it (pandas' `QUOTE_ALL`, Spark's `quoteAll`,
/// DuckDB's `FORCE_QUOTE *`), with `\r\n` line ends: the demo's findings byte for byte (evidence
/// rows and lines included), and bad rows after a quoted line break rejected on their own physical
/// lines (the byte scan's 64-byte blocks across quotes).
#[test]
fn every_field_quoted_with_crlf_reads_as_the_plain_csv() {
    let d = tempfile::tempdir().unwrap();
    for t in ["prices", "registrations", "ladders", "retail", "merchants"] {
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(format!("fixtures/demo/{t}.csv")).unwrap();
        let mut w = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Always)
            .terminator(csv::Terminator::CRLF)
            .from_path(d.path().join(format!("{t}.csv")))
            .unwrap();
        let mut lines = 0;
        for rec in r.records() {
            w.write_record(&rec.unwrap()).unwrap();
            lines += 1;
        }
        if t == "prices" {
            // line `lines + 1`: a price with a comma, its channel holding a quoted `\r\n`; then a
            // row two lines further down with a bad timestamp
            w.write_record(["O1", "A", "2024-05-12 09:00:00", "9,90", "txn", "a\r\nb", "", ""]).unwrap();
            w.write_record(["O1", "A", "not a time", "10.00", "txn", "regular", "", ""]).unwrap();
            assert_eq!(lines, 52);
        }
        w.flush().unwrap();
    }
    let text = std::fs::read(d.path().join("prices.csv")).unwrap();
    assert!(text.starts_with(b"\"offer_id\",\"sku_id\"") && text.windows(2).filter(|w| w == b"\r\n").count() >= 54);
    let quoted = run(d.path()).unwrap();
    let plain = run(Path::new("fixtures/demo")).unwrap();
    assert!(plain.dump.rejects.is_empty());
    let got: Vec<(String, u64, String)> =
        quoted.dump.rejects.iter().map(|r| (r.table.clone(), r.line, r.column.clone())).collect();
    assert_eq!(got, vec![("prices".into(), 53, "price".into()), ("prices".into(), 55, "ts".into())]);
    assert!(quoted.summary.reconciled);
    assert!(!plain.findings.is_empty());
    assert_eq!(
        priceaudit::output::findings_csv(&quoted.findings).unwrap(),
        priceaudit::output::findings_csv(&plain.findings).unwrap()
    );
}
