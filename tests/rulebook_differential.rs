//! SPEC §10's price-row rules recomputed here by brute force, from the CSV text of synthetic
//! dumps (other seeds than the fixtures), and compared registration by registration with the
//! audit: P110, P112, P114 and K501–K503 findings. The code below shares nothing with the fold
//! but the timestamp and decimal parsers.

mod common;

use priceaudit::money::Dec;
use priceaudit::{audit, AuditOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const H: i64 = 3_600_000_000;

struct Row {
    offer: String,
    sku: String,
    ts: i64,
    price: Dec,
    list: bool,
    channel: String,
    until: Option<i64>,
    qty: Option<i64>,
    line: usize,
}

struct Reg {
    id: String,
    merchant: String,
    category: String,
    title: String,
    offer: String,
    sku: String,
    activity: String,
    registered: i64,
    approved: Option<i64>,
    start: i64,
    end: i64,
    warmup: Option<i64>,
    promo: Dec,
}

fn table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(str::to_string).collect();
    (h, r.records().map(|x| x.unwrap().iter().map(str::to_string).collect()).collect())
}

fn load(dir: &Path) -> (Vec<Row>, Vec<Reg>) {
    let tz = priceaudit::time::zone("Asia/Shanghai").unwrap();
    let t = |s: &str| (!s.is_empty()).then(|| priceaudit::time::parse_instant(s, &tz).unwrap());
    let (h, rows) = table(&dir.join("prices.csv"));
    let c = |n: &str| h.iter().position(|x| x == n).unwrap();
    let prices = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Row {
            offer: r[c("offer_id")].clone(),
            sku: r[c("sku_id")].clone(),
            ts: t(&r[c("ts")]).unwrap(),
            price: Dec::parse(&r[c("price")]).unwrap(),
            list: r[c("kind")] == "list",
            channel: if r[c("channel")].is_empty() { "regular".into() } else { r[c("channel")].clone() },
            until: t(&r[c("until")]),
            qty: r[c("qty")].parse().ok(),
            line: i + 2,
        })
        .collect();
    let (h, rows) = table(&dir.join("registrations.csv"));
    let c = |n: &str| h.iter().position(|x| x == n).unwrap();
    let regs = rows
        .iter()
        .map(|r| Reg {
            id: r[c("registration_id")].clone(),
            merchant: r[c("merchant_id")].clone(),
            category: r[c("category")].trim().to_string(),
            title: r[c("title")].clone(),
            offer: r[c("offer_id")].clone(),
            sku: r[c("sku_id")].clone(),
            activity: r[c("activity")].clone(),
            registered: t(&r[c("registered_at")]).unwrap(),
            approved: t(&r[c("approved_at")]),
            start: t(&r[c("promo_start")]).unwrap(),
            end: t(&r[c("promo_end")]).unwrap(),
            warmup: t(&r[c("warmup_start")]),
            promo: Dec::parse(&r[c("promo_price")]).unwrap(),
        })
        .collect();
    (prices, regs)
}

fn family(activity: &str) -> bool {
    activity.starts_with("huopin")
}

/// P110 by brute force: the SKU's regular list rows (the later of two at one instant wins),
/// each in force over [ts, until or the next row's ts).
fn p110(rows: &[&Row], lock: (i64, i64, bool)) -> bool {
    let mut chain: Vec<&Row> = rows.iter().copied().filter(|r| r.list && r.channel == "regular").collect();
    chain.sort_by_key(|r| (r.ts, r.line));
    let chain: Vec<&Row> = (0..chain.len())
        .filter(|&i| i + 1 == chain.len() || chain[i + 1].ts != chain[i].ts)
        .map(|i| chain[i])
        .collect();
    let end = |i: usize| chain[i].until.or(chain.get(i + 1).map(|n| n.ts));
    let in_force = |t: i64| -> Option<usize> {
        (0..chain.len()).filter(|&i| chain[i].ts <= t && end(i).is_none_or(|e| e > t)).max_by_key(|&i| chain[i].ts)
    };
    let in_lock = |t: i64| lock.0 <= t && if lock.2 { t <= lock.1 } else { t < lock.1 };
    // (a) an edit
    for r in &chain {
        if in_lock(r.ts) {
            if let Some(p) = in_force(r.ts - 1) {
                if chain[p].price != r.price {
                    return true;
                }
            }
        }
    }
    // (b) a take-down: an uncovered instant of the lock (every candidate is some row's end)
    if in_force(lock.0).is_some() {
        for i in 0..chain.len() {
            if let Some(e) = end(i) {
                if in_lock(e) && in_force(e).is_none() {
                    return true;
                }
            }
        }
    }
    false
}

