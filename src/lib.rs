//! priceaudit: a price-compliance auditor for e-commerce promotions.
//!
//! The data flows one way: a dump directory (or tables in memory, [`audit_frames`]) is loaded and
//! validated ([`dump`]), the reference facts are computed once per registration ([`facts`]),
//! every rule reads those facts ([`rules`]), and the findings are written ([`output`]). [`audit`] runs it all; the CLI and
//! the tests call it the same way.

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
use findings::{Finding, Severity};
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
    /// `explain` of this registration: read only what its derivation needs
    /// ([`dump::load`]); the rest of the audit is then not complete.
    pub focus: Option<String>,
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
        AuditOptions { config, tz, stream_prices: false, focus: registration, ..Default::default() }
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
    focus: Option<&str>,
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
}

/// [`audit`], telling `progress` when each stage starts.
pub fn audit_with(input: &dump::Input, opts: &AuditOptions, progress: &mut dyn FnMut(Stage)) -> Result<Audit> {
    let settings = settings(opts)?;
    progress(Stage::Load);
    let mut dump = timing("load (all tables)", || {
        load(input, &settings, opts.stream_prices, opts.focus.as_deref(), opts.share.as_ref())
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
    progress(Stage::Rules);
    let findings = timing("rules", || rules::evaluate(&facts, &settings));
    // the rules' scratch (in the worker threads' heaps) before the verdicts' allocations
    release_memory();
    // independent: side by side
    let (verdicts, mut summary) = timing("verdicts and summary", || {
        rayon::join(
            || verdict::verdicts(&facts, &findings, &settings),
            || summary::summarize(&dump, &facts, &findings, &settings),
        )
    });
    for v in &verdicts {
        *summary.verdicts.entry(v.verdict.as_str().to_string()).or_insert(0) += 1;
    }
    Ok(Audit { dump, settings, facts, findings, verdicts, summary })
}

/// `--strict`: any reject is fatal.
fn strict(opts: &AuditOptions, dump: &dump::Dump) -> Result<()> {
    if opts.strict && !dump.rejects.is_empty() {
        let r = &dump.rejects[0];
        return Err(Error::new(format!(
            "--strict: {} rejected row(s); first: {} line {} column `{}`: {} ({:?})",
            dump.rejects.len(),
            r.table,
            r.line,
            r.column,
            r.reason,
            r.value
        )));
    }
    Ok(())
}

pub use runtime::{release_memory, timing};

/// `--fail-on`: which findings make the exit code 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

impl FailOn {
    pub fn fails(self, findings: &[Finding]) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Warning => !findings.is_empty(),
            FailOn::Error => findings.iter().any(|f| f.severity == Severity::Error),
        }
    }
}
