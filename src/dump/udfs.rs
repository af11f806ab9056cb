//! The per-row UDFs of the price pass that are not validation: a row's unknown channel and its
//! registered-SKU key.

use super::*;
use std::hash::BuildHasher;

/// Is each row's channel named (not null, not empty) and not one of SPEC's known channels? One
/// UDF: `is_in` over a literal list became a hash semi-join in polars' streaming engine, and
/// with the null and empty tests cost 4% of the price pass; comparing each row's text was
/// still 5%. A string of at most 12 bytes is held whole in its 16-byte view (length, then the
/// bytes, zero-padded), so most rows are one compare of that view against the known names'.
pub(crate) fn unknown_channel(channel: Expr) -> Expr {
    let inline = |s: &str| -> Option<u128> {
        (s.len() <= 12).then(|| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            b[4..4 + s.len()].copy_from_slice(s.as_bytes());
            u128::from_le_bytes(b)
        })
    };
    let mut fast: Vec<u128> = crate::profile::KNOWN_CHANNELS.iter().filter_map(|c| inline(c)).collect();
    fast.extend(inline("")); // empty: regular, not unknown
    let f = move |cols: &mut [Column]| -> PolarsResult<Column> {
        let ca = cols[0].str()?;
        let mut out = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            for (i, v) in arr.views().iter().enumerate() {
                // a view equal to a known name's is that name; anything else is checked as text
                let unknown = !fast.contains(&v.as_u128())
                    && arr.get(i).is_some_and(|v| !v.is_empty() && !crate::profile::KNOWN_CHANNELS.contains(&v));
                out.push(unknown);
            }
        }
        Ok(BooleanChunked::from_slice("__unknown".into(), &out).into_column())
    };
    channel.cast(DataType::String).map_many(f, &[], |_, _| Ok(Field::new("__unknown".into(), DataType::Boolean)))
}

/// `k` of a row whose SKU is not registered (a null key is a rejected row: it matches nothing).
pub(crate) const NOT_REGISTERED: IdxSize = IdxSize::MAX;

/// The dense SKU key `k` of each row's (`offer_id`, `sku_id`), [`NOT_REGISTERED`] when the SKU
/// is not registered: a lookup per row in [`SkuIndex`], in the pass's own threads. (Was a left
/// join on the two string keys: its probe and the gather of every string column of all rows were
/// ~15% of the price pass's CPU.) Keys compare as text, whatever the columns' types.
pub(crate) fn registered_key(skus: &std::sync::Arc<SkuIndex>) -> Expr {
    let index = skus.clone();
    let lookup = move |c: &mut [Column]| -> PolarsResult<Column> {
        Ok(IdxCa::from_vec("k".into(), index.lookup(c[0].str()?, c[1].str()?)).into_column())
    };
    let text = |c: &str| col(c).cast(DataType::String);
    text("offer_id").map_many(lookup, &[text("sku_id")], |_, _| Ok(Field::new("k".into(), IDX_DTYPE)))
}

/// The text of column `c` of `df`.
fn text(df: &DataFrame, c: &str) -> PolarsResult<StringChunked> {
    Ok(df.column(c)?.cast(&DataType::String)?.str()?.clone())
}

/// `regs` with each registration's `k` in `skus` (null where `offer_id` or `sku_id` is null, or
/// the pair is not held, as the left join this replaces gave), in row order. The column is added
/// and the others shared: the join and the sort after it copied every column of the table (1.86 M
/// registrations: about a gigabyte at the peak).
pub(crate) fn with_sku_keys(regs: DataFrame, skus: &SkuIndex) -> Result<DataFrame> {
    let (ro, rs) = (text(&regs, "offer_id")?, text(&regs, "sku_id")?);
    let found = skus.lookup(&ro, &rs);
    let k: IdxCa = (ro.iter().zip(rs.iter()).zip(found))
        .map(|((o, s), k)| (o.is_some() && s.is_some() && k != NOT_REGISTERED).then_some(k))
        .collect();
    let mut regs = regs;
    regs.with_column(k.with_name("k".into()).into_column())?;
    let rn = regs.column(RN)?.cast(&DataType::UInt64)?;
    if !rn.u64()?.iter().is_sorted() {
        regs = regs.sort([RN], Default::default())?;
    }
    Ok(regs)
}