#[test]
fn section_10_price_row_rules_match_a_brute_force_reading() {
    let mut checked = BTreeMap::<&str, usize>::new();
    for seed in [21u64, 22, 23, 24] {
        let d = tempfile::tempdir().unwrap();
        priceaudit::synth::synth(d.path(), 1100, 120, seed, priceaudit::synth::Format::Csv).unwrap();
        let a = audit(d.path(), &AuditOptions::default()).unwrap();
        let (prices, regs) = load(d.path());
        let horizon = prices.iter().map(|r| r.ts).max().unwrap();
        let got = |rule: &str| -> BTreeSet<String> {
            a.findings.iter().filter(|f| f.rule == rule).map(|f| f.registration_id.to_string()).collect()
        };
        let mut want: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let by_sku = |o: &str, s: &str| prices.iter().filter(|r| r.offer == o && r.sku == s).collect::<Vec<_>>();
        for r in regs.iter().filter(|r| family(&r.activity) || r.activity == "ae-store") {
            let rows = by_sku(&r.offer, &r.sku);
            let lock = if family(&r.activity) {
                (r.registered, r.end, true)
            } else {
                (r.start - 312 * H, r.start - 216 * H, false)
            };
            if p110(&rows, lock) {
                want.entry("P110").or_default().insert(r.id.clone());
            }
            if !family(&r.activity) {
                continue;
            }
            let huopin: Vec<&&Row> = rows.iter().filter(|x| !x.list && x.channel == "huopin").collect();
            if huopin.iter().any(|x| r.start <= x.ts && x.ts <= r.end && x.price < r.promo) {
                want.entry("P112").or_default().insert(r.id.clone());
            }
            if r.activity == "huopin-double" {
                // lowest_30d: txn rows of the SKU in [reg − 30 d, reg], channels other than
                // huopin, member_price and bundle_price
                let low = rows
                    .iter()
                    .filter(|x| !x.list && !["huopin", "member_price", "bundle_price"].contains(&x.channel.as_str()))
                    .filter(|x| r.registered - 30 * 24 * H <= x.ts && x.ts <= r.registered)
                    .map(|x| x.price)
                    .min();
                let high = huopin.iter().filter(|x| r.start <= x.ts && x.ts < r.start + H).map(|x| x.price).max();
                if let (Some(low), Some(high)) = (low, high) {
                    if high > low.mul(Dec::new(5, 1)) {
                        want.entry("P114").or_default().insert(r.id.clone());
                    }
                }
            }
        }
        // K rules over slots: (offer, activity, start, end); ws of the first registration
        let mut slots: BTreeMap<(&str, &str, i64, i64), Vec<&Reg>> = BTreeMap::new();
        for r in regs.iter().filter(|r| family(&r.activity)) {
            slots.entry((&r.offer, &r.activity, r.start, r.end)).or_default().push(r);
        }
        for members in slots.values() {
            let first = members[0];
            let ws = first.warmup.unwrap_or_else(|| {
                let by_hours = first.start - 72 * H;
                first.approved.map_or(by_hours, |a| a.max(by_hours))
            });
            let skus: BTreeSet<&str> = members.iter().map(|m| m.sku.as_str()).collect();
            let counted: Vec<&Row> = prices
                .iter()
                .filter(|x| x.offer == first.offer && skus.contains(x.sku.as_str()))
                .filter(|x| !x.list && x.channel == "huopin" && x.ts >= ws)
                .collect();
            let k501_end = first.start + 4 * H;
            if k501_end <= horizon && !counted.iter().any(|x| x.ts < k501_end) {
                want.entry("K501").or_default().extend(members.iter().map(|m| m.id.clone()));
            }
            // K502: the first midnight after the start in Shanghai (+08:00, no DST), and every
            // huopin registration of the offer still running at the slot's start
            let day = 24 * H;
            let midnight = ((first.start + 8 * H).div_euclid(day) + 1) * day - 8 * H;
            if midnight <= horizon && !counted.iter().any(|x| x.ts < midnight) {
                let flagged =
                    regs.iter().filter(|o| o.offer == first.offer && family(&o.activity) && o.end >= first.start);
                want.entry("K502").or_default().extend(flagged.map(|o| o.id.clone()));
            }
            let k503_end = first.start + 12 * H;
            let in_window: Vec<&&Row> = counted.iter().filter(|x| x.ts < k503_end).collect();
            if k503_end <= horizon && in_window.iter().all(|x| x.qty.is_some()) {
                let sum = in_window.iter().fold(Dec::ZERO, |s, x| s.add(x.price.mul(Dec::from_int(x.qty.unwrap()))));
                if sum < Dec::from_int(10_000) {
                    want.entry("K503").or_default().extend(members.iter().map(|m| m.id.clone()));
                }
            }
        }
        for rule in ["P110", "P112", "P114", "K501", "K502", "K503"] {
            let w = want.remove(rule).unwrap_or_default();
            assert_eq!(got(rule), w, "seed {seed}: {rule}");
            *checked.entry(rule).or_default() += w.len();
        }
    }
    eprintln!("findings compared: {checked:?}");
    // the dumps plant each (a comparison of two empty sets would prove nothing)
    for (rule, n) in &checked {
        assert!(*n > 0, "{rule} never fires in the generated dumps");
    }
}

/// The local date in Shanghai (+08:00, no DST) as a day number.
fn date(t: i64) -> i64 {
    (t + 8 * H).div_euclid(24 * H)
}

