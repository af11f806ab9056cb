//! Issue 7's property: for every registration, rerunning the audit with
//! `promo_price := max_ok_price` clears every price finding of that registration, and
//! `max_ok_price + price_tick` does not.

use priceaudit::{audit, AuditOptions};
use std::path::Path;

mod common;

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
        .filter(|f| f.registration_id == id && priceaudit::verdict::price_rules().contains(&f.rule))
        .map(|f| f.rule.to_string())
        .collect()
}

fn check_dump(dump: &Path, limit: usize) -> usize {
    let base = audit(dump, &AuditOptions::default()).unwrap();
    let mut checked = 0;
    for v in base.verdicts.iter().filter(|v| v.max_ok_price.is_some()).take(limit) {
        let tick = base.settings.profile(&v.activity).unwrap().price_tick;
        let ok = v.max_ok_price.as_ref().unwrap().get();
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
            above.iter().any(|r| Some(r.as_str()) == v.binding_rule),
            "{}: the binding rule {} fires one tick above, got {above:?}",
            v.registration_id,
            v.cell("binding_rule")
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
    // list 10 (P103 strict 9), retail 11.25 (P104 strict 9), warm-up 8.5 (P106 strict) → 8.49;
    // but the offer's lowest ladder tier is 0.99 (P111: at most it)
    assert_eq!(
        (r02.cell("max_ok_price").as_str(), r02.cell("binding_rule").as_str(), r02.cell("headroom").as_str()),
        ("0.99", "P111", "8.01")
    );
    assert!(r02.not_price_fixable.contains(&"S201") && r02.not_price_fixable.contains(&"C401"));
    assert_eq!(a.verdicts.iter().find(|v| v.registration_id == "R03").unwrap().verdict.as_str(), "unverifiable");
    assert_eq!(a.verdicts.iter().find(|v| v.registration_id == "R09").unwrap().verdict.as_str(), "at-risk");
}

/// A small deterministic generator (no dependency): dumps where big promos overlap other
/// activities priced above *and below* them, warm-ups hold other registrations, ladders and
/// retail observations exist, and excluded channels hold the lowest prices.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A price in [lo, hi) cents, as text.
    fn price(&mut self, lo: u64, hi: u64) -> String {
        let c = lo + self.below(hi - lo);
        format!("{}.{:02}", c / 100, c % 100)
    }
}

