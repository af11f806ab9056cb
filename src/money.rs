//! Exact decimal money.
//!
//! Prices are parsed from text into polars `Decimal(38, 10)` (an `i128` scaled by 10^10, SPEC §2:
//! at most 28 integer digits and 10 decimal places) and reach Rust as that `i128`. Everything the
//! rules compute with them (`list × 0.9`, `10 × lowest`, sums) is done on [`Dec`], a 256-bit
//! mantissa with a decimal scale, so no product or comparison is ever rounded (SPEC §4.2).

use ethnum::I256;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;

/// The scale of money columns in the polars pipeline (SPEC §2: at most 10 decimal places).
pub const MONEY_SCALE: u32 = 10;

/// The shape of valid money text (SPEC §2): `[+]digits[.digits]`, ≤ 28 integer, ≤ 10 decimal digits.
pub const MONEY_REGEX: &str = r"^\+?[0-9]{1,28}(\.[0-9]{1,10})?$";

/// An exact decimal number: `mantissa × 10^-scale`.
#[derive(Clone, Copy, Debug)]
pub struct Dec {
    m: I256,
    s: u32,
}

/// `10^0 ..= 10^38`, every power of ten an `i128` holds.
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `10^n`; `None` beyond 10^76 (the largest power of ten an `I256` holds).
fn pow10(n: u32) -> Option<I256> {
    match POW10.get(n as usize) {
        Some(&p) => Some(I256::from(p)),
        None => I256::from(10i32).checked_pow(n),
    }
}

/// The panic of an operation that left the 256-bit range. The loader holds every value to
/// SPEC §2's domain (money and metrics: ≤ 28 integer digits, ≤ 10 decimal places; config
/// decimals the same), where no product or sum the rules form comes near 2^255: reaching this is
/// a broken invariant (an internal error, exit 2), never a wrapped number.
#[cold]
fn overflow(op: &str) -> ! {
    panic!("internal error: decimal overflow in {op} (a value outside the stated domain reached the arithmetic)")
}

/// Why a money cell is outside SPEC §2's domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoneyError {
    /// Not `[+]digits[.digits]` (text), or a type that holds no decimal.
    Unparsable,
    /// Zero or negative.
    NonPositive,
    /// More than 28 integer digits.
    TooLarge,
    /// More than 10 decimal places (a typed decimal: significant ones).
    TooPrecise,
}

impl MoneyError {
    /// The reject reason for column `column` (SPEC §2).
    pub fn reason(self) -> String {
        match self {
            MoneyError::Unparsable => "unparsable price".into(),
            MoneyError::NonPositive => "non-positive price".into(),
            MoneyError::TooLarge => format!("price out of range (more than {MONEY_INT_DIGITS} integer digits)"),
            MoneyError::TooPrecise => format!("price has more than {MONEY_SCALE} decimal places"),
        }
    }
}

/// At most this many integer digits in a money value (SPEC §2).
pub const MONEY_INT_DIGITS: u32 = 28;

/// 10^38: a money value scaled by 10^10 is below this in magnitude (28 integer digits).
const MONEY_LIMIT: i128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;

fn money_in_range(scaled: i128) -> Result<i128, MoneyError> {
    if scaled <= 0 {
        Err(MoneyError::NonPositive)
    } else if scaled >= MONEY_LIMIT {
        Err(MoneyError::TooLarge)
    } else {
        Ok(scaled)
    }
}

