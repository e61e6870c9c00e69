//! The number search pattern parser on arbitrary text: it must answer without panicking, and a
//! pattern it accepts matches any digit string without panicking; an accepted digit pattern
//! without `?` matches its own digits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::inventory::Pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, digits) = s.split_once('\n').unwrap_or((s, "0123456789"));
    if let Ok(p) = Pattern::parse(pattern) {
        let _ = p.matches(digits);
        if let Pattern::Digits { body, .. } = &p {
            if !body.contains(&b'?') {
                let own = String::from_utf8(body.clone()).unwrap();
                assert!(p.matches(&own), "{pattern} matches {own}");
            }
        }
    }
});
