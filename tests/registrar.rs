//! Registration end to end: digest auth, wrong passwords, refresh, several devices, removal,
//! Min-Expires, uniform challenges, user-name spellings, TCP, and retransmissions the ring of
//! recent answers no longer holds (with and without digest authentication).

mod common;

use common::ua::{Proto, Ua};
use common::Switch;
use switchboard_engine::sip::{HeaderName, Message};

fn contacts(m: &Message) -> Vec<String> {
    m.contacts().map(|c| c.uri().as_str().to_owned()).collect()
}

#[tokio::test]
async fn register_with_digest_then_refresh_then_unregister() {
    let sw = Switch::start();
    sw.add_account("1001", "secret-1001");
    let mut ua = Ua::new(sw.sip, "1001", "secret-1001", Proto::Udp).await;
    let ok = ua.register(600).await;
    assert_eq!(ok.status(), Some(200));
    assert_eq!(contacts(&ok), [ua.contact()]);
    let expires = ok
        .contacts()
        .next()
        .unwrap()
        .param("expires")
        .unwrap()
        .parse::<u32>()
        .unwrap();
    assert!((590..=600).contains(&expires), "{expires}");
    assert!(ok.header(HeaderName::Date).is_some());

    let refreshed = ua.register(1200).await;
    assert_eq!(refreshed.status(), Some(200));
    assert_eq!(
        contacts(&refreshed).len(),
        1,
        "a refresh does not add a binding"
    );
    assert!(sw.metric("switchboard_registrations") >= 1.0);

    let gone = ua.register(0).await;
    assert_eq!(gone.status(), Some(200));
    assert!(contacts(&gone).is_empty());
}

#[tokio::test]
async fn wrong_password_is_refused_and_binds_nothing() {
    let sw = Switch::start();
    sw.add_account("1001", "right-password");
    let mut bad = Ua::new(sw.sip, "1001", "wrong-password", Proto::Udp).await;
    assert_eq!(bad.register(600).await.status(), Some(403));
    let mut good = Ua::new(sw.sip, "1001", "right-password", Proto::Udp).await;
    let ok = good.register(600).await;
    assert_eq!(
        contacts(&ok),
        [good.contact()],
        "the failed attempt left no binding"
    );
}

#[tokio::test]
async fn unknown_and_known_numbers_get_identical_challenges_and_answers() {
    let sw = Switch::start();
    sw.add_account("1001", "pw-1001");
    let mut known = Ua::new(sw.sip, "1001", "guess", Proto::Udp).await;
    let mut unknown = Ua::new(sw.sip, "1999", "guess", Proto::Udp).await;
    // the first REGISTER of each is challenged; compare the challenge headers
    let mut pair = None;
    for _ in 0..5 {
        let a = challenge_of(&mut known).await;
        let b = challenge_of(&mut unknown).await;
        if a == b {
            pair = Some(a);
            break;
        }
        // a second boundary passed between the two; the nonce carries the time
    }
    let headers = pair.expect("challenges for a known and an unknown number are byte-identical");
    assert_eq!(headers.len(), 2);
    assert!(
        headers[0].contains("algorithm=SHA-256"),
        "SHA-256 offered first"
    );
    assert!(headers[1].contains("algorithm=MD5"));
    // and wrong credentials get the same answer for both
    assert_eq!(known.register(600).await.status(), Some(403));
    assert_eq!(unknown.register(600).await.status(), Some(403));
}

