//! Calls with real RTP through a switch, shared by the media tests: a switch with the given
//! configuration and accounts, a call between two test phones with each end's codecs and tone
//! (`call`, `call_between`), what a phone heard checked as a listener would (`assert_hears`:
//! frequency and level, by [`assert_tone`]), and the calls API as the operator sees it
//! (`api`, `the_live_call`).

use std::net::IpAddr;
use std::time::Duration;

use switchboard_engine::media::{Codec, SampleRate};

use super::audio::assert_tone;
use super::rtp::{RtpPhone, TELEPHONE_EVENT_PT};
use super::ua::{call_with_media, End, MediaCall, Ua};
use super::{http, Options, Switch};

/// The password of every account made here.
pub const PW: &str = "test-password";
/// Audio each check looks at (after the first 200 ms).
pub const LISTEN: Duration = Duration::from_millis(1200);
/// How long audio may take to arrive on a loaded machine.
pub const PATIENCE: Duration = Duration::from_secs(15);

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
    let mut ua_b = Ua::registered(sw.sip, b_user, PW).await;
    let mut ua_a = Ua::registered(sw.sip, a_user, PW).await;
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

/// Asserts `phone` heard `hz` at about the level sent, at `rate`, and not `not_hz`
/// ([`assert_tone`] on what it heard).
pub fn assert_hears(who: &str, phone: &RtpPhone, hz: f32, not_hz: f32, rate: SampleRate) {
    assert_tone(who, &phone.audio(), hz, not_hz, rate);
}

/// `GET path` on the switch's API as the operator (loopback, no token): status and JSON
/// (`null` if the body is not JSON).
pub fn api(sw: &Switch, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(sw.http, "GET", path, &[], None);
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// The one live call `GET /v1/calls` lists.
pub fn the_live_call(sw: &Switch) -> serde_json::Value {
    let (status, body) = api(sw, "/v1/calls");
    assert_eq!(status, 200, "{body}");
    let calls = body["calls"].as_array().expect("a list of calls");
    assert_eq!(calls.len(), 1, "{body}");
    calls[0].clone()
}