/// Money text as SPEC §2 writes it (CSV cells, Parquet strings): `[+]digits[.digits]`, at most
/// 28 integer and 10 decimal digits as written, > 0. Returns the value scaled by 10^10.
pub fn money_from_text(text: &str) -> Result<i128, MoneyError> {
    let b = text.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'+') => (false, &b[1..]),
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(MoneyError::Unparsable);
    }
    let frac = frac.unwrap_or(&[]);
    if neg {
        return Err(MoneyError::NonPositive);
    }
    if int.len() > MONEY_INT_DIGITS as usize {
        return Err(MoneyError::TooLarge);
    }
    if frac.len() > MONEY_SCALE as usize {
        return Err(MoneyError::TooPrecise);
    }
    let pad = POW10[MONEY_SCALE as usize - frac.len()];
    // the usual price has at most 19 digits: they fit a u64 (max ≈ 1.8 × 10^19), whose
    // multiplications are one instruction each; then one 128-bit product
    if int.len() + frac.len() <= 19 {
        let mut v: u64 = 0;
        for &c in int.iter().chain(frac) {
            v = v * 10 + (c - b'0') as u64;
        }
        return money_in_range(v as i128 * pad);
    }
    // at most 38 digits: fits an i128 (max ≈ 1.7 × 10^38)
    let mut v: i128 = 0;
    for &c in int.iter().chain(frac) {
        v = v * 10 + (c - b'0') as i128;
    }
    money_in_range(v * pad)
}

/// A typed decimal (`mantissa × 10^-scale`, Parquet DECIMAL of any precision), judged by its
/// value (SPEC §2): trailing zeros of a scale above 10 do not count. Returns the value scaled
/// by 10^10.
pub fn money_from_decimal(mantissa: i128, scale: u32) -> Result<i128, MoneyError> {
    if mantissa <= 0 {
        return Err(MoneyError::NonPositive);
    }
    let scaled = if scale > MONEY_SCALE {
        // 10^(scale − 10) ≤ 10^28 for the widest decimal polars reads (scale ≤ 38)
        let Some(d) = 10i128.checked_pow(scale - MONEY_SCALE) else { return Err(MoneyError::TooPrecise) };
        if mantissa % d != 0 {
            return Err(MoneyError::TooPrecise);
        }
        mantissa / d
    } else {
        let m = 10i128.checked_pow(MONEY_SCALE - scale).expect("10^10 fits");
        mantissa.checked_mul(m).ok_or(MoneyError::TooLarge)?
    };
    money_in_range(scaled)
}

/// An integer money cell (Parquet INT32/INT64/UINT64), scaled by 10^10.
pub fn money_from_int(v: i128) -> Result<i128, MoneyError> {
    money_from_decimal(v, 0)
}

impl Dec {
    pub const ZERO: Dec = Dec { m: I256::ZERO, s: 0 };

    pub fn new(mantissa: i128, scale: u32) -> Dec {
        Dec { m: I256::from(mantissa), s: scale }
    }

    /// A money value as it comes out of polars (`Decimal(38, 10)` physical `i128`).
    pub fn from_money(scaled: i128) -> Dec {
        Dec::new(scaled, MONEY_SCALE)
    }

    pub fn from_int(v: i64) -> Dec {
        Dec::new(v as i128, 0)
    }

