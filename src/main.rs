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

/// During the price pass, show it on `pb` as a bar (rows checked of the source's rows, rate,
/// ETA); then back to a spinner. Returns once the pass is over.
fn pass_bar(pb: &indicatif::ProgressBar, rows: &priceaudit::dump::RowProgress, stage: &std::sync::atomic::AtomicU8) {
    use std::sync::atomic::Ordering::SeqCst;
    let tick = std::time::Duration::from_millis(100);
    while stage.load(SeqCst) == BEFORE_PASS {
        std::thread::sleep(tick);
    }
    // no total known (nothing streamed): the spinner stays
    let Some((_, Some(total))) = rows.get() else { return };
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} ({rate}, ETA {eta})",
    );
    if let Ok(s) = style {
        let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.2} M rows/s", s.per_sec() / 1e6);
        };
        pb.set_style(s.with_key("rate", rate).progress_chars("=> "));
    }
    pb.set_length(total);
    pb.reset_eta();
    while stage.load(SeqCst) == PASSING {
        if let Some((done, _)) = rows.get() {
            pb.set_position(done.min(total));
        }
        std::thread::sleep(tick);
    }
    pb.set_style(indicatif::ProgressStyle::default_spinner());
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Audit { dump_dir, out, config, tz, fail_on, strict, parquet, outputs, quiet } => {
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
            let mut progress = |s: priceaudit::Stage| {
                let now = match s {
                    priceaudit::Stage::Load => BEFORE_PASS,
                    priceaudit::Stage::Facts => PASSING,
                    priceaudit::Stage::Rules => AFTER_PASS,
                };
                stage.store(now, std::sync::atomic::Ordering::SeqCst);
                if let Some(pb) = &bar {
                    pb.set_message(match s {
                        priceaudit::Stage::Load => "loading and validating the dump",
                        priceaudit::Stage::Facts => "price rows",
                        priceaudit::Stage::Rules => "evaluating rules",
                    });
                }
            };
            let audit = priceaudit::audit_with(&priceaudit::dump::Input::Dir(dump_dir.clone()), &opts, &mut progress);
            stage.store(AFTER_PASS, std::sync::atomic::Ordering::SeqCst);
            if let Some(f) = follower {
                let _ = f.join();
            }
            let audit = audit?;
            if let Some(pb) = &bar {
                pb.set_message("writing outputs");
            }
            priceaudit::timing("write outputs", || priceaudit::output::write_all(&audit, &out, &outputs))?;
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            print!("{}", priceaudit::output::report::terminal_wrote(&audit, &out, &outputs));
            let fail_on = match fail_on {
                FailOnArg::Error => FailOn::Error,
                FailOnArg::Warning => FailOn::Warning,
                FailOnArg::Never => FailOn::Never,
            };
            let code = if fail_on.fails(&audit.findings) { 1 } else { 0 };
            // The process ends here: its memory goes back whole, without freeing a million
            // registrations' strings one by one.
            std::mem::forget(audit);
            Ok(code)
        }
        Command::Explain { dump_dir, registration, offer, sku, svg, config, tz, json } => {
            let audit = priceaudit::audit(&dump_dir, &AuditOptions::explain(config, tz, registration.clone()))?;
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
