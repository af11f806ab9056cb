//! `priceaudit synth`: a realistic synthetic dump (SPEC §8) for demos and benchmarks —
//! about 100 price rows per offer over D days, 1–4 SKUs per offer, list chains with and without
//! `until`, transactions on every channel, ladders, retail observations, and registrations across
//! every built-in profile with a few percent of planted violations. Deterministic for a seed
//! (its own SplitMix64, so the output never changes with a crate upgrade), written in chunks so
//! memory stays bounded whatever `--offers` is.

use crate::error::{Error, Result};
use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR};
use polars::prelude::*;
use std::io::Write;
use std::path::Path;

/// SplitMix64: tiny, fast, and fixed forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// Cents → "12.34".
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The end of the synthetic history: 2024-09-01 00:00 Asia/Shanghai (UTC micros).
const END: i64 = 1_725_120_000_000_000;

const TXN_CHANNELS: [&str; 8] =
    ["regular", "regular", "regular", "private_adjust", "huopin", "daily_activity", "member_price", "bundle_price"];
const SIDE_LIST_CHANNELS: [&str; 8] =
    ["flash_deal", "coins", "presale", "ru_group", "promo_nov", "trial", "winter_clearance", "livestream"];
const ACTIVITIES: [&str; 6] = ["huopin", "huopin", "yanxuan", "ae-platform", "ae-store", "eu-omnibus"];
const PLATFORMS: [&str; 4] = ["taobao", "pdd", "jd", "douyin"];
const TITLE_WORDS: [&str; 8] = ["保温杯", "毛巾", "雨伞", "T恤", "数据线", "收纳盒", "纯棉袜子", "运动鞋"];

/// One table's rows in the making, flushed every chunk.
struct Sink {
    format: Format,
    name: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    csv: Option<std::io::BufWriter<std::fs::File>>,
    parquet: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

/// How a Parquet column is typed.
fn parquet_type(column: &str) -> DataType {
    match column {
        "price" | "promo_price" | "list_price" | "retail_price" => DataType::Decimal(38, 10),
        "qty" => DataType::Int64,
        "ts" | "until" | "registered_at" | "approved_at" | "promo_start" | "promo_end" | "warmup_start"
        | "observed_at" => DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)),
        _ => DataType::String,
    }
}

impl Sink {
    fn new(dir: &Path, name: &'static str, header: &[&str], format: Format) -> Result<Sink> {
        let ext = if format == Format::Csv { "csv" } else { "parquet" };
        let path = dir.join(format!("{name}.{ext}"));
        let file = std::fs::File::create(&path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        let header: Vec<String> = header.iter().map(|c| c.to_string()).collect();
        let mut s = Sink { format, name, header: header.clone(), rows: Vec::new(), csv: None, parquet: None };
        match format {
            Format::Csv => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                writeln!(w, "{}", header.join(",")).map_err(|e| Error::new(e.to_string()))?;
                s.csv = Some(w);
            }
            Format::Parquet => {
                let schema = Schema::from_iter(header.iter().map(|c| Field::new(c.as_str().into(), parquet_type(c))));
                s.parquet = Some(ParquetWriter::new(file).batched(&schema)?);
            }
        }
        Ok(s)
    }

