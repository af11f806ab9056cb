//! Issue 21, Deliver 3 (memory bounded however many registrations): a dump audited in shares
//! (`dump::Share`: whole components of offers, merchants and registration ids) gives, put
//! together, the whole audit: the same findings, verdicts and rejects, and counts that add up to
//! the whole's. On the demo, the conformance dumps (bad rows included) and synthetic dumps in CSV
//! and Parquet with their rows shuffled, in 1, 2, 3 and 7 shares.

mod common;
use priceaudit::dump::{Input, Share};
use priceaudit::output::Outputs;
use priceaudit::{audit, audit_with, share_plan, AuditOptions};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Audit `dir` whole and in `count` shares; compare. Returns the registrations audited.
fn shares_are_the_whole(dir: &Path, count: u32) -> usize {
    let whole = audit(dir, &AuditOptions::default()).unwrap();
    let input = Input::Dir(dir.to_path_buf());
    let plan = Arc::new(share_plan(&input, &AuditOptions::default(), count).unwrap());
    let (mut findings, mut verdicts, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
    let mut used = std::collections::BTreeMap::<String, (u64, u64, u64)>::new();
    let mut registrations = Vec::new();
    for index in 0..count {
        let opts = AuditOptions {
            share: Some(Share { index, plan: plan.clone() }),
            horizon: whole.facts.horizon,
            ..Default::default()
        };
        let part = audit_with(&input, &opts, &mut |_| {}).unwrap();
        for t in &part.dump.tables {
            let e = used.entry(t.source.table.as_str().to_string()).or_default();
            e.0 += t.used;
            e.1 += t.rejected;
            e.2 = t.read;
        }
        registrations.extend(part.facts.registrations.iter().map(|r| r.row));
        findings.extend(part.findings);
        verdicts.extend(part.verdicts.iter().map(|v| v.cells_ref().map(|c| c.into_owned())));
        rejects.extend(part.dump.rejects);
    }
    let what = format!("{} in {count} shares", dir.display());
    // every registration in one share
    let mut rows: Vec<u64> = whole.facts.registrations.iter().map(|r| r.row).collect();
    rows.sort_unstable();
    registrations.sort_unstable();
    assert_eq!(registrations, rows, "{what}: registrations");
    priceaudit::findings::sort(&mut findings);
    assert_eq!(findings.len(), whole.findings.len(), "{what}: findings");
    assert!(findings == whole.findings, "{what}: findings differ");
    // verdicts: a registration's row of registrations.csv, whichever share it was in
    let mut want: Vec<[String; 21]> = whole.verdicts.iter().map(|v| v.cells_ref().map(|c| c.into_owned())).collect();
    want.sort();
    verdicts.sort();
    assert_eq!(verdicts, want, "{what}: verdicts");
    rejects.sort_by(|a, b| (&a.table, a.line, &a.column).cmp(&(&b.table, b.line, &b.column)));
    let (got, want) = (format!("{rejects:?}"), format!("{:?}", whole.dump.rejects));
    assert_eq!(got, want, "{what}: rejects");
    for t in &whole.dump.tables {
        let (u, r, read) = used[t.source.table.as_str()];
        assert_eq!((u, r, read), (t.used, t.rejected, t.read), "{what}: {} counts", t.source.table.as_str());
        assert_eq!(u + r, read, "{what}: {} reconciled over the shares", t.source.table.as_str());
    }
    rows.len()
}

fn in_shares(dir: &Path) -> usize {
    let n = shares_are_the_whole(dir, 1);
    for count in [2, 3, 7] {
        assert_eq!(shares_are_the_whole(dir, count), n);
    }
    files_in_shares_are_the_whole(dir);
    n
}

/// Every output file `audit_into` writes, by name.
fn files_written(dir: &Path, opts: &AuditOptions, shares: Option<u32>) -> (BTreeMap<String, Vec<u8>>, String, bool) {
    let input = Input::Dir(dir.to_path_buf());
    let out = tempfile::tempdir().unwrap();
    let outputs = Outputs::default().with("findings.parquet");
    let plan = priceaudit::plan_shares(&input, opts, shares, None).unwrap();
    assert_eq!(plan.as_ref().map_or(1, |p| p.count()), shares.unwrap_or(1));
    let w = priceaudit::audit_into(&input, opts, plan, out.path(), &outputs, &mut |_, _| {}).unwrap();
    assert_eq!(w.shares, shares.unwrap_or(1));
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(out.path()).unwrap().flatten() {
        files.insert(e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap());
    }
    let terminal = priceaudit::output::report::terminal_of(&w.digest, Path::new("OUT"), &outputs);
    (files, terminal, w.digest.fails(priceaudit::FailOn::Error))
}

/// The files an audit in shares writes (findings and verdicts merged from the shares' spills,
/// the summary and reports from their merged digests) are the whole audit's, byte for byte;
/// nothing else is left in the directory.
fn files_in_shares_are_the_whole(dir: &Path) {
    let opts = AuditOptions::default();
    let (whole, terminal, fails) = files_written(dir, &opts, None);
    assert_eq!(whole.len(), 9, "{}: every file, nothing else: {:?}", dir.display(), whole.keys());
    for count in [2, 3, 7] {
        let (files, t, f) = files_written(dir, &opts, Some(count));
        assert_eq!(files.keys().collect::<Vec<_>>(), whole.keys().collect::<Vec<_>>(), "{}", dir.display());
        for (name, bytes) in &whole {
            assert!(files[name] == *bytes, "{} in {count} shares: {name} differs", dir.display());
        }
        assert_eq!(t, terminal, "{} in {count} shares: the terminal summary", dir.display());
        assert_eq!(f, fails, "{}: --fail-on", dir.display());
    }
}

#[test]
fn shares_are_the_whole_audit_on_the_demo_and_conformance_dumps() {
    assert_eq!(in_shares(Path::new("fixtures/demo")), 42);
    for d in ["fixtures/conformance/basic", "fixtures/conformance/basic-parquet", "fixtures/conformance/bad-rows"] {
        assert!(in_shares(Path::new(d)) > 10, "{d}");
    }
}

/// Bad inputs (empty and duplicate keys, ragged rows, BOM and quoted newlines, bad money and
/// times): every dump of `fixtures/bad` that audits, in shares too.
#[test]
fn shares_are_the_whole_audit_on_bad_inputs() {
    let mut audited = 0;
    let mut dirs: Vec<_> = std::fs::read_dir("fixtures/bad").unwrap().flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs.into_iter().filter(|d| d.is_dir()) {
        if audit(&d, &AuditOptions::default()).is_ok() {
            in_shares(&d);
            audited += 1;
        }
    }
    assert!(audited >= 12, "{audited}");
}

/// A CSV file's columns, all as text.
fn csv_text(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

/// Keys of other types than text (integer offers in one table, text in another; float merchant
/// ids): shared as the validation reads them.
#[test]
fn shares_of_keys_that_are_numbers() {
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 40, 60, 23, priceaudit::synth::Format::Csv).unwrap();
    // offers as digits in every table (an integer column in `prices`), merchants as integers
    let digits = |c: &str| col(c).str().replace_all(lit("[^0-9]"), lit(""), false).alias(c);
    let int = |c: &str| digits(c).cast(DataType::Int64).alias(c);
    let tables: [(&str, Vec<Expr>); 4] = [
        ("prices", vec![int("offer_id")]),
        ("registrations", vec![digits("offer_id"), int("merchant_id")]),
        ("ladders", vec![digits("offer_id")]),
        ("retail", vec![digits("offer_id")]),
    ];
    for (table, cast) in tables {
        let csv = d.path().join(format!("{table}.csv"));
        let mut df = csv_text(&csv).lazy().with_columns(cast).collect().unwrap();
        std::fs::remove_file(&csv).unwrap();
        let f = std::fs::File::create(d.path().join(format!("{table}.parquet"))).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    }
    let whole = audit(d.path(), &AuditOptions::default()).unwrap();
    assert!(whole.findings.iter().any(|f| f.rule.starts_with('P')), "prices still match registrations");
    assert!(in_shares(d.path()) > 20);
}

#[test]
fn shares_are_the_whole_audit_on_shuffled_synthetic_dumps() {
    for (format, seed) in [(priceaudit::synth::Format::Parquet, 21), (priceaudit::synth::Format::Csv, 22)] {
        let d = tempfile::tempdir().unwrap();
        priceaudit::synth::synth(d.path(), 80, 90, seed, format).unwrap();
        if format == priceaudit::synth::Format::Csv {
            // rows of one offer scattered through the files
            for table in ["prices", "registrations"] {
                let path = d.path().join(format!("{table}.csv"));
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines: Vec<&str> = text.lines().collect();
                let header = lines.remove(0);
                let mut keyed: Vec<(u64, &str)> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11, *l))
                    .collect();
                keyed.sort();
                let shuffled: Vec<&str> = std::iter::once(header).chain(keyed.into_iter().map(|(_, l)| l)).collect();
                std::fs::write(&path, shuffled.join("\n") + "\n").unwrap();
            }
        }
        assert!(in_shares(d.path()) > 40);
    }
}

