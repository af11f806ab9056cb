//! The input tables of SPEC §2: their columns, which are required, and how each is parsed.

use crate::findings::Table;

/// How a column's text becomes a value, and what makes a row bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A non-empty id (`offer_id`, `sku_id`, `registration_id`): empty → "empty key".
    Key,
    /// An id that may be empty (ladder `sku_id`: empty = offer-level tiers).
    OptKey,
    /// Free text, not validated.
    Text,
    /// Money (`[+]digits[.digits]`, > 0); required or optional.
    Money,
    /// A timestamp (SPEC §3).
    Time,
    /// `prices.kind`: `txn` or `list`.
    PriceKind,
    /// `registrations.activity`: a known profile.
    Activity,
    /// `ladders.min_qty`: an integer ≥ 1.
    MinQty,
    /// An eligibility metric: a decimal, or empty (= not checked).
    Metric,
    /// `prices.qty`: empty, or an integer ≥ 1 written in digits only (SPEC §2, read by K503).
    Qty,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn c(name: &'static str, kind: Kind, required: bool) -> Column {
    Column { name, kind, required }
}

pub const PRICES: &[Column] = &[
    c("offer_id", Kind::Key, true),
    c("sku_id", Kind::Key, true),
    c("ts", Kind::Time, true),
    c("price", Kind::Money, true),
    c("kind", Kind::PriceKind, true),
    c("channel", Kind::Text, false),
    c("until", Kind::Time, false),
    c("qty", Kind::Qty, false),
];

/// The eligibility metric columns of `registrations` (SPEC §2, §5.3).
pub const METRICS: [&str; 8] = [
    "sales_30d",
    "buyers_30d",
    "conversion_30d",
    "moq",
    "sku_supply",
    "sku_market_stock",
    // product metrics of SPEC §11's gates E310, E311
    "pickup_48h_rate",
    "growth_score",
];

pub const REGISTRATIONS: &[Column] = &[
    c("registration_id", Kind::Key, true),
    c("offer_id", Kind::Key, true),
    c("sku_id", Kind::Key, true),
    c("merchant_id", Kind::Text, false),
    c("activity", Kind::Activity, true),
    c("category", Kind::Text, false),
    c("registered_at", Kind::Time, true),
    c("approved_at", Kind::Time, false),
    c("promo_start", Kind::Time, true),
    c("promo_end", Kind::Time, true),
    c("warmup_start", Kind::Time, false),
    c("promo_price", Kind::Money, true),
    c("list_price", Kind::Money, false),
    c("retail_price", Kind::Money, false),
    c("title", Kind::Text, false),
    c("sales_30d", Kind::Metric, false),
    c("buyers_30d", Kind::Metric, false),
    c("conversion_30d", Kind::Metric, false),
    c("moq", Kind::Metric, false),
    c("sku_supply", Kind::Metric, false),
    c("sku_market_stock", Kind::Metric, false),
    c("pickup_48h_rate", Kind::Metric, false),
    c("growth_score", Kind::Metric, false),
];

pub const LADDERS: &[Column] = &[
    c("offer_id", Kind::Key, true),
    c("sku_id", Kind::OptKey, true),
    c("min_qty", Kind::MinQty, true),
    c("price", Kind::Money, true),
    c("stock", Kind::Text, false),
];

pub const RETAIL: &[Column] = &[
    c("offer_id", Kind::Key, true),
    c("sku_id", Kind::Key, true),
    c("platform", Kind::Text, false),
    c("observed_at", Kind::Time, true),
    c("price", Kind::Money, true),
];

/// SPEC §2: `merchant_id` (an empty one is kept: no registration can name it) and the metric
/// columns the profiles' merchant gates read (SPEC §11).
pub const MERCHANTS: &[Column] = &[c("merchant_id", Kind::OptKey, true)];

pub fn columns(t: Table) -> &'static [Column] {
    match t {
        Table::Prices => PRICES,
        Table::Registrations => REGISTRATIONS,
        Table::Ladders => LADDERS,
        Table::Retail => RETAIL,
        Table::Merchants => MERCHANTS,
    }
}

/// Required tables must exist in the dump; optional ones may be absent.
pub fn required(t: Table) -> bool {
    matches!(t, Table::Prices | Table::Registrations)
}