    /// Parse `[+-]digits[.digits]` exactly (settings, metrics). No exponent, no separators.
    pub fn parse(text: &str) -> Option<Dec> {
        let t = text.trim();
        let (neg, body) = match t.as_bytes().first()? {
            b'+' => (false, &t[1..]),
            b'-' => (true, &t[1..]),
            _ => (false, t),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || (body.contains('.') && frac.is_empty()) {
            return None;
        }
        if int.len() + frac.len() > 70 {
            return None;
        }
        // at most 70 digits: below 10^70, well inside an I256 (≈ 5.8 × 10^76)
        let mut m = I256::ZERO;
        for b in int.bytes().chain(frac.bytes()) {
            m = m * I256::from(10i32) + I256::from((b - b'0') as i32);
        }
        if neg {
            m = -m;
        }
        Some(Dec { m, s: frac.len() as u32 }.normalized())
    }

    pub fn from_decimal(d: Decimal) -> Dec {
        Dec::new(d.mantissa(), d.scale())
    }

    /// The same value with trailing fractional zeros removed.
    pub fn normalized(self) -> Dec {
        if self.s == 0 {
            return self;
        }
        // fast paths: most values fit an i64, every money value (Decimal(38, 10)) an i128;
        // 128- and 256-bit divisions are slow
        if let Ok(v) = i64::try_from(self.m) {
            let (v, s) = strip_zeros(v, self.s);
            return Dec { m: I256::from(v), s };
        }
        if let Ok(v) = i128::try_from(self.m) {
            let (v, s) = strip_zeros(v, self.s);
            return Dec { m: I256::from(v), s };
        }
        let (m, s) = strip_zeros(self.m, self.s);
        Dec { m, s }
    }

    /// The mantissa at scale `s` (≥ self's), `None` when it leaves the 256-bit range.
    fn rescaled(self, s: u32) -> Option<I256> {
        debug_assert!(s >= self.s);
        let k = s - self.s;
        if k == 0 {
            return Some(self.m);
        }
        // the usual operand (a price, a factor) fits an i128, and so does its rescaled value:
        // 128-bit arithmetic, far cheaper than a checked 256-bit product
        if let (Ok(m), Some(&p)) = (i128::try_from(self.m), POW10.get(k as usize)) {
            if let Some(v) = m.checked_mul(p) {
                return Some(I256::from(v));
            }
        }
        self.m.checked_mul(pow10(k)?)
    }

    /// Is the value inside SPEC §2's numeric domain: at most 28 integer digits and at most 10
    /// decimal places (trailing zeros not counted)? Eligibility metrics are held to it, so that
    /// their sums over a group stay exact.
    pub fn in_money_domain(self) -> bool {
        let d = self.normalized();
        d.s <= MONEY_SCALE && pow10(MONEY_INT_DIGITS + d.s).is_some_and(|lim| d.m.unsigned_abs() < lim.unsigned_abs())
    }

    /// `self × o`, `None` on overflow.
    pub fn checked_mul(self, o: Dec) -> Option<Dec> {
        let s = self.s.checked_add(o.s)?;
        // two mantissas of at most 64 bits: their product fits an i128 exactly
        if let (Ok(a), Ok(b)) = (i64::try_from(self.m), i64::try_from(o.m)) {
            return Some(Dec { m: I256::from(a as i128 * b as i128), s }.normalized());
        }
        Some(Dec { m: self.m.checked_mul(o.m)?, s }.normalized())
    }

    /// `self + o`, `None` on overflow.
    pub fn checked_add(self, o: Dec) -> Option<Dec> {
        let s = self.s.max(o.s);
        Some(Dec { m: self.rescaled(s)?.checked_add(o.rescaled(s)?)?, s }.normalized())
    }

    /// `self − o`, `None` on overflow.
    pub fn checked_sub(self, o: Dec) -> Option<Dec> {
        let s = self.s.max(o.s);
        Some(Dec { m: self.rescaled(s)?.checked_sub(o.rescaled(s)?)?, s }.normalized())
    }

    /// `self × o`; an overflow is an internal error (see [`overflow`]), never a wrapped number.
    pub fn mul(self, o: Dec) -> Dec {
        self.checked_mul(o).unwrap_or_else(|| overflow("×"))
    }

    /// `self + o`; an overflow is an internal error, never a wrapped number.
    pub fn add(self, o: Dec) -> Dec {
        self.checked_add(o).unwrap_or_else(|| overflow("+"))
    }

    /// `self − o`; an overflow is an internal error, never a wrapped number.
    pub fn sub(self, o: Dec) -> Dec {
        self.checked_sub(o).unwrap_or_else(|| overflow("−"))
    }

    pub fn is_positive(self) -> bool {
        self.m > I256::ZERO
    }

    pub fn is_zero(self) -> bool {
        self.m == I256::ZERO
    }

    /// The largest multiple of `tick` that is ≤ self (tick > 0).
    pub fn floor_to(self, tick: Dec) -> Dec {
        let s = self.s.max(tick.s);
        let (Some(a), Some(t)) = (self.rescaled(s), tick.rescaled(s)) else { overflow("floor") };
        let q = a / t;
        let q = if a % t != I256::ZERO && a < I256::ZERO { q - I256::ONE } else { q };
        // |q × t| ≤ |a| + |t|: inside the range a and t came from
        Dec { m: q.checked_mul(t).unwrap_or_else(|| overflow("floor")), s }.normalized()
    }

    /// The largest multiple of `tick` that is strictly < self (tick > 0).
    pub fn below_to(self, tick: Dec) -> Dec {
        let f = self.floor_to(tick);
        if f == self {
            f.sub(tick)
        } else {
            f
        }
    }

    /// The least positive multiple of `tick` whose product with `factor` reaches `min`
    /// (`k × tick × factor ≥ min`), exactly; `None` when none does (`factor ≤ 0` and `min > 0`).
    /// For a lower bound on a price given as a product (E309: `sku_supply × price ≥ 1000`).
    pub fn least_multiple_reaching(tick: Dec, factor: Dec, min: Dec) -> Option<Dec> {
        let step = tick.mul(factor); // the product grows by this per tick
        if !min.is_positive() {
            return Some(tick);
        }
        if !step.is_positive() {
            return None;
        }
        let s = step.s.max(min.s);
        let (Some(a), Some(b)) = (min.rescaled(s), step.rescaled(s)) else { overflow("least multiple") };
        let k = (a + b - I256::ONE) / b;
        let k = k.max(I256::ONE);
        Some(Dec { m: k.checked_mul(tick.m).unwrap_or_else(|| overflow("least multiple")), s: tick.s }.normalized())
    }

    /// The scaled `i128` of a money value (scale 10), if it fits.
    pub fn to_money(self) -> Option<i128> {
        if self.s > MONEY_SCALE {
            return None;
        }
        i128::try_from(self.rescaled(MONEY_SCALE)?).ok()
    }
}

impl PartialEq for Dec {
    fn eq(&self, o: &Dec) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Dec {}
impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Dec) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Dec {
    fn cmp(&self, o: &Dec) -> Ordering {
        if self.s == o.s {
            return self.m.cmp(&o.m);
        }
        // compared without rescaling when a rescaled mantissa would leave the range: the
        // integer parts decide first (a truncating division never overflows)
        let s = self.s.max(o.s);
        match (self.rescaled(s), o.rescaled(s)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => cmp_wide(*self, *o),
        }
    }
}

impl fmt::Display for Dec {
    /// Exact, normalized: `8.991`, `10`, `0.0001`, `-3.5`. Written from a stack buffer (no
    /// allocation: outputs format millions of these).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.normalized();
        let neg = d.m < I256::ZERO;
        // 2^256 has 78 digits; a scale adds at most `s` leading zeros, a sign and a point
        if d.s > 150 {
            // no money computation comes near this scale; formatted plainly, not from the buffer
            let digits = d.m.unsigned_abs().to_string();
            let s = d.s as usize;
            let body = format!("0.{}{}", "0".repeat(s - digits.len()), digits);
            return f.write_str(&if neg { format!("-{body}") } else { body });
        }
        let mut buf = [0u8; 160];
        let mut at = buf.len();
        let mut push = |b: u8| {
            at -= 1;
            buf[at] = b;
        };
        let s = d.s as usize;
        let abs = d.m.unsigned_abs();
        // most values fit 64 bits, whose divisions by ten are multiplications; a 128-bit one is
        // a library call per digit, a 256-bit one slower still
        match (u64::try_from(abs), u128::try_from(abs)) {
            (Ok(v), _) => push_digits(v, s, &mut push, |d| d as u8),
            (_, Ok(v)) => push_digits(v, s, &mut push, |d| d as u8),
            _ => push_digits(abs, s, &mut push, |d| d.as_u8()),
        }
        if neg {
            push(b'-');
        }
        // only ASCII digits, '.' and '-' were written
        f.write_str(std::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?)
    }
}

