//! DTMF parsers and the receiver on arbitrary input. Event payloads that parse write back to
//! the same bytes (R bit cleared); dtmf-relay and dtmf bodies that parse format to bodies that
//! parse to the same digit. The input also drives a `DtmfReceiver` as a run of event packets
//! (timestamp, marker, payload and arrival from the bytes): it must not panic, never reports
//! more digits than it was given event packets, and its deadline reports what is pending.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::dtmf::{
    format_dtmf, format_dtmf_relay, parse_dtmf, parse_dtmf_relay, DtmfReceiver, EventPayload,
};
use switchboard_engine::media::rtp::{PayloadType, RtpTimestamp};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = EventPayload::parse(data) {
        // the R bit (0x40) is not kept
        assert_eq!(e.to_bytes(), [data[0], data[1] & 0xbf, data[2], data[3]]);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(d) = parse_dtmf_relay(text) {
            let mut body = String::new();
            format_dtmf_relay(&mut body, d.digit, d.duration.unwrap_or_default());
            assert_eq!(parse_dtmf_relay(&body).unwrap().digit, d.digit);
        }
        if let Ok(d) = parse_dtmf(text) {
            let mut body = String::new();
            format_dtmf(&mut body, d);
            assert_eq!(parse_dtmf(&body), Ok(d));
        }
    }

    // 9-byte records: timestamp (4), flags (1: marker, gap), payload (4)
    let t0 = Instant::now();
    let mut now = t0;
    let mut rx = DtmfReceiver::new(
        PayloadType::new(101).unwrap(),
        8000,
        Duration::from_millis(300),
    );
    let mut reported = 0usize;
    let mut packets = 0usize;
    for r in data.chunks_exact(9) {
        let ts = RtpTimestamp(u32::from_be_bytes([r[0], r[1], r[2], r[3]]));
        now += Duration::from_millis(u64::from(r[4] >> 1) * 10);
        rx.handle_timeout(now);
        if let Ok(e) = EventPayload::parse(&r[5..9]) {
            rx.handle_event(now, ts, r[4] & 1 != 0, e);
            packets += 1;
        }
        while let Some(e) = rx.poll_event() {
            assert!(e.digit.event() < 16);
            reported += 1;
        }
    }
    assert!(reported <= packets, "never more digits than packets");
    if let Some(at) = rx.poll_timeout() {
        rx.handle_timeout(at);
        assert!(
            rx.poll_event().is_some(),
            "a pending digit is reported at its deadline"
        );
        assert!(rx.poll_timeout().is_none());
    }
});