/// A Parquet dump's other tables are split once for all shares (`dump::split_tables`): each
/// share's file holds the rows its filter keeps, in the table's order, with their row numbers in
/// the table; and the audit in shares, which reads them, writes the whole audit's files, rejected
/// rows (quoted from the split files) included. Tables of text columns and of integer keys, with a
/// price that is no number, an empty offer and a repeated registration id.
#[test]
fn parquet_side_tables_are_split_once_for_the_shares() {
    use polars::prelude::*;
    use priceaudit::findings::Table;
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 60, 60, 31, priceaudit::synth::Format::Csv).unwrap();
    for table in ["prices", "registrations", "ladders", "retail", "merchants"] {
        let csv = d.path().join(format!("{table}.csv"));
        let df = csv_text(&csv);
        let at =
            |i: u32, v: &str, c: &str| when(col("i").eq(lit(i))).then(lit(v.to_string())).otherwise(col(c)).alias(c);
        let mut df = match table {
            "registrations" => {
                let bad = df
                    .lazy()
                    .with_row_index("i", None)
                    .with_columns([at(3, "abc", "promo_price"), at(5, "", "offer_id")])
                    .drop(cols(["i"]))
                    .collect()
                    .unwrap();
                // row 7's id again at the end (a duplicate, rejected)
                let again = bad.slice(7, 1);
                bad.vstack(&again).unwrap()
            }
            // integer ladder offers (the split reads the key as text, as the validation does)
            "ladders" => df.lazy().with_columns([col("offer_id").cast(DataType::Int64)]).collect().unwrap(),
            _ => df,
        };
        std::fs::remove_file(&csv).unwrap();
        let f = std::fs::File::create(d.path().join(format!("{table}.parquet"))).unwrap();
        ParquetWriter::new(f).with_row_group_size(Some(97)).finish(&mut df).unwrap();
    }
    let whole = audit(d.path(), &AuditOptions::default()).unwrap();
    assert!(whole.dump.rejects.iter().filter(|r| r.table == "registrations").count() >= 3);
    let input = Input::Dir(d.path().to_path_buf());
    let count = 5;
    let plan = share_plan(&input, &AuditOptions::default(), count).unwrap();
    let spill = tempfile::tempdir().unwrap();
    let split = priceaudit::dump::split_tables(&input, &plan, spill.path());
    let tables: Vec<Table> = split.iter().map(|(t, _)| *t).collect();
    assert_eq!(tables, [Table::Registrations, Table::Ladders, Table::Retail, Table::Merchants]);
    for (t, paths) in &split {
        let rows = whole.dump.tables.iter().find(|l| l.source.table == *t).unwrap().read;
        let key = if *t == Table::Merchants { "merchant_id" } else { "offer_id" };
        let mut every = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            let df = ParquetReader::new(std::fs::File::open(p).unwrap()).finish().unwrap();
            let rn: Vec<u64> =
                df.column("rn").unwrap().cast(&DataType::UInt64).unwrap().u64().unwrap().into_no_null_iter().collect();
            assert!(rn.windows(2).all(|w| w[0] < w[1]), "{t:?} share {i}: the table's order");
            let keys = df.column(key).unwrap().cast(&DataType::String).unwrap();
            for k in keys.str().unwrap().iter() {
                assert_eq!(plan.share_of(*t, k.unwrap_or_default()), i as u32, "{t:?} share {i}: {k:?}");
            }
            every.extend(rn);
        }
        every.sort_unstable();
        assert_eq!(every, (0..rows).collect::<Vec<_>>(), "{t:?}: every row in one share");
    }
    files_in_shares_are_the_whole(d.path());
}

