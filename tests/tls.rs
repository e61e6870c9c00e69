//! SIP over TLS end to end: phones registering (digest) and calling each other over TLS on
//! their own connections, `sips:` requests kept on TLS, a client that does not trust the
//! certificate or speaks only TLS 1.1 refused while the switch keeps serving, and the
//! certificate reloaded on SIGHUP (a bad file keeps the old one).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::tls::{client_trusting, client_trusting_nothing, der_of, lab_cert, make_cert};
use common::ua::{Proto, Ua};
use common::{Options, Switch};
use switchboard_engine::sip::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "test-password";

fn switch_with(accounts: &[&str]) -> Switch {
    let sw = Switch::start();
    for a in accounts {
        sw.add_account(a, PW);
    }
    sw
}

async fn tls_registered(sw: &Switch, user: &str, client: Arc<rustls::ClientConfig>) -> Ua {
    let mut ua = Ua::tls(sw.sip, sw.tls, user, PW, client)
        .await
        .expect("tls handshake");
    let r = ua.register(600).await;
    assert_eq!(r.status(), Some(200), "{user} registers over tls");
    ua
}

#[tokio::test]
async fn phones_register_and_call_over_tls_on_their_own_connections() {
    let sw = switch_with(&["1001", "1002"]);
    let trust = client_trusting(&lab_cert(&sw.data));
    let mut callee = tls_registered(&sw, "1001", trust.clone()).await;
    let mut caller = tls_registered(&sw, "1002", trust).await;
    assert_eq!(sw.metric("switchboard_tcp_connections"), 2.0);

    let mut out = caller.invite("1001").await;
    let inv = callee.expect_request(Method::Invite).await;
    let tls_port = sw.tls.port();
    let via = inv.top_via().unwrap();
    assert_eq!(via.transport(), "TLS", "the switch's Via says TLS");
    assert_eq!(via.port(), Some(tls_port), "and the TLS port");
    let rr: Vec<String> = inv
        .record_routes()
        .map(|r| r.uri().as_str().to_owned())
        .collect();
    assert_eq!(rr.len(), 1, "one transport on both sides: one Record-Route");
    assert!(
        rr[0].contains(&format!(":{tls_port};transport=tls")),
        "{rr:?}"
    );
    let tag = callee.token();
    callee.reply_tagged(&inv, 180, &tag, None);
    assert!(
        caller.response(&out.call_id, 180).await.is_some(),
        "180 relayed"
    );
    let answer = callee.sdp();
    callee.reply_tagged(&inv, 200, &tag, Some(("application/sdp", &answer)));
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200));
    callee.expect_request(Method::Ack).await;

    let bye = caller.in_dialog_request(&mut out, "BYE", None, true);
    caller.send(bye);
    let got = callee.expect_request(Method::Bye).await;
    callee.reply(&got, 200);
    let done = caller.final_response(&out.call_id, "BYE").await;
    assert_eq!(done.status(), Some(200));
    // the INVITE, ACK and BYE reached the callee on the connection it registered on: the
    // switch opened none of its own
    assert_eq!(sw.metric("switchboard_tcp_connections"), 2.0);
    assert_eq!(sw.metric("switchboard_tls_handshakes_total"), 2.0);
}

