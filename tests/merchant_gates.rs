//! Issue 20 / SPEC §11: the built-in merchant gates, each at, just under and just over its
//! threshold (levels at the neighbouring level, booleans both ways and in every spelling, lists
//! in and out); `any_of` both ways; every not-checked path with its reason and example; the same
//! outcomes from a Parquet `merchants` table of other physical types; TOML gates added to a
//! custom campaign and replacing a built-in one.
//!
//! The cases are derived here from each gate's declared text (`merchants.medal >= 2A`) and the
//! outcomes from the comparison's meaning written out below, not from the library's evaluation.

mod common;
use common::*;
use priceaudit::rules::merchant_gates::DECLARED;

const MEDALS: [&str; 5] = ["A", "2A", "3A", "4A", "5A"];
const LEVELS: [&str; 7] = ["L0", "L1", "L2", "L3", "L4", "L5", "L6"];
const TIERS: [&str; 5] = ["bronze", "silver", "gold", "platinum", "diamond"];

/// `x op t` for x = t − unit, t, t + unit (`rel` −1, 0, 1).
fn holds_rel(op: &str, rel: i32) -> bool {
    match op {
        ">=" => rel >= 0,
        ">" => rel > 0,
        "<=" => rel <= 0,
        "<" => rel < 0,
        "=" => rel == 0,
        _ => unreachable!("{op}"),
    }
}

/// A decimal written with `places` decimals, moved by `units` of its last place.
fn shift(t: &str, units: i128) -> Option<String> {
    let places = t.split_once('.').map_or(0, |(_, f)| f.len());
    let digits: i128 = t.replace('.', "").parse().unwrap();
    let v = digits + units;
    if v < 0 {
        return None;
    }
    let s = format!("{:0>width$}", v, width = places + 1);
    Some(if places == 0 { s } else { format!("{}.{}", &s[..s.len() - places], &s[s.len() - places..]) })
}

/// A gate's cases: (value, passes).
fn cases(op: &str, value: &str) -> Vec<(String, bool)> {
    for scale in [&MEDALS[..], &LEVELS[..], &TIERS[..]] {
        if let Some(r) = scale.iter().position(|l| l.eq_ignore_ascii_case(value)) {
            let mut out = Vec::new();
            for (rel, i) in [(-1, r as i32 - 1), (0, r as i32), (1, r as i32 + 1)] {
                if let Some(l) = (i >= 0).then(|| scale.get(i as usize)).flatten() {
                    out.push((l.to_string(), holds_rel(op, rel)));
                    out.push((l.to_lowercase(), holds_rel(op, rel)));
                }
            }
            return out;
        }
    }
    if op == "in" {
        let items: Vec<&str> = value.split(", ").collect();
        let mut out: Vec<(String, bool)> = items.iter().map(|i| (i.to_uppercase(), true)).collect();
        out.push(("stranger".into(), false));
        return out;
    }
    if value == "true" || value == "false" {
        let want = value == "true";
        return [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("1", true),
            ("false", false),
            ("No", false),
            ("0", false),
        ]
        .iter()
        .map(|(s, b)| (s.to_string(), *b == want))
        .collect();
    }
    [-1, 0, 1].iter().filter_map(|&rel| shift(value, rel as i128).map(|v| (v, holds_rel(op, rel)))).collect()
}

fn activity(profile: &str) -> &str {
    profile
}

fn registration(id: &str, merchant: &str, activity: &str) -> String {
    format!(
        "{id},O{id},A,{merchant},{activity},,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,9,,,,,,,,,"
    )
}

/// Rule `code`'s not-checked reasons in the summary: (registrations, reason, example).
fn unchecked_of<'a>(a: &'a priceaudit::Audit, code: &str) -> Vec<(u64, &'a str, Option<&'a str>)> {
    a.summary
        .not_checked
        .iter()
        .filter(|n| n.rule == code)
        .map(|n| (n.registrations.unwrap_or(0), n.reason.as_str(), n.example.as_deref()))
        .collect()
}

/// A dump of one price row and huopin registrations of (id, merchant).
fn huopin_dump(regs: &[(&str, &str)]) -> TinyDump {
    let regs: Vec<String> = regs.iter().map(|(id, m)| registration(id, m, "huopin")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref)
}

