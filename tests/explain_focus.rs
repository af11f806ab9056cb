//! Issue 21: `explain` of one registration reads only its offer's price, ladder and retail rows
//! and the registrations its rules relate it to (its offer's, and those registrations'
//! merchants'), with the whole table's horizon: its derivation is the one a full audit gives, for
//! every registration of the demo and of synthetic dumps in CSV and Parquet (rows shuffled too).
//! `explain --offer` reads what its registrations' derivations read, the same way.

mod common;
use priceaudit::{audit, AuditOptions};
use std::path::Path;

/// `explain --offer` of every offer of `dir` (a sample: every `step`th) reads only what their
/// registrations' derivations read, yet lists the offer's registrations and explains each as
/// the full audit does. Returns the registrations explained.
fn same_offer_explanations(dir: &Path, step: usize) -> usize {
    use priceaudit::explain::{explain, registrations_of, text};
    let full = audit(dir, &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
    let mut offers: Vec<String> = full.facts.registrations.iter().map(|r| r.offer_id.to_string()).collect();
    offers.sort();
    offers.dedup();
    let mut n = 0;
    for o in offers.iter().step_by(step) {
        let focused = audit(dir, &AuditOptions::explain_offer(None, None, o.clone())).unwrap();
        let ids = registrations_of(&full, o, None);
        assert!(!ids.is_empty());
        assert_eq!(registrations_of(&focused, o, None), ids, "{o} in {}", dir.display());
        for id in &ids {
            let (a, b) = (text(&explain(&full, id).unwrap()), text(&explain(&focused, id).unwrap()));
            assert_eq!(a, b, "{id} of {o} in {}", dir.display());
            n += 1;
        }
    }
    n
}

fn same_explanations(dir: &Path) -> usize {
    let full = audit(dir, &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
    let ids: Vec<String> = full.facts.registrations.iter().map(|r| r.registration_id.to_string()).collect();
    for id in &ids {
        let focused = audit(dir, &AuditOptions::explain(None, None, Some(id.clone()))).unwrap();
        assert!(focused.facts.registrations.len() <= full.facts.registrations.len());
        let a = priceaudit::explain::text(&priceaudit::explain::explain(&full, id).unwrap());
        let b = priceaudit::explain::text(&priceaudit::explain::explain(&focused, id).unwrap());
        assert_eq!(a, b, "{id} in {}", dir.display());
    }
    ids.len()
}

#[test]
fn focused_explain_is_the_full_audits_on_the_demo() {
    assert_eq!(same_explanations(Path::new("fixtures/demo")), 42);
    assert_eq!(same_offer_explanations(Path::new("fixtures/demo"), 1), 42);
}

#[test]
fn focused_explain_is_the_full_audits_on_synthetic_dumps() {
    for format in [priceaudit::synth::Format::Csv, priceaudit::synth::Format::Parquet] {
        let d = tempfile::tempdir().unwrap();
        priceaudit::synth::synth(d.path(), 60, 120, 11, format).unwrap();
        assert!(same_explanations(d.path()) > 30);
        assert!(same_offer_explanations(d.path(), 3) > 10);
    }
    // the same rows shuffled (rows of one offer scattered through the file)
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 60, 120, 12, priceaudit::synth::Format::Csv).unwrap();
    let text = std::fs::read_to_string(d.path().join("prices.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let mut keyed: Vec<(u64, &str)> =
        lines.iter().enumerate().map(|(i, l)| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11, *l)).collect();
    keyed.sort();
    let shuffled: Vec<&str> = std::iter::once(header).chain(keyed.into_iter().map(|(_, l)| l)).collect();
    std::fs::write(d.path().join("prices.csv"), shuffled.join("\n") + "\n").unwrap();
    assert!(same_explanations(d.path()) > 30);
}

/// The focused read holds only the offer's price rows.
#[test]
fn focused_explain_reads_only_the_offers_rows() {
    let full = audit(Path::new("fixtures/demo"), &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
    let focus = AuditOptions::explain(None, None, Some("R22".into()));
    let focused = audit(Path::new("fixtures/demo"), &focus).unwrap();
    let rows = |a: &priceaudit::Audit| a.dump.price_rows().unwrap().height();
    assert!(rows(&focused) < rows(&full));
    assert_eq!(rows(&focused), 1, "O23 has one price row");
    assert_eq!(focused.facts.horizon, full.facts.horizon, "the whole table's horizon");
}

/// `explain`'s focused read of a Parquet price table finds the offer's rows where the
/// `offer_id` column lies (src/dump/offer_rows.rs): on the conformance dump's prices as pyarrow
/// writes them (fixtures/offer-pages: dictionary pages going on in plain pages, data page v2,
/// definition levels, plain `large_string` pages, `DELTA_BYTE_ARRAY` pages, row groups sorted by
/// offer that statistics exclude), a sample of registrations is explained as the full audit
/// explains it, and the CLI says the offer's rows were read in pieces.
#[test]
fn focused_explain_of_parquet_prices_in_other_encodings_is_the_full_audits() {
    for (variant, d) in common::basic_with_pyarrow_prices() {
        let full = audit(d.path(), &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
        let ids: Vec<String> = full.facts.registrations.iter().map(|r| r.registration_id.to_string()).collect();
        assert!(ids.len() > 800, "{}", ids.len());
        let mut rows_seen = 0;
        for id in ids.iter().step_by(37) {
            let focus = AuditOptions::explain(None, None, Some(id.clone()));
            let focused = audit(d.path(), &focus).unwrap();
            let a = priceaudit::explain::text(&priceaudit::explain::explain(&full, id).unwrap());
            let b = priceaudit::explain::text(&priceaudit::explain::explain(&focused, id).unwrap());
            assert_eq!(a, b, "{id} in {variant}");
            rows_seen += focused.dump.price_rows().unwrap().height();
        }
        assert!(rows_seen > 100, "{variant}: {rows_seen} price rows over the sample");
        assert!(same_offer_explanations(d.path(), 29) > 20, "{variant}");
        // the CLI took the focused piece reader
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_priceaudit"))
            .env("PRICEAUDIT_TIMINGS", "2")
            .args(["explain", d.path().to_str().unwrap(), "--registration", &ids[5]])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(stderr.contains("(the offer's rows read in pieces)"), "{variant}: {stderr}");
    }
}

/// The focused read validates only the registrations whose ids can matter and the merchants the
/// registrations name, yet keeps the rows the whole table keeps: a registration id first seen
/// under another offer and merchant (that row kept, the later one a duplicate), an id whose
/// first row is rejected (the later good row kept), a merchant listed twice (the first kept):
/// every registration of the demo so changed is explained as the full audit explains it.
#[test]
fn focused_explain_keeps_the_rows_the_whole_table_keeps() {
    let d = tempfile::tempdir().unwrap();
    for t in ["prices", "ladders", "retail"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), d.path().join(format!("{t}.csv"))).unwrap();
    }
    let regs = std::fs::read_to_string("fixtures/demo/registrations.csv").unwrap();
    let mut lines: Vec<String> = regs.lines().map(str::to_string).collect();
    let row = |id: &str| lines.iter().find(|l| l.starts_with(&format!("{id},"))).unwrap().clone();
    // R05 (O5, M3) first seen as O2's under M1; R06 first seen with a promo price that is no money
    let r05 = row("R05").replacen("R05,O5,A,M3,", "R05,O2,A,M1,", 1);
    let r06 = row("R06").replacen(",14.50,", ",fourteen,", 1);
    assert!(r05 != row("R05") && r06 != row("R06"), "{r06}");
    lines.insert(1, r05);
    lines.insert(1, r06);
    std::fs::write(d.path().join("registrations.csv"), lines.join("\n") + "\n").unwrap();
    // M3 listed again at the end, penalized: the first row is the one kept
    let merchants = std::fs::read_to_string("fixtures/demo/merchants.csv").unwrap();
    let m3 = merchants.lines().find(|l| l.starts_with("M3,")).unwrap().replacen(",false,", ",true,", 1);
    std::fs::write(d.path().join("merchants.csv"), merchants + &m3 + "\n").unwrap();

    let full = audit(d.path(), &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
    let rejects: Vec<String> = full.dump.rejects.iter().map(|r| format!("{r:?}")).collect();
    assert!(rejects.iter().any(|r| r.contains("duplicate registration_id")), "{rejects:?}");
    assert!(rejects.iter().any(|r| r.contains("duplicate merchant_id")), "{rejects:?}");
    let r05 = full.facts.registrations.iter().find(|r| r.registration_id == "R05").unwrap();
    assert_eq!((r05.offer_id.as_ref(), r05.merchant_id.as_ref()), ("O2", "M1"), "the first R05 kept");
    assert_eq!(same_explanations(d.path()), 42);
    assert_eq!(same_offer_explanations(d.path(), 1), 42);
    // each focused read's registrations are rows the whole table keeps (R09's, of offer O5, does
    // not hold the later R05 row of O5)
    let key = |r: &priceaudit::registration::Registration| {
        format!("{} {} {} {}", r.registration_id.as_ref() as &str, &*r.offer_id, &*r.sku_id, &*r.merchant_id)
    };
    let kept: Vec<String> = full.facts.registrations.iter().map(key).collect();
    for id in ["R09", "R05", "R06", "R02"] {
        let focus = AuditOptions::explain(None, None, Some(id.into()));
        let focused = audit(d.path(), &focus).unwrap();
        for r in &focused.facts.registrations {
            assert!(kept.contains(&key(r)), "{id}: {}", key(r));
        }
    }
}

/// A Parquet price table in row groups of 5 rows (joined into pieces), one offer's rows left
/// out: the registrations of that offer are explained with no price row found (no piece holds
/// one), every other as the full audit explains it.
#[test]
fn focused_explain_of_an_offer_without_price_rows() {
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    for t in ["registrations", "ladders", "retail", "merchants"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), d.path().join(format!("{t}.csv"))).unwrap();
    }
    let prices = common::demo_text("prices");
    let mut without_o1 = prices.lazy().filter(col("offer_id").neq(lit("O1"))).collect().unwrap();
    assert!(without_o1.height() > 30);
    let f = std::fs::File::create(d.path().join("prices.parquet")).unwrap();
    ParquetWriter::new(f).with_row_group_size(Some(5)).finish(&mut without_o1).unwrap();
    assert_eq!(same_explanations(d.path()), 42);
    let focus = AuditOptions::explain(None, None, Some("R01".into()));
    let focused = audit(d.path(), &focus).unwrap();
    assert_eq!(focused.dump.price_rows().unwrap().height(), 0, "O1 has no price row left");
}

/// A Parquet price table whose text columns are categorical (pandas' `category`; the piece
/// reader decodes them as text, the offer's rows found in `offer_id`'s dictionary pages): every
/// registration and offer of the demo is explained as the full audit (polars' scan, the columns
/// read as categories) explains it.
#[test]
fn focused_explain_of_categorical_prices() {
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    for t in ["registrations", "ladders", "retail", "merchants"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), d.path().join(format!("{t}.csv"))).unwrap();
    }
    let cat = |c: &str| col(c).cast(DataType::from_categories(Categories::global()));
    let mut prices = common::demo_text("prices")
        .lazy()
        .with_columns(["offer_id", "sku_id", "kind", "channel"].map(cat))
        .collect()
        .unwrap();
    assert!(prices.dtypes().iter().filter(|t| matches!(t, DataType::Categorical(..))).count() == 4);
    let f = std::fs::File::create(d.path().join("prices.parquet")).unwrap();
    ParquetWriter::new(f).with_row_group_size(Some(7)).finish(&mut prices).unwrap();
    assert_eq!(same_explanations(d.path()), 42);
    assert_eq!(same_offer_explanations(d.path(), 1), 42);
}

