//! Two baresip phones (a SIP user agent nobody here wrote) register to the switch with digest
//! credentials, one calls the other through it, and each hears the other's tone: their own
//! recordings of what they decoded are checked by frequency. On PCMU and on G.722, once with
//! the media flowing directly between them (`media.anchor = "never"`: the switch carries the
//! signalling, the SDP each phone got names the other; under `"auto"` an offer without G.711
//! would be anchored for transcoding), once through the switch's relay (`"always"`: the SDP
//! each phone got names the relay, which latches on where baresip really sends from).
//!
//! Skipped, with the reason printed, when baresip is not installed.

mod common;

use std::time::Duration;

use common::baresip::{self, Baresip};
use common::rtp::remote_of;
use common::{Options, Switch};
use switchboard_engine::media::{Codec, SampleRate};

const PW: &str = "test-password";
const WAIT: Duration = Duration::from_secs(15);

fn phone(sw: &Switch, user: &str, tone_hz: u32, codec: &str) -> Baresip {
    Baresip::start(baresip::Options {
        user: user.into(),
        password: PW.into(),
        switch: sw.sip,
        tone_hz,
        codecs: vec![codec.into()],
        mwi: false,
        tls_ca: None,
    })
}

/// 1002 (440 Hz) calls 1001 (1 kHz) on `codec` through a switch with `media.anchor =
/// anchor` (`"never"` or `"always"`); each must hear the other at `rate`.
fn call_between_two_baresips(codec: &str, rate: SampleRate, anchor: &str) {
    let relayed = anchor == "always";
    if let Some(reason) = baresip::missing() {
        eprintln!("skipped: {reason}");
        return;
    }
    // baresip 1.0 answers MD5 digest challenges only
    let sw = Switch::with(Options {
        config: format!("[auth]\nalgorithms = [\"MD5\"]\n[media]\nanchor = \"{anchor}\"\n"),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut b = phone(&sw, "1001", 1000, codec);
    let mut a = phone(&sw, "1002", 440, codec);
    assert!(a.wait_registered(WAIT), "1002 registers:\n{}", a.log());
    assert!(b.wait_registered(WAIT), "1001 registers:\n{}", b.log());

    a.dial("1001");
    b.wait_event("CALL_INCOMING", WAIT)
        .unwrap_or_else(|| panic!("1001 rings:\n{}\n{}", a.log(), b.log()));
    b.accept();
    for (who, p) in [("1002", &mut a), ("1001", &mut b)] {
        if p.wait_event("CALL_ESTABLISHED", WAIT).is_none() {
            panic!("{who} is in the call:\n{}", p.log());
        }
    }
    // where each was told to send: the relay, or the other phone
    for (who, p, peer) in [("1002", &a, &b), ("1001", &b, &a)] {
        let got = p.sdp_received();
        let sdp = got
            .last()
            .unwrap_or_else(|| panic!("{who} got no SDP:\n{}", p.log()));
        let remote = remote_of(sdp.as_bytes(), &[Codec::Pcmu, Codec::G722])
            .unwrap_or_else(|| panic!("{who} got SDP without usable audio:\n{sdp}"));
        let expected = if relayed { sw.sip.ip() } else { peer.sip.ip() };
        assert_eq!(remote.rtp.ip(), expected, "{who} got:\n{sdp}");
    }
    let anchored = if relayed { 1.0 } else { 0.0 };
    assert_eq!(sw.metric("switchboard_anchored_calls_total"), anchored);
    // let a second and a half of audio arrive on each side (the recordings grow as it does)
    let enough = |p: &Baresip| {
        p.heard()
            .is_some_and(|h| h.duration() >= Duration::from_millis(1700))
    };
    assert!(
        common::eventually(WAIT, || enough(&a) && enough(&b)),
        "both phones hear audio:\n{}\n{}",
        a.log(),
        b.log()
    );
    a.hang_up();
    for (who, p) in [("1002", &mut a), ("1001", &mut b)] {
        if p.wait_event("CALL_CLOSED", WAIT).is_none() {
            panic!("{who}'s call ends:\n{}", p.log());
        }
    }

    for (who, p, hz, own) in [("1002", &a, 1000.0, 440.0), ("1001", &b, 440.0, 1000.0)] {
        let heard = p
            .heard()
            .unwrap_or_else(|| panic!("{who} recorded what it heard:\n{}", p.log()))
            .skip(Duration::from_millis(200));
        let what = heard.describe(&[hz, own]);
        assert_eq!(heard.sample_rate(), rate, "{who} decodes at {rate}: {what}");
        let dominant = heard
            .dominant_hz()
            .unwrap_or_else(|| panic!("{who} hears no tone: {what}"));
        assert!(
            (dominant - hz).abs() <= hz / 100.0,
            "{who} hears {dominant} Hz, not {hz} Hz: {what}"
        );
        assert!(heard.has(hz), "{who}: {what}");
        assert!(!heard.has(own), "{who} hears its own tone: {what}");
        // what it sent is its own tone, so the check above could tell the two apart
        let sent = p
            .sent()
            .expect("its sent audio")
            .skip(Duration::from_millis(200));
        assert!(
            sent.has(own),
            "{who} sent {own} Hz: {}",
            sent.describe(&[own])
        );
    }
}

#[test]
fn two_baresip_phones_call_through_the_switch_and_hear_each_others_tone_on_pcmu() {
    call_between_two_baresips("PCMU/8000/1", SampleRate::NARROW, "never");
}

#[test]
fn two_baresip_phones_call_through_the_switch_and_hear_each_others_tone_on_g722() {
    call_between_two_baresips("G722/16000/1", SampleRate::WIDE, "never");
}

#[test]
fn two_baresip_phones_hear_each_others_tone_through_the_relay_on_pcmu() {
    call_between_two_baresips("PCMU/8000/1", SampleRate::NARROW, "always");
}

#[test]
fn two_baresip_phones_hear_each_others_tone_through_the_relay_on_g722() {
    call_between_two_baresips("G722/16000/1", SampleRate::WIDE, "always");
}

/// baresip with its `mwi` module subscribes to its own message-summary once registered: the
/// switch's first NOTIFY (an empty mailbox) and the one after a change reach it as
/// `MWI_NOTIFY` events carrying the body. The change comes through the debug-build hook that
/// stands in for the mailbox store.
#[cfg(debug_assertions)]
#[test]
fn baresip_subscribes_to_its_mailbox_and_hears_of_a_new_message() {
    if let Some(reason) = baresip::missing() {
        eprintln!("skipped: {reason}");
        return;
    }
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    let mut p = Baresip::start(baresip::Options {
        user: "1001".into(),
        password: PW.into(),
        switch: sw.sip,
        tone_hz: 440,
        codecs: vec!["PCMU/8000/1".into()],
        mwi: true,
        tls_ca: None,
    });
    assert!(p.wait_registered(WAIT), "1001 registers:\n{}", p.log());
    let first = mwi_notify(&mut p, WAIT);
    assert!(first.contains("Messages-Waiting: no"), "{first}");
    assert!(first.contains("Voice-Message: 0/0"), "{first}");

    let (code, body) = common::http(
        sw.http,
        "POST",
        "/v1/debug/mailboxes/1001/changed",
        &[],
        Some(r#"{"new":1,"old":0}"#),
    );
    assert_eq!(code, 202, "{body}");
    let next = mwi_notify(&mut p, Duration::from_secs(2));
    assert!(next.contains("Messages-Waiting: yes"), "{next}");
    assert!(next.contains("Voice-Message: 1/0"), "{next}");
}

/// The next `MWI_NOTIFY` event of `p` (the NOTIFY's body is in it), within `wait`.
#[cfg(debug_assertions)]
fn mwi_notify(p: &mut Baresip, wait: Duration) -> String {
    p.wait_event("MWI_NOTIFY", wait)
        .unwrap_or_else(|| panic!("no MWI_NOTIFY event:\n{}", p.log()))
        .to_string()
}

/// The issue's interop case with real voicemail: baresip 1002 calls 1001, whose baresip rings
/// and is not answered; after the ring time the mailbox takes the call, 1002 hears the
/// greeting and the beep, sends its 440 Hz tone for three seconds and hangs up. 1001's
/// baresip, subscribed to its message-summary, hears of the new message (`Voice-Message:
/// 1/0`), and the message on disk is 1002's tone.
#[test]
fn baresip_leaves_a_voicemail_and_the_lamp_of_a_second_baresip_lights() {
    if let Some(reason) = baresip::missing() {
        eprintln!("skipped: {reason}");
        return;
    }
    let mut sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n[voicemail]\nring_secs = 5\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let mut owner = Baresip::start(baresip::Options {
        user: "1001".into(),
        password: PW.into(),
        switch: sw.sip,
        tone_hz: 1000,
        codecs: vec!["PCMU/8000/1".into()],
        mwi: true,
        tls_ca: None,
    });
    let mut caller = phone(&sw, "1002", 440, "PCMU/8000/1");
    assert!(
        owner.wait_registered(WAIT),
        "1001 registers:\n{}",
        owner.log()
    );
    assert!(
        caller.wait_registered(WAIT),
        "1002 registers:\n{}",
        caller.log()
    );
    let empty = owner
        .wait_event("MWI_NOTIFY", WAIT)
        .unwrap_or_else(|| panic!("1001's first MWI_NOTIFY:\n{}", owner.log()))
        .to_string();
    assert!(empty.contains("Voice-Message: 0/0"), "{empty}");

    caller.dial("1001");
    owner
        .wait_event("CALL_INCOMING", WAIT)
        .unwrap_or_else(|| panic!("1001 rings:\n{}", owner.log()));
    // nobody answers: the mailbox does, after the ring time
    caller
        .wait_event("CALL_ESTABLISHED", WAIT)
        .unwrap_or_else(|| panic!("the mailbox answers 1002:\n{}", caller.log()));
    let beeped = |p: &Baresip| {
        p.heard().is_some_and(|h| {
            let d = h.duration();
            d > Duration::from_millis(500) && h.skip(d - Duration::from_millis(400)).has(1000.0)
        })
    };
    assert!(
        common::eventually(Duration::from_secs(30), || beeped(&caller)),
        "1002 hears the greeting and the beep:\n{}",
        caller.log()
    );
    let greeting = caller.heard().expect("what 1002 heard");
    assert!(
        greeting.sounding(-50.0).duration() >= Duration::from_millis(500),
        "a spoken greeting before the beep: {}",
        greeting.describe(&[1000.0])
    );
    std::thread::sleep(Duration::from_secs(3));
    caller.hang_up();
    caller
        .wait_event("CALL_CLOSED", WAIT)
        .unwrap_or_else(|| panic!("1002's call ends:\n{}", caller.log()));

    let lit = owner
        .wait_event("MWI_NOTIFY", WAIT)
        .unwrap_or_else(|| panic!("1001 hears of the message:\n{}", owner.log()))
        .to_string();
    assert!(lit.contains("Messages-Waiting: yes"), "{lit}");
    assert!(lit.contains("Voice-Message: 1/0"), "{lit}");

    let (code, body) = common::http(sw.http, "GET", "/v1/accounts/1001/voicemail", &[], None);
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let m = &list["messages"][0];
    assert_eq!(m["caller"]["number"].as_str(), Some("1002"), "{list}");
    let id = m["id"].as_u64().expect("a message id");
    assert_eq!(sw.stop(), Some(0));
    let path = sw
        .data
        .join("voicemail")
        .join("1001")
        .join(format!("{id}.wav"));
    let audio = common::audio::read_wav(&path).unwrap();
    let tone = audio.sounding(-40.0);
    assert!(
        tone.duration() >= Duration::from_millis(2000),
        "1002's tone fills the message: {}",
        audio.describe(&[440.0])
    );
    assert_eq!(
        tone.dominant_hz().map(|h| h.round()),
        Some(440.0),
        "{}",
        tone.describe(&[440.0, 1000.0])
    );
}
