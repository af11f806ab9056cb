//! Running one validated table in one streaming pass: the good rows handed on batch by batch
//! (or held), the rejected rows' codes, the unknown channels.

use super::*;

/// The outputs of one table's validation query.
pub(crate) struct Split {
    pub(crate) good: DataFrame,
    pub(crate) rejects: Vec<Reject>,
    /// Records in the source (blank lines not counted): the CSV byte scan's, the Parquet footer's.
    pub(crate) total: u64,
    /// Rows that passed validation in this pass (counted by the validation itself).
    pub(crate) valid: u64,
    /// Good rows per raw `channel` (prices only).
    pub(crate) channels: Option<DataFrame>,
}

/// What a streaming pass hands each batch of good rows to.
pub type BatchVisitor<'a> = dyn FnMut(&DataFrame) -> Result<()> + 'a;

/// One batch of a validation pass, split: the good rows to keep, the rejected rows' (`rn`,
/// code) and the raw channel of good rows of unknown channels.
pub(crate) struct Parts {
    pub(crate) good: DataFrame,
    pub(crate) rejected: DataFrame,
    pub(crate) unknown: Option<DataFrame>,
}

impl Parts {
    /// `marked`: rows not kept are left in the good rows of a batch whose columns are each one
    /// chunk, marked `false` in their [`KEEP`] column (the price pass's: its fold skips them,
    /// where a filter copied every column of every batch, two rows in three dropped on the
    /// benchmark's dumps); else, and from a batch of several chunks (which the fold would copy
    /// whole into one), filtered out.
    fn of(df: &DataFrame, good_cols: &[PlSmallStr], channels: bool, marked: bool) -> Result<Parts> {
        // usually every row of the pass is kept: then no filter (a copy of the rows)
        let keep = df.column(KEEP)?.bool()?;
        let good = if keep.sum().unwrap_or(0) as usize == df.height() {
            df.select(good_cols.iter().cloned())?
        } else if marked && df.columns().iter().all(|c| c.n_chunks() == 1) {
            df.select(good_cols.iter().cloned().chain([PlSmallStr::from(KEEP)]))?
        } else {
            df.select(good_cols.iter().cloned())?.filter(keep)?
        };
        let code = df.column(CODE)?;
        let rejected = if code.null_count() == df.height() {
            df.select([RN, CODE])?.head(Some(0))
        } else {
            df.select([RN, CODE])?.filter(&code.is_not_null())?
        };
        let unknown = if channels {
            let u = df.column("__unknown")?.bool()?;
            // (the one column filtered, not the batch)
            (u.any()).then(|| df.select(["__unknown_channel"]).and_then(|d| d.filter(u))).transpose()?
        } else {
            None
        };
        Ok(Parts { good, rejected, unknown })
    }
}

