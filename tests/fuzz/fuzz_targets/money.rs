//! The exact-decimal parser: never panics; what parses prints back to the same value; products
//! and comparisons never panic on any value of the money range.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../../src/money.rs"]
#[allow(dead_code)]
mod money;

fuzz_target!(|data: &[u8]| {
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
        }
    }
});
