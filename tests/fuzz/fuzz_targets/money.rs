//! The exact-decimal parser: never panics; what parses prints back to the same value; products
//! and comparisons never panic on any value of the money range. The money-cell readers (text and
//! typed decimals): whatever they accept is in the domain (> 0, < 10^28, ≤ 10 decimal places) and
//! equals the exact value; built with overflow checks (`run.sh` passes `-a`), a wrap is a crash.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../../src/money.rs"]
#[allow(dead_code)]
mod money;

fn cells(data: &[u8]) {
    // a typed decimal: 16 bytes of mantissa and a scale
    if data.len() >= 17 {
        let m = i128::from_le_bytes(data[..16].try_into().unwrap());
        let scale = (data[16] % 40) as u32;
        if let Ok(v) = money::money_from_decimal(m, scale) {
            let exact = money::Dec::new(m, scale);
            assert_eq!(money::Dec::from_money(v), exact);
            assert!(exact.in_money_domain() && exact.is_positive());
        } else {
            let exact = money::Dec::new(m, scale);
            assert!(!(exact.in_money_domain() && exact.is_positive()), "{m} e-{scale} refused");
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = money::money_from_text(s) {
            let d = money::Dec::parse(s).expect("accepted text parses");
            assert_eq!(money::Dec::from_money(v), d);
            assert!(d.in_money_domain() && d.is_positive());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    cells(data);
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(d) = money::Dec::parse(s) {
        let back = money::Dec::parse(&d.to_string()).expect("display parses");
        assert_eq!(back, d);
        if let Some(m) = d.to_money() {
            let x = money::Dec::from_money(m);
            assert_eq!(x, d);
            let t = x.mul(money::Dec::parse("0.95").unwrap());
            assert!(x.is_positive() == (t > money::Dec::ZERO) || x.is_zero());
            let _ = x.floor_to(money::Dec::parse("0.01").unwrap());
            // sums and products of domain values never leave the exact range
            if x.in_money_domain() {
                let _ = x.add(x).mul(x).sub(x);
            }
        }
    }
});
