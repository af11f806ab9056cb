//! Issue 21: the price pass reads a Parquet row group in pieces, so that what it holds does not
//! grow with the writer's row-group size: by default on priceaudit's own threads
//! (`src/dump/pieces.rs`), with `PRICEAUDIT_PRICE_SCAN=polars` on polars' streaming scan
//! (vendor/polars-stream); `POLARS_PARQUET_DECODE_MAX_ROWS` sets the piece size for both. The
//! pieces are slices of the row group: an audit reading the row groups in pieces of a few rows
//! writes the same bytes, every file, as one reading them whole (the evidence rows and the
//! rejects' lines included), and the two ways of reading give the same bytes.

mod common;

use polars::prelude::*;
use std::path::Path;
use std::process::Command;

/// Audit `dump` with the CLI, row groups decoded in pieces of at most `max_rows` rows (0:
/// whole); the output directory's files by name, and how many row groups the pass unpacked once
/// for their pieces (`src/dump/unpacked.rs`).
fn audit_in_pieces(dump: &Path, max_rows: usize) -> (Vec<(String, Vec<u8>)>, usize) {
    let (files, how) = audit_with(dump, &[("POLARS_PARQUET_DECODE_MAX_ROWS", &max_rows.to_string())], &[]);
    let line = how.lines().find(|l| l.contains("row groups unpacked once")).expect("the pass's line");
    let count = line.rsplit(": ").next().and_then(|l| l.split_whitespace().next());
    (files, count.and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("{line}")))
}

