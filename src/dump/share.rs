//! A share of a dump (issue 21, Deliver 3: memory bounded however many registrations): the rows
//! one of `count` audits reads, so that each holds a part of the registrations' facts and the
//! parts together are the whole audit.
//!
//! Every fact and rule reads one offer's rows, except the rules that relate registrations (an
//! offer's slots, a merchant's fatigue, caps and duplicate listings: by offer or by non-empty
//! merchant) and the first of a registration id's rows. So a share holds whole *components*:
//! offers, merchants and registration ids linked by a registration row naming them (an empty key
//! links nothing), as the Spark face's buckets do. A component's share is a hash of its least
//! key. `registrations`, `prices`, `ladders` and `retail` rows go by their `offer_id`, `merchants`
//! rows by their `merchant_id`; a key no registration names (a price row of an unregistered
//! offer, a rejected row's null) by its own hash. Keys are read as the validation reads them as
//! text, whatever the column's type (a null is empty), before any check: every row, good or
//! rejected, is in exactly one share, so the shares' counts and rejects add up to the whole's (a
//! table without its key column is refused by the validation, unshared).
//!
//! The narrowing is pushed into each table's scan, before the validation (which counts the rows
//! it passes: the share's own). A Parquet price table is split once, before the shares, each
//! share's rows written to a file of its own ([`super::split_prices`]); a share then reads that
//! file, its filter still on it, rather than decoding every row of the table again. The other
//! tables, when not CSV, are split the same way beside it ([`split_table`]). The price
//! table's horizon (SPEC §10.4) is the whole table's: whoever audits shares hands it over
//! ([`crate::AuditOptions::horizon`]).

use super::*;
use polars_arrow::array::View;

/// Which share of a dump to read: share `index` of the plan's `count`.
#[derive(Clone, Debug)]
pub struct Share {
    pub index: u32,
    pub plan: std::sync::Arc<SharePlan>,
}

/// How a dump's rows fall into shares: each registered offer's and merchant's share (their
/// component's); any other key by its own hash.
#[derive(Debug)]
pub struct SharePlan {
    count: u32,
    /// Each registered offer's and merchant's component.
    offers: PlHashMap<String, u32>,
    merchants: PlHashMap<String, u32>,
    /// The same for keys of up to 12 bytes, by their Arrow view (length and bytes in 16 bytes, as
    /// polars holds a short string): an integer hashed and compared, no string read.
    short_offers: PlHashMap<u128, u32>,
    short_merchants: PlHashMap<u128, u32>,
    /// Each component's least key, and its share of `count`.
    least: Vec<String>,
    shares: Vec<u32>,
    /// The registrations' rows (good or not) the plan was made from.
    rows: u64,
    /// Each share's price rows, written apart by one pass over the price table
    /// ([`super::pieces::split_prices`]): a share reads its own file rather than the whole table.
    price_spills: Option<Vec<PathBuf>>,
    /// Each share's rows of the other tables written apart ([`split_table`]), by table.
    table_spills: Vec<(Table, Vec<PathBuf>)>,
}

/// The column a table's rows are shared by.
fn key_column(t: Table) -> &'static str {
    match t {
        Table::Merchants => "merchant_id",
        _ => "offer_id",
    }
}

/// A key's share when no registration names it: FNV-1a of its bytes (fixed: the same in every
/// run and on every machine).
fn hashed(key: &str, count: u32) -> u32 {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    (h % count as u64) as u32
}

