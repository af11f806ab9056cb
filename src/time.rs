//! Timestamps (SPEC §3): RFC 3339 with an offset, a naive date-time, or a date; naive values are
//! local time in the run's one zone. Internally every instant is `i64` microseconds since the Unix
//! epoch, UTC.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

pub const MICROS_PER_SEC: i64 = 1_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SEC;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// The default zone of naive timestamps (1688's, SPEC §3).
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// Resolve an IANA zone name.
pub fn zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| format!("unknown time zone {name:?} (expected an IANA name such as Asia/Shanghai)"))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32))
}

/// Why a timestamp did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not one of the accepted forms, or an impossible date/time (Feb 30, 25:00).
    Malformed,
    /// A naive local time that does not exist in the run's zone (a DST gap).
    NonExistent,
}

/// Parse one timestamp to UTC microseconds. Accepted forms:
/// `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM:SS[.fraction]`, and the latter with `Z` or `±HH:MM`.
/// Ambiguous local times (a DST fold) take the earlier instant.
pub fn parse_instant(text: &str, tz: &Tz) -> Result<i64, TimeError> {
    use TimeError::*;
    let b = text.as_bytes();
    let (local, rest) = naive_prefix(b).ok_or(Malformed)?;
    match &b[rest..] {
        [] => naive_micros_to_utc(local, tz),
        [b'Z'] | [b'z'] => Ok(local),
        [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
            let oh = digits(hh).ok_or(Malformed)?;
            let om = digits(&[*m1, *m2]).ok_or(Malformed)?;
            if oh > 23 || om > 59 {
                return Err(Malformed);
            }
            let off = (oh as i64 * 60 + om as i64) * 60 * MICROS_PER_SEC;
            Ok(if *sign == b'+' { local - off } else { local + off })
        }
        _ => Err(Malformed),
    }
}

/// The local microseconds (since 1970-01-01T00:00:00 local) of a naive text form that
/// [`parse_instant`] accepts (no zone suffix); `None` for any other text, which
/// [`parse_instant`] then reads or refuses. The CSV price table's two timestamps per row go
/// through it, their zone then from a cache of offsets rather than the zone database.
pub fn naive_local_micros(text: &str) -> Option<i64> {
    match naive_prefix(text.as_bytes())? {
        (local, rest) if rest == text.len() => Some(local),
        _ => None,
    }
}

/// The naive date-time `b` starts with, as local microseconds since 1970-01-01T00:00:00, and
/// where the rest of `b` starts: `YYYY-MM-DD` alone (the whole of `b`), or with `T`/`t`/space and
/// `HH:MM:SS`, then a fraction of 1–9 digits (past the sixth zero: microsecond resolution, no
/// silent truncation). `None`: malformed, or an impossible date or time (Feb 30, 25:00). Read by
/// hand (the proleptic Gregorian calendar, years 0000–9999), without chrono.
fn naive_prefix(b: &[u8]) -> Option<(i64, usize)> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > month_days {
        return None;
    }
    let day = days_from_civil(y as i64, mo, d) * MICROS_PER_DAY;
    if b.len() == 10 {
        return Some((day, 10));
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let (mut i, mut micros) = (19, 0i64);
    if b.get(19) == Some(&b'.') {
        let frac_len = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        let frac = &b[20..20 + frac_len];
        if frac.is_empty() || frac.len() > 9 || frac.iter().skip(6).any(|c| *c != b'0') {
            return None;
        }
        micros = (0..6).fold(0i64, |v, k| v * 10 + frac.get(k).map_or(0, |c| (c - b'0') as i64));
        i = 20 + frac_len;
    }
    Some((day + (h as i64 * 3_600 + mi as i64 * 60 + sec as i64) * MICROS_PER_SEC + micros, i))
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn local_to_utc(naive: NaiveDateTime, tz: &Tz) -> Result<i64, TimeError> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.timestamp_micros()),
        LocalResult::Ambiguous(a, b) => Ok(a.timestamp_micros().min(b.timestamp_micros())),
        LocalResult::None => Err(TimeError::NonExistent),
    }
}

/// The instants a dump may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z (what
/// the text forms of SPEC §3 can write). Held to this range at the border, every window and
/// lead time the rules form (config hours and days are bounded too) stays far inside an `i64`.
pub const MIN_INSTANT: i64 = -62_135_596_800_000_000;
pub const MAX_INSTANT: i64 = 253_402_300_799_999_999;

/// `Some(micros)` when inside [`MIN_INSTANT`]..=[`MAX_INSTANT`].
pub fn in_range(micros: i64) -> Option<i64> {
    (MIN_INSTANT..=MAX_INSTANT).contains(&micros).then_some(micros)
}

