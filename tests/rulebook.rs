//! SPEC §10 (issue 19): the rulebook beyond the price core. Each rule at, just under and just
//! over its threshold or window edge, on tiny dumps written here.

mod common;
use common::*;
use priceaudit::{audit, AuditOptions};

/// A registration row with defaults (huopin, merchant M1, registered 2024-06-01 10:00, promo
/// 6/6 10:00 – 6/8 10:00 at 9), changed field by field.
#[derive(Clone)]
struct R {
    id: String,
    offer: String,
    sku: String,
    merchant: String,
    activity: String,
    category: String,
    registered: String,
    start: String,
    end: String,
    promo: String,
    retail: String,
    title: String,
}

fn r(id: &str, offer: &str) -> R {
    R {
        id: id.into(),
        offer: offer.into(),
        sku: "A".into(),
        merchant: "M1".into(),
        activity: "huopin".into(),
        category: String::new(),
        registered: "2024-06-01 10:00:00".into(),
        start: "2024-06-06 10:00:00".into(),
        end: "2024-06-08 10:00:00".into(),
        promo: "9".into(),
        retail: String::new(),
        title: String::new(),
    }
}

impl R {
    fn sku(mut self, v: &str) -> R {
        self.sku = v.into();
        self
    }
    fn merchant(mut self, v: &str) -> R {
        self.merchant = v.into();
        self
    }
    fn activity(mut self, v: &str) -> R {
        self.activity = v.into();
        self
    }
    fn category(mut self, v: &str) -> R {
        self.category = v.into();
        self
    }
    fn registered(mut self, v: &str) -> R {
        self.registered = v.into();
        self
    }
    fn window(mut self, start: &str, end: &str) -> R {
        self.start = start.into();
        self.end = end.into();
        self
    }
    fn promo(mut self, v: &str) -> R {
        self.promo = v.into();
        self
    }
    fn retail(mut self, v: &str) -> R {
        self.retail = v.into();
        self
    }
    fn title(mut self, v: &str) -> R {
        self.title = v.into();
        self
    }
    fn line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},,{},{},,{},,{},\"{}\",,,,,,",
            self.id,
            self.offer,
            self.sku,
            self.merchant,
            self.activity,
            self.category,
            self.registered,
            self.start,
            self.end,
            self.promo,
            self.retail,
            self.title
        )
    }
}

fn dump(regs: &[R]) -> TinyDump {
    let lines: Vec<String> = regs.iter().map(R::line).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    TinyDump::new(&["O1,A,2024-05-20,10,txn,,"], &refs)
}

fn with_tz(d: &TinyDump, tz: &str) -> priceaudit::Audit {
    audit(d.path(), &AuditOptions { tz: Some(tz.into()), ..Default::default() }).unwrap()
}

fn rules_of(a: &priceaudit::Audit, rule: &str) -> Vec<String> {
    a.findings.iter().filter(|f| f.rule == rule).map(|f| f.registration_id.to_string()).collect()
}

fn not_checked(a: &priceaudit::Audit, rule: &str) -> Vec<(Option<u64>, String)> {
    a.summary.not_checked.iter().filter(|n| n.rule == rule).map(|n| (n.registrations, n.reason.clone())).collect()
}

// ---------------------------------------------------------------------------------------- S203

/// A slot less than 3 local dates after the offer's earlier slot fails, on every registration
/// of the later slot; 3 dates after passes; the date is the run zone's.
#[test]
fn s203_offer_fatigue_counts_local_dates() {
    let first = r("R1", "O1");
    let later = |at: &str| {
        [
            r("R2", "O1").registered(at).window("2024-06-10 10:00:00", "2024-06-11 10:00:00"),
            r("R3", "O1").sku("B").registered(at).window("2024-06-10 10:00:00", "2024-06-11 10:00:00"),
        ]
    };
    // 6/3 23:59:59 Shanghai: 2 days after 6/1 → both registrations of the later slot
    let d = dump(&[vec![first.clone()], later("2024-06-03 23:59:59").to_vec()].concat());
    let a = d.audit();
    assert_eq!(rules_of(&a, "S203"), ["R2", "R3"]);
    let f = one(&a.findings, "S203", "R2");
    let ev = f.evidence.as_ref().unwrap();
    // evidence rows are CSV lines (the header is line 1)
    assert_eq!(
        (ev.table.as_str(), ev.row, ev.price.is_none()),
        ("registrations", 2, true),
        "the earlier slot, no price"
    );
    assert_eq!((f.observed.as_str(), f.reference.as_str(), f.threshold.as_str()), ("", "", ""));
    // 6/4 00:00:00: 3 days → passes
    let d = dump(&[vec![first.clone()], later("2024-06-04 00:00:00").to_vec()].concat());
    assert!(rules_of(&d.audit(), "S203").is_empty());
    // 2024-06-03T16:30:00Z is 6/4 00:30 in Shanghai (passes) but 6/3 in UTC (fails)
    let d = dump(
        &[vec![first.clone().registered("2024-06-01T10:00:00Z")], later("2024-06-03T16:30:00Z").to_vec()].concat(),
    );
    assert!(rules_of(&d.audit(), "S203").is_empty());
    assert_eq!(rules_of(&with_tz(&d, "UTC"), "S203"), ["R2", "R3"]);
    // another activity is another count
    let d = dump(&[first, r("R2", "O1").activity("huopin-hot").registered("2024-06-02 10:00:00")]);
    assert!(rules_of(&d.audit(), "S203").is_empty());
}

