//! The reference facts (deequ-style: computed once, read by every rule). For each registration:
//! lowest_30d, lowest_180d, list, retail, warm-up minimum, P109 baseline — each with the row that
//! set it — and the relations between registrations; where its rules read them, SPEC §10's facts
//! ([`Extra`]: the lowest ladder tier, the highest retail observation, the promo's huopin sales,
//! the slot's counted sales, the list edits in the lock). For each ladder group: its spread. For
//! the dump: the slots and the horizon.

pub mod groups;
pub mod pairs;
pub mod prices;
pub mod retail;
pub mod slots;
pub mod windows;

use crate::dump::{Dump, RN};
use crate::error::Result;
use crate::findings::{Evidence, Table};
use crate::money::{Dec, Packed};
use crate::profile::{Baseline, Settings};
use crate::registration::Registration;
use polars::prelude::*;
use windows::Windows;

/// A fact the facts stage can compute for a registration. Rules declare the facts they read
/// (`Rule::needs`); the stage computes, per profile, only what the profile's rules need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    /// `lowest_30d` (SPEC §4.1).
    Lowest30d,
    /// `lowest_180d` (SPEC §4.1).
    Lowest180d,
    /// The list price (SPEC §4.3).
    List,
    /// The retail reference (SPEC §4.4).
    Retail,
    /// The lowest price in force in the warm-up (SPEC §5.1 P106).
    Warmup,
    /// The regulatory baseline (SPEC §9), where the profile sets one.
    Baseline,
    /// The big promos overlapping a registration, offered by the profiles whose rules need this.
    BigPromos,
    /// The profile's `title_terms`.
    TitleTerms,
    /// P111: the lowest tier of the SKU's ladder group (its own tiers, else the offer's).
    LowestTier,
    /// P113: the highest retail observation in the 30 days before registration.
    RetailHigh,
    /// P112: the lowest `huopin` transaction in the promo window.
    PromoTxn,
    /// P114: the highest `huopin` transaction in the promo's first hour.
    FirstHour,
    /// K501–K503: the SKU's counted sales from the warm-up start (first sale, turnover).
    Sales,
    /// P110: the edits of the regular list price in the lock.
    LockEdits,
}

impl Fact {
    /// A reference price whose absence makes a rule unverifiable (SPEC §5.1 P108), by its name
    /// in messages; `None` for the other facts.
    pub fn reference_label(self) -> Option<&'static str> {
        match self {
            Fact::Lowest30d => Some("lowest_30d"),
            Fact::Lowest180d => Some("lowest_180d"),
            Fact::List => Some("list price"),
            Fact::Baseline => Some("baseline"),
            _ => None,
        }
    }

    /// Does the fact exist for registrations of profile `p`? (A baseline only where the profile
    /// sets one.)
    pub fn applies(self, p: &crate::profile::Profile) -> bool {
        match self {
            Fact::Baseline => p.baseline.is_some(),
            _ => true,
        }
    }

    /// Its name in `explain`.
    pub fn name(self) -> &'static str {
        match self {
            Fact::Lowest30d => "lowest_30d",
            Fact::Lowest180d => "lowest_180d",
            Fact::List => "list",
            Fact::Retail => "retail",
            Fact::Warmup => "warm-up minimum",
            Fact::Baseline => "baseline",
            Fact::BigPromos => "big promos",
            Fact::TitleTerms => "title terms",
            Fact::LowestTier => "lowest ladder tier",
            Fact::RetailHigh => "highest retail observation",
            Fact::PromoTxn => "lowest huopin transaction in the promo",
            Fact::FirstHour => "highest huopin transaction in the first hour",
            Fact::Sales => "counted sales",
            Fact::LockEdits => "list edits in the lock",
        }
    }

    /// Every fact, in this order.
    pub const ALL: [Fact; 14] = [
        Fact::Lowest30d,
        Fact::Lowest180d,
        Fact::List,
        Fact::Retail,
        Fact::Warmup,
        Fact::Baseline,
        Fact::BigPromos,
        Fact::TitleTerms,
        Fact::LowestTier,
        Fact::RetailHigh,
        Fact::PromoTxn,
        Fact::FirstHour,
        Fact::Sales,
        Fact::LockEdits,
    ];

    /// This fact's reference on a registration (`None` for the facts that are no reference).
    pub fn reference(self, f: &RegFacts) -> Option<&Reference> {
        match self {
            Fact::Lowest30d => f.lowest_30d.as_ref(),
            Fact::Lowest180d => f.lowest_180d.as_ref(),
            Fact::List => f.list.as_ref(),
            Fact::Retail => f.retail.as_ref(),
            Fact::Warmup => f.warmup_min.as_ref(),
            Fact::Baseline => f.baseline.as_ref(),
            _ => None,
        }
    }
}