/// A naive local date-time (Parquet `TIMESTAMP` without zone) as an instant in the run's zone.
pub fn naive_micros_to_utc(local_micros: i64, tz: &Tz) -> Result<i64, TimeError> {
    let naive = DateTime::from_timestamp_micros(local_micros).ok_or(TimeError::Malformed)?.naive_utc();
    local_to_utc(naive, tz)
}

/// `2024-08-10T14:37:44Z` (fraction only when not whole seconds).
pub fn fmt_utc(micros: i64) -> String {
    // 1970 to 9999 written by hand (findings and reports write one or more per row); chrono
    // for the rest (a year beyond four digits gets a sign)
    if (0..=MAX_HAND).contains(&micros) {
        return fmt_utc_by_hand(micros);
    }
    match DateTime::from_timestamp_micros(micros) {
        Some(t) if micros % MICROS_PER_SEC == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// 9999-12-31T23:59:59.999999Z.
const MAX_HAND: i64 = 253_402_300_799_999_999;

/// [`fmt_utc`] of an instant from 1970 to 9999: days to a civil date (H. Hinnant's
/// `civil_from_days`), digits written in place.
fn fmt_utc_by_hand(micros: i64) -> String {
    let (days, rest) = (micros / MICROS_PER_DAY, micros % MICROS_PER_DAY);
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = rest / MICROS_PER_SEC;
    let frac = rest % MICROS_PER_SEC;
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    let text = if frac == 0 {
        b[19] = b'Z';
        &b[..20]
    } else {
        put(20, 6, frac);
        &b[..]
    };
    String::from_utf8(text.to_vec()).expect("ASCII digits")
}

/// The instant in the run's zone, with its offset: `2024-08-10 22:37:44 +08:00`.
pub fn fmt_local(micros: i64, tz: &Tz) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) => t.with_timezone(tz).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        None => micros.to_string(),
    }
}

/// The local calendar date of an instant in `tz` (SPEC §10: "dates"), as a day number (days
/// since 0001-01-01): two dates `d` days apart differ by `d`.
pub fn local_day(micros: i64, tz: &Tz) -> i64 {
    use chrono::Datelike;
    match DateTime::from_timestamp_micros(micros) {
        Some(t) => t.with_timezone(tz).date_naive().num_days_from_ce() as i64,
        None => micros.div_euclid(MICROS_PER_DAY),
    }
}

/// `2024-06-03`: the local date of an instant in `tz`.
pub fn fmt_local_date(micros: i64, tz: &Tz) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) => t.with_timezone(tz).format("%Y-%m-%d").to_string(),
        None => micros.to_string(),
    }
}

