//! How a run is configured around the audit: the allocator's release hook, transparent huge
//! pages, the polars settings (Parquet read-ahead, buffered reads) and the stage timings. The CLI
//! calls [`start`] first thing in `main`; the test binaries call the same [`start`] from a
//! constructor (`tests/common`), so that they run what the CLI runs. Both declare mimalloc as
//! their global allocator (a binary's choice, not the library's).

use std::path::Path;

/// Set up the process as the CLI does for auditing `dump_dir`: huge pages off, polars' settings
/// ([`configure`]) and the memory release hook ([`mimalloc_release`]). Call it before any other
/// thread exists (it changes the process environment).
pub fn start(dump_dir: Option<&Path>) {
    no_huge_pages();
    configure(dump_dir);
    purge_later();
    let _ = RELEASE_MEMORY.set(mimalloc_release);
}

/// mimalloc's purge delay (`mi_option_purge_delay`, the same index in its v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed pages handed back to the kernel after a second rather than mimalloc's 10 ms (unless
/// `MIMALLOC_PURGE_DELAY` says otherwise): the price pass frees and takes again decoded row groups
/// all the time, and at 100 M rows faulting them back in was a third of its time (PERF.md). The
/// stages that free much hand it back themselves ([`release_memory`]).
pub fn purge_later() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (an integer); no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    }
}

