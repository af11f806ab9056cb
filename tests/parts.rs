//! Issue 21 / SPEC §2: a table given as a directory of part files, as Spark, Hive and DuckDB
//! write tables: parts read in byte order of their relative paths (hive partition folders walked,
//! `_SUCCESS` and `.crc` skipped), `evidence_row` the 0-based row index over the parts, a reject
//! naming its part and its own line or row, the parts' physical types reconciled, a hive key the
//! table names read from the path. The findings equal the single-file dump's but for evidence rows.

mod common;
use polars::prelude::*;
use priceaudit::{audit, AuditOptions};
use std::path::Path;

fn findings_csv(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let a = audit(dir, &AuditOptions::default()).expect("audit");
    let bytes = priceaudit::output::findings_csv(&a.findings).unwrap();
    let mut r = csv_rows(&String::from_utf8(bytes).unwrap());
    r.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    r
}

/// CSV text → rows as maps (RFC 4180 quoting, enough for the findings file).
fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(text.as_bytes().to_vec()))
        .finish()
        .unwrap();
    (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.str().unwrap().get(i).unwrap_or("").to_string()))
                .collect()
        })
        .collect()
}

/// The demo's findings without the columns a row's place changes.
fn placeless(rows: &[std::collections::BTreeMap<String, String>]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .filter(|(k, _)| *k != "evidence_row" && *k != "message")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect();
    out.sort();
    out
}

fn copy_demo_except(dir: &Path, except: &str) {
    for t in ["prices", "registrations", "ladders", "retail", "merchants"] {
        if t != except {
            std::fs::copy(format!("fixtures/demo/{t}.csv"), dir.join(format!("{t}.csv"))).unwrap();
        }
    }
}

fn demo_price_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string("fixtures/demo/prices.csv").unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

#[test]
fn csv_parts_in_hive_folders_give_the_demo_findings() {
    let d = tempfile::tempdir().unwrap();
    copy_demo_except(d.path(), "prices");
    let (header, rows) = demo_price_lines();
    let p = d.path().join("prices");
    std::fs::create_dir_all(p.join("dt=2024-05")).unwrap();
    std::fs::create_dir_all(p.join("dt=2024-06")).unwrap();
    std::fs::create_dir_all(p.join("_temporary")).unwrap();
    // part 1: the first 20 rows with a blank line after the 10th (not a row)
    let mut first = vec![header.clone()];
    first.extend(rows[..10].iter().cloned());
    first.push(String::new());
    first.extend(rows[10..20].iter().cloned());
    std::fs::write(p.join("dt=2024-05/part-00000.csv"), first.join("\n") + "\n").unwrap();
    std::fs::write(p.join("dt=2024-06/part-00001.csv"), format!("{header}\n{}\n", rows[20..].join("\n"))).unwrap();
    std::fs::write(p.join("_SUCCESS"), "").unwrap();
    std::fs::write(p.join("dt=2024-05/.part-00000.csv.crc"), "junk").unwrap();
    std::fs::write(p.join("_temporary/part-9.csv"), "not,a,table\n").unwrap();

    let a = audit(d.path(), &AuditOptions::default()).expect("audit");
    let t = &a.summary.tables["prices"];
    assert_eq!((t.rows_read, t.rows_used, t.rows_rejected, t.blank_lines_skipped), (51, 51, 0, 1));
    assert_eq!((t.format, t.file.ends_with("prices")), ("csv", true));
    let demo = findings_csv(Path::new("fixtures/demo"));
    let parts = findings_csv(d.path());
    assert_eq!(placeless(&parts), placeless(&demo));
    // evidence rows: the 0-based index over the parts (the demo's CSV line − 2), blank lines
    // not counted
    let p101 = |rows: &[std::collections::BTreeMap<String, String>]| -> u64 {
        rows.iter().find(|r| r["rule"] == "P101" && r["registration_id"] == "R07").unwrap()["evidence_row"]
            .parse()
            .unwrap()
    };
    assert_eq!(p101(&parts), p101(&demo) - 2);
    let p110 = a.findings.iter().find(|f| f.rule == "P110").unwrap();
    let demo_a = audit(Path::new("fixtures/demo"), &AuditOptions::default()).unwrap();
    let p110_demo = demo_a.findings.iter().find(|f| f.rule == "P110").unwrap();
    assert_eq!(p110.evidence.as_ref().unwrap().row, p110_demo.evidence.as_ref().unwrap().row - 2);
    assert!(p110_demo.evidence.as_ref().unwrap().row > 12, "past the blank line of part 1");
}