/// A CSV price table is read in one pass that keeps the offer's rows and the horizon: with blank
/// lines and quoted fields among its lines, and with none, every registration and offer of the
/// demo is explained as the full audit explains it (the line numbers included).
#[test]
fn focused_explain_of_csv_prices_with_blank_lines_and_quotes() {
    let d = tempfile::tempdir().unwrap();
    for t in ["registrations", "ladders", "retail", "merchants"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), d.path().join(format!("{t}.csv"))).unwrap();
    }
    let prices = std::fs::read_to_string("fixtures/demo/prices.csv").unwrap();
    let mut lines: Vec<String> = prices.lines().map(str::to_string).collect();
    let quoted = lines[7].split(',').map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(",");
    lines[7] = quoted;
    lines.insert(12, String::new());
    lines.insert(30, String::new());
    std::fs::write(d.path().join("prices.csv"), lines.join("\n") + "\n").unwrap();
    assert_eq!(same_explanations(d.path()), 42);
    assert_eq!(same_offer_explanations(d.path(), 1), 42);
    // the line of a row after a blank line: as the file numbers it
    let focused = audit(d.path(), &AuditOptions::explain(None, None, Some("R22".into()))).unwrap();
    let text = priceaudit::explain::text(&priceaudit::explain::explain(&focused, "R22").unwrap());
    let o23 = lines.iter().position(|l| l.starts_with("O23,")).unwrap() + 1;
    assert!(o23 > 31, "{o23}");
    assert!(text.contains(&format!("\n      {o23} ")), "line {o23} in\n{text}");
}
