//! Issue 21: `explain` of one registration reads only its offer's price, ladder and retail rows
//! and the registrations its rules relate it to (its offer's, and those registrations'
//! merchants'), with the whole table's horizon: its derivation is the one a full audit gives, for
//! every registration of the demo and of synthetic dumps in CSV and Parquet (rows shuffled too).

mod common;
use priceaudit::{audit, AuditOptions};
use std::path::Path;

fn same_explanations(dir: &Path) -> usize {
    let full = audit(dir, &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
    let ids: Vec<String> = full.facts.registrations.iter().map(|r| r.registration_id.to_string()).collect();
    for id in &ids {
        let focused =
            audit(dir, &AuditOptions { stream_prices: false, focus: Some(id.clone()), ..Default::default() }).unwrap();
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
}

#[test]
fn focused_explain_is_the_full_audits_on_synthetic_dumps() {
    for format in [priceaudit::synth::Format::Csv, priceaudit::synth::Format::Parquet] {
        let d = tempfile::tempdir().unwrap();
        priceaudit::synth::synth(d.path(), 60, 120, 11, format).unwrap();
        assert!(same_explanations(d.path()) > 30);
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
    let focus = AuditOptions { stream_prices: false, focus: Some("R22".into()), ..Default::default() };
    let focused = audit(Path::new("fixtures/demo"), &focus).unwrap();
    let rows = |a: &priceaudit::Audit| a.dump.price_rows().unwrap().height();
    assert!(rows(&focused) < rows(&full));
    assert_eq!(rows(&focused), 1, "O23 has one price row");
    assert_eq!(focused.facts.horizon, full.facts.horizon, "the whole table's horizon");
}

/// `explain`'s focused read of a Parquet price table finds the offer's rows where the
/// `offer_id` column lies (src/dump/offer_rows.rs): on the conformance dump's prices as pyarrow
/// writes them (fixtures/offer-pages: dictionary pages going on in plain pages, data page v2,
/// definition levels, plain `large_string` pages, a delta encoding decoded instead, row groups
/// sorted by offer that statistics exclude), a sample of registrations is explained as the full
/// audit explains it, and the CLI says the offer's rows were read in pieces.
#[test]
fn focused_explain_of_parquet_prices_in_other_encodings_is_the_full_audits() {
    let basic = Path::new("fixtures/conformance/basic");
    for variant in ["basic-dict-v1", "basic-dict-v2-nulls", "basic-plain-v2", "basic-delta", "basic-sorted"] {
        let d = tempfile::tempdir().unwrap();
        for t in ["registrations", "ladders", "retail"] {
            std::fs::copy(basic.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
        }
        let prices = Path::new("fixtures/offer-pages").join(variant).join("prices.parquet");
        std::fs::copy(&prices, d.path().join("prices.parquet")).unwrap();
        let full = audit(d.path(), &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
        let ids: Vec<String> = full.facts.registrations.iter().map(|r| r.registration_id.to_string()).collect();
        assert!(ids.len() > 800, "{}", ids.len());
        let mut rows_seen = 0;
        for id in ids.iter().step_by(37) {
            let focus = AuditOptions { stream_prices: false, focus: Some(id.clone()), ..Default::default() };
            let focused = audit(d.path(), &focus).unwrap();
            let a = priceaudit::explain::text(&priceaudit::explain::explain(&full, id).unwrap());
            let b = priceaudit::explain::text(&priceaudit::explain::explain(&focused, id).unwrap());
            assert_eq!(a, b, "{id} in {variant}");
            rows_seen += focused.dump.price_rows().unwrap().height();
        }
        assert!(rows_seen > 100, "{variant}: {rows_seen} price rows over the sample");
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