#[test]
fn a_reject_names_its_part_and_its_own_line() {
    let d = tempfile::tempdir().unwrap();
    copy_demo_except(d.path(), "prices");
    let (header, rows) = demo_price_lines();
    let p = d.path().join("prices");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("part-0.csv"), format!("{header}\n{}\n", rows[..30].join("\n"))).unwrap();
    let mut second: Vec<String> = rows[30..].to_vec();
    second.insert(1, "O1,A,2024-05-20 10:00:00,1e3,txn,regular,,".into());
    std::fs::write(p.join("part-1.csv"), format!("{header}\n{}\n", second.join("\n"))).unwrap();
    let a = audit(d.path(), &AuditOptions::default()).expect("audit");
    let r: Vec<(&str, u64, &str)> =
        a.dump.rejects.iter().map(|r| (r.table.as_str(), r.line, r.column.as_str())).collect();
    assert_eq!(r, [("prices/part-1.csv", 3, "price")]);
    assert!(a.summary.reconciled);
    assert_eq!(a.summary.tables["prices"].rows_rejected, 1);
}

/// Parquet parts of other physical types (DECIMAL(18,2), DECIMAL(38,18) as Spark writes, text),
/// registrations split by a hive key the table names (`activity=…/`, the column absent from the
/// files), ladders with a part lacking an optional column.
#[test]
fn parquet_parts_of_other_types_and_a_hive_key() {
    let d = tempfile::tempdir().unwrap();
    copy_demo_except(d.path(), "prices");
    std::fs::remove_file(d.path().join("registrations.csv")).unwrap();
    let read = common::demo_text;
    let write = |df: &mut DataFrame, path: &Path| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(df).unwrap();
    };
    let prices = read("prices");
    let n = prices.height();
    let typed = |df: DataFrame, dt: DataType| df.lazy().with_column(col("price").cast(dt)).collect().unwrap();
    let p = d.path().join("prices");
    write(&mut typed(prices.slice(0, 17), DataType::Decimal(18, 2)), &p.join("part-00000.parquet"));
    write(&mut typed(prices.slice(17, 17), DataType::Decimal(38, 18)), &p.join("part-00001.parquet"));
    write(&mut prices.slice(34, n - 34), &p.join("part-00002.parquet"));
    let regs = read("registrations");
    let acts: Vec<String> = {
        let mut v: Vec<String> =
            regs.column("activity").unwrap().str().unwrap().iter().map(|s| s.unwrap().to_string()).collect();
        v.sort();
        v.dedup();
        v
    };
    for act in &acts {
        let mut part = regs
            .clone()
            .lazy()
            .filter(col("activity").eq(lit(act.as_str())))
            .drop(cols(["activity"]))
            .collect()
            .unwrap();
        write(&mut part, &d.path().join(format!("registrations/activity={act}/part-0.parquet")));
    }
    let a = audit(d.path(), &AuditOptions::default()).expect("audit");
    assert!(a.dump.rejects.is_empty(), "{:?}", a.dump.rejects.first());
    assert_eq!(a.summary.tables["prices"].rows_read, n as u64);
    assert_eq!(a.summary.tables["registrations"].rows_read, regs.height() as u64);
    let demo = findings_csv(Path::new("fixtures/demo"));
    let parts = findings_csv(d.path());
    // registration evidence rows move with the parts' order; every other field is the demo's
    assert_eq!(placeless(&parts), placeless(&demo));
    // a price row's evidence: its index over the parts (parts 0 and 1 hold 17 rows each)
    let demo_a = audit(Path::new("fixtures/demo"), &AuditOptions::default()).unwrap();
    for (f, g) in a.findings.iter().zip(&demo_a.findings) {
        if let (Some(e), Some(ge)) = (&f.evidence, &g.evidence) {
            if e.table == priceaudit::findings::Table::Prices {
                assert_eq!(e.row, ge.row - 2, "{} {}", f.rule, f.registration_id);
            }
        }
    }
}