async fn challenge_of(ua: &mut Ua) -> Vec<String> {
    let contact = format!("<{}>", ua.contact());
    let t = ua.token();
    // a REGISTER without credentials: answered 401 without looking the number up
    let raw = format!(
        "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{t};rport\r\nMax-Forwards: 70\r\n\
From: <sip:{u}@{ip}>;tag={t}\r\nTo: <sip:{u}@{ip}>\r\nCall-ID: ch-{t}\r\nCSeq: 1 REGISTER\r\nContact: {contact}\r\n\
Content-Length: 0\r\n\r\n",
        srv = ua.server,
        l = ua.local,
        u = ua.user,
        ip = ua.server.ip()
    );
    let call_id = raw
        .split("Call-ID: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap()
        .to_owned();
    ua.send(bytes::Bytes::from(raw));
    let r = ua.final_response(&call_id, "REGISTER").await;
    assert_eq!(r.status(), Some(401));
    r.header_lines(HeaderName::WwwAuthenticate)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn two_devices_hold_two_bindings_and_star_removes_both() {
    let sw = Switch::start();
    sw.add_account("1001", "pw-1234");
    let mut phone = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    let mut laptop = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    phone.register(600).await;
    let both = laptop.register(600).await;
    let mut got = contacts(&both);
    got.sort();
    let mut want = vec![phone.contact(), laptop.contact()];
    want.sort();
    assert_eq!(got, want);
    let r = laptop.register_contact("*", Some(0)).await;
    assert_eq!(r.status(), Some(200));
    assert!(contacts(&r).is_empty());
    let q = phone.register_contact("", None).await;
    assert!(contacts(&q).is_empty(), "a query shows no bindings left");
}

#[tokio::test]
async fn too_short_an_interval_gets_423_with_min_expires() {
    let sw = Switch::start();
    sw.add_account("1001", "pw-1234");
    let mut ua = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    let r = ua.register(10).await;
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header(HeaderName::MinExpires), Some("60"));
}

#[tokio::test]
async fn the_national_spelling_of_a_number_authenticates_too() {
    let sw = Switch::start();
    sw.add_account("+82 11 123 4567", "pw-kr");
    let mut ua = Ua::new(sw.sip, "0111234567", "pw-kr", Proto::Udp).await;
    assert_eq!(ua.register(600).await.status(), Some(200));
    let mut e164 = Ua::new(sw.sip, "+82111234567", "pw-kr", Proto::Udp).await;
    let r = e164.register(600).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        contacts(&r).len(),
        2,
        "both spellings bind to one subscriber"
    );
}

#[tokio::test]
async fn registration_over_tcp_works_and_is_answered_on_the_same_connection() {
    let sw = Switch::start();
    sw.add_account("1001", "pw-1234");
    let mut ua = Ua::new(sw.sip, "1001", "pw-1234", Proto::Tcp).await;
    let r = ua.register(600).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(contacts(&r), [ua.contact()]);
}

#[tokio::test]
async fn auth_off_lets_any_name_register() {
    let sw = Switch::with(common::Options {
        auth_off: true,
        ..Default::default()
    });
    let mut ua = Ua::new(sw.sip, "anyone", "", Proto::Udp).await;
    assert_eq!(ua.register(600).await.status(), Some(200));
}

#[tokio::test]
async fn retransmitted_register_gets_the_same_answer_without_a_second_processing() {
    let sw = Switch::with(common::Options {
        auth_off: true,
        ..Default::default()
    });
    let mut ua = Ua::new(sw.sip, "u1", "", Proto::Udp).await;
    let raw = format!(
        "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKretrans1;rport\r\nMax-Forwards: 70\r\n\
From: <sip:u1@{ip}>;tag=x\r\nTo: <sip:u1@{ip}>\r\nCall-ID: retrans-reg\r\nCSeq: 7 REGISTER\r\nContact: <sip:u1@{l}>\r\n\
Expires: 300\r\nContent-Length: 0\r\n\r\n",
        srv = ua.server,
        l = ua.local,
        ip = ua.server.ip()
    );
    ua.send(bytes::Bytes::from(raw.clone()));
    let first = ua.final_response("retrans-reg", "REGISTER").await;
    // over a second later: an answer made again would count its expiry down
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ua.send(bytes::Bytes::from(raw));
    let second = ua.final_response("retrans-reg", "REGISTER").await;
    assert_eq!(first.status(), Some(200));
    assert!(first.to_tag().is_some());
    assert_eq!(second.to_tag(), first.to_tag(), "the same To tag");
    assert_eq!(
        second.header(HeaderName::Contact),
        first.header(HeaderName::Contact),
        "the same Contact and expires"
    );
    assert_eq!(
        first.as_bytes(),
        second.as_bytes(),
        "the recent answer is repeated byte for byte"
    );
    assert_eq!(
        sw.metric("switchboard_register_requests_total{outcome=\"ok\"}"),
        1.0,
        "the registrar saw it once"
    );
    assert_eq!(sw.metric("switchboard_registrations"), 1.0);
}

