//! Thin binary: parse arguments, call the library, map results to exit codes
//! (0 = no finding at or above --fail-on, 1 = such findings, 2 = usage or input error).

mod cli;

use clap::Parser;
use cli::{Cli, Command, FailOnArg};
use priceaudit::error::{Error, ErrorKind};
use priceaudit::{AuditOptions, FailOn};
use std::io::IsTerminal;
use std::process::ExitCode;

// glibc malloc returns polars' large buffers to the kernel and faults them back in (page
// zeroing dominated the profile); mimalloc reuses them. Measurements: PERF.md.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dump_dir = match &cli.command {
        Command::Audit { dump_dir, .. } | Command::Explain { dump_dir, .. } => Some(dump_dir.as_path()),
        _ => None,
    };
    // before any other thread exists (main has only parsed its arguments)
    priceaudit::runtime::start(dump_dir);
    // A panic is a broken invariant (e.g. a decimal overflow that the loader's domain should have
    // made impossible): the hook has printed it; the run ends with exit 2 and no outputs, never
    // with a wrapped number in them.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            // SPEC §7: 2 for usage and input errors; a config, write or internal error ends the
            // run the same way (an internal one says so in its message: "internal error: …")
            let code = match e.kind {
                ErrorKind::Input | ErrorKind::Config | ErrorKind::Io | ErrorKind::Internal => 2,
            };
            eprintln!("priceaudit: error: {e}");
            ExitCode::from(code)
        }
        Err(_) => {
            eprintln!("priceaudit: error: internal error (a bug in priceaudit; the message above says where)");
            ExitCode::from(2)
        }
    }
}

/// The audit's stage as the progress bar follows it.
const BEFORE_PASS: u8 = 0;
const PASSING: u8 = 1;
const AFTER_PASS: u8 = 2;
const DONE: u8 = 3;