// ---------------------------------------------------------------------------------------- S204

#[test]
fn s204_merchant_fatigue_two_offers_per_three_days() {
    let at = |id: &str, offer: &str, when: &str| r(id, offer).registered(when);
    let base = [at("R1", "O1", "2024-06-01 10:00:00"), at("R2", "O2", "2024-06-01 11:00:00")];
    // a third offer on 6/3 (inside 6/1–6/3) → S204, evidence the earliest of those slots
    let d = dump(&[base.to_vec(), vec![at("R3", "O3", "2024-06-03 10:00:00")]].concat());
    let a = d.audit();
    assert_eq!(rules_of(&a, "S204"), ["R3"]);
    assert_eq!(one(&a.findings, "S204", "R3").evidence.as_ref().unwrap().row, 2);
    // on 6/4 the window is 6/2–6/4: passes
    let d = dump(&[base.to_vec(), vec![at("R3", "O3", "2024-06-04 00:00:00")]].concat());
    assert!(rules_of(&d.audit(), "S204").is_empty());
    // an offer already among the recent ones is no new offer
    let d = dump(
        &[
            base.to_vec(),
            vec![at("R3", "O1", "2024-06-03 10:00:00").window("2024-06-20 10:00:00", "2024-06-21 10:00:00")],
        ]
        .concat(),
    );
    assert!(rules_of(&d.audit(), "S204").is_empty());
    // failed slots count: a fourth offer on 6/3 fails too
    let d = dump(
        &[base.to_vec(), vec![at("R3", "O3", "2024-06-03 10:00:00"), at("R4", "O4", "2024-06-03 11:00:00")]].concat(),
    );
    assert_eq!(rules_of(&d.audit(), "S204"), ["R3", "R4"]);
    // no merchant: not checked, said so
    let d = dump(&[r("R1", "O1").merchant("")]);
    assert_eq!(not_checked(&d.audit(), "S204"), [(Some(1), "no merchant_id".to_string())]);
}

// ---------------------------------------------------------------------------------------- S205

#[test]
fn s205_weekly_repeat_under_seven_days_apart() {
    let first = r("R1", "O1").window("2024-06-01 10:00:00", "2024-06-02 10:00:00").registered("2024-05-20 10:00:00");
    let second = |start: &str| {
        r("R2", "O1").activity("huopin-hot").registered("2024-05-20 10:00:00").window(start, "2024-06-09 10:00:00")
    };
    let a = dump(&[first.clone(), second("2024-06-08 09:59:59")]).audit();
    assert_eq!(rules_of(&a, "S205"), ["R2"]);
    assert_eq!(one(&a.findings, "S205", "R2").severity.as_str(), "warning");
    assert!(rules_of(&dump(&[first.clone(), second("2024-06-08 10:00:00")]).audit(), "S205").is_empty());
    // overlapping windows are S202's, not S205's
    let a = dump(&[first, second("2024-06-02 10:00:00")]).audit();
    assert!(rules_of(&a, "S205").is_empty() && !rules_of(&a, "S202").is_empty());
}

// ---------------------------------------------------------------------------------------- S206

#[test]
fn s206_other_activity_meets_the_registration_span() {
    let h = r("R1", "O1").window("2024-06-05 10:00:00", "2024-06-07 10:00:00");
    let y = |end: &str| r("R2", "O1").activity("yanxuan").window("2024-05-20 10:00:00", end);
    let a = dump(&[h.clone(), y("2024-06-01 10:00:00")]).audit();
    assert_eq!(rules_of(&a, "S206"), ["R1"], "a window ending exactly at registered_at meets it");
    assert_eq!(one(&a.findings, "S206", "R1").evidence.as_ref().unwrap().row, 3);
    assert!(rules_of(&dump(&[h.clone(), y("2024-06-01 09:59:59")]).audit(), "S206").is_empty());
    // starting exactly at promo_end meets it too
    let a = dump(&[h.clone(), r("R2", "O1").activity("yanxuan").window("2024-06-07 10:00:00", "2024-06-09 10:00:00")])
        .audit();
    assert_eq!(rules_of(&a, "S206"), ["R1"]);
    // another huopin-family registration is S202's business, not S206's
    let a =
        dump(&[h, r("R2", "O1").activity("huopin-hot").window("2024-05-20 10:00:00", "2024-06-03 10:00:00")]).audit();
    assert!(rules_of(&a, "S206").is_empty());
}

// ---------------------------------------------------------------------------------------- S207