/// A share holds what it says: its registrations' offers and merchants are its own, and every
/// share of a dump of several components holds fewer registrations than the whole.
#[test]
fn a_share_holds_whole_components() {
    let dir = Path::new("fixtures/demo");
    let input = Input::Dir(dir.to_path_buf());
    let plan = Arc::new(share_plan(&input, &AuditOptions::default(), 3).unwrap());
    let mut sizes = Vec::new();
    for index in 0..3 {
        let opts = AuditOptions { share: Some(Share { index, plan: plan.clone() }), ..Default::default() };
        let part = audit_with(&input, &opts, &mut |_| {}).unwrap();
        for r in &part.facts.registrations {
            assert_eq!(plan.share_of(priceaudit::findings::Table::Prices, &r.offer_id), index);
            if !r.merchant_id.is_empty() {
                assert_eq!(plan.share_of(priceaudit::findings::Table::Merchants, &r.merchant_id), index);
            }
        }
        sizes.push(part.facts.registrations.len());
    }
    assert_eq!(sizes.iter().sum::<usize>(), 42);
    assert!(sizes.iter().all(|&n| n < 42), "{sizes:?}");
}

/// Keys that link across offers: a registration id used again on other offers by other merchants
/// (the later rows are duplicates, rejected, in whatever share the first is), and merchants
/// registering several offers. Shares that missed a link would keep a duplicate or split a
/// merchant's fatigue.
#[test]
fn linked_registration_ids_and_merchants_share() {
    let line = |id: &str, offer: &str, merchant: &str, start: &str| {
        format!("{id},{offer},A,{merchant},huopin,,2024-06-01 10:00:00,,{start},2024-06-30 10:00:00,,9,20,,,,,,,,")
    };
    let mut regs = Vec::new();
    let mut prices = Vec::new();
    for i in 0..12 {
        regs.push(line(&format!("R{i}"), &format!("O{i}"), &format!("M{i}"), "2024-06-06 10:00:00"));
        prices.push(format!("O{i},A,2024-05-01 00:00:00,12,list,regular,"));
        prices.push(format!("O{i},A,2024-05-20 00:00:00,{},txn,regular,", 8 + i % 3));
    }
    // the ids R3, R4, R5 again, on offers O20–O22 of merchants M20–M22
    for (i, j) in [(3, 20), (4, 21), (5, 22)] {
        regs.push(line(&format!("R{i}"), &format!("O{j}"), &format!("M{j}"), "2024-06-07 10:00:00"));
        prices.push(format!("O{j},A,2024-05-01 00:00:00,12,list,regular,"));
    }
    // merchant M7 on two more offers (its fatigue and duplicate listings read all three)
    for j in [30, 31] {
        regs.push(line(&format!("R{j}"), &format!("O{j}"), "M7", "2024-06-06 10:00:00"));
        prices.push(format!("O{j},A,2024-05-01 00:00:00,12,list,regular,"));
    }
    let refs = |v: &Vec<String>| v.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    let d = common::TinyDump::new(&[refs(&prices).as_str()], &[refs(&regs).as_str()]);
    let whole = d.audit();
    let dups = whole.dump.rejects.iter().filter(|r| r.reason.contains("duplicate registration_id")).count();
    assert_eq!(dups, 3);
    assert_eq!(in_shares(d.path()), 14);
}

