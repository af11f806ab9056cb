//! Issue 21: a large Parquet row group is decoded in pieces (`POLARS_PARQUET_DECODE_MAX_ROWS`,
//! vendor/polars-stream), so that what the price pass holds does not grow with the writer's
//! row-group size. The pieces are slices of the row group: an audit reading the row groups in
//! pieces of a few rows writes the same bytes, every file, as one reading them whole (the
//! evidence rows and the rejects' lines included).

mod common;

use polars::prelude::*;
use std::path::Path;
use std::process::Command;

/// Audit `dump` with the CLI, row groups decoded in pieces of at most `max_rows` rows (0:
/// whole); the output directory's files by name.
fn audit_in_pieces(dump: &Path, max_rows: usize) -> Vec<(String, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_priceaudit"))
        .env("POLARS_PARQUET_DECODE_MAX_ROWS", max_rows.to_string())
        .args(["audit", dump.to_str().unwrap(), "--out", out.path().to_str().unwrap(), "--fail-on", "never"])
        .args(["--quiet"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn row_groups_read_in_pieces_give_the_same_outputs() {
    let dump = tempfile::tempdir().unwrap();
    for t in ["ladders", "retail", "merchants"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), dump.path().join(format!("{t}.csv"))).unwrap();
    }
    // the prices with a bad row in the middle (a reject, named by its row), one row group each
    let prices = common::demo_text("prices");
    let bad = df!(
        "offer_id" => ["O1"], "sku_id" => ["A"], "ts" => ["2024-05-12 10:00:00"], "price" => ["x"],
        "kind" => ["txn"], "channel" => ["regular"], "until" => [None::<&str>], "qty" => [None::<&str>]
    )
    .unwrap();
    let mut prices = prices.slice(0, 20).vstack(&bad).unwrap().vstack(&prices.slice(20, usize::MAX)).unwrap();
    let mut regs = common::demo_text("registrations");
    assert!(prices.height() > 40 && regs.height() > 40);
    for (name, df) in [("prices", &mut prices), ("registrations", &mut regs)] {
        let f = std::fs::File::create(dump.path().join(format!("{name}.parquet"))).unwrap();
        ParquetWriter::new(f).with_row_group_size(Some(1 << 20)).finish(df).unwrap();
    }

    let whole = audit_in_pieces(dump.path(), 0);
    let text = |name: &str| String::from_utf8(whole.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap();
    // the bad row is rejected by its place (record 20, counted from 0: after 20 good ones)
    let rejects = text("rejects.csv");
    assert!(rejects.lines().count() == 2 && rejects.contains("prices,20,price,"), "{rejects}");
    // findings quote price rows from the whole table: evidence from beyond the first pieces
    let findings = text("findings.csv");
    assert!(findings.lines().count() > 10, "{findings}");
    let json = text("findings.json");
    let rows: Vec<u64> = json
        .split("\"evidence_row\":")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(rows.iter().any(|&r| r > 40), "evidence rows {rows:?}");

    for max_rows in [1, 4, 7] {
        let pieces = audit_in_pieces(dump.path(), max_rows);
        assert_eq!(pieces.len(), whole.len());
        for ((n, a), (m, b)) in whole.iter().zip(&pieces) {
            assert_eq!(n, m);
            assert!(a == b, "{n} differs with pieces of {max_rows} rows");
        }
    }
}
