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

fn pow10(n: u32) -> I256 {
    let mut v = I256::ONE;
    for _ in 0..n {
        v *= I256::from(10i32);
    }
    v
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

    fn rescaled(self, s: u32) -> I256 {
        debug_assert!(s >= self.s);
        self.m * pow10(s - self.s)
    }

    pub fn mul(self, o: Dec) -> Dec {
        Dec { m: self.m * o.m, s: self.s + o.s }.normalized()
    }

    pub fn add(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        Dec { m: self.rescaled(s) + o.rescaled(s), s }.normalized()
    }

    pub fn sub(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        Dec { m: self.rescaled(s) - o.rescaled(s), s }.normalized()
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
        let (a, t) = (self.rescaled(s), tick.rescaled(s));
        let q = a / t;
        let q = if a % t != I256::ZERO && a < I256::ZERO { q - I256::ONE } else { q };
        Dec { m: q * t, s }.normalized()
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

    /// The scaled `i128` of a money value (scale 10), if it fits.
    pub fn to_money(self) -> Option<i128> {
        if self.s > MONEY_SCALE {
            return None;
        }
        let m = self.rescaled(MONEY_SCALE);
        i128::try_from(m).ok()
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
        let s = self.s.max(o.s);
        self.rescaled(s).cmp(&o.rescaled(s))
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
        let mut n = 0usize;
        match u128::try_from(d.m.unsigned_abs()) {
            Ok(mut v) => loop {
                if n == s && n > 0 {
                    push(b'.');
                }
                push(b'0' + (v % 10) as u8);
                v /= 10;
                n += 1;
                if v == 0 && n > s {
                    break;
                }
            },
            Err(_) => {
                let mut v = d.m.unsigned_abs();
                let ten = ethnum::U256::from(10u32);
                loop {
                    if n == s && n > 0 {
                        push(b'.');
                    }
                    push(b'0' + (v % ten).as_u8());
                    v /= ten;
                    n += 1;
                    if v == 0 && n > s {
                        break;
                    }
                }
            }
        }
        if neg {
            push(b'-');
        }
        // only ASCII digits, '.' and '-' were written
        f.write_str(std::str::from_utf8(&buf[at..]).map_err(|_| fmt::Error)?)
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