/// How many shares: as asked (1: whole), else whole when the registration rows fit a share of
/// `per_share`, and shares of half that when not (two audited at a time); a small dump is whole
/// without its registrations read.
#[test]
fn shares_planned_from_the_registration_rows() {
    let input = Input::Dir("fixtures/demo".into());
    let opts = AuditOptions::default();
    let count = |asked, per_share: u64| {
        priceaudit::plan_shares(&input, &opts, asked, Some(per_share))
            .unwrap()
            .map(|p| (p.count(), p.registration_rows()))
    };
    assert_eq!(count(None, 42), None, "42 registrations, 42 per share");
    assert_eq!(count(None, 41), Some((2, 42)), "shares of 21");
    assert_eq!(count(None, 10), Some((9, 42)), "shares of 5");
    assert_eq!(count(None, 11), Some((7, 42)), "shares of 6");
    assert_eq!(count(None, 1), Some((42, 42)));
    assert_eq!(count(Some(1), 1), None);
    assert_eq!(count(Some(3), 1), Some((3, 42)));
    assert!(priceaudit::plan_shares(&input, &opts, Some(0), None).is_err());
    // chosen from the dump: 42 registrations are under a share's least
    assert!(priceaudit::plan_shares(&input, &opts, None, None).unwrap().is_none());
}

