//! Issue 7's property: for every registration, rerunning the audit with
//! `promo_price := max_ok_price` clears every price finding of that registration, and
//! `max_ok_price + price_tick` does not.

use priceaudit::money::Dec;
use priceaudit::verdict::PRICE_RULES;
use priceaudit::{audit, AuditOptions};
use std::path::Path;

fn copy_dump(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// Rewrite one registration's promo_price in registrations.csv.
fn reprice(dir: &Path, id: &str, price: &str) {
    let path = dir.join("registrations.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let headers = r.headers().unwrap().clone();
    let (ci, pi) = (
        headers.iter().position(|h| h == "registration_id").unwrap(),
        headers.iter().position(|h| h == "promo_price").unwrap(),
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(&headers).unwrap();
    for row in rows {
        let mut v: Vec<String> = row.iter().map(str::to_string).collect();
        if v[ci] == id {
            v[pi] = price.to_string();
        }
        w.write_record(&v).unwrap();
    }
    w.flush().unwrap();
}

fn price_findings(dir: &Path, id: &str) -> Vec<String> {
    let a = audit(dir, &AuditOptions::default()).unwrap();
    a.findings
        .iter()
        .filter(|f| f.registration_id == id && PRICE_RULES.contains(&f.rule))
        .map(|f| f.rule.to_string())
        .collect()
}

fn check_dump(dump: &Path, limit: usize) -> usize {
    let base = audit(dump, &AuditOptions::default()).unwrap();
    let mut checked = 0;
    for v in base.verdicts.iter().filter(|v| !v.max_ok_price.is_empty()).take(limit) {
        let tick = base.settings.profile(&v.activity).unwrap().price_tick;
        let ok = Dec::parse(&v.max_ok_price).unwrap();
        let work = tempfile::tempdir().unwrap();
        copy_dump(dump, work.path());
        reprice(work.path(), &v.registration_id, &ok.to_string());
        let at = price_findings(work.path(), &v.registration_id);
        assert!(at.is_empty(), "{} at max_ok_price {ok} still fails {at:?}", v.registration_id);
        let over = ok.add(tick);
        reprice(work.path(), &v.registration_id, &over.to_string());
        let above = price_findings(work.path(), &v.registration_id);
        assert!(
            !above.is_empty(),
            "{} at {over} (one tick above max_ok_price) passes every price rule",
            v.registration_id
        );
        assert!(
            above.iter().any(|r| *r == v.binding_rule),
            "{}: the binding rule {} fires one tick above, got {above:?}",
            v.registration_id,
            v.binding_rule
        );
        checked += 1;
    }
    checked
}

#[test]
fn demo_max_ok_price_is_tight() {
    assert!(check_dump(Path::new("fixtures/demo"), usize::MAX) >= 10);
}

#[test]
fn synthetic_max_ok_price_is_tight() {
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 120, 200, 11, priceaudit::synth::Format::Csv).unwrap();
    assert!(check_dump(d.path(), 40) >= 20);
}

#[test]
fn registrations_output_covers_every_registration() {
    let a = audit(Path::new("fixtures/demo"), &AuditOptions::default()).unwrap();
    assert_eq!(a.verdicts.len(), a.facts.registrations.len());
    let r02 = a.verdicts.iter().find(|v| v.registration_id == "R02").unwrap();
    // list 10 (P103 strict 9), retail 11.25 (P104 strict 9), warm-up 8.5 (P106 strict) → 8.49
    assert_eq!((r02.max_ok_price.as_str(), r02.binding_rule.as_str(), r02.headroom.as_str()), ("8.49", "P106", "0.51"));
    assert!(r02.not_price_fixable.contains("S201") && r02.not_price_fixable.contains("C401"));
    assert_eq!(a.verdicts.iter().find(|v| v.registration_id == "R03").unwrap().verdict.as_str(), "unverifiable");
    assert_eq!(a.verdicts.iter().find(|v| v.registration_id == "R09").unwrap().verdict.as_str(), "at-risk");
}
