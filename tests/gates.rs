//! Issue 18: declared threshold rules. E301–E305 and E307 are gates: data (code, column, op,
//! value) that profiles carry, one generic check, the same declarations loadable from TOML.

mod common;
use common::*;

const REG: &str = "2024-06-01 10:00:00";

fn line(id: &str, offer: &str, activity: &str, sales: &str, moq: &str) -> String {
    format!("{id},{offer},A,M1,{activity},,{REG},,2024-06-06 10:00:00,2024-06-08 10:00:00,,9,,,,{sales},40,0.06,{moq},500,600")
}

fn dump() -> TinyDump {
    TinyDump::new(
        &["O1,A,2024-05-20,10,txn,,", "O2,A,2024-05-20,10,txn,,", "O3,A,2024-05-20,10,txn,,"],
        &[
            &line("R1", "O1", "camp", "1999", "3"),
            &line("R2", "O2", "camp", "2000", "4"),
            &line("R3", "O3", "camp", "2001", "2"),
        ],
    )
}

/// A config adds a gate to a custom campaign and replaces a built-in one by its code; the
/// boundary of each is exact.
#[test]
fn toml_gates_add_and_replace_by_code() {
    let cfg = r#"
[profile.camp]
extends = "huopin"

[[profile.camp.gates]]
code = "E301"
column = "sales_30d"
op = ">="
value = "2000"

[[profile.camp.gates]]
code = "E304"
column = "moq"
op = "<"
value = "3"
"#;
    let a = dump().audit_with_config(cfg);
    let f = &a.findings;
    let e301 = one(f, "E301", "R1");
    assert_eq!((e301.observed.as_str(), e301.threshold.as_str()), ("1999", "2000"));
    assert_eq!(e301.message, "sales_30d is 1999; at least 2000 required");
    assert!(!has(f, "E301", "R2") && !has(f, "E301", "R3"));
    assert_eq!(one(f, "E304", "R1").message, "moq is 3; less than 3 required");
    assert!(has(f, "E304", "R2") && !has(f, "E304", "R3"));
    // the gate as the profile shows it
    let shown = priceaudit::output::report::profiles(&a.settings);
    assert!(shown.contains("E301: sales_30d >= 2000") && shown.contains("E304: moq < 3"), "{shown}");
}

/// `eligibility.CODE` still sets a gate's value; a gate of a rule the profile does not run
/// (`rules`) stays unchecked, as before gates were data.
#[test]
fn eligibility_key_sets_a_gate_value() {
    let a = dump().audit_with_config("[profile.camp]\nextends = \"huopin\"\neligibility.E301 = \"2001\"\n");
    let f = &a.findings;
    assert!(has(f, "E301", "R1") && has(f, "E301", "R2") && !has(f, "E301", "R3"));
    let a = dump().audit_with_config("[profile.camp]\nextends = \"yanxuan\"\neligibility.E301 = \"2001\"\n");
    assert!(!a.findings.iter().any(|x| x.rule == "E301"));
    assert!(has(&a.findings, "E304", "R1") && !has(&a.findings, "E304", "R3"), "yanxuan's moq ≤ 2 inherited");
}

#[test]
fn bad_gates_are_config_errors_naming_the_key() {
    let bad = |body: &str| {
        let d = dump();
        let cfg = d.path().join("g.toml");
        std::fs::write(&cfg, format!("[profile.camp]\nextends = \"huopin\"\n[[profile.camp.gates]]\n{body}\n"))
            .unwrap();
        let e = priceaudit::audit(d.path(), &priceaudit::AuditOptions { config: Some(cfg), ..Default::default() })
            .err()
            .expect("config error");
        assert_eq!(e.kind, priceaudit::error::ErrorKind::Config);
        e.message
    };
    let m = bad("code = \"E301\"\ncolumn = \"sales_30d\"\nop = \"=>\"\nvalue = \"1\"");
    assert!(m.contains("g.toml") && m.contains("profile.camp.gates[0].op") && m.contains("unknown op"), "{m}");
    // SPEC §11: a level outside its scale, an unknown table, a merchants column without its table,
    // a float anywhere, a level compared with a registrations metric
    let m = bad("code = \"M701\"\ntable = \"merchants\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"AA级\"");
    assert!(m.contains("gates[0]") && m.contains("\"AA级\" is no decimal, level name"), "{m}");
    let m = bad("code = \"M701\"\ntable = \"stores\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"2A\"");
    assert!(m.contains("gates[0]") && m.contains("unknown table \"stores\""), "{m}");
    let m = bad("code = \"M701\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"2A\"");
    assert!(m.contains("table = \"merchants\""), "{m}");
    let m = bad("code = \"M727\"\nany_of = [{ table = \"merchants\", column = \"x\", op = \"<\", value = 0.5 }]");
    assert!(m.contains("gates[0].any_of[0].value") && m.contains("TOML floats"), "{m}");
    let m = bad("code = \"E301\"\ncolumn = \"sales_30d\"\nop = \">=\"\nvalue = \"2A\"");
    assert!(m.contains("decimal metric"), "{m}");
    let m = bad("code = \"M701\"\ntable = \"merchants\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"2A\"\nown = \"3\"");
    assert!(m.contains("`own`"), "{m}");
    let m = bad("code = \"E301\"\ncolumn = \"sales_30d\"\nop = \">=\"\nvalue = 1.5");
    assert!(m.contains("gates[0].value") && m.contains("TOML floats"), "{m}");
    let m = bad("code = \"E301\"\ncolumn = \"salez\"\nop = \">=\"\nvalue = \"1\"");
    assert!(m.contains("gates[0]") && m.contains("not a registrations metric"), "{m}");
    let m = bad("code = \"P101\"\ncolumn = \"sales_30d\"\nop = \">=\"\nvalue = \"1\"");
    assert!(m.contains("not a gate rule"), "{m}");
    let m = bad("code = \"E301\"\ncolumn = \"sales_30d\"\nop = \">=\"\nvalue = \"1\"\nseverity = \"x\"");
    assert!(m.contains("gates[0].severity") && m.contains("unknown field `severity`"), "{m}");
}