/// A share's registrations as the price rows set them: one per 64 price rows, at least 100 000
/// and at most 2 000 000.
#[test]
fn share_size_follows_the_price_rows() {
    use priceaudit::share_registrations as size;
    assert_eq!(size(0), 100_000);
    assert_eq!(size(64 * 100_000 - 1), 100_000);
    assert_eq!(size(64 * 100_000), 100_000);
    assert_eq!(size(64 * 100_001), 100_001);
    assert_eq!(size(10_000_000), 156_250);
    assert_eq!(size(100_000_000), 1_562_500);
    assert_eq!(size(64 * 2_000_000), 2_000_000);
    assert_eq!(size(64 * 2_000_000 + 64), 2_000_000);
    assert_eq!(size(u64::MAX), 2_000_000);
}

/// `--strict` in shares fails as the whole audit does, with its message (the whole audit stops at
/// its first check that meets a reject: the tables read before the streamed price rows, else all),
/// and no output written: on rejects in several tables (ladders first in `rejects.csv`'s order),
/// in `registrations` and `prices` (where `prices` sorts first), and in `prices` alone.
#[test]
fn strict_in_shares_is_the_whole_audits_error() {
    let reg = |id: &str, offer: &str, price: &str| {
        format!("{id},{offer},A,M{offer},huopin,,2024-06-01 10:00:00,,2024-06-06 10:00:00,2024-06-30 10:00:00,,{price},20,,,,,,,,")
    };
    let mut regs: Vec<String> = (0..6).map(|i| reg(&format!("R{i}"), &format!("O{i}"), "9")).collect();
    let mut prices: Vec<String> = (0..6).map(|i| format!("O{i},A,2024-05-01 00:00:00,12,list,regular,")).collect();
    prices.push("O4,A,2024-05-02 00:00:00,not-a-price,txn,regular,".into());
    prices.push("O1,A,2024-05-03 00:00:00,-3,txn,regular,".into());
    let lines = |v: &Vec<String>| v.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    let prices_only = common::TinyDump::new(&[lines(&prices).as_str()], &[lines(&regs).as_str()]);
    regs.push(reg("R9", "O5", "nine"));
    let regs_and_prices = common::TinyDump::new(&[lines(&prices).as_str()], &[lines(&regs).as_str()]);
    let dumps = [Path::new("fixtures/conformance/bad-rows"), regs_and_prices.path(), prices_only.path()];
    let mut firsts = Vec::new();
    for dir in dumps {
        let input = Input::Dir(dir.to_path_buf());
        let opts = AuditOptions { strict: true, ..Default::default() };
        let mut errors = Vec::new();
        for shares in [None, Some(2), Some(5)] {
            let out = tempfile::tempdir().unwrap();
            let plan = priceaudit::plan_shares(&input, &opts, shares, None).unwrap();
            let e = priceaudit::audit_into(&input, &opts, plan, out.path(), &Outputs::default(), &mut |_, _| {});
            errors.push(e.err().expect("rejects are fatal").to_string());
            assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
        }
        assert!(errors[0].starts_with("--strict: "), "{}", errors[0]);
        assert_eq!(errors[1], errors[0], "{}", dir.display());
        assert_eq!(errors[2], errors[0], "{}", dir.display());
        firsts.push(errors[0].clone());
    }
    assert!(firsts[1].starts_with("--strict: 1 rejected row(s); first: registrations "), "{}", firsts[1]);
    assert!(firsts[2].starts_with("--strict: 2 rejected row(s); first: prices "), "{}", firsts[2]);
    // a run in shares that fails leaves no directory it made
    let out = tempfile::tempdir().unwrap();
    let missing = out.path().join("new");
    let input = Input::Dir(dumps[1].to_path_buf());
    let opts = AuditOptions { strict: true, ..Default::default() };
    let plan = priceaudit::plan_shares(&input, &opts, Some(3), None).unwrap();
    assert!(priceaudit::audit_into(&input, &opts, plan, &missing, &Outputs::default(), &mut |_, _| {}).is_err());
    assert!(!missing.exists());
}

