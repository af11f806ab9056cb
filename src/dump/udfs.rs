//! The per-row UDFs of the price pass that are not validation: a row's unknown channel and its
//! registered-SKU key.

use super::*;
use polars_arrow::array::{Array, BooleanArray, Utf8ViewArray, View};
use polars_arrow::bitmap::{and, or_not, Bitmap};
use std::hash::BuildHasher;

/// A string of at most this many bytes is held whole in its 16-byte view.
const INLINE: usize = View::MAX_INLINE_SIZE as usize;

/// The view of a string of at most [`INLINE`] bytes ([`super::share::short_view`]).
fn inline_of(s: &str) -> u128 {
    super::share::short_view(s.as_bytes()).expect("a string held whole in its view")
}

/// An inline view (at most [`INLINE`] bytes) with the bytes past its string zeroed: equal for
/// equal strings, whatever a writer left there.
fn inline_view(v: &View) -> u128 {
    let bits = 32 + 8 * v.length as usize;
    match bits {
        128.. => v.as_u128(),
        _ => v.as_u128() & ((1u128 << bits) - 1),
    }
}

/// Are rows `a` and `b` of `arr` the same string? From their views where they tell (the same
/// view; another length or first four bytes; inline strings), else by their bytes.
fn same_at(arr: &Utf8ViewArray, a: usize, b: usize) -> bool {
    let (x, y) = (&arr.views()[a], &arr.views()[b]);
    if x.as_u128() == y.as_u128() {
        return true;
    }
    if x.length != y.length || x.prefix != y.prefix {
        return false;
    }
    if x.length as usize <= INLINE {
        return inline_view(x) == inline_view(y);
    }
    // SAFETY: both rows are below the array's length
    unsafe { arr.value_unchecked(a) == arr.value_unchecked(b) }
}

/// Is each row's channel named (not null, not empty) and not one of SPEC's known channels? One
/// UDF: `is_in` over a literal list became a hash semi-join in polars' streaming engine, and
/// with the null and empty tests cost 4% of the price pass; comparing each row's text was
/// still 5%. Each row is answered from its 16-byte view where it can be: a string of at most 12
/// bytes is held whole in its view (length, then the bytes, zero-padded), so a view equal to a
/// known name's is that name; a longer string's view starts with its length and first four
/// bytes, so one matching no known name's is no known name (the text of a row whose view
/// matches is then compared). Known names longer than 12 bytes (`private_adjust`,
/// `daily_activity`) compared as text on every row cost 4.5% of the run on the benchmark's
/// dumps (PERF.md).
pub(crate) fn unknown_channel(channel: Expr) -> Expr {
    let f = move |cols: &mut [Column]| -> PolarsResult<Column> {
        let ca = cols[0].str()?;
        Ok(unknown_channels(ca).into_column())
    };
    channel.cast(DataType::String).map_many(f, &[], |_, _| Ok(Field::new("__unknown".into(), DataType::Boolean)))
}

/// The bitmap of `f` over `items`, packed a word of 64 at a time.
fn pack<T>(items: &[T], f: impl Fn(&T) -> bool) -> Bitmap {
    let word = |c: &[T]| c.iter().enumerate().fold(0u64, |w, (j, x)| w | (f(x) as u64) << j);
    let mut bytes = Vec::with_capacity(items.len().div_ceil(64) * 8);
    let mut chunks = items.chunks_exact(64);
    for c in &mut chunks {
        bytes.extend_from_slice(&word(c).to_le_bytes());
    }
    bytes.extend_from_slice(&word(chunks.remainder()).to_le_bytes());
    bytes.truncate(items.len().div_ceil(8));
    Bitmap::from_u8_vec(bytes, items.len())
}

