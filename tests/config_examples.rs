//! The shipped config examples (fixtures/config) run and their findings are snapshot-tested.

mod common;

use priceaudit::{audit, AuditOptions};
use std::path::{Path, PathBuf};

fn run(dump: &str, config: &str) -> priceaudit::Audit {
    let opts = AuditOptions { config: Some(PathBuf::from(config)), ..Default::default() };
    audit(Path::new(dump), &opts).expect("audit with config")
}

fn csv(a: &priceaudit::Audit) -> String {
    String::from_utf8(priceaudit::output::findings_csv(&a.findings).unwrap()).unwrap()
}

#[test]
fn clearance_campaign_at_085_of_list() {
    let a = run("fixtures/campaigns", "fixtures/config/clearance.toml");
    let p103: Vec<(&str, &str)> = a
        .findings
        .iter()
        .filter(|f| f.rule == "P103")
        .map(|f| (f.registration_id.as_str(), f.threshold.as_str()))
        .collect();
    assert_eq!(p103, vec![("K1", "85")], "85 is not below 100 × 0.85; 84.99 is");
    // 48 h warm-up: the 80 sale 42 h before the promo is in it.
    assert!(a.findings.iter().any(|f| f.rule == "P106" && f.registration_id == "K3"));
    insta::assert_snapshot!("clearance_findings_csv", csv(&a));
}

#[test]
fn ae_category_discounts() {
    let a = run("fixtures/demo", "fixtures/config/ae-category.toml");
    // R05 (apparel, 19.99) now fails: 20 × (1 − 0.05) = 19.
    let r05 = a.findings.iter().find(|f| f.rule == "P102" && f.registration_id == "R05").expect("R05 P102");
    assert_eq!(r05.threshold, "19");
    insta::assert_snapshot!("ae_category_findings_csv", csv(&a));
}

#[test]
fn bad_config_exits_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[profile.ae-platform.category_discount]\napparel = \"five percent\"\n").unwrap();
    let opts = AuditOptions { config: Some(cfg.clone()), ..Default::default() };
    let e = audit(Path::new("fixtures/demo"), &opts).err().expect("bad config fails").message;
    assert!(
        e.contains("bad.toml")
            && e.contains("profile.ae-platform.category_discount.apparel")
            && e.contains("not a decimal"),
        "{e}"
    );
}