/// Run `plan` on the streaming engine, handing its output batch by batch to `visit` on this
/// thread (polars' threads keep decoding meanwhile); the output is never held whole.
pub(crate) fn stream_batches(
    plan: LazyFrame,
    file: &str,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<DataFrame>(2);
    let plan = plan.sink_batches(PlanCallback::new(move |df: DataFrame| Ok(tx.send(df).is_err())), false, None)?;
    let runner = std::thread::spawn(move || plan.collect_with_engine(Engine::Streaming).map(|_| ()));
    let mut failed = None;
    for df in rx.iter() {
        if let Err(e) = visit(df) {
            failed = Some(e);
            break; // dropping the receiver stops the pass
        }
    }
    drop(rx);
    let ran = runner.join().map_err(|_| Error::new(format!("{file}: the streaming pass panicked")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    ran.map_err(|e| Error::new(format!("{file}: {e}")))
}

/// Run one validated table in one streaming pass over the file. Its output is the union of the
/// rejected rows (with their raw text), the good rows to keep (of registered SKUs when `skus` is
/// given, with their dense key `k`) and, for prices, the good rows of unknown channels (to name
/// them in the summary); a second, unvalidated pass only counts the rows.
///
/// `project`: the good rows' columns (named expressions over the typed columns), computed in the
/// same pass so that columns no later stage reads are never materialised; `None`: every column.
pub(crate) fn split(
    v: &Validated,
    skus: Option<&std::sync::Arc<SkuIndex>>,
    channels: bool,
    tz: Tz,
    project: Option<Vec<(&str, Expr)>>,
    sink: Option<&mut BatchVisitor>,
) -> Result<Split> {
    let file = v.source.path.display().to_string();
    let bad = col(CODE).is_not_null();
    let mut lf = v.lf.clone();
    let mut keep = bad.clone().not();
    if let Some(skus) = skus {
        lf = lf.with_column(registered_key(skus).alias("k"));
        keep = keep.and(col("k").neq(lit(NOT_REGISTERED)));
    }
    let channels = channels && v.present.iter().any(|c| c == "channel");
    let unknown = if channels {
        // computed once, as a column: the filter and the select below both read it
        lf = lf.with_column(unknown_channel(col("channel")).alias("__unknown_name"));
        bad.clone().not().and(col("__unknown_name"))
    } else {
        lit(false)
    };
    let mut select = vec![col(RN), col(CODE), keep.clone().alias(KEEP), unknown.clone().alias("__unknown")];
    if skus.is_some() {
        select.push(col("k"));
    }
    select.extend(v.outputs.iter().cloned());
    if channels {
        select.push(col("channel").alias("__unknown_channel"));
    }
    // a held table's rows are filtered as they are read; a passed table's batches are split by
    // `Parts::of`, which keeps a batch whose rows are all good as it is (the usual batch: a
    // filter here copied every column of it)
    let mut main =
        if sink.is_some() { lf.select(select) } else { lf.filter(bad.clone().or(keep).or(unknown)).select(select) };
    let mut good_cols: Vec<PlSmallStr> = vec![RN.into()];
    if skus.is_some() {
        good_cols.push("k".into());
    }
    match project {
        Some(p) => {
            let mut narrow = vec![col(RN), col(CODE), col(KEEP), col("__unknown")];
            narrow.extend(skus.is_some().then(|| col("k")));
            narrow.extend(channels.then(|| col("__unknown_channel")));
            good_cols.extend(p.iter().map(|(n, _)| PlSmallStr::from(*n)));
            narrow.extend(p.into_iter().map(|(n, e)| e.alias(n)));
            main = main.select(narrow);
        }
        None => {
            good_cols.extend(schema::columns(v.source.table).iter().map(|c| PlSmallStr::from(c.name)));
            good_cols.extend(v.extra.iter().map(|c| PlSmallStr::from(c.as_str())));
        }
    }
    let t0 = std::time::Instant::now();
    let valid0 = v.valid.load(std::sync::atomic::Ordering::SeqCst);
    let mut how = "collected";
    // the records read, when the pass itself knows them (else counted apart)
    let mut records: Option<u64> = None;
    let (good, rejected, unknown) = match sink {
        None => {
            // explain's focused read of Parquet prices: only the offer's rows decoded, in pieces
            let pieces = match (v.source.table, &v.offer) {
                (Table::Prices, Some(_)) => super::pieces::PieceScan::of(v, &main)?,
                _ => None,
            };
            let df = match pieces {
                Some(p) => {
                    how = "the offer's rows read in pieces";
                    // (one batch, the offer's rows in file order, or none: no row group holds one)
                    let mut rows: Option<DataFrame> = None;
                    p.run(&main, &file, &mut |df| {
                        match rows.as_mut() {
                            Some(r) => {
                                r.vstack_mut_owned(df)?;
                            }
                            None => rows = Some(df),
                        }
                        Ok(())
                    })?;
                    match rows {
                        Some(df) => df,
                        None => main.limit(0).collect()?,
                    }
                }
                None => main
                    .collect_with_engine(Engine::Streaming)
                    .map_err(|e| Error::new(format!("{file}: {e}")))?
                    .unwrap_single(),
            };
            let parts = Parts::of(&df, &good_cols, channels, false)?;
            (parts.good, parts.rejected, parts.unknown)
        }
        Some(sink) => {
            let (mut rejected, mut unknown) = (Vec::new(), Vec::new());
            let mut visit = |df: DataFrame| {
                let parts = Parts::of(&df, &good_cols, channels, true)?;
                sink(&parts.good)?;
                rejected.push(parts.rejected);
                unknown.extend(parts.unknown);
                Ok(())
            };
            // Parquet prices: read in pieces on priceaudit's threads, through the same plan
            // (a share's rows written apart read there)
            let pieces = match v.source.table {
                Table::Prices => match v.spill {
                    Some(_) => super::pieces::PieceScan::of_spill(v, &main)?,
                    None => super::pieces::PieceScan::of(v, &main)?,
                },
                _ => None,
            };
            // a regular CSV price file: parsed in pieces too (its records are the byte scan's)
            let csv = match (&pieces, v.source.table) {
                (None, Table::Prices) => super::csv_pieces::CsvPieces::of(v, &main)?,
                _ => None,
            };
            how = if pieces.is_some() || csv.is_some() { "read in pieces" } else { "streamed" };
            match (pieces, csv) {
                (Some(p), _) => p.run(&main, &file, &mut visit)?,
                (None, Some(c)) => {
                    c.run(&main, &file, &mut visit)?;
                    records = Some(v.records);
                }
                (None, None) => stream_batches(main, &file, &mut visit)?,
            }
            let rejected = match rejected.len() {
                0 => DataFrame::empty_with_schema(&Schema::from_iter([
                    Field::new(RN.into(), IDX_DTYPE),
                    Field::new(CODE.into(), DataType::UInt32),
                ])),
                _ => concat(rejected.into_iter().map(|d| d.lazy()).collect::<Vec<_>>(), UnionArgs::default())?
                    .collect()?,
            };
            let unknown = (!unknown.is_empty()).then(|| {
                concat(unknown.into_iter().map(|d| d.lazy()).collect::<Vec<_>>(), UnionArgs::default())
                    .and_then(|l| l.collect())
            });
            (DataFrame::empty(), rejected, unknown.transpose()?)
        }
    };
    let valid = v.valid.load(std::sync::atomic::Ordering::SeqCst) - valid0;
    let total = match records {
        Some(n) => n,
        None => source_rows(v)?,
    };
    if crate::runtime::detailed_timings() {
        eprintln!("  {file}: one pass {:.3} s ({how}), {} rows kept", t0.elapsed().as_secs_f64(), good.height());
    }
    if v.source.is_csv() && total != v.records {
        bail!("{file}: polars read {total} records but the file has {} (an unusual quoting?); cannot give exact line numbers", v.records);
    }
    let rejected = rejected.lazy().sort([RN], Default::default()).collect()?;
    // the raw text of rejected rows (to quote in rejects.csv): a second pass, only when there are any
    let rejected = if rejected.height() == 0 {
        rejected
    } else {
        let rns = Series::new(
            "r".into(),
            rejected.column(RN)?.cast(&DataType::UInt32)?.u32()?.iter().flatten().collect::<Vec<u32>>(),
        );
        let raw: Vec<Expr> =
            v.present.iter().map(|c| col(c.as_str()).cast(DataType::String).alias(format!("{RAW}{c}"))).collect();
        let text = v
            .raw
            .clone()
            .filter(col(RN).is_in(lit(rns).implode(false), false))
            .select(std::iter::once(col(RN)).chain(raw).collect::<Vec<_>>());
        rejected
            .lazy()
            .join(text, [col(RN)], [col(RN)], JoinArgs::new(JoinType::Left))
            .sort([RN], Default::default())
            .collect()?
    };
    let channels = if channels {
        let empty = || {
            DataFrame::empty_with_schema(&Schema::from_iter([Field::new("__unknown_channel".into(), DataType::String)]))
        };
        Some(
            unknown
                .unwrap_or_else(empty)
                .lazy()
                .group_by([col("__unknown_channel").alias("channel")])
                .agg([len().alias("n")])
                .collect()?,
        )
    } else {
        None
    };
    Ok(Split { good, rejects: reject_rows(&rejected, v, tz)?, total, valid, channels })
}

pub(crate) const RAW: &str = "__raw_";
