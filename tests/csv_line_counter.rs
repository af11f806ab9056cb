//! polars' CSV line counter, patched in `vendor/polars-io` (stable SIMD on x86_64 in place of the
//! byte loop; vendor/README.md): on every input it answers as the byte loop of the published
//! crate does. Inputs of quotes, separators, `\r`, `\n` and text, of every length across the
//! 64-byte blocks the patch reads (0–300 bytes), with quoting on and off, with `\n` and `;` as
//! the line end.

use polars::io::csv::read::_csv_read_internal::CountLines;

/// The published crate's byte loop (polars-io 0.55.2 `CountLines::analyze_chunk` without its
/// `simd` feature): newlines and the last one's offset counted for a chunk starting outside a
/// string (state 0) and inside one (state 1).
fn reference(bytes: &[u8], quote: Option<u8>, eol: u8) -> [(usize, usize, bool); 2] {
    let (quoting, quote) = (quote.is_some(), quote.unwrap_or(b'"'));
    let mut states = [(0usize, 0usize, false); 2];
    let mut parity = false;
    for (i, &c) in bytes.iter().enumerate() {
        parity ^= c == quote && quoting;
        let s = &mut states[parity as usize];
        if c == eol {
            s.0 += 1;
            s.1 = i;
        }
    }
    states[0].2 = parity;
    states[1].2 = !parity;
    states
}

#[test]
fn the_patched_line_counter_answers_as_the_byte_loop() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = [b'a', b'1', b',', b'"', b'\n', b'\r', b';', 0xe4];
    let mut cases = 0;
    for len in 0..=300usize {
        for round in 0..12 {
            // sparse and dense quotes and newlines
            let weights = if round % 2 == 0 { 4 } else { 8 };
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % weights) as usize]).collect();
            for quote in [Some(b'"'), None] {
                for eol in [b'\n', b';'] {
                    let got = CountLines::new(quote, eol, None).analyze_chunk(&bytes);
                    let got = got.map(|s| (s.newline_count, s.last_newline_offset, s.end_inside_string));
                    assert_eq!(got, reference(&bytes, quote, eol), "{len} bytes {bytes:?} quote {quote:?} eol {eol}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 301 * 12 * 4);
}
