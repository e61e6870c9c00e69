//! IPv6: the switch listens on `[::1]` beside its IPv4 address (`sip.listen_also`); phones
//! register and call over UDP and TCP on IPv6 (SDP `c=IN IP6 ::1`), the switch names its
//! IPv6 address in brackets (RFC 5118) in the Via and Record-Route it adds toward them, and
//! a phone on IPv4 calls one on IPv6 through it (dual stack).

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};

use common::ua::{Proto, Ua};
use common::{options_ping, Options, Switch};
use switchboard_engine::sip::{HeaderName, Message, Method};

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

/// A switch on its IPv4 test address and on `[::1]`; returns it and its IPv6 address.
fn dual_stack() -> (Switch, SocketAddr) {
    let port = free_v6_port();
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let sw = Switch::with(Options {
        config: format!("[sip]\nlisten_also = [\"{v6}\"]\n"),
        ..Default::default()
    });
    for n in ["1001", "1002"] {
        sw.add_account(n, "secret");
    }
    (sw, v6)
}

/// Every value of a header, comma lists split.
fn header_values(m: &Message, name: HeaderName) -> Vec<String> {
    m.header_values(name)
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .collect()
}

/// `caller` calls 1002 (`callee`), who answers; both ends check what the switch wrote toward
/// `callee`, then the caller hangs up.
async fn call_and_hang_up(caller: &mut Ua, callee: &mut Ua, toward_callee: SocketAddr) {
    let ours = format!("{toward_callee}");
    let mut call = caller.invite("1002").await;
    let invite = callee.expect_request(Method::Invite).await;
    let via = invite.top_via().expect("a Via");
    assert_eq!(
        format!("{}:{}", via.host(), via.port().unwrap()),
        ours,
        "the switch's Via toward the callee names its address of the callee's family"
    );
    let rr = header_values(&invite, HeaderName::RecordRoute);
    assert!(
        rr.first().is_some_and(|r| r.contains(&ours)),
        "top Record-Route faces the callee: {rr:?}"
    );
    assert_eq!(
        invite.body(),
        caller.sdp().as_slice(),
        "the offer reaches the callee as sent"
    );
    let mut uas = callee.accept(&invite).await;
    let ok = caller.invite_outcome(&mut call).await;
    assert_eq!(ok.status(), Some(200));
    if callee.local.is_ipv6() {
        assert!(String::from_utf8_lossy(ok.body()).contains("c=IN IP6 ::1"));
    }
    callee.expect_request(Method::Ack).await;
    let bye = caller.in_dialog_request(&mut call, "BYE", None, true);
    caller.send(bye);
    let bye = callee.expect_request(Method::Bye).await;
    callee.reply_tagged(&bye, 200, &uas.local_tag.clone(), None);
    let done = caller.final_response(&call.call_id, "BYE").await;
    assert_eq!(done.status(), Some(200));
    uas.cseq += 1;
}

async fn register_and_call_on_v6(proto: Proto) {
    let (sw, v6) = dual_stack();
    let mut callee = Ua::new(v6, "1002", "secret", proto).await;
    assert!(callee.local.is_ipv6());
    assert_eq!(callee.register(600).await.status(), Some(200));
    let mut caller = Ua::new(v6, "1001", "secret", proto).await;
    assert_eq!(caller.register(600).await.status(), Some(200));
    assert!(String::from_utf8_lossy(&caller.sdp()).contains("c=IN IP6 ::1"));
    call_and_hang_up(&mut caller, &mut callee, v6).await;
    assert_eq!(
        options_ping(sw.sip, std::time::Duration::from_secs(2)),
        Some(200)
    );
}

#[tokio::test]
async fn phones_register_and_call_on_ipv6_over_udp() {
    register_and_call_on_v6(Proto::Udp).await;
}

#[tokio::test]
async fn phones_register_and_call_on_ipv6_over_tcp() {
    register_and_call_on_v6(Proto::Tcp).await;
}

#[tokio::test]
async fn a_phone_on_ipv4_calls_a_phone_on_ipv6() {
    let (sw, v6) = dual_stack();
    let mut callee = Ua::new(v6, "1002", "secret", Proto::Udp).await;
    assert_eq!(callee.register(600).await.status(), Some(200));
    let mut caller = Ua::new(sw.sip, "1001", "secret", Proto::Udp).await;
    assert!(caller.local.is_ipv4());
    assert_eq!(caller.register(600).await.status(), Some(200));
    call_and_hang_up(&mut caller, &mut callee, v6).await;
}

#[tokio::test]
async fn phones_register_and_call_on_ipv6_over_tls() {
    let v6: SocketAddr = format!("[::1]:{}", free_v6_port()).parse().unwrap();
    let tls6: SocketAddr = format!("[::1]:{}", free_v6_port()).parse().unwrap();
    let sw = Switch::with(Options {
        config: format!("[sip]\nlisten_also = [\"{v6}\"]\n[tls]\nlisten = [\"{tls6}\"]\n"),
        ..Default::default()
    });
    for n in ["1001", "1002"] {
        sw.add_account(n, "secret");
    }
    // the lab certificate names ::1
    let trust = common::tls::client_trusting(&common::tls::lab_cert(&sw.data));
    let mut callee = Ua::tls(v6, tls6, "1002", "secret", trust.clone())
        .await
        .expect("a TLS handshake on [::1]");
    assert!(callee.local.is_ipv6());
    assert_eq!(callee.register(600).await.status(), Some(200));
    let mut caller = Ua::tls(v6, tls6, "1001", "secret", trust)
        .await
        .expect("a TLS handshake on [::1]");
    assert_eq!(caller.register(600).await.status(), Some(200));
    // the switch names its IPv6 address and TLS port toward the callee
    call_and_hang_up(&mut caller, &mut callee, tls6).await;
}
