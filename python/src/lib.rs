//! `priceaudit._native`: the library's audit over Arrow tables, for the Python package
//! (`python/priceaudit/__init__.py` is the API users call; this module is its engine).
//!
//! Tables come in through the Arrow C stream interface (`__arrow_c_stream__`: polars, pyarrow,
//! DuckDB, pandas through pyarrow) straight into polars' arrays, never through Python objects; the
//! outputs go out the same way. The GIL is released while the library works.

use polars::prelude::*;
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField};
use polars_arrow::ffi::{export_iterator, ArrowArrayStream, ArrowArrayStreamReader};
use priceaudit::dump::Frame;
use priceaudit::error::{Error, ErrorKind};
use priceaudit::findings::Table;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    _native,
    InputError,
    PyException,
    "The tables or the dump: a missing table or column, an unreadable file or value, a row under strict=True."
);
create_exception!(_native, ConfigError, PyException, "The config file or a setting (tz=...).");

/// The library's error as the Python exception of its kind, with the CLI's message.
fn py_err(e: Error) -> PyErr {
    match e.kind {
        ErrorKind::Input => InputError::new_err(e.message),
        ErrorKind::Config => ConfigError::new_err(e.message),
        ErrorKind::Io => pyo3::exceptions::PyOSError::new_err(e.message),
        ErrorKind::Internal => PyRuntimeError::new_err(e.message),
    }
}

fn polars_err(table: &str, e: PolarsError) -> PyErr {
    InputError::new_err(format!("{table}: {e}"))
}

/// An audit's result, held in Rust; the Python `Audit` reads it.
#[pyclass(module = "priceaudit._native", frozen)]
struct Audit {
    audit: priceaudit::Audit,
}

/// An Arrow C stream of one frame, handed to pyarrow by `__arrow_c_stream__`.
#[pyclass(module = "priceaudit._native")]
struct ArrowStream {
    df: Option<DataFrame>,
}

#[pymethods]
impl ArrowStream {
    /// The Arrow PyCapsule stream interface (`pyarrow.table(obj)` reads it); once.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let df = self.df.take().ok_or_else(|| PyRuntimeError::new_err("the stream was read already"))?;
        let stream = export(df).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        PyCapsule::new(py, stream, Some(CString::new("arrow_array_stream").expect("no NUL")))
    }
}

/// A frame as an Arrow C stream of struct arrays (one per record batch; strings as large_utf8,
/// which every pyarrow reads).
fn export(mut df: DataFrame) -> PolarsResult<ArrowArrayStream> {
    df.rechunk_mut();
    let fields: Vec<ArrowField> = df.columns().iter().map(|c| c.field().to_arrow(CompatLevel::oldest())).collect();
    let dtype = ArrowDataType::Struct(fields.clone());
    let mut batches: Vec<PolarsResult<Box<dyn Array>>> = Vec::new();
    if df.height() == 0 {
        let arrays: Vec<Box<dyn Array>> =
            fields.iter().map(|f| polars_arrow::array::new_empty_array(f.dtype.clone())).collect();
        batches.push(Ok(StructArray::new(dtype.clone(), 0, arrays, None).boxed()));
    } else {
        for b in df.iter_chunks(CompatLevel::oldest(), false) {
            let len = b.height();
            batches.push(Ok(StructArray::new(dtype.clone(), len, b.into_arrays(), None).boxed()));
        }
    }
    Ok(export_iterator(Box::new(batches.into_iter()), ArrowField::new("".into(), dtype, false)))
}

