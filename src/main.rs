//! Thin binary: parse arguments, call the library, map results to exit codes
//! (0 = no finding at or above --fail-on, 1 = such findings, 2 = usage or input error).

mod cli;

use clap::Parser;
use cli::{Cli, Command, FailOnArg};
use priceaudit::error::Error;
use priceaudit::{AuditOptions, FailOn};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("priceaudit: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Audit { dump_dir, out, config, tz, fail_on, strict, parquet, quiet } => {
            let opts = AuditOptions { config, tz, strict };
            let show = !quiet && std::io::stderr().is_terminal();
            let bar = show.then(|| {
                let pb = indicatif::ProgressBar::new_spinner();
                pb.enable_steady_tick(std::time::Duration::from_millis(120));
                pb
            });
            let mut progress = |s: priceaudit::Stage| {
                if let Some(pb) = &bar {
                    pb.set_message(match s {
                        priceaudit::Stage::Load => "loading and validating the dump",
                        priceaudit::Stage::Facts => "computing reference prices",
                        priceaudit::Stage::Rules => "evaluating rules",
                    });
                }
            };
            let audit = priceaudit::audit_with(&dump_dir, &opts, &mut progress)?;
            if let Some(pb) = &bar {
                pb.set_message("writing outputs");
            }
            priceaudit::output::write_all(&audit, &out, parquet)?;
            if let Some(pb) = bar {
                pb.finish_and_clear();
            }
            print!("{}", priceaudit::output::report::terminal(&audit, &out));
            let fail_on = match fail_on {
                FailOnArg::Error => FailOn::Error,
                FailOnArg::Warning => FailOn::Warning,
                FailOnArg::Never => FailOn::Never,
            };
            Ok(if fail_on.fails(&audit.findings) { 1 } else { 0 })
        }
        Command::Explain { .. } => Err(Error::new("explain: not implemented yet")),
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