fn generated_dump(seed: u64) -> tempfile::TempDir {
    let mut g = Lcg(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let d = tempfile::tempdir().unwrap();
    let skus = [("O1", "A"), ("O1", "B"), ("O2", "A")];
    let channels =
        ["regular", "regular", "huopin", "private_adjust", "flash_deal", "member_price", "coins", "livestream"];
    let mut prices = vec![];
    let mut ladders = vec![];
    let mut retail = vec![];
    let mut regs = vec![];
    let mut n = 0;
    for (o, s) in skus {
        // list rows over half a year, some of excluded channels; transactions in every channel
        for day in (0..180).step_by(1 + g.below(40) as usize) {
            let ch = if g.below(4) == 0 { g.pick(&channels) } else { "regular" };
            let date = chrono::NaiveDate::from_ymd_opt(2023, 12, 1).unwrap() + chrono::Days::new(day);
            prices.push(format!("{o},{s},{date} 09:00:00,{},list,{ch},", g.price(900, 2000)));
        }
        for _ in 0..(5 + g.below(20)) {
            let date = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap() + chrono::Days::new(g.below(45));
            prices.push(format!(
                "{o},{s},{date} 12:{:02}:00,{},txn,{},",
                g.below(60),
                g.price(700, 2000),
                g.pick(&channels)
            ));
        }
        if g.below(2) == 0 {
            for q in [1, 10, 100] {
                ladders.push(format!("{o},{s},{q},{},", g.price(100, 2000)));
            }
        }
        for _ in 0..g.below(3) {
            let date = chrono::NaiveDate::from_ymd_opt(2024, 5, 10).unwrap() + chrono::Days::new(g.below(20));
            retail.push(format!("{o},{s},taobao,{date} 10:00:00,{}", g.price(1000, 2600)));
        }
        // registrations: windows that often overlap one another and the others' warm-ups
        for _ in 0..(2 + g.below(3)) {
            n += 1;
            let act = g.pick(&[
                "huopin",
                "yanxuan",
                "ae-platform",
                "ae-store",
                "eu-omnibus",
                "cn-samr",
                "ae-store",
                "huopin",
                "huopin-double",
            ]);
            // huopin-double's E309 bounds the price from below: sku_supply × price ≥ 1000
            let supply = 40 + g.below(120);
            let start = chrono::NaiveDate::from_ymd_opt(2024, 6, 5).unwrap() + chrono::Days::new(g.below(8));
            let end = start + chrono::Days::new(1 + g.below(4));
            let list = if g.below(3) == 0 { g.price(1000, 2200) } else { String::new() };
            let retail_price = if g.below(4) == 0 { g.price(1000, 2600) } else { String::new() };
            regs.push(format!(
                "R{n},{o},{s},M1,{act},,2024-06-01 {:02}:00:00,,{start} 10:00:00,{end} 10:00:00,,{},{list},{retail_price},,,,,,{supply},",
                g.below(24),
                g.price(600, 2000)
            ));
        }
    }
    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    common::write(d.path(), "prices.csv", common::PRICES, &refs(&prices));
    common::write(d.path(), "registrations.csv", common::REGS, &refs(&regs));
    common::write(d.path(), "ladders.csv", common::LADDERS, &refs(&ladders));
    common::write(d.path(), "retail.csv", common::RETAIL, &refs(&retail));
    d
}

/// Issue 17: on generated dumps (not one fixture), every registration with a `max_ok_price`
/// passes every price rule at that price, and fails its binding rule one tick above. Among them,
/// registrations overlapping a big promo priced above their own price: P107 bounds them too.
#[test]
fn generated_max_ok_price_is_tight_with_overlapping_big_promos() {
    let (mut checked, mut p107_bound, mut e309_blocked) = (0, 0, 0);
    for seed in 0..24 {
        let d = generated_dump(seed);
        let base = audit(d.path(), &AuditOptions::default()).unwrap();
        p107_bound += base.verdicts.iter().filter(|v| v.binding_rule == Some("P107")).count();
        e309_blocked += base.verdicts.iter().filter(|v| v.binding_rule == Some("E309")).count();
        checked += check_dump(d.path(), usize::MAX);
    }
    assert!(checked >= 150, "{checked} registrations checked");
    assert!(p107_bound >= 3, "P107 bound only {p107_bound} registrations");
    assert!(e309_blocked >= 1, "E309 never blocked a price");
}

/// The case: D (huopin, promo 30) overlaps big promo R (ae-platform, promo 34) and P101
/// alone would allow 40. The highest compliant price is 34, bound by P107 (repricing D to 40
/// would fire P107); at 34.01 P107 fires.
#[test]
fn p107_bounds_a_registration_priced_below_the_big_promo() {
    let d = common::TinyDump::new(
        &["O1,A,2024-05-20 10:00:00,40.00,txn,regular,", "O1,A,2024-01-01 00:00:00,40.00,list,regular,"],
        &[
            &common::reg(
                "D",
                "O1",
                "A",
                "huopin",
                "2024-06-01 10:00:00",
                "2024-06-10 10:00:00",
                "2024-06-12 10:00:00",
                "30",
                "50",
                "",
            ),
            &common::reg(
                "R",
                "O1",
                "A",
                "ae-platform",
                "2024-06-01 10:00:00",
                "2024-06-11 10:00:00",
                "2024-06-13 10:00:00",
                "34",
                "",
                "",
            ),
        ],
    );
    let a = d.audit();
    let v = a.verdicts.iter().find(|v| v.registration_id == "D").unwrap();
    assert_eq!((v.cell("max_ok_price").as_str(), v.cell("binding_rule").as_str()), ("34", "P107"), "{v:?}");
    assert!(!common::has(&a.findings, "P107", "D"));
    let work = tempfile::tempdir().unwrap();
    copy_dump(d.path(), work.path());
    reprice(work.path(), "D", "34.01");
    assert_eq!(price_findings(work.path(), "D"), vec!["P107".to_string()]);
    reprice(work.path(), "D", "34");
    assert!(price_findings(work.path(), "D").is_empty());
}
