//! Money cells to exact scaled integers (SPEC §2), whatever the column's physical type: CSV text
//! and Parquet strings by the text grammar, Parquet decimals of any precision and scale by their
//! value, Parquet integers. One domain for every money column of every table: > 0, at most 28
//! integer digits and 10 decimal places. A cell outside it becomes null here and a reject (with
//! [`why`]'s reason) in the validation; it never becomes zero or a wrapped number.

use crate::error::{Error, Result};
use crate::money::{money_from_decimal, money_from_int, money_from_text, MoneyError, MONEY_SCALE};
use polars::prelude::*;

/// How a money column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Physical {
    Text,
    /// A decimal of this scale.
    Decimal(u32),
    /// Any integer type.
    Int,
}

impl Physical {
    /// The physical kind of a money column of type `dtype`; a type that holds no exact decimal
    /// (binary floating point, booleans, dates…) is a file-level error naming the column.
    pub fn of(column: &str, dtype: &DataType) -> Result<Physical> {
        match dtype {
            DataType::String => Ok(Physical::Text),
            DataType::Decimal(_, scale) => Ok(Physical::Decimal(*scale as u32)),
            d if d.is_integer() => Ok(Physical::Int),
            DataType::Float32 | DataType::Float64 => Err(Error::new(format!(
                "column `{column}` is binary floating point ({dtype}); money must be a decimal, integer or string column"
            ))),
            _ => Err(Error::new(format!(
                "column `{column}` has type {dtype}, which holds no money; it must be a decimal, integer or string column"
            ))),
        }
    }

    /// Is the value read by its value (typed) rather than by the text grammar?
    pub fn typed(self) -> bool {
        !matches!(self, Physical::Text)
    }
}

/// The polars type money columns have after loading: an `i128` scaled by 10^10.
pub fn money_dtype() -> DataType {
    DataType::Decimal(38, MONEY_SCALE as usize)
}

/// The UDF turning a money column of kind `p` into [`money_dtype`], null where the cell is empty
/// or outside the domain.
pub fn to_money(p: Physical) -> impl Fn(Column) -> PolarsResult<Column> + Send + Sync + 'static {
    move |c: Column| {
        let name = c.name().clone();
        let out: Int128Chunked = match p {
            Physical::Text => c.str()?.iter().map(|o| o.and_then(|s| money_from_text(s).ok())).collect(),
            Physical::Decimal(scale) => {
                // (a decimal at the money scale never comes here: `validate` casts it natively)
                super::validate::map_values(c.decimal()?.physical(), |v| money_from_decimal(v, scale).ok())
            }
            Physical::Int => {
                // every integer type widens to i128 exactly (UInt64 included)
                let wide = c.cast(&DataType::Int128)?;
                super::validate::map_values(wide.i128()?, |v| money_from_int(v).ok())
            }
        };
        Ok(out.with_name(name).into_decimal_unchecked(38, MONEY_SCALE as usize).into_series().into_column())
    }
}

/// Why a non-empty money cell was refused, from its text (for a typed column: polars' text of
/// the value, which may carry the scale's trailing zeros).
pub fn why(text: &str, p: Physical) -> MoneyError {
    let r = if p.typed() { typed_text(text) } else { money_from_text(text) };
    r.err().unwrap_or(MoneyError::Unparsable)
}

/// A typed value's text (`-123.4500`) judged by its value.
fn typed_text(text: &str) -> std::result::Result<i128, MoneyError> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    // drop leading zeros and the scale's trailing zeros: the value's digits only
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(MoneyError::Unparsable);
    }
    if int.is_empty() && frac.is_empty() || neg {
        return Err(MoneyError::NonPositive);
    }
    if int.len() > crate::money::MONEY_INT_DIGITS as usize {
        return Err(MoneyError::TooLarge);
    }
    if frac.len() > MONEY_SCALE as usize {
        return Err(MoneyError::TooPrecise);
    }
    let mut m: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        m = m * 10 + (b - b'0') as i128;
    }
    money_from_decimal(m, frac.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_of_typed_and_text_cells() {
        let t = Physical::Decimal(18);
        assert_eq!(why("100000000000000000000000000000000000", Physical::Decimal(0)), MoneyError::TooLarge);
        assert_eq!(why("11.000000000010000000", t), MoneyError::TooPrecise);
        assert_eq!(why("0.000000000000000000", t), MoneyError::NonPositive);
        assert_eq!(why("-3.500000000000000000", t), MoneyError::NonPositive);
        assert_eq!(why("1e3", Physical::Text), MoneyError::Unparsable);
        assert_eq!(why("-3", Physical::Text), MoneyError::NonPositive);
        assert_eq!(why(&"9".repeat(29), Physical::Text), MoneyError::TooLarge);
        assert_eq!(why("1.00000000000", Physical::Text), MoneyError::TooPrecise);
        assert_eq!(why(&"9".repeat(29), Physical::Int), MoneyError::TooLarge);
    }
}
