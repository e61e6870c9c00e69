//! The routing decision checks on arbitrary input: what a plugin hands over as a forwarding
//! target, a trunk number or a reason phrase is either refused or becomes text that can go
//! into a SIP message as it is: no line break, no header or parameter the switch did not put
//! there, and the History-Info / Diversion lines built from it parse back as one header each.
//!
//! Input: up to three strings separated by NUL (target, trunk number, reason phrase).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_engine::numbering::NumberingPlan;
use switchboard_engine::routing::{history, Decision, DiversionReason, Hop, Target};
use switchboard_engine::sip::Message;

fn clean(s: &str) -> bool {
    !s.bytes().any(|c| c < 0x20 || c == 0x7f || b"<>\"?,".contains(&c))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.splitn(3, '\0');
    let (target, number, reason) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let plan = NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()]);
    if let Ok(t) = Target::parse(&plan, target, &|h| h == "sb.example", "target") {
        let key = t.key();
        assert!(clean(&key), "{key:?} from {target:?}");
        if let Target::Uri(u) = &t {
            assert!(!u.contains(';') || u.contains(";transport=") || u.contains(";user=phone"));
        }
        let hops = [Hop {
            address: "1001".into(),
            reason: DiversionReason::Unconditional,
        }];
        let lines = history::headers(&hops, &key, "sb.example");
        let text = format!(
            "INVITE sip:x@sb.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{lines}\
             Content-Length: 0\r\n\r\n"
        );
        let m = Message::parse(Bytes::from(text)).expect("history lines parse");
        assert_eq!(m.headers().len(), 8, "exactly two lines added: {lines:?}");
    }
    if let Ok(Decision::Trunk { number: n, .. }) = Decision::trunk("pstn", number) {
        assert!(n.bytes().enumerate().all(|(i, c)| c.is_ascii_digit() || (c == b'+' && i == 0)));
    }
    if let Ok(Decision::Reject { reason: r, .. }) = Decision::reject(486, reason) {
        assert!(r.bytes().all(|c| (0x20..0x7f).contains(&c)), "{r:?}");
    }
});