/// A retransmission the worker's ring of recent answers no longer holds reaches the registrar
/// again, which applies nothing twice: the phone hears 200 with its binding, not a 500 for a
/// CSeq it already used.
#[tokio::test]
async fn a_retransmission_past_the_recent_answers_is_answered_again_without_a_second_binding() {
    let sw = Switch::with(common::Options {
        auth_off: true,
        config: "[sip]\nregister_answers = 1\n".into(),
        ..Default::default()
    });
    let mut ua = Ua::new(sw.sip, "u1", "", Proto::Udp).await;
    let (srv, local) = (ua.server, ua.local);
    let request = |branch: &str, call_id: &str, port: u16| {
        format!(
            "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:u1@{ip}>;tag=x\r\nTo: <sip:u1@{ip}>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 REGISTER\r\nContact: <sip:u1@{host}:{port}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n",
            l = local,
            ip = srv.ip(),
            host = local.ip(),
        )
    };
    let phone = request("ringphone", "ring-phone", 5001);
    ua.send(bytes::Bytes::from(phone.clone()));
    let first = ua.final_response("ring-phone", "REGISTER").await;
    assert_eq!(first.status(), Some(200));
    // another phone of the same number (the same worker): its answer takes the only slot
    ua.send(bytes::Bytes::from(request("ringdesk", "ring-desk", 5002)));
    let desk = ua.final_response("ring-desk", "REGISTER").await;
    assert_eq!(desk.status(), Some(200));
    ua.send(bytes::Bytes::from(phone));
    let again = ua.final_response("ring-phone", "REGISTER").await;
    assert_eq!(again.status(), Some(200), "not 500 Out Of Order CSeq");
    assert_eq!(contacts(&again).len(), 2, "both phones, no third binding");
    assert_eq!(
        sw.metric("switchboard_register_requests_total{outcome=\"ok\"}"),
        3.0,
        "the registrar answered the retransmission again"
    );
    assert_eq!(sw.metric("switchboard_registrations"), 2.0);
}

/// Builds an authenticated REGISTER by hand so a test can reuse a nonce or a nonce count.
fn signed_register(
    ua: &Ua,
    branch: &str,
    cseq: u32,
    challenge: &switchboard_engine::sip::Message,
    nc: u32,
) -> bytes::Bytes {
    let call_id = format!("signed-{}", ua.user);
    let contact = format!("<sip:{}@{}>", ua.user, ua.local);
    let device = Device {
        call_id: &call_id,
        contact: &contact,
        expires: 600,
    };
    signed_register_as(ua, branch, &device, cseq, challenge, nc)
}

/// The device a hand-made REGISTER comes from: its Call-ID, its Contact and the Expires asked.
struct Device<'a> {
    call_id: &'a str,
    contact: &'a str,
    expires: u32,
}

fn signed_register_as(
    ua: &Ua,
    branch: &str,
    device: &Device<'_>,
    cseq: u32,
    challenge: &switchboard_engine::sip::Message,
    nc: u32,
) -> bytes::Bytes {
    let uri = format!("sip:{}", ua.server);
    let v = challenge.header(HeaderName::WwwAuthenticate).unwrap();
    let ch = switchboard_engine::sip::digest::Challenge::parse(v).unwrap();
    let auth = ch.answer("REGISTER", &uri, &ua.user, &ua.password, "fixed-cnonce", nc);
    let raw = format!(
        "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={branch};rport\r\nMax-Forwards: 70\r\n\
From: <sip:{u}@{ip}>;tag=r\r\nTo: <sip:{u}@{ip}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
Contact: {contact}\r\nExpires: {expires}\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n",
        l = ua.local,
        u = ua.user,
        ip = ua.server.ip(),
        call_id = device.call_id,
        contact = device.contact,
        expires = device.expires,
    );
    bytes::Bytes::from(raw)
}

