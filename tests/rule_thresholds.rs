//! Every rule at, just under and just over its threshold (issue 3), and the seed examples of
//! the schedule and regulatory rules.

mod common;
use common::*;

const REG: &str = "2024-06-01 10:00:00";
const START: &str = "2024-06-06 10:00:00";
const END: &str = "2024-06-08 10:00:00";

fn huopin(id: &str, offer: &str, promo: &str, list: &str, retail: &str) -> String {
    reg(id, offer, "A", "huopin", REG, START, END, promo, list, retail)
}

#[test]
fn p101_at_under_over() {
    let d = TinyDump::new(
        &[
            "O1,A,2024-05-20 10:00:00,9.50,txn,,",
            "O2,A,2024-05-20 10:00:00,9.50,txn,,",
            "O3,A,2024-05-20 10:00:00,9.50,txn,,",
        ],
        &[
            &huopin("AT", "O1", "9.5", "20", ""),
            &huopin("UNDER", "O2", "9.49", "20", ""),
            &huopin("OVER", "O3", "9.5000000001", "20", ""),
        ],
    );
    let f = d.findings();
    assert!(!has(&f, "P101", "AT") && !has(&f, "P101", "UNDER"));
    assert_eq!(one(&f, "P101", "OVER").threshold, "9.5");
}

#[test]
fn p102_with_category_discount() {
    let line = |id: &str, offer: &str, cat: &str, promo: &str| {
        format!("{id},{offer},A,M1,ae-platform,{cat},{REG},,2024-06-20 10:00:00,2024-06-22 10:00:00,,{promo},,,,,,,,,")
    };
    let d = TinyDump::new(
        &["O1,A,2024-01-01,20,list,regular,", "O2,A,2024-01-01,20,list,regular,", "O3,A,2024-01-01,20,list,regular,"],
        &[
            &line("AT", "O1", "apparel", "19"),
            &line("OVER", "O2", "apparel", "19.01"),
            &line("PLAIN", "O3", "toys", "19.01"),
        ],
    );
    let a = d.audit_with_config("[profile.ae-platform.category_discount]\napparel = \"0.05\"\n");
    assert!(!has(&a.findings, "P102", "AT"));
    assert_eq!(one(&a.findings, "P102", "OVER").threshold, "19");
    assert!(!has(&a.findings, "P102", "PLAIN"), "toys: no discount, 19.01 ≤ 20");
}

#[test]
fn p103_huopin_strict_and_yanxuan_not() {
    let y = |id: &str, offer: &str, promo: &str| reg(id, offer, "A", "yanxuan", REG, START, END, promo, "10", "");
    let d = TinyDump::new(
        &[],
        &[
            &huopin("H_AT", "O1", "9", "10", ""),
            &huopin("H_UNDER", "O2", "8.99", "10", ""),
            &y("Y_AT", "O3", "9.5"),
            &y("Y_OVER", "O4", "9.51"),
            &y("Y_UNDER", "O5", "9.49"),
        ],
    );
    let f = d.findings();
    assert!(has(&f, "P103", "H_AT"), "huopin fails at ≥ list × 0.9");
    assert!(!has(&f, "P103", "H_UNDER"));
    assert!(!has(&f, "P103", "Y_AT"), "yanxuan fails only above list × 0.95");
    assert_eq!(one(&f, "P103", "Y_OVER").threshold, "9.5");
    assert!(!has(&f, "P103", "Y_UNDER"));
}