impl SharePlan {
    /// The plan of `count` shares for the registrations whose (`offer_id`, `merchant_id`,
    /// `registration_id`) are given, every row (good or not).
    pub fn new<'a>(count: u32, rows: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> SharePlan {
        assert!(count >= 1, "at least one share");
        // union-find over the keys: kind 0 offers, 1 merchants, 2 registration ids
        let mut ids: PlHashMap<(u8, &'a str), u32> = PlHashMap::new();
        let mut keys: Vec<(u8, &'a str)> = Vec::new();
        let mut parent: Vec<u32> = Vec::new();
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                let up = parent[parent[x as usize] as usize];
                parent[x as usize] = up;
                x = up;
            }
            x
        }
        let mut n = 0u64;
        for (o, m, r) in rows {
            n += 1;
            let mut first: Option<u32> = None;
            for key in [(0u8, o), (1, m), (2, r)].into_iter().filter(|(_, k)| !k.is_empty()) {
                let id = *ids.entry(key).or_insert_with(|| {
                    keys.push(key);
                    parent.push(parent.len() as u32);
                    (keys.len() - 1) as u32
                });
                match first {
                    None => first = Some(id),
                    Some(f) => {
                        let (a, b) = (find(&mut parent, f), find(&mut parent, id));
                        if a != b {
                            parent[a.max(b) as usize] = a.min(b);
                        }
                    }
                }
            }
        }
        // each component's least key (whatever the order the rows linked it in) picks its share
        let mut least: Vec<Option<(u8, &str)>> = vec![None; keys.len()];
        for i in 0..keys.len() as u32 {
            let root = find(&mut parent, i) as usize;
            if least[root].is_none_or(|l| keys[i as usize] < l) {
                least[root] = Some(keys[i as usize]);
            }
        }
        // components numbered by their roots, in key order of first meeting
        let mut component: Vec<u32> = vec![u32::MAX; keys.len()];
        let mut least_keys: Vec<String> = Vec::new();
        let (mut offers, mut merchants) = (PlHashMap::new(), PlHashMap::new());
        for i in 0..keys.len() as u32 {
            let (kind, key) = keys[i as usize];
            let root = find(&mut parent, i) as usize;
            if component[root] == u32::MAX {
                component[root] = least_keys.len() as u32;
                least_keys.push(least[root].map(|(_, k)| k.to_string()).unwrap_or_default());
            }
            let c = component[root];
            match kind {
                0 => offers.insert(key.to_string(), c),
                1 => merchants.insert(key.to_string(), c),
                _ => None,
            };
        }
        let short = |m: &PlHashMap<String, u32>| -> PlHashMap<u128, u32> {
            m.iter().filter_map(|(k, &c)| short_view(k.as_bytes()).map(|v| (v, c))).collect()
        };
        let (short_offers, short_merchants) = (short(&offers), short(&merchants));
        SharePlan {
            count: 0,
            offers,
            merchants,
            short_offers,
            short_merchants,
            least: least_keys,
            shares: Vec::new(),
            rows: n,
            price_spills: None,
            table_spills: Vec::new(),
        }
        .with_count(count)
    }

    /// The same components in `count` shares.
    pub fn with_count(mut self, count: u32) -> SharePlan {
        assert!(count >= 1, "at least one share");
        self.count = count;
        self.price_spills = None;
        self.table_spills.clear();
        self.shares = self.least.iter().map(|k| hashed(k, count)).collect();
        self
    }

    /// The rows of `registrations` (good or not) the plan was made from.
    pub fn registration_rows(&self) -> u64 {
        self.rows
    }

    /// The plan of `count` shares of the dump in `input`: its registrations' keys read (three
    /// columns, every row, before any check).
    ///
    /// A registration id links offers only where rows repeat it: the ids seen once are left out,
    /// and the rows reduced to their distinct (offer, merchant, repeated id) before the union-find
    /// (18.5 M registrations: their keys held as text took 4.6 GB). Two reads of the three
    /// columns: the repeated ids, then the distinct keys with their row counts.
    pub fn of_input(input: &Input, tz: Tz, count: u32) -> Result<SharePlan> {
        let table = table_input(input, Table::Registrations)?.expect("a required table");
        // the scan the validation reads (a missing column fails as the audit would)
        let v = validate(&table, Table::Registrations, tz, &[])?;
        let schema = v.raw.clone().collect_schema()?;
        let key = |c: &str| match schema.get(c) {
            Some(dtype) => text(c, dtype).fill_null(lit("")).alias(c),
            None => lit("").alias(c),
        };
        let keys = v.raw.select([key("offer_id"), key("merchant_id"), key("registration_id")]);
        let repeated = keys
            .clone()
            .filter(col("registration_id").neq(lit("")))
            .group_by([col("registration_id")])
            .agg([len().alias("n")])
            .filter(col("n").gt(lit(1)))
            .select([col("registration_id")])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let repeated = repeated.column("registration_id")?.as_materialized_series().clone();
        let id = col("registration_id");
        let linking = when(id.clone().is_in(lit(repeated).implode(false), false)).then(id).otherwise(lit(""));
        // distinct, each with its rows (which add up to the table's: no pass of its own to count)
        let distinct = keys
            .with_column(linking.alias("registration_id"))
            .group_by([col("offer_id"), col("merchant_id"), col("registration_id")])
            .agg([len().alias("n")])
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        let rows: u64 = distinct.column("n")?.cast(&DataType::UInt64)?.u64()?.sum().unwrap_or(0);
        let column = |c: &str| -> Result<StringChunked> { Ok(distinct.column(c)?.str()?.rechunk().into_owned()) };
        let (o, m, r) = (column("offer_id")?, column("merchant_id")?, column("registration_id")?);
        let keys = o
            .iter()
            .zip(m.iter())
            .zip(r.iter())
            .map(|((o, m), r)| (o.unwrap_or_default(), m.unwrap_or_default(), r.unwrap_or_default()));
        let mut plan = SharePlan::new(count, keys);
        plan.rows = rows;
        Ok(plan)
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The plan whose shares read their price rows from `spills` (one file per share, in share
    /// order, each holding exactly the rows the share's scan filter keeps: [`super::split_prices`]).
    pub fn with_price_spills(mut self, spills: Vec<PathBuf>) -> SharePlan {
        assert_eq!(spills.len(), self.count as usize, "one spill per share");
        self.price_spills = Some(spills);
        self
    }

    /// The plan whose shares read table `t`'s rows (not the prices') from `spills` (one file per
    /// share, in share order: [`split_table`]).
    pub fn with_table_spills(mut self, t: Table, spills: Vec<PathBuf>) -> SharePlan {
        assert_eq!(spills.len(), self.count as usize, "one spill per share");
        assert!(t != Table::Prices, "a share's price rows are read by the price pass (with_price_spills)");
        self.table_spills.retain(|(had, _)| *had != t);
        self.table_spills.push((t, spills));
        self
    }

    /// Each row's share, for rows of table `t` whose key column (as text, a null empty) is `keys`:
    /// [`SharePlan::share_of`] of each, a key of up to 12 bytes found by its view.
    pub(crate) fn shares_of(&self, t: Table, keys: &StringChunked) -> Vec<u32> {
        let short = self.short_keys(t);
        by_key(
            keys,
            |v, k| short.get(&v).map_or_else(|| hashed(k, self.count), |&c| self.shares[c as usize]),
            |k| self.share_of(t, k),
        )
    }

    /// The registered keys of up to 12 bytes of table `t`'s key column ([`short_view`]s) and
    /// their components.
    fn short_keys(&self, t: Table) -> &PlHashMap<u128, u32> {
        match t {
            Table::Merchants => &self.short_merchants,
            _ => &self.short_offers,
        }
    }

    /// The share of a row of table `t` whose key column (`offer_id`, or `merchant_id` for
    /// `merchants`) holds `key`.
    pub fn share_of(&self, t: Table, key: &str) -> u32 {
        let known = match t {
            Table::Merchants => self.merchants.get(key),
            _ => self.offers.get(key),
        };
        known.map(|&c| self.shares[c as usize]).unwrap_or_else(|| hashed(key, self.count))
    }
}

/// The rows [`split_table`] reads at a time (a slice of the scan: only its row groups decoded).
const SPLIT_ROWS: u32 = 1 << 17;

/// Each share of `plan` its own Parquet file in `dir` of table `t`'s rows as the table's scan
/// gives them (every column and `rn`, before any check), written by one pass over the table, a
/// slice at a time: each share then reads its own file ([`Share::table_spill`]) rather than the
/// whole table (a registration-heavy dump's registrations were decoded whole by each of its
/// shares). The share's filter still runs on those rows, which are the rows it keeps of the whole
/// table, in the table's order.
///
/// `None` where the shares read the table themselves: a CSV table (polars' reader of its records
/// is the one the validation counts), a table without its key column (the validation refuses
/// it), rows that fail to read (the shares report it as the whole audit does) or that read back
/// in other types.
pub(crate) fn split_table(table: &TableIn, t: Table, plan: &SharePlan, dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let (lf, source, schema) = open(table, t)?;
    let name = key_column(t);
    let Some(dtype) = schema.get(name).filter(|_| !source.is_csv()) else { return Ok(None) };
    const KEY: &str = "__share_key";
    let raw = lf.clone().collect_schema()?;
    let paths: Vec<PathBuf> = (0..plan.count()).map(|i| dir.join(format!("{}-{i}.parquet", t.as_str()))).collect();
    let written = (|| -> Result<()> {
        let mut writers = super::pieces::share_writers(&paths, &raw, 1 << 16)?;
        // a slice of the table at a time (its row groups' columns decoded only there)
        let keyed = lf.with_column(text(name, dtype).alias(KEY));
        let mut at = 0i64;
        loop {
            let mut df = keyed.clone().slice(at, SPLIT_ROWS).collect()?;
            if df.height() == 0 {
                break;
            }
            at += df.height() as i64;
            let keys = df.drop_in_place(KEY)?;
            let shares = plan.shares_of(t, keys.str()?);
            for (s, rows) in super::pieces::rows_by_share(&df, &shares, plan.count())? {
                writers[s as usize].write_batch(&rows)?;
            }
        }
        for w in writers {
            w.finish()?;
        }
        Ok(())
    })();
    // read back as the table's scan gives its columns, else each share reads the table whole
    let same = written.is_ok()
        && paths.iter().all(|p| {
            LazyFrame::scan_parquet(polars_path(p), ScanArgsParquet::default())
                .and_then(|mut lf| lf.collect_schema())
                .is_ok_and(|s| *s == *raw)
        });
    if !same {
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        return Ok(None);
    }
    Ok(Some(paths))
}

/// A key of up to 12 bytes as a zero-padded Arrow view (its length, then its bytes), `None` for a
/// longer key. Made from the bytes, so a view whose padding is not zero still finds its key.
pub(super) fn short_view(key: &[u8]) -> Option<u128> {
    (key.len() <= View::MAX_INLINE_SIZE as usize).then(|| View::new_inline(key).as_u128())
}

impl Share {
    /// The file holding this share's price rows, when the plan has them apart.
    pub(crate) fn price_spill(&self) -> Option<&Path> {
        self.plan.price_spills.as_ref().map(|s| s[self.index as usize].as_path())
    }

    /// The file holding this share's rows of table `t` (not the prices), when the plan has them
    /// apart.
    pub(crate) fn table_spill(&self, t: Table) -> Option<&Path> {
        let (_, spills) = self.plan.table_spills.iter().find(|(had, _)| *had == t)?;
        Some(spills[self.index as usize].as_path())
    }

    /// The rows of table `t` in this share, as a filter on the table's raw scan whose columns
    /// have the types `schema` gives (the key read as text as the validation reads it).
    pub(crate) fn rows(&self, t: Table, schema: &Schema) -> Option<Expr> {
        let name = key_column(t);
        let key = text(name, schema.get(name)?);
        let keys = std::sync::Arc::new(self.keys(t));
        let mine = move |c: Column| -> PolarsResult<Column> {
            let out = keys.mask(c.str()?);
            Ok(BooleanChunked::from_slice(PlSmallStr::from_static("share"), &out).into_column())
        };
        Some(key.map(mine, |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean))))
    }

    /// This share's filter on table `t`'s key column.
    fn keys(&self, t: Table) -> ShareKeys {
        let plan = &self.plan;
        let mine = plan
            .short_keys(t)
            .iter()
            .filter(|(_, &c)| plan.shares[c as usize] == self.index)
            .map(|(&v, _)| v)
            .collect();
        ShareKeys { share: self.clone(), t, mine }
    }
}

