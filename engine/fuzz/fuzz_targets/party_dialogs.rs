//! The switch's own dialogs (`PartyDialog`, `OutboundCall`) under any sequence of messages
//! and deadlines: nothing panics, every message they send parses (our requests validate, so
//! a peer's header values cannot break them), and exactly one last event ends a call (at
//! most one `Ended`/`Failed`, nothing after it).
//!
//! Input: the first byte picks the machine, the rest is chunks split on `\0`. For a party the
//! first chunk is the INVITE it answers. Each further chunk is a message or, when it does not
//! parse, a step of time (its length in 100 ms). In messages, `@TAG@` becomes our tag and
//! `@BRANCH@` the branch of our last request, so the fuzzer reaches the dialog's states. With
//! bit 3 of the first byte a party asks for a REFER after every chunk (refused until the
//! dialog may send one).

#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchboard_engine::dialog::{
    CallEvent, Dial, DialogOutput, OutboundCall, PartyAnswer, PartyDialog, Provisional,
};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Transport;
use switchboard_engine::proxy::Local;
use switchboard_engine::sip::{validate, Message};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0\r\n";

/// One machine, whichever.
enum Machine {
    Party(PartyDialog),
    Call(OutboundCall),
}

impl Machine {
    fn request(&mut self, now: Instant, m: &Message) {
        match self {
            Machine::Party(d) => d.handle_request(now, m, None),
            Machine::Call(c) => c.handle_request(now, m, None),
        }
    }
    fn response(&mut self, now: Instant, m: Message) {
        match self {
            Machine::Party(d) => {
                d.handle_response(now, m);
            }
            Machine::Call(c) => {
                c.handle_response(now, m);
            }
        }
    }
    fn timeout(&mut self, now: Instant) {
        match self {
            Machine::Party(d) => d.handle_timeout(now),
            Machine::Call(c) => c.handle_timeout(now),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        match self {
            Machine::Party(d) => d.poll_timeout(),
            Machine::Call(c) => c.poll_timeout(),
        }
    }
    fn output(&mut self) -> Option<DialogOutput> {
        match self {
            Machine::Party(d) => d.poll_output(),
            Machine::Call(c) => c.poll_output(),
        }
    }
    fn event(&mut self) -> Option<CallEvent> {
        match self {
            Machine::Party(d) => d.poll_event(),
            Machine::Call(c) => c.poll_event(),
        }
    }
    /// What the owner does on an event: answer offers, hang up when asked to.
    fn owner(&mut self, now: Instant, e: &CallEvent) {
        match (self, e) {
            (Machine::Party(d), CallEvent::Offer { .. }) => {
                let _ = d.answer_offer(now, SDP);
            }
            (Machine::Call(c), CallEvent::Offer { .. }) => {
                let _ = c.refuse_offer(now);
            }
            (Machine::Party(d), CallEvent::AckTimedOut) => d.hang_up(now, "SIP;cause=408"),
            _ => {}
        }
    }
}

/// Drains the machine; checks what it sent and that nothing follows the last event.
fn drain(m: &mut Machine, now: Instant, over: &mut bool, tag: &mut String, branch: &mut String) {
    while let Some(o) = m.output() {
        let (DialogOutput::Reply(b) | DialogOutput::Request { bytes: b, .. }) = o;
        let msg = Message::parse(b).expect("what we send parses");
        if msg.is_request() {
            assert_eq!(validate::request(&msg), Ok(()), "{msg:?}");
            if let Some(v) = msg.top_via().and_then(|v| v.branch().map(str::to_owned)) {
                *branch = v;
            }
            if let Some(t) = msg.from_tag() {
                *tag = t.to_owned();
            }
        } else if let Some(t) = msg.to_tag() {
            if tag.is_empty() {
                *tag = t.to_owned();
            }
        }
    }
    while let Some(e) = m.event() {
        assert!(!*over, "an event after the last one: {e:?}");
        if matches!(e, CallEvent::Ended(_) | CallEvent::Failed { .. }) {
            *over = true;
        }
        m.owner(now, &e);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut chunks = rest.split(|&b| b == 0);
    let t0 = Instant::now();
    let local = Local::new("127.0.0.1", 5060, "sb.example");
    let mut m = if pick & 1 == 0 {
        let Some(Ok(invite)) = chunks
            .next()
            .map(|c| Message::parse(Bytes::copy_from_slice(c)))
        else {
            return;
        };
        // what ingress lets through to a party
        if validate::request(&invite).is_err() || invite.method_str() != Some("INVITE") {
            return;
        }
        let early = (pick & 2 != 0).then_some(Provisional::SessionProgress);
        Machine::Party(PartyDialog::new(
            t0,
            &invite,
            Transport::Udp,
            None,
            &local,
            Entropy::seeded(1),
            PartyAnswer {
                sdp: SDP,
                reason: "OK",
                early,
            },
        ))
    } else {
        let dial = Dial {
            request_uri: "sip:1002@192.0.2.50",
            route: &[],
            from: "\"room\" <sip:conf-room@sb.example>",
            to: "<sip:1002@sb.example>",
            sdp: SDP,
            headers: &[],
            credentials: None,
            transport: Transport::Udp,
            call_id: None,
        };
        Machine::Call(OutboundCall::new(t0, dial, &local, Entropy::seeded(1)).expect("valid"))
    };
    let (mut over, mut tag, mut branch) = (false, String::new(), String::new());
    let mut now = t0;
    drain(&mut m, now, &mut over, &mut tag, &mut branch);
    for c in chunks {
        let text = String::from_utf8_lossy(c)
            .replace("@TAG@", &tag)
            .replace("@BRANCH@", &branch);
        match Message::parse(Bytes::from(text)) {
            Ok(msg) if msg.is_request() => {
                if validate::request(&msg).is_ok() {
                    m.request(now, &msg);
                }
            }
            Ok(msg) => {
                if validate::response(&msg) {
                    m.response(now, msg);
                }
            }
            Err(_) => {
                now += Duration::from_millis(100 * c.len() as u64);
                while let Some(d) = m.deadline().filter(|d| *d <= now) {
                    m.timeout(d);
                    drain(&mut m, d, &mut over, &mut tag, &mut branch);
                }
            }
        }
        drain(&mut m, now, &mut over, &mut tag, &mut branch);
        if pick & 4 != 0 {
            if let Machine::Call(call) = &mut m {
                call.cancel(now);
            }
        }
        if pick & 8 != 0 {
            // the voicemail menu's call back: refused until the dialog may take it
            if let Machine::Party(d) = &mut m {
                let _ = d.refer(now, "sip:1002@sb.example", Some("sip:1001@sb.example"));
                drain(&mut m, now, &mut over, &mut tag, &mut branch);
            }
        }
    }
    // run every deadline out: the machine ends
    let mut guard = 0;
    while let Some(d) = m.deadline() {
        m.timeout(d);
        drain(&mut m, d, &mut over, &mut tag, &mut branch);
        guard += 1;
        assert!(guard < 10_000, "deadlines never run out");
    }
});