#[test]
fn p103_list_from_prices_in_force_at_registration() {
    // No list_price: the regular list row in force at registered_at; latest ts wins, a
    // non-regular known channel never does, an unknown channel may.
    let d = TinyDump::new(
        &[
            "O1,A,2024-01-01,10,list,regular,",
            "O1,A,2024-05-01,12,list,daily_activity,",
            "O2,A,2024-01-01,10,list,regular,",
            "O2,A,2024-05-01,20,list,livestream,",
            "O3,A,2024-06-01 10:00:01,10,list,regular,",
        ],
        &[
            &huopin("KNOWN", "O1", "9", "", ""),
            &huopin("UNKNOWN", "O2", "9", "", ""),
            &huopin("LATER", "O3", "9", "", ""),
        ],
    );
    let f = d.findings();
    assert_eq!(one(&f, "P103", "KNOWN").reference, "10");
    assert!(!has(&f, "P103", "UNKNOWN"), "the livestream list 20 is the reference: 9 < 18");
    assert!(one(&f, "P108", "LATER").message.contains("list"), "a list set after registration is not in force");
}

#[test]
fn p104_under_and_from_observations() {
    let d = TinyDump::new(&[], &[&huopin("OBS", "O1", "8", "20", ""), &huopin("OLD", "O2", "8", "20", "")]).retail(&[
        "O1,A,taobao,2024-05-30,10.01",
        "O1,A,pdd,2024-05-31,10",
        "O1,A,jd,2024-06-01 10:00:01,1",
        "O2,A,taobao,2024-05-02 09:59:59,10",
    ]);
    let f = d.findings();
    let x = one(&f, "P104", "OBS");
    assert_eq!((x.reference.as_str(), x.threshold.as_str()), ("10", "8"));
    assert_eq!(x.evidence.as_ref().unwrap().channel.as_deref(), Some("pdd"));
    assert!(!has(&f, "P104", "OLD"), "an observation before the 30 days does not count");
}

#[test]
fn p106_at_and_above_promo() {
    let d = TinyDump::new(
        &[
            "O1,A,2024-06-04 10:00:00,9,txn,,",
            "O2,A,2024-06-04 10:00:00,9.01,txn,,",
            "O3,A,2024-06-04 10:00:00,8,txn,member_price,",
        ],
        &[
            &huopin("AT", "O1", "9", "20", ""),
            &huopin("ABOVE", "O2", "9", "20", ""),
            &huopin("MEMBER", "O3", "9", "20", ""),
        ],
    );
    let f = d.findings();
    assert_eq!(one(&f, "P106", "AT").observed, "9");
    assert!(!has(&f, "P106", "ABOVE") && !has(&f, "P106", "MEMBER"));
}

#[test]
fn p106_warmup_edges() {
    // huopin warm-up [promo_start − 72 h, promo_start): a txn exactly at the start counts, one at
    // promo_start does not; a list set before the warm-up and still in force counts.
    let d = TinyDump::new(
        &["O1,A,2024-06-03 10:00:00,1,txn,,", "O2,A,2024-06-06 10:00:00,1,txn,,", "O3,A,2024-05-01,5,list,regular,"],
        &[
            &huopin("EDGE", "O1", "9", "20", ""),
            &huopin("START", "O2", "9", "20", ""),
            &huopin("CARRIED", "O3", "9", "20", ""),
        ],
    );
    let f = d.findings();
    assert!(has(&f, "P106", "EDGE"));
    assert!(!has(&f, "P106", "START"));
    assert_eq!(one(&f, "P106", "CARRIED").observed, "5");
}

#[test]
fn p107_equal_and_higher() {
    let big = |id: &str, offer: &str| reg(id, offer, "A", "ae-store", REG, START, END, "10", "", "");
    let d = TinyDump::new(
        &[],
        &[
            &big("R1", "O1"),
            &huopin("EQUAL", "O1", "10", "20", ""),
            &big("R2", "O2"),
            &huopin("HIGHER", "O2", "10.01", "20", ""),
        ],
    );
    let f = d.findings();
    assert!(!has(&f, "P107", "EQUAL"));
    let x = one(&f, "P107", "HIGHER");
    assert_eq!((x.reference.as_str(), x.severity.as_str()), ("10", "warning"));
    assert_eq!(x.evidence.as_ref().unwrap().row, 4, "evidence is the big promo's line");
}