/// The first local midnight strictly after `micros` in `tz` (SPEC §10.4 K502). Where a zone
/// skips midnight (a DST gap at 00:00), the first instant of that day.
pub fn next_local_midnight(micros: i64, tz: &Tz) -> i64 {
    let Some(t) = DateTime::from_timestamp_micros(micros) else { return micros };
    let day = t.with_timezone(tz).date_naive().succ_opt().unwrap_or(NaiveDate::MAX);
    let mut at = day.and_time(NaiveTime::MIN);
    for _ in 0..48 {
        match tz.from_local_datetime(&at) {
            LocalResult::Single(x) => return x.timestamp_micros(),
            LocalResult::Ambiguous(a, b) => return a.timestamp_micros().min(b.timestamp_micros()),
            // a gap: the day starts later (gaps are whole minutes, at most hours)
            LocalResult::None => at += chrono::Duration::minutes(30),
        }
    }
    micros
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Tz {
        zone(DEFAULT_ZONE).unwrap()
    }

    /// The hand-written UTC form is chrono's: at the ends of its range and either side of them,
    /// at leap days, month and year ends, and on a spread of instants with and without fractions.
    #[test]
    fn utc_written_by_hand_as_chrono_writes_it() {
        let chrono = |m: i64| {
            let t = DateTime::from_timestamp_micros(m).unwrap();
            if m % MICROS_PER_SEC == 0 {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            }
        };
        let edges = [
            0,
            1,
            999_999,
            MICROS_PER_DAY - 1,
            MAX_HAND,
            MAX_HAND - 999_999,
            parse_instant("2000-02-29T23:59:59.5Z", &sh()).unwrap(),
            parse_instant("2024-02-29T00:00:00Z", &sh()).unwrap(),
            parse_instant("2100-03-01T00:00:00Z", &sh()).unwrap(),
            parse_instant("1999-12-31T23:59:59Z", &sh()).unwrap(),
        ];
        for m in edges {
            assert_eq!(fmt_utc(m), chrono(m), "{m}");
        }
        assert_eq!(fmt_utc(MAX_HAND + 1), "+10000-01-01T00:00:00Z");
        assert_eq!(fmt_utc(-1), "1969-12-31T23:59:59.999999Z");
        // 200 000 instants over 1970..9999 (every day of the year met), each also at its second
        let step = MAX_HAND / 200_000 + 1_234_567;
        for m in (7..=MAX_HAND).step_by(step as usize) {
            assert_eq!(fmt_utc(m), chrono(m), "{m}");
            assert_eq!(fmt_utc(m - m % MICROS_PER_SEC), chrono(m - m % MICROS_PER_SEC));
        }
    }

    #[test]
    fn every_form_names_the_same_instant() {
        let z = sh();
        let a = parse_instant("2024-03-04T10:00:00+08:00", &z).unwrap();
        assert_eq!(parse_instant("2024-03-04T02:00:00Z", &z), Ok(a));
        assert_eq!(parse_instant("2024-03-04 10:00:00", &z), Ok(a));
        assert_eq!(parse_instant("2024-03-04T10:00:00", &z), Ok(a));
        assert_eq!(parse_instant("2024-03-04T07:30:00+05:30", &z), Ok(a));
        assert_eq!(parse_instant("2024-03-04", &z), Ok(a - 10 * MICROS_PER_HOUR));
        assert_eq!(parse_instant("2024-03-04T10:00:00.250+08:00", &z), Ok(a + 250_000));
        assert_eq!(fmt_utc(a), "2024-03-04T02:00:00Z");
    }

    #[test]
    fn impossible_and_malformed_are_rejected() {
        let z = sh();
        for bad in [
            "2024-02-30",
            "2024-02-30 10:00:00",
            "2024-03-04 25:00:00",
            "2024/03/04",
            "20240304",
            "2024-03-04T10:00",
            "2024-03-04T10:00:00+0800",
            " 2024-03-04",
            "2024-03-04T10:00:00.1234567+08:00",
            "",
        ] {
            assert_eq!(parse_instant(bad, &z), Err(TimeError::Malformed), "{bad}");
        }
    }

    /// The hand-read calendar and clock are chrono's: every day number 0–32 of every month
    /// number 0–13 of years with and without a leap day (0000, 1900, 2000, 2023, 2024, 9999),
    /// hours, minutes and seconds at their bounds and one past, fractions; naive text only (a
    /// suffix is `parse_instant`'s).
    #[test]
    fn naive_text_reads_as_chrono_reads_it() {
        let micros = |t: NaiveDateTime| t.and_utc().timestamp_micros();
        for y in [0, 1900, 2000, 2023, 2024, 9999] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let text = format!("{y:04}-{m:02}-{d:02}");
                    let want = NaiveDate::from_ymd_opt(y, m, d).map(|x| micros(x.and_time(NaiveTime::MIN)));
                    assert_eq!(naive_local_micros(&text), want, "{text}");
                }
            }
        }
        for (h, mi, sec) in [(0, 0, 0), (23, 59, 59), (24, 0, 0), (23, 60, 0), (23, 59, 60), (7, 5, 3)] {
            let want = NaiveTime::from_hms_opt(h, mi, sec)
                .map(|t| micros(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_time(t)));
            for sep in [" ", "T", "t"] {
                let text = format!("2024-02-29{sep}{h:02}:{mi:02}:{sec:02}");
                assert_eq!(naive_local_micros(&text), want, "{text}");
            }
        }
        let noon = micros(NaiveDate::from_ymd_opt(2024, 5, 12).unwrap().and_hms_opt(12, 0, 0).unwrap());
        for (text, want) in [
            ("2024-05-12 12:00:00.5", Some(noon + 500_000)),
            ("2024-05-12 12:00:00.000001", Some(noon + 1)),
            ("2024-05-12 12:00:00.123456000", Some(noon + 123_456)),
            ("2024-05-12 12:00:00.1234567", None),
            ("2024-05-12 12:00:00.", None),
            ("2024-05-12 12:00:00Z", None),
            ("2024-05-12 12:00:00+08:00", None),
            ("2024-05-12 12:00", None),
            ("2024-05-12 ", None),
        ] {
            assert_eq!(naive_local_micros(text), want, "{text}");
        }
    }

    #[test]
    fn dst_gap_is_rejected_and_fold_takes_the_earlier() {
        let la = zone("America/Los_Angeles").unwrap();
        assert_eq!(parse_instant("2024-03-10 02:30:00", &la), Err(TimeError::NonExistent));
        let fold = parse_instant("2024-11-03 01:30:00", &la).unwrap();
        assert_eq!(fmt_utc(fold), "2024-11-03T08:30:00Z");
    }
}
