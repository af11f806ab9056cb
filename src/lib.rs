//! priceaudit: a price-compliance auditor for e-commerce promotions.
//!
//! The data flows one way: a dump directory (or tables in memory, [`audit_frames`]) is loaded and
//! validated ([`dump`]), the reference facts are computed once per registration ([`facts`]),
//! every rule reads those facts ([`rules`]), and the findings are written ([`output`]). [`audit`]
//! runs it all (the tests call it); [`audit_into`], what the CLI calls, also writes the outputs,
//! auditing a large dump in shares ([`plan_shares`]).

pub mod dump;
pub mod error;
pub mod explain;
pub mod facts;
pub mod findings;
pub mod id;
pub mod money;
pub mod output;
pub mod profile;
pub mod registration;
pub mod rules;
pub mod runtime;
pub mod summary;
pub mod synth;
pub mod time;
pub mod verdict;

use error::{Error, Result};
use findings::Finding;
use profile::Settings;
use std::path::{Path, PathBuf};

/// How to run an audit (the `audit` command's options, minus where to write). The default is
/// what `priceaudit audit DUMP` runs (no config, price rows streamed).
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// TOML config file (SPEC §6).
    pub config: Option<PathBuf>,
    /// Zone of naive timestamps; overrides the config's `timezone` (SPEC §3).
    pub tz: Option<String>,
    /// Any reject is fatal.
    pub strict: bool,
    /// Read the price rows in one streaming pass into the facts, never holding them (the `audit`
    /// command: nothing after the facts reads them; `explain` does, so it holds them).
    pub stream_prices: bool,
    /// Follows the price pass (the CLI's progress bar).
    pub progress: Option<std::sync::Arc<dump::RowProgress>>,
    /// `explain` of this registration, or of every registration of this offer: read only what
    /// their derivations need ([`dump::load`]); the rest of the audit is then not complete.
    pub focus: Option<dump::Focus>,
    /// The whole dump's horizon (SPEC §10.4) when this audit sees a share of it (a Spark task's
    /// bucket, a [`dump::Share`]): the later of it and the share's own is used.
    pub horizon: Option<i64>,
    /// Audit only this share of the dump's rows ([`dump::Share`]: whole components of offers and
    /// merchants); the audits of every share together are the whole audit. Its tables are then
    /// not reconciled alone (their `read` is the whole source's).
    pub share: Option<dump::Share>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            config: None,
            tz: None,
            strict: false,
            stream_prices: true,
            progress: None,
            focus: None,
            horizon: None,
            share: None,
        }
    }
}

impl AuditOptions {
    /// What `explain` runs (the CLI's command and the Python module's): the price rows held (it
    /// shows them), and for a named registration only what its derivation reads (`focus`).
    pub fn explain(config: Option<PathBuf>, tz: Option<String>, registration: Option<String>) -> AuditOptions {
        let focus = registration.map(dump::Focus::Registration);
        AuditOptions { config, tz, stream_prices: false, focus, ..Default::default() }
    }

    /// What `explain --offer` runs: [`AuditOptions::explain`] of every registration of `offer`.
    pub fn explain_offer(config: Option<PathBuf>, tz: Option<String>, offer: String) -> AuditOptions {
        AuditOptions { focus: Some(dump::Focus::Offer(offer)), ..AuditOptions::explain(config, tz, None) }
    }
}

/// The result of an audit: everything the outputs are made from.
pub struct Audit {
    pub dump: dump::Dump,
    pub settings: Settings,
    pub facts: facts::Facts,
    pub findings: Vec<Finding>,
    /// One verdict per registration, with the highest compliant promo price.
    pub verdicts: Vec<verdict::RegistrationVerdict>,
    pub summary: summary::Summary,
}

/// Load the settings: built-in profiles, the config file on top, `--tz` last.
pub fn settings(opts: &AuditOptions) -> Result<Settings> {
    let mut s = match &opts.config {
        Some(p) => profile::config::load(p)?,
        None => Settings::default(),
    };
    if let Some(tz) = &opts.tz {
        time::zone(tz).map_err(|e| Error::config(format!("--tz: {e}")))?;
        s.timezone = tz.clone();
        // the config's naive instants are local to the run's zone (SPEC §3)
        s.resolve_instants().map_err(|e| Error::config(format!("--tz {tz}: {e}")))?;
    }
    Ok(s)
}