/// The digits of `v` at scale `s` (a point before the last `s`; at least one digit before it),
/// pushed from the last; `low` reads a digit (`v % 10`).
fn push_digits<T>(mut v: T, s: usize, push: &mut impl FnMut(u8), low: impl Fn(T) -> u8)
where
    T: Copy + PartialEq + From<u8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
{
    let (ten, zero) = (T::from(10), T::from(0));
    let mut n = 0usize;
    loop {
        if n == s && n > 0 {
            push(b'.');
        }
        push(b'0' + low(v % ten));
        v = v / ten;
        n += 1;
        if v == zero && n > s {
            break;
        }
    }
}

impl serde::Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A [`Dec`] kept in 16 bytes (a `Dec` takes 48, an `Option<Dec>` 64): inline when the mantissa
/// fits an `i64` (every price with up to 18 significant digits), boxed otherwise. For values held
/// per registration (eligibility metrics, evidence prices): a 10 M-row audit holds ~100 k
/// registrations with a dozen each, and the bytes counted in its peak memory.
#[derive(Clone, Debug)]
pub enum Packed {
    Small { m: i64, s: u32 },
    Big(Box<Dec>),
}

impl Packed {
    pub fn get(&self) -> Dec {
        match self {
            Packed::Small { m, s } => Dec { m: I256::from(*m), s: *s },
            Packed::Big(d) => **d,
        }
    }
}