#[test]
fn row_groups_read_in_pieces_give_the_same_outputs() {
    let dump = tempfile::tempdir().unwrap();
    for t in ["ladders", "retail", "merchants"] {
        std::fs::copy(format!("fixtures/demo/{t}.csv"), dump.path().join(format!("{t}.csv"))).unwrap();
    }
    // the prices with a bad row in the middle (a reject, named by its row), one row group each
    let prices = common::demo_text("prices");
    let bad = df!(
        "offer_id" => ["O1"], "sku_id" => ["A"], "ts" => ["2024-05-12 10:00:00"], "price" => ["x"],
        "kind" => ["txn"], "channel" => ["regular"], "until" => [None::<&str>], "qty" => [None::<&str>]
    )
    .unwrap();
    let mut prices = prices.slice(0, 20).vstack(&bad).unwrap().vstack(&prices.slice(20, usize::MAX)).unwrap();
    let mut regs = common::demo_text("registrations");
    assert!(prices.height() > 40 && regs.height() > 40);
    for (name, df) in [("prices", &mut prices), ("registrations", &mut regs)] {
        let f = std::fs::File::create(dump.path().join(format!("{name}.parquet"))).unwrap();
        ParquetWriter::new(f).with_row_group_size(Some(1 << 20)).finish(df).unwrap();
    }

    let (whole, unpacked) = audit_in_pieces(dump.path(), 0);
    assert_eq!(unpacked, 0);
    let text = |name: &str| String::from_utf8(whole.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap();
    // the bad row is rejected by its place (record 20, counted from 0: after 20 good ones)
    let rejects = text("rejects.csv");
    assert!(rejects.lines().count() == 2 && rejects.contains("prices,20,price,"), "{rejects}");
    // findings quote price rows from the whole table: evidence from beyond the first pieces
    let findings = text("findings.csv");
    assert!(findings.lines().count() > 10, "{findings}");
    let json = text("findings.json");
    let rows: Vec<u64> = json
        .split("\"evidence_row\":")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert!(rows.iter().any(|&r| r > 40), "evidence rows {rows:?}");

    for max_rows in [1, 4, 7] {
        // the table's one row group (compressed, cut into pieces) decompressed once for them
        let (pieces, unpacked) = audit_in_pieces(dump.path(), max_rows);
        assert_eq!(unpacked, 1);
        assert_eq!(pieces.len(), whole.len());
        for ((n, a), (m, b)) in whole.iter().zip(&pieces) {
            assert_eq!(n, m);
            assert!(a == b, "{n} differs with pieces of {max_rows} rows");
        }
    }
}

/// Audit `dump` with the CLI (`env` set for that run), returning its output files by name and its
/// stderr (`PRICEAUDIT_TIMINGS=2` there says how the price pass read the table).
fn audit_with(dump: &Path, env: &[(&str, &str)], extra: &[&str]) -> (Vec<(String, Vec<u8>)>, String) {
    let out = tempfile::tempdir().unwrap();
    audit_from(None, dump, out.path(), env, extra)
}

/// [`audit_with`] from the directory `cwd` (when given; `dump` and `out` may then be relative to
/// it), into `out`.
fn audit_from(
    cwd: Option<&Path>,
    dump: &Path,
    out: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Vec<(String, Vec<u8>)>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_priceaudit"));
    if let Some(d) = cwd {
        command.current_dir(d);
    }
    let run = command
        .envs(env.iter().copied())
        .env("PRICEAUDIT_TIMINGS", "2")
        .args(["audit", dump.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-on", "never"])
        .args(["--quiet"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(cwd.map_or(out.to_path_buf(), |d| d.join(out)))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    (files, stderr)
}

/// Audit `dump` by default (`env` set) and by polars' reader (`PRICEAUDIT_PRICE_SCAN=polars`):
/// the price pass went the way `expected` says, then polars' way, and every output file is the
/// same bytes both ways. The default run's files.
fn same_both_ways(
    name: &str,
    dump: &Path,
    env: &[(&str, &str)],
    extra: &[&str],
    expected: &str,
) -> Vec<(String, Vec<u8>)> {
    let (pieces, how) = audit_with(dump, env, extra);
    assert_eq!(price_pass(&how), expected, "{name}");
    let polars_env: Vec<(&str, &str)> = env.iter().copied().chain([("PRICEAUDIT_PRICE_SCAN", "polars")]).collect();
    let (read, how) = audit_with(dump, &polars_env, extra);
    assert_eq!(price_pass(&how), "streamed", "{name}");
    assert_eq!(pieces.len(), read.len(), "{name}");
    for ((a, x), (b, y)) in pieces.iter().zip(&read) {
        assert_eq!(a, b);
        assert!(x == y, "{name}: {a} differs between the piece reader and polars' reader");
    }
    pieces
}

/// How the price pass read the table, from the timing line (`read in pieces`, `streamed`).
fn price_pass(stderr: &str) -> &str {
    let line = stderr.lines().find(|l| l.contains("prices") && l.contains("one pass")).expect("the pass's line");
    if line.contains("(read in pieces)") {
        "read in pieces"
    } else if line.contains("(streamed)") {
        "streamed"
    } else {
        panic!("{line}")
    }
}

/// The price table of the conformance dump in `src` as text (every column a string).
fn text_prices(src: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(src.join("prices.csv")))
        .unwrap()
        .finish()
        .unwrap()
}

/// `text` typed as warehouses store it: naive timestamps (the wall time of every ISO form:
/// offsets dropped, `T` as a space), DECIMAL(18,2) money; what does not convert is null (missing,
/// then rejected as such).
fn typed_prices(text: &DataFrame) -> DataFrame {
    let naive = |e: Expr| {
        let strict = StrptimeOptions { format: Some("%Y-%m-%d %H:%M:%S".into()), strict: false, ..Default::default() };
        let wall = e.str().slice(lit(0), lit(19)).str().replace_all(lit("T"), lit(" "), true);
        wall.str().to_datetime(Some(TimeUnit::Microseconds), None, strict, lit("raise"))
    };
    text.clone()
        .lazy()
        .with_columns([naive(col("ts")), naive(col("until")), col("price").cast(DataType::Decimal(18, 2))])
        .collect()
        .unwrap()
}

/// The price pass reads Parquet prices in pieces on its own threads (`src/dump/pieces.rs`), the
/// plan swapped onto each piece; polars' streaming scan (`PRICEAUDIT_PRICE_SCAN=polars`) is the
/// other way. Both give the same bytes, every output file, on price tables of many shapes: the
/// conformance dump with bad rows (rejected rows among the pieces) written as text, typed,
/// categorical (`kind` and `channel`; every text column, the keys too: read as text), with
/// small row groups and small data pages (pieces across pages), as parts, as a pyarrow file
/// (conformance's `basic-parquet`), as pyarrow's `DELTA_BYTE_ARRAY` ids, in shares; a hive key
/// the table names (a union of scans) is read by polars' scan, as before.
#[test]
fn pieces_and_polars_scan_give_the_same_outputs() {
    let src = Path::new("fixtures/conformance/bad-rows");
    let text = text_prices(src);
    let n = text.height();
    assert!(n > 8000, "{n}");
    // typed (`qty` absent)
    let typed = typed_prices(&text);
    let converted = typed.column("ts").unwrap().len() - typed.column("ts").unwrap().null_count();
    assert!(converted > n * 9 / 10, "{converted} of {n} timestamps typed");
    let cats = typed
        .clone()
        .lazy()
        .with_columns([
            col("kind").cast(DataType::from_categories(Categories::global())),
            col("channel").cast(DataType::from_categories(Categories::global())),
        ])
        .collect()
        .unwrap();
    // every text column categorical (pandas' `category` throughout), keys and all
    let all_cats = typed
        .clone()
        .lazy()
        .with_columns(
            ["offer_id", "sku_id", "kind", "channel"]
                .map(|c| col(c).cast(DataType::from_categories(Categories::global()))),
        )
        .collect()
        .unwrap();
    let write = |df: &DataFrame, path: &Path, rows: usize, page: Option<usize>, c: ParquetCompression| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut df = df.clone();
        ParquetWriter::new(std::fs::File::create(path).unwrap())
            .with_row_group_size(Some(rows))
            .with_data_page_size(page)
            .with_compression(c)
            .finish(&mut df)
            .unwrap();
    };
    // the dump's other tables as they are
    let dump = || {
        let d = tempfile::tempdir().unwrap();
        for t in ["registrations", "ladders", "retail"] {
            std::fs::copy(src.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
        }
        d
    };
    let snappy = ParquetCompression::Snappy;
    let zstd = ParquetCompression::Zstd(None);
    let mut cases: Vec<(&str, tempfile::TempDir, &str, Vec<&str>, &str)> = Vec::new();
    // (name, dump, piece rows, extra CLI args, expected pass)
    let d = dump();
    write(&text, &d.path().join("prices.parquet"), 997, Some(1024), ParquetCompression::Uncompressed);
    cases.push(("text, 997-row groups, 1 KB pages, pieces of 13", d, "13", vec![], "read in pieces"));
    let d = dump();
    write(&typed, &d.path().join("prices.parquet"), 3000, None, snappy);
    cases.push(("typed, 3000-row groups", d, "262144", vec![], "read in pieces"));
    let d = dump();
    write(&typed, &d.path().join("prices.parquet"), 1 << 20, Some(2048), zstd);
    cases.push(("typed, one row group, 2 KB pages, pieces of 500", d, "500", vec![], "read in pieces"));
    let d = dump();
    write(&cats, &d.path().join("prices.parquet"), 1000, None, zstd);
    cases.push(("categorical kind and channel", d, "333", vec![], "read in pieces"));
    let d = dump();
    write(&all_cats, &d.path().join("prices.parquet"), 5000, Some(4096), snappy);
    cases.push(("every text column categorical, one row group cut", d, "700", vec![], "read in pieces"));
    let d = dump();
    let p = d.path().join("prices");
    write(&typed.slice(0, 2500), &p.join("part-00000.parquet"), 700, None, snappy);
    write(&typed.slice(2500, 10), &p.join("part-00001.parquet"), 700, None, snappy);
    write(&typed.slice(2510, n), &p.join("part-00002.parquet"), 700, None, snappy);
    std::fs::write(p.join("_SUCCESS"), "").unwrap();
    cases.push(("three parts, row groups joined across them", d, "8000", vec![], "read in pieces"));
    let d = dump();
    write(&typed, &d.path().join("prices.parquet"), 1500, None, snappy);
    cases.push(("in three shares", d, "400", vec!["--shares", "3"], "read in pieces"));
    let d = tempfile::tempdir().unwrap();
    for t in ["registrations", "ladders", "retail", "prices"] {
        let f = format!("{t}.parquet");
        std::fs::copy(Path::new("fixtures/conformance/basic-parquet").join(&f), d.path().join(&f)).unwrap();
    }
    cases.push(("pyarrow's file (conformance basic-parquet), pieces of 1000", d, "1000", vec![], "read in pieces"));
    // `offer_id` in DELTA_BYTE_ARRAY pages (a page's values decoded at once: pieces begin inside
    // pages, past values decoded and skipped)
    let (_, d) = common::basic_with_pyarrow_prices().into_iter().find(|(v, _)| *v == "basic-delta").unwrap();
    cases.push((
        "pyarrow's delta-encoded ids (offer-pages basic-delta), pieces of 333",
        d,
        "333",
        vec![],
        "read in pieces",
    ));
    // a hive key the table names (`kind=…/`, the column not in the files): a union of scans
    let d = dump();
    for kind in ["list", "txn"] {
        let part = typed.clone().lazy().filter(col("kind").eq(lit(kind))).drop(cols(["kind"])).collect().unwrap();
        write(&part, &d.path().join(format!("prices/kind={kind}/part-0.parquet")), 1000, None, snappy);
    }
    cases.push(("hive key `kind`", d, "262144", vec![], "streamed"));

    for (name, d, rows, extra, expected) in &cases {
        let env = [("POLARS_PARQUET_DECODE_MAX_ROWS", *rows)];
        let pieces = same_both_ways(name, d.path(), &env, extra, expected);
        // rejects and findings both present: the comparison covers both paths of a batch
        let file = |f: &str| String::from_utf8(pieces.iter().find(|(n, _)| n == f).unwrap().1.clone()).unwrap();
        assert!(file("findings.csv").lines().count() > 100, "{name}");
        if !name.starts_with("pyarrow") {
            assert!(file("rejects.csv").lines().filter(|l| l.starts_with("prices")).count() >= 10, "{name}");
        }
    }
}

/// A row group past the unpacking bound (48 MB uncompressed) whose columns are each one page, as
/// DuckDB writes them: the columns of large pages are unpacked once for the row group's pieces
/// (`src/dump/unpacked.rs`), and the audit writes the bytes polars' scan gives; the same rows in
/// 64 KB pages are read as stored (each piece decompresses only its pages), the same bytes again.
#[test]
fn a_large_row_group_of_one_page_columns_is_unpacked() {
    let src = Path::new("fixtures/conformance/basic");
    let text = text_prices(src);
    let n = text.height();
    let typed = typed_prices(&text);
    // (the few forms that do not convert are null: rejected rows, in every copy)
    assert!(typed.column("ts").unwrap().null_count() < n / 10);
    // copies a second and a cent apart (distinct values: stored plainly, not as a dictionary)
    let copies = (4_000_000 / n + 1) as i64;
    let shifted: Vec<LazyFrame> = (0..copies)
        .map(|k| {
            let us = col("ts").cast(DataType::Int64) - lit(k * 1_000_000);
            let cents = col("price").cast(DataType::Int64) + lit(k);
            typed.clone().lazy().with_columns([
                us.cast(DataType::Datetime(TimeUnit::Microseconds, None)).alias("ts"),
                (cents.cast(DataType::Decimal(18, 0)) / lit(100)).cast(DataType::Decimal(18, 2)).alias("price"),
            ])
        })
        .collect();
    let mut prices = concat(shifted, UnionArgs::default()).unwrap().collect().unwrap();
    let mut dump = |page: usize| {
        let d = tempfile::tempdir().unwrap();
        for t in ["registrations", "ladders", "retail"] {
            std::fs::copy(src.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
        }
        let path = d.path().join("prices.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .with_row_group_size(Some(1 << 23))
            .with_data_page_size(Some(page))
            .with_compression(ParquetCompression::Snappy)
            .finish(&mut prices)
            .unwrap();
        let md = polars_parquet::read::read_metadata(&mut std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(md.row_groups.len(), 1);
        let bytes: i64 = md.row_groups[0].parquet_columns().iter().map(|c| c.uncompressed_size()).sum();
        assert!(bytes > 48 << 20, "{bytes} bytes: within the bound");
        d
    };
    let one_page = dump(1 << 30);
    let (files, unpacked) = audit_in_pieces(one_page.path(), 262144);
    assert_eq!(unpacked, 1);
    let both = same_both_ways("one-page columns", one_page.path(), &[], &[], "read in pieces");
    let small_pages = dump(64 << 10);
    let (stored, unpacked) = audit_in_pieces(small_pages.path(), 262144);
    assert_eq!(unpacked, 0);
    let findings = &files.iter().find(|(n, _)| n == "findings.csv").unwrap().1;
    assert!(findings.iter().filter(|b| **b == b'\n').count() > 1000);
    // (the reports name the dump's directory)
    let named = |bytes: &[u8], d: &tempfile::TempDir| {
        String::from_utf8_lossy(bytes).replace(d.path().to_str().unwrap(), "DUMP").into_bytes()
    };
    for ((a, x), ((b, y), (c, z))) in files.iter().zip(both.iter().zip(&stored)) {
        assert!(a == b && a == c);
        assert!(x == y, "{a} differs from polars' scan's");
        assert!(named(x, &one_page) == named(z, &small_pages), "{a} differs from the small pages'");
    }
}

/// The conformance dump `basic-parquet` with its price table (and registrations, when given)
/// replaced, as `dump/` of a directory of its own, audited from there into `out/` (the reports
/// name the dump's path): the output files by name and the stderr.
fn audit_basic_with(
    prices: &Path,
    registrations: Option<&Path>,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Vec<(String, Vec<u8>)>, String) {
    let reference = Path::new("fixtures/conformance/basic-parquet");
    let parent = tempfile::tempdir().unwrap();
    let dump = parent.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    for t in ["ladders", "retail"] {
        let name = format!("{t}.parquet");
        std::fs::copy(reference.join(&name), dump.join(&name)).unwrap();
    }
    let registrations = registrations.map_or(reference.join("registrations.parquet"), Path::to_path_buf);
    std::fs::copy(registrations, dump.join("registrations.parquet")).unwrap();
    std::fs::copy(prices, dump.join("prices.parquet")).unwrap();
    audit_from(Some(parent.path()), Path::new("dump"), Path::new("out"), env, extra)
}

/// Each way the audit reads a price table: in pieces, by polars' scan, in shares (each share's
/// rows written apart in the scan's types and read back).
const READ_WAYS: [(&str, &[(&str, &str)], &[&str]); 3] = [
    ("whole", &[], &[]),
    ("by polars' scan", &[("PRICEAUDIT_PRICE_SCAN", "polars")], &[]),
    ("in 3 shares", &[], &["--shares", "3"]),
];

/// Price tables other writers wrote in other physical types for the same instants and amounts
/// (`fixtures/offer-pages/typed-*`, by pyarrow: nanoseconds with a zone; INT96 and naive
/// milliseconds of the Shanghai wall time, format 1.0, gzip; DECIMAL(18,10) stored as INT64;
/// DECIMAL(28,10) as fixed bytes with large strings, no dictionaries, no statistics; row groups
/// of 50 to all rows; by Spark: INT96 of a session in another zone; its version-2 writer, the
/// decimals' dictionary pages going on in DELTA_BYTE_ARRAY) audit as the conformance dump they
/// were written from (`basic-parquet`: UTC microseconds, DECIMAL(38,10)), every file byte for
/// byte, each way it can be read ([`READ_WAYS`]).
#[test]
fn typed_price_tables_of_other_writers_audit_as_their_reference() {
    let reference = Path::new("fixtures/conformance/basic-parquet");
    let audit = |prices: &Path, env: &[(&str, &str)], extra: &[&str]| audit_basic_with(prices, None, env, extra);
    let (want, stderr) = audit(&reference.join("prices.parquet"), &[], &[]);
    assert_eq!(price_pass(&stderr), "read in pieces");
    assert_eq!(want.len(), 8);
    let findings = &want.iter().find(|(n, _)| n == "findings.csv").unwrap().1;
    assert!(findings.iter().filter(|b| **b == b'\n').count() > 2000);
    for variant in [
        "typed-ns-zoned",
        "typed-int96",
        "typed-spark-int96",
        "typed-ms-naive-v1",
        "typed-dec-int64",
        "typed-dec28-zstd",
        "typed-spark-v2",
    ] {
        let prices = Path::new("fixtures/offer-pages").join(variant).join("prices.parquet");
        for (how, env, extra) in READ_WAYS {
            let (got, stderr) = audit(&prices, env, extra);
            assert_eq!(got.len(), want.len(), "{variant} {how}");
            for ((n, a), (m, b)) in want.iter().zip(&got) {
                assert_eq!(n, m);
                assert!(a == b, "{variant} {how}: {n} differs\n{stderr}");
            }
        }
    }
}

/// Decimals stored as fixed-size bytes in the two encodings polars' published decoder refused
/// (`vendor/polars-parquet.patch`), in `fixtures/offer-pages/typed-dec-encodings` (pyarrow):
/// BYTE_STREAM_SPLIT (DECIMAL(38,10), data page v2, 1 KB pages, the timestamps split too) and
/// DELTA_BYTE_ARRAY (DECIMAL(20,10), 9 bytes a value) audit as the same rows written plainly,
/// every file byte for byte, each way the table is read ([`READ_WAYS`]). Every 97th price is
/// null there (a rejected row each), so the pages' values sit between definition levels. The
/// registrations with their three decimal columns split the same way audit as `basic-parquet`'s.
#[test]
fn fixed_size_decimals_in_other_encodings_audit_as_plain() {
    let dir = Path::new("fixtures/offer-pages/typed-dec-encodings");
    let text = |files: &[(String, Vec<u8>)], f: &str| {
        String::from_utf8(files.iter().find(|(n, _)| n == f).unwrap().1.clone()).unwrap()
    };
    let same = |want: &[(String, Vec<u8>)], got: &[(String, Vec<u8>)], what: &str, stderr: &str| {
        assert_eq!(got.len(), want.len(), "{what}");
        for ((n, a), (m, b)) in want.iter().zip(got) {
            assert_eq!(n, m);
            assert!(a == b, "{what}: {n} differs\n{stderr}");
        }
    };
    let (want, stderr) = audit_basic_with(&dir.join("plain.parquet"), None, &[], &[]);
    assert_eq!(price_pass(&stderr), "read in pieces");
    // records 5, 102, 199, …: 88 of the 8454 rows have no price
    let rejects = text(&want, "rejects.csv");
    let no_price: Vec<&str> = rejects.lines().filter(|l| l.starts_with("prices,")).collect();
    assert_eq!(no_price.len(), 88, "{rejects}");
    assert!(no_price[0].starts_with("prices,5,price,") && no_price[1].starts_with("prices,102,price,"), "{rejects}");
    assert!(text(&want, "findings.csv").lines().count() > 2000);
    for name in ["bss.parquet", "delta20.parquet"] {
        for (how, env, extra) in READ_WAYS {
            let (got, stderr) = audit_basic_with(&dir.join(name), None, env, extra);
            same(&want, &got, &format!("{name} {how}"), &stderr);
        }
    }
    let basic = Path::new("fixtures/conformance/basic-parquet/prices.parquet");
    let (want, _) = audit_basic_with(basic, None, &[], &[]);
    let (got, stderr) = audit_basic_with(basic, Some(&dir.join("registrations-bss.parquet")), &[], &[]);
    same(&want, &got, "registrations-bss.parquet", &stderr);
}

/// A CSV price file is parsed in pieces on priceaudit's threads too (`src/dump/csv_pieces.rs`)
/// when the byte scan found its quoting regular; polars' CSV reader
/// (`PRICEAUDIT_PRICE_SCAN=polars`) is the other way. Both give the same bytes, every output
/// file: the conformance dump with bad rows as written (one quoted field with a comma), the same
/// rows with every field quoted and `\r\n` line ends (as pandas' `QUOTE_ALL` writes them), the
/// rows as a directory of three parts, and (read by polars' reader) a file with a lone `\r`
/// inside a field, which is not regular, and parts whose columns come in different orders.
#[test]
fn csv_pieces_and_polars_reader_give_the_same_outputs() {
    let src = Path::new("fixtures/conformance/bad-rows");
    let dump = |prices: &[u8]| {
        let d = tempfile::tempdir().unwrap();
        for t in ["ladders", "registrations", "retail"] {
            std::fs::copy(src.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
        }
        std::fs::write(d.path().join("prices.csv"), prices).unwrap();
        d
    };
    let text = std::fs::read(src.join("prices.csv")).unwrap();
    let mut quoted = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&text[..]).records() {
        quoted.write_record(&r.unwrap()).unwrap();
    }
    let quoted = quoted.into_inner().unwrap();
    assert!(quoted.starts_with(b"\"offer_id\",\"sku_id\"") && quoted.windows(2).any(|w| w == b"\r\n"));
    let odd = String::from_utf8(text.clone()).unwrap().replacen(",trial,", ",tri\ral,", 1);
    // the rows as a directory of three CSV parts (each with the header), and the same with the
    // last part's columns in another order (the parts are then cast to one schema: polars' reader)
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&text[..])
        .records()
        .map(|r| r.unwrap())
        .collect();
    let part = |rows: &[csv::StringRecord], order: &[usize]| {
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        for r in rows {
            let fields: Vec<&str> = order.iter().filter_map(|&i| r.get(i)).collect();
            w.write_record(&fields).unwrap();
        }
        w.into_inner().unwrap()
    };
    let width = rows[0].len();
    let same: Vec<usize> = (0..width).collect();
    let turned: Vec<usize> = (0..width).rev().collect();
    let third = rows.len() / 3;
    let with_header = |from: usize, to: usize| [&rows[..1], &rows[from..to]].concat();
    let parts_dump = |last: &[usize]| {
        let d = tempfile::tempdir().unwrap();
        for t in ["ladders", "registrations", "retail"] {
            std::fs::copy(src.join(format!("{t}.csv")), d.path().join(format!("{t}.csv"))).unwrap();
        }
        std::fs::create_dir_all(d.path().join("prices")).unwrap();
        let write = |n: usize, rows: Vec<csv::StringRecord>, order: &[usize]| {
            std::fs::write(d.path().join(format!("prices/part-0000{n}.csv")), part(&rows, order)).unwrap()
        };
        write(0, with_header(1, third), &same);
        write(1, with_header(third, 2 * third), &same);
        write(2, with_header(2 * third, rows.len()), last);
        std::fs::write(d.path().join("prices/_SUCCESS"), b"").unwrap();
        d
    };
    let cases = [
        ("as written", dump(&text), "read in pieces"),
        ("every field quoted, \\r\\n", dump(&quoted), "read in pieces"),
        ("a lone \\r in a field", dump(odd.as_bytes()), "streamed"),
        ("three parts", parts_dump(&same), "read in pieces"),
        ("three parts, the last one's columns in another order", parts_dump(&turned), "streamed"),
    ];
    for (name, d, expected) in &cases {
        let pieces = same_both_ways(name, d.path(), &[], &[], expected);
        let file = |f: &str| String::from_utf8(pieces.iter().find(|(n, _)| n == f).unwrap().1.clone()).unwrap();
        assert!(file("findings.csv").lines().count() > 100, "{name}");
        assert!(file("rejects.csv").lines().filter(|l| l.starts_with("prices")).count() >= 10, "{name}");
    }
}