/// The registered SKUs: (`offer_id`, `sku_id`) → `k`, looked up once per price row.
///
/// Rows in random order look it up at random: with a general hash map each row of a registered
/// SKU waited for one cache miss (a tenth of the price pass's CPU on the benchmark's shuffled
/// dumps). Here the rows are looked up a block at a time, in three passes over the block: the
/// first hashes each row's key and has the processor fetch the word of a small filter that holds
/// the key's bits; the second asks the filter (which answers most rows of SKUs not registered:
/// two rows in three of the benchmark's dumps) and has the processor fetch the slot of each
/// other row; the third compares the keys, by then in the cache.
pub(crate) struct SkuIndex {
    filter: SkuFilter,
    /// Open addressing, linear probing, at most two in three used.
    slots: Vec<Slot>,
    /// Keys longer than a slot holds.
    long: Vec<Box<[u8]>>,
    hasher: PlRandomState,
}

/// A slot of [`SkuIndex`]: a key of up to 23 bytes in place (`len` 0: empty; 255: the key is
/// `long[k_long]`), its `k`. Half a cache line, never across two.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    key: [u8; 23],
    len: u8,
    k: IdxSize,
    k_long: u32,
}

impl SkuIndex {
    const ROWS_PER_BLOCK: usize = 256;
    const EMPTY: Slot = Slot { key: [0; 23], len: 0, k: 0, k_long: 0 };

    /// The index of `keys`' (`offer_id`, `sku_id`) → `k` (rows with a null skipped).
    pub(crate) fn of_keys(keys: &DataFrame) -> Result<SkuIndex> {
        let (offers, skus) = (text(keys, "offer_id")?, text(keys, "sku_id")?);
        let ks = keys.column("k")?.cast(&IDX_DTYPE)?;
        let pairs = offers.iter().zip(skus.iter()).zip(ks.idx()?.iter());
        Ok(SkuIndex::new(pairs.filter_map(|((o, s), k)| Some((o?, s?, k?)))))
    }