    fn push(&mut self, row: Vec<String>) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= 200_000 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        match self.format {
            Format::Csv => {
                let w = self.csv.as_mut().unwrap();
                let mut buf = String::with_capacity(rows.len() * 64);
                for r in &rows {
                    buf.push_str(&r.join(","));
                    buf.push('\n');
                }
                w.write_all(buf.as_bytes()).map_err(|e| Error::new(format!("{}: {e}", self.name)))?;
            }
            Format::Parquet => {
                let cols: Vec<Column> = self
                    .header
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let v: Vec<Option<&str>> =
                            rows.iter().map(|r| Some(r[i].as_str()).filter(|s| !s.is_empty())).collect();
                        Column::new(c.as_str().into(), v)
                    })
                    .collect();
                let df = DataFrame::new(rows.len(), cols)?;
                let exprs: Vec<Expr> = self
                    .header
                    .iter()
                    .map(|c| match parquet_type(c) {
                        DataType::String => col(c.as_str()),
                        DataType::Datetime(..) => col(c.as_str())
                            .cast(DataType::Int64)
                            .cast(DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC))),
                        dt => col(c.as_str()).cast(dt),
                    })
                    .collect();
                let df = df.lazy().select(exprs).collect()?;
                self.parquet.as_mut().unwrap().write_batch(&df)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.flush()?;
        if let Some(mut w) = self.csv.take() {
            w.flush().map_err(|e| Error::new(e.to_string()))?;
        }
        if let Some(w) = self.parquet.take() {
            w.finish()?;
        }
        Ok(())
    }
}

