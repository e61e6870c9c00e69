use std::sync::Arc;

use super::*;
use crate::media::tone::{Ringback, ToneDetector};

/// A relayed PCMU call whose callee talks for `until_ms`, driving the clock.
fn callee_talks(r: &mut Rig, from_ms: u64, until_ms: u64) -> Vec<Action> {
    let mut phone = Phone::new(CALLEE, Codec::Pcmu, 0, 2);
    phone.seq = (from_ms / 20) as u16;
    let mut actions = Vec::new();
    let mut t = from_ms;
    while t < until_ms {
        let now = r.at(t + 3);
        let p = phone.packet(&[300; 160]);
        actions.push(r.recv(now, Side::Callee, phone.from, &p));
        r.run_until(now + ms(17));
        t += 20;
    }
    actions
}

fn pcmu_call() -> Rig {
    Rig::call(
        stream(CALLER, Codec::Pcmu, 0, None),
        stream(CALLEE, Codec::Pcmu, 0, None),
    )
}

#[test]
fn ringback_played_to_the_caller_replaces_the_callee_with_its_frequencies_and_cadence() {
    let mut r = pcmu_call();
    r.s.play(r.t0, Side::Caller, Source::Tone(Ringback::for_country(1)));
    assert_eq!(r.s.route(Side::Caller), Route::Source);
    assert_eq!(
        r.s.route(Side::Callee),
        Route::Relay,
        "the callee still hears the caller"
    );
    let actions = callee_talks(&mut r, 0, 7000);
    assert!(actions.iter().all(|a| *a == Action::Consumed));
    let out = r.take(Side::Caller);
    assert!((349..=351).contains(&out.len()), "{}", out.len());
    assert!(out.iter().all(|o| o.to == addr(CALLER)));
    let pcm = decode_all(&out, Codec::Pcmu);
    let det = ToneDetector::new(SampleRate::NARROW, &[440.0, 480.0, 425.0, 300.0]);
    let block = |from_ms: usize| &pcm[from_ms * 8..(from_ms + 100) * 8];
    // NANP: 440 + 480 Hz, 2 s on, 4 s off
    for on in [100, 1000, 1800, 6100, 6800] {
        assert!(det.analyze(block(on)).is(&[440.0, 480.0]), "at {on} ms");
    }
    for off in [2100, 3500, 5800] {
        assert!(
            det.analyze(block(off)).total_dbfs() < -60.0,
            "silent at {off} ms"
        );
    }
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, Event::PlayFinished { .. })),
        "ringback loops"
    );
}

#[test]
fn a_beep_ends_with_one_play_finished_and_the_callee_is_heard_again() {
    let mut r = pcmu_call();
    r.s.play(r.t0, Side::Caller, Source::Tone(Tone::BEEP));
    callee_talks(&mut r, 0, 400);
    let finished: Vec<_> = r
        .events
        .iter()
        .filter(|e| matches!(e, Event::PlayFinished { .. }))
        .collect();
    assert_eq!(finished, [&Event::PlayFinished { side: Side::Caller }]);
    assert_eq!(r.s.route(Side::Caller), Route::Relay);
    let out = r.take(Side::Caller);
    // the caller hears one stream: the beep, then the callee's packets renumbered into it
    let packets: Vec<_> = out
        .iter()
        .map(|o| RtpPacket::parse(&o.bytes).unwrap())
        .collect();
    let ssrc = packets[0].ssrc();
    assert_ne!(ssrc, Ssrc(2), "the switch's own stream");
    assert!(
        packets.iter().all(|p| p.ssrc() == ssrc),
        "one SSRC throughout"
    );
    for w in packets.windows(2) {
        assert_eq!(w[1].seq(), w[0].seq().next(), "sequence numbers run on");
        assert!(
            w[1].timestamp().0.wrapping_sub(w[0].timestamp().0) < 8000,
            "timestamps move forward"
        );
    }
    // (the beep's first packet starts a talkspurt too)
    let first_relayed = packets.iter().skip(1).position(|p| p.marker()).unwrap() + 1;
    assert!(
        (10..=11).contains(&first_relayed),
        "200 ms of beep, then the callee (marked): {first_relayed}"
    );
    // the callee's audio is what follows: relayed, not re-encoded
    assert!(packets.len() - first_relayed >= 5);
    assert_eq!(r.s.poll_timeout(), None);
}

#[test]
fn stop_play_resumes_relaying() {
    let mut r = pcmu_call();
    r.s.play(r.t0, Side::Caller, Source::Tone(Ringback::for_country(44)));
    let during = callee_talks(&mut r, 0, 200);
    assert!(during.iter().all(|a| *a == Action::Consumed));
    r.s.stop_play(r.at(200), Side::Caller);
    assert_eq!(r.s.route(Side::Caller), Route::Relay);
    let after = callee_talks(&mut r, 200, 300);
    assert!(after.iter().all(|a| matches!(
        a,
        Action::Forward {
            side: Side::Caller,
            ..
        }
    )));
    assert!(r
        .events
        .iter()
        .all(|e| !matches!(e, Event::PlayFinished { .. })));
}

#[test]
fn a_16_khz_recording_plays_once_to_a_pcmu_side_at_its_frequency() {
    let mut r = Rig::new();
    r.s.configure(r.t0, Side::Caller, stream(CALLER, Codec::Pcmu, 0, None));
    assert_eq!(
        r.s.route(Side::Caller),
        Route::Silent,
        "the switch answers alone"
    );
    let samples: Arc<[i16]> = sine(1000.0, -10.0, SampleRate::WIDE, 25).into();
    r.s.play(
        r.t0,
        Side::Caller,
        Source::Pcm {
            samples,
            rate: SampleRate::WIDE,
        },
    );
    r.run_until(r.at(1000));
    let out = r.take(Side::Caller);
    assert_eq!(out.len(), 25, "500 ms");
    let pcm = decode_all(&out, Codec::Pcmu);
    let det = ToneDetector::new(SampleRate::NARROW, &[500.0, 1000.0, 2000.0]);
    assert!(det.analyze(&pcm[800..3200]).is(&[1000.0]));
    assert_eq!(r.events, [Event::PlayFinished { side: Side::Caller }]);
    assert_eq!(r.s.route(Side::Caller), Route::Silent);
}
