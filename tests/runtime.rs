//! Issue 18: the tests run the configuration the CLI runs (`runtime::start`, called by
//! `tests/common` before the harness starts its threads, as `main` calls it first thing).

mod common;

#[test]
fn tests_run_the_clis_process_setup() {
    // polars' settings, as `priceaudit audit fixtures/conformance/basic-parquet` sets them (a
    // small Parquet dump: one row group ahead; buffered reads instead of a memory map)
    assert_eq!(std::env::var("POLARS_FORCE_ASYNC").as_deref(), Ok("1"));
    assert_eq!(std::env::var("POLARS_ROW_GROUP_PREFETCH_SIZE").as_deref(), Ok("1"));
    // the memory release hook is the CLI's
    assert!(priceaudit::runtime::RELEASE_MEMORY.get().is_some());
    // and memory comes from the CLI's allocator
    let b = Box::new([7u8; 64]);
    // SAFETY: asks mimalloc whether a pointer lies in its heap; reads no memory through it.
    assert!(unsafe { libmimalloc_sys::mi_is_in_heap_region(b.as_ptr().cast()) });
    // THP off (PR_GET_THP_DISABLE answers 1)
    // SAFETY: prctl with integer arguments only.
    assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
}

/// Buffered reads for Parquet prices, none for CSV prices (polars would send the CSV file
/// through its file cache); one row group ahead for small Parquet prices, two otherwise.
#[test]
fn polars_settings_by_the_prices_format() {
    use priceaudit::runtime::polars_settings;
    let at = |d: &str| polars_settings(Some(std::path::Path::new(d)));
    // (and, whatever the format, row groups of over 262 144 rows decoded in pieces)
    let pieces = ("POLARS_PARQUET_DECODE_MAX_ROWS", "262144");
    assert_eq!(at("fixtures/demo"), [("POLARS_ROW_GROUP_PREFETCH_SIZE", "2"), pieces]);
    assert_eq!(
        at("fixtures/conformance/basic-parquet"),
        [("POLARS_ROW_GROUP_PREFETCH_SIZE", "1"), pieces, ("POLARS_FORCE_ASYNC", "1")]
    );
    // tables in memory (the Python module): nothing to read, buffered reads if any
    assert_eq!(polars_settings(None), [("POLARS_ROW_GROUP_PREFETCH_SIZE", "2"), pieces, ("POLARS_FORCE_ASYNC", "1")]);
}

/// The default options are the `audit` command's: price rows streamed.
#[test]
fn default_options_are_the_audit_commands() {
    let o = priceaudit::AuditOptions::default();
    assert!(o.stream_prices && !o.strict && o.config.is_none() && o.tz.is_none());
    let a = priceaudit::audit(std::path::Path::new("fixtures/demo"), &o).unwrap();
    assert!(a.dump.price_rows().is_none(), "streamed: no price rows held");
}