/// A table from anything with `__arrow_c_stream__`, as a polars frame (the arrays are moved, not
/// copied through Python).
fn import(obj: &Bound<'_, PyAny>, table: &str) -> PyResult<DataFrame> {
    if !obj.hasattr("__arrow_c_stream__")? {
        let kind = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        return Err(InputError::new_err(format!(
            "{table}: a {kind} is no Arrow table (give a polars, pyarrow or DuckDB table, a pandas \
             frame, or anything with __arrow_c_stream__)"
        )));
    }
    // (a conversion the object itself fails, e.g. a pandas column pyarrow cannot type, is the
    // table's input error)
    let capsule = obj.call_method0("__arrow_c_stream__").map_err(|e| InputError::new_err(format!("{table}: {e}")))?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| InputError::new_err(format!("{table}: __arrow_c_stream__ returned no capsule")))?;
    let name = CString::new("arrow_array_stream").expect("no NUL");
    let ptr = capsule.pointer_checked(Some(&name))?.as_ptr() as *mut ArrowArrayStream;
    // SAFETY: the capsule holds an ArrowArrayStream (its name says so, by the interface's
    // contract); it is moved out and the capsule's left released (its destructor then does
    // nothing), as the interface prescribes for a consumer.
    let stream = unsafe { std::ptr::replace(ptr, ArrowArrayStream::empty()) };
    let mut reader = unsafe { ArrowArrayStreamReader::try_new(Box::new(stream)) }.map_err(|e| polars_err(table, e))?;
    let fields = match reader.field().dtype() {
        ArrowDataType::Struct(f) => f.clone(),
        other => return Err(InputError::new_err(format!("{table}: the Arrow stream holds {other:?}, not rows"))),
    };
    let mut chunks: Vec<Vec<Box<dyn Array>>> = vec![Vec::new(); fields.len()];
    // SAFETY: the reader reads the stream it was given, by the interface.
    while let Some(batch) = unsafe { reader.next() } {
        let batch = batch.map_err(|e| polars_err(table, e))?;
        let s = batch
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| InputError::new_err(format!("{table}: the Arrow stream holds no record batches")))?;
        for (i, v) in s.values().iter().enumerate() {
            chunks[i].push(v.clone());
        }
    }
    let mut columns = Vec::with_capacity(fields.len());
    let mut height = 0;
    for (f, c) in fields.iter().zip(chunks) {
        let mut s = if c.is_empty() {
            let dtype = DataType::from_arrow_field(f);
            Series::new_empty(f.name.clone(), &dtype)
        } else {
            Series::try_from((f, c)).map_err(|e| polars_err(table, e))?
        };
        // a dictionary-encoded column (pandas' categoricals, polars' cat/enum) as its values: the
        // loader reads text, where an empty value is missing as in a plain column
        if s.dtype().is_categorical() || s.dtype().is_enum() {
            s = s.cast(&DataType::String).map_err(|e| polars_err(table, e))?;
        }
        height = s.len();
        columns.push(s.into_column());
    }
    DataFrame::new(height, columns).map_err(|e| polars_err(table, e))
}

/// Each table's frame, with its row numbers taken out of the column `row_column` when it has one.
fn frames(
    tables: &Bound<'_, PyDict>,
    row_column: Option<&str>,
    parts: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(Table, Frame)>> {
    let mut out = Vec::new();
    for (k, v) in tables.iter() {
        let name: String = k.extract()?;
        let t = Table::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| InputError::new_err(format!("unknown table {name:?}")))?;
        if v.is_none() {
            continue;
        }
        let mut df = import(&v, &name)?;
        let mut rows = None;
        if let Some(rc) = row_column {
            if let Some(c) = df.column(rc).ok().cloned() {
                let c = c.cast(&DataType::UInt64).map_err(|e| polars_err(&name, e))?;
                let ca = c.u64().map_err(|e| polars_err(&name, e))?;
                if ca.null_count() > 0 {
                    return Err(InputError::new_err(format!("{name}: `{rc}` has empty row numbers")));
                }
                rows = Some(ca.into_no_null_iter().collect::<Arc<[u64]>>());
                df.drop_in_place(rc).map_err(|e| polars_err(&name, e))?;
            }
        }
        let parts: Vec<(String, u64)> = match parts.map(|p| p.get_item(&name)).transpose()?.flatten() {
            Some(p) => p.extract()?,
            None => Vec::new(),
        };
        out.push((t, Frame { df, rows, parts }));
    }
    Ok(out)
}

fn options(
    config: Option<PathBuf>,
    tz: Option<String>,
    strict: bool,
    horizon: Option<i64>,
) -> priceaudit::AuditOptions {
    priceaudit::AuditOptions { config, tz, strict, horizon, ..Default::default() }
}