impl From<Dec> for Packed {
    fn from(d: Dec) -> Packed {
        match i64::try_from(d.m) {
            Ok(m) => Packed::Small { m, s: d.s },
            Err(_) => Packed::Big(Box::new(d)),
        }
    }
}

impl fmt::Display for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl PartialEq for Packed {
    fn eq(&self, o: &Packed) -> bool {
        self.get() == o.get()
    }
}
impl Eq for Packed {}

/// Exact comparison of two decimals whose common-scale mantissas do not fit 256 bits: compare
/// the mantissas at the smaller scale first (the other one divided down, remainder kept).
fn cmp_wide(a: Dec, b: Dec) -> Ordering {
    let (x, y, flip) = if a.s >= b.s { (a, b, false) } else { (b, a, true) };
    // x has the larger scale: x.m / 10^(x.s − y.s) = q remainder r (r has x.m's sign)
    let ord = match pow10(x.s - y.s) {
        Some(p) => {
            let (q, r) = (x.m / p, x.m % p);
            match q.cmp(&y.m) {
                Ordering::Equal => r.cmp(&I256::ZERO),
                o => o,
            }
        }
        // a scale gap beyond 10^76: |x| < 1 at its scale's resolution…; compare signs, then
        // x is as good as 0 against y's integer-scaled mantissa unless y is 0
        None => match y.m.cmp(&I256::ZERO) {
            Ordering::Equal => x.m.cmp(&I256::ZERO),
            o => o.reverse(),
        },
    };
    if flip {
        ord.reverse()
    } else {
        ord
    }
}