/// A set of [`Fact`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FactSet(u32);

impl FactSet {
    pub fn has(self, f: Fact) -> bool {
        self.0 & (1 << f as u32) != 0
    }
}

impl FromIterator<Fact> for FactSet {
    fn from_iter<I: IntoIterator<Item = Fact>>(it: I) -> FactSet {
        FactSet(it.into_iter().fold(0, |a, f| a | 1 << f as u32))
    }
}

/// A reference price and the row it came from: the price is the evidence's (held once, packed:
/// six references are held for every registration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub evidence: Evidence,
}

impl Reference {
    pub fn price(&self) -> Dec {
        self.evidence.price.as_ref().expect("a reference has a price").get()
    }
}

/// Everything the rules know about one registration.
#[derive(Clone, Debug, Default)]
pub struct RegFacts {
    pub windows: Windows,
    pub lowest_30d: Option<Reference>,
    pub lowest_180d: Option<Reference>,
    /// SPEC §4.3: the registration's list_price, else the regular list row in force.
    pub list: Option<Reference>,
    /// SPEC §4.4: the registration's retail_price, else the lowest retail observation.
    pub retail: Option<Reference>,
    /// SPEC §5.1 P106: the lowest price in force in the warm-up.
    pub warmup_min: Option<Reference>,
    /// SPEC §9: the P109 baseline.
    pub baseline: Option<Reference>,
    /// P107: big-promo registrations whose windows overlap this one's, whatever their price
    /// (indices into registrations); those priced below this one override it.
    pub big_promos: Vec<usize>,
    /// S202: conflicting registrations of the same offer.
    pub conflicts: Vec<usize>,
    /// E306/E308 offer-level sums: [`RegFacts::offer_supply`], [`RegFacts::offer_market_stock`].
    offer_sums: [Option<Packed>; 2],
    /// P111: the ladder group setting the lowest tier (an index into [`Facts::ladders`]).
    pub lowest_tier: Option<u32>,
    /// The facts few registrations have (SPEC §10), boxed so that the others hold one pointer.
    pub extra: Option<Box<Extra>>,
}

/// A registration's facts of SPEC §10 that come from the price and retail rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// P113: the highest retail observation in `[registered_at − 30 d, registered_at]`.
    pub retail_high: Option<Reference>,
    /// P112: the lowest `huopin` transaction in `[promo_start, promo_end]`.
    pub promo_low: Option<Reference>,
    /// P114: the highest `huopin` transaction in `[promo_start, promo_start + 1 h)`.
    pub first_hour_high: Option<Reference>,
    /// K501–K503: the SKU's counted sales from the warm-up start.
    pub sales: Option<prices::Sales>,
    /// P110: the first edit of the regular list price in the lock.
    pub lock_edit: Option<LockEdit>,
}

/// P110's first edit in the lock (SPEC §10.2).
#[derive(Clone, Debug, PartialEq)]
pub struct LockEdit {
    /// The edit's instant: the new row's `ts`, or the first instant no row covers.
    pub at: i64,
    /// The listing was taken down (no row in force), rather than repriced.
    pub taken_down: bool,
    /// The editing row, or the last row in force before the take-down.
    pub row: Reference,
    /// The price before the edit.
    pub previous: Dec,
    /// How many edits the lock holds.
    pub count: u32,
}

impl Extra {
    fn is_empty(&self) -> bool {
        *self == Extra::default()
    }
}