/// Load a dump with the given settings.
///
/// `stream_prices`, `focus`: see [`AuditOptions`].
pub fn load(
    input: &dump::Input,
    settings: &Settings,
    stream_prices: bool,
    focus: Option<&dump::Focus>,
    share: Option<&dump::Share>,
) -> Result<dump::Dump> {
    let tz = time::zone(&settings.timezone).map_err(Error::config)?;
    let names: Vec<String> = settings.profiles.iter().map(|p| p.name.clone()).collect();
    dump::load(input, tz, &names, stream_prices, focus, share)
}

/// The plan of `count` shares of the dump in `input` ([`dump::SharePlan`]; its registrations'
/// keys read once).
pub fn share_plan(input: &dump::Input, opts: &AuditOptions, count: u32) -> Result<dump::SharePlan> {
    let settings = settings(opts)?;
    let tz = time::zone(&settings.timezone).map_err(Error::config)?;
    dump::SharePlan::of_input(input, tz, count)
}

/// Run the whole audit of the dump in `dir`.
pub fn audit(dir: &Path, opts: &AuditOptions) -> Result<Audit> {
    audit_with(&dump::Input::Dir(dir.to_path_buf()), opts, &mut |_| {})
}

/// Run the whole audit of tables handed over in memory (SPEC §2's tables; the registrations and
/// prices required): findings and rejects show each row's number from the [`dump::Frame`].
pub fn audit_frames(frames: Vec<(findings::Table, dump::Frame)>, opts: &AuditOptions) -> Result<Audit> {
    audit_with(&dump::Input::Frames(frames), opts, &mut |_| {})
}

/// SPEC §10.4's horizon of a share of a dump's price rows, in the zone `opts` gives naive
/// timestamps ([`dump::price_horizon`]): a Spark job's first step, whose latest over the shares
/// each share's audit is then given as [`AuditOptions::horizon`].
pub fn price_horizon(prices: dump::Frame, opts: &AuditOptions) -> Result<Option<i64>> {
    let settings = settings(opts)?;
    let tz = time::zone(&settings.timezone).map_err(Error::config)?;
    dump::price_horizon(prices, tz)
}

/// The stages of an audit, reported to a progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Load,
    Facts,
    Rules,
    /// Writing the outputs ([`audit_into`]).
    Write,
}

/// [`audit`], telling `progress` when each stage starts.
pub fn audit_with(input: &dump::Input, opts: &AuditOptions, progress: &mut dyn FnMut(Stage)) -> Result<Audit> {
    let facts = facts_of(input, opts, progress)?;
    Ok(judge(facts, progress))
}

/// An audit up to its rules: the dump loaded and its facts computed.
struct Known {
    settings: Settings,
    dump: dump::Dump,
    facts: facts::Facts,
}

/// The first half of [`audit_with`]: load and facts.
fn facts_of(input: &dump::Input, opts: &AuditOptions, progress: &mut dyn FnMut(Stage)) -> Result<Known> {
    let settings = settings(opts)?;
    progress(Stage::Load);
    let mut dump = timing("load (all tables)", || {
        load(input, &settings, opts.stream_prices, opts.focus.as_ref(), opts.share.as_ref())
    })?;
    strict(opts, &dump)?;
    if let Some(h) = opts.horizon {
        dump.extend_horizon(h);
    }
    if let Some(p) = &opts.progress {
        dump.watch_price_rows(p);
    }
    progress(Stage::Facts);
    let facts = timing("facts (all)", || facts::compute(&mut dump, &settings))?;
    // streamed price rows are counted by the facts' pass
    strict(opts, &dump)?;
    // (a focused read, a share, leave rows unread on purpose)
    if opts.focus.is_none() && opts.share.is_none() {
        dump::reconcile(&dump.tables)?;
    }
    Ok(Known { settings, dump, facts })
}