/// Every merchants column a built-in gate reads.
fn gate_columns() -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for d in DECLARED {
        for member in d.gate.trim_start_matches("any_of:").split(" | ") {
            let c = member.trim().split(' ').next().unwrap().trim_start_matches("merchants.").to_string();
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    cols
}

#[test]
fn every_gate_at_under_and_over_its_threshold() {
    let cols = gate_columns();
    let mut merchants = Vec::new();
    let mut regs = Vec::new();
    // (registration, code, value, passes)
    let mut want: Vec<(String, &str, String, bool)> = Vec::new();
    let mut n = 0;
    for d in DECLARED.iter().filter(|d| !d.gate.starts_with("any_of")) {
        let mut parts = d.gate.splitn(3, ' ');
        let (column, op, value) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let column = column.trim_start_matches("merchants.");
        for (v, passes) in cases(op, value) {
            n += 1;
            let (m, r) = (format!("G{n}"), format!("R{n}"));
            // only this column has a value: every other gate is not checked on the registration
            let row: Vec<String> = cols.iter().map(|c| if c == column { v.clone() } else { String::new() }).collect();
            merchants.push(format!("{m},{}", row.join(",")));
            regs.push(registration(&r, &m, activity(d.profiles[0])));
            want.push((r, d.code, v, passes));
        }
    }
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let m_ref: Vec<&str> = merchants.iter().map(String::as_str).collect();
    write(dump.path(), "merchants.csv", &format!("merchant_id,{}", cols.join(",")), &m_ref);
    let a = dump.audit();
    assert!(a.dump.rejects.is_empty(), "{:?}", a.dump.rejects.first());
    let mut checked = 0;
    for (r, code, v, passes) in &want {
        let fired: Vec<&priceaudit::findings::Finding> =
            a.findings.iter().filter(|f| f.registration_id == *r && f.rule.starts_with('M')).collect();
        if *passes {
            assert!(fired.is_empty(), "{code} with {v:?}: {fired:#?}");
        } else {
            assert_eq!(fired.len(), 1, "{code} with {v:?} fails, and only it: {fired:#?}");
            assert_eq!((fired[0].rule, fired[0].observed.as_str()), (*code, v.as_str()));
            assert_eq!(fired[0].evidence.as_ref().unwrap().table, priceaudit::findings::Table::Merchants);
        }
        checked += 1;
    }
    // every single gate has a failing and a passing case
    for d in DECLARED.iter().filter(|d| !d.gate.starts_with("any_of")) {
        let of: Vec<&(String, &str, String, bool)> = want.iter().filter(|w| w.1 == d.code).collect();
        assert!(of.iter().any(|w| w.3), "{} passes somewhere", d.code);
        // M711 (medal ≥ A): A is the lowest medal, nothing on the scale fails it
        assert!(of.iter().any(|w| !w.3) || d.code == "M711", "{} fails somewhere", d.code);
    }
    assert!(checked > 150, "{checked} cases");
}

/// The boundary examples SPEC §11 and the issue name, with the finding's exact fields.
#[test]
fn levels_spelled_both_ways_and_findings_as_spec_writes_them() {
    let dump = TinyDump::new(
        &["O1,A,2024-05-20 10:00:00,10,txn,,"],
        &[
            &registration("R1", "M1", "huopin"),
            &registration("R2", "M2", "huopin"),
            &registration("R3", "M3", "huopin"),
            &registration("R4", "M4", "cxt-huopin"),
        ],
    );
    write(
        dump.path(),
        "merchants.csv",
        "merchant_id,medal,identity,ship_hours",
        &["M1,2A,SKA,", "M2,A,ska,", "M3,AA,preferred ,", "M4,AAA,,72"],
    );
    let a = dump.audit();
    assert!(!has(&a.findings, "M701", "R1"), "2A passes >= 2A");
    let f = one(&a.findings, "M701", "R2");
    assert_eq!(
        (f.observed.as_str(), f.reference.as_str(), f.threshold.as_str(), f.message.as_str()),
        ("A", "", ">= 2A", "merchants.medal is A; at least 2A required")
    );
    assert_eq!(f.evidence.as_ref().map(|e| e.row), Some(3), "the merchant's line in merchants.csv");
    assert!(!has(&a.findings, "M701", "R3"), "AA equals 2A");
    assert!(!has(&a.findings, "M702", "R2") && !has(&a.findings, "M702", "R3"), "in: any case, trimmed");
    let f = one(&a.findings, "M736", "R4");
    assert_eq!((f.observed.as_str(), f.threshold.as_str()), ("72", "in 24, 48"));
    assert!(!has(&a.findings, "M731", "R4"), "AAA is 3A");
}

/// `any_of` (M715: level ≥ L2 or identity in strength, super_factory): passes when a member
/// passes, fails when both were compared and failed, otherwise not checked.
#[test]
fn any_of_both_ways() {
    let cases = [
        ("L2", "other", Some(true)),
        ("L1", "strength", Some(true)),
        ("L6", "", Some(true)),
        ("L1", "other", Some(false)),
        ("L1", "", None),
        ("", "other", None),
        ("L9", "super_factory", Some(true)),
        ("L9", "other", None),
    ];
    let regs: Vec<String> =
        (0..cases.len()).map(|i| registration(&format!("R{i}"), &format!("M{i}"), "yanxuan")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let rows: Vec<String> = cases.iter().enumerate().map(|(i, (l, id, _))| format!("M{i},{l},{id}")).collect();
    let rows_ref: Vec<&str> = rows.iter().map(String::as_str).collect();
    write(dump.path(), "merchants.csv", "merchant_id,level,identity", &rows_ref);
    let a = dump.audit();
    for (i, (l, id, want)) in cases.iter().enumerate() {
        let r = format!("R{i}");
        assert_eq!(has(&a.findings, "M715", &r), *want == Some(false), "{l} / {id}");
    }
    let f = one(&a.findings, "M715", "R3");
    assert_eq!((f.observed.as_str(), f.threshold.as_str()), ("L1 | other", ">= L2 | in strength, super_factory"));
    let nc = unchecked_of(&a, "M715");
    assert_eq!(
        nc,
        [
            (1, "no identity value (empty)", None),
            (1, "no level value (empty)", None),
            (1, "level value cannot be compared with a 诚信通 level (L0…L6)", Some("L9")),
        ]
    );
}

/// Every not-checked path, with its reason (and an example value where one helps), and never a
/// finding.
#[test]
fn not_checked_paths_name_the_reason_and_an_example() {
    let dump = huopin_dump(&[("R1", "M1"), ("R2", "MX"), ("R3", ""), ("R4", "M4"), ("R5", "M5")]);
    let a = dump.audit();
    // no merchants table: every merchant gate of every huopin registration
    let no_table: Vec<(&str, u64)> = a
        .summary
        .not_checked
        .iter()
        .filter(|n| n.rule.starts_with('M'))
        .map(|n| (n.reason.as_str(), n.registrations.unwrap()))
        .collect();
    assert_eq!(no_table.len(), 8, "M701–M708: {no_table:?}");
    assert!(no_table.iter().all(|(r, n)| *r == "no merchants table in the dump" && *n == 5));
    write(dump.path(), "merchants.csv", "merchant_id,medal,service_stars", &["M1,AA级,\"3,5\"", "M4,,x", "M5,5A,4"]);
    let a = dump.audit();
    assert!(!a.findings.iter().any(|f| f.rule.starts_with('M')), "missing data is never a finding");
    let of = |code: &str| -> Vec<(u64, String, Option<String>)> {
        a.summary
            .not_checked
            .iter()
            .filter(|n| n.rule == code)
            .map(|n| (n.registrations.unwrap(), n.reason.clone(), n.example.clone()))
            .collect()
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        of("M701"),
        [
            (1, s("the registration's merchant is not in merchants"), Some(s("MX"))),
            (1, s("medal value cannot be compared with a medal (A…5A)"), Some(s("AA级"))),
            (1, s("no merchant_id"), None),
            (1, s("no medal value (empty)"), None),
        ]
    );
    // two uncomparable values: one reason, counted twice, the first example kept
    assert_eq!(
        of("M705"),
        [
            (1, s("the registration's merchant is not in merchants"), Some(s("MX"))),
            (2, s("service_stars value cannot be compared with a decimal"), Some(s("3,5"))),
            (1, s("no merchant_id"), None),
        ]
    );
    assert!(of("M708").iter().any(|x| x.1 == "column penalized is not in merchants" && x.0 == 3));
    let line = priceaudit::output::report::terminal(&a, std::path::Path::new("out"));
    assert!(
        line.contains(
            "not checked: M701 for 1 registrations: medal value cannot be compared with a medal (A…5A) (e.g. \"AA级\")"
        ),
        "{line}"
    );
}

/// A Parquet `merchants` table of other physical types (integers, floats, booleans, decimals)
/// gives the outcomes of its text.
#[test]
fn parquet_merchants_of_other_physical_types() {
    use polars::prelude::*;
    let regs: Vec<String> = (1..=3).map(|i| registration(&format!("R{i}"), &format!("M{i}"), "huopin")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let rate = Series::new("online_dispute_rate_90d".into(), [Some("0.0001"), Some("0.000101"), None])
        .cast(&DataType::Decimal(18, 6))
        .unwrap();
    let mut df = df!(
        "merchant_id" => ["M1", "M2", "M3"],
        "disputes_90d" => [1i64, 2, 0],
        "service_stars" => [3.5f64, 3.4, 0.0000001],
        "penalized" => [false, true, false],
        "online_dispute_rate_90d" => rate,
    )
    .unwrap();
    let f = std::fs::File::create(dump.path().join("merchants.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let a = dump.audit();
    let fired: Vec<(&str, &str, &str)> = a
        .findings
        .iter()
        .filter(|f| f.rule.starts_with('M'))
        .map(|f| (f.registration_id.as_str(), f.rule, f.observed.as_str()))
        .collect();
    assert_eq!(
        fired,
        [
            ("R2", "M705", "3.4"),
            ("R3", "M705", "0.0000001"),
            ("R2", "M706", "2"),
            ("R2", "M707", "0.000101"),
            ("R2", "M708", "true")
        ]
    );
}

/// The shipped example: a custom campaign with gates of its own, and a built-in gate replaced
/// by its code.
#[test]
fn example_config_adds_and_replaces_gates() {
    let regs =
        [registration("R1", "M1", "spring"), registration("R2", "M2", "spring"), registration("R3", "M1", "yanxuan")];
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    write(
        dump.path(),
        "merchants.csv",
        "merchant_id,buyer_protection_deposit,level,identity,violation_points_year",
        &["M1,4999.99,L2,other,12", "M2,5000,L3,other,0"],
    );
    let opts =
        priceaudit::AuditOptions { config: Some("fixtures/config/custom-gates.toml".into()), ..Default::default() };
    let a = priceaudit::audit(dump.path(), &opts).expect("audit");
    let f = one(&a.findings, "M712", "R1");
    assert_eq!((f.observed.as_str(), f.threshold.as_str()), ("4999.99", ">= 5000"));
    assert!(!has(&a.findings, "M712", "R2"), "5000 meets >= 5000");
    let f = one(&a.findings, "M715", "R1");
    assert_eq!(f.threshold, ">= L3 | in super_factory");
    assert!(!has(&a.findings, "M715", "R2"));
    // yanxuan's M713 replaced: fewer than 12 points (the built-in: fewer than 36)
    assert_eq!(one(&a.findings, "M713", "R3").threshold, "< 12");
    let shown = priceaudit::output::report::profiles(&a.settings);
    assert!(shown.contains("M712: merchants.buyer_protection_deposit >= 5000"), "{shown}");
}

/// Review of issue 20: exactness beyond binary floating point, M727's exception (one dispute
/// excused), `in` comparing decimals as decimals, levels off the scale, Float32 Parquet values,
/// evidence rows in Parquet and after a rejected duplicate.
#[test]
fn exact_decimals_exceptions_and_scales() {
    let cases: &[(&str, &str, &str, &str, bool)] = &[
        // (profile, column, value, gate, fails)
        ("huopin", "service_stars", "3.49999999999999999", "M705", true),
        ("huopin", "service_stars", "3.50000000000000000", "M705", false),
        ("huopin", "online_dispute_rate_90d", "0.00010000000000000001", "M707", true),
        ("cxt-huopin", "ship_hours", "24.0", "M736", false),
        ("cxt-huopin", "ship_hours", " 048 ", "M736", false),
        ("cxt-huopin", "ship_hours", "24小时", "M736", true),
    ];
    let mut regs = Vec::new();
    let mut rows = Vec::new();
    let cols = ["service_stars", "online_dispute_rate_90d", "ship_hours"];
    for (i, (p, c, v, _, _)) in cases.iter().enumerate() {
        regs.push(registration(&format!("R{i}"), &format!("M{i}"), p));
        let row: Vec<String> = cols.iter().map(|x| if x == c { format!("\"{v}\"") } else { String::new() }).collect();
        rows.push(format!("M{i},{}", row.join(",")));
    }
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let rows_ref: Vec<&str> = rows.iter().map(String::as_str).collect();
    write(dump.path(), "merchants.csv", &format!("merchant_id,{}", cols.join(",")), &rows_ref);
    let a = dump.audit();
    for (i, (_, _, v, code, fails)) in cases.iter().enumerate() {
        assert_eq!(has(&a.findings, code, &format!("R{i}")), *fails, "{code} with {v:?}");
    }

    // M727: rate < 0.01% or at most one dispute (纠纷笔数只有1笔的除外); M728: fewer than 2
    let m727 = [
        ("0.0002", "1", false, false),
        ("0.00009", "2", false, true),
        ("0.0001", "2", true, true),
        ("0.0001", "", false, false),
    ];
    let regs: Vec<String> =
        (0..m727.len()).map(|i| registration(&format!("R{i}"), &format!("M{i}"), "cxt-daily")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let rows: Vec<String> = m727.iter().enumerate().map(|(i, (r, d, _, _))| format!("M{i},{r},{d}")).collect();
    let rows_ref: Vec<&str> = rows.iter().map(String::as_str).collect();
    write(dump.path(), "merchants.csv", "merchant_id,dispute_rate_90d,disputes_90d", &rows_ref);
    let a = dump.audit();
    for (i, (r, d, f727, f728)) in m727.iter().enumerate() {
        let reg = format!("R{i}");
        assert_eq!((has(&a.findings, "M727", &reg), has(&a.findings, "M728", &reg)), (*f727, *f728), "{r} / {d}");
    }
    assert_eq!(one(&a.findings, "M727", "R2").message, "none of the alternatives holds: merchants.dispute_rate_90d is 0.0001; less than 0.0001 required; merchants.disputes_90d is 2; at most 1 required");

    // levels off the scale, a boolean written 1.0: not checked, with the value as example
    let off = ["AAAAAA", "6A", "1A", "0A"];
    let regs: Vec<String> = (0..5).map(|i| registration(&format!("R{i}"), &format!("M{i}"), "huopin")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let mut rows: Vec<String> = off.iter().enumerate().map(|(i, m)| format!("M{i},{m},")).collect();
    rows.push("M4,2A,1.0".into());
    let rows_ref: Vec<&str> = rows.iter().map(String::as_str).collect();
    write(dump.path(), "merchants.csv", "merchant_id,medal,penalized", &rows_ref);
    let a = dump.audit();
    assert!(!a.findings.iter().any(|f| f.rule == "M701" || f.rule == "M708"), "never a finding");
    let nc = |code: &str, reason: &str| -> Option<(u64, Option<String>)> {
        a.summary
            .not_checked
            .iter()
            .find(|n| n.rule == code && n.reason == reason)
            .map(|n| (n.registrations.unwrap(), n.example.clone()))
    };
    assert_eq!(nc("M701", "medal value cannot be compared with a medal (A…5A)"), Some((4, Some("AAAAAA".into()))));
    assert_eq!(nc("M708", "penalized value cannot be compared with a boolean"), Some((1, Some("1.0".into()))));
}

/// Evidence rows: the 0-based Parquet row of the merchant, and after a rejected duplicate the
/// kept (first) row; Float32 and DECIMAL(38,18) values read by their value.
#[test]
fn parquet_evidence_rows_and_value_types() {
    use polars::prelude::*;
    let regs: Vec<String> = (1..=3).map(|i| registration(&format!("R{i}"), &format!("M{i}"), "cxt-daily")).collect();
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    let rate = Series::new("dispute_rate_90d".into(), [Some("0.0001"), Some("0.0001"), Some("0.00011"), None])
        .cast(&DataType::Decimal(38, 18))
        .unwrap();
    let mut df = df!(
        "merchant_id" => ["M2", "M1", "M3", "M1"],
        "satisfaction" => [4.0f32, 3.9f32, 4.0f32, 5.0f32],
        "disputes_90d" => [2i64, 2, 1, 0],
        "dispute_rate_90d" => rate,
    )
    .unwrap();
    let f = std::fs::File::create(dump.path().join("merchants.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let a = dump.audit();
    assert_eq!(a.dump.rejects.len(), 1, "the second M1 row");
    let f = one(&a.findings, "M724", "R1");
    assert_eq!(
        (f.observed.as_str(), f.evidence.as_ref().unwrap().row),
        ("3.9", 1),
        "Float32 3.9 is 3.9; the first M1 row"
    );
    let f = one(&a.findings, "M727", "R2");
    assert_eq!((f.observed.as_str(), f.evidence.as_ref().unwrap().row), ("0.0001 | 2", 0));
    assert!(!has(&a.findings, "M727", "R3"), "one dispute excused");
    assert!(!has(&a.findings, "M724", "R2"), "Float32 4.0 meets >= 4");
}

/// Config: a gate rule listed in `rules` without a gate runs its built-in gate; errors name the
/// field; a list needs `in`, a boolean `=`; `eligibility.CODE` cannot rewrite a gate that is not
/// one decimal comparison.
#[test]
fn config_gate_rules_and_errors() {
    let regs = [registration("R1", "M1", "camp")];
    let regs_ref: Vec<&str> = regs.iter().map(String::as_str).collect();
    let dump = TinyDump::new(&["O1,A,2024-05-20 10:00:00,10,txn,,"], &regs_ref);
    write(dump.path(), "merchants.csv", "merchant_id,medal", &["M1,A"]);
    let a = dump.audit_with_config("[profile.camp]\nrules = [\"C401\", \"M701\"]\n");
    assert_eq!(one(&a.findings, "M701", "R1").threshold, ">= 2A", "the built-in gate of M701");
    let bad = |body: &str| {
        let cfg = dump.path().join("bad.toml");
        std::fs::write(&cfg, body).unwrap();
        let opts = priceaudit::AuditOptions { config: Some(cfg), ..Default::default() };
        priceaudit::audit(dump.path(), &opts).err().expect("config error").message
    };
    let g =
        |rest: &str| format!("[profile.camp]\nrules = [\"C401\"]\n[[profile.camp.gates]]\ncode = \"M701\"\n{rest}\n");
    let m = bad(&g("table = \"merchants\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = [\"A\", \"2A\"]"));
    assert!(m.contains("gates[0]") && m.contains("`value`: a list compares with op `in`"), "{m}");
    let m = bad(&g("table = \"merchants\"\ncolumn = \"penalized\"\nop = \">=\"\nvalue = true"));
    assert!(m.contains("`op`: a boolean compares with `=`"), "{m}");
    let m = bad(&g("table = \"merchants\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"1A\""));
    assert!(m.contains("`value`: \"1A\" is no decimal, level name"), "{m}");
    let m = bad(&g("table = \"shops\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"2A\""));
    assert!(m.contains("`table`: unknown table \"shops\""), "{m}");
    // (a profile's own keys apply eligibility before gates: the conflict comes from a parent)
    let m = bad("[profile.camp]\nextends = \"huopin\"\n[[profile.camp.gates]]\ncode = \"E301\"\ntable = \"merchants\"\ncolumn = \"medal\"\nop = \">=\"\nvalue = \"2A\"\n[profile.camp2]\nextends = \"camp\"\neligibility.E301 = \"5\"\n");
    assert!(m.contains("profile.camp2.eligibility.E301") && m.contains("not one decimal comparison"), "{m}");
}

/// One merchant's outcome is shared by its registrations (the rules' evaluation compares a
/// merchants-only gate once per merchant row): each of them still gets its own finding, with its
/// own ids and the merchant's row as evidence, and each is counted in the not-checked reasons,
/// the first registration's example kept. Registrations of other merchants in between keep
/// their own outcomes.
#[test]
fn registrations_of_one_merchant_each_judged() {
    let dump = huopin_dump(&[
        ("R1", "M1"),
        ("R2", "M2"),
        ("R3", "M1"),
        ("R4", "M3"),
        ("R5", "M2"),
        ("R6", "M1"),
        ("R7", "M4"),
    ]);
    // M1 below 2A (fails), M2 uncomparable, M3 at 2A (passes), M4 uncomparable otherwise
    write(dump.path(), "merchants.csv", "merchant_id,medal", &["M1,A", "M2,AA级", "M3,2A", "M4,6A"]);
    let a = dump.audit();
    let fired: Vec<(&str, &str, Option<u64>)> = a
        .findings
        .iter()
        .filter(|f| f.rule == "M701")
        .map(|f| (f.registration_id.as_str(), f.merchant_id.as_str(), f.evidence.as_ref().map(|e| e.row)))
        .collect();
    // (merchants.csv: the header is line 1, M1 line 2)
    assert_eq!(fired, [("R1", "M1", Some(2)), ("R3", "M1", Some(2)), ("R6", "M1", Some(2))]);
    let fired_offers: Vec<&str> = a.findings.iter().filter(|f| f.rule == "M701").map(|f| f.offer_id.as_str()).collect();
    assert_eq!(fired_offers, ["OR1", "OR3", "OR6"]);
    assert_eq!(
        unchecked_of(&a, "M701"),
        [(3, "medal value cannot be compared with a medal (A…5A)", Some("AA级"))],
        "R2 and R5 (M2) and R7 (M4), the first met's example"
    );
}