#[test]
fn bad_directories_are_errors_naming_them() {
    let err = |setup: &dyn Fn(&Path)| {
        let d = tempfile::tempdir().unwrap();
        copy_demo_except(d.path(), "prices");
        setup(d.path());
        audit(d.path(), &AuditOptions::default()).err().expect("an error").message
    };
    let m = err(&|d| std::fs::create_dir_all(d.join("prices")).unwrap());
    assert!(m.contains("prices") && m.contains("no part files"), "{m}");
    let m = err(&|d| {
        std::fs::create_dir_all(d.join("prices")).unwrap();
        std::fs::copy("fixtures/demo/prices.csv", d.join("prices/a.csv")).unwrap();
        std::fs::copy("fixtures/demo/prices.csv", d.join("prices.csv")).unwrap();
    });
    assert!(m.contains("prices.csv and prices") && m.contains("keep one"), "{m}");
    let m = err(&|d| {
        std::fs::create_dir_all(d.join("prices")).unwrap();
        std::fs::copy("fixtures/demo/prices.csv", d.join("prices/a.csv")).unwrap();
        let mut df = df!("offer_id" => ["O1"]).unwrap();
        ParquetWriter::new(std::fs::File::create(d.join("prices/b.parquet")).unwrap()).finish(&mut df).unwrap();
    });
    assert!(m.contains("two formats"), "{m}");
    let m = err(&|d| {
        std::fs::create_dir_all(d.join("prices")).unwrap();
        std::fs::copy("fixtures/demo/prices.csv", d.join("prices/a.csv")).unwrap();
        std::fs::write(d.join("prices/b.csv"), "offer_id,sku_id,ts,price\nO1,A,2024-05-20,1\n").unwrap();
    });
    assert!(m.contains("b.csv") && m.contains("missing required column `kind`"), "{m}");
}

/// Parquet parts of one schema (read by one multi-file scan): the evidence rows are the rows'
/// index over the parts, equal to one file's of the same rows in the same order.
#[test]
fn parquet_parts_of_one_schema_number_rows_as_one_file() {
    let read = common::demo_text("prices");
    let (one, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [one.path(), parts.path()] {
        copy_demo_except(d, "prices");
    }
    let mut all = read.clone();
    ParquetWriter::new(std::fs::File::create(one.path().join("prices.parquet")).unwrap()).finish(&mut all).unwrap();
    std::fs::create_dir_all(parts.path().join("prices")).unwrap();
    let n = read.height() as i64;
    for (i, (from, len)) in [(0i64, 7usize), (7, 30), (37, (n - 37) as usize)].iter().enumerate() {
        let mut part = read.slice(*from, *len);
        let f = std::fs::File::create(parts.path().join(format!("prices/part-{i}.parquet"))).unwrap();
        ParquetWriter::new(f).finish(&mut part).unwrap();
    }
    let a = audit(one.path(), &AuditOptions::default()).unwrap();
    let b = audit(parts.path(), &AuditOptions::default()).unwrap();
    let rows = |a: &priceaudit::Audit| -> Vec<(String, String, Option<u64>)> {
        a.findings
            .iter()
            .map(|f| (f.rule.to_string(), f.registration_id.to_string(), f.evidence.as_ref().map(|e| e.row)))
            .collect()
    };
    assert_eq!(rows(&a), rows(&b));
    assert!(rows(&b).iter().any(|r| r.2.is_some_and(|x| x >= 37)), "evidence in the last part");
}

/// Categorical columns (pandas' `category`, polars' `Categorical`, pyarrow's dictionary arrays)
/// come back from a Parquet file's Arrow schema as categories. Every text column of every demo
/// table as a categorical audits as the same tables of plain text do: the same findings, evidence
/// rows and verdicts. (Once: "invalid series dtype: expected `String`, got `cat`", exit 2.)
#[test]
fn categorical_columns_read_as_their_text() {
    let (plain, cats) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for t in ["prices", "registrations", "ladders", "retail", "merchants"] {
        let df = common::demo_text(t);
        let cat = DataType::from_categories(polars::prelude::Categories::global());
        let mut as_cats = df
            .clone()
            .lazy()
            .with_columns(df.get_column_names().iter().map(|c| col(c.as_str()).cast(cat.clone())).collect::<Vec<_>>())
            .collect()
            .unwrap();
        assert!(as_cats.dtypes().iter().all(|d| matches!(d, DataType::Categorical(..))));
        let mut df = df;
        for (dir, frame) in [(plain.path(), &mut df), (cats.path(), &mut as_cats)] {
            let f = std::fs::File::create(dir.join(format!("{t}.parquet"))).unwrap();
            ParquetWriter::new(f).finish(frame).unwrap();
        }
    }
    // read back as categories (what the loader then turns into text)
    let prices = cats.path().join("prices.parquet");
    let back = LazyFrame::scan_parquet(PlRefPath::new(prices.to_str().unwrap()), Default::default())
        .unwrap()
        .collect_schema()
        .unwrap();
    assert!(matches!(back.get("channel"), Some(DataType::Categorical(..))), "{back:?}");
    let a = audit(plain.path(), &AuditOptions::default()).unwrap();
    let b = audit(cats.path(), &AuditOptions::default()).unwrap();
    assert!(a.findings.len() > 50);
    assert_eq!(a.findings, b.findings);
    let verdicts = |x: &priceaudit::Audit| x.verdicts.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>();
    assert_eq!(verdicts(&a), verdicts(&b));
}

/// String columns written as bare `BYTE_ARRAY` (no UTF8 annotation) read back as binary: every
/// text column of the price and registration tables as binary audits as the same tables of plain
/// text do, and a channel whose bytes are not UTF-8 stays visible (an unknown channel named with
/// U+FFFD), not a null read as `regular`. (Once: "expected `String`, got `binary`", exit 2.)
#[test]
fn binary_columns_read_as_their_text() {
    let (plain, bytes) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    copy_demo_except(plain.path(), "prices");
    copy_demo_except(bytes.path(), "prices");
    for t in ["prices", "registrations"] {
        let df = common::demo_text(t);
        let mut as_bytes = df
            .clone()
            .lazy()
            .with_columns(
                df.get_column_names().iter().map(|c| col(c.as_str()).cast(DataType::Binary)).collect::<Vec<_>>(),
            )
            .collect()
            .unwrap();
        assert!(as_bytes.dtypes().iter().all(|d| *d == DataType::Binary));
        let mut df = df;
        std::fs::remove_file(plain.path().join(format!("{t}.csv"))).ok();
        std::fs::remove_file(bytes.path().join(format!("{t}.csv"))).ok();
        for (dir, frame) in [(plain.path(), &mut df), (bytes.path(), &mut as_bytes)] {
            let f = std::fs::File::create(dir.join(format!("{t}.parquet"))).unwrap();
            ParquetWriter::new(f).finish(frame).unwrap();
        }
    }
    let a = audit(plain.path(), &AuditOptions::default()).unwrap();
    let b = audit(bytes.path(), &AuditOptions::default()).unwrap();
    assert!(a.findings.len() > 50);
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.dump.unknown_channels, b.dump.unknown_channels);

    // one price row's channel as bytes that are not UTF-8
    let prices = bytes.path().join("prices.parquet");
    let mut df = ParquetReader::new(std::fs::File::open(&prices).unwrap()).finish().unwrap();
    let channel: Vec<Option<Vec<u8>>> = df
        .column("channel")
        .unwrap()
        .binary()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| if i == 3 { Some(b"\xffweb".to_vec()) } else { v.map(|b| b.to_vec()) })
        .collect();
    let channel: BinaryChunked = channel.iter().map(|v| v.as_deref()).collect();
    df.with_column(channel.with_name("channel".into()).into_column()).unwrap();
    ParquetWriter::new(std::fs::File::create(&prices).unwrap()).finish(&mut df).unwrap();
    let c = audit(bytes.path(), &AuditOptions::default()).unwrap();
    assert!(
        c.dump.unknown_channels.iter().any(|(name, n)| name == "\u{FFFD}web" && *n == 1),
        "{:?}",
        c.dump.unknown_channels
    );
}