/// The price rows that size the shares: a Parquet table's footer count; a CSV table's bytes over
/// 54 (an estimate: no byte scan of a large table to size shares).
#[test]
fn price_rows_from_the_footer_or_the_csv_bytes() {
    use priceaudit::dump::{price_rows_hint, CSV_BYTES_PER_PRICE_ROW};
    let csv = Path::new("fixtures/conformance/basic");
    let bytes = std::fs::metadata(csv.join("prices.csv")).unwrap().len();
    assert_eq!(price_rows_hint(&Input::Dir(csv.into())).unwrap(), Some(bytes / CSV_BYTES_PER_PRICE_ROW));
    let parquet = Path::new("fixtures/conformance/basic-parquet");
    let read = audit(parquet, &AuditOptions::default())
        .unwrap()
        .dump
        .tables
        .iter()
        .find(|t| t.source.table == priceaudit::findings::Table::Prices)
        .unwrap()
        .read;
    assert_eq!(price_rows_hint(&Input::Dir(parquet.into())).unwrap(), Some(read));
}

/// What a killed run left in the output directory (its spill directory, an output file half
/// written) is removed by the next audit into it, whole or in shares; what a live process is
/// writing there is left alone.
#[test]
fn leftovers_of_a_killed_run_are_swept() {
    let input = Input::Dir(Path::new("fixtures/demo").to_path_buf());
    let opts = AuditOptions::default();
    // a process that has exited: its pid names nothing alive now
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let live = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    for shares in [None, Some(2)] {
        let out = tempfile::tempdir().unwrap();
        let spill = out.path().join(format!(".priceaudit-shares-{dead}"));
        std::fs::create_dir(&spill).unwrap();
        std::fs::write(spill.join("findings-0"), b"x").unwrap();
        std::fs::write(out.path().join(format!(".findings.csv.tmp-{dead}")), b"half").unwrap();
        let theirs = out.path().join(format!(".findings.json.tmp-{}", live.id()));
        std::fs::write(&theirs, b"being written").unwrap();
        let mine = out.path().join(format!(".notes.tmp-{dead}"));
        std::fs::write(&mine, b"not ours").unwrap();
        let plan = priceaudit::plan_shares(&input, &opts, shares, None).unwrap();
        priceaudit::audit_into(&input, &opts, plan, out.path(), &Outputs::default(), &mut |_, _| {}).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        left.sort();
        assert_eq!(left, [format!(".findings.json.tmp-{}", live.id()), format!(".notes.tmp-{dead}")], "{shares:?}");
    }
    let mut live = live;
    let _ = live.kill();
    let _ = live.wait();
}