/// The second half of [`audit_with`]: rules, verdicts and summary.
fn judge(known: Known, progress: &mut dyn FnMut(Stage)) -> Audit {
    let Known { settings, dump, facts } = known;
    progress(Stage::Rules);
    // the facts' scratch before the findings' allocations
    release_memory();
    let rules::Evaluated { findings, unchecked } = timing("rules", || rules::evaluate(&facts, &settings));
    // the rules' scratch (in the worker threads' heaps) before the verdicts' allocations
    release_memory();
    // independent: side by side
    let (verdicts, mut summary) = timing("verdicts and summary", || {
        rayon::join(
            || timing("verdicts", || verdict::verdicts(&facts, &findings, &settings)),
            || timing("summary", || summary::summarize(&dump, &facts, &findings, &settings, unchecked)),
        )
    });
    for v in &verdicts {
        *summary.verdicts.entry(v.verdict.as_str().to_string()).or_insert(0) += 1;
    }
    Audit { dump, settings, facts, findings, verdicts, summary }
}

/// `--strict`: any reject is fatal.
fn strict(opts: &AuditOptions, dump: &dump::Dump) -> Result<()> {
    match dump.rejects.first() {
        Some(first) if opts.strict => Err(strict_error(dump.rejects.len() as u64, first)),
        _ => Ok(()),
    }
}

fn strict_error(rejects: u64, r: &dump::Reject) -> Error {
    Error::new(format!(
        "--strict: {rejects} rejected row(s); first: {} line {} column `{}`: {} ({:?})",
        r.table, r.line, r.column, r.reason, r.value
    ))
}

/// How many registrations a share audited alone holds when [`plan_shares`] chooses (two shares of
/// half that are audited at a time: [`SHARES_AT_ONCE`]): one per [`PRICE_ROWS_PER_REGISTRATION`]
/// price rows, within these bounds. Shares cost a pass that splits the tables and a merge of their
/// outputs, so a share should carry registration work worth that: a dump with few registrations
/// per price row is audited whole, one with many in shares of fewer registrations (measurements:
/// PERF.md).
pub const SHARE_REGISTRATIONS: std::ops::RangeInclusive<u64> = 100_000..=2_000_000;
/// See [`SHARE_REGISTRATIONS`].
pub const PRICE_ROWS_PER_REGISTRATION: u64 = 64;

/// What [`audit_into`] wrote.
pub struct Written {
    /// What the reports and the terminal summary are made from.
    pub digest: output::digest::Digest,
    /// The shares the dump was audited in (1: whole).
    pub shares: u32,
    pub paths: Vec<PathBuf>,
    /// The audit, when it was made whole (a caller about to exit can `std::mem::forget` it rather
    /// than free a million registrations' strings one by one).
    pub audit: Option<Audit>,
}

/// The registrations a share holds in a dump of `price_rows` price rows ([`SHARE_REGISTRATIONS`]).
pub fn share_registrations(price_rows: u64) -> u64 {
    (price_rows / PRICE_ROWS_PER_REGISTRATION).clamp(*SHARE_REGISTRATIONS.start(), *SHARE_REGISTRATIONS.end())
}