/// A boolean column without nulls, of the bitmap `f` gives each chunk of `ca`.
fn bools_of<T: PolarsDataType>(ca: &ChunkedArray<T>, f: impl Fn(&T::Array) -> Bitmap) -> Column {
    let arrays = ca.downcast_iter().map(|arr| BooleanArray::new(ArrowDataType::Boolean, f(arr), None));
    BooleanChunked::from_chunk_iter(ca.name().clone(), arrays).into_column()
}

/// `true` where a text column is null or `""`, from its views' lengths in one pass (two string
/// comparisons and an `or` per row before: PERF.md).
pub(crate) fn empty_text(c: Column) -> PolarsResult<Column> {
    Ok(bools_of(c.str()?, |arr| {
        let empty = pack(arr.views(), |v| v.length == 0);
        match arr.validity() {
            Some(valid) => or_not(&empty, valid),
            None => empty,
        }
    }))
}

/// `true` where a text column is null or none of `names`, in one pass: a view that holds its
/// text whole is compared whole with the names', the others by their text.
pub(crate) fn none_of(names: &'static [&'static str]) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync {
    move |c: Column| {
        let inline: Vec<u128> = names.iter().filter(|n| n.len() <= INLINE).map(|n| inline_of(n)).collect();
        Ok(bools_of(c.str()?, |arr| {
            let buffers = arr.data_buffers();
            let none = pack(arr.views(), |v| {
                if (v.length as usize) <= INLINE && inline.contains(&v.as_u128()) {
                    return false;
                }
                // (a short view not zero-padded, which no writer is known to make, is read as text)
                // SAFETY: the view is the array's own, over its buffers
                let text = unsafe { v.get_slice_unchecked(buffers) };
                !names.iter().any(|n| n.as_bytes() == text)
            });
            match arr.validity() {
                Some(valid) => or_not(&none, valid),
                None => none,
            }
        }))
    }
}

/// `true` where an `Int64` instant is outside `lo..=hi` (null: `false`), in one pass (two
/// comparisons and an `or` before).
pub(crate) fn outside(lo: i64, hi: i64) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync {
    move |c: Column| {
        Ok(bools_of(c.i64()?, |arr| {
            let out = pack(arr.values(), |&v| v < lo || v > hi);
            match arr.validity() {
                Some(valid) => and(&out, valid),
                None => out,
            }
        }))
    }
}

/// [`unknown_channel`] over a column.
fn unknown_channels(ca: &StringChunked) -> BooleanChunked {
    let known = crate::profile::KNOWN_CHANNELS;
    // the views of the known names held whole, and of "" (empty: regular, not unknown)
    let inline = ViewSet::new(known.iter().filter(|c| c.len() <= INLINE).map(|c| inline_of(c)).chain([inline_of("")]));
    // the longer known names, by their views' length and first four bytes
    let long: Vec<(u64, &str)> = known
        .iter()
        .filter(|c| c.len() > INLINE)
        .map(|c| (View::new_from_bytes(c.as_bytes(), 0, 0).as_u128() as u64, *c))
        .collect();
    let is_unknown = |s: &str| !s.is_empty() && !known.contains(&s);
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        for (i, v) in arr.views().iter().enumerate() {
            let unknown = if (v.length as usize) <= INLINE {
                // (a view not zero-padded, which no writer is known to make, is checked as text)
                !inline.contains(v.as_u128()) && arr.get(i).is_some_and(is_unknown)
            } else {
                let head = v.as_u128() as u64;
                polars_arrow::array::Array::is_valid(arr, i)
                    // SAFETY: `i` is below the array's length
                    && !long.iter().any(|&(h, name)| h == head && unsafe { arr.value_unchecked(i) } == name)
            };
            out.push(unknown);
        }
    }
    BooleanChunked::from_slice("__unknown".into(), &out)
}

/// A small set of views (at most 32): open addressing over 64 slots, one compare for most
/// lookups (a linear search of the known names' views was most of [`unknown_channels`]' time).
struct ViewSet {
    slots: [u128; 64],
    used: u64,
}