/// A dump of many registrations is audited in shares whose price rows are written apart in one
/// pass (`dump::split_prices`): each share's file holds exactly the rows of the price table whose
/// offer is in the share, each once, with its raw values and its `rn` in the whole table; and the
/// files an audit in shares writes from them are the whole audit's, byte for byte. On price
/// tables pyarrow wrote in six encodings (dictionary pages going on in plain pages, data page
/// v2 with nulls, plain `large_string`, delta, sorted, INT64 ids), synth's table with its rows
/// shuffled, and a table of parts. A CSV table is not split (each share reads it whole).
#[test]
fn shares_read_their_price_rows_written_apart() {
    use polars::prelude::*;
    let basic = Path::new("fixtures/conformance/basic");
    let dumps: Vec<tempfile::TempDir> = common::basic_with_pyarrow_prices().into_iter().map(|(_, d)| d).collect();
    let synth = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(synth.path(), 60, 90, 31, priceaudit::synth::Format::Parquet).unwrap();
    let path = synth.path().join("prices.parquet");
    let mut df = polars::prelude::ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
    let n = df.height() as u64;
    let mut keyed: Vec<(u64, u64)> = (0..n).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11, i)).collect();
    keyed.sort_unstable();
    let scattered: Vec<IdxSize> = keyed.into_iter().map(|(_, i)| i as IdxSize).collect();
    assert_eq!(scattered.len() as u64, n);
    df = df.take(&IdxCa::from_vec("i".into(), scattered)).unwrap();
    // as parts of a table directory, in 3 files of small row groups
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(synth.path().join("prices")).unwrap();
    let third = df.height() / 3 + 1;
    for (i, at) in (0..df.height()).step_by(third).enumerate() {
        let mut part = df.slice(at as i64, third);
        let f = std::fs::File::create(synth.path().join(format!("prices/part-{i}.parquet"))).unwrap();
        ParquetWriter::new(f).with_row_group_size(Some(700)).finish(&mut part).unwrap();
    }
    let tz = priceaudit::time::zone("Asia/Shanghai").unwrap();
    let paths: Vec<&Path> = dumps.iter().map(|d| d.path()).chain([synth.path()]).collect();
    for dir in paths {
        let input = Input::Dir(dir.to_path_buf());
        // the whole table as the audit reads it: each row's rn and offer
        let whole = audit(dir, &AuditOptions { stream_prices: false, ..Default::default() }).unwrap();
        let rows = whole.dump.tables.iter().find(|t| t.source.table.as_str() == "prices").unwrap().read;
        for count in [2u32, 5] {
            let plan = share_plan(&input, &AuditOptions::default(), count).unwrap();
            let out = tempfile::tempdir().unwrap();
            let spills = priceaudit::dump::split_prices(&input, tz, &plan, out.path()).unwrap();
            let spills = spills.unwrap_or_else(|| panic!("{}: the price table is split", dir.display()));
            assert_eq!(spills.len(), count as usize);
            let mut seen: Vec<u32> = Vec::new();
            for (index, spill) in spills.iter().enumerate() {
                let part = ParquetReader::new(std::fs::File::open(spill).unwrap()).finish().unwrap();
                let rn = part.column("rn").unwrap().idx().unwrap().clone();
                let offers = part.column("offer_id").unwrap().cast(&DataType::String).unwrap();
                for (r, o) in rn.into_no_null_iter().zip(offers.str().unwrap().iter()) {
                    let o = o.unwrap_or_default();
                    assert_eq!(plan.share_of(priceaudit::findings::Table::Prices, o), index as u32, "{o}");
                    seen.push(r);
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..rows as u32).collect::<Vec<_>>(), "{}: every row in one share, once", dir.display());
        }
        files_in_shares_are_the_whole(dir);
    }
    // CSV: not split
    let plan = share_plan(&Input::Dir(basic.into()), &AuditOptions::default(), 3).unwrap();
    let out = tempfile::tempdir().unwrap();
    assert!(priceaudit::dump::split_prices(&Input::Dir(basic.into()), tz, &plan, out.path()).unwrap().is_none());
}
