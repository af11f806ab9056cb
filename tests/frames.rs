//! Issue 22: tables handed over in memory (the Python module, a Spark task's bucket): the same
//! audit as the dump's, each row showing the number it is given (else its 0-based index), a
//! reject naming its part, and the whole dump's horizon given to a share of it.

mod common;
use polars::prelude::*;
use priceaudit::dump::Frame;
use priceaudit::findings::Table;
use priceaudit::{audit, audit_frames, AuditOptions};
use std::path::Path;
use std::sync::Arc;

const DEMO: &str = "fixtures/demo";

/// A demo table read as text (every column a string), as a notebook reads CSV without inference.
fn text_table(dir: &Path, t: Table) -> Option<DataFrame> {
    let p = dir.join(format!("{}.csv", t.as_str()));
    p.exists().then(|| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(p))
            .unwrap()
            .finish()
            .unwrap()
    })
}

/// The demo's tables in memory, each row numbered by its CSV line (header = 1) when `lines`.
fn demo_frames(lines: bool) -> Vec<(Table, Frame)> {
    Table::ALL
        .into_iter()
        .filter_map(|t| text_table(Path::new(DEMO), t).map(|df| (t, df)))
        .map(|(t, df)| {
            let rows = lines.then(|| (0..df.height() as u64).map(|i| i + 2).collect::<Arc<[u64]>>());
            (t, Frame { df, rows, parts: Vec::new() })
        })
        .collect()
}

fn findings_text(a: &priceaudit::Audit) -> String {
    String::from_utf8(priceaudit::output::findings_csv(&a.findings).unwrap()).unwrap()
}

#[test]
fn frames_numbered_as_lines_give_the_dump_s_findings_byte_for_byte() {
    let dir = audit(Path::new(DEMO), &AuditOptions::default()).unwrap();
    let mem = audit_frames(demo_frames(true), &AuditOptions::default()).unwrap();
    assert!(!dir.findings.is_empty());
    assert_eq!(findings_text(&mem), findings_text(&dir));
    assert_eq!(
        priceaudit::output::registrations_csv(&mem.verdicts).unwrap(),
        priceaudit::output::registrations_csv(&dir.verdicts).unwrap()
    );
    assert_eq!(mem.summary.dump, priceaudit::dump::IN_MEMORY);
    assert_eq!(mem.summary.tables["prices"].format, "arrow");
    assert_eq!(mem.summary.findings, dir.summary.findings);
}

#[test]
fn unnumbered_frames_show_the_0_based_index() {
    let dir = audit(Path::new(DEMO), &AuditOptions::default()).unwrap();
    let mem = audit_frames(demo_frames(false), &AuditOptions::default()).unwrap();
    assert_eq!(mem.findings.len(), dir.findings.len());
    let mut numbered = 0;
    for (m, d) in mem.findings.iter().zip(&dir.findings) {
        let (m, d) = (m.cells(), d.cells());
        let row = priceaudit::findings::COLUMNS.iter().position(|c| *c == "evidence_row").unwrap();
        match (m[row].parse::<u64>(), d[row].parse::<u64>()) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a + 2, b, "index 0 is the line after the header");
                numbered += 1;
            }
            (a, b) => assert_eq!(a.is_ok(), b.is_ok()),
        }
    }
    assert!(numbered > 10);
}

/// A reject of a table whose rows came from parts names the part and the row in it.
#[test]
fn a_reject_names_its_part_and_its_row_there() {
    let mut frames = demo_frames(false);
    let prices = &mut frames.iter_mut().find(|(t, _)| *t == Table::Prices).unwrap().1;
    // row 5 of the table, the second part's row 2 when parts start at rows 0 and 3
    let mut price: Vec<Option<String>> =
        prices.df.column("price").unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect();
    price[5] = Some("-1".into());
    prices.df.with_column(Column::new("price".into(), price)).unwrap();
    prices.rows = Some((0..prices.df.height() as u64).collect());
    prices.parts = vec![("prices/a.parquet".into(), 0), ("prices/b.parquet".into(), 3)];
    let a = audit_frames(frames, &AuditOptions::default()).unwrap();
    let r: Vec<_> = a.dump.rejects.iter().map(|r| (r.table.as_str(), r.line, r.column.as_str())).collect();
    assert_eq!(r, vec![("prices/b.parquet", 2, "price")]);
    assert!(a.summary.reconciled);
}

#[test]
fn row_numbers_must_match_the_rows() {
    let mut frames = demo_frames(false);
    frames[0].1.rows = Some(Arc::from(vec![1u64, 2]));
    let e = audit_frames(frames, &AuditOptions::default()).err().expect("refused");
    assert!(e.message.contains("row numbers for"), "{}", e.message);
}

#[test]
fn missing_and_doubled_tables_are_refused() {
    let frames: Vec<_> = demo_frames(false).into_iter().filter(|(t, _)| *t != Table::Prices).collect();
    let e = audit_frames(frames, &AuditOptions::default()).err().expect("refused");
    assert_eq!(e.message, "missing table `prices`");
    let mut frames = demo_frames(false);
    let again = frames[0].clone();
    frames.push(again);
    let e = audit_frames(frames, &AuditOptions::default()).err().expect("refused");
    assert!(e.message.ends_with("given twice"), "{}", e.message);
}

/// The horizon of the price rows is the dump's (SPEC §10.4), and a later horizon given to a share
/// of the dump decides its K rules: windows the demo's own horizon leaves unchecked are checked.
#[test]
fn the_given_horizon_is_the_later_of_it_and_the_share_s() {
    let dir = audit(Path::new(DEMO), &AuditOptions::default()).unwrap();
    let prices = demo_frames(false).into_iter().find(|(t, _)| *t == Table::Prices).unwrap().1;
    let h = priceaudit::price_horizon(prices, &AuditOptions::default()).unwrap();
    assert_eq!(h, dir.facts.horizon);
    let unchecked = |a: &priceaudit::Audit| {
        a.summary.not_checked.iter().filter(|n| n.rule == "K501").filter_map(|n| n.registrations).sum::<u64>()
    };
    assert!(unchecked(&dir) > 0);
    let earlier = AuditOptions { horizon: Some(h.unwrap() - 1), ..Default::default() };
    let same = audit_frames(demo_frames(true), &earlier).unwrap();
    assert_eq!(unchecked(&same), unchecked(&dir), "an earlier horizon changes nothing");
    let later = AuditOptions { horizon: Some(i64::MAX / 2), ..Default::default() };
    let all = audit_frames(demo_frames(true), &later).unwrap();
    assert_eq!(unchecked(&all), 0, "every window ends before a far horizon");
}