/// Format an instant for the dump: CSV gets a mix of the SPEC §3 notations, Parquet µs integers
/// (cast to a UTC timestamp column when written).
fn ts(t: i64, format: Format, rng: &mut Rng) -> String {
    // Draw the notation in both formats so that one seed makes the same dump in each.
    let form = rng.below(4);
    if format == Format::Parquet {
        return t.to_string();
    }
    let utc = chrono::DateTime::from_timestamp_micros(t).unwrap();
    let sh = utc + chrono::Duration::hours(8);
    match form {
        0 => utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        1 => sh.format("%Y-%m-%dT%H:%M:%S+08:00").to_string(),
        _ => sh.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

pub struct SynthStats {
    pub prices: u64,
    pub registrations: u64,
    pub ladders: u64,
    pub retail: u64,
}

const CATEGORIES: [&str; 4] = ["home", "apparel", "electronics", "toys"];

/// A yanxuan product metric (E310, E311): empty outside yanxuan; else `bad` 4 times in 100, or a
/// value in `[lo, hi]` hundredths of a unit, scaled by `10^-places`: the threshold itself is `lo`.
fn yanxuan_metric(r10: &mut Rng, activity: &str, bad: &str, lo: u64, hi: u64, places: u32) -> String {
    if activity != "yanxuan" {
        return String::new();
    }
    if r10.chance(4) {
        return bad.to_string();
    }
    let v = lo + r10.below(hi - lo + 1);
    let scale = 10u64.pow(places);
    format!("{}.{:0width$}", v / scale, v % scale, width = places as usize)
}

/// SPEC §10's sales of a huopin-family registration (`promo` in cents, from `promo_start`): a
/// `huopin` sale at the promo price an hour or two in, with a quantity whose turnover passes
/// K503; 4 in 100 have none (K501–K503); 4 in 100 a sale a cent below the promo price (P112);
/// 12 in 100 huopin-double ones a first-hour sale at the promo price (P114, half the 30-day lowest
/// being below it). Returns the rows written.
#[allow(clippy::too_many_arguments)]
fn plant_sales(
    prices: &mut Sink,
    r10: &mut Rng,
    offer: &str,
    sku: &str,
    activity: &str,
    promo: i64,
    promo_start: i64,
    format: Format,
) -> Result<u64> {
    let mut rows = 0;
    let mut sale = |prices: &mut Sink, at: i64, cents: i64, qty: i64, r10: &mut Rng| -> Result<()> {
        rows += 1;
        prices.push(vec![
            offer.to_string(),
            sku.to_string(),
            ts(at, format, r10),
            money(cents.max(1)),
            "txn".into(),
            "huopin".into(),
            String::new(),
            qty.to_string(),
        ])
    };
    if !r10.chance(4) {
        let qty = 1_000_000 / promo.max(1) + 1 + r10.below(20) as i64;
        let mut at = promo_start + (60 + r10.below(120) as i64) * 60_000_000;
        // before the first local midnight (synth's zone is +08:00), but for 折上折 not in its
        // first hour (P114 is planted apart)
        let to_midnight = MICROS_PER_DAY - (promo_start + 8 * MICROS_PER_HOUR).rem_euclid(MICROS_PER_DAY);
        if activity != "huopin-double" && at >= promo_start + to_midnight {
            at = promo_start + to_midnight / 2;
        }
        sale(prices, at, promo, qty, r10)?;
    }
    if r10.chance(4) && promo > 1 {
        sale(prices, promo_start + 2 * MICROS_PER_HOUR, promo - 1, 1, r10)?;
    }
    if activity == "huopin-double" && r10.chance(12) {
        sale(prices, promo_start + 10 * 60_000_000, promo, 1, r10)?;
    }
    Ok(rows)
}

/// Write a synthetic dump of `offers` offers over `days` days into `dir`.
pub fn synth(dir: &Path, offers: u64, days: u32, seed: u64, format: Format) -> Result<SynthStats> {
    std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("{}: {e}", dir.display())))?;
    let mut prices =
        Sink::new(dir, "prices", &["offer_id", "sku_id", "ts", "price", "kind", "channel", "until", "qty"], format)?;
    // the registration columns, then the eligibility metrics in SPEC's order (each row below
    // gives them in that order)
    let reg_columns: Vec<&str> = [
        "registration_id",
        "offer_id",
        "sku_id",
        "merchant_id",
        "activity",
        "category",
        "registered_at",
        "approved_at",
        "promo_start",
        "promo_end",
        "warmup_start",
        "promo_price",
        "list_price",
        "retail_price",
        "title",
    ]
    .into_iter()
    .chain(crate::dump::schema::METRICS)
    .collect();
    let mut regs = Sink::new(dir, "registrations", &reg_columns, format)?;
    let mut ladders = Sink::new(dir, "ladders", &["offer_id", "sku_id", "min_qty", "price", "stock"], format)?;
    let mut retail = Sink::new(dir, "retail", &["offer_id", "sku_id", "platform", "observed_at", "price"], format)?;
    let mut rng = Rng(seed ^ 0x5EED_0F_A11D17);
    // SPEC §10's shape (slots, merchants, categories) and its planted violations come from a
    // generator of their own
    let mut r10 = Rng(seed ^ 0x0010_5EC7_10A5);
    let mut busy = Rng(seed ^ 0x00B0_5E5F_A71E);
    let start = END - days as i64 * MICROS_PER_DAY;
    let span = (days as i64 * MICROS_PER_DAY) as u64;
    let mut stats = SynthStats { prices: 0, registrations: 0, ladders: 0, retail: 0 };
    let mut reg_no = 0u64;
    for o in 0..offers {
        let offer = format!("{}", 7_000_000_000u64 + o);
        let skus = 1 + rng.below(4);
        let per_sku = 100 / skus;
        let _ = rng.below(offers / 20 + 1);
        // most offers register their SKUs together (one slot: activity, times) in one category,
        // by a merchant with a couple of offers; the rest are the fatigue, conflict and
        // duplicate cases of SPEC §10.3 and §10.5
        let together = r10.chance(80);
        let offer_category = *r10.pick(&CATEGORIES);
        let merchant = r10.below(offers / 4 + 1);
        // one offer in five belongs to a busy merchant (about thirty offers each: S204 fatigue),
        // drawn apart so that the other draws stay as they were
        let merchant = if busy.chance(20) { busy.below(offers / 150 + 1) } else { merchant };
        let merchant = format!("M{merchant:05}");
        let mut slot: Option<(&str, i64, i64, i64)> = None;
        // the highest promo price of the offer's registrations, in cents (P111's ladders)
        let mut promo_max = 0i64;
        for s in 0..skus {
            let sku = format!("S{}", s + 1);
            let base = 100 + rng.below(50_000) as i64; // 1.00 .. 500.99
                                                       // the regular list chain: a change every few weeks, some with `until`
            let changes = 3 + rng.below(4);
            let mut t = start - rng.below(60) as i64 * MICROS_PER_DAY;
            let mut list = base;
            let mut min_seen = i64::MAX;
            let mut last_list = base;
            for _ in 0..changes {
                let until = if rng.chance(20) {
                    ts(t + (5 + rng.below(20) as i64) * MICROS_PER_DAY, format, &mut rng)
                } else {
                    String::new()
                };
                prices.push(vec![
                    offer.clone(),
                    sku.clone(),
                    ts(t, format, &mut rng),
                    money(list),
                    "list".into(),
                    "regular".into(),
                    until,
                    String::new(),
                ])?;
                min_seen = min_seen.min(list);
                last_list = list;
                t += (span / changes) as i64;
                list = (list * (92 + rng.below(16) as i64) / 100).max(10);
            }
            // side-channel list prices (often excluded), always with `until`
            for _ in 0..2 {
                let at = start + rng.below(span) as i64;
                let p = base * (60 + rng.below(30) as i64) / 100;
                let ch = rng.pick(&SIDE_LIST_CHANNELS).to_string();
                prices.push(vec![
                    offer.clone(),
                    sku.clone(),
                    ts(at, format, &mut rng),
                    money(p.max(1)),
                    "list".into(),
                    ch,
                    ts(at + 3 * MICROS_PER_DAY, format, &mut rng),
                    String::new(),
                ])?;
            }
            // transactions
            let txns = per_sku.saturating_sub(changes + 2);
            for _ in 0..txns {
                let at = start + rng.below(span) as i64;
                let ch = *rng.pick(&TXN_CHANNELS);
                let p = base * (85 + rng.below(16) as i64) / 100;
                prices.push(vec![
                    offer.clone(),
                    sku.clone(),
                    ts(at, format, &mut rng),
                    money(p.max(1)),
                    "txn".into(),
                    if ch == "regular" && rng.chance(50) { String::new() } else { ch.into() },
                    String::new(),
                    // a huopin sale has its quantity (K503)
                    if ch == "huopin" { (1 + r10.below(5)).to_string() } else { String::new() },
                ])?;
            }
            stats.prices += changes + 2 + txns;
            // retail observations
            for _ in 0..2 {
                let at = END - rng.below(40) as i64 * MICROS_PER_DAY;
                let p = base * (110 + rng.below(40) as i64) / 100;
                retail.push(vec![
                    offer.clone(),
                    sku.clone(),
                    rng.pick(&PLATFORMS).to_string(),
                    ts(at, format, &mut rng),
                    money(p),
                ])?;
                stats.retail += 1;
            }
            // a registration for about a third of the SKUs
            if rng.chance(35) {
                reg_no += 1;
                let activity = *rng.pick(&ACTIVITIES);
                let activity = if activity == "eu-omnibus" && rng.chance(50) { "cn-samr" } else { activity };
                // one huopin registration in 12 is 伙拼折上折 (SPEC §10.1), chosen without a draw
                let activity = if activity == "huopin" && reg_no % 12 == 0 { "huopin-double" } else { activity };
                // and one in 12 伙拼周末团; half the 严选 picks are 诚信通 activities (SPEC §11)
                let activity = if activity == "huopin" && reg_no % 12 == 6 { "huopin-weekend" } else { activity };
                let activity = match (activity, reg_no % 4) {
                    ("yanxuan", 1) => "cxt-daily",
                    ("yanxuan", 3) => "cxt-huopin",
                    _ => activity,
                };
                let registered = END - (5 + rng.below(20) as i64) * MICROS_PER_DAY;
                let lead = if rng.chance(5) { 24 + rng.below(47) as i64 } else { 72 + rng.below(200) as i64 };
                let promo_start = registered + lead * MICROS_PER_HOUR;
                let promo_end = promo_start + (2 + rng.below(5) as i64) * MICROS_PER_DAY;
                // the offer's SKUs registered together share its first registration's slot
                let (activity, registered, promo_start, promo_end) = match slot {
                    Some(s) if together => s,
                    _ => (activity, registered, promo_start, promo_end),
                };
                slot.get_or_insert((activity, registered, promo_start, promo_end));
                // mostly compliant (well below every reference), a few percent planted violations
                let promo = if rng.chance(6) {
                    base * (95 + rng.below(15) as i64) / 100
                } else {
                    (min_seen.min(base) * 70 / 100).max(1)
                };
                let list_price = if rng.chance(60) { money(base) } else { String::new() };
                let approved = if rng.chance(30) {
                    ts(promo_start - rng.below(100) as i64 * MICROS_PER_HOUR, format, &mut rng)
                } else {
                    String::new()
                };
                let family = activity.starts_with("huopin");
                // P113: one huopin registration in ten claims a retail price, at or under the
                // observations (all at 1.1–1.5 × base), one in five of those far above them
                let retail_claim = if family && r10.chance(10) {
                    money(if r10.chance(20) { base * 2 } else { base * 105 / 100 })
                } else {
                    String::new()
                };
                let mut title = String::new();
                for _ in 0..2 {
                    title.push_str(*rng.pick(&TITLE_WORDS));
                }
                if rng.chance(3) {
                    title.push_str("最低价");
                }
                // eligibility metrics: compliant, with a ~4% chance of a value just past the threshold
                let metric = |rng: &mut Rng, ok_lo: u64, ok_hi: u64, bad: u64| {
                    if rng.chance(4) {
                        bad.to_string()
                    } else {
                        (ok_lo + rng.below(ok_hi - ok_lo)).to_string()
                    }
                };
                let conv = if rng.chance(4) { "0.049".to_string() } else { format!("0.{:03}", 50 + rng.below(80)) };
                let moq = if rng.chance(4) { "6".to_string() } else { (1 + rng.below(2)).to_string() };
                // regulatory profiles display a reference price below the recent prices, mostly
                let list_price = if matches!(activity, "eu-omnibus" | "cn-samr") {
                    money(if rng.chance(94) { base * 80 / 100 } else { base })
                } else {
                    list_price
                };
                let row = vec![
                    format!("SR{reg_no:09}"),
                    offer.clone(),
                    sku.clone(),
                    merchant.clone(),
                    activity.to_string(),
                    {
                        // the offer's category; 3 in 100 registrations carry another (D602)
                        let drawn = *rng.pick(&CATEGORIES);
                        if r10.chance(3) { drawn } else { offer_category }.to_string()
                    },
                    ts(registered, format, &mut rng),
                    approved,
                    ts(promo_start, format, &mut rng),
                    ts(promo_end, format, &mut rng),
                    String::new(),
                    money(promo),
                    list_price,
                    retail_claim.clone(),
                    title,
                    metric(&mut rng, 1000, 5000, 999),
                    metric(&mut rng, 30, 400, 29),
                    conv,
                    moq,
                    {
                        // 折上折's supply value (E309): where the supply is planted low, just under
                        // 1000 at the promo price (sku_supply × promo < 1000 ≤ (sku_supply + 1) × promo)
                        let supply = metric(&mut rng, 1000, 3000, 99);
                        if activity == "huopin-double" && (supply == "99" || r10.chance(6)) {
                            ((100_000 - 1) / promo.max(1)).to_string()
                        } else {
                            supply
                        }
                    },
                    metric(&mut rng, 3000, 6000, 299),
                    // yanxuan's product gates (E310, E311): at or above the threshold, 4 in 100
                    // just under it
                    yanxuan_metric(&mut r10, activity, "0.8999", 9000, 10_000, 4),
                    yanxuan_metric(&mut r10, activity, "59.99", 6000, 10_000, 2),
                ];
                regs.push(row.clone())?;
                stats.registrations += 1;
                promo_max = promo_max.max(promo);
                // S203/S205: 3 in 100 huopin registrations are followed by another of the SKU
                // after the promo: in huopin-quality, its promo starting a day after this one ends
                // (S205 when the two starts are under 7 days apart), or in the same activity,
                // registered a day later (S203)
                if family && r10.chance(3) {
                    let s203 = r10.chance(40);
                    let (act, at, start) = if s203 {
                        (activity, registered + MICROS_PER_DAY, promo_end + 8 * MICROS_PER_DAY)
                    } else {
                        ("huopin-quality", registered + 3 * MICROS_PER_DAY, promo_end + MICROS_PER_DAY)
                    };
                    reg_no += 1;
                    let mut again = row.clone();
                    again[0] = format!("SR{reg_no:09}");
                    again[4] = act.to_string();
                    again[6] = ts(at, format, &mut r10);
                    again[7] = String::new();
                    again[8] = ts(start, format, &mut r10);
                    again[9] = ts(start + 2 * MICROS_PER_DAY, format, &mut r10);
                    regs.push(again)?;
                    stats.registrations += 1;
                    stats.prices += plant_sales(&mut prices, &mut r10, &offer, &sku, act, promo, start, format)?;
                }
                if family {
                    stats.prices +=
                        plant_sales(&mut prices, &mut r10, &offer, &sku, activity, promo, promo_start, format)?;
                    // P110: 3 in 100 edit the regular list price after registering (先涨后降)
                    if r10.chance(3) {
                        prices.push(vec![
                            offer.clone(),
                            sku.clone(),
                            ts(registered + MICROS_PER_HOUR, format, &mut r10),
                            money(last_list * 11 / 10 + 1),
                            "list".into(),
                            "regular".into(),
                            String::new(),
                            String::new(),
                        ])?;
                        stats.prices += 1;
                    }
                }
                // P107: sometimes a daily activity of the same SKU overlaps the big promo, priced above it
                if activity.starts_with("ae-") && rng.chance(15) {
                    reg_no += 1;
                    regs.push(vec![
                        format!("SR{reg_no:09}"),
                        offer.clone(),
                        sku.clone(),
                        merchant.clone(),
                        "yanxuan".into(),
                        "home".into(),
                        ts(registered, format, &mut rng),
                        String::new(),
                        ts(promo_start + MICROS_PER_DAY, format, &mut rng),
                        ts(promo_end + MICROS_PER_DAY, format, &mut rng),
                        String::new(),
                        money(promo + 1 + rng.below(100) as i64),
                        money(base * 2),
                        String::new(),
                        "毛巾".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        "1".into(),
                        String::new(),
                        String::new(),
                        yanxuan_metric(&mut r10, "yanxuan", "0.8999", 9000, 10_000, 4),
                        yanxuan_metric(&mut r10, "yanxuan", "59.99", 6000, 10_000, 2),
                    ])?;
                    stats.registrations += 1;
                }
            }
        }
        // one ladder group per offer, sometimes offer-level, a few with a fake low tier
        let group_sku = if rng.chance(40) { String::new() } else { "S1".to_string() };
        let top = 200 + rng.below(20_000) as i64;
        let tiers = 2 + rng.below(3);
        // P111: the tiers scaled (a spread unchanged) so that the lowest regular tier is at or
        // above the offer's promo prices, but for 3 offers in 100
        let lowest = |top: i64| top * (100 - 8 * (tiers as i64 - 1)) / 100;
        let top = if promo_max > 0 && lowest(top) < promo_max && !r10.chance(3) {
            let mut t = top * (promo_max * 100 / (100 - 8 * (tiers as i64 - 1)) / top.max(1) + 1);
            while lowest(t) < promo_max {
                t += 1;
            }
            t
        } else {
            top
        };
        for i in 0..tiers {
            let p = if i == tiers - 1 && rng.chance(4) { (top / 15).max(1) } else { top * (100 - 8 * i as i64) / 100 };
            ladders.push(vec![
                offer.clone(),
                group_sku.clone(),
                (1 + i * 10).to_string(),
                money(p),
                (100 * (i + 1)).to_string(),
            ])?;
            stats.ladders += 1;
        }
    }
    prices.finish()?;
    regs.finish()?;
    ladders.finish()?;
    retail.finish()?;
    // SPEC §11: one merchants row per merchant id drawn above
    write_merchants(dir, offers / 4 + 1, seed, format)?;
    Ok(stats)
}