impl RegFacts {
    pub fn offer_supply(&self) -> Option<Dec> {
        self.offer_sums[0].as_ref().map(Packed::get)
    }

    pub fn offer_market_stock(&self) -> Option<Dec> {
        self.offer_sums[1].as_ref().map(Packed::get)
    }
}

/// One ladder group (offer_id, sku_id; empty sku_id = offer-level tiers).
#[derive(Clone, Debug)]
pub struct LadderGroup {
    pub offer_id: String,
    pub sku_id: String,
    pub tiers: u64,
    pub highest: Dec,
    /// The lowest tier price and its ladders row (ties: first in file order).
    pub lowest: Reference,
}

pub struct Facts {
    pub registrations: Vec<Registration>,
    pub per_reg: Vec<RegFacts>,
    pub ladders: Vec<LadderGroup>,
    pub has_ladders: bool,
    pub has_retail: bool,
    /// The optional columns `registrations` has (a rule reading one is otherwise not checked).
    pub registration_columns: Vec<String>,
    /// The latest `ts` of any valid `prices` row (SPEC §10.4's horizon).
    pub horizon: Option<i64>,
    /// Does `prices` have a `qty` column (K503)?
    pub has_qty: bool,
    /// The `merchants` table by merchant, as the merchant gates read it (`None`: no table).
    pub merchants: Option<Merchants>,
    /// SPEC §10's slots, and each registration's slot (an index into them).
    pub slots: Vec<slots::Slot>,
    pub slot_of: Vec<u32>,
    /// Per profile (by index in `Settings::profiles`), per fact (by [`Fact::ALL`] place): the
    /// first rule of the registry that the profile runs and that needs the fact, where the fact
    /// applies to the profile (computed once; a rule naming what a registration lacks reads it).
    first_needing: Vec<[Option<&'static str>; Fact::ALL.len()]>,
}

impl Facts {
    /// The first rule (registry order) of profile `profile` needing `fact`, where it applies.
    pub fn first_needing(&self, profile: usize, fact: Fact) -> Option<&'static str> {
        self.first_needing.get(profile)?[fact as usize]
    }
}

/// [`Facts::first_needing`] of every profile.
fn first_needing(settings: &Settings) -> Vec<[Option<&'static str>; Fact::ALL.len()]> {
    settings
        .profiles
        .iter()
        .map(|p| {
            let mut first = [None; Fact::ALL.len()];
            for rule in crate::rules::ALL.iter().filter(|r| p.runs(r.code)) {
                for &fact in rule.needs {
                    if fact.applies(p) {
                        first[fact as usize].get_or_insert(rule.code);
                    }
                }
            }
            first
        })
        .collect()
}

fn registration_evidence(r: &Registration, price: Dec, ts: Option<i64>) -> Evidence {
    Evidence { table: Table::Registrations, row: r.row, ts, price: Some(price.into()), channel: None }
}

