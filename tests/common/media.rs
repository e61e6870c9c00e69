//! Calls with real RTP through a switch, shared by the media tests: a switch with the given
//! configuration and accounts, agents registered to it, a call between two test phones with
//! each end's codecs and tone (`call`, `call_between`), and what a phone heard checked as a
//! listener would (`assert_hears`: frequency and level).

use std::net::IpAddr;
use std::time::Duration;

use switchboard_engine::media::{Codec, SampleRate};

use super::rtp::{RtpPhone, TELEPHONE_EVENT_PT, TONE_DBFS};
use super::ua::{call_with_media, End, MediaCall, Proto, Ua};
use super::{Options, Switch};

/// The password of every account made here.
pub const PW: &str = "test-password";
/// Audio each check looks at (after the first 200 ms).
pub const LISTEN: Duration = Duration::from_millis(1200);
/// How long audio may take to arrive on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(15);
/// How far a heard level may be from the sent one (G.711 and G.722 keep a tone within a
/// fraction of a dB; the rest is for a lost packet or two).
pub const LEVEL_DB: f64 = 3.0;

/// A switch started with `config` (TOML; a `[media]` section gets the switch's own address
/// for its RTP) and `accounts`, each with password [`PW`].
pub fn switch(config: &str, accounts: &[&str]) -> Switch {
    let sw = Switch::with(Options {
        config: config.to_owned(),
        ..Options::default()
    });
    for a in accounts {
        sw.add_account(a, PW);
    }
    sw
}

/// An agent of `user` (UDP, its own address), registered.
pub async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    let r = ua.register(600).await;
    assert_eq!(r.status(), Some(200), "{user} registers");
    ua
}

/// How one end of a [`call`] behaves.
pub struct Leg {
    /// The codecs it offers (caller) or accepts (callee), preferred first.
    pub codecs: &'static [Codec],
    /// The frequency its phone sends.
    pub hz: f32,
    /// The address its SDP names: `None` for the phone's own (another plays NAT).
    pub sdp_ip: Option<IpAddr>,
    /// The payload type its SDP gives telephone-event (RFC 4733), if it lists it.
    pub telephone_event: Option<u8>,
}

impl Leg {
    /// A phone with `codecs` sending `hz`, its SDP naming its own address and
    /// telephone-event on 101.
    pub fn new(codecs: &'static [Codec], hz: f32) -> Leg {
        Leg {
            codecs,
            hz,
            sdp_ip: None,
            telephone_event: Some(TELEPHONE_EVENT_PT),
        }
    }

    /// A PCMU phone sending `hz`.
    pub fn pcmu(hz: f32) -> Leg {
        Leg::new(&[Codec::Pcmu], hz)
    }

    /// Its SDP names `ip` instead of its own address (a phone behind NAT).
    pub fn naming(self, ip: IpAddr) -> Leg {
        Leg {
            sdp_ip: Some(ip),
            ..self
        }
    }

    /// Its SDP gives telephone-event payload type `pt`.
    pub fn telephone_event(self, pt: u8) -> Leg {
        Leg {
            telephone_event: Some(pt),
            ..self
        }
    }

    /// Its SDP leaves telephone-event out (a phone that knows no RFC 4733).
    pub fn without_telephone_event(self) -> Leg {
        Leg {
            telephone_event: None,
            ..self
        }
    }
}

/// Both ends of a call: the caller's (A) and the callee's (B) agents and phones, and the
/// call as both saw it.
pub struct Ends {
    pub ua_a: Ua,
    pub ua_b: Ua,
    pub a: RtpPhone,
    pub b: RtpPhone,
    pub call: MediaCall,
}

impl Ends {
    /// A hangs up (B answers the BYE); the phones go on listening.
    pub async fn hang_up(&mut self) {
        self.call.hang_up(&mut self.ua_a, &mut self.ua_b).await;
    }
}

/// A (1002) calls B (1001) through `sw`; both phones send their tones once the call is up.
pub async fn call(sw: &Switch, a_leg: Leg, b_leg: Leg) -> Ends {
    call_between(sw, ("1002", a_leg), ("1001", b_leg)).await
}

/// `caller` calls `callee` through `sw` (both registered here, each phone on its agent's
/// address); both phones send their tones once the call is up.
pub async fn call_between(sw: &Switch, caller: (&str, Leg), callee: (&str, Leg)) -> Ends {
    let ((a_user, a_leg), (b_user, b_leg)) = (caller, callee);
    let mut ua_b = registered(sw, b_user).await;
    let mut ua_a = registered(sw, a_user).await;
    // each phone's RTP on the address its signalling comes from (a phone behind NAT names
    // another in its SDP)
    let (mut a, mut b) = (
        RtpPhone::bind(ua_a.local.ip()),
        RtpPhone::bind(ua_b.local.ip()),
    );
    for (phone, leg) in [(&a, &a_leg), (&b, &b_leg)] {
        phone.offer_telephone_event(leg.telephone_event.is_some());
        if let Some(pt) = leg.telephone_event {
            phone.set_telephone_event(pt);
        }
    }
    let call = call_with_media(
        End {
            ua: &mut ua_a,
            phone: &mut a,
            codecs: a_leg.codecs,
            tone_hz: a_leg.hz,
            sdp_ip: a_leg.sdp_ip,
        },
        End {
            ua: &mut ua_b,
            phone: &mut b,
            codecs: b_leg.codecs,
            tone_hz: b_leg.hz,
            sdp_ip: b_leg.sdp_ip,
        },
        b_user,
    )
    .await;
    Ends {
        ua_a,
        ua_b,
        a,
        b,
        call,
    }
}

/// Asserts `phone` heard `hz` (dominant, within 1 %, at about the level sent) at `rate`, and
/// not `not_hz` (at least 30 dB below).
pub fn assert_hears(who: &str, phone: &RtpPhone, hz: f32, not_hz: f32, rate: SampleRate) {
    let audio = phone.audio();
    let what = audio.describe(&[hz, not_hz]);
    assert_eq!(audio.sample_rate(), rate, "{who} decodes at {rate}: {what}");
    let dominant = audio
        .dominant_hz()
        .unwrap_or_else(|| panic!("{who} hears no tone: {what}"));
    assert!(
        (dominant - hz).abs() <= hz / 100.0,
        "{who} hears {dominant} Hz, not {hz} Hz: {what}"
    );
    let level = audio.level_at(hz);
    assert!(
        (level - TONE_DBFS as f64).abs() <= LEVEL_DB,
        "{who} hears {hz} Hz at {level:.1} dBFS, sent at {TONE_DBFS} dBFS: {what}"
    );
    assert!(audio.has(hz), "{who}: {what}");
    assert!(!audio.has(not_hz), "{who} hears {not_hz} Hz too: {what}");
    assert!(
        audio.level_at(not_hz) < level - 30.0,
        "{who} hears {not_hz} Hz: {what}"
    );
}