#[tokio::test]
async fn a_sips_request_reaches_only_devices_registered_over_tls() {
    let sw = switch_with(&["1001", "1002"]);
    let trust = client_trusting(&lab_cert(&sw.data));
    let mut on_udp = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    assert_eq!(on_udp.register(600).await.status(), Some(200));
    let mut caller = tls_registered(&sw, "1002", trust.clone()).await;

    // only a UDP device: nobody to reach securely
    let uri = format!("sips:1001@{}", sw.sip.ip());
    let sdp = caller.sdp();
    let mut c = caller.invite_uri(&uri, &sdp, true).await;
    assert_eq!(caller.invite_outcome(&mut c).await.status(), Some(480));
    assert!(
        on_udp
            .maybe_request(Method::Invite, Duration::from_millis(300))
            .await
            .is_none(),
        "a sips request never leaves over udp"
    );

    // a TLS device of the same subscriber gets it, the UDP one still does not
    let mut on_tls = tls_registered(&sw, "1001", trust).await;
    let mut c = caller.invite_uri(&uri, &sdp, true).await;
    let inv = on_tls.expect_request(Method::Invite).await;
    assert_eq!(inv.top_via().unwrap().transport(), "TLS");
    on_tls.reply(&inv, 486);
    assert_eq!(caller.invite_outcome(&mut c).await.status(), Some(486));
    assert!(on_udp
        .maybe_request(Method::Invite, Duration::from_millis(300))
        .await
        .is_none());

    // a plain sip: request forks to both
    let mut c = caller.invite("1001").await;
    let a = on_tls.expect_request(Method::Invite).await;
    let b = on_udp.expect_request(Method::Invite).await;
    on_tls.reply(&a, 486);
    on_udp.reply(&b, 486);
    assert_eq!(caller.invite_outcome(&mut c).await.status(), Some(486));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_fails_and_the_switch_keeps_serving() {
    let sw = switch_with(&["1001"]);
    let refused = Ua::tls(sw.sip, sw.tls, "1001", PW, client_trusting_nothing()).await;
    let e = refused
        .err()
        .expect("an untrusted certificate fails the handshake");
    assert!(
        e.to_string().contains("UnknownIssuer") || e.to_string().contains("certificate"),
        "{e}"
    );
    // the switch still serves TLS and UDP
    tls_registered(&sw, "1001", client_trusting(&lab_cert(&sw.data))).await;
    assert_eq!(
        common::options_ping(sw.sip, Duration::from_secs(2)),
        Some(200)
    );
}

#[tokio::test]
async fn a_client_offering_only_tls_1_1_is_refused() {
    let sw = switch_with(&["1001"]);
    let mut s = tokio::net::TcpStream::connect(sw.tls).await.unwrap();
    s.write_all(&common::tls::tls11_client_hello())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the switch closes the connection");
    assert_eq!(answer.first(), Some(&0x15), "with an alert: {answer:?}");
    tls_registered(&sw, "1001", client_trusting(&lab_cert(&sw.data))).await;
}

#[tokio::test]
async fn certificates_reload_on_sighup_and_a_bad_file_keeps_the_old_one() {
    let dir = common::TempDir::new("tls-certs");
    let name = "switch.test";
    let (first, first_key) = make_cert(&dir.0, "first", "first.example", name);
    let (second, second_key) = make_cert(&dir.0, "second", "second.example", name);
    let (cert, key) = (dir.0.join("live-cert.pem"), dir.0.join("live-key.pem"));
    std::fs::copy(&first, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let mut sw = Switch::with(Options {
        config: format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        ..Default::default()
    });
    let (trust_first, trust_second) = (client_trusting(&first), client_trusting(&second));
    let der = common::tls::presented(sw.tls, trust_first.clone(), name)
        .await
        .unwrap();
    assert_eq!(der, der_of(&first), "the configured certificate is served");
    assert!(
        !lab_cert(&sw.data).exists(),
        "no lab certificate when one is configured"
    );

    // an open connection keeps working; new ones get the reloaded certificate
    let mut open = common::tls::open(sw.tls, trust_first.clone(), name)
        .await
        .unwrap();
    std::fs::copy(&second, &cert).unwrap();
    std::fs::copy(&second_key, &key).unwrap();
    sw.hangup();
    assert!(
        wait_for_cert(sw.tls, trust_second.clone(), name, &der_of(&second)).await,
        "the second certificate is served after SIGHUP"
    );
    open.write_all(&options(sw.sip)).await.unwrap();
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), open.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "open connection still served"
    );

    // a broken file: the second certificate stays
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    sw.hangup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let der = common::tls::presented(sw.tls, trust_second, name)
        .await
        .unwrap();
    assert_eq!(der, der_of(&second), "a bad file keeps the old certificate");
    assert!(
        sw.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "still running"
    );

    // a bad file at start-up is a start-up error naming it
    sw.stop();
    let (code, _, err) = common::cli(
        &[
            "serve",
            "--sip",
            &sw.sip.to_string(),
            "--http",
            &sw.http.to_string(),
            "--config",
            sw.config.as_ref().unwrap().to_str().unwrap(),
        ],
        Some(&sw.data),
    );
    assert_ne!(code, 0);
    assert!(err.contains(cert.to_str().unwrap()), "{err}");
}

/// An OPTIONS to the switch over TLS.
fn options(sip: std::net::SocketAddr) -> Vec<u8> {
    format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/TLS {ip}:1;branch=z9hG4bKtlsopt\r\n\
From: <sip:ping@{ip}>;tag=t1\r\nTo: <sip:{sip}>\r\nCall-ID: tls-options\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        ip = sip.ip()
    )
    .into_bytes()
}

/// Whether new connections to `addr` see the certificate `der` within a few seconds.
async fn wait_for_cert(
    addr: std::net::SocketAddr,
    client: Arc<rustls::ClientConfig>,
    name: &str,
    der: &[u8],
) -> bool {
    for _ in 0..50 {
        if let Ok(got) = common::tls::presented(addr, client.clone(), name).await {
            if got == der {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn keep_alive_pings_over_tls_are_answered() {
    let sw = switch_with(&[]);
    let trust = client_trusting(&lab_cert(&sw.data));
    let ip = sw.tls.ip().to_string();
    let mut s = common::tls::open(sw.tls, trust, &ip).await.unwrap();
    // RFC 5626 §3.5.1: a double CRLF ping gets a single CRLF pong
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // and the connection still carries SIP
    s.write_all(&options(sw.sip)).await.unwrap();
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"));
}