/// Audit the dump directory `dump` (as `priceaudit audit DUMP`).
#[pyfunction]
#[pyo3(signature = (dump, config=None, tz=None, strict=false, horizon=None))]
fn audit_dir(
    py: Python<'_>,
    dump: PathBuf,
    config: Option<PathBuf>,
    tz: Option<String>,
    strict: bool,
    horizon: Option<i64>,
) -> PyResult<Audit> {
    let opts = options(config, tz, strict, horizon);
    let audit = py.detach(|| priceaudit::audit(&dump, &opts)).map_err(py_err)?;
    Ok(Audit { audit })
}

/// Audit the dump directory `dump` and write the CLI's files into `out` (as `priceaudit audit DUMP
/// --out OUT [--outputs …] [--shares N]`): a large dump in shares, two at a time, its memory two
/// shares'. Returns `summary.json`'s text.
#[pyfunction]
#[pyo3(signature = (dump, out, outputs=None, shares=None, config=None, tz=None, strict=false))]
#[allow(clippy::too_many_arguments)]
fn audit_to(
    py: Python<'_>,
    dump: PathBuf,
    out: PathBuf,
    outputs: Option<Vec<String>>,
    shares: Option<u32>,
    config: Option<PathBuf>,
    tz: Option<String>,
    strict: bool,
) -> PyResult<String> {
    let outputs = match outputs {
        Some(o) => priceaudit::output::Outputs::parse(&o).map_err(py_err)?,
        None => priceaudit::output::Outputs::default(),
    };
    let opts = options(config, tz, strict, None);
    let input = priceaudit::dump::Input::Dir(dump);
    let written = py
        .detach(|| {
            let plan = priceaudit::plan_shares(&input, &opts, shares, None)?;
            priceaudit::audit_into(&input, &opts, plan, &out, &outputs, &mut |_, _| {})
        })
        .map_err(py_err)?;
    serde_json::to_string_pretty(&written.digest.summary).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Audit tables in memory: `tables` maps SPEC's table names to Arrow tables; a table's column
/// `row_column`, when given and present, holds the row number each row shows (else its 0-based
/// index); `parts` maps a table to its parts' (name, first row) when its rows came from a
/// directory of part files.
#[pyfunction]
#[pyo3(signature = (tables, config=None, tz=None, strict=false, horizon=None, row_column=None, parts=None))]
#[allow(clippy::too_many_arguments)]
fn audit_tables(
    py: Python<'_>,
    tables: &Bound<'_, PyDict>,
    config: Option<PathBuf>,
    tz: Option<String>,
    strict: bool,
    horizon: Option<i64>,
    row_column: Option<String>,
    parts: Option<&Bound<'_, PyDict>>,
) -> PyResult<Audit> {
    let frames = frames(tables, row_column.as_deref(), parts)?;
    let opts = options(config, tz, strict, horizon);
    let audit = py.detach(|| priceaudit::audit_frames(frames, &opts)).map_err(py_err)?;
    Ok(Audit { audit })
}

/// SPEC §10.4's horizon of some price rows (UTC microseconds, `None`: no valid row): the latest
/// `ts` of the rows no check refuses.
#[pyfunction]
#[pyo3(signature = (prices, config=None, tz=None))]
fn price_horizon(
    py: Python<'_>,
    prices: &Bound<'_, PyAny>,
    config: Option<PathBuf>,
    tz: Option<String>,
) -> PyResult<Option<i64>> {
    let df = import(prices, "prices")?;
    let opts = options(config, tz, false, None);
    py.detach(|| priceaudit::price_horizon(Frame::new(df), &opts)).map_err(py_err)
}

/// The columns of the outputs' tables (`findings`, `registrations`, `rejects`: the CLI's CSV
/// files'), each with whether it is an integer column, as the tables hold them.
/// One output table's columns: (name, is an integer column).
type Columns = Vec<(String, bool)>;

/// The CLI's polars settings for tables in memory or a dump not yet named
/// (`runtime::polars_settings`), which the package puts in the environment before any query.
#[pyfunction]
fn polars_settings() -> Vec<(&'static str, &'static str)> {
    priceaudit::runtime::polars_settings(None)
}

#[pyfunction]
fn output_columns() -> PyResult<Vec<(&'static str, Columns)>> {
    use priceaudit::output::{findings_frame, registrations_frame, rejects_frame};
    let frames = [
        ("findings", findings_frame(&[])),
        ("registrations", registrations_frame(&[])),
        ("rejects", rejects_frame(&[])),
    ];
    frames
        .into_iter()
        .map(|(name, df)| {
            let df = df.map_err(py_err)?;
            Ok((name, df.columns().iter().map(|c| (c.name().to_string(), c.dtype().is_integer())).collect()))
        })
        .collect()
}

/// Check a config and zone as an audit would load them (`ConfigError` with the CLI's message).
#[pyfunction]
#[pyo3(signature = (config=None, tz=None))]
fn check_settings(config: Option<PathBuf>, tz: Option<String>) -> PyResult<()> {
    priceaudit::settings(&options(config, tz, false, None)).map(|_| ()).map_err(py_err)
}

/// `priceaudit explain DUMP --registration ID`: the text, or with `json` the JSON object.
#[pyfunction]
#[pyo3(signature = (dump, registration, config=None, tz=None, json=false))]
fn explain(
    py: Python<'_>,
    dump: PathBuf,
    registration: String,
    config: Option<PathBuf>,
    tz: Option<String>,
    json: bool,
) -> PyResult<String> {
    py.detach(|| -> priceaudit::error::Result<String> {
        let opts = priceaudit::AuditOptions::explain(config, tz, Some(registration.clone()));
        let audit = priceaudit::audit(&dump, &opts)?;
        let e = priceaudit::explain::explain(&audit, &registration)?;
        if json {
            serde_json::to_string(&e).map_err(|e| Error::internal(e.to_string()))
        } else {
            Ok(priceaudit::explain::text(&e))
        }
    })
    .map_err(py_err)
}

#[pymethods]
impl Audit {
    /// `findings.csv`'s rows as an Arrow stream.
    fn findings(&self, py: Python<'_>) -> PyResult<ArrowStream> {
        let df = py.detach(|| priceaudit::output::findings_frame(&self.audit.findings)).map_err(py_err)?;
        Ok(ArrowStream { df: Some(df) })
    }

    /// `registrations.csv`'s rows as an Arrow stream.
    fn registrations(&self, py: Python<'_>) -> PyResult<ArrowStream> {
        let df = py.detach(|| priceaudit::output::registrations_frame(&self.audit.verdicts)).map_err(py_err)?;
        Ok(ArrowStream { df: Some(df) })
    }

    /// `rejects.csv`'s rows as an Arrow stream.
    fn rejects(&self, py: Python<'_>) -> PyResult<ArrowStream> {
        let df = py.detach(|| priceaudit::output::rejects_frame(&self.audit.dump.rejects)).map_err(py_err)?;
        Ok(ArrowStream { df: Some(df) })
    }

    /// `summary.json`'s text.
    fn summary_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.audit.summary).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Write the CLI's output files into `out` (`outputs`: their names, default the CLI's).
    #[pyo3(signature = (out, outputs=None))]
    fn write(&self, py: Python<'_>, out: PathBuf, outputs: Option<Vec<String>>) -> PyResult<Vec<PathBuf>> {
        let outputs = match outputs {
            Some(o) => priceaudit::output::Outputs::parse(&o).map_err(py_err)?,
            None => priceaudit::output::Outputs::default(),
        };
        py.detach(|| priceaudit::output::write_all(&self.audit, &out, &outputs)).map_err(py_err)
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // the CLI's process setup but the environment (which the package sets from Python): huge
    // pages off (the price pass took twice the CLI's time with them), and the CLI's way of handing
    // freed memory back between stages (this module's allocator)
    priceaudit::runtime::no_huge_pages();
    priceaudit::runtime::purge_later();
    let _ = priceaudit::runtime::RELEASE_MEMORY.set(priceaudit::runtime::mimalloc_release);
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add_class::<Audit>()?;
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(audit_dir, m)?)?;
    m.add_function(wrap_pyfunction!(audit_to, m)?)?;
    m.add_function(wrap_pyfunction!(audit_tables, m)?)?;
    m.add_function(wrap_pyfunction!(price_horizon, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(check_settings, m)?)?;
    m.add_function(wrap_pyfunction!(output_columns, m)?)?;
    m.add_function(wrap_pyfunction!(polars_settings, m)?)?;
    Ok(())
}