/// The shares to audit the dump in (`None`: whole): `asked`; else, for a share audited alone of
/// `per_share` registration rows (`None`: [`share_registrations`] as the dump's price rows set it),
/// whole when the dump fits one, else shares of half that ([`SHARES_AT_ONCE`] audited at a time).
pub fn plan_shares(
    input: &dump::Input,
    opts: &AuditOptions,
    asked: Option<u32>,
    per_share: Option<u64>,
) -> Result<Option<dump::SharePlan>> {
    match asked {
        Some(0) => Err(Error::new("--shares: at least 1")),
        Some(1) => Ok(None),
        Some(n) => share_plan(input, opts, n).map(Some),
        None => {
            // (a dump that cannot be sized is audited whole: its errors are then reported as the
            // whole audit reports them, in its order of tables)
            let sized = || -> Result<Option<dump::SharePlan>> {
                // the metadata first: a small dump is not read twice
                let rows = dump::registration_rows_hint(input)?;
                let fits = |n: u64| rows.is_some_and(|r| r <= n);
                let whole = match per_share {
                    Some(n) => n.max(1),
                    // (under the least share, the price table is not looked at)
                    None if fits(*SHARE_REGISTRATIONS.start()) => return Ok(None),
                    None => share_registrations(dump::price_rows_hint(input)?.unwrap_or(0)),
                };
                // a dump that fits one share is audited whole; else in shares of half that,
                // [`SHARES_AT_ONCE`] audited at a time
                if fits(whole) {
                    return Ok(None);
                }
                let per_share = whole.div_ceil(SHARES_AT_ONCE as u64);
                let plan = share_plan(input, opts, 1)?;
                let n = plan.registration_rows().div_ceil(per_share);
                Ok((n > 1).then(|| plan.with_count(u32::try_from(n).unwrap_or(u32::MAX))))
            };
            Ok(sized().unwrap_or(None))
        }
    }
}

/// Audit the dump in `input` and write the chosen `outputs` into `out`: whole, or in the shares
/// `shares` plans ([`plan_shares`]), [`SHARES_AT_ONCE`] audits at a time, their rows spilled to
/// disk and merged into the same files the whole audit writes. `progress` is told each stage and,
/// in shares, which share (0-based) of how many.
pub fn audit_into(
    input: &dump::Input,
    opts: &AuditOptions,
    shares: Option<dump::SharePlan>,
    out: &Path,
    outputs: &output::Outputs,
    progress: &mut (dyn FnMut(Stage, Option<(u32, u32)>) + Send),
) -> Result<Written> {
    use output::digest::Digest;
    // what a killed run left here, before this one writes
    output::sweep_leftovers(out);
    let Some(plan) = shares else {
        let audit = audit_with(input, opts, &mut |s| progress(s, None))?;
        progress(Stage::Write, None);
        let digest = Digest::of(&audit);
        let paths = timing("write outputs", || output::write_audit(&audit, &digest, out, outputs))?;
        return Ok(Written { digest, shares: 1, paths, audit: Some(audit) });
    };
    // a failed run leaves no directory it made (the spills go with theirs)
    let existed = out.exists();
    let written = in_shares(input, opts, plan, out, outputs, progress);
    if written.is_err() && !existed {
        let _ = std::fs::remove_dir(out);
    }
    written
}

