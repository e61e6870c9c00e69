//! The tariff CSV parser on arbitrary text: it must answer without panicking; a table it
//! accepts has prefixes, and pricing any number against it for any duration neither panics
//! nor gives a negative amount, and bills at least the talked seconds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::tariff::parse_csv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(table) = parse_csv("fuzz", text) else {
        return;
    };
    assert!(!table.is_empty());
    for line in text.lines() {
        let number = line.split(',').next().unwrap_or("");
        for secs in [0u32, 1, 59, 61, 3601, u32::MAX] {
            if let Some((_, _, price)) = table.price(number, secs) {
                assert!(price.amount_minor >= 0);
                assert!(secs == 0 || price.billed_secs >= secs || price.billed_secs == u32::MAX);
            }
        }
        if let Some(cost) = table.first_increment_cost(number) {
            assert!(cost >= 0);
        }
    }
});
