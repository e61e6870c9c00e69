//! The hot-desk dial-string parser on arbitrary text: it must answer without panicking, leave
//! alone what does not start with `*55` or `*56`, read `*55` alone as the voice menu, and every
//! sign-in it accepts carries a number of digits (an optional `+`) and a PIN the PIN rules
//! accept.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::members::hotdesk::{valid_pin, HotDeskCode};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match HotDeskCode::parse(s) {
        None => {
            let t = s.trim();
            assert!(!t.starts_with("*55") && !t.starts_with("*56"));
        }
        Some(Ok(HotDeskCode::SignIn { number, pin })) => {
            let digits = number.strip_prefix('+').unwrap_or(&number);
            assert!(!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()));
            assert!(valid_pin(&pin));
            let again = format!("*55{number}*{pin}");
            assert_eq!(
                HotDeskCode::parse(&again),
                Some(Ok(HotDeskCode::SignIn { number, pin }))
            );
        }
        Some(Ok(HotDeskCode::Menu)) => assert_eq!(s.trim(), "*55"),
        Some(Ok(HotDeskCode::SignOut)) | Some(Err(_)) => {}
    }
});
