//! The worked examples of the seeds and the boundary cases SPEC names (issue 2).

mod common;
use common::*;

/// Seed 003 预热期控价: listed 100, big promo at 60, a daily activity at 59 starting inside the
/// warm-up → P106 on the big promo; at 61 → none.
#[test]
fn seed003_warmup_daily_activity_undercuts_big_promo() {
    for (daily, fires) in [("59", true), ("61", false)] {
        let d = TinyDump::new(
            &["O1,A,2024-01-01,100,list,regular,"],
            &[
                &reg(
                    "BIG",
                    "O1",
                    "A",
                    "ae-platform",
                    "2024-03-01 10:00:00",
                    "2024-03-28 00:00:00",
                    "2024-03-31 00:00:00",
                    "60",
                    "",
                    "",
                ),
                &reg(
                    "DAILY",
                    "O1",
                    "A",
                    "huopin",
                    "2024-03-01 10:00:00",
                    "2024-03-20 00:00:00",
                    "2024-03-22 00:00:00",
                    daily,
                    "",
                    "",
                ),
            ],
        );
        let f = d.findings();
        assert_eq!(has(&f, "P106", "BIG"), fires, "daily at {daily}: {:?}", keys(&f));
        if fires {
            let x = one(&f, "P106", "BIG");
            assert_eq!((x.observed.as_str(), x.reference.as_str(), x.threshold.as_str()), ("59", "60", "60"));
            let ev = x.evidence.as_ref().unwrap();
            assert_eq!((ev.table.as_str(), ev.row), ("registrations", 3));
        }
    }
}

/// Seed 003 FAQ: USD 20 list, 50% off → 10, member extra 5% → 9 paid; the lowest is 10.
#[test]
fn seed003_member_price_does_not_count() {
    let d = TinyDump::new(
        &[
            "O1,A,2024-01-01,20,list,regular,",
            "O1,A,2024-02-20,10,list,regular,2024-02-25",
            "O1,A,2024-02-20,9,list,member_price,2024-02-25",
        ],
        &[&reg("R", "O1", "A", "ae-store", "2024-03-01 00:00:00", "2024-03-28", "2024-03-29", "10.5", "", "")],
    );
    let f = d.findings();
    let x = one(&f, "P101", "R");
    assert_eq!((x.reference.as_str(), x.threshold.as_str()), ("10", "10"));
    assert_eq!(x.evidence.as_ref().unwrap().channel.as_deref(), Some("regular"));
}

/// Seed 004 低档低价: 10 vs 0.01 → P105; 10 vs 1.00 → none; 10 vs 0.99 → P105.
#[test]
fn seed004_ladder_spread() {
    let d = TinyDump::new(&[], &[]).ladders(&[
        "A,S,1,10,",
        "A,S,100,0.01,",
        "B,S,1,10,",
        "B,S,100,1.00,",
        "C,,1,10,",
        "C,,100,0.99,",
    ]);
    let f = d.findings();
    let p105: Vec<(String, String, String, String)> = f
        .iter()
        .filter(|x| x.rule == "P105")
        .map(|x| (x.offer_id.to_string(), x.sku_id.to_string(), x.reference.clone(), x.threshold.clone()))
        .collect();
    assert_eq!(
        p105,
        vec![
            ("A".into(), "S".into(), "0.01".into(), "0.1".into()),
            ("C".into(), "".into(), "0.99".into(), "9.9".into())
        ]
    );
    let a = f.iter().find(|x| x.offer_id == "A").unwrap();
    assert_eq!(a.evidence.as_ref().unwrap().row, 3, "evidence is the lowest tier's line");
}

/// Seed 000 FAQ: an earlier 伙拼 price of 9.9 inside the window does not lower the huopin lowest.
#[test]
fn seed000_huopin_price_does_not_lower_the_lowest() {
    let d = TinyDump::new(
        &[
            "O1,A,2024-05-10 10:00:00,12,txn,regular,",
            "O1,A,2024-05-15 10:00:00,9.9,txn,huopin,",
            "O1,A,2024-05-16 10:00:00,11,txn,private_adjust,",
        ],
        &[&reg(
            "R",
            "O1",
            "A",
            "huopin",
            "2024-06-01 10:00:00",
            "2024-06-06 10:00:00",
            "2024-06-08 10:00:00",
            "11.5",
            "20",
            "",
        )],
    );
    let f = d.findings();
    let x = one(&f, "P101", "R");
    assert_eq!(x.reference, "11", "private_adjust counts, huopin does not");
}

/// SPEC §4.2: list 9.99 → 8.99 passes huopin P103, 8.991 fails.
#[test]
fn list_threshold_is_exact() {
    let d = TinyDump::new(
        &[],
        &[
            &reg(
                "PASS",
                "O1",
                "A",
                "huopin",
                "2024-06-01 10:00:00",
                "2024-06-06 10:00:00",
                "2024-06-08 10:00:00",
                "8.99",
                "9.99",
                "",
            ),
            &reg(
                "FAIL",
                "O2",
                "A",
                "huopin",
                "2024-06-01 10:00:00",
                "2024-06-06 10:00:00",
                "2024-06-08 10:00:00",
                "8.991",
                "9.99",
                "",
            ),
        ],
    );
    let f = d.findings();
    assert!(!has(&f, "P103", "PASS"));
    let x = one(&f, "P103", "FAIL");
    assert_eq!((x.reference.as_str(), x.threshold.as_str()), ("9.99", "8.991"));
}

