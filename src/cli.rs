//! The command line of SPEC §8 (clap definitions only).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "priceaudit", version, about = "Price-compliance auditor for e-commerce promotions")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOnArg {
    Error,
    Warning,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Audit a dump directory and write findings, rejects, summary and reports.
    Audit {
        /// Directory holding prices, registrations[, ladders, retail] as .csv or .parquet.
        dump_dir: PathBuf,
        /// Directory to write the outputs to (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// TOML config file overriding settings and adding profiles.
        #[arg(long)]
        config: Option<PathBuf>,
        /// IANA zone of naive timestamps (default: config `timezone`, else Asia/Shanghai).
        #[arg(long)]
        tz: Option<String>,
        /// Exit 1 when a finding at or above this severity exists.
        #[arg(long, value_enum, default_value = "error")]
        fail_on: FailOnArg,
        /// Any rejected row is fatal (exit 2).
        #[arg(long)]
        strict: bool,
        /// Also write findings.parquet.
        #[arg(long)]
        parquet: bool,
        /// The output files to write, comma-separated (default: findings.csv, findings.json,
        /// registrations.csv, registrations.json, rejects.csv, summary.json, report.md,
        /// report.html; also findings.parquet).
        #[arg(long, value_delimiter = ',')]
        outputs: Vec<String>,
        /// Audit the dump in this many shares, two at a time (whole components of offers and
        /// merchants each; the same output files): memory for two shares' registrations only.
        /// Default: whole, unless the dump has more registrations than a share holds (one per 64
        /// price rows, 100 000 to 2 000 000), then in shares of half that.
        #[arg(long)]
        shares: Option<u32>,
        /// No progress output on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show the whole derivation for one registration (or every registration of one SKU).
    Explain {
        dump_dir: PathBuf,
        #[arg(long, required_unless_present = "offer")]
        registration: Option<String>,
        /// Explain every registration of this offer (with --sku, of this SKU).
        #[arg(long)]
        offer: Option<String>,
        #[arg(long, requires = "offer")]
        sku: Option<String>,
        /// Write an SVG chart of the price history.
        #[arg(long)]
        svg: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        tz: Option<String>,
        /// Print the derivation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The rule catalog; with a code, that rule's full documentation.
    Rules {
        code: Option<String>,
        /// Print the catalog as the README's Markdown table.
        #[arg(long)]
        markdown: bool,
    },
    /// Every profile's effective settings.
    Profiles {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write a realistic synthetic dump.
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        offers: u64,
        #[arg(long, default_value_t = 200)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "csv")]
        format: SynthFormat,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthFormat {
    Csv,
    Parquet,
}
