//! Properties over generated dumps (issue 6), with a bounded case count so CI stays fast:
//! permutation invariance, excluded channels change nothing, a higher price lowers no lowest,
//! scaling every price by 10 changes no verdict, raising a promo price removes no P101/P103/P104,
//! garbage rows keep the reconciliation; plus the exactness suite against rational arithmetic
//! and byte-for-byte determinism of every output file.

mod common;

use priceaudit::money::Dec;
use priceaudit::{audit, AuditOptions};
use proptest::prelude::*;
use std::path::Path;

type Table = (Vec<String>, Vec<Vec<String>>);

fn read(path: &Path) -> Table {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(str::to_string).collect();
    (h, r.records().map(|x| x.unwrap().iter().map(str::to_string).collect()).collect())
}

fn write(path: &Path, t: &Table) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&t.0).unwrap();
    for r in &t.1 {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

fn col(t: &Table, name: &str) -> usize {
    t.0.iter().position(|h| h == name).unwrap()
}

fn synth(seed: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 40, 120, seed, priceaudit::synth::Format::Csv).unwrap();
    d
}

fn run(dir: &Path) -> priceaudit::Audit {
    audit(dir, &AuditOptions::default()).unwrap()
}

/// A finding without where its evidence sits in the file.
fn key(f: &priceaudit::findings::Finding) -> String {
    let ev = f.evidence.as_ref().and_then(|e| e.price.as_ref()).map(|p| p.to_string()).unwrap_or_default();
    format!(
        "{} {} {} {} {} {} {} {}",
        f.rule, f.registration_id, f.offer_id, f.sku_id, f.observed, f.reference, f.threshold, ev
    )
}

/// The rules whose findings SPEC §10 makes depend on file order (slots and registrations tied on
/// time are ordered by it: which of two equal-time slots is "the later", which registration is
/// "the earliest"), left out of the permutation property.
/// (K501–K503 count from the warm-up start of the slot's first registration in file order.)
const FILE_ORDER_TIES: [&str; 7] = ["S203", "S204", "S205", "D602", "K501", "K502", "K503"];

fn keys(a: &priceaudit::Audit) -> Vec<String> {
    let mut v: Vec<String> = a.findings.iter().filter(|f| !FILE_ORDER_TIES.contains(&f.rule)).map(key).collect();
    v.sort();
    v
}

/// Append `n` price rows to the dump, one per registration in turn (at its SKU and its
/// registration time), made by `row(i)` as (price, kind, channel).
fn add_price_rows(dir: &Path, n: usize, row: impl Fn(usize) -> (String, &'static str, &'static str)) {
    let path = dir.join("prices.csv");
    let mut t = read(&path);
    let regs = read(&dir.join("registrations.csv"));
    let (ro, rs, rr) = (col(&regs, "offer_id"), col(&regs, "sku_id"), col(&regs, "registered_at"));
    for i in 0..n {
        let r = &regs.1[i % regs.1.len()];
        let (price, kind, channel) = row(i);
        let mut row =
            vec![r[ro].clone(), r[rs].clone(), r[rr].clone(), price, kind.into(), channel.into(), String::new()];
        row.resize(t.0.len(), String::new()); // `qty`, when the dump has it
        t.1.push(row);
    }
    write(&path, &t);
}

