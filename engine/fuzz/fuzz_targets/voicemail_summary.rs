//! The RFC 3842 message-summary parser on arbitrary bytes: it answers without panicking,
//! and every summary it accepts renders to a body it reads back as the same summary (render
//! and parse are inverses on what parse produces), within the body limit. The bytes also
//! give a mailbox's counts, whose summary must parse back to them with the lamp lit exactly
//! when something is new.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::voicemail::summary::{self, MessageClass, MessageSummary};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = summary::parse(data) {
        let body = s.to_body();
        assert!(body.len() <= 2 * summary::MAX_BODY, "{body}");
        match summary::parse(body.as_bytes()) {
            Ok(again) => assert_eq!(again, s, "{body}"),
            Err(e) => panic!("rendering of an accepted summary refused: {e}\n{body}"),
        }
    }
    if let Some(bytes) = data.get(..8) {
        let new = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let old = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let s = MessageSummary::voice(Some("sip:1002@sb.example"), new, old);
        let again = summary::parse(s.to_body().as_bytes()).expect("our own body parses");
        assert_eq!(again.waiting, new > 0);
        let c = again.counts(MessageClass::Voice).expect("the voice line");
        assert_eq!((c.new, c.old), (new, old));
    }
});