#[test]
fn p109_seed_examples_eu_and_cn() {
    let r = |id: &str, offer: &str, act: &str| {
        reg(id, offer, "A", act, REG, "2024-06-10 10:00:00", "2024-06-12 10:00:00", "70", "100", "")
    };
    let d = TinyDump::new(
        &[
            // sold at 80 five days before the promo
            "O1,A,2024-06-05 10:00:00,80,txn,,",
            // sold at 80 forty days before, at 100 since
            "O2,A,2024-05-01 10:00:00,80,txn,,",
            "O2,A,2024-05-02 10:00:00,100,list,regular,",
            // no sale in the 7 days: the last sale (90) is the cn-samr baseline
            "O3,A,2024-05-20 10:00:00,95,txn,,",
            "O3,A,2024-05-30 10:00:00,90,txn,,",
        ],
        &[
            &r("EU1", "O1", "eu-omnibus"),
            &r("CN1", "O1", "cn-samr"),
            &r("EU2", "O2", "eu-omnibus"),
            &r("CN3", "O3", "cn-samr"),
        ],
    );
    let f = d.findings();
    assert_eq!(one(&f, "P109", "EU1").reference, "80");
    assert_eq!(one(&f, "P109", "CN1").reference, "80");
    assert!(!has(&f, "P109", "EU2"));
    assert_eq!(one(&f, "P109", "CN3").reference, "90");
}

#[test]
fn p108_names_every_missing_reference() {
    let d = TinyDump::new(&[], &[&huopin("R", "O1", "9", "", "")]);
    let x = d.findings().into_iter().find(|f| f.rule == "P108").unwrap();
    assert!(x.message.contains("lowest_30d") && x.message.contains("list"), "{}", x.message);
}

#[test]
fn s201_exactly_72h_passes() {
    let d = TinyDump::new(
        &[],
        &[
            &reg("AT", "O1", "A", "huopin", "2024-06-03 10:00:00", START, END, "9", "20", ""),
            &reg("UNDER", "O2", "A", "huopin", "2024-06-03 10:00:01", START, END, "9", "20", ""),
        ],
    );
    let f = d.findings();
    assert!(!has(&f, "S201", "AT"));
    assert_eq!(one(&f, "S201", "UNDER").observed, "71.999722");
}

/// Seed 000 活动时间问题: 1.1–1.3 and 1.2–1.5 conflict; a daily activity that ends before the big
/// promo's warm-up does not; SKUs of one offer in the same slot are one registration.
#[test]
fn s202_seed_examples() {
    let r = |id: &str, sku: &str, s: &str, e: &str| {
        reg(id, "O1", sku, "huopin", "2023-12-01 10:00:00", s, e, "9", "20", "")
    };
    let d = TinyDump::new(
        &[],
        &[
            &r("A", "A", "2024-01-01 00:00:00", "2024-01-03 00:00:00"),
            &r("B", "A", "2024-01-02 00:00:00", "2024-01-05 00:00:00"),
            &r("A2", "B", "2024-01-01 00:00:00", "2024-01-03 00:00:00"),
        ],
    );
    let f = d.findings();
    let s202: Vec<(String, u64)> = f
        .iter()
        .filter(|x| x.rule == "S202")
        .map(|x| (x.registration_id.to_string(), x.evidence.as_ref().unwrap().row))
        .collect();
    assert_eq!(s202, vec![("A".into(), 3), ("A2".into(), 3), ("B".into(), 2), ("B".into(), 4)]);
    let r2 = |id: &str, s: &str, e: &str| reg(id, "O2", "A", "huopin", "2023-12-01 10:00:00", s, e, "9", "20", "");
    let d = TinyDump::new(
        &[],
        &[
            &r2("DAILY", "2024-01-01 00:00:00", "2024-01-03 00:00:00"),
            &r2("BIG", "2024-01-10 00:00:00", "2024-01-12 00:00:00"),
        ],
    );
    assert!(!d.findings().iter().any(|x| x.rule == "S202"));
}