/// The values a synthetic `merchants` column takes: around every threshold the built-in merchant
/// gates compare it with (at it, one unit of its last digit either side; the neighbouring
/// levels; both booleans; a list member and a stranger), each marked as passing every gate on
/// the column or not.
fn merchant_column_values() -> Vec<(String, Vec<(String, bool)>)> {
    use crate::rules::gate::{Cmp, GateTable};
    use crate::rules::gate_value::GateValue;
    let mut cols: Vec<(String, Vec<Cmp>)> = Vec::new();
    for d in crate::rules::merchant_gates::DECLARED {
        let g = crate::rules::merchant_gates::parse(d.code, d.gate).expect("built-in gates read");
        for m in g.members.into_iter().filter(|m| m.table == GateTable::Merchants) {
            match cols.iter_mut().find(|(c, _)| *c == m.column) {
                Some((_, v)) => v.push(m),
                None => cols.push((m.column.clone(), vec![m])),
            }
        }
    }
    cols.into_iter()
        .map(|(col, cmps)| {
            let mut values: Vec<String> = Vec::new();
            for m in &cmps {
                match &m.value {
                    GateValue::Decimal(t) => {
                        let places = m.text.split_once('.').map_or(0, |(_, f)| f.len() as u32);
                        let unit = crate::money::Dec::new(1, places);
                        values.push(t.to_string());
                        values.push(t.add(unit).to_string());
                        if t.sub(unit) >= crate::money::Dec::ZERO {
                            values.push(t.sub(unit).to_string());
                        }
                    }
                    GateValue::Level(scale, rank) => {
                        for r in rank.saturating_sub(1)..=(*rank + 1).min(scale.top()) {
                            values.push(scale.name(r, r % 2 == 1));
                        }
                    }
                    GateValue::Bool(_) => values.extend(["true", "false", "yes", "0"].map(String::from)),
                    GateValue::List(items) => {
                        values.extend(items.iter().cloned());
                        values.push("other".into());
                    }
                }
            }
            values.sort();
            values.dedup();
            let marked = values
                .into_iter()
                .map(|v| {
                    let passes = cmps.iter().all(|m| m.value.holds(m.op, &v) == Some(true));
                    (v, passes)
                })
                .collect();
            (col, marked)
        })
        .collect()
}

