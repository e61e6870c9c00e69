//! Anchored media on IPv6: with `media.anchor = "always"` the switch relays the RTP of two
//! phones registered on `[::1]` through its IPv6 relay ports (`media.address_v6`, taken from
//! `sip.listen_also` here), writing `c=IN IP6` in the SDP it gives each; and it bridges a
//! phone on IPv4 to one on IPv6, each leg in its own family. Each phone's tone is checked on
//! the other by frequency and level.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use common::audio::assert_tone;
use common::media::{the_live_call, LISTEN, PATIENCE};
use common::rtp::{answer_codecs, remote_of, RtpPhone};
use common::ua::{Proto, Ua};
use common::{Options, Switch};
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sdp::Sdp;
use switchboard_engine::sip::Method;

const PW: &str = "secret";
const CALLER_HZ: f32 = 440.0;
const CALLEE_HZ: f32 = 1000.0;

/// A port free for both UDP and TCP on `[::1]`.
fn free_v6_port() -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("[::1]:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on [::1]");
}

/// A switch on its IPv4 test address and on `[::1]`, anchoring every call; and its IPv6 SIP
/// address.
fn dual_stack_anchoring() -> (Switch, SocketAddr) {
    let v6: SocketAddr = format!("[::1]:{}", free_v6_port()).parse().unwrap();
    let sw = Switch::with(Options {
        config: format!("[sip]\nlisten_also = [\"{v6}\"]\n[media]\nanchor = \"always\"\n"),
        ..Default::default()
    });
    for n in ["1001", "1002"] {
        sw.add_account(n, PW);
    }
    (sw, v6)
}

/// The address and port of the first audio stream of `body`.
fn audio_at(body: &[u8]) -> SocketAddr {
    let sdp = Sdp::parse(body).unwrap();
    let m = &sdp.media[0];
    SocketAddr::new(sdp.connection_of(m).expect("a c= line").address, m.port)
}

/// `caller` calls 1002 (`callee`) with PCMU; each phone sends its tone to where the SDP it
/// got points, and each hears the other's through the relay. The relay addresses the caller
/// and the callee were given.
async fn call_with_tones(sw: &Switch, caller: &mut Ua, callee: &mut Ua) -> (IpAddr, IpAddr) {
    let mut a = RtpPhone::bind(caller.local.ip());
    let mut b = RtpPhone::bind(callee.local.ip());
    let offer = a.sdp(&[Codec::Pcmu], a.local().ip());
    let mut call = caller.invite_sdp("1002", &offer).await;
    let invite = callee.expect_request(Method::Invite).await;
    let to_b = audio_at(invite.body());
    assert_ne!(
        to_b,
        a.local(),
        "the callee is offered the relay, not the caller"
    );
    assert_eq!(
        to_b.is_ipv6(),
        callee.local.is_ipv6(),
        "the callee's family: {to_b}"
    );
    let accepted = answer_codecs(invite.body(), &[Codec::Pcmu]);
    let _uas = callee
        .accept_sdp(&invite, &b.sdp(&accepted, b.local().ip()))
        .await;
    let answer = caller.invite_outcome(&mut call).await;
    assert_eq!(answer.status(), Some(200));
    callee.expect_request(Method::Ack).await;
    let to_a = audio_at(answer.body());
    assert_ne!(
        to_a,
        b.local(),
        "the caller hears the relay, not the callee"
    );
    assert_eq!(
        to_a.is_ipv6(),
        caller.local.is_ipv6(),
        "the caller's family: {to_a}"
    );
    for (body, at) in [(invite.body(), to_b), (answer.body(), to_a)] {
        let family = if at.is_ipv6() { "IP6" } else { "IP4" };
        let text = String::from_utf8_lossy(body);
        assert!(
            text.contains(&format!("c=IN {family} {}\r\n", at.ip())),
            "{text}"
        );
    }
    let live = the_live_call(sw);
    assert_eq!(live["media"], "anchored", "{live}");

    a.start_towards(
        &remote_of(answer.body(), &[Codec::Pcmu]).unwrap(),
        CALLER_HZ,
    );
    b.start_towards(&remote_of(invite.body(), &accepted).unwrap(), CALLEE_HZ);
    assert!(
        a.wait_heard(LISTEN, PATIENCE).await,
        "the caller hears audio"
    );
    assert!(
        b.wait_heard(LISTEN, PATIENCE).await,
        "the callee hears audio"
    );
    let bye = caller.in_dialog_request(&mut call, "BYE", None, true);
    caller.send(bye);
    let bye = callee.expect_request(Method::Bye).await;
    callee.reply(&bye, 200);
    a.stop();
    b.stop();
    assert_tone(
        "caller",
        &a.audio(),
        CALLEE_HZ,
        CALLER_HZ,
        SampleRate::NARROW,
    );
    assert_tone(
        "callee",
        &b.audio(),
        CALLER_HZ,
        CALLEE_HZ,
        SampleRate::NARROW,
    );
    (to_a.ip(), to_b.ip())
}

#[tokio::test]
async fn two_phones_on_ipv6_hear_each_other_through_the_ipv6_relay() {
    let (sw, v6) = dual_stack_anchoring();
    let mut callee = Ua::new(v6, "1002", PW, Proto::Udp).await;
    assert_eq!(callee.register(600).await.status(), Some(200));
    let mut caller = Ua::new(v6, "1001", PW, Proto::Udp).await;
    assert_eq!(caller.register(600).await.status(), Some(200));
    assert!(caller.local.is_ipv6() && callee.local.is_ipv6());
    let (to_a, to_b) = call_with_tones(&sw, &mut caller, &mut callee).await;
    assert_eq!(to_a, v6.ip());
    assert_eq!(to_b, v6.ip());
}

#[tokio::test]
async fn a_phone_on_ipv4_hears_a_phone_on_ipv6_through_a_relay_of_both_families() {
    let (sw, v6) = dual_stack_anchoring();
    let mut callee = Ua::new(v6, "1002", PW, Proto::Udp).await;
    assert_eq!(callee.register(600).await.status(), Some(200));
    let mut caller = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    assert_eq!(caller.register(600).await.status(), Some(200));
    assert!(caller.local.is_ipv4());
    let (to_a, to_b) = call_with_tones(&sw, &mut caller, &mut callee).await;
    assert_eq!(to_a, sw.sip.ip(), "the switch's IPv4 media address");
    assert_eq!(to_b, v6.ip());
}