/// P104: retail exactly × 0.8 fails (not below).
#[test]
fn retail_exactly_at_threshold_fails() {
    let d = TinyDump::new(
        &[],
        &[
            &reg(
                "AT",
                "O1",
                "A",
                "huopin",
                "2024-06-01 10:00:00",
                "2024-06-06 10:00:00",
                "2024-06-08 10:00:00",
                "8",
                "",
                "10",
            ),
            &reg(
                "BELOW",
                "O2",
                "A",
                "huopin",
                "2024-06-01 10:00:00",
                "2024-06-06 10:00:00",
                "2024-06-08 10:00:00",
                "7.99",
                "",
                "10",
            ),
        ],
    )
    .retail(&["O2,A,taobao,2024-05-30,5"]);
    let f = d.findings();
    assert_eq!(one(&f, "P104", "AT").threshold, "8");
    assert!(!has(&f, "P104", "BELOW"), "the registration's own retail_price wins over observations");
}

/// SPEC §3: a transaction exactly at registered_at − 30×24h counts; one a second earlier does not.
#[test]
fn thirty_day_window_edges() {
    let d = TinyDump::new(
        &[
            "O1,A,2024-05-02 10:00:00,9,txn,,",
            "O1,A,2024-05-02 09:59:59,8,txn,,",
            "O1,A,2024-06-01 10:00:00,9.5,txn,,",
            "O1,A,2024-06-01 10:00:01,1,txn,,",
        ],
        &[&reg(
            "R",
            "O1",
            "A",
            "huopin",
            "2024-06-01 10:00:00",
            "2024-06-06 10:00:00",
            "2024-06-08 10:00:00",
            "9.1",
            "20",
            "",
        )],
    );
    let f = d.findings();
    let x = one(&f, "P101", "R");
    assert_eq!(x.reference, "9");
    assert_eq!(x.evidence.as_ref().unwrap().row, 2);
}

/// A list price set 40 days before registration and never changed is the ae-store 30-day lowest.
#[test]
fn list_price_carried_into_the_window() {
    let d = TinyDump::new(
        &["O1,A,2024-04-22 10:00:00,15,list,regular,"],
        &[
            &reg(
                "OVER",
                "O1",
                "A",
                "ae-store",
                "2024-06-01 10:00:00",
                "2024-06-20 10:00:00",
                "2024-06-22 10:00:00",
                "15.01",
                "",
                "",
            ),
            &reg(
                "AT",
                "O1",
                "A",
                "ae-store",
                "2024-06-01 10:00:00",
                "2024-06-10 10:00:00",
                "2024-06-12 10:00:00",
                "15",
                "",
                "",
            ),
        ],
    );
    let f = d.findings();
    assert_eq!(one(&f, "P101", "OVER").reference, "15");
    assert!(!has(&f, "P101", "AT"));
    assert!(!has(&f, "P108", "OVER"));
}

/// SPEC §5.1 P106: approval inside the 72 h moves the warm-up start to approved_at.
#[test]
fn approval_inside_warmup_moves_its_start() {
    let line = |id: &str, approved: &str| {
        format!(
            "{id},O1,A,M1,huopin,,2024-06-01 10:00:00,{approved},2024-06-06 10:00:00,2024-06-08 10:00:00,,9,20,,,,,,,,"
        )
    };
    // A cheaper transaction 60 h before the promo start.
    let prices = ["O1,A,2024-06-03 22:00:00,8,txn,regular,"];
    let early = TinyDump::new(&prices, &[&line("EARLY", "2024-06-02 10:00:00")]);
    assert!(has(&early.findings(), "P106", "EARLY"), "approval before the 72 h: warm-up starts at promo − 72 h");
    let late = TinyDump::new(&prices, &[&line("LATE", "2024-06-04 10:00:00")]);
    assert!(!has(&late.findings(), "P106", "LATE"), "approval 48 h before: the 60 h-old price is outside the warm-up");
}

/// SPEC §2: two list rows of one channel at the same instant: the later in file order supersedes.
#[test]
fn same_instant_list_rows_supersede() {
    let d = TinyDump::new(
        &["O1,A,2024-05-20 10:00:00,5,list,regular,2024-05-25 10:00:00", "O1,A,2024-05-20T02:00:00Z,12,list,regular,"],
        &[&reg(
            "R",
            "O1",
            "A",
            "ae-store",
            "2024-06-01 10:00:00",
            "2024-06-20 10:00:00",
            "2024-06-22 10:00:00",
            "11",
            "",
            "",
        )],
    );
    let f = d.findings();
    assert!(!has(&f, "P101", "R"), "the superseded 5 never counts: {:?}", keys(&f));
}
