//! The CLI reads dumps through polars' async reader (`main.rs` sets `POLARS_FORCE_ASYNC`),
//! which rejects `..` in a path: `priceaudit audit ../dump` once failed with exit 2. A dump
//! named with `..`, spaces and `#` audits to the same findings as the plain path.

mod common;

use std::path::Path;
use std::process::Command;

fn audit(dump: &Path, cwd: &Path, out: &Path) -> String {
    let status = Command::new(env!("CARGO_BIN_EXE_priceaudit"))
        .current_dir(cwd)
        .args(["audit", dump.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-on", "never", "--quiet"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}: {}", dump.display(), String::from_utf8_lossy(&status.stderr));
    std::fs::read_to_string(out.join("findings.csv")).unwrap()
}

#[test]
fn relative_paths_with_dot_dot_spaces_and_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let odd = tmp.path().join("a dump #1");
    std::fs::create_dir_all(&odd).unwrap();
    for f in std::fs::read_dir("fixtures/demo").unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, odd.join(f.file_name().unwrap())).unwrap();
        }
    }
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let plain = audit(&std::fs::canonicalize("fixtures/demo").unwrap(), &work, &tmp.path().join("o1"));
    let odd_rel = audit(Path::new("../a dump #1"), &work, &tmp.path().join("o2"));
    assert!(plain.lines().count() > 1, "the demo has findings");
    assert_eq!(plain, odd_rel);
}

/// `--outputs` (issue 21): only the files named are written, byte-identical to a full run's; an
/// unknown name is an input error (exit 2) naming the known ones.
#[test]
fn outputs_chooses_the_files_written() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_priceaudit"))
            .args([
                "audit",
                "fixtures/demo",
                "--out",
                tmp.path().join(out).to_str().unwrap(),
                "--fail-on",
                "never",
                "--quiet",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let all = run("all", &[]);
    assert!(all.status.success());
    let some = run("some", &["--outputs", "findings.csv,summary.json"]);
    assert!(some.status.success(), "{}", String::from_utf8_lossy(&some.stderr));
    let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("some"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["findings.csv", "summary.json"]);
    for f in names {
        assert_eq!(
            std::fs::read(tmp.path().join("some").join(&f)).unwrap(),
            std::fs::read(tmp.path().join("all").join(&f)).unwrap(),
            "{f}"
        );
    }
    assert!(String::from_utf8_lossy(&some.stdout).contains("(findings.csv, summary.json)"));
    let with_parquet = run("pq", &["--outputs", "findings.csv", "--parquet"]);
    assert!(with_parquet.status.success());
    assert!(tmp.path().join("pq/findings.parquet").exists() && !tmp.path().join("pq/findings.json").exists());
    let bad = run("bad", &["--outputs", "findings.xlsx"]);
    assert_eq!(bad.status.code(), Some(2));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(e.contains("unknown output file \"findings.xlsx\"") && e.contains("report.html"), "{e}");
}

/// The output files are written by two threads from one queue (the largest first); a file that
/// cannot be written fails the run (exit 2), and of two such files the error reported is the one
/// first in the files' order (`findings.json` before `registrations.json`), however the threads
/// ran. The files that could be written are there, whole.
#[test]
fn of_two_unwritable_outputs_the_first_in_order_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    audit(Path::new("fixtures/demo"), Path::new("."), &whole);
    for round in 0..3 {
        let out = tmp.path().join(format!("blocked-{round}"));
        // a directory where a file is to be renamed into place
        for f in ["registrations.json", "findings.json"] {
            std::fs::create_dir_all(out.join(f).join("in the way")).unwrap();
        }
        let run = Command::new(env!("CARGO_BIN_EXE_priceaudit"))
            .args(["audit", "fixtures/demo", "--out", out.to_str().unwrap(), "--fail-on", "never", "--quiet"])
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
        let e = String::from_utf8_lossy(&run.stderr);
        assert!(e.contains("findings.json") && !e.contains("registrations.json"), "round {round}: {e}");
        for f in ["findings.csv", "registrations.csv", "summary.json", "report.md"] {
            assert!(std::fs::read(out.join(f)).unwrap() == std::fs::read(whole.join(f)).unwrap(), "{f}");
        }
    }
}