fn scale10(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    Dec::parse(s).unwrap().mul(Dec::from_int(10)).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn permuting_rows_changes_only_evidence_rows(seed in 0u64..1000, shuffle in any::<u64>()) {
        let d = synth(seed);
        let before = keys(&run(d.path()));
        for table in ["prices.csv", "registrations.csv", "ladders.csv", "retail.csv"] {
            let path = d.path().join(table);
            let mut t = read(&path);
            // a deterministic Fisher–Yates from the generated seed
            let mut x = shuffle | 1;
            for i in (1..t.1.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                t.1.swap(i, (x % (i as u64 + 1)) as usize);
            }
            write(&path, &t);
        }
        prop_assert_eq!(keys(&run(d.path())), before);
    }

    #[test]
    fn excluded_channel_rows_change_nothing(seed in 0u64..1000, n in 1usize..40, price_cents in 1i64..100) {
        let d = synth(seed);
        let before = run(d.path());
        add_price_rows(d.path(), n, |i| {
            let ch = if i % 2 == 0 { "member_price" } else { "bundle_price" };
            (format!("0.{price_cents:02}"), if i % 3 == 0 { "list" } else { "txn" }, ch)
        });
        let after = run(d.path());
        let cells = |a: &priceaudit::Audit| a.findings.iter().map(|f| f.cells().to_vec()).collect::<Vec<_>>();
        prop_assert_eq!(cells(&after), cells(&before));
    }

    #[test]
    fn a_higher_price_lowers_no_lowest(seed in 0u64..1000, n in 1usize..40) {
        let d = synth(seed);
        let before = run(d.path());
        // SPEC §2: of two regular `list` rows at one instant the later in file order supersedes
        // the earlier, whose interval is empty; an added list row at a registration's time that
        // meets one there may take it out of the listed prices (the lowest then rises: seed 84,
        // n 22, where a 61.74 list row sat at the registration time)
        let tz = priceaudit::time::zone(priceaudit::time::DEFAULT_ZONE).unwrap();
        let at = |s: &str| priceaudit::time::parse_instant(s, &tz).ok();
        let prices = read(&d.path().join("prices.csv"));
        let (po, ps, pt, pk, pc) =
            (col(&prices, "offer_id"), col(&prices, "sku_id"), col(&prices, "ts"), col(&prices, "kind"), col(&prices, "channel"));
        let listed: std::collections::HashSet<(String, String, Option<i64>)> = prices
            .1
            .iter()
            .filter(|r| r[pk] == "list" && (r[pc].is_empty() || r[pc] == "regular"))
            .map(|r| (r[po].clone(), r[ps].clone(), at(&r[pt])))
            .collect();
        add_price_rows(d.path(), n, |i| ("99999".to_string(), if i % 2 == 0 { "txn" } else { "list" }, ""));
        let after = run(d.path());
        let lows = |a: &priceaudit::Audit| a.facts.per_reg.iter().map(|f| (f.lowest_30d.as_ref().map(|x| x.price()), f.lowest_180d.as_ref().map(|x| x.price()))).collect::<Vec<_>>();
        let (b, a) = (lows(&before), lows(&after));
        let regs = &before.facts.registrations;
        // the registrations whose SKU has a regular list row at an added list row's instant
        let regs_csv = read(&d.path().join("registrations.csv"));
        let (ro, rs, rr) = (col(&regs_csv, "offer_id"), col(&regs_csv, "sku_id"), col(&regs_csv, "registered_at"));
        let superseded: std::collections::HashSet<(String, String)> = (0..n)
            .filter(|i| i % 2 == 1)
            .map(|i| &regs_csv.1[i % regs_csv.1.len()])
            .filter(|r| listed.contains(&(r[ro].clone(), r[rs].clone(), at(&r[rr]))))
            .map(|r| (r[ro].clone(), r[rs].clone()))
            .collect();
        for ((x, y), r) in b.iter().zip(&a).zip(regs) {
            if superseded.contains(&(r.offer_id.to_string(), r.sku_id.to_string())) {
                continue;
            }
            // a reference may appear where there was none, but never drops
            prop_assert!(x.0.is_none() || x.0 == y.0);
            prop_assert!(x.1.is_none() || x.1 == y.1);
        }
    }

    #[test]
    fn scaling_every_price_by_ten_changes_no_verdict(seed in 0u64..1000) {
        let d = synth(seed);
        let before = run(d.path());
        for (table, cols) in [("prices.csv", vec!["price"]), ("registrations.csv", vec!["promo_price", "list_price", "retail_price"]), ("ladders.csv", vec!["price"]), ("retail.csv", vec!["price"])] {
            let path = d.path().join(table);
            let mut t = read(&path);
            let idx: Vec<usize> = cols.iter().map(|c| col(&t, c)).collect();
            for r in &mut t.1 {
                for &i in &idx {
                    r[i] = scale10(&r[i]);
                }
            }
            write(&path, &t);
        }
        // the thresholds in money scale too: E309's supply value (1000) and K503's turnover
        // (10000; huopin's setting, carried down to the entry channels)
        let cfg = d.path().join("scaled.toml");
        std::fs::write(&cfg, "[profile.huopin]\nturnover_min = \"100000\"\n[profile.huopin-double]\neligibility.E309 = \"10000\"\n").unwrap();
        let after = audit(d.path(), &AuditOptions { config: Some(cfg), ..Default::default() }).unwrap();
        let rules = |a: &priceaudit::Audit| { let mut v: Vec<(String, String, String, String)> = a.findings.iter().map(|f| (f.rule.to_string(), f.registration_id.to_string(), f.offer_id.to_string(), f.sku_id.to_string())).collect(); v.sort(); v };
        prop_assert_eq!(rules(&after), rules(&before));
        let verdicts = |a: &priceaudit::Audit| a.verdicts.iter().map(|v| v.verdict).collect::<Vec<_>>();
        prop_assert_eq!(verdicts(&after), verdicts(&before));
    }

    #[test]
    fn raising_promo_prices_removes_no_p101_p103_p104(seed in 0u64..1000, cents in 1i64..5000) {
        let d = synth(seed);
        let before = run(d.path());
        let path = d.path().join("registrations.csv");
        let mut t = read(&path);
        let pi = col(&t, "promo_price");
        for r in &mut t.1 {
            r[pi] = Dec::parse(&r[pi]).unwrap().add(Dec::new(cents as i128, 2)).to_string();
        }
        write(&path, &t);
        let after = run(d.path());
        let pick = |a: &priceaudit::Audit| a.findings.iter().filter(|f| ["P101", "P103", "P104"].contains(&f.rule)).map(|f| (f.rule, f.registration_id.clone())).collect::<std::collections::BTreeSet<_>>();
        prop_assert!(pick(&before).is_subset(&pick(&after)));
    }

    #[test]
    fn garbage_rows_are_rejected_and_reconciled(seed in 0u64..1000, junk in proptest::collection::vec("[ -~]{0,40}", 1..20)) {
        let d = synth(seed);
        let path = d.path().join("prices.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        for j in &junk {
            text.push_str(j);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        match audit(d.path(), &AuditOptions::default()) {
            Ok(a) => {
                prop_assert!(a.summary.reconciled);
                let t = &a.summary.tables["prices"];
                prop_assert_eq!(t.rows_read, t.rows_used + t.rows_rejected);
            }
            // an unbalanced quote can swallow the rest of the file: that is an input error, named
            Err(e) => prop_assert!(e.message.contains("prices.csv"), "{}", e.message),
        }
    }
}

/// Every output file of `dir`'s audit, held or streamed price rows.
fn outputs(dir: &Path, stream_prices: bool) -> Vec<(String, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    let a = audit(dir, &AuditOptions { stream_prices, ..Default::default() }).unwrap();
    priceaudit::output::write_all(&a, out.path(), &priceaudit::output::Outputs::default().with("findings.parquet"))
        .unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn assert_same_outputs(dir: &Path) {
    let (held, streamed) = (outputs(dir, false), outputs(dir, true));
    assert_eq!(held.len(), streamed.len());
    for ((n, a), (_, b)) in held.iter().zip(&streamed) {
        assert!(a == b, "{n} differs between held and streamed price rows in {}", dir.display());
    }
}

#[test]
fn streamed_price_rows_give_the_same_outputs_on_bad_rows() {
    // rejects, unknown channels and blank lines are counted by the streaming pass
    assert_same_outputs(Path::new("fixtures/conformance/bad-rows"));
    assert_same_outputs(Path::new("fixtures/demo"));
}

#[test]
fn empty_and_missing_channels_are_regular_held_or_streamed() {
    // Parquet keeps "" apart from null; both are `regular` (SPEC §2), and the streaming pass
    // maps them in its fold, not in polars: the two paths must agree
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    let mut prices = df!(
        "offer_id" => ["O1", "O1", "O1", "O2"],
        "sku_id" => ["A", "A", "A", "A"],
        "ts" => ["2024-05-20 10:00:00", "2024-05-21 10:00:00", "2024-05-22 10:00:00", "2024-05-20 10:00:00"],
        "price" => ["8.00", "9.50", "9.00", "7.00"],
        "kind" => ["txn", "txn", "txn", "txn"],
        "channel" => [Some(""), None, Some("livestream"), None]
    )
    .unwrap();
    let f = std::fs::File::create(d.path().join("prices.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut prices).unwrap();
    let regs = "registration_id,offer_id,sku_id,merchant_id,activity,category,registered_at,approved_at,promo_start,promo_end,warmup_start,promo_price,list_price,retail_price,title,sales_30d,buyers_30d,conversion_30d,moq,sku_supply,sku_market_stock\n\
        R1,O1,A,M1,huopin,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,8.5,20,,,,,,,,\n\
        R2,O2,A,M1,huopin,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,7.5,20,,,,,,,,\n";
    std::fs::write(d.path().join("registrations.csv"), regs).unwrap();
    assert_same_outputs(d.path());
    let a = audit(d.path(), &AuditOptions { stream_prices: true, ..Default::default() }).unwrap();
    let p101: Vec<_> = a.findings.iter().filter(|f| f.rule == "P101").collect();
    // R1: the lowest is the empty channel's 8.00, R2's the missing channel's 7.00: both regular
    let ev: Vec<_> = p101
        .iter()
        .map(|f| (f.registration_id.as_str(), f.evidence.as_ref().map(|e| (e.row, e.channel.as_deref()))))
        .collect();
    assert_eq!(ev, [("R1", Some((0, Some("regular")))), ("R2", Some((3, Some("regular"))))]);
    assert_eq!(a.summary.unknown_channels.get("livestream"), Some(&1));
    assert_eq!(a.summary.unknown_channels.len(), 1, "an empty channel is not an unknown one");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn streamed_price_rows_give_the_same_outputs(seed in 0u64..1000, junk in proptest::collection::vec("[a-z0-9,:. -]{0,30}", 0..6)) {
        let d = synth(seed);
        let path = d.path().join("prices.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        // a row of an unknown channel for the first row's SKU
        let first: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        text.push_str(&format!("{},{},{},0.01,txn,livestream,\n", first[0], first[1], first[2]));
        for j in &junk {
            text.push_str(j);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        assert_same_outputs(d.path());
    }
}

/// `a × 10^-s` as an exact rational comparison helper: numerator at scale 10^12.
fn at12(d: &str) -> i128 {
    let (i, f) = d.split_once('.').unwrap_or((d, ""));
    let f = format!("{f:0<12}");
    i.parse::<i128>().unwrap() * 1_000_000_000_000 + f[..12].parse::<i128>().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    /// Thresholds at the boundary for 0.9 (strict), 0.95 (non-strict), 0.8 (strict), with list
    /// and retail prices of 1 to 6 decimal places and up to 20 integer digits: the audit agrees
    /// with exact rational arithmetic one unit of the 10th decimal either side.
    #[test]
    fn thresholds_agree_with_rational_arithmetic(values in proptest::collection::vec((1u64..u64::MAX, 1u32..=6), 4)) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("prices.csv"), "offer_id,sku_id,ts,price,kind,channel,until\n").unwrap();
        let mut regs = String::from("registration_id,offer_id,sku_id,merchant_id,activity,category,registered_at,approved_at,promo_start,promo_end,warmup_start,promo_price,list_price,retail_price,title\n");
        let mut expect = Vec::new();
        let ulp = Dec::new(1, 10);
        for (i, (mantissa, places)) in values.iter().enumerate() {
            let base = Dec::new(*mantissa as i128, *places);
            for (activity, factor, strict) in [("huopin", "0.9", true), ("yanxuan", "0.95", false)] {
                let t = base.mul(Dec::parse(factor).unwrap());
                for (j, promo) in [t.sub(ulp), t, t.add(ulp)].into_iter().enumerate() {
                    if !promo.is_positive() { continue; }
                    let id = format!("R{i}{activity}{j}");
                    regs.push_str(&format!("{id},O{i},A,M,{activity},,2024-06-01,,2024-06-06,2024-06-08,,{promo},{base},{base},\n"));
                    // rational: promo vs base × factor, both at scale 10^12 × 100
                    let (p, b) = (at12(&promo.to_string()), at12(&base.to_string()));
                    let f = (Dec::parse(factor).unwrap().mul(Dec::from_int(100))).to_string().parse::<i128>().unwrap();
                    let (lhs, rhs) = (p * 100, b * f);
                    let p103 = if strict { lhs >= rhs } else { lhs > rhs };
                    let p104 = activity == "huopin" && p * 10 >= b * 8;
                    expect.push((id, p103, p104));
                }
            }
        }
        std::fs::write(d.path().join("registrations.csv"), regs).unwrap();
        let a = run(d.path());
        for (id, p103, p104) in expect {
            let has = |rule: &str| a.findings.iter().any(|f| f.rule == rule && f.registration_id == id);
            prop_assert_eq!(has("P103"), p103, "P103 on {}", id);
            prop_assert_eq!(has("P104"), p104, "P104 on {}", id);
        }
    }
}

#[test]
fn ladder_and_category_factors_at_the_boundary() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("prices.csv"), "offer_id,sku_id,ts,price,kind,channel,until\nO1,A,2024-01-01,33.333333,list,regular,\nO2,A,2024-01-01,33.333333,list,regular,\n").unwrap();
    std::fs::write(
        d.path().join("registrations.csv"),
        "registration_id,offer_id,sku_id,merchant_id,activity,category,registered_at,approved_at,promo_start,promo_end,warmup_start,promo_price,list_price,retail_price,title\n\
         AT,O1,A,M,ae-platform,apparel,2024-06-01,,2024-06-20,2024-06-22,,31.66666635,,,\n\
         OVER,O2,A,M,ae-platform,apparel,2024-06-01,,2024-06-20,2024-06-22,,31.6666663501,,,\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("ladders.csv"),
        "offer_id,sku_id,min_qty,price,stock\nL1,,1,1000000000000000000000000,\nL1,,2,100000000000000000000000,\nL2,,1,1000000000000000000000000.0000000001,\nL2,,2,100000000000000000000000,\n",
    )
    .unwrap();
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "[profile.ae-platform.category_discount]\napparel = \"0.05\"\n").unwrap();
    let a = audit(d.path(), &AuditOptions { config: Some(cfg), ..Default::default() }).unwrap();
    let has = |rule: &str, id: &str| {
        a.findings.iter().any(|f| f.rule == rule && (f.registration_id == id || f.offer_id == id))
    };
    // 33.333333 × 0.95 = 31.66666635 exactly
    assert!(!has("P102", "AT"));
    assert!(has("P102", "OVER"));
    // 10^24 is exactly 10 × 10^23; one ten-billionth more is a spread over 10×
    assert!(!has("P105", "L1"));
    assert!(has("P105", "L2"));
}

#[test]
fn same_input_same_bytes_out() {
    let (o1, o2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for out in [o1.path(), o2.path()] {
        let a = audit(Path::new("fixtures/demo"), &AuditOptions::default()).unwrap();
        priceaudit::output::write_all(&a, out, &priceaudit::output::Outputs::default().with("findings.parquet"))
            .unwrap();
    }
    let mut names: Vec<String> =
        std::fs::read_dir(o1.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    for n in &names {
        assert_eq!(
            std::fs::read(o1.path().join(n)).unwrap(),
            std::fs::read(o2.path().join(n)).unwrap(),
            "{n} differs between runs"
        );
    }
}

#[test]
fn out_dir_keeps_files_it_did_not_write() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "mine").unwrap();
    let a = audit(Path::new("fixtures/demo"), &AuditOptions::default()).unwrap();
    priceaudit::output::write_all(&a, out.path(), &priceaudit::output::Outputs::default()).unwrap();
    assert_eq!(std::fs::read_to_string(out.path().join("notes.txt")).unwrap(), "mine");
    // no temporary file is left behind
    assert!(std::fs::read_dir(out.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(".tmp-")));
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PRICEAUDIT_LOADER_CASES raises the count for a long fuzzing run; CI keeps it small.
        cases: std::env::var("PRICEAUDIT_LOADER_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The whole loader on arbitrary text after a valid header (invalid UTF-8 stops before the
    /// loader, see fixtures/bad/not-utf8): never panics; either the audit
    /// runs and rows read = used + rejected, or it fails naming the file.
    #[test]
    fn csv_loader_on_arbitrary_text(body in proptest::collection::vec(prop_oneof![
        3 => any::<char>(),
        3 => proptest::char::range('-', '9'),
        2 => Just(','), 2 => Just('\n'), 1 => Just('"'), 1 => Just('\r'), 1 => Just(' '),
    ], 0..600).prop_map(|v| v.into_iter().collect::<String>())) {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = b"offer_id,sku_id,ts,price,kind,channel,until\nO1,A,2024-05-20 10:00:00,9.5,txn,,\n".to_vec();
        bytes.extend_from_slice(body.as_bytes());
        std::fs::write(d.path().join("prices.csv"), &bytes).unwrap();
        std::fs::write(d.path().join("registrations.csv"), "registration_id,offer_id,sku_id,merchant_id,activity,category,registered_at,approved_at,promo_start,promo_end,warmup_start,promo_price,list_price,retail_price,title\nR1,O1,A,M1,huopin,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-08 10:00:00,,9,20,,\n").unwrap();
        let out = std::panic::catch_unwind(|| audit(d.path(), &AuditOptions::default()));
        prop_assert!(out.is_ok(), "the loader panicked");
        match out.unwrap() {
            Ok(a) => {
                let t = &a.summary.tables["prices"];
                prop_assert_eq!(t.rows_read, t.rows_used + t.rows_rejected);
                prop_assert!(t.rows_used >= 1 || t.rows_rejected >= 1);
            }
            Err(e) => prop_assert!(e.message.contains("prices.csv"), "{}", e.message),
        }
    }
}
