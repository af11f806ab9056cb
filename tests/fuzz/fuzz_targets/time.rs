//! The timestamp parser: never panics on any text, in a zone with DST; a parsed instant prints
//! (UTC) to a text that parses back to the same instant.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../../src/time.rs"]
#[allow(dead_code)]
mod time;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let la: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
    if let Ok(t) = time::parse_instant(s, &la) {
        let printed = time::fmt_utc(t);
        // An offset can move year 0000 or 9999 out of the four-digit range: nothing to re-read.
        if !printed.as_bytes().first().is_some_and(u8::is_ascii_digit) || printed.len() < 20 || printed.as_bytes()[4] != b'-' {
            return;
        }
        assert_eq!(time::parse_instant(&printed, &la), Ok(t), "{s:?} → {printed}");
    }
});