/// A share's filter on one table's key column ([`Share::rows`]), with the share's own short keys
/// at hand.
struct ShareKeys {
    share: Share,
    t: Table,
    /// The registered keys of up to 12 bytes (as [`short_view`]s) whose component is this share's:
    /// with 12 shares a twelfth of them, a set that stays in the processor's cache where the map
    /// of every key does not.
    mine: PlHashSet<u128>,
}

impl ShareKeys {
    /// Whether each of `keys` (a row's key column as text; a null is empty) is in the share.
    ///
    /// A short key is the share's when its own set holds it; else when its hash is the share's
    /// and no registration names it (a registered key not in the set is another share's): the map
    /// of every key is looked up only for the keys whose hash falls here.
    fn mask(&self, keys: &StringChunked) -> Vec<bool> {
        let (plan, index, t) = (&self.share.plan, self.share.index, self.t);
        let short = plan.short_keys(t);
        by_key(
            keys,
            |v, k| self.mine.contains(&v) || (hashed(k, plan.count) == index && !short.contains_key(&v)),
            |k| plan.share_of(t, k) == index,
        )
    }
}

/// `short(view, key)` of each key of up to 12 bytes (by its [`short_view`]), `long(key)` of each
/// longer one, for every row of `keys` (a null is empty); a run of one key is looked up once (a
/// row's key is often its predecessor's: rows clustered by offer).
fn by_key<T: Copy>(
    keys: &StringChunked,
    mut short: impl FnMut(u128, &str) -> T,
    mut long: impl FnMut(&str) -> T,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(keys.len());
    let mut last: Option<(u128, T)> = None;
    let mut last_long: Option<(&str, T)> = None;
    for arr in keys.downcast_iter() {
        for i in 0..arr.len() {
            let k = arr.get(i).unwrap_or_default();
            let got = match short_view(k.as_bytes()) {
                Some(v) => match last {
                    Some((l, got)) if l == v => got,
                    _ => {
                        let got = short(v, k);
                        last = Some((v, got));
                        got
                    }
                },
                None => match last_long {
                    Some((l, got)) if l == k => got,
                    _ => {
                        let got = long(k);
                        last_long = Some((k, got));
                        got
                    }
                },
            };
            out.push(got);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_keys_share_whatever_the_order() {
        // O1–M1 (a row), M1–O2 (a row), O3–R9 and O4–R9 (one registration id on two offers);
        // O5 alone; an empty merchant links nothing
        let rows = [("O1", "M1", "R1"), ("O2", "M1", "R2"), ("O3", "M3", "R9"), ("O4", "", "R9"), ("O5", "", "R5")];
        for count in [1, 2, 3, 7, 64] {
            let a = SharePlan::new(count, rows.iter().copied());
            let b = SharePlan::new(count, rows.iter().rev().copied());
            for t in [Table::Registrations, Table::Prices, Table::Ladders, Table::Retail, Table::Merchants] {
                for k in ["O1", "O2", "O3", "O4", "O5", "M1", "M3", "", "unknown"] {
                    assert_eq!(a.share_of(t, k), b.share_of(t, k), "{count} {k}");
                    assert!(a.share_of(t, k) < count);
                }
            }
            let o = |k| a.share_of(Table::Prices, k);
            let m = |k| a.share_of(Table::Merchants, k);
            assert_eq!(o("O1"), o("O2"));
            assert_eq!(o("O1"), m("M1"));
            assert_eq!(o("O3"), o("O4"));
            assert_eq!(o("O3"), m("M3"));
            // a key no registration names: its own hash
            assert_eq!(o("unknown"), hashed("unknown", count));
        }
        // with enough shares, unlinked components do not all fall together
        let a = SharePlan::new(64, (0..100).map(|_| ("", "", "")).chain(rows.iter().copied()));
        let shares: std::collections::BTreeSet<u32> =
            (0..200).map(|i| a.share_of(Table::Prices, &format!("X{i}"))).collect();
        assert!(shares.len() > 32, "{shares:?}");
    }

    /// A table's rows in a share, as the scan's filter finds them, are the rows whose key
    /// `share_of` puts there: keys of up to 12 bytes (found by their view) and longer, registered
    /// and not, nulls and empty keys, runs of one key, over several chunks.
    #[test]
    fn scan_filter_agrees_with_share_of() {
        let long = |i: usize| format!("offer-with-a-long-id-{i}");
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for i in 0..300 {
            rows.push((format!("7{i:09}"), format!("M{}", i % 40), format!("R{i}")));
            rows.push((long(i), format!("merchant-of-many-bytes-{}", i % 7), format!("R{i}")));
        }
        let registered = rows.iter().map(|(o, m, r)| (o.as_str(), m.as_str(), r.as_str()));
        for count in [2u32, 5, 12] {
            let plan = std::sync::Arc::new(SharePlan::new(count, registered.clone()));
            let mut keys: Vec<Option<String>> = Vec::new();
            for i in 0..700 {
                keys.push(Some(format!("7{i:09}"))); // registered below 300
                keys.push(Some(long(i))); // registered below 300
                keys.push(Some(format!("M{}", i % 50))); // merchants: registered below 40
                keys.push(Some(format!("merchant-of-many-bytes-{}", i % 9)));
                if i % 50 == 0 {
                    keys.extend([None, Some(String::new()), Some("x".repeat(12)), Some("x".repeat(13))]);
                    keys.extend(std::iter::repeat_n(Some(format!("7{i:09}")), 5));
                }
            }
            let half = keys.len() / 2;
            for t in [Table::Prices, Table::Merchants] {
                let name = key_column(t);
                let mut a = StringChunked::from_iter_options(name.into(), keys[..half].iter().map(|k| k.as_deref()));
                a.append(&StringChunked::from_iter_options(name.into(), keys[half..].iter().map(|k| k.as_deref())))
                    .unwrap();
                assert!(a.chunks().len() > 1);
                // each row's share at once, as the price table's split finds it
                let want: Vec<u32> = keys.iter().map(|k| plan.share_of(t, k.as_deref().unwrap_or_default())).collect();
                assert_eq!(plan.shares_of(t, &a), want, "{t:?}: shares_of, {count} shares");
                let df = DataFrame::new(keys.len(), vec![a.into_series().into_column()]).unwrap();
                let schema = df.schema().as_ref().clone();
                for index in 0..count {
                    let share = Share { index, plan: plan.clone() };
                    let got =
                        df.clone().lazy().select([share.rows(t, &schema).unwrap().alias("share")]).collect().unwrap();
                    let got: Vec<bool> =
                        got.column("share").unwrap().bool().unwrap().iter().map(|v| v.unwrap()).collect();
                    let want: Vec<bool> =
                        keys.iter().map(|k| plan.share_of(t, k.as_deref().unwrap_or_default()) == index).collect();
                    assert_eq!(got, want, "{t:?}, share {index} of {count}");
                }
            }
        }
    }
}
