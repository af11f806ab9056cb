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