/// [`audit_into`] in shares.
fn in_shares(
    input: &dump::Input,
    opts: &AuditOptions,
    plan: dump::SharePlan,
    out: &Path,
    outputs: &output::Outputs,
    progress: &mut (dyn FnMut(Stage, Option<(u32, u32)>) + Send),
) -> Result<Written> {
    use output::digest::Digest;
    let settings = settings(opts)?;
    let tz = time::zone(&settings.timezone).map_err(Error::config)?;
    // every share's facts read the whole table's horizon (SPEC §10.4)
    let whole = timing("horizon (whole price table)", || dump::input_horizon(input, tz))?;
    let horizon = whole.into_iter().chain(opts.horizon).max();
    let count = plan.count();
    let spill = output::spill::SpillDir::new(out)?;
    // each share's price rows apart, in one pass over the table (else each share reads it whole;
    // a table that cannot be split is read whole, its errors reported by the shares' passes), and
    // beside it each share's rows of the other tables
    let (prices, others) = std::thread::scope(|s| {
        let others = s.spawn(|| timing("split the other tables", || dump::split_tables(input, &plan, &spill.path)));
        let prices = timing("split the price rows", || dump::split_prices(input, tz, &plan, &spill.path));
        (prices, others.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let mut plan = match prices {
        Ok(Some(paths)) => plan.with_price_spills(paths),
        _ => plan,
    };
    for (t, paths) in others {
        plan = plan.with_table_spills(t, paths);
    }
    let plan = std::sync::Arc::new(plan);
    let findings = ["findings.csv", "findings.json", "findings.parquet"].iter().any(|f| outputs.has(f));
    let verdicts = ["registrations.csv", "registrations.json"].iter().any(|f| outputs.has(f));
    // one share's audit, spilled; what the merge needs of it kept
    let progress = std::sync::Mutex::new(progress);
    // (held by the share between its rules and its free)
    let judging = std::sync::Mutex::new(());
    // the shares' digests, merged as they come
    let digests = std::sync::Mutex::new(Digests::default());
    let one = |index: u32| -> Result<ShareDone> {
        let o = AuditOptions {
            share: Some(dump::Share { index, plan: plan.clone() }),
            horizon,
            // the whole dump's rejects decide (below)
            strict: false,
            ..opts.clone()
        };
        let tell = &mut |s| {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            (*p)(s, Some((index, count)))
        };
        let known = facts_of(input, &o, tell)?;
        // one share at a time from its rules to its free, the other loading and computing facts
        // meanwhile: two shares' findings and verdicts never held at once (PERF.md)
        let turn = judging.lock().unwrap_or_else(|e| e.into_inner());
        let mut audit = judge(known, tell);
        // the two spills side by side
        let (f, v) = (spill.file(&format!("findings-{index}")), spill.file(&format!("verdicts-{index}")));
        timing("spill the share's rows", || {
            std::thread::scope(|scope| {
                let theirs = scope.spawn(|| if verdicts { output::spill::spill_verdicts(&v, &audit) } else { Ok(()) });
                let mine = if findings { output::spill::spill_findings(&f, &audit.findings) } else { Ok(()) };
                mine.and(theirs.join().unwrap_or_else(|_| Err(Error::new("spilling: a worker thread panicked"))))
            })
        })?;
        let digest = Digest::of(&audit);
        digests.lock().unwrap_or_else(|e| e.into_inner()).add(index, digest);
        let done = ShareDone {
            rejects: std::mem::take(&mut audit.dump.rejects),
            findings: findings.then_some(f),
            verdicts: verdicts.then_some(v),
        };
        // (its pages kept for the next share: handing them back to the kernel cost 0.6-3.6 s of
        // page faults on the 10 M registration-heavy dump for no lower peak; PERF.md)
        timing("free the share", || drop(audit));
        drop(turn);
        Ok(done)
    };
    let done = at_once(count, SHARES_AT_ONCE, &one);
    let progress = progress.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut rejects = Vec::new();
    let (mut finding_spills, mut verdict_spills) = (Vec::new(), Vec::new());
    // the first failed share's error (every share before it was audited)
    for d in done {
        let mut d = d?;
        rejects.append(&mut d.rejects);
        finding_spills.extend(d.findings);
        verdict_spills.extend(d.verdicts);
    }
    let digest = digests.into_inner().unwrap_or_else(|e| e.into_inner()).all(count)?;
    if let Some((name, t)) = digest.summary.tables.iter().find(|(_, t)| !t.reconciled) {
        return Err(Error::internal(format!(
            "rows lost: {} ({name}): {} rows read, {} used, {} rejected over {count} shares",
            t.file, t.rows_read, t.rows_used, t.rows_rejected
        )));
    }
    dump::sort_rejects(&mut rejects);
    if opts.strict {
        // as the whole audit fails: at its first check, on the tables read before the streamed
        // price rows when they have rejects, else on all
        let before_prices: Vec<&dump::Reject> = rejects
            .iter()
            .filter(|r| !opts.stream_prices || !(r.table == "prices" || r.table.starts_with("prices/")))
            .collect();
        match (before_prices.first(), rejects.first()) {
            (Some(first), _) => return Err(strict_error(before_prices.len() as u64, first)),
            (None, Some(first)) => return Err(strict_error(rejects.len() as u64, first)),
            (None, None) => {}
        }
    }
    progress(Stage::Write, None);
    // the two merges side by side (each reads its own spills)
    let total = digest.summary.findings;
    let (found, verdicts) = std::thread::scope(|scope| {
        let verdicts = scope.spawn(|| {
            timing("write registrations (merged)", || {
                output::spill::write_verdicts(&verdict_spills, &spill, out, outputs)
            })
        });
        let found = timing("write findings (merged)", || {
            output::spill::write_findings(&finding_spills, &spill, out, outputs, total)
        });
        (found, verdicts.join().unwrap_or_else(|_| Err(Error::new("writing outputs: a worker thread panicked"))))
    });
    let mut paths = found?;
    paths.extend(verdicts?);
    paths.extend(timing("write outputs", || output::write_digest(&digest, &rejects, out, outputs))?);
    Ok(Written { digest, shares: count, paths, audit: None })
}

/// Shares audited at the same time ([`audit_into`]): two, each with half the registrations a
/// share audited alone would hold ([`plan_shares`]), so that memory holds as many registrations,
/// and one share's stages on one core (the registrations' facts, the free) leave the other core
/// to the other share. One share at a time goes from its rules to its free: the other loads and
/// computes its facts meanwhile, and two shares' findings and verdicts are never held at once
/// (without that turn the 10 M registration-heavy dump peaked anywhere from 0.77 to 0.99 GB;
/// PERF.md).
pub const SHARES_AT_ONCE: u32 = 2;

/// What the merge keeps of a share's audit.
struct ShareDone {
    rejects: Vec<dump::Reject>,
    findings: Option<PathBuf>,
    verdicts: Option<PathBuf>,
}

/// The shares' digests merged as they come, in share order: a share's digest is kept only until
/// the shares before it are in. (Each holds its share's counts per merchant, a few MB; all kept
/// to the end, they raised the run's peak with the number of shares: PERF.md.)
#[derive(Default)]
struct Digests {
    /// The shares merged: `0..next`.
    next: u32,
    merged: Option<output::digest::Digest>,
    /// Digests of shares past one not yet in.
    waiting: std::collections::BTreeMap<u32, output::digest::Digest>,
}

impl Digests {
    fn add(&mut self, share: u32, digest: output::digest::Digest) {
        self.waiting.insert(share, digest);
        while let Some(d) = self.waiting.remove(&self.next) {
            self.merged = output::digest::Digest::merge(self.merged.take().into_iter().chain([d]).collect());
            self.next += 1;
        }
    }

    /// The whole dump's digest, once each of the `count` shares is in.
    fn all(self, count: u32) -> Result<output::digest::Digest> {
        match self.merged {
            Some(d) if self.next == count && self.waiting.is_empty() => Ok(d),
            _ => Err(Error::internal(format!("{} of {count} shares' digests merged", self.next))),
        }
    }
}

/// `one(i)` for `i` in `0..count` on `threads` threads, each taking the next `i` when it is done
/// with one; the results in `i`'s order. After a failure no further `i` is begun, so the results
/// end with the first failure in `i`'s order (every `i` before it ran to its end).
fn at_once<T: Send>(count: u32, threads: u32, one: &(dyn Fn(u32) -> Result<T> + Sync)) -> Vec<Result<T>> {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let (next, failed) = (AtomicU32::new(0), AtomicBool::new(false));
    let slots: Vec<std::sync::Mutex<Option<Result<T>>>> = (0..count).map(|_| std::sync::Mutex::new(None)).collect();
    let work = || {
        while !failed.load(Ordering::SeqCst) {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= count {
                break;
            }
            let out = one(i);
            if out.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            *slots[i as usize].lock().unwrap_or_else(|e| e.into_inner()) = Some(out);
        }
    };
    std::thread::scope(|s| {
        let others: Vec<_> = (1..threads.max(1)).map(|_| s.spawn(work)).collect();
        work();
        for t in others {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
    });
    let mut out = Vec::new();
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(r) => {
                let stop = r.is_err();
                out.push(r);
                if stop {
                    break;
                }
            }
            // (none is missing before the first failure: each `i` was begun before any later one)
            None => {
                out.push(Err(Error::internal("a share was not audited")));
                break;
            }
        }
    }
    out
}

pub use runtime::{release_memory, timing};

/// `--fail-on`: which findings make the exit code 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The shares' digests merged as they come, whatever their order, are the shares' digests
    /// merged in share order (the summary and reports written from them, byte for byte): the
    /// merge holds one digest and those waiting for a share before them; a share never in is an
    /// error, not a summary short of its rows.
    #[test]
    fn digests_merged_as_they_come_are_merged_in_share_order() {
        use output::digest::Digest;
        let input = dump::Input::Dir("fixtures/conformance/basic".into());
        let opts = AuditOptions::default();
        let plan = std::sync::Arc::new(plan_shares(&input, &opts, Some(4), None).unwrap().expect("shares"));
        let parts: Vec<Digest> = (0..4)
            .map(|index| {
                let o = AuditOptions { share: Some(dump::Share { index, plan: plan.clone() }), ..opts.clone() };
                Digest::of(&audit_with(&input, &o, &mut |_| {}).unwrap())
            })
            .collect();
        // (each share has findings of its own)
        assert!(parts.iter().all(|d| d.summary.findings > 0));
        let outputs = output::Outputs::default();
        let written = |d: &Digest| {
            let out = tempfile::tempdir().unwrap();
            output::write_digest(d, &[], out.path(), &outputs).unwrap();
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.path())
                .unwrap()
                .flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
                .collect();
            files.sort();
            files
        };
        let in_order = written(&Digest::merge(parts.clone()).unwrap());
        assert!(in_order.iter().any(|(name, _)| name == "summary.json"), "{:?}", in_order.iter().map(|f| &f.0));
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
            let mut merged = Digests::default();
            for i in order {
                merged.add(i, parts[i as usize].clone());
            }
            // only the digests past a missing share wait
            assert!(merged.waiting.is_empty(), "{order:?}");
            assert!(written(&merged.all(4).unwrap()) == in_order, "{order:?}");
        }
        let mut short = Digests::default();
        for i in [0, 2, 3] {
            short.add(i, parts[i as usize].clone());
        }
        assert_eq!((short.next, short.waiting.len()), (1, 2));
        assert!(short.all(4).unwrap_err().message.contains("1 of 4 shares"));
        // every share in but the count more: an error too
        let mut all = Digests::default();
        for i in 0..4 {
            all.add(i, parts[i as usize].clone());
        }
        assert!(all.all(5).is_err());
    }

    /// Two threads, shares of uneven length: the results come in the shares' order, whichever
    /// ends first; a failure ends them with the first failed share's error (each share before it
    /// run to its end, one after it failing sooner not reported), and no share after the failure
    /// is begun once it is known.
    #[test]
    fn shares_at_once_end_in_order_at_the_first_failure() {
        // share i takes (i % 3) * 5 ms: later shares often end before earlier ones
        let slow = |i: u32| std::thread::sleep(std::time::Duration::from_millis(5 * (i % 3) as u64));
        let all = at_once(12, 2, &|i| {
            slow(i);
            Ok(i)
        });
        assert_eq!(all.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
        // share 5 fails slowly, share 6 at once: 5's error is the one reported
        let begun = AtomicU32::new(0);
        let some = at_once(40, 2, &|i| {
            begun.fetch_add(1, Ordering::SeqCst);
            match i {
                5 => {
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    Err(Error::new("five"))
                }
                6 => Err(Error::new("six")),
                _ => {
                    slow(i);
                    Ok(i)
                }
            }
        });
        assert_eq!(some.len(), 6, "shares 0-4 and the failure");
        for (i, r) in some.iter().take(5).enumerate() {
            assert_eq!(*r.as_ref().unwrap(), i as u32);
        }
        assert_eq!(some[5].as_ref().unwrap_err().message, "five");
        // (6 failed first: at most the share begun beside 5 after it, none of the other 33)
        assert!(begun.load(Ordering::SeqCst) <= 8, "{}", begun.load(Ordering::SeqCst));
        // one thread: in order, stopping at the failure
        let one = at_once(10, 1, &|i| if i == 3 { Err(Error::new("three")) } else { Ok(i) });
        assert_eq!(one.len(), 4);
        assert_eq!(one[3].as_ref().unwrap_err().message, "three");
    }
}