/// S203–S206, D601, D602 by brute force over every pair, as multisets of flagged registrations
/// (a rule flags once per other slot or registration).
#[test]
fn section_10_relational_rules_match_a_brute_force_reading() {
    let mut checked = BTreeMap::<&str, usize>::new();
    for seed in [31u64, 32, 33, 34, 35] {
        let d = tempfile::tempdir().unwrap();
        priceaudit::synth::synth(d.path(), 1200, 120, seed, priceaudit::synth::Format::Csv).unwrap();
        let a = audit(d.path(), &AuditOptions::default()).unwrap();
        let (_, regs) = load(d.path());
        let got = |rule: &str| -> Vec<String> {
            let mut v: Vec<String> =
                a.findings.iter().filter(|f| f.rule == rule).map(|f| f.registration_id.to_string()).collect();
            v.sort();
            v
        };
        let mut want: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        // slots: (offer, activity, start, end) → members in file order; time and its holder
        let mut slots: Vec<(Vec<usize>, i64, usize)> = Vec::new();
        let mut index: BTreeMap<(&str, &str, i64, i64), usize> = BTreeMap::new();
        for (i, r) in regs.iter().enumerate() {
            let k = *index.entry((&r.offer, &r.activity, r.start, r.end)).or_insert_with(|| {
                slots.push((vec![], r.registered, i));
                slots.len() - 1
            });
            slots[k].0.push(i);
            if r.registered < slots[k].1 {
                (slots[k].1, slots[k].2) = (r.registered, i);
            }
        }
        let first = |s: usize| &regs[slots[s].0[0]];
        let order = |s: usize| (slots[s].1, slots[s].2);
        let fam: Vec<usize> = (0..slots.len()).filter(|&s| family(&first(s).activity)).collect();
        for &s in &fam {
            let f = first(s);
            let members = || slots[s].0.iter().map(|&m| regs[m].id.clone());
            // S203: an earlier slot of the offer and activity less than 3 dates before
            if fam.iter().any(|&e| {
                e != s
                    && first(e).offer == f.offer
                    && first(e).activity == f.activity
                    && order(e) < order(s)
                    && date(slots[s].1) - date(slots[e].1) < 3
            }) {
                want.entry("S203").or_default().extend(members());
            }
            // S204: the merchant's earlier slots (same activity) dated d − 2 … d hold 2 other offers
            if !f.merchant.is_empty() {
                let offers: BTreeSet<&str> = fam
                    .iter()
                    .filter(|&&e| {
                        e != s
                            && first(e).merchant == f.merchant
                            && first(e).activity == f.activity
                            && order(e) < order(s)
                            && date(slots[e].1) > date(slots[s].1) - 3
                    })
                    .map(|&e| first(e).offer.as_str())
                    .collect();
                if !offers.contains(f.offer.as_str()) && offers.len() >= 2 {
                    want.entry("S204").or_default().extend(members());
                }
            }
            // S205: once per earlier family slot of the offer, windows apart, starts < 7 days apart
            for &e in &fam {
                let g = first(e);
                let earlier = (g.start, order(e)) < (f.start, order(s));
                let overlap = g.start <= f.end && f.start <= g.end;
                if e != s && g.offer == f.offer && earlier && !overlap && f.start - g.start < 7 * 24 * H {
                    want.entry("S205").or_default().extend(members());
                }
            }
        }
        for r in regs.iter().filter(|r| family(&r.activity)) {
            // S206: once per registration of the offer outside the family meeting [registered, end]
            for o in regs.iter().filter(|o| o.offer == r.offer && !family(&o.activity)) {
                if o.start <= r.end && o.end >= r.registered {
                    want.entry("S206").or_default().push(r.id.clone());
                }
            }
            // D601: once per other offer of the merchant with the same title, overlapping
            let norm = |t: &str| t.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect::<String>();
            if !r.merchant.is_empty() && !norm(&r.title).is_empty() {
                let others: BTreeSet<&str> = regs
                    .iter()
                    .filter(|o| o.merchant == r.merchant && o.offer != r.offer && norm(&o.title) == norm(&r.title))
                    .filter(|o| o.start <= r.end && r.start <= o.end)
                    .map(|o| o.offer.as_str())
                    .collect();
                want.entry("D601").or_default().extend(others.iter().map(|_| r.id.clone()));
            }
            // D602: against the offer's earliest registration with a category
            let earliest = regs
                .iter()
                .enumerate()
                .filter(|(_, o)| o.offer == r.offer && !o.category.is_empty())
                .min_by_key(|(i, o)| (o.registered, *i));
            if let Some((_, e)) = earliest {
                if !r.category.is_empty() && r.category != e.category {
                    want.entry("D602").or_default().push(r.id.clone());
                }
            }
        }
        for rule in ["S203", "S204", "S205", "S206", "D601", "D602"] {
            let mut w = want.remove(rule).unwrap_or_default();
            w.sort();
            assert_eq!(got(rule), w, "seed {seed}: {rule}");
            *checked.entry(rule).or_default() += w.len();
        }
    }
    eprintln!("findings compared: {checked:?}");
    for (rule, n) in &checked {
        assert!(*n > 0, "{rule} never fires in the generated dumps");
    }
}