impl ViewSet {
    fn new(views: impl Iterator<Item = u128>) -> ViewSet {
        let mut set = ViewSet { slots: [0; 64], used: 0 };
        for (n, v) in views.enumerate() {
            assert!(n < 32, "a small set");
            let mut i = Self::home(v);
            while set.used >> i & 1 == 1 && set.slots[i] != v {
                i = (i + 1) & 63;
            }
            set.slots[i] = v;
            set.used |= 1 << i;
        }
        set
    }

    fn home(v: u128) -> usize {
        (((v as u64) ^ ((v >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize
    }

    fn contains(&self, v: u128) -> bool {
        let mut i = Self::home(v);
        while self.used >> i & 1 == 1 {
            if self.slots[i] == v {
                return true;
            }
            i = (i + 1) & 63;
        }
        false
    }
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
    /// The mix of a pair of inline strings ([`SkuIndex::hash_inline`]), drawn from `hasher`.
    seeds: [u64; 6],
}

/// A slot of [`SkuIndex`]: a key of up to 23 bytes in place, zero-padded (`len` 0: empty; 255:
/// the key is `long[aux]`), its `k`. Half a cache line, never across two.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    key: [u8; 23],
    len: u8,
    k: IdxSize,
    /// A key in place: its hash's high half (most other keys' slots are passed over on it, with
    /// no compare of bytes); a long key: its place in `long`.
    aux: u32,
}

impl SkuIndex {
    const ROWS_PER_BLOCK: usize = 256;
    const EMPTY: Slot = Slot { key: [0; 23], len: 0, k: 0, aux: 0 };

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
        let hasher = PlRandomState::default();
        let seeds = std::array::from_fn(|i| hasher.hash_one(i as u64) | 1);
        let mut index = SkuIndex {
            filter: SkuFilter::new(pairs.len()),
            slots: vec![Self::EMPTY; n],
            long: Vec::new(),
            hasher,
            seeds,
        };
        let mut buf = Vec::new();
        // hashed a block ahead, their slots fetched before they are probed (as in `lookup`)
        let hashes: Vec<u64> = pairs.iter().map(|(o, s, _)| index.hash_pair(o, s, &mut buf)).collect();
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
                slot.aux = Self::tag(h);
            } else {
                slot.len = 255;
                slot.aux = u32::try_from(index.long.len()).expect("fewer than 2^32 registered SKUs");
                index.long.push(buf.as_slice().into());
            }
            index.slots[i] = slot;
            index.filter.add(h);
        }
        index
    }

    /// A pair's hash: of two strings held whole in their views, a mix of the two views (no copy
    /// of the bytes: a fifth of the lookup's time on the benchmark's dumps); of others, the hash
    /// of their [`pair_key`] (in `buf`).
    fn hash_pair(&self, offer: &str, sku: &str, buf: &mut Vec<u8>) -> u64 {
        if offer.len() <= INLINE && sku.len() <= INLINE {
            self.hash_inline(inline_of(offer), inline_of(sku))
        } else {
            pair_key(buf, offer, sku);
            self.hasher.hash_one(buf.as_slice())
        }
    }

    /// [`SkuIndex::hash_pair`] of row `i` of the arrays, from their views where it can.
    fn hash_row(&self, offers: &Utf8ViewArray, skus: &Utf8ViewArray, i: usize, buf: &mut Vec<u8>) -> u64 {
        let (o, s) = (&offers.views()[i], &skus.views()[i]);
        if o.length as usize <= INLINE && s.length as usize <= INLINE {
            self.hash_inline(inline_view(o), inline_view(s))
        } else {
            // SAFETY: `i` is below both arrays' length
            unsafe { self.hash_pair(offers.value_unchecked(i), skus.value_unchecked(i), buf) }
        }
    }