/// Compute every fact of the dump.
pub fn compute(dump: &mut Dump, settings: &Settings) -> Result<Facts> {
    // The ladders' groups read only their frame: made on a thread beside the registrations' rows
    // (one core each; PERF.md, "The side tables beside the registrations").
    let shared: &Dump = dump;
    let (regs, ladders) = std::thread::scope(|scope| -> Result<_> {
        let groups = shared.ladders.as_ref().map(|df| {
            let source = shared.source(Table::Ladders).expect("ladders loaded");
            scope.spawn(move || crate::timing("ladder groups", || ladder_groups(df, source)))
        });
        // (its error first, as when the ladders came after it)
        let regs = crate::timing("registrations", || crate::registration::from_dump(shared, settings))?;
        let ladders = match groups {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => vec![],
        };
        Ok((regs, ladders))
    })?;
    // what each profile's rules need, once per profile
    let needs: Vec<FactSet> = settings.profiles.iter().map(crate::rules::needs).collect();
    let wins: Vec<Windows> = crate::timing("windows", || {
        regs.iter().map(|r| windows::windows(r, &settings.profiles[r.profile], needs[r.profile])).collect()
    });
    let mut promo_wins: Vec<Option<windows::PromoWindows>> =
        regs.iter().map(|r| windows::promo_windows(r, &settings.profiles[r.profile], needs[r.profile])).collect();
    // SPEC §10.4: a slot's sales are counted from the warm-up start of its first registration
    let (slots, slot_of) = crate::timing("slots", || -> Result<_> {
        let (mut slots, of) = slots::slots(&regs);
        let tz = crate::time::zone(&settings.timezone).map_err(crate::error::Error::config)?;
        slots::set_days(&mut slots, &tz);
        Ok((slots, of))
    })?;
    if needs.iter().any(|n| n.has(Fact::Sales)) {
        for s in &slots {
            if let Some(ws) = promo_wins[s.first()].and_then(|w| w.sales).map(|w| w.from) {
                for &m in &s.members {
                    if let Some(w) = promo_wins[m].as_mut().and_then(|w| w.sales.as_mut()) {
                        w.from = ws;
                    }
                }
            }
        }
    }
    // The small tables first, then their frames go (nothing after the facts reads them), so
    // the price pass runs with the least memory held.
    let (retail, retail_high) = match &dump.retail {
        Some(df) => crate::timing("retail facts", || -> Result<_> {
            let high = regs.iter().map(|r| windows::retail_high(r, needs[r.profile]));
            Ok((retail::retail_evidence(df, &regs, &wins)?, retail::highest_retail(df, &regs, high)?))
        })?,
        None => (Vec::new(), Vec::new()),
    };
    let (has_ladders, has_retail) = (dump.ladders.is_some(), dump.retail.is_some());
    let merchants = dump
        .merchants
        .as_ref()
        .map(|df| {
            crate::timing("merchants", || {
                Merchants::from_frame(
                    df,
                    dump.source(crate::findings::Table::Merchants).expect("merchants loaded"),
                    &regs,
                )
            })
        })
        .transpose()?;
    let lowest_tier = crate::timing("lowest tiers", || lowest_tiers(&regs, &ladders, &needs));
    crate::timing("frames dropped", || {
        dump.drop_frames();
        // the load's buffers (retained by the allocator a while) before the pass's own
        crate::release_memory();
    });
    let bits = prices::ChannelBits::new(settings)?;
    let table = crate::profile::channel_names(settings);
    let mut fold = crate::timing("price fold set up", || {
        prices::PriceFold::new(&regs, &wins, &promo_wins, settings, &bits, &table)
    });
    // the fold keeps its own copy, for the registrations that have them
    drop(promo_wins);
    // The price pass: polars' threads decode, this thread folds (the memory the fold frees is
    // then reused by the per-registration facts below; a thread that ends leaves its freed pages
    // resident a while longer).
    let mut in_fold = std::time::Duration::ZERO;
    let mut batches = 0u64;
    dump.pass_prices(&mut |batch| {
        batches += 1;
        let t0 = std::time::Instant::now();
        let r = fold.add(batch);
        in_fold += t0.elapsed();
        r
    })?;
    if crate::runtime::detailed_timings() {
        eprintln!("  price fold: {:.3} s, {batches} batches", in_fold.as_secs_f64());
    }
    // the pass's decoded batches, freed in polars' threads (whose heaps keep them a while),
    // before the fold's finish and the side facts allocate on other threads
    crate::release_memory();
    // Then the facts that read neither prices nor a frame, beside the fold's mostly
    // single-threaded finish. (Beside the pass they saved no time, the pass keeping both cores
    // busy, and their allocations among the pass's raised its peak; ladder groups beside the
    // pass held the ladder frame and its sort during it. PERF.md has the figures.)
    let (ev, (warm_regs, big, conflicts, supply, stock)) = std::thread::scope(|s| {
        let side = s.spawn(|| {
            let warm_regs = crate::timing("pairs", || pairs::warmup_registrations(&regs, &wins));
            let big = crate::timing("big promos", || pairs::overlapping_big_promos(&regs, settings, &needs));
            let conflicts = crate::timing("conflicts", || pairs::schedule_conflicts(&regs, settings));
            let [supply, stock] =
                crate::timing("sums", || pairs::offer_sums(&regs, ["sku_supply", "sku_market_stock"]));
            (warm_regs, big, conflicts, supply, stock)
        });
        let ev = crate::timing("list intervals and price facts", || fold.finish());
        (ev, side.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let psrc = dump.source(Table::Prices).expect("prices loaded");
    let channels: Vec<std::sync::Arc<str>> = ev.channels.iter().map(|c| c.as_str().into()).collect();
    let ev = ev.per_reg;
    let slot_sales = slot_sales(&slots, &slot_of, &regs, &ev);
    let price_ref = |hit: &Option<prices::PriceHit>| {
        hit.as_ref().map(|h| Reference {
            evidence: Evidence {
                table: Table::Prices,
                row: psrc.row_of(h.rn()),
                ts: Some(h.ts()),
                price: Some(h.price().into()),
                channel: Some(channels[h.ch() as usize].clone()),
            },
        })
    };
    let rsrc = dump.source(Table::Retail);

    // One thread on purpose: in parallel the workers' fresh heaps raise the run's peak more than
    // the time saved is worth (PERF.md).
    crate::release_memory(); // the pass's buffers, before the facts' one large allocation
    let per_reg = crate::timing("per-registration facts", || {
        (0..regs.len())
            .map(|i| {
                let r = &regs[i];
                let p = &settings.profiles[r.profile];
                let e = &ev[i];
                let list = match r.list_price() {
                    Some(lp) => Some(Reference { evidence: registration_evidence(r, lp, None) }),
                    None => price_ref(&e.list),
                };
                let retail_row = |row: &retail::RetailRow| Reference {
                    evidence: Evidence {
                        table: Table::Retail,
                        row: rsrc.map_or(row.rn, |s| s.row_of(row.rn)),
                        ts: Some(row.observed_at),
                        price: Some(row.price.into()),
                        channel: Some(row.platform.as_str().into()),
                    },
                };
                let retail_ref = match r.retail_price() {
                    Some(rp) => Some(Reference { evidence: registration_evidence(r, rp, None) }),
                    None => retail.get(i).and_then(Option::as_ref).map(retail_row),
                };
                let px = e.extra.as_deref();
                let extra = Extra {
                    retail_high: retail_high.get(i).and_then(Option::as_ref).map(retail_row),
                    promo_low: px.and_then(|x| price_ref(&x.promo_low)),
                    first_hour_high: px.and_then(|x| price_ref(&x.first_hour_high)),
                    sales: slot_sales[i],
                    lock_edit: px.and_then(|x| x.lock_edit).map(|l| LockEdit {
                        at: l.at,
                        taken_down: l.taken_down,
                        row: price_ref(&Some(l.row)).expect("a row"),
                        previous: Dec::from_money(l.previous),
                        count: l.count,
                    }),
                };
                // P106: prices rows win ties against other registrations.
                let from_prices = price_ref(&e.warmup);
                let from_regs = warm_regs[i].map(|o| {
                    let o = &regs[o];
                    Reference { evidence: registration_evidence(o, o.promo_price, Some(o.promo_start)) }
                });
                let warmup_min = match (from_prices, from_regs) {
                    (Some(a), Some(b)) => Some(if b.price() < a.price() { b } else { a }),
                    (a, b) => a.or(b),
                };
                let baseline = match p.baseline {
                    Some(Baseline::CnSamr) => price_ref(&e.baseline).or_else(|| price_ref(&e.last_txn)),
                    Some(Baseline::EuOmnibus) => price_ref(&e.baseline),
                    None => None,
                };
                RegFacts {
                    windows: wins[i].clone(),
                    lowest_30d: price_ref(&e.lowest_30d),
                    lowest_180d: price_ref(&e.lowest_180d),
                    list,
                    retail: retail_ref,
                    warmup_min,
                    baseline,
                    big_promos: big[i].clone(),
                    conflicts: conflicts[i].clone(),
                    offer_sums: [supply[i].map(Packed::from), stock[i].map(Packed::from)],
                    lowest_tier: lowest_tier[i],
                    extra: (!extra.is_empty()).then(|| Box::new(extra)),
                }
            })
            .collect::<Vec<_>>()
    });
    let registration_columns = dump.registration_columns.clone();
    let (horizon, has_qty) = (dump.horizon(), dump.price_columns.iter().any(|c| c == "qty"));
    Ok(Facts {
        registrations: regs,
        per_reg,
        ladders,
        has_ladders,
        has_retail,
        registration_columns,
        horizon,
        has_qty,
        merchants,
        slots,
        slot_of,
        first_needing: first_needing(settings),
    })
}

/// The `merchants` table as SPEC §11's merchant gates read it: each merchant's row by id, its
/// metric columns as written (trimmed when compared).
#[derive(Clone, Debug, Default)]
pub struct Merchants {
    index: polars::prelude::PlHashMap<String, u32>,
    /// Each registration's merchant row (`u32::MAX`: none), looked up once for every gate.
    of_reg: Vec<u32>,
    /// Each kept row's number as SPEC §7 shows it (CSV line, Parquet row; a merchant gate's
    /// evidence).
    rows: Vec<u64>,
    columns: Vec<String>,
    /// `values[column]`, one chunk each (a value is read in place, never copied out).
    values: Vec<StringChunked>,
}

/// What a gate finds in the `merchants` table for a registration's merchant and a column: a value,
/// or why there is none (SPEC §11's not-checked reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MerchantValue<'a> {
    NoTable,
    /// The registration names no merchant, or one the table does not have.
    NoMerchant,
    NoColumn,
    Empty,
    Value(&'a str),
}

impl Merchants {
    fn from_frame(df: &DataFrame, source: &crate::dump::Source, regs: &[Registration]) -> Result<Merchants> {
        let ids = df.column("merchant_id")?.cast(&DataType::String)?;
        let index = ids.str()?.iter().enumerate().map(|(i, v)| (v.unwrap_or("").to_string(), i as u32)).collect();
        let rows =
            df.column(RN)?.cast(&DataType::UInt64)?.u64()?.iter().map(|v| source.row_of(v.unwrap_or(0))).collect();
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for c in df.columns() {
            let name = c.name().as_str();
            if name == "merchant_id" || name == RN {
                continue;
            }
            let text = c.as_materialized_series().cast(&DataType::String)?;
            columns.push(name.to_string());
            values.push(text.str()?.rechunk().into_owned());
        }
        let mut m = Merchants { index, of_reg: Vec::new(), rows, columns, values };
        m.of_reg = regs.iter().map(|r| m.row_index(&r.merchant_id).unwrap_or(u32::MAX)).collect();
        Ok(m)
    }

    fn row_index(&self, merchant: &str) -> Option<u32> {
        self.index.get(merchant).filter(|_| !merchant.is_empty()).copied()
    }

    fn at(&self, row: Option<u32>, column: &str) -> MerchantValue<'_> {
        let Some(row) = row else { return MerchantValue::NoMerchant };
        let Some(c) = self.columns.iter().position(|x| x == column) else { return MerchantValue::NoColumn };
        match self.values[c].get(row as usize).map(str::trim) {
            None | Some("") => MerchantValue::Empty,
            Some(v) => MerchantValue::Value(v),
        }
    }

    /// The value of `column` in the row of `merchant`.
    pub fn value<'a>(this: Option<&'a Merchants>, merchant: &str, column: &str) -> MerchantValue<'a> {
        let Some(m) = this else { return MerchantValue::NoTable };
        m.at(m.row_index(merchant), column)
    }

    /// The value of `column` in the row of registration `reg`'s merchant (looked up once).
    pub fn value_of<'a>(this: Option<&'a Merchants>, reg: &Registration, column: &str) -> MerchantValue<'a> {
        let Some(m) = this else { return MerchantValue::NoTable };
        m.at(m.reg_row(reg), column)
    }

    /// How many rows the table has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of registration `reg`'s merchant's row in the table.
    pub fn row_index_of(this: Option<&Merchants>, reg: &Registration) -> Option<u32> {
        this?.reg_row(reg)
    }

    /// Registration `reg`'s merchant's row (looked up once, when the table was read).
    fn reg_row(&self, reg: &Registration) -> Option<u32> {
        self.of_reg.get(reg.idx).copied().filter(|&r| r != u32::MAX)
    }

    /// The row number, in its file, of registration `reg`'s merchant's row.
    pub fn row_of(this: Option<&Merchants>, reg: &Registration) -> Option<u64> {
        let m = this?;
        m.reg_row(reg).map(|r| m.rows[r as usize])
    }
}