/// The built-in gates are data with their code, column, comparison and value; the registry holds
/// their documentation (with the seed).
#[test]
fn built_in_gates_are_data() {
    let s = priceaudit::profile::Settings::default();
    let huopin = s.profile("huopin").unwrap();
    let shown: Vec<String> = huopin.gates.iter().map(|g| format!("{} {}", g.code, g.describe())).collect();
    assert_eq!(
        shown,
        [
            "E301 sales_30d >= 1000",
            "E302 buyers_30d >= 30",
            "E303 conversion_30d >= 0.05",
            "E304 moq <= 5",
            "E305 sku_supply >= 100",
            "E307 sku_market_stock >= 300",
            "M701 merchants.medal >= 2A",
            "M702 merchants.identity in SKA, super_factory, strength, factory_goods, preferred",
            "M703 merchants.lighthouse_product_30d >= 2",
            "M704 merchants.lighthouse_logistics_30d >= 3",
            "M705 merchants.service_stars >= 3.5",
            "M706 merchants.disputes_90d <= 1",
            "M707 merchants.online_dispute_rate_90d <= 0.0001",
            "M708 merchants.penalized = false"
        ]
    );
    assert_eq!(s.profile("yanxuan").unwrap().gate("E304").unwrap().describe(), "moq <= 2");
    // an entry channel's own threshold, met as well as the general one (SPEC §10.1)
    assert_eq!(
        s.profile("huopin-double").unwrap().gate("E305").unwrap().describe(),
        "sku_supply >= 500 (general 100, own 500)"
    );
    assert_eq!(
        s.profile("huopin-hot").unwrap().gate("E301").unwrap().describe(),
        "sales_30d >= 10000 (general 1000, own 10000)"
    );
    assert_eq!(
        s.profile("huopin-quality").unwrap().gate("E301").unwrap().describe(),
        "sales_30d >= 1000 (general 1000, own 100)"
    );
    let doc = priceaudit::output::report::rules_catalog(Some("E304"), false).unwrap();
    assert!(doc.starts_with("E304 moq-too-high") && doc.contains("Seed: 000 招品门槛 4"), "{doc}");
    for p in &s.profiles {
        for g in &p.gates {
            assert!(p.runs(&g.code), "{} runs its gate {}", p.name, g.code);
        }
    }
}

/// SPEC §11's registration gates E310 and E311 (yanxuan, seed 002 二.3): exact at the threshold,
/// failing just under it; not checked without the column or the value.
#[test]
fn e310_e311_yanxuan_product_gates() {
    let regs_header = format!("{},pickup_48h_rate,growth_score", REGS);
    let line = |id: &str, pickup: &str, growth: &str| {
        format!("{id},O1,A,M1,yanxuan,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,9,20,,,,,,,,,{pickup},{growth}")
    };
    let d = TinyDump::new(&["O1,A,2024-05-20,10,txn,,"], &[]);
    write(
        d.path(),
        "registrations.csv",
        &regs_header,
        &[&line("R1", "0.9", "60"), &line("R2", "0.8999", "59.99"), &line("R3", "", "abc")],
    );
    let a = d.audit();
    let f = &a.findings;
    assert!(!has(f, "E310", "R1") && !has(f, "E311", "R1"), "at the threshold: passes");
    let e = one(f, "E310", "R2");
    assert_eq!((e.observed.as_str(), e.threshold.as_str()), ("0.8999", "0.9"));
    assert_eq!(e.message, "pickup_48h_rate is 0.8999; at least 0.9 required");
    assert_eq!(one(f, "E311", "R2").threshold, "60");
    assert!(!has(f, "E310", "R3") && !has(f, "E311", "R3"));
    let nc: Vec<&str> =
        a.summary.not_checked.iter().filter(|n| n.rule.starts_with("E31")).map(|n| n.rule.as_str()).collect();
    assert_eq!(nc, ["E310", "E311"], "R3's empty and non-decimal values are counted as not checked");
    // huopin does not run them
    assert!(!priceaudit::profile::Settings::default().profile("huopin").unwrap().runs("E310"));
}