/// A dump Spark wrote with its defaults (`fixtures/spark-basic`: each table a directory of one part
/// file with `_SUCCESS` and Spark's hidden `.crc` files; timestamps as INT96 holding the UTC
/// instant, Spark's schema in each footer; from a session in America/Los_Angeles) audits as the
/// conformance dump it was written from: the findings and the verdicts, byte for byte (evidence
/// times included: read as naive local time they were 8 hours off).
#[test]
fn a_dump_spark_wrote_audits_as_its_reference() {
    let files = |dir: &Path| {
        let a = audit(dir, &AuditOptions::default()).expect("audit");
        let findings = priceaudit::output::findings_csv(&a.findings).unwrap();
        let verdicts = priceaudit::output::registrations_csv(&a.verdicts).unwrap();
        (a.findings.len(), findings, verdicts, a.dump.rejects.len())
    };
    let spark = Path::new("fixtures/spark-basic");
    for t in ["registrations", "ladders", "retail", "prices"] {
        let names: Vec<String> = std::fs::read_dir(spark.join(t))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "_SUCCESS") && names.iter().any(|n| n.ends_with(".crc")), "{t}: {names:?}");
    }
    let (n, findings, verdicts, rejects) = files(spark);
    let reference = files(Path::new("fixtures/conformance/basic-parquet"));
    assert!(n > 2000, "{n} findings");
    assert_eq!((n, rejects), (reference.0, reference.3));
    assert!(findings == reference.1, "findings differ");
    assert!(verdicts == reference.2, "verdicts differ");
}