/// Transparent huge pages off for this process: mimalloc asks for them, and the kernel then
/// zeroes 2 MiB at each first touch, most of it never used (PERF.md). (The Python module calls it
/// when imported: its price pass took twice the CLI's without.)
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes integer arguments only and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Hand the memory freed so far back to the kernel: mimalloc keeps a thread's freed pages in
/// that thread's heap (for a second, by default), so each worker thread that allocated
/// (rayon's and polars' pools) collects its own, then this thread. Before the price pass this
/// took the 10 M-row benchmark's resident memory from 0.35 to 0.25 GB (the small tables' load).
/// Harmless under another allocator (mimalloc's heaps are then empty).
pub fn mimalloc_release() {
    // SAFETY: mi_collect only walks mimalloc's own structures (of the calling thread).
    let collect = |_: rayon::BroadcastContext<'_>| unsafe { libmimalloc_sys::mi_collect(true) };
    rayon::broadcast(collect);
    polars_core::runtime::THREAD_POOL.broadcast(collect);
    // SAFETY: as above.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Below this much Parquet (about 25 M price rows of `synth`'s layout) the price pass reads one
/// row group ahead, above it two (PERF.md has the measurements).
pub const SMALL_PRICES: u64 = 256 << 20;

/// The most rows of a Parquet row group decoded at once (vendor/polars-stream): a larger row group
/// is decoded in pieces of its fetched bytes, so that what the price pass holds does not grow
/// with the writer's row-group size (PERF.md has the measurements).
pub const DECODE_MAX_ROWS: &str = "262144";

/// Set polars' I/O settings for auditing the dump in `dump_dir` (unless the user set them):
/// polars' Parquet source decodes up to 16 row groups ahead of the consumer by default, which
/// piles decoded rows up in memory; two in flight keep both cores busy, and on a small dump one is
/// enough (the second holds a sixth of the peak whenever the fold lags, for little time saved).
/// `POLARS_FORCE_ASYNC=1` reads local Parquet through buffered reads rather than a memory map,
/// whose touched pages count in peak RSS; not for CSV prices, which it sends through polars'
/// file cache (a link and a metadata file per file read, in the temporary directory, which a
/// background thread walks: 177 k entries there after a day of tests cost a CSV audit 0.3–1 s;
/// without it the 10 M CSV audit took the same time, 0.1 GB less memory: PERF.md).
///
/// Call it before polars starts its threads (the environment is read once); it changes the
/// process environment, so call it before other threads exist.
pub fn configure(dump_dir: Option<&Path>) {
    for (var, value) in polars_settings(dump_dir) {
        if std::env::var_os(var).is_none() {
            // SAFETY: the caller runs this before other threads exist (documented above).
            unsafe { std::env::set_var(var, value) };
        }
    }
}

/// The polars settings [`configure`] makes for the dump in `dump_dir` (where the environment
/// does not set them).
pub fn polars_settings(dump_dir: Option<&Path>) -> Vec<(&'static str, &'static str)> {
    // the file (or parts directory) the loader will read (its errors are the loader's to report)
    let table = dump_dir.and_then(|d| crate::dump::find_table(d, crate::findings::Table::Prices).ok().flatten());
    let parquet_bytes = table
        .as_ref()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    let ahead = if parquet_bytes.is_some_and(|n| n < SMALL_PRICES) { "1" } else { "2" };
    let csv = table.as_deref().is_some_and(crate::dump::is_csv_table);
    let mut settings =
        vec![("POLARS_ROW_GROUP_PREFETCH_SIZE", ahead), ("POLARS_PARQUET_DECODE_MAX_ROWS", DECODE_MAX_ROWS)];
    if !csv {
        settings.push(("POLARS_FORCE_ASYNC", "1"));
    }
    settings
}

/// How the binary hands freed memory back to the kernel between stages (its allocator's
/// collect; the library has no allocator of its own). Unset: nothing happens.
pub static RELEASE_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Return the memory freed so far to the kernel, before a stage that allocates a lot at once
/// (the allocator would keep it a second longer, and the new pages would stack on top of it).
pub fn release_memory() {
    if let Some(f) = RELEASE_MEMORY.get() {
        f();
    }
}

/// `PRICEAUDIT_TIMINGS=2`: the passes' and the rules' own split of their time, printed where it
/// is measured (to stderr, for profiling).
pub fn detailed_timings() -> bool {
    std::env::var("PRICEAUDIT_TIMINGS").is_ok_and(|v| v == "2")
}

/// With `PRICEAUDIT_TIMINGS=1`, print how long a stage took to stderr (for profiling).
pub fn timing<T>(stage: &str, f: impl FnOnce() -> T) -> T {
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let on = std::env::var("PRICEAUDIT_TIMINGS").is_ok_and(|v| v == "1");
    let (t, (cpu0, sys0, faults0)) = (std::time::Instant::now(), usage());
    let first = *FIRST.get_or_init(|| t);
    let out = f();
    if on {
        let (cpu, sys, faults) = usage();
        eprintln!(
            "timing {stage}: {:.3} s (ended {:.3} s after the first stage began), cpu {:.3} s (sys {:.3} s, {} k page faults){}",
            t.elapsed().as_secs_f64(),
            first.elapsed().as_secs_f64(),
            cpu - cpu0,
            sys - sys0,
            (faults - faults0) / 1000,
            memory()
        );
    }
    out
}

/// CPU time of the process so far (user + system, every thread), its system part and its
/// minor page faults, for [`timing`].
fn usage() -> (f64, f64, i64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (0.0, 0.0, 0);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(u.ru_utime) + tv(u.ru_stime), tv(u.ru_stime), u.ru_minflt)
}

/// Resident and peak memory so far (Linux), for [`timing`].
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(String::new(), |v| format!("{:.2} GB", v as f64 / 1e6))
    };
    format!(", rss {} (anon {}, file {}), peak {}", kb("VmRSS:"), kb("RssAnon:"), kb("RssFile:"), kb("VmHWM:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc's purge delay is its option 15 (10 ms by default in its v2 and v3 headers); the
    /// run sets it to a second unless `MIMALLOC_PURGE_DELAY` is set.
    #[test]
    fn freed_pages_are_purged_after_a_second() {
        purge_later();
        // SAFETY: reads one of mimalloc's options.
        let got = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Ok(v) => assert_eq!(got.to_string(), v),
            Err(_) => assert_eq!(got, 1000),
        }
    }
}
