//! Three baresip phones (a SIP user agent nobody here wrote) in one conference: each dials
//! `conf-<name>` through the switch with digest credentials, sends a tone of its own (its
//! `ausine` audio source) and records what it decodes (the `sndfile` filter). Two offer PCMU
//! and one G.722 only, so the bridge mixes at 8 and 16 kHz at once. Each phone's recording
//! must hold the other two tones and not its own: the N-1 mix, checked by frequency as a
//! listener would.
//!
//! Skipped, with the reason printed, when baresip is not installed.

mod common;

use std::time::Duration;

use common::baresip::{self, Baresip};
use common::{Options, Switch};
use switchboard_engine::media::SampleRate;

const PW: &str = "test-password";
const WAIT: Duration = Duration::from_secs(15);
/// What each phone's recording is judged on: its last stretch, once every phone is in and
/// the join tones are over.
const JUDGED: Duration = Duration::from_millis(1500);

struct Member {
    who: &'static str,
    hz: f32,
    rate: SampleRate,
    phone: Baresip,
}

fn member(sw: &Switch, who: &'static str, hz: u32, codec: &str, rate: SampleRate) -> Member {
    let phone = Baresip::start(baresip::Options {
        user: who.into(),
        password: PW.into(),
        switch: sw.sip,
        tone_hz: hz,
        codecs: vec![codec.into()],
        mwi: false,
        tls_ca: None,
    });
    Member {
        who,
        hz: hz as f32,
        rate,
        phone,
    }
}

#[test]
fn three_baresip_phones_in_a_conference_each_hear_the_other_two_and_not_themselves() {
    if let Some(reason) = baresip::missing() {
        eprintln!("skipped: {reason}");
        return;
    }
    // baresip 1.0 answers MD5 digest challenges only
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    for n in ["1001", "1002", "1003"] {
        sw.add_account(n, PW);
    }
    let mut members = [
        member(&sw, "1001", 440, "PCMU/8000/1", SampleRate::NARROW),
        member(&sw, "1002", 1000, "PCMU/8000/1", SampleRate::NARROW),
        member(&sw, "1003", 1800, "G722/16000/1", SampleRate::WIDE),
    ];
    for m in &mut members {
        let log = m.phone.log();
        assert!(m.phone.wait_registered(WAIT), "{} registers:\n{log}", m.who);
    }
    for m in &mut members {
        m.phone.dial("conf-baresips");
        if m.phone.wait_event("CALL_ESTABLISHED", WAIT).is_none() {
            panic!("{} is in the conference:\n{}", m.who, m.phone.log());
        }
    }
    // each joins the bridge once its ACK is in
    assert!(
        common::eventually(WAIT, || sw.metric("switchboard_conference_participants")
            == 3.0),
        "three participants on the mixer"
    );
    // every recording grows past the join tones and the judged stretch
    let enough = |m: &Member| {
        m.phone
            .heard()
            .is_some_and(|h| h.duration() >= Duration::from_millis(3000))
    };
    assert!(
        common::eventually(WAIT, || members.iter().all(enough)),
        "every phone hears the conference:\n{}",
        members.iter().map(|m| m.phone.log()).collect::<String>()
    );
    for m in &mut members {
        m.phone.hang_up();
        if m.phone.wait_event("CALL_CLOSED", WAIT).is_none() {
            panic!("{}'s call ends:\n{}", m.who, m.phone.log());
        }
    }

    let tones: Vec<f32> = members.iter().map(|m| m.hz).collect();
    for m in &members {
        let heard = m
            .phone
            .heard()
            .unwrap_or_else(|| panic!("{} recorded what it heard:\n{}", m.who, m.phone.log()));
        let judged = heard.skip(heard.duration().saturating_sub(JUDGED));
        let what = judged.describe(&tones);
        assert_eq!(
            judged.sample_rate(),
            m.rate,
            "{} decodes at {}: {what}",
            m.who,
            m.rate
        );
        for other in members.iter().filter(|o| o.who != m.who) {
            assert!(
                judged.has(other.hz),
                "{} hears {}: {what}",
                m.who,
                other.who
            );
        }
        assert!(!judged.has(m.hz), "{} hears its own tone: {what}", m.who);
        // what it sent is its own tone, so the check above could tell them apart
        let sent = m.phone.sent().expect("its sent audio");
        assert!(
            sent.skip(Duration::from_millis(200)).has(m.hz),
            "{} sent {} Hz",
            m.who,
            m.hz
        );
    }
}
