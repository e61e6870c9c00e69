//! Chat room inputs from the network: a Request-URI user part (`room-<name>`) and a MESSAGE
//! body that may be a command. Parsing never panics; a name that parses is made only of the
//! name grammar's characters; the From header built with any sender display name parses as
//! a name-addr naming the room (no header injection); a post's Message-ID gives its sequence
//! number back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::chat::command::Command;
use switchboard_engine::chat::{post_id, seq_of_id, RoomName};
use switchboard_engine::sip::NameAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Command::parse(text);
    let (user, display) = text.split_once('\n').unwrap_or((text, text));
    let name = match RoomName::from_user(user) {
        Some(Ok(n)) => n,
        _ => match RoomName::parse(user) {
            Ok(n) => n,
            Err(_) => return,
        },
    };
    assert!(name
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
    let from = name.from_header(display, "sb.test");
    assert!(!from.contains(['\r', '\n']), "{from:?}");
    let na = NameAddr::parse(&from).expect("the room's From parses");
    assert_eq!(na.uri().user(), Some(name.user().as_str()));
    let id = post_id(&name, 42, "r4nd", "sb.test");
    assert_eq!(seq_of_id(&id), Some(42));
});
