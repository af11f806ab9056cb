//! Helpers for tests: write a tiny dump to a temp dir and audit it through the library.
#![allow(dead_code)]

use priceaudit::findings::Finding;
use priceaudit::{audit, Audit, AuditOptions};
use std::path::Path;

// The test binaries run what the CLI runs: its allocator, and its process setup
// (`runtime::start`: polars' read-ahead and buffered reads, huge pages off, the memory release
// hook) for a small Parquet dump, made before the test harness starts its threads. (For a CSV
// dump the CLI leaves `POLARS_FORCE_ASYNC` unset; `.ci/run` audits the demo and the CSV
// conformance dump with the binary.)
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static START: extern "C" fn() = start;

extern "C" fn start() {
    // what `priceaudit audit fixtures/conformance/basic-parquet` sets up (run from the package
    // root, as cargo test is)
    priceaudit::runtime::start(Some(Path::new("fixtures/conformance/basic-parquet")));
}

pub const PRICES: &str = "offer_id,sku_id,ts,price,kind,channel,until";
pub const REGS: &str = "registration_id,offer_id,sku_id,merchant_id,activity,category,registered_at,approved_at,promo_start,promo_end,warmup_start,promo_price,list_price,retail_price,title,sales_30d,buyers_30d,conversion_30d,moq,sku_supply,sku_market_stock";
pub const LADDERS: &str = "offer_id,sku_id,min_qty,price,stock";
pub const RETAIL: &str = "offer_id,sku_id,platform,observed_at,price";

/// A dump in a temp dir; tables given as data lines (the header is added).
pub struct TinyDump {
    pub dir: tempfile::TempDir,
}

impl TinyDump {
    pub fn new(prices: &[&str], regs: &[&str]) -> TinyDump {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "prices.csv", PRICES, prices);
        write(dir.path(), "registrations.csv", REGS, regs);
        TinyDump { dir }
    }
    pub fn ladders(self, rows: &[&str]) -> TinyDump {
        write(self.dir.path(), "ladders.csv", LADDERS, rows);
        self
    }
    pub fn retail(self, rows: &[&str]) -> TinyDump {
        write(self.dir.path(), "retail.csv", RETAIL, rows);
        self
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn audit(&self) -> Audit {
        audit(self.path(), &AuditOptions::default()).expect("audit")
    }
    /// Audit with a config file written from `toml`.
    pub fn audit_with_config(&self, toml: &str) -> Audit {
        let cfg = self.dir.path().join("config.toml");
        std::fs::write(&cfg, toml).unwrap();
        audit(self.path(), &AuditOptions { config: Some(cfg), ..Default::default() }).expect("audit")
    }
    pub fn findings(&self) -> Vec<Finding> {
        self.audit().findings
    }
}

/// The demo's table `t` (`fixtures/demo/{t}.csv`) as a frame, every column text.
pub fn demo_text(t: &str) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(format!("fixtures/demo/{t}.csv").into()))
        .unwrap()
        .finish()
        .unwrap()
}

pub fn write(dir: &Path, name: &str, header: &str, rows: &[&str]) {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(dir.join(name), s).unwrap();
}

/// A registration line with the usual columns: id, offer, sku, activity, registered_at,
/// promo_start, promo_end, promo_price, and optional list/retail prices.
pub fn reg(
    id: &str,
    offer: &str,
    sku: &str,
    activity: &str,
    registered: &str,
    start: &str,
    end: &str,
    promo: &str,
    list: &str,
    retail: &str,
) -> String {
    format!("{id},{offer},{sku},M1,{activity},,{registered},,{start},{end},,{promo},{list},{retail},,,,,,,")
}

/// A dump of `prices` rows and one huopin registration R1 of O1/A (registered 2024-06-01
/// 10:00, promo 2024-06-06 10:00 – 06-08 10:00 at 9).
pub fn one_registration(prices: &[&str]) -> TinyDump {
    let r1 = reg(
        "R1",
        "O1",
        "A",
        "huopin",
        "2024-06-01 10:00:00",
        "2024-06-06 10:00:00",
        "2024-06-08 10:00:00",
        "9",
        "",
        "",
    );
    TinyDump::new(prices, &[&r1])
}

/// (rule, registration) of every finding.
pub fn keys(f: &[Finding]) -> Vec<(String, String)> {
    f.iter().map(|f| (f.rule.to_string(), f.registration_id.to_string())).collect()
}

pub fn has(f: &[Finding], rule: &str, reg: &str) -> bool {
    f.iter().any(|x| x.rule == rule && x.registration_id == reg)
}

pub fn one<'a>(f: &'a [Finding], rule: &str, reg: &str) -> &'a Finding {
    let v: Vec<&Finding> = f.iter().filter(|x| x.rule == rule && x.registration_id == reg).collect();
    assert_eq!(v.len(), 1, "expected one {rule} on {reg}, got {v:#?}");
    v[0]
}

/// The conformance dump `basic` with its price table as pyarrow writes it in each of six
/// encodings (`fixtures/offer-pages/make.py`: dictionary pages going on in plain pages, data page
/// v2 with nulls, plain `large_string`, delta, sorted by offer, `offer_id` as INT64), each in a
/// temp dir.
pub fn basic_with_pyarrow_prices() -> Vec<(&'static str, tempfile::TempDir)> {
    let basic = Path::new("fixtures/conformance/basic");
    let variants =
        ["basic-dict-v1", "basic-dict-v2-nulls", "basic-plain-v2", "basic-delta", "basic-sorted", "basic-int64-ids"];
    variants
        .into_iter()
        .map(|variant| {
            let d = tempfile::tempdir().unwrap();
            for t in ["registrations", "ladders", "retail"] {
                std::fs::copy(basic.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
            }
            let prices = Path::new("fixtures/offer-pages").join(variant).join("prices.parquet");
            std::fs::copy(&prices, d.path().join("prices.parquet")).unwrap();
            (variant, d)
        })
        .collect()
}