#[test]
fn eligibility_at_under_over() {
    let line = |id: &str, act: &str, m: &str| format!("{id},{id},A,M1,{act},,{REG},,{START},{END},,9,20,,,{m}");
    // sales, buyers, conversion, moq, supply, market stock
    let d = TinyDump::new(
        &[],
        &[
            &line("AT", "huopin", "1000,30,0.05,5,1000,3000"),
            &line("UNDER", "huopin", "999,29,0.0499,6,99,299"),
            &line("EMPTY", "huopin", ",,,,,"),
            &line("Y_AT", "yanxuan", "1,1,0,2,1,1"),
            &line("Y_OVER", "yanxuan", "1,1,0,3,1,1"),
        ],
    );
    let f = d.findings();
    for code in ["E301", "E302", "E303", "E304", "E305", "E306", "E307", "E308"] {
        assert!(!has(&f, code, "AT"), "{code} at its threshold passes");
        assert!(has(&f, code, "UNDER"), "{code} past its threshold fails");
        assert!(!has(&f, code, "EMPTY"), "{code} not checked without a value");
    }
    assert!(!has(&f, "E304", "Y_AT"));
    assert_eq!(one(&f, "E304", "Y_OVER").threshold, "2");
    assert!(!has(&f, "E301", "Y_OVER"), "yanxuan runs only E304");
}

#[test]
fn c401_terms_and_config_extension() {
    let line = |id: &str, title: &str| format!("{id},{id},A,M1,huopin,,{REG},,{START},{END},,9,20,,{title},,,,,,");
    let d = TinyDump::new(
        &[],
        &[
            &line("HIT", "全球第一保温杯"),
            &line("CLEAN", "保温杯"),
            &line("EN", "The best mug"),
            &line("WORD", "bestseller mug"),
        ],
    );
    let f = d.findings();
    assert!(one(&f, "C401", "HIT").message.contains("全球第一"));
    assert!(one(&f, "C401", "EN").message.contains("best"));
    assert!(!has(&f, "C401", "CLEAN") && !has(&f, "C401", "WORD"), "ASCII terms match whole words only");
    // title_terms replaces the list, title_terms_add extends it
    let a = d.audit_with_config("[profile.huopin]\ntitle_terms = [\"保温杯\"]\n");
    assert!(has(&a.findings, "C401", "CLEAN") && !has(&a.findings, "C401", "EN"));
    let a = d.audit_with_config("[profile.huopin]\ntitle_terms_add = [\"mug\"]\n");
    assert!(has(&a.findings, "C401", "WORD") && has(&a.findings, "C401", "HIT"));
}

/// A huopin-double registration: id, offer, promo price, sku_supply.
fn double(id: &str, offer: &str, promo: &str, supply: &str) -> String {
    format!("{id},{offer},A,M1,huopin-double,,{REG},,{START},{END},,{promo},20,,,,,,,{supply},")
}

/// SPEC §10.6 E309 (seed 000 折上折: 单品供货量库存货值 ≥ 1000): `sku_supply × promo < 1000`,
/// exactly, at, one unit of the tenth place under, and over; no value: not checked.
#[test]
fn e309_supply_value_at_under_over() {
    let prices: Vec<String> = (1..=5).map(|i| format!("O{i},A,2024-05-20 10:00:00,30,txn,,")).collect();
    let prices: Vec<&str> = prices.iter().map(String::as_str).collect();
    let d = TinyDump::new(
        &prices,
        &[
            &double("AT", "O1", "10", "100"),
            &double("UNDER", "O2", "9.9999999999", "100"),
            &double("OVER", "O3", "10.0000000001", "100"),
            &double("SEED", "O4", "9.99", "100"),
            &double("NONE", "O5", "1", ""),
        ],
    );
    let a = d.audit();
    let f = &a.findings;
    assert!(!has(f, "E309", "AT") && !has(f, "E309", "OVER") && !has(f, "E309", "NONE"));
    let u = one(f, "E309", "UNDER");
    assert_eq!((u.observed.as_str(), u.threshold.as_str(), u.reference.as_str()), ("999.99999999", "1000", ""));
    assert_eq!(one(f, "E309", "SEED").observed, "999");
    // a huopin registration does not run it
    let nc = a.summary.not_checked.iter().find(|n| n.rule == "E309").expect("E309 not checked on NONE");
    assert_eq!(nc.registrations, Some(1));
}