#[test]
fn s207_registration_window_from_config_inclusive_bounds() {
    let cfg = "timezone = \"America/Los_Angeles\"\n[profile.huopin]\nregistration_opens = \"2018-02-12 00:00:00\"\nregistration_closes = \"2018-03-06 23:59:59\"\n";
    let d = dump(&[
        r("R1", "O1").registered("2018-03-06 23:59:59").window("2018-03-28 00:00:00", "2018-03-29 00:00:00"),
        r("R2", "O2").registered("2018-03-07 00:00:00").window("2018-03-28 00:00:00", "2018-03-29 00:00:00"),
        r("R3", "O3").registered("2018-02-12 00:00:00").window("2018-03-28 00:00:00", "2018-03-29 00:00:00"),
        r("R4", "O4").registered("2018-02-11 23:59:59").window("2018-03-28 00:00:00", "2018-03-29 00:00:00"),
    ]);
    let a = d.audit_with_config(cfg);
    assert_eq!(rules_of(&a, "S207"), ["R2", "R4"]);
    let f = one(&a.findings, "S207", "R2");
    assert!(f.evidence.is_none() && f.observed.is_empty() && f.threshold.is_empty());
    // without the settings the rule does not run
    assert!(rules_of(&d.audit(), "S207").is_empty());
    // --tz moves the naive bounds (and the naive registration times) together: same findings
    let cfg_path = d.path().join("c.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let a = audit(d.path(), &AuditOptions { config: Some(cfg_path), tz: Some("UTC".into()), ..Default::default() })
        .unwrap();
    assert_eq!(rules_of(&a, "S207"), ["R2", "R4"]);
    // a bad instant is a config error naming the key
    let bad =
        priceaudit::profile::config::parse("[profile.huopin]\nregistration_closes = \"3/6\"\n", "c.toml").unwrap_err();
    assert!(
        bad.message.contains("profile.huopin.registration_closes") && bad.message.contains("not a timestamp"),
        "{}",
        bad.message
    );
}

// ---------------------------------------------------------------------------------------- S208

#[test]
fn s208_store_offer_cap_by_registration_order() {
    let cfg = "[profile.huopin]\nmax_offers_per_merchant = 2\n";
    let at = |id: &str, offer: &str, when: &str| {
        r(id, offer).registered(when).window("2024-07-06 10:00:00", "2024-07-08 10:00:00")
    };
    let d = dump(&[
        at("R1", "O3", "2024-06-03 10:00:00"),
        at("R2", "O1", "2024-06-01 10:00:00"),
        at("R3", "O2", "2024-06-02 10:00:00"),
        at("R4", "O1", "2024-06-04 10:00:00").sku("B"),
        at("R5", "O4", "2024-06-03 10:00:00"),
    ]);
    let a = d.audit_with_config(cfg);
    // order: R2 (O1), R3 (O2) → cap reached at R3; R1 (O3) and R5 (O4) exceed; R4 is O1 again
    assert_eq!(rules_of(&a, "S208"), ["R1", "R5"]);
    assert_eq!(one(&a.findings, "S208", "R1").evidence.as_ref().unwrap().row, 4, "R3's line: the 2nd offer");
    // N = 3: only R5 exceeds (R1 and R5 tie on time: file order)
    let a = d.audit_with_config("[profile.huopin]\nmax_offers_per_merchant = 3\n");
    assert_eq!(rules_of(&a, "S208"), ["R5"]);
    assert!(rules_of(&d.audit(), "S208").is_empty(), "no setting, no rule");
}

// ---------------------------------------------------------------------------------------- D601

#[test]
fn d601_duplicate_titles_after_normalisation() {
    let a1 = r("R1", "O1").title("保温杯 500ml");
    let same = |t: &str| r("R2", "O2").title(t).window("2024-06-08 10:00:00", "2024-06-09 10:00:00");
    let a = dump(&[a1.clone(), same("保温杯500ML！")]).audit();
    assert_eq!(rules_of(&a, "D601"), ["R1", "R2"]);
    // a symbol stays: different titles
    assert!(rules_of(&dump(&[a1.clone(), same("保温杯 500ml+")]).audit(), "D601").is_empty());
    // NFKC: full-width letters equal ASCII
    assert_eq!(rules_of(&dump(&[a1.clone(), same("保温杯 ５００ＭＬ")]).audit(), "D601"), ["R1", "R2"]);
    // windows that only touch overlap (closed); one microsecond apart do not
    let apart = r("R2", "O2").title("保温杯 500ml").window("2024-06-08 10:00:00.000001", "2024-06-09 10:00:00");
    assert!(rules_of(&dump(&[a1.clone(), apart]).audit(), "D601").is_empty());
    // another merchant, or the same offer: no duplicate listing
    assert!(rules_of(&dump(&[a1.clone(), same("保温杯 500ml").merchant("M2")]).audit(), "D601").is_empty());
    assert!(rules_of(&dump(&[a1.clone(), r("R2", "O1").sku("B").title("保温杯 500ml")]).audit(), "D601").is_empty());
    // a title of punctuation only is not checked
    let a = dump(&[r("R1", "O1").title("！！ ..")]).audit();
    assert_eq!(not_checked(&a, "D601"), [(Some(1), "no title (empty after normalisation)".to_string())]);
}

// ---------------------------------------------------------------------------------------- D602

#[test]
fn d602_category_changed_against_the_first_registration() {
    let d = dump(&[
        r("R1", "O1")
            .category("toys")
            .registered("2024-06-05 10:00:00")
            .window("2024-06-10 10:00:00", "2024-06-11 10:00:00"),
        r("R2", "O1").sku("B").category("apparel").registered("2024-06-01 10:00:00"),
        r("R3", "O1")
            .sku("C")
            .category("apparel ")
            .registered("2024-06-05 10:00:00")
            .window("2024-06-10 10:00:00", "2024-06-11 10:00:00"),
        r("R4", "O1")
            .sku("D")
            .category("")
            .registered("2024-06-05 10:00:00")
            .window("2024-06-10 10:00:00", "2024-06-11 10:00:00"),
    ]);
    let a = d.audit();
    assert_eq!(rules_of(&a, "D602"), ["R1"], "trimmed \"apparel \" is apparel; empty is no category");
    let f = one(&a.findings, "D602", "R1");
    assert_eq!((f.severity.as_str(), f.evidence.as_ref().unwrap().row), ("warning", 3));
}

// ---------------------------------------------------------------------------------------- P111

#[test]
fn p111_lowest_tier_own_else_offer_level() {
    let d = || {
        dump(&[r("R1", "O1").promo("8.50"), r("R2", "O1").sku("B").promo("8.51"), r("R3", "O2").promo("7.01")])
            .ladders(&["O1,A,1,10,", "O1,A,10,9,", "O1,A,100,8.5,", "O1,,1,5,", "O2,,1,7,"])
    };
    let a = d().audit();
    // R1: own tiers (8.5), the lower offer-level 5 ignored → passes at 8.50
    assert!(!has(&a.findings, "P111", "R1"));
    // R2: SKU B has no tiers of its own → the offer-level 5
    let f = one(&a.findings, "P111", "R2");
    assert_eq!((f.observed.as_str(), f.reference.as_str(), f.threshold.as_str()), ("8.51", "5", "5"));
    let ev = f.evidence.as_ref().unwrap();
    assert_eq!((ev.table.as_str(), ev.row, ev.ts), ("ladders", 5, None));
    assert_eq!(one(&a.findings, "P111", "R3").threshold, "7");
    // the bound is part of max_ok_price
    let v = a.verdicts.iter().find(|v| v.registration_id == "R3").unwrap();
    assert_eq!((v.cell("max_ok_price").as_str(), v.cell("binding_rule").as_str()), ("7", "P111"));
    // no ladder for the offer: not checked
    let a = dump(&[r("R1", "O9")]).ladders(&["O1,A,1,10,"]).audit();
    assert_eq!(not_checked(&a, "P111"), [(Some(1), "no ladder tiers for the SKU or its offer".to_string())]);
    let a = dump(&[r("R1", "O9")]).audit();
    assert_eq!(not_checked(&a, "P111"), [(Some(1), "no ladders table in the dump".to_string())]);
}

// ---------------------------------------------------------------------------------------- P113

#[test]
fn p113_retail_claim_above_every_observation() {
    let obs =
        ["O1,A,taobao,2024-05-02 10:00:00,100", "O1,A,jd,2024-05-20 10:00:00,120", "O1,A,pdd,2024-05-02 09:59:59,500"];
    let a = dump(&[r("R1", "O1").retail("120"), r("R2", "O1").retail("120.01").registered("2024-06-01 10:00:00")])
        .retail(&obs)
        .audit();
    assert!(!has(&a.findings, "P113", "R1"));
    let f = one(&a.findings, "P113", "R2");
    assert_eq!(
        (f.severity.as_str(), f.observed.as_str(), f.reference.as_str(), f.threshold.as_str()),
        ("warning", "120.01", "120", "120")
    );
    // 500 lies one second before the 30-day window: not counted; at the edge it would be
    let at_edge = ["O1,A,pdd,2024-05-02 10:00:00,500"];
    assert!(!has(&dump(&[r("R2", "O1").retail("120.01")]).retail(&at_edge).audit().findings, "P113", "R2"));
    // no observation in the window: not checked; no retail_price: nothing to check
    let a = dump(&[r("R1", "O2").retail("120"), r("R2", "O1")]).retail(&obs).audit();
    assert_eq!(
        not_checked(&a, "P113"),
        [(Some(1), "no retail observation in the 30 days before registration".to_string())]
    );
}

// ------------------------------------------------------------------- price-row rules (§10.2, §10.4)

/// A dump whose prices table has a `qty` column (rows: offer,sku,ts,price,kind,channel,until,qty).
fn priced(regs: &[R], prices: &[&str]) -> TinyDump {
    let d = dump(regs);
    write(d.path(), "prices.csv", "offer_id,sku_id,ts,price,kind,channel,until,qty", prices);
    d
}

fn fig(f: &priceaudit::findings::Finding) -> (String, String, String) {
    let n = |s: &str| if s.is_empty() { String::new() } else { priceaudit::money::Dec::parse(s).unwrap().to_string() };
    (n(&f.observed), n(&f.reference), n(&f.threshold))
}

fn d(s: &str) -> String {
    priceaudit::money::Dec::parse(s).unwrap().to_string()
}

#[test]
fn p112_a_huopin_sale_below_the_one_price_in_the_promo() {
    let reg = [r("R1", "O1").promo("9")];
    let base = "O1,A,2024-05-20 10:00:00,10,txn,,,";
    let with = |row: &str| priced(&reg, &[base, row]).audit();
    let a = with("O1,A,2024-06-06 10:00:00,8.99,txn,huopin,,1");
    let f = one(&a.findings, "P112", "R1");
    assert_eq!(fig(f), (d("8.99"), d("9"), d("9")));
    assert_eq!(f.evidence.as_ref().unwrap().row, 3);
    let v = a.verdicts.iter().find(|v| v.registration_id == "R1").unwrap();
    assert_eq!((v.cell("max_ok_price").as_str(), v.cell("binding_rule").as_str()), ("8.99", "P112"));
    assert!(!has(&with("O1,A,2024-06-06 10:00:00,9.00,txn,huopin,,1").findings, "P112", "R1"));
    // the window is closed at promo_end; a microsecond after it, outside
    assert!(has(&with("O1,A,2024-06-08 10:00:00,8.99,txn,huopin,,1").findings, "P112", "R1"));
    assert!(!has(&with("O1,A,2024-06-08 10:00:00.000001,8.99,txn,huopin,,1").findings, "P112", "R1"));
    assert!(!has(&with("O1,A,2024-06-06 09:59:59.999999,8.99,txn,huopin,,1").findings, "P112", "R1"));
    // channel huopin literally: a regular sale below the price is no stacked discount
    assert!(!has(&with("O1,A,2024-06-06 10:00:00,8.99,txn,regular,,1").findings, "P112", "R1"));
}

#[test]
fn p114_first_hour_at_half_the_30_day_lowest() {
    let reg = [r("R1", "O1").activity("huopin-double").promo("9")];
    let low = "O1,A,2024-05-20 10:00:00,20,txn,,,";
    let with = |row: &str| priced(&reg, &[low, row]).audit();
    let a = with("O1,A,2024-06-06 10:59:59.999999,10.01,txn,huopin,,1");
    let f = one(&a.findings, "P114", "R1");
    assert_eq!(fig(f), (d("10.01"), d("20"), d("10")));
    assert!(!has(&with("O1,A,2024-06-06 10:00:00,10.00,txn,huopin,,1").findings, "P114", "R1"));
    // one hour after the start is outside the first hour: no such row, not checked
    let a = with("O1,A,2024-06-06 11:00:00,15,txn,huopin,,1");
    assert!(!has(&a.findings, "P114", "R1"));
    assert_eq!(not_checked(&a, "P114"), [(Some(1), "no huopin transaction in the promo's first hour".to_string())]);
    // huopin (not huopin-double) does not run it
    let a = priced(&[r("R1", "O1").promo("9")], &[low, "O1,A,2024-06-06 10:00:00,15,txn,huopin,,1"]).audit();
    assert!(!has(&a.findings, "P114", "R1"));
}

/// K501 over the slot's SKUs, from the warm-up start, checked only when the dump reaches the
/// window's end.
#[test]
fn k501_no_sale_in_the_first_four_hours() {
    let slot = [r("R1", "O1"), r("R2", "O1").sku("B")];
    let late = "O1,A,2024-06-30 10:00:00,10,txn,,,"; // the horizon, well after every window
    let k = |rows: &[&str]| priced(&slot, &[&[late], rows].concat()).audit();
    // a sale of SKU B at 13:59:59 counts for the whole slot
    assert!(rules_of(&k(&["O1,B,2024-06-06 13:59:59,9,txn,huopin,,1"]), "K501").is_empty());
    assert_eq!(rules_of(&k(&["O1,B,2024-06-06 14:00:00,9,txn,huopin,,1"]), "K501"), ["R1", "R2"]);
    // warm-up deposits count (ws = promo_start − 72 h); before ws they do not
    assert!(rules_of(&k(&["O1,A,2024-06-03 10:00:00,9,txn,huopin,,1"]), "K501").is_empty());
    assert_eq!(rules_of(&k(&["O1,A,2024-06-03 09:59:59,9,txn,huopin,,1"]), "K501"), ["R1", "R2"]);
    // a regular sale is not a huopin sale
    assert_eq!(rules_of(&k(&["O1,A,2024-06-06 11:00:00,9,txn,regular,,1"]), "K501"), ["R1", "R2"]);
    let f = one(&k(&[]).findings, "K501", "R1").clone();
    assert!(f.evidence.is_none() && fig(&f) == (String::new(), String::new(), String::new()));
    // the dump ends exactly at the window's end: checked; a microsecond earlier: not checked
    let a = priced(&slot, &["O1,A,2024-06-06 14:00:00,10,txn,,,"]).audit();
    assert_eq!(rules_of(&a, "K501"), ["R1", "R2"]);
    let a = priced(&slot, &["O1,A,2024-06-06 13:59:59.999999,10,txn,,,"]).audit();
    assert!(rules_of(&a, "K501").is_empty());
    assert_eq!(not_checked(&a, "K501"), [(Some(2), "the dump ends before the window closes".to_string())]);
}

/// K502: the first local midnight after the start; a failing slot flags every huopin
/// registration of the offer whose promo has not ended before it.
#[test]
fn k502_first_day_in_the_runs_zone() {
    let start = "2024-06-06T02:00:00Z"; // 10:00 in Shanghai
    let regs = [
        r("R1", "O1").window(start, "2024-06-08T02:00:00Z"),
        r("R2", "O1")
            .activity("huopin-hot")
            .registered("2024-06-01T02:00:00Z")
            .window("2024-06-20T02:00:00Z", "2024-06-21T02:00:00Z"),
        r("R3", "O1")
            .activity("huopin-hot")
            .registered("2024-05-20T02:00:00Z")
            .window("2024-05-25T02:00:00Z", "2024-06-06T01:59:59Z"),
        r("R4", "O1").activity("yanxuan").window("2024-06-20T02:00:00Z", "2024-06-21T02:00:00Z"),
    ];
    let late = "O1,A,2024-06-30T00:00:00Z,10,txn,,,";
    // R2's own first day has a sale (at its start); R3 ended before R1's start
    let r2_sale = "O1,A,2024-06-20T02:00:00Z,9,txn,huopin,,1";
    let r3_sale = "O1,A,2024-05-25T02:00:00Z,9,txn,huopin,,1";
    // the first sale at 16:00Z = 00:00 the next day in Shanghai → K502 on R1 and R2 (not R3,
    // not the yanxuan R4)
    let a = priced(&regs, &[late, r2_sale, r3_sale, "O1,A,2024-06-06T16:00:00Z,9,txn,huopin,,1"]).audit();
    assert_eq!(rules_of(&a, "K502"), ["R1", "R2"]);
    // 15:59:59Z = 23:59:59 in Shanghai: passes
    let d = priced(&regs, &[late, r2_sale, r3_sale, "O1,A,2024-06-06T15:59:59Z,9,txn,huopin,,1"]);
    assert!(rules_of(&d.audit(), "K502").is_empty());
    // in UTC the first day runs to 2024-06-07T00:00Z: a sale at 16:00Z is on it
    let d = priced(&regs, &[late, r2_sale, r3_sale, "O1,A,2024-06-06T16:00:00Z,9,txn,huopin,,1"]);
    assert!(rules_of(&with_tz(&d, "UTC"), "K502").is_empty());
    // R3's own first day without a sale flags R3 and every later huopin registration of the offer
    let a = priced(&regs, &[late, r2_sale, "O1,A,2024-06-06T15:59:59Z,9,txn,huopin,,1"]).audit();
    assert_eq!(rules_of(&a, "K502"), ["R1", "R2", "R3"]);
}

#[test]
fn k503_turnover_of_twelve_hours_with_qty() {
    let slot = [r("R1", "O1")];
    let late = "O1,A,2024-06-30 10:00:00,10,txn,,,";
    let a = priced(&slot, &[late, "O1,A,2024-06-06 21:59:59,99.99,txn,huopin,,100"]).audit();
    let f = one(&a.findings, "K503", "R1");
    assert_eq!(fig(f), (d("9999"), String::new(), d("10000")));
    let a = priced(&slot, &[late, "O1,A,2024-06-06 21:59:59,100,txn,huopin,,100"]).audit();
    assert!(!has(&a.findings, "K503", "R1"));
    // at promo_start + 12 h the sale is outside the window
    let a = priced(&slot, &[late, "O1,A,2024-06-06 22:00:00,100,txn,huopin,,100"]).audit();
    assert!(has(&a.findings, "K503", "R1"));
    // a counted sale without qty: not checked
    let a = priced(&slot, &[late, "O1,A,2024-06-06 12:00:00,100,txn,huopin,,"]).audit();
    assert!(!has(&a.findings, "K503", "R1"));
    assert_eq!(not_checked(&a, "K503"), [(Some(1), "a counted sale has no qty".to_string())]);
    // no qty column at all
    let d = dump(&slot);
    write(
        d.path(),
        "prices.csv",
        PRICES,
        &["O1,A,2024-06-30 10:00:00,10,txn,,", "O1,A,2024-06-06 12:00:00,100,txn,huopin,"],
    );
    assert_eq!(not_checked(&d.audit(), "K503"), [(Some(1), "no qty column in prices".to_string())]);
    assert!(!has(&d.audit().findings, "K503", "R1"));
    // no counted sale and no qty column: still not checked, not a turnover of 0
    let d = dump(&slot);
    write(d.path(), "prices.csv", PRICES, &["O1,A,2024-06-30 10:00:00,10,txn,,"]);
    let a = d.audit();
    assert!(!has(&a.findings, "K503", "R1") && has(&a.findings, "K501", "R1"));
    assert_eq!(not_checked(&a, "K503"), [(Some(1), "no qty column in prices".to_string())]);
}

/// `prices.qty`: empty, or an integer ≥ 1 in digits only; anything else is a reject, on every
/// row kind.
#[test]
fn qty_is_validated_on_every_row() {
    let rows = [
        "O1,A,2024-05-20 10:00:00,10,txn,,,1",
        "O1,A,2024-05-21 10:00:00,10,txn,,,0",
        "O1,A,2024-05-22 10:00:00,10,txn,,,+1",
        "O1,A,2024-05-23 10:00:00,10,txn,,,1.0",
        "O1,A,2024-05-24 10:00:00,10,list,,,-1",
        "O1,A,2024-05-25 10:00:00,10,list,,,7",
        "O1,A,2024-05-26 10:00:00,10,txn,,,",
        // digits only, however many and with leading zeros: an integer ≥ 1 (SPEC §2)
        "O1,A,2024-05-27 10:00:00,10,txn,huopin,,0000000000000000000001",
        "O1,A,2024-05-28 10:00:00,10,txn,huopin,,123456789012345678901234567890",
        "O1,A,2024-05-29 10:00:00,10,txn,,,000",
        "O1,A,2024-05-30 10:00:00,10,txn,,,1e3",
    ];
    let a = priced(&[r("R1", "O1")], &rows).audit();
    let bad: Vec<(u64, &str, &str)> =
        a.dump.rejects.iter().map(|r| (r.line, r.column.as_str(), r.reason.as_str())).collect();
    assert_eq!(bad, [3, 4, 5, 6, 11, 12].map(|l| (l, "qty", "qty is not an integer ≥ 1")).to_vec());
    let t = &a.summary.tables["prices"];
    assert_eq!((t.rows_read, t.rows_used, t.rows_rejected), (11, 5, 6));
}

#[test]
fn p110_edits_and_take_downs_in_the_lock() {
    let reg = [r("R1", "O1")]; // registered 6/1 10:00, promo to 6/8 10:00: lock [6/1 10:00, 6/8 10:00]
    let listed = "O1,A,2024-05-20 10:00:00,100,list,,,";
    let with = |rows: &[&str]| priced(&reg, &[&[listed], rows].concat()).audit();
    // (a) a new price at the lock's first instant
    let a = with(&["O1,A,2024-06-01 10:00:00,110,list,,,"]);
    let f = one(&a.findings, "P110", "R1");
    assert_eq!(fig(f), (d("110"), d("100"), String::new()));
    assert_eq!(
        (f.evidence.as_ref().unwrap().row, f.evidence.as_ref().unwrap().price.as_ref().map(|p| p.to_string())),
        (3, Some(d("110")))
    );
    // a microsecond before the lock: no edit; the same price: no edit
    assert!(!has(&with(&["O1,A,2024-06-01 09:59:59.999999,110,list,,,"]).findings, "P110", "R1"));
    assert!(!has(&with(&["O1,A,2024-06-03 10:00:00,100,list,,,"]).findings, "P110", "R1"));
    // other channels do not count (an empty one is regular)
    assert!(!has(&with(&["O1,A,2024-06-03 10:00:00,110,list,livestream,,"]).findings, "P110", "R1"));
    assert!(has(&with(&["O1,A,2024-06-03 10:00:00,110,list,regular,,"]).findings, "P110", "R1"));
    // (b) taken down at promo_end (until = promo_end leaves the lock's last instant uncovered)
    let a = priced(&reg, &["O1,A,2024-05-20 10:00:00,100,list,,2024-06-08 10:00:00,"]).audit();
    let f = one(&a.findings, "P110", "R1");
    assert_eq!(fig(f), (String::new(), d("100"), String::new()));
    assert_eq!(f.evidence.as_ref().unwrap().row, 2);
    let a = priced(&reg, &["O1,A,2024-05-20 10:00:00,100,list,,2024-06-08 10:00:00.000001,"]).audit();
    assert!(!has(&a.findings, "P110", "R1"));
    // a first listing in the lock is no edit (nothing was in force)
    let a = priced(&reg, &["O1,A,2024-06-03 10:00:00,100,list,,,"]).audit();
    assert!(!has(&a.findings, "P110", "R1"));
    // two edits: the first is reported, the message counts them
    let a = with(&["O1,A,2024-06-04 10:00:00,120,list,,,", "O1,A,2024-06-03 10:00:00,110,list,,,"]);
    let f = one(&a.findings, "P110", "R1");
    assert_eq!(fig(f).0, d("110"));
    assert!(f.message.contains("2 edits"), "{}", f.message);
}

/// ae-store's lock: [promo_start − 312 h, promo_start − 216 h).
#[test]
fn p110_ae_store_lock_before_the_warm_up() {
    let reg = [r("R1", "O1").activity("ae-store").window("2024-06-20 10:00:00", "2024-06-22 10:00:00")];
    let listed = "O1,A,2024-05-20 10:00:00,100,list,,,";
    let with = |row: &str| priced(&reg, &[listed, row]).audit();
    assert!(has(&with("O1,A,2024-06-07 10:00:00,110,list,,,").findings, "P110", "R1"));
    assert!(has(&with("O1,A,2024-06-11 09:59:59,110,list,,,").findings, "P110", "R1"));
    assert!(!has(&with("O1,A,2024-06-11 10:00:00,110,list,,,").findings, "P110", "R1"));
    assert!(!has(&with("O1,A,2024-06-07 09:59:59,110,list,,,").findings, "P110", "R1"));
}

/// Seed 003's example: store discounts locked 3/15 00:00 – 3/18 23:59:59 for the 3/28 promo
/// (`lock_hours` 312, `warmup_hours` 216, US time written with its offset).
#[test]
fn p110_seed_003_lock_dates() {
    let reg = [r("R1", "O1")
        .activity("ae-store")
        .registered("2018-03-01T00:00:00-08:00")
        .window("2018-03-28T00:00:00-07:00", "2018-03-30T23:59:59-07:00")];
    let listed = "O1,A,2018-01-01T00:00:00-08:00,100,list,,,";
    let with = |at: &str| priced(&reg, &[listed, &format!("O1,A,{at},90,list,,,")]).audit();
    // 312 h and 216 h before 3/28 00:00 PDT are 3/15 00:00 PDT and 3/19 00:00 PDT
    assert!(has(&with("2018-03-15T00:00:00-07:00").findings, "P110", "R1"));
    assert!(!has(&with("2018-03-14T23:59:59-07:00").findings, "P110", "R1"));
    assert!(has(&with("2018-03-18T23:59:59-07:00").findings, "P110", "R1"));
    assert!(!has(&with("2018-03-19T00:00:00-07:00").findings, "P110", "R1"));
}

/// Review of SPEC §10's wording: the family's lock is `[registered_at, promo_end]` whatever
/// `lock_hours` a config gives it; the five huopin-* profiles are of the family by name, even
/// extending another profile; S202's evidence has no price (SPEC §10's description of it).
#[test]
fn family_by_name_and_its_lock() {
    let reg = [r("R1", "O1")];
    let rows = ["O1,A,2024-05-20 10:00:00,100,list,,,", "O1,A,2024-06-03 10:00:00,110,list,,,"];
    let d = priced(&reg, &rows);
    // lock_hours on huopin (312 h before 6/6 10:00 is 5/23 10:00 – 5/27 10:00: no edit there)
    let a = d.audit_with_config("[profile.huopin]\nlock_hours = 312\n");
    assert!(has(&a.findings, "P110", "R1"), "the family's lock stays [registered_at, promo_end]");
    // huopin-hot extending yanxuan is still of the family: S206 against a yanxuan registration
    let regs = [
        r("R1", "O1").activity("huopin-hot"),
        r("R2", "O1").activity("yanxuan").window("2024-06-02 10:00:00", "2024-06-03 10:00:00"),
    ];
    let a = dump(&regs).audit_with_config("[profile.huopin-hot]\nextends = \"yanxuan\"\nrules = [\"S206\"]\n");
    assert_eq!(rules_of(&a, "S206"), ["R1"]);
    // S202's evidence: the other registration's row and promo start, no price
    let regs =
        [r("R1", "O1"), r("R2", "O1").activity("huopin-hot").window("2024-06-07 10:00:00", "2024-06-09 10:00:00")];
    let a = dump(&regs).audit();
    let ev = one(&a.findings, "S202", "R1").evidence.clone().unwrap();
    assert_eq!((ev.table.as_str(), ev.row, ev.price.is_none()), ("registrations", 3, true));
}

/// `qty` as other writers store it in Parquet: Int32, UInt64, Float64 (pandas' integer column
/// with gaps) and String: the same quantities whatever the physical type.
#[test]
fn qty_in_parquet_of_every_physical_type() {
    use polars::prelude::*;
    let reg = [r("R1", "O1")];
    let base = |qty: Column| {
        let n = qty.len();
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("offer_id".into(), vec!["O1"; n]),
                Column::new("sku_id".into(), vec!["A"; n]),
                // two huopin sales, then a regular row that takes the dump past the window
                Column::new("ts".into(), ["2024-06-06 10:00:00", "2024-06-06 11:00:00", "2024-06-30 10:00:00"]),
                Column::new("price".into(), vec!["100"; n]),
                Column::new("kind".into(), vec!["txn"; n]),
                Column::new("channel".into(), ["huopin", "huopin", "regular"]),
                qty,
            ],
        )
        .unwrap();
        let d = dump(&reg);
        std::fs::remove_file(d.path().join("prices.csv")).unwrap();
        let f = std::fs::File::create(d.path().join("prices.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
        d.audit()
    };
    // 100 × 40 + 100 × 60 = 10000 (K503 passes at exactly its threshold) for every good type
    let good = [
        Column::new("qty".into(), [Some(40i32), Some(60), None]),
        Column::new("qty".into(), [Some(40u64), Some(60), None]),
        Column::new("qty".into(), [Some(40.0f64), Some(60.0), None]),
        Column::new("qty".into(), [Some("40"), Some("060"), None]),
    ];
    for q in good {
        let dtype = q.dtype().clone();
        let a = base(q);
        assert!(a.dump.rejects.is_empty(), "{dtype}: {:?}", a.dump.rejects);
        assert!(!has(&a.findings, "K503", "R1"), "{dtype}: turnover 10000 passes");
    }
    // a fraction, zero, a negative: rejected (and K503 sees one sale of 40: 4000)
    for q in [
        Column::new("qty".into(), [Some(40.0f64), Some(60.5), None]),
        Column::new("qty".into(), [Some(40i32), Some(0), None]),
        Column::new("qty".into(), [Some(40i32), Some(-60), None]),
    ] {
        let dtype = q.dtype().clone();
        let a = base(q);
        assert_eq!(a.dump.rejects.len(), 1, "{dtype}");
        assert_eq!(one(&a.findings, "K503", "R1").observed, "4000", "{dtype}");
    }
}