    /// Two inline views mixed by folded multiplications with this index's random seeds.
    fn hash_inline(&self, offer: u128, sku: u128) -> u64 {
        let folded = |a: u64, b: u64| {
            let p = (a as u128) * (b as u128);
            (p as u64) ^ ((p >> 64) as u64)
        };
        let [s0, s1, s2, s3, s4, s5] = self.seeds;
        let x = folded(offer as u64 ^ s0, (offer >> 64) as u64 ^ s1);
        let y = folded(sku as u64 ^ s2, (sku >> 64) as u64 ^ s3);
        folded(x ^ s4, y ^ s5)
    }

    fn home(&self, h: u64) -> usize {
        (h as usize) & (self.slots.len() - 1)
    }

    fn tag(h: u64) -> u32 {
        (h >> 32) as u32
    }

    /// The slot holding the pair in `buf` (of [`pair_key`]) whose hash is `h` (`Ok`), or the
    /// empty slot where it would go (`Err`).
    fn probe(&self, h: u64, buf: &[u8]) -> std::result::Result<usize, usize> {
        let mut i = self.home(h);
        // a key in place compares as a whole padded slot key: a few words, not a call to memcmp
        // (a tenth of the lookup's time)
        let tag = Self::tag(h);
        let mut padded = [0u8; 23];
        if buf.len() <= padded.len() {
            padded[..buf.len()].copy_from_slice(buf);
        }
        loop {
            let slot = &self.slots[i];
            match slot.len {
                0 => return Err(i),
                255 => {
                    if *self.long[slot.aux as usize] == *buf {
                        return Ok(i);
                    }
                }
                n => {
                    if slot.aux == tag && n as usize == buf.len() && slot.key == padded {
                        return Ok(i);
                    }
                }
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
        let n = offers.len().min(skus.len());
        let mut out = Vec::with_capacity(n);
        let mut buf = Vec::with_capacity(64);
        let mut probes = [Probe::Same; Self::ROWS_PER_BLOCK];
        let mut k_before = NOT_REGISTERED;
        for start in (0..n).step_by(Self::ROWS_PER_BLOCK) {
            let block = start..(start + Self::ROWS_PER_BLOCK).min(n);
            for (p, i) in probes.iter_mut().zip(block.clone()) {
                // rows of one SKU usually come together: a row's pair is compared with the row
                // before's
                *p = if i > 0 && same_at(offers, i - 1, i) && same_at(skus, i - 1, i) {
                    Probe::Same
                } else {
                    let hash = self.hash_row(offers, skus, i, &mut buf);
                    prefetch(self.filter.word(hash));
                    Probe::At(hash)
                };
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
            for (p, i) in probes.iter().zip(block) {
                k_before = match *p {
                    Probe::Same => k_before,
                    Probe::Absent => NOT_REGISTERED,
                    Probe::At(hash) => {
                        // SAFETY: `i` is below both arrays' length
                        let (o, s) = unsafe { (offers.value_unchecked(i), skus.value_unchecked(i)) };
                        pair_key(&mut buf, o, s);
                        self.get(hash, &buf).unwrap_or(NOT_REGISTERED)
                    }
                };
                out.push(k_before);
            }
        }
        out
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

    /// `rows` as a text column of three chunks, the middle one sliced out of a longer chunk (its
    /// views and validity at an offset), so that a kernel meets every layout of a column.
    fn chunked_text(rows: &[Option<&str>]) -> Column {
        let chunk = |r: &[Option<&str>]| StringChunked::from_iter_options("c".into(), r.iter().copied());
        let third = rows.len() / 3;
        let mut ca = chunk(&rows[..third]);
        let pad: Vec<Option<&str>> = [Some("pad, past a view's twelve bytes"), None]
            .into_iter()
            .chain(rows[third..2 * third].iter().copied())
            .chain([Some("x")])
            .collect();
        ca.append(&chunk(&pad).slice(2, third)).unwrap();
        ca.append(&chunk(&rows[2 * third..])).unwrap();
        assert!(ca.chunks().len() >= 3);
        ca.into_column()
    }

    fn bools(c: Column) -> Vec<bool> {
        c.bool().unwrap().iter().map(|b| b.expect("no nulls")).collect()
    }

    /// Texts of every length about a view's twelve inline bytes, empty, null, the names and near
    /// misses, repeated past 64 rows (a word of the packed bitmap) and its remainder.
    fn texts() -> Vec<Option<&'static str>> {
        let base = [
            Some(""),
            None,
            Some("txn"),
            Some("list"),
            Some("tx"),
            Some("txn "),
            Some("List"),
            Some("lists"),
            Some(" "),
            Some("abcdefghijkl"),
            Some("abcdefghijklm"),
            Some("a long text, not inline"),
            Some("交易"),
        ];
        (0..base.len() * 11).map(|i| base[(i * 7 + i / 5) % base.len()]).collect()
    }

    /// `empty_text` is `true` exactly on null and `""`.
    #[test]
    fn empty_text_is_null_or_empty() {
        let rows = texts();
        let got = bools(empty_text(chunked_text(&rows)).unwrap());
        let want: Vec<bool> = rows.iter().map(|r| r.is_none_or(str::is_empty)).collect();
        assert_eq!(got, want);
        assert!(want.iter().filter(|b| **b).count() >= 10 && want.iter().any(|b| !*b));
        // a column without nulls (no validity), of a single row and of none
        let one = StringChunked::from_slice("c".into(), &[""]).into_column();
        assert_eq!(bools(empty_text(one).unwrap()), vec![true]);
        let none = StringChunked::from_slice("c".into(), &["x"; 0]).into_column();
        assert!(bools(empty_text(none).unwrap()).is_empty());
    }

    /// `none_of` is `true` exactly on null and on a text that is none of the names, inline or not.
    #[test]
    fn none_of_is_null_or_no_name() {
        let rows = texts();
        let names: &'static [&'static str] = &["txn", "list", "a long text, not inline"];
        let got = bools(none_of(names)(chunked_text(&rows)).unwrap());
        let want: Vec<bool> = rows.iter().map(|r| r.is_none_or(|s| !names.contains(&s))).collect();
        assert_eq!(got, want);
        assert!(want.iter().filter(|b| !**b).count() >= 10 && want.iter().filter(|b| **b).count() >= 10);
    }

    /// `outside` is `true` exactly on a value below `lo` or above `hi`, never on null: the bounds
    /// themselves and one inside each are inside, one past each outside.
    #[test]
    fn outside_is_past_either_bound_and_never_null() {
        let (lo, hi) = (crate::time::MIN_INSTANT, crate::time::MAX_INSTANT);
        let base = [
            Some(lo - 1),
            Some(lo),
            Some(lo + 1),
            None,
            Some(0),
            Some(hi - 1),
            Some(hi),
            Some(hi + 1),
            Some(i64::MIN),
            Some(i64::MAX),
        ];
        let rows: Vec<Option<i64>> = (0..base.len() * 13).map(|i| base[(i * 3 + i / 7) % base.len()]).collect();
        let third = rows.len() / 3;
        let mut ca = Int64Chunked::from_iter_options("v".into(), rows[..third].iter().copied());
        let pad: Vec<Option<i64>> =
            [None, Some(hi + 5)].into_iter().chain(rows[third..2 * third].iter().copied()).collect();
        ca.append(&Int64Chunked::from_iter_options("v".into(), pad.into_iter()).slice(2, third)).unwrap();
        ca.append(&Int64Chunked::from_iter_options("v".into(), rows[2 * third..].iter().copied())).unwrap();
        let got = bools(outside(lo, hi)(ca.into_column()).unwrap());
        let want: Vec<bool> = rows.iter().map(|v| v.is_some_and(|v| v < lo || v > hi)).collect();
        assert_eq!(got, want);
        assert!(want.iter().any(|b| *b) && want.iter().any(|b| !*b));
        // a null whose slot holds a value past a bound is still not outside
        let arr = polars_arrow::array::PrimitiveArray::<i64>::new(
            ArrowDataType::Int64,
            vec![hi + 1, lo - 1, 5].into(),
            Some(Bitmap::from_iter([false, true, false])),
        );
        let nulls = Int64Chunked::with_chunk("v".into(), arr).into_column();
        assert_eq!(bools(outside(lo, hi)(nulls).unwrap()), vec![false, true, false]);
    }

    /// Each row is unknown exactly when its channel is named and not one of SPEC's known
    /// channels: every known name (held whole in its view or not), null, empty, unknown names of
    /// every length about the 12 bytes a view holds, names sharing a long known name's length and
    /// first four bytes or only its first bytes, in several chunks, sliced, with nulls.
    #[test]
    fn unknown_channels_agree_with_the_known_names() {
        let mut names: Vec<Option<String>> =
            crate::profile::KNOWN_CHANNELS.iter().map(|c| Some(c.to_string())).collect();
        for s in [
            "",
            "livestream",
            "regular ",
            "Regular",
            "regula",
            "huopin_x",
            "abcdefghijkl",
            "abcdefghijklm",
            "private_adjusx",
            "private_adjust_",
            "private_adjus",
            "privXte_adjust",
            "daily_activitz",
            "dailyactivity_",
            "winter_clearancf",
            "winter_clearance",
            "member_price",
            "member_pricf",
            "bundle_price2",
            "直播渠道",
        ] {
            names.push(Some(s.to_string()));
        }
        names.push(None);
        let expected = |v: &Option<String>| {
            v.as_deref().is_some_and(|s| !s.is_empty() && !crate::profile::KNOWN_CHANNELS.contains(&s))
        };
        // rows in an order that mixes them, three chunks, the middle one sliced
        let rows: Vec<Option<String>> =
            (0..names.len() * 7).map(|i| names[(i * 5 + i / 3) % names.len()].clone()).collect();
        let chunk = |r: &[Option<String>]| StringChunked::from_iter_options("c".into(), r.iter().map(|o| o.as_deref()));
        let third = rows.len() / 3;
        let mut ca = chunk(&rows[..third]);
        let middle = chunk(&rows[third - 2..2 * third + 2]).slice(2, third);
        ca.append(&middle).unwrap();
        ca.append(&chunk(&rows[2 * third..])).unwrap();
        assert!(ca.chunks().len() >= 3);
        let got: Vec<bool> = unknown_channels(&ca).iter().map(|b| b.unwrap()).collect();
        let want: Vec<bool> = rows.iter().map(expected).collect();
        assert_eq!(got, want);
        assert!(want.iter().any(|b| *b) && want.iter().any(|b| !*b));
    }

    fn lookup(index: &SkuIndex, rows: &[(&str, &str)]) -> Vec<IdxSize> {
        let offers: StringChunked = rows.iter().map(|r| r.0).collect();
        let skus: StringChunked = rows.iter().map(|r| r.1).collect();
        index.lookup(&offers, &skus)
    }

    /// Every row gets its pair's `k` or NOT_REGISTERED, over several blocks, whatever the order
    /// and the keys' lengths: pairs whose concatenations are equal, keys longer than a slot (1500
    /// pairs of 32-byte hex ids beside 3000 not held, as warehouses' hashed ids), an offer of 255
    /// bytes and more, runs of one pair, a pair given twice (its first `k`).
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
                // about the 12 bytes a view holds whole: 12 and 13 bytes, on either side
                ("700000000012".into(), "S1".into(), 5006),
                ("7000000000013".into(), "S1".into(), 5007),
                ("700000000012".into(), "SKU-00000012".into(), 5008),
                ("700000000012".into(), "SKU-000000013".into(), 5009),
                ("7000000000013".into(), "SKU-000000013".into(), 5010),
                ("ab".into(), "c".into(), 5005), // again: keeps 5000
            ])
            .collect();
        // many long pairs (32-byte hex offers, as ids hashed by a warehouse), each next to another
        // of the same length and first bytes that is not held
        let hex = |i: u32| format!("{:032x}", (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
        let last = pairs.pop().expect("the pair given twice");
        pairs.extend((0..1500u32).map(|i| (hex(i), format!("sku-{}", hex(i + 7)), 6000 + i)));
        pairs.push(last);
        let index = SkuIndex::new(pairs.iter().map(|(o, s, k)| (o.as_str(), s.as_str(), *k)));
        pairs.pop();
        let mut rows: Vec<(String, String, IdxSize)> = pairs.clone();
        // pairs not held: another SKU of a held offer, an empty pair, a prefix of a long key
        rows.extend((0..1500u32).map(|i| (format!("70000{i:05}"), "S9".to_string(), NOT_REGISTERED)));
        rows.push((String::new(), String::new(), NOT_REGISTERED));
        rows.push(("abc".into(), String::new(), NOT_REGISTERED));
        rows.push(("o".repeat(299), "S1".into(), NOT_REGISTERED));
        rows.extend((0..1500u32).map(|i| (hex(i), format!("sku-{}", hex(i + 8)), NOT_REGISTERED)));
        rows.extend((0..1500u32).map(|i| (hex(i + 1), format!("sku-{}", hex(i + 7)), NOT_REGISTERED)));
        rows.push(("p".repeat(254), "pS1".into(), NOT_REGISTERED));
        // the same length and first four bytes as held pairs, or the same bytes split otherwise
        rows.push(("700000000013".into(), "S1".into(), NOT_REGISTERED));
        rows.push(("7000000000012".into(), "S1".into(), NOT_REGISTERED));
        rows.push(("700000000012".into(), "SKU-000000014".into(), NOT_REGISTERED));
        rows.push(("70000000001".into(), "2SKU-00000012".into(), NOT_REGISTERED));
        rows.push(("7000000000013".into(), "SKU-00000013".into(), NOT_REGISTERED));
        // a random-looking order, then runs of one pair
        rows.sort_by_key(|r| (r.2 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ r.0.len() as u64);
        let runs: Vec<_> = rows.iter().take(300).flat_map(|r| std::iter::repeat_n(r.clone(), 3)).collect();
        rows.extend(runs);
        // runs alternating two long pairs of one length and first four bytes
        for _ in 0..3 {
            rows.push(("7000000000013".into(), "SKU-000000013".into(), 5010));
            rows.push(("7000000000013".into(), "S1".into(), 5007));
            rows.push(("7000000000012".into(), "SKU-000000013".into(), NOT_REGISTERED));
        }
        let asked: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
        let want: Vec<IdxSize> = rows.iter().map(|r| r.2).collect();
        assert!(rows.len() > 3 * SkuIndex::ROWS_PER_BLOCK);
        assert_eq!(lookup(&index, &asked), want);
        // the same rows as views of a dictionary's values (a run's strings at one place, as a
        // dictionary-encoded column decodes) and in several chunks
        let column = |f: fn(&(String, String, IdxSize)) -> &str| {
            let distinct: Vec<&str> = {
                let mut d: Vec<&str> = rows.iter().map(f).collect();
                d.sort_unstable();
                d.dedup();
                d
            };
            let values = Utf8ViewArray::from_slice_values(&distinct);
            let at: Vec<IdxSize> = rows.iter().map(|r| distinct.binary_search(&f(r)).unwrap() as IdxSize).collect();
            let taken = StringChunked::with_chunk("c".into(), values).take(&IdxCa::from_vec("i".into(), at)).unwrap();
            let mut parts = taken.slice(0, 100);
            parts.append(&taken.slice(100, rows.len() - 100)).unwrap();
            parts
        };
        let (offers, skus) = (column(|r| r.0.as_str()), column(|r| r.1.as_str()));
        assert!(offers.chunks().len() > 1);
        assert_eq!(index.lookup(&offers, &skus), want);
    }
}