    /// The index of `(offer, sku, k)`; a pair given twice keeps its first `k`.
    pub(crate) fn new<'a>(pairs: impl Iterator<Item = (&'a str, &'a str, IdxSize)>) -> SkuIndex {
        let pairs: Vec<_> = pairs.collect();
        let n = (pairs.len() * 3 / 2 + 1).next_power_of_two().max(16);
        let mut index = SkuIndex {
            filter: SkuFilter::new(pairs.len()),
            slots: vec![Self::EMPTY; n],
            long: Vec::new(),
            hasher: PlRandomState::default(),
        };
        let mut buf = Vec::new();
        // hashed a block ahead, their slots fetched before they are probed (as in `lookup`)
        let hashes: Vec<u64> = pairs
            .iter()
            .map(|(o, s, _)| {
                pair_key(&mut buf, o, s);
                index.hasher.hash_one(buf.as_slice())
            })
            .collect();
        for (at, ((o, s, k), &h)) in pairs.into_iter().zip(&hashes).enumerate() {
            if let Some(&ahead) = hashes.get(at + Self::ROWS_PER_BLOCK) {
                prefetch(&index.slots[index.home(ahead)]);
            }
            pair_key(&mut buf, o, s);
            let Err(i) = index.probe(h, &buf) else {
                continue; // held: the pair keeps its first k
            };
            let mut slot = Slot { k, ..Self::EMPTY };
            if buf.len() <= slot.key.len() {
                slot.key[..buf.len()].copy_from_slice(&buf);
                slot.len = buf.len() as u8;
            } else {
                slot.len = 255;
                slot.k_long = u32::try_from(index.long.len()).expect("fewer than 2^32 registered SKUs");
                index.long.push(buf.as_slice().into());
            }
            index.slots[i] = slot;
            index.filter.add(h);
        }
        index
    }

    fn home(&self, h: u64) -> usize {
        (h as usize) & (self.slots.len() - 1)
    }

    fn key_of<'s>(&'s self, slot: &'s Slot) -> &'s [u8] {
        match slot.len {
            255 => &self.long[slot.k_long as usize],
            n => &slot.key[..n as usize],
        }
    }

    /// The slot holding the pair in `buf` (of [`pair_key`]) whose hash is `h` (`Ok`), or the
    /// empty slot where it would go (`Err`).
    fn probe(&self, h: u64, buf: &[u8]) -> std::result::Result<usize, usize> {
        let mut i = self.home(h);
        loop {
            let slot = &self.slots[i];
            if slot.len == 0 {
                return Err(i);
            }
            if self.key_of(slot) == buf {
                return Ok(i);
            }
            i = (i + 1) & (self.slots.len() - 1);
        }
    }

    /// The `k` of the pair in `buf` whose hash is `h`.
    fn get(&self, h: u64, buf: &[u8]) -> Option<IdxSize> {
        self.probe(h, buf).ok().map(|i| self.slots[i].k)
    }

    /// The `k` of each row of `(offers, skus)`, [`NOT_REGISTERED`] for a pair not held.
    pub(crate) fn lookup(&self, offers: &StringChunked, skus: &StringChunked) -> Vec<IdxSize> {
        let (offers, skus) = (offers.rechunk(), skus.rechunk());
        let (offers, skus) = (offers.downcast_as_array(), skus.downcast_as_array());
        let mut out = Vec::with_capacity(offers.len());
        let mut buf = Vec::with_capacity(64);
        let mut probes = [Probe::Same; Self::ROWS_PER_BLOCK];
        let mut rows = offers.values_iter().zip(skus.values_iter());
        let mut block: Vec<(&str, &str)> = Vec::with_capacity(Self::ROWS_PER_BLOCK);
        // rows of one SKU usually come together: a row's pair is compared with the row before's
        let mut before: Option<(&str, &str)> = None;
        let mut k_before = NOT_REGISTERED;
        loop {
            block.clear();
            block.extend(rows.by_ref().take(Self::ROWS_PER_BLOCK));
            if block.is_empty() {
                return out;
            }
            for (p, &row) in probes.iter_mut().zip(&block) {
                *p = if before == Some(row) {
                    Probe::Same
                } else {
                    pair_key(&mut buf, row.0, row.1);
                    let hash = self.hasher.hash_one(buf.as_slice());
                    prefetch(self.filter.word(hash));
                    Probe::At(hash)
                };
                before = Some(row);
            }
            for p in &mut probes[..block.len()] {
                if let Probe::At(hash) = *p {
                    if self.filter.may_hold(hash) {
                        prefetch(&self.slots[self.home(hash)]);
                    } else {
                        *p = Probe::Absent;
                    }
                }
            }
            for (p, &(o, s)) in probes.iter().zip(&block) {
                k_before = match *p {
                    Probe::Same => k_before,
                    Probe::Absent => NOT_REGISTERED,
                    Probe::At(hash) => {
                        pair_key(&mut buf, o, s);
                        self.get(hash, &buf).unwrap_or(NOT_REGISTERED)
                    }
                };
                out.push(k_before);
            }
        }
    }
}

/// What [`SkuIndex::lookup`] knows of a row between its passes.
#[derive(Clone, Copy)]
enum Probe {
    /// The row before's pair.
    Same,
    /// A pair not held (the filter said so).
    Absent,
    /// The hash of a pair to look up.
    At(u64),
}