/// K501–K503 (SPEC §10.4): each registration's slot's counted sales, over the slot's SKUs, each
/// SKU (and so each row) once.
fn slot_sales(
    slots: &[slots::Slot],
    of: &[u32],
    regs: &[Registration],
    ev: &[prices::PriceEvidence],
) -> Vec<Option<prices::Sales>> {
    let own = |i: usize| ev[i].extra.as_ref().and_then(|x| x.sales);
    let per_slot: Vec<Option<prices::Sales>> = slots
        .iter()
        .map(|s| {
            let mut seen: Vec<u32> = Vec::new();
            let mut total: Option<prices::Sales> = None;
            for &m in &s.members {
                let Some(x) = own(m) else { continue };
                if seen.contains(&regs[m].k) {
                    continue;
                }
                seen.push(regs[m].k);
                total = Some(total.map_or(x, |t| t.merge(x)));
            }
            total
        })
        .collect();
    (0..regs.len()).map(|i| own(i).and(per_slot[of[i] as usize])).collect()
}

/// P111: each registration's ladder group setting its lowest tier (SPEC §10.2: its own tiers;
/// without them the offer-level tiers), where its profile's rules need it.
fn lowest_tiers(regs: &[Registration], ladders: &[LadderGroup], needs: &[FactSet]) -> Vec<Option<u32>> {
    if ladders.is_empty() || !needs.iter().any(|n| n.has(Fact::LowestTier)) {
        return vec![None; regs.len()];
    }
    let index: polars::prelude::PlHashMap<(&str, &str), u32> =
        ladders.iter().enumerate().map(|(i, g)| ((g.offer_id.as_str(), g.sku_id.as_str()), i as u32)).collect();
    regs.iter()
        .map(|r| {
            if !needs[r.profile].has(Fact::LowestTier) {
                return None;
            }
            index
                .get(&(r.offer_id.as_str(), r.sku_id.as_str()))
                .or_else(|| index.get(&(r.offer_id.as_str(), "")))
                .copied()
        })
        .collect()
}

