//! The per-row UDFs of the price pass that are not validation: a row's unknown channel and its
//! registered-SKU key.

use super::*;

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
/// is not registered: a hash lookup per row, in the pass's own threads. (Was a left join on the two
/// string keys: its probe and the gather of every string column of all rows were ~15% of the
/// price pass's CPU.) Keys compare as text, whatever the columns' types.
pub(crate) fn registered_key(keys: &DataFrame) -> Result<Expr> {
    let offers = keys.column("offer_id")?.cast(&DataType::String)?;
    let skus = keys.column("sku_id")?.cast(&DataType::String)?;
    let ks = keys.column("k")?.cast(&IDX_DTYPE)?;
    let ks = ks.idx()?;
    let mut map: PlHashMap<PairKey, IdxSize> = PlHashMap::with_capacity(keys.height());
    let mut buf = Vec::new();
    for ((o, s), k) in offers.str()?.iter().zip(skus.str()?.iter()).zip(ks.iter()) {
        if let (Some(o), Some(s), Some(k)) = (o, s, k) {
            pair_key(&mut buf, o, s);
            map.entry(PairKey::new(&buf)).or_insert(k);
        }
    }
    let map = std::sync::Arc::new(map);
    let lookup = move |c: &mut [Column]| -> PolarsResult<Column> {
        let (o, s) = (c[0].str()?.rechunk(), c[1].str()?.rechunk());
        let (o, s) = (o.downcast_as_array(), s.downcast_as_array());
        let mut out = Vec::with_capacity(o.len());
        let mut buf = Vec::with_capacity(64);
        // rows of one SKU usually come together: remember the last pair's key
        let mut last: Option<(&str, &str, IdxSize)> = None;
        for (o, s) in o.values_iter().zip(s.values_iter()) {
            let k = match last {
                Some((lo, ls, k)) if lo == o && ls == s => k,
                _ => {
                    pair_key(&mut buf, o, s);
                    let k = map.get(buf.as_slice()).copied().unwrap_or(NOT_REGISTERED);
                    last = Some((o, s, k));
                    k
                }
            };
            out.push(k);
        }
        Ok(IdxCa::from_vec("k".into(), out).into_column())
    };
    let text = |c: &str| col(c).cast(DataType::String);
    Ok(text("offer_id").map_many(lookup, &[text("sku_id")], |_, _| Ok(Field::new("k".into(), IDX_DTYPE))))
}

/// A key of the registered SKUs' map, held in the map's own slot when short (the usual ids: one
/// memory access per lookup fewer than a boxed key, which rows in random order pay in full).
#[derive(Clone, PartialEq, Eq)]
enum PairKey {
    Inline { len: u8, bytes: [u8; 39] },
    Boxed(Box<[u8]>),
}

impl PairKey {
    fn new(b: &[u8]) -> PairKey {
        if b.len() <= 39 {
            let mut bytes = [0u8; 39];
            bytes[..b.len()].copy_from_slice(b);
            PairKey::Inline { len: b.len() as u8, bytes }
        } else {
            PairKey::Boxed(b.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            PairKey::Inline { len, bytes } => &bytes[..*len as usize],
            PairKey::Boxed(b) => b,
        }
    }
}

// hashed and compared as the bytes it holds, so that a `&[u8]` looks it up
impl std::hash::Hash for PairKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h)
    }
}

impl std::borrow::Borrow<[u8]> for PairKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

/// `(offer, sku)` as one unambiguous byte string: the offer's length, the offer, the SKU.
pub(crate) fn pair_key(buf: &mut Vec<u8>, offer: &str, sku: &str) {
    buf.clear();
    buf.extend_from_slice(&(offer.len() as u64).to_le_bytes());
    buf.extend_from_slice(offer.as_bytes());
    buf.extend_from_slice(sku.as_bytes());
}