/// During the price passes, show them on `pb` as a bar (rows checked of the source's rows, rate,
/// ETA; an audit in shares passes over each share's rows, which `rows` adds up); between them, a
/// spinner. Returns once the audit is `DONE`.
fn pass_bar(pb: &indicatif::ProgressBar, rows: &priceaudit::dump::RowProgress, stage: &std::sync::atomic::AtomicU8) {
    use std::sync::atomic::Ordering::SeqCst;
    let tick = std::time::Duration::from_millis(100);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} ({rate}, ETA {eta})",
    )
    .ok()
    .map(|s| {
        let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.2} M rows/s", s.per_sec() / 1e6);
        };
        s.with_key("rate", rate).progress_chars("=> ")
    });
    let (mut shown, mut started) = (false, false);
    loop {
        let now = stage.load(SeqCst);
        // no total known (nothing streamed): the spinner stays
        let seen = rows.get().and_then(|(done, total)| total.map(|t| (done, t)));
        match (now, seen) {
            (PASSING, Some((done, total))) => {
                if !shown {
                    if let Some(s) = &style {
                        pb.set_style(s.clone());
                    }
                    pb.set_length(total);
                    if !started {
                        pb.reset_eta();
                        started = true;
                    }
                    shown = true;
                }
                pb.set_position(done.min(total));
            }
            (PASSING, None) => {}
            _ if shown => {
                pb.set_style(indicatif::ProgressStyle::default_spinner());
                shown = false;
            }
            _ => {}
        }
        if now == DONE {
            return;
        }
        std::thread::sleep(tick);
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Audit { dump_dir, out, config, tz, fail_on, strict, parquet, outputs, shares, quiet } => {
            let outputs = if outputs.is_empty() {
                priceaudit::output::Outputs::default()
            } else {
                priceaudit::output::Outputs::parse(&outputs)?
            };
            let outputs = if parquet { outputs.with("findings.parquet") } else { outputs };
            let rows = std::sync::Arc::new(priceaudit::dump::RowProgress::default());
            let opts = AuditOptions {
                progress: Some(rows.clone()),
                ..AuditOptions { config, tz, strict, ..Default::default() }
            };
            let show = !quiet && std::io::stderr().is_terminal();
            let bar = show.then(|| {
                let pb = indicatif::ProgressBar::new_spinner();
                pb.enable_steady_tick(std::time::Duration::from_millis(120));
                pb
            });
            // the price pass: a bar of rows checked of the source's rows, with rate and ETA
            let stage = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(BEFORE_PASS));
            let follower = bar.clone().map(|pb| {
                let (rows, stage) = (rows.clone(), stage.clone());
                std::thread::spawn(move || pass_bar(&pb, &rows, &stage))
            });
            // (shares in their price pass: two may be at once)
            let mut passing = std::collections::BTreeSet::new();
            let mut progress = |s: priceaudit::Stage, share: Option<(u32, u32)>| {
                let who = share.map(|(i, _)| i);
                if s == priceaudit::Stage::Facts {
                    passing.insert(who);
                } else {
                    passing.remove(&who);
                }
                let now = match s {
                    _ if !passing.is_empty() => PASSING,
                    priceaudit::Stage::Load => BEFORE_PASS,
                    _ => AFTER_PASS,
                };
                stage.store(now, std::sync::atomic::Ordering::SeqCst);
                if let Some(pb) = &bar {
                    let what = match s {
                        priceaudit::Stage::Load => "loading and validating the dump",
                        priceaudit::Stage::Facts => "price rows",
                        priceaudit::Stage::Rules => "evaluating rules",
                        priceaudit::Stage::Write => "writing outputs",
                    };
                    pb.set_message(match share {
                        Some((i, n)) => format!("share {} of {n}: {what}", i + 1),
                        None => what.to_string(),
                    });
                }
            };
            let input = priceaudit::dump::Input::Dir(dump_dir.clone());
            let written = priceaudit::plan_shares(&input, &opts, shares, None)
                .and_then(|plan| priceaudit::audit_into(&input, &opts, plan, &out, &outputs, &mut progress));
            stage.store(DONE, std::sync::atomic::Ordering::SeqCst);
            if let Some(f) = follower {
                let _ = f.join();
            }
            let written = written?;
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            print!("{}", priceaudit::output::report::terminal_of(&written.digest, &out, &outputs));
            let fail_on = match fail_on {
                FailOnArg::Error => FailOn::Error,
                FailOnArg::Warning => FailOn::Warning,
                FailOnArg::Never => FailOn::Never,
            };
            let code = if written.digest.fails(fail_on) { 1 } else { 0 };
            // The process ends here: its memory goes back whole, without freeing a million
            // registrations' strings one by one.
            std::mem::forget(written);
            Ok(code)
        }
        Command::Explain { dump_dir, registration, offer, sku, svg, config, tz, json } => {
            // (a registration's, or its offer's: only what their derivations read)
            let opts = match (&registration, &offer) {
                (None, Some(o)) => AuditOptions::explain_offer(config, tz, o.clone()),
                _ => AuditOptions::explain(config, tz, registration.clone()),
            };
            let audit = priceaudit::audit(&dump_dir, &opts)?;
            let ids = match (&registration, &offer) {
                (Some(id), _) => vec![id.clone()],
                (None, Some(o)) => priceaudit::explain::registrations_of(&audit, o, sku.as_deref()),
                (None, None) => vec![],
            };
            if ids.is_empty() {
                return Err(Error::new("explain: no registration of that offer/SKU in the dump"));
            }
            let mut all = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let e = priceaudit::explain::explain(&audit, id)?;
                if let Some(path) = &svg {
                    let path = if ids.len() > 1 {
                        path.with_file_name(format!(
                            "{}-{id}.svg",
                            path.file_stem().unwrap_or_default().to_string_lossy()
                        ))
                    } else {
                        path.clone()
                    };
                    std::fs::write(&path, priceaudit::explain::svg::render(&e.chart))
                        .map_err(|err| Error::new(format!("{}: {err}", path.display())))?;
                    if !json {
                        println!("wrote {}", path.display());
                    }
                }
                if json {
                    all.push(e);
                } else {
                    if i > 0 {
                        println!("\n{}\n", "─".repeat(80));
                    }
                    print!("{}", priceaudit::explain::text(&e));
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all).map_err(|e| Error::new(e.to_string()))?);
            }
            Ok(0)
        }
        Command::Rules { code, markdown } => {
            print!("{}", priceaudit::output::report::rules_catalog(code.as_deref(), markdown)?);
            Ok(0)
        }
        Command::Profiles { config } => {
            let s = priceaudit::settings(&AuditOptions { config, ..Default::default() })?;
            print!("{}", priceaudit::output::report::profiles(&s));
            Ok(0)
        }
        Command::Synth { out, offers, days, seed, format } => {
            let format = match format {
                cli::SynthFormat::Csv => priceaudit::synth::Format::Csv,
                cli::SynthFormat::Parquet => priceaudit::synth::Format::Parquet,
            };
            let s = priceaudit::synth::synth(&out, offers, days, seed, format)?;
            println!(
                "wrote {}: {} price rows, {} registrations, {} ladder tiers, {} retail rows",
                out.display(),
                s.prices,
                s.registrations,
                s.ladders,
                s.retail
            );
            Ok(0)
        }
    }
}