/// `merchants`: most merchants pass every gate (at the thresholds as often as above them); one in
/// seven fails about half its columns; a few values are empty or cannot be compared (`AA级`).
fn write_merchants(dir: &Path, merchants: u64, seed: u64, format: Format) -> Result<()> {
    let columns = merchant_column_values();
    let header: Vec<&str> = std::iter::once("merchant_id").chain(columns.iter().map(|(c, _)| c.as_str())).collect();
    let mut sink = Sink::new(dir, "merchants", &header, format)?;
    let mut rng = Rng(seed ^ 0x0011_3E7C_4A27);
    for m in 0..merchants {
        let bad = rng.chance(15);
        let mut row = vec![format!("M{m:05}")];
        for (_, values) in &columns {
            let passing: Vec<&String> = values.iter().filter(|v| v.1).map(|v| &v.0).collect();
            let failing: Vec<&String> = values.iter().filter(|v| !v.1).map(|v| &v.0).collect();
            let roll = rng.below(1000);
            let v = match roll {
                0..=14 => String::new(),
                15..=19 => "AA级".to_string(),
                _ if (bad && roll < 500 || roll < 50) && !failing.is_empty() => rng.pick(&failing).to_string(),
                _ if !passing.is_empty() => rng.pick(&passing).to_string(),
                _ => rng.pick(values).0.clone(),
            };
            row.push(v);
        }
        sink.push(row)?;
    }
    sink.finish()
}
