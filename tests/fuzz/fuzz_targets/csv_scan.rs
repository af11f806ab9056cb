//! The CSV byte scan: never panics on any bytes; record lines strictly increase; every ragged
//! or blank record is a record; the 64-byte blocks scan as the byte loop does (the cuts and the
//! quoting check included).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../../src/dump/csv_scan.rs"]
#[allow(dead_code)]
mod csv_scan;

fuzz_target!(|data: &[u8]| {
    let s = csv_scan::scan(data);
    let b = csv_scan::scan_bytewise(data);
    assert_eq!((s.header_fields, s.records, &s.ragged, &s.blank), (b.header_fields, b.records, &b.ragged, &b.blank));
    // the piece reader's cuts and its quoting check, too
    assert_eq!((s.data_start, s.len, &s.cuts, s.regular), (b.data_start, b.len, &b.cuts, b.regular));
    assert_eq!(s.len, data.len() as u64);
    let mut prev = 1;
    for rn in 0..s.records.min(10_000) {
        let l = s.line_of(rn);
        assert!(l > prev, "record {rn} on line {l} after line {prev}");
        assert_eq!(l, b.line_of(rn), "record {rn}");
        prev = l;
    }
    assert!(s.ragged.iter().all(|(r, _)| *r < s.records));
    assert!(s.blank.iter().all(|r| *r < s.records));
});