/// `v × 10^-s` with trailing fractional zeros removed: (mantissa, scale).
fn strip_zeros<T>(mut v: T, mut s: u32) -> (T, u32)
where
    T: Copy + PartialEq + From<i8> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
{
    let (ten, zero) = (T::from(10), T::from(0));
    while s > 0 && v % ten == zero {
        v = v / ten;
        s -= 1;
    }
    (v, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The release build of priceaudit (binary and tests) keeps overflow checks on
    /// (Cargo.toml's `[profile.release.package.priceaudit]`): a wrap is a panic there too.
    #[test]
    #[should_panic(expected = "overflow")]
    fn integer_overflow_panics_in_every_build() {
        let x: i64 = std::hint::black_box(i64::MAX);
        let _ = std::hint::black_box(x + 1);
    }

    #[test]
    #[should_panic(expected = "decimal overflow")]
    fn decimal_overflow_is_an_error_not_a_wrapped_number() {
        let big = Dec::parse(&"9".repeat(70)).unwrap();
        let _ = big.mul(big);
    }

    #[test]
    fn checked_operations_refuse_what_leaves_the_range() {
        let big = Dec::parse(&"9".repeat(70)).unwrap();
        assert_eq!(big.checked_mul(big), None);
        let y = big.mul(Dec::from_int(4_000_000)); // ≈ 4 × 10^76, near 2^255
        assert_eq!(y.checked_add(y), None);
        assert_eq!(y.checked_sub(y.mul(Dec::from_int(-1))), None);
        assert!(big.checked_add(big).is_some());
        // comparing across a scale gap too wide to rescale stays exact
        let tiny = Dec::parse(&format!("0.{}1", "0".repeat(68))).unwrap();
        assert!(tiny < big && big > tiny && tiny > Dec::ZERO);
        assert!(Dec::parse(&format!("-{}", "9".repeat(70))).unwrap() < tiny);
    }

    /// Money text of up to 19 digits is read with 64-bit arithmetic, longer text with 128-bit:
    /// both agree with the decimal parser's value at 18, 19 and 20 digits however the digits
    /// are split between the integer part and the fraction, with zeros and nines (the largest
    /// 19-digit text, 9 999 999 999 999 999 999, is below 2^64 ≈ 1.8 × 10^19).
    #[test]
    fn money_text_agrees_with_the_decimal_parse_either_side_of_19_digits() {
        for n in [1usize, 18, 19, 20, 21, 38] {
            for fill in ['9', '1', '0'] {
                for frac in 0..=10usize.min(n - 1) {
                    let mut digits: String = std::iter::repeat_n(fill, n).collect();
                    digits.replace_range(0..1, "7");
                    let text = match frac {
                        0 => digits.clone(),
                        f => format!("{}.{}", &digits[..n - f], &digits[n - f..]),
                    };
                    let by_dec = Dec::parse(&text).and_then(Dec::to_money).filter(|&v| v < MONEY_LIMIT);
                    match money_from_text(&text) {
                        Ok(v) => assert_eq!(Some(v), by_dec, "{text}"),
                        Err(e) => {
                            assert_eq!(e, MoneyError::TooLarge, "{text}");
                            assert!(n - frac > MONEY_INT_DIGITS as usize || by_dec.is_none(), "{text}");
                        }
                    }
                }
            }
        }
        assert_eq!(money_from_text("9999999999.999999999"), Ok(99_999_999_999_999_999_990));
        assert_eq!(money_from_text("99999999999.99999999"), Ok(999_999_999_999_999_999_900));
    }

    #[test]
    fn money_cells_by_text_and_by_value() {
        let e = MoneyError::TooLarge;
        assert_eq!(money_from_text(&"9".repeat(28)), Ok(99_999_999_999_999_999_999_999_999_990_000_000_000));
        assert_eq!(money_from_text(&"9".repeat(29)), Err(e));
        assert_eq!(money_from_text("1.0000000001"), Ok(10_000_000_001));
        assert_eq!(money_from_text("1.00000000001"), Err(MoneyError::TooPrecise));
        assert_eq!(money_from_text("+5"), Ok(50_000_000_000));
        for bad in ["", "1e3", ".5", "5.", "1,5", " 7.5", "¥3", "--1"] {
            assert_eq!(money_from_text(bad), Err(MoneyError::Unparsable), "{bad:?}");
        }
        for np in ["0", "0.00", "-1", "-0.5"] {
            assert_eq!(money_from_text(np), Err(MoneyError::NonPositive), "{np:?}");
        }
        // DECIMAL(38,18) as Spark writes 11.5: the scale's zeros do not count
        assert_eq!(money_from_decimal(11_500_000_000_000_000_000, 18), Ok(115_000_000_000));
        assert_eq!(money_from_decimal(1_100_000_000_001, 11), Err(MoneyError::TooPrecise));
        assert_eq!(money_from_decimal(10i128.pow(35), 0), Err(e));
        assert_eq!(money_from_decimal(10i128.pow(28) - 1, 0), Ok((10i128.pow(28) - 1) * 10i128.pow(10)));
        assert_eq!(money_from_decimal(10i128.pow(28), 0), Err(e));
        assert_eq!(money_from_decimal(i128::MAX, 0), Err(e));
        assert_eq!(money_from_decimal(-1, 2), Err(MoneyError::NonPositive));
        assert_eq!(money_from_int(u64::MAX as i128), Ok(u64::MAX as i128 * 10i128.pow(10)));
    }

    #[test]
    fn the_money_domain_by_value() {
        assert!(d(&"9".repeat(28)).in_money_domain());
        assert!(!d(&"9".repeat(29)).in_money_domain());
        assert!(d("-0.0000000001").in_money_domain());
        assert!(!d("0.00000000001").in_money_domain());
        assert!(d("1.00000000000000000000").in_money_domain());
    }

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn list_times_point_nine_is_exact() {
        let t = d("9.99").mul(d("0.9"));
        assert_eq!(t.to_string(), "8.991");
        assert!(d("8.99") < t);
        assert!(d("8.991") >= t);
    }

    #[test]
    fn packed_keeps_every_value_exactly_in_16_bytes() {
        assert_eq!(std::mem::size_of::<Option<Packed>>(), 16);
        for t in ["0", "12.34", "-0.0000000001", "9223372036854775807", "9223372036854775808", "-1e0"] {
            let Some(v) = Dec::parse(t) else { continue };
            let p = Packed::from(v);
            assert_eq!(p.get(), v, "{t}");
            assert_eq!(p.get().to_string(), v.to_string(), "{t}");
        }
        let big = Dec::parse(&"9".repeat(60)).unwrap();
        assert!(matches!(Packed::from(big), Packed::Big(_)));
        assert_eq!(Packed::from(big).get().to_string(), "9".repeat(60));
        assert!(matches!(Packed::from(Dec::parse("12.34").unwrap()), Packed::Small { m: 1234, s: 2 }));
    }

    #[test]
    fn display_is_normalized() {
        assert_eq!(Dec::from_money(100_000_000_000).to_string(), "10");
        assert_eq!(Dec::from_money(1_000_000).to_string(), "0.0001");
        assert_eq!(d("-3.50").to_string(), "-3.5");
        assert_eq!(d("0").to_string(), "0");
    }

    /// Display writes a mantissa of up to 64 bits with 64-bit arithmetic and a wider one with
    /// 128- or 256-bit arithmetic: the same digits either side of each width, signed, at scales
    /// 0, 2 and past the digits (leading zeros).
    #[test]
    fn display_is_the_same_across_mantissa_widths() {
        let widths = [
            "18446744073709551615",                    // u64::MAX
            "18446744073709551616",                    // one past it
            "18446744073709551614",                    // one below it
            "9223372036854775808",                     // i64::MAX + 1
            "340282366920938463463374607431768211455", // u128::MAX
            "340282366920938463463374607431768211456", // one past it
        ];
        for digits in widths {
            for scale in [0usize, 2, 45] {
                let text = match scale {
                    0 => digits.to_string(),
                    s if s < digits.len() => format!("{}.{}", &digits[..digits.len() - s], &digits[digits.len() - s..]),
                    s => format!("0.{}{digits}", "0".repeat(s - digits.len())),
                };
                let m = I256::from_str_radix(digits, 10).unwrap();
                for (sign, m) in [("", m), ("-", -m)] {
                    let shown = Dec { m, s: scale as u32 }.to_string();
                    // (none of these mantissas ends in a zero: normalizing keeps them)
                    assert_eq!(shown, format!("{sign}{text}"), "{digits} at scale {scale}");
                }
            }
        }
        assert_eq!(Dec { m: I256::from(100i32), s: 2 }.to_string(), "1");
        assert_eq!(Dec { m: I256::from(-1i32), s: 3 }.to_string(), "-0.001");
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let big = d("9999999999999999999999999999.9999999999");
        let t = big.mul(d("0.95"));
        assert_eq!(t.to_string(), "9499999999999999999999999999.999999999905");
        assert!(big > t);
        assert_eq!(big.to_money(), Some(99_999_999_999_999_999_999_999_999_999_999_999_999));
    }

    #[test]
    fn parse_rejects_non_decimal_text() {
        for bad in ["1e3", "1,5", "", "abc", "5.", ".5", "--1", "¥3"] {
            assert!(Dec::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(d("+5").to_string(), "5");
        // beyond the stack buffer's scale
        let tiny = (0..16).fold(d("0.0000000003"), |a, _| a.mul(d("0.0000000001")));
        assert_eq!(tiny.to_string(), format!("0.{}3", "0".repeat(169)));
    }

    #[test]
    fn floor_and_below_on_a_grid() {
        let tick = d("0.01");
        assert_eq!(d("8.991").floor_to(tick).to_string(), "8.99");
        assert_eq!(d("9.009").below_to(tick).to_string(), "9");
        assert_eq!(d("9").below_to(tick).to_string(), "8.99");
        assert_eq!(d("-0.005").floor_to(tick).to_string(), "-0.01");
    }
}