/// SPEC §10.7: E309 bounds the promo price from below. Supply 100: price ≥ 10. With P101's
/// lowest 30 above it, the highest compliant price is 30 (P101); with a lowest of 9.5 no price
/// passes both: empty, binding E309.
#[test]
fn e309_is_a_lower_bound_of_max_ok_price() {
    let d = TinyDump::new(
        &["O1,A,2024-05-20 10:00:00,30,txn,,", "O2,A,2024-05-20 10:00:00,9.5,txn,,"],
        &[&double("HIGH", "O1", "9", "100"), &double("LOW", "O2", "9", "100")],
    );
    let a = d.audit();
    let v = |id: &str| a.verdicts.iter().find(|v| v.registration_id == id).unwrap().clone();
    assert_eq!((v("HIGH").cell("max_ok_price").as_str(), v("HIGH").cell("binding_rule").as_str()), ("17.99", "P103"));
    assert_eq!((v("LOW").cell("max_ok_price").as_str(), v("LOW").cell("binding_rule").as_str()), ("", "E309"));
    assert!(v("LOW").note.contains("E309 needs a price ≥ 10"), "{}", v("LOW").note);
}

/// SPEC §10.1: `lowest_factor` (default 1) scales P101's threshold: lowest 10 × 0.95 = 9.5.
#[test]
fn p101_lowest_factor_at_under_over() {
    let prices: Vec<String> = (1..=3).map(|i| format!("O{i},A,2024-05-20 10:00:00,10,txn,,")).collect();
    let prices: Vec<&str> = prices.iter().map(String::as_str).collect();
    let line = |id: &str, offer: &str, promo: &str| reg(id, offer, "A", "strict", REG, START, END, promo, "20", "");
    let d = TinyDump::new(
        &prices,
        &[&line("AT", "O1", "9.5"), &line("UNDER", "O2", "9.49"), &line("OVER", "O3", "9.5000000001")],
    );
    let a = d.audit_with_config("[profile.strict]\nextends = \"huopin\"\nlowest_factor = \"0.95\"\n");
    let f = &a.findings;
    assert!(!has(f, "P101", "AT") && !has(f, "P101", "UNDER"));
    let o = one(f, "P101", "OVER");
    assert_eq!((o.reference.as_str(), o.threshold.as_str()), ("10", "9.5"));
    assert!(o.message.contains("lowest 10 × 0.95 = 9.5"), "{}", o.message);
    let v = a.verdicts.iter().find(|v| v.registration_id == "OVER").unwrap();
    assert_eq!((v.cell("max_ok_price").as_str(), v.cell("binding_rule").as_str()), ("9.5", "P101"));
    // a TOML float is refused, naming the key
    let e = priceaudit::audit(d.path(), &{
        let cfg = d.path().join("bad.toml");
        std::fs::write(&cfg, "[profile.strict]\nextends = \"huopin\"\nlowest_factor = 0.95\n").unwrap();
        priceaudit::AuditOptions { config: Some(cfg), ..Default::default() }
    })
    .err()
    .expect("float refused");
    assert!(e.message.contains("lowest_factor") && e.message.contains("TOML floats"), "{}", e.message);
}