async fn first_challenge(ua: &mut Ua) -> switchboard_engine::sip::Message {
    let raw = format!(
        "REGISTER sip:{s} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKfirst;rport\r\nMax-Forwards: 70\r\n\
From: <sip:{u}@{ip}>;tag=r\r\nTo: <sip:{u}@{ip}>\r\nCall-ID: signed-{u}\r\nCSeq: 1 REGISTER\r\n\
Contact: <sip:{u}@{l}>\r\nContent-Length: 0\r\n\r\n",
        s = ua.server,
        l = ua.local,
        u = ua.user,
        ip = ua.server.ip()
    );
    ua.send(bytes::Bytes::from(raw));
    let cid = format!("signed-{}", ua.user);
    let r = ua.final_response(&cid, "REGISTER").await;
    assert_eq!(r.status(), Some(401));
    r
}

#[tokio::test]
async fn a_replayed_nonce_count_is_refused() {
    let sw = Switch::start();
    sw.add_account("1001", "pw-1234");
    let mut ua = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    let ch = first_challenge(&mut ua).await;
    ua.send(signed_register(&ua, "z9hG4bKsigned1", 2, &ch, 1));
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(200)
    );
    // the same credentials again (a new transaction, so not a retransmission)
    ua.send(signed_register(&ua, "z9hG4bKsigned2", 3, &ch, 1));
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(403),
        "nc=1 reused"
    );
    ua.send(signed_register(&ua, "z9hG4bKsigned3", 4, &ch, 2));
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(200),
        "nc=2 is fresh"
    );
}

/// The expiry a 200 gives the binding of `uri`.
fn expires_of(m: &Message, uri: &str) -> u32 {
    m.contacts()
        .find(|c| c.uri().as_str() == uri)
        .and_then(|c| c.param("expires").map(|e| e.parse().unwrap()))
        .unwrap_or_else(|| panic!("no binding of {uri} in {m:?}"))
}

