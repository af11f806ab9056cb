//! Rejected rows: quoting them with their reason, and later duplicates of a key.

use super::*;

/// A row that was not used, and why (SPEC §2 "Bad input").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Reject {
    /// The table, or for a table given as a directory the part (`prices/part-00001.csv`).
    pub table: String,
    /// CSV line (header = 1) or Parquet row index (in a part: its own).
    pub line: u64,
    pub column: String,
    pub reason: String,
    pub value: String,
}

/// Rejects in `rejects.csv`'s order: by table (or part), line, column; a stable sort (one row's
/// rejects keep the order they were found in).
pub fn sort_rejects(rejects: &mut [Reject]) {
    rejects.sort_by(|a, b| (&a.table, a.line, &a.column).cmp(&(&b.table, b.line, &b.column)));
}

/// Rejects from the rejected rows' raw columns and codes.
pub(crate) fn reject_rows(df: &DataFrame, v: &Validated, tz: Tz) -> Result<Vec<Reject>> {
    let rn = df.column(RN)?.cast(&DataType::UInt64)?;
    let rn = rn.u64()?;
    let code = df.column(CODE)?.u32()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (column, reason) = &v.checks[code.get(i).unwrap_or(0) as usize];
        let value = if column.is_empty() {
            String::new()
        } else {
            df.column(&format!("{RAW}{column}"))?.str()?.get(i).unwrap_or("").to_string()
        };
        let mut why = reason.clone();
        if why == "bad timestamp" {
            why = match crate::time::parse_instant(&value, &tz) {
                Err(crate::time::TimeError::NonExistent) => {
                    "bad timestamp (does not exist in the zone: a DST gap)".into()
                }
                Ok(t) if crate::time::in_range(t).is_none() => "bad timestamp (outside the years 1 to 9999)".into(),
                _ => "bad timestamp (not RFC 3339, YYYY-MM-DD[ HH:MM:SS] or a real date)".into(),
            };
        } else if why == BAD_MONEY {
            let p = v.money.iter().find(|(c, _)| c == column).map_or(money::Physical::Text, |(_, p)| *p);
            why = money::why(&value, p).reason();
        }
        let (table, line) = v.source.place_of(rn.get(i).unwrap_or(0));
        out.push(Reject { table, line, column: column.clone(), reason: why, value });
    }
    Ok(out)
}

/// Mark later duplicates of `key` among good rows as rejects (the first in file order is kept).
pub(crate) fn dedupe(
    good: DataFrame,
    key: &[&str],
    column: &str,
    reason: &str,
    source: &Source,
) -> Result<(DataFrame, Vec<Reject>)> {
    let keys: Vec<Expr> = key.iter().map(|k| col(*k)).collect();
    let marked = good.lazy().with_column(col(RN).min().over(keys)?.neq(col(RN)).alias("__dup")).collect()?;
    let dups = marked.clone().lazy().filter(col("__dup")).select([col(RN), col(column)]).collect()?;
    // (no duplicate, the usual table: the rows as they are, not a filtered copy of every column)
    let kept = match dups.height() {
        0 => marked.drop("__dup")?,
        _ => marked.lazy().filter(col("__dup").not()).drop(cols(["__dup"])).collect()?,
    };
    let rn = dups.column(RN)?.cast(&DataType::UInt64)?;
    let vals = dups.column(column)?.cast(&DataType::String)?;
    let rejects = rn
        .u64()?
        .iter()
        .zip(vals.str()?.iter())
        .map(|(r, v)| {
            let (table, line) = source.place_of(r.unwrap_or(0));
            Reject { table, line, column: column.into(), reason: reason.into(), value: v.unwrap_or("").into() }
        })
        .collect();
    Ok((kept, rejects))
}