/// P105 facts for every ladder group of the dump: highest tier, lowest tier and its row.
fn ladder_groups(df: &DataFrame, source: &crate::dump::Source) -> Result<Vec<LadderGroup>> {
    // sorted once by price then file order: each group's first row is its lowest tier
    let g = df
        .clone()
        .lazy()
        .sort(["offer_id", "sku_id", "price", RN], SortMultipleOptions::default())
        // stable: the groups come out in the sort's (offer_id, sku_id) order
        .group_by_stable([col("offer_id"), col("sku_id")])
        .agg([
            len().alias("tiers"),
            col("price").max().alias("highest"),
            col("price").first().alias("lowest"),
            col(RN).first().alias("lowest_rn"),
        ])
        .collect()?;
    let offer = g.column("offer_id")?.str()?;
    let sku = g.column("sku_id")?.str()?;
    let tiers = g.column("tiers")?.cast(&DataType::UInt64)?;
    let tiers = tiers.u64()?;
    let hi = crate::registration::money(&g, "highest")?;
    let lo = crate::registration::money(&g, "lowest")?;
    let rn = g.column("lowest_rn")?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    Ok((0..g.height())
        .map(|i| {
            let low = lo[i].unwrap_or(Dec::ZERO);
            LadderGroup {
                offer_id: offer.get(i).unwrap_or("").to_string(),
                sku_id: sku.get(i).unwrap_or("").to_string(),
                tiers: tiers.get(i).unwrap_or(0),
                highest: hi[i].unwrap_or(Dec::ZERO),
                lowest: Reference {
                    evidence: Evidence {
                        table: Table::Ladders,
                        row: source.row_of(rn.get(i).unwrap_or(0)),
                        ts: None,
                        price: Some(low.into()),
                        channel: None,
                    },
                },
            }
        })
        .collect())
}