/// With digest authentication, a retransmission the worker's ring of recent answers no longer
/// holds reaches the Extension with a nonce count the replay window has seen. It is the
/// REGISTER last applied (same Call-ID and CSeq, within 64*T1), so it gets the same 200 with
/// the bindings as they are, applying nothing; the same credentials on another CSeq or
/// Call-ID are still a replay (403). On ports 47100-47102 of 127.0.0.1 (TLS off).
#[tokio::test]
async fn a_late_retransmission_of_an_authenticated_register_is_answered_200_not_403() {
    let at = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let sw = Switch::with(common::Options {
        config: "[sip]\nregister_answers = 1\n\n[tls]\nenabled = false\n".into(),
        addrs: Some((at(47100), at(47101))),
        ..Default::default()
    });
    sw.add_account("1001", "pw-1234");
    let mut ua = Ua::on(sw.sip, at(47102), "1001", "pw-1234").await;
    let ch = first_challenge(&mut ua).await;
    let phone_contact = format!("<sip:1001@{}>", ua.local);
    let phone_uri = format!("sip:1001@{}", ua.local);
    let phone = Device {
        call_id: "signed-1001",
        contact: &phone_contact,
        expires: 600,
    };
    let desk = Device {
        call_id: "desk-1001",
        contact: "<sip:1001@192.0.2.77:5060>",
        expires: 600,
    };
    let original = signed_register_as(&ua, "z9hG4bKlate1", &phone, 2, &ch, 1);
    ua.send(original.clone());
    let first = ua.final_response("signed-1001", "REGISTER").await;
    assert_eq!(first.status(), Some(200));
    assert_eq!(contacts(&first), [phone_uri.clone()]);
    let first_expires = expires_of(&first, &phone_uri);
    // another device of the number (the same worker) takes the ring's only slot, and is the
    // last REGISTER the Extension applied
    ua.send(signed_register_as(&ua, "z9hG4bKlate2", &desk, 1, &ch, 2));
    let other = ua.final_response("desk-1001", "REGISTER").await;
    assert_eq!(other.status(), Some(200));
    assert_eq!(contacts(&other).len(), 2);
    // over a second later: a binding applied again would count its expiry from now
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ua.send(original.clone());
    let again = ua.final_response("signed-1001", "REGISTER").await;
    assert_eq!(
        again.status(),
        Some(200),
        "the same 200 again, not 403 for the nonce count seen"
    );
    let mut both = contacts(&again);
    both.sort();
    let mut want = vec![phone_uri.clone(), "sip:1001@192.0.2.77:5060".to_owned()];
    want.sort();
    assert_eq!(both, want, "both devices, nothing added");
    assert!(
        expires_of(&again, &phone_uri) < first_expires,
        "the binding is as it was, not refreshed: {} then {}",
        first_expires,
        expires_of(&again, &phone_uri)
    );
    assert_eq!(
        sw.metric("switchboard_register_requests_total{outcome=\"ok\"}"),
        3.0,
        "the Extension answered the retransmission"
    );
    assert_eq!(sw.metric("switchboard_registrations"), 2.0);
    // the same credentials on a new CSeq of the Call-ID, or on another Call-ID: a replay
    ua.send(signed_register_as(&ua, "z9hG4bKlate3", &phone, 3, &ch, 1));
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(403),
        "nc=1 on CSeq 3"
    );
    let stranger = Device {
        call_id: "stranger-1001",
        ..phone
    };
    ua.send(signed_register_as(
        &ua,
        "z9hG4bKlate4",
        &stranger,
        2,
        &ch,
        1,
    ));
    assert_eq!(
        ua.final_response("stranger-1001", "REGISTER")
            .await
            .status(),
        Some(403),
        "nc=1 on another Call-ID"
    );
    // a wrong password on the very request applied: refused as before
    ua.password = "not-the-password".into();
    let forged = signed_register_as(&ua, "z9hG4bKlate5", &phone, 2, &ch, 1);
    ua.password = "pw-1234".into();
    ua.send(forged);
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(403),
        "a wrong digest"
    );

    // a removal retransmitted after its binding is gone: 200, nothing left to remove
    let gone = Device {
        expires: 0,
        ..phone
    };
    let removal = signed_register_as(&ua, "z9hG4bKlate6", &gone, 3, &ch, 3);
    ua.send(removal.clone());
    let removed = ua.final_response("signed-1001", "REGISTER").await;
    assert_eq!(removed.status(), Some(200));
    assert_eq!(contacts(&removed), ["sip:1001@192.0.2.77:5060"]);
    ua.send(signed_register_as(&ua, "z9hG4bKlate7", &desk, 2, &ch, 4));
    assert_eq!(
        ua.final_response("desk-1001", "REGISTER").await.status(),
        Some(200)
    );
    ua.send(removal);
    let removed_again = ua.final_response("signed-1001", "REGISTER").await;
    assert_eq!(removed_again.status(), Some(200), "not 403");
    assert_eq!(contacts(&removed_again), ["sip:1001@192.0.2.77:5060"]);
    assert_eq!(sw.metric("switchboard_registrations"), 1.0);
}

#[tokio::test]
async fn an_expired_nonce_with_a_good_digest_is_challenged_again_with_stale() {
    let sw = Switch::with(common::Options {
        config: "[auth]\nnonce_lifetime_secs = 1\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", "pw-1234");
    let mut ua = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    let ch = first_challenge(&mut ua).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    ua.send(signed_register(&ua, "z9hG4bKstale1", 2, &ch, 1));
    let r = ua.final_response("signed-1001", "REGISTER").await;
    assert_eq!(r.status(), Some(401));
    let v = r.header(HeaderName::WwwAuthenticate).unwrap();
    assert!(v.contains("stale=true"), "{v}");
    // the phone answers the fresh challenge without asking its user again
    ua.send(signed_register(&ua, "z9hG4bKstale2", 3, &r, 1));
    assert_eq!(
        ua.final_response("signed-1001", "REGISTER").await.status(),
        Some(200)
    );
}

#[tokio::test]
async fn an_expired_binding_no_longer_rings() {
    let sw = Switch::with(common::Options {
        config: "[registrar]\nmin_expires = 1\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", "pw-1234");
    sw.add_account("1002", "pw-1234");
    let mut callee = Ua::new(sw.sip, "1001", "pw-1234", Proto::Udp).await;
    assert_eq!(callee.register(1).await.status(), Some(200));
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let q = callee.register_contact("", None).await;
    assert!(contacts(&q).is_empty(), "the binding expired");
    let mut caller = Ua::new(sw.sip, "1002", "pw-1234", Proto::Udp).await;
    let mut call = caller.invite("1001").await;
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(480));
}