/// Ask the processor to bring `x` into the cache (no effect on other targets).
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing and cannot fault; the pointer is a valid reference anyway
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(x as *const T as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Which keys [`SkuIndex`] may hold: a blocked Bloom filter (two bits of one 64-bit word per key,
/// ~16 bits per key: under 1% of other keys pass), small enough to stay in a core's cache.
struct SkuFilter {
    words: Vec<u64>,
}

impl SkuFilter {
    fn new(keys: usize) -> SkuFilter {
        SkuFilter { words: vec![0; (keys * 16).next_power_of_two().max(1 << 12) / 64] }
    }

    /// The word and the two bits of a key's hash.
    fn place(&self, h: u64) -> (usize, u64) {
        let w = (h as usize) & (self.words.len() - 1);
        (w, 1u64 << ((h >> 52) & 63) | 1u64 << ((h >> 58) & 63))
    }

    fn word(&self, h: u64) -> &u64 {
        &self.words[self.place(h).0]
    }

    fn add(&mut self, h: u64) {
        let (w, bits) = self.place(h);
        self.words[w] |= bits;
    }

    /// False: the index does not hold the key of this hash. True: it may.
    fn may_hold(&self, h: u64) -> bool {
        let (w, bits) = self.place(h);
        self.words[w] & bits == bits
    }
}

/// `(offer, sku)` as one unambiguous byte string: the offer's length (one byte below 255, else
/// 255 and eight bytes), the offer, the SKU.
pub(crate) fn pair_key(buf: &mut Vec<u8>, offer: &str, sku: &str) {
    buf.clear();
    match u8::try_from(offer.len()) {
        Ok(n) if n < 255 => buf.push(n),
        _ => {
            buf.push(255);
            buf.extend_from_slice(&(offer.len() as u64).to_le_bytes());
        }
    }
    buf.extend_from_slice(offer.as_bytes());
    buf.extend_from_slice(sku.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(index: &SkuIndex, rows: &[(&str, &str)]) -> Vec<IdxSize> {
        let offers: StringChunked = rows.iter().map(|r| r.0).collect();
        let skus: StringChunked = rows.iter().map(|r| r.1).collect();
        index.lookup(&offers, &skus)
    }

    /// Every row gets its pair's `k` or NOT_REGISTERED, over several blocks, whatever the order
    /// and the keys' lengths: pairs whose concatenations are equal, keys longer than a slot, an
    /// offer of 255 bytes and more, runs of one pair, a pair given twice (its first `k`).
    #[test]
    fn sku_index_finds_each_pair() {
        let long_offer = "o".repeat(300);
        let offer_255 = "p".repeat(255);
        let mut pairs: Vec<(String, String, IdxSize)> = (0..2000u32)
            .map(|i| (format!("70000{i:05}"), format!("S{}", i % 7), i))
            .chain([
                ("ab".into(), "c".into(), 5000),
                ("a".into(), "bc".into(), 5001),
                (long_offer.clone(), "S1".into(), 5002),
                (offer_255.clone(), "S1".into(), 5003),
                ("x".repeat(30), "y".repeat(30), 5004),
                ("ab".into(), "c".into(), 5005), // again: keeps 5000
            ])
            .collect();
        let index = SkuIndex::new(pairs.iter().map(|(o, s, k)| (o.as_str(), s.as_str(), *k)));
        pairs.pop();
        let mut rows: Vec<(String, String, IdxSize)> = pairs.clone();
        // pairs not held: another SKU of a held offer, an empty pair, a prefix of a long key
        rows.extend((0..1500u32).map(|i| (format!("70000{i:05}"), "S9".to_string(), NOT_REGISTERED)));
        rows.push((String::new(), String::new(), NOT_REGISTERED));
        rows.push(("abc".into(), String::new(), NOT_REGISTERED));
        rows.push(("o".repeat(299), "S1".into(), NOT_REGISTERED));
        rows.push(("p".repeat(254), "pS1".into(), NOT_REGISTERED));
        // a random-looking order, then runs of one pair
        rows.sort_by_key(|r| (r.2 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ r.0.len() as u64);
        let runs: Vec<_> = rows.iter().take(300).flat_map(|r| std::iter::repeat_n(r.clone(), 3)).collect();
        rows.extend(runs);
        let asked: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
        let want: Vec<IdxSize> = rows.iter().map(|r| r.2).collect();
        assert!(rows.len() > 3 * SkuIndex::ROWS_PER_BLOCK);
        assert_eq!(lookup(&index, &asked), want);
    }
}
