//! Calls leaving through trunks and the numbering plan's other destinations, end to end:
//! enterprise numbers reach their country's branch, PSTN numbers go out with the trunk's
//! number format, a failing trunk (503, or silence) fails over to the next one, a challenging
//! trunk gets the configured credentials, and a call from a trunk is not challenged.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{fresh_ip, Options, Switch};
use switchboard_engine::sip::digest::Credentials;
use switchboard_engine::sip::{HeaderName, Method};

const PW: &str = "test-password";

async fn registered(sw: &Switch, user: &str) -> Ua {
    let mut ua = Ua::new(sw.sip, user, PW, Proto::Udp).await;
    assert_eq!(
        ua.register(600).await.status(),
        Some(200),
        "{user} registers"
    );
    ua
}

fn gateway_addr() -> SocketAddr {
    SocketAddr::new(fresh_ip(), 5080)
}

fn trunk(name: &str, group: &str, addr: SocketAddr, extra: &str) -> String {
    format!(
        "[[trunks]]\nname = \"{name}\"\ngroup = \"{group}\"\naddress = \"{addr}\"\nno_response_secs = 1\n{extra}\n"
    )
}

const CARRIER: &str = "[numbering]\nown_ranges = [\"+8211\"]\n";

#[tokio::test]
async fn enterprise_numbers_reach_their_country_branch() {
    let gw = gateway_addr();
    let sw = Switch::with(Options {
        config: format!(
            "{CARRIER}[[numbering.branches]]\nlocal = \"6200-6200\"\ncountry = 82\nsubscriber = \"1001\"\n\
             [[numbering.branches]]\nlocal = \"6200-6200\"\ncountry = 1\ntrunk = \"us-branch\"\n{}",
            trunk("us-branch", "us-branch", gw, "")
        ),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1003", PW);
    let mut seoul = registered(&sw, "1001").await;
    let mut caller = registered(&sw, "1003").await;
    let mut us = Ua::at(sw.sip, gw, "us-pbx").await;

    let mut out = caller.invite("6200-6200%23082").await;
    let inv = seoul.expect_request(Method::Invite).await;
    seoul.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));

    let mut out = caller.invite("62006200%23001").await;
    let inv = us.expect_request(Method::Invite).await;
    assert_eq!(
        inv.request_uri_str(),
        Some(format!("sip:62006200@{gw};user=phone").as_str()),
        "the branch's trunk gets the local number"
    );
    us.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));

    let mut out = caller.invite("6200-6200%23081").await;
    assert_eq!(
        caller.invite_outcome(&mut out).await.status(),
        Some(404),
        "no branch in that country"
    );
}

#[tokio::test]
async fn pstn_calls_fail_over_from_a_503_and_from_silence() {
    let (a, b, c) = (gateway_addr(), gateway_addr(), gateway_addr());
    let sw = Switch::with(Options {
        config: format!(
            "{CARRIER}{}{}{}",
            trunk("gw-a", "pstn", a, "strip_plus = true\nprefix = \"9\""),
            trunk("gw-b", "pstn", b, "strip_plus = true"),
            trunk("gw-c", "pstn", c, "")
        ),
        ..Default::default()
    });
    sw.add_account("1003", PW);
    let mut caller = registered(&sw, "1003").await;
    let mut gw_a = Ua::at(sw.sip, a, "gw-a").await;
    let mut gw_b = Ua::at(sw.sip, b, "gw-b").await;

    let mut out = caller.invite("+1-212-555-1234").await;
    let inv = gw_a.expect_request(Method::Invite).await;
    assert_eq!(
        inv.request_uri_str(),
        Some(format!("sip:912125551234@{a};user=phone").as_str()),
        "gw-a's format: no +, prefix 9"
    );
    gw_a.reply(&inv, 503);
    let inv = gw_b.expect_request(Method::Invite).await;
    assert_eq!(
        inv.request_uri_str(),
        Some(format!("sip:12125551234@{b};user=phone").as_str())
    );
    gw_b.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));
    gw_b.expect_request(Method::Ack).await;

    // gw-a silent (nothing answers), gw-b answers 504: gw-c (nobody there either) ends it
    drop(gw_a);
    let mut out = caller.invite("+12125551234").await;
    let inv = gw_b
        .recv_where(Duration::from_secs(5), |m| {
            m.method() == Some(Method::Invite)
        })
        .await
        .expect("gw-b tried after gw-a stayed silent for 1 s");
    gw_b.reply(&inv, 504);
    let r = caller.invite_outcome(&mut out).await;
    assert_eq!(
        r.status(),
        Some(408),
        "every trunk failed: {:?}",
        r.reason()
    );
    assert!(common::eventually(Duration::from_secs(2), || {
        sw.metric("switchboard_trunk_attempts_total{trunk=\"gw-a\",outcome=\"failed\"}") == 2.0
            && sw.metric("switchboard_trunk_attempts_total{trunk=\"gw-b\",outcome=\"answered\"}")
                == 1.0
    }));

    // a callee's answer is not a trunk failure: busy goes to the caller
    let mut gw_a = Ua::at(sw.sip, a, "gw-a").await;
    let mut out = caller.invite("+12125551234").await;
    let inv = gw_a.expect_request(Method::Invite).await;
    gw_a.reply(&inv, 486);
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(486));
    assert!(gw_b
        .maybe_request(Method::Invite, Duration::from_millis(300))
        .await
        .is_none());
}

/// A switch whose PSTN trunk has credentials, a registered caller and the carrier's gateway.
async fn with_carrier() -> (Switch, Ua, Ua) {
    let gw = gateway_addr();
    let sw = Switch::with(Options {
        config: format!(
            "{CARRIER}{}",
            trunk(
                "carrier",
                "pstn",
                gw,
                "username = \"switchboard\"\npassword = \"trunk-secret\""
            )
        ),
        ..Default::default()
    });
    sw.add_account("1003", PW);
    let caller = registered(&sw, "1003").await;
    let carrier = Ua::at(sw.sip, gw, "carrier").await;
    (sw, caller, carrier)
}

#[tokio::test]
async fn a_challenging_trunk_gets_the_configured_credentials() {
    let (sw, mut caller, mut carrier) = with_carrier().await;
    let mut out = caller.invite("+12125551234").await;
    let inv = carrier.expect_request(Method::Invite).await;
    assert!(inv.header(HeaderName::ProxyAuthorization).is_none());
    let tag = carrier.token();
    let challenge = format!(
        "SIP/2.0 407 Proxy Authentication Required\r\n{}Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\"\r\nContent-Length: 0\r\n\r\n",
        copy_dialog_headers(&inv, &tag)
    );
    carrier.send(bytes::Bytes::from(challenge));
    carrier.expect_request(Method::Ack).await;
    let inv2 = carrier.expect_request(Method::Invite).await;
    let value = inv2
        .header(HeaderName::ProxyAuthorization)
        .expect("credentials on the second attempt");
    let creds = Credentials::parse(value).unwrap();
    assert_eq!(creds.username, "switchboard");
    let ha1 = switchboard_engine::sip::digest::ha1(
        switchboard_engine::sip::digest::Algorithm::Md5,
        "switchboard",
        "carrier",
        "trunk-secret",
    );
    assert!(creds.verify("INVITE", &ha1), "the digest is right");
    assert_eq!(
        inv2.cseq().map(|c| c.seq),
        inv.cseq().map(|c| c.seq),
        "same CSeq, new branch"
    );
    carrier.accept(&inv2).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));
    assert!(!format!("{:?}", sw.metrics()).contains("trunk-secret"));
}

/// Via, From, To (tagged), Call-ID and CSeq of `req`, as a response carries them.
fn copy_dialog_headers(req: &switchboard_engine::sip::Message, tag: &str) -> String {
    let mut out = String::new();
    for v in req.header_lines(HeaderName::Via) {
        out.push_str(&format!("Via: {v}\r\n"));
    }
    out.push_str(&format!(
        "From: {}\r\n",
        req.header(HeaderName::From).unwrap()
    ));
    out.push_str(&format!(
        "To: {};tag={tag}\r\n",
        req.header(HeaderName::To).unwrap()
    ));
    out.push_str(&format!("Call-ID: {}\r\n", req.call_id().unwrap()));
    out.push_str(&format!(
        "CSeq: {}\r\n",
        req.header(HeaderName::CSeq).unwrap()
    ));
    out
}

#[tokio::test]
async fn calls_from_a_trunk_are_trusted_by_its_address() {
    let gw = gateway_addr();
    let sw = Switch::with(Options {
        config: format!("{CARRIER}{}", trunk("gw", "pstn", gw, "")),
        ..Default::default()
    });
    sw.add_account("+82111234567", PW);
    let mut sub = registered(&sw, "+82111234567").await;
    let mut gateway = Ua::at(sw.sip, gw, "+12125551234").await;
    // From names the switch's own address (as many gateways write it): no 407 for a trunk
    let mut out = gateway
        .invite_with("011-123-4567", common::ua::SDP, false)
        .await;
    let inv = sub.expect_request(Method::Invite).await;
    sub.accept(&inv).await;
    assert_eq!(gateway.invite_outcome(&mut out).await.status(), Some(200));
}

#[tokio::test]
async fn messages_to_pstn_numbers_leave_through_the_trunk_too() {
    use switchboard_engine::sip::RequestBuilder;
    let gw = gateway_addr();
    let sw = Switch::with(Options {
        config: format!("{CARRIER}{}", trunk("gw", "pstn", gw, "strip_plus = true")),
        ..Default::default()
    });
    sw.add_account("1003", PW);
    let mut sender = registered(&sw, "1003").await;
    let mut gateway = Ua::at(sw.sip, gw, "sms-gw").await;
    let uri = format!("sip:+12125551234@{}", sw.sip);
    let call_id = format!("msg-{}", sender.token());
    let message = |cseq: u32, auth: Option<&str>, ua: &mut Ua| {
        let (local, token) = (ua.local, ua.token());
        let mut b = RequestBuilder::new("MESSAGE", &uri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {local};branch=z9hG4bKm{cseq}{token};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<{}>;tag=m1", ua.aor()))
            .header("To", &format!("<{uri}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{cseq} MESSAGE"));
        if let Some(a) = auth {
            b = b.header("Proxy-Authorization", a);
        }
        b.build(Some(("text/plain", b"hello from the switch")))
    };
    let first = message(1, None, &mut sender);
    sender.send(first);
    let challenge = sender.final_response(&call_id, "MESSAGE").await;
    assert_eq!(challenge.status(), Some(407));
    let auth = sender.answer_challenge(&challenge, HeaderName::ProxyAuthenticate, "MESSAGE", &uri);
    let second = message(2, Some(&auth), &mut sender);
    sender.send(second);
    let m = gateway.expect_request(Method::Message).await;
    assert_eq!(
        m.request_uri_str(),
        Some(format!("sip:12125551234@{gw};user=phone").as_str())
    );
    assert_eq!(m.body(), b"hello from the switch");
    assert!(m.header(HeaderName::ProxyAuthorization).is_none());
    gateway.reply(&m, 202);
    assert_eq!(
        sender.final_response(&call_id, "MESSAGE").await.status(),
        Some(202)
    );
}

/// An INVITE from `from` (any URI) to `target` at the switch, with extra header lines.
fn foreign_invite(ua: &mut Ua, from: &str, target: &str, extra: &str) -> (String, bytes::Bytes) {
    let call_id = format!("foreign-{}", ua.token());
    let uri = format!("sip:{target}@{}", ua.server);
    let (local, branch) = (ua.local, ua.token());
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <{from}>;tag=f1\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:x@{local}>\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    (call_id, bytes::Bytes::from(text))
}

#[tokio::test]
async fn the_switch_is_no_open_relay_to_its_trunks() {
    let gw = gateway_addr();
    let sw = Switch::with(Options {
        config: format!("{CARRIER}{}", trunk("gw", "pstn", gw, "")),
        ..Default::default()
    });
    sw.add_account("+82111234567", PW);
    let mut stranger = Ua::new(sw.sip, "stranger", "", Proto::Udp).await;
    let mut gateway = Ua::at(sw.sip, gw, "gw").await;

    // nobody's caller, straight to the PSTN: refused, and the gateway never sees it
    let (call_id, inv) = foreign_invite(&mut stranger, "sip:x@evil.example", "+19005550100", "");
    stranger.send(inv);
    let r = stranger.final_response(&call_id, "INVITE").await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("Off-Net Calls Need A Subscriber"))
    );
    // trunk-to-trunk transit is refused too (calls.trunk_transit = false)
    let mut from_gw = gateway
        .invite_with("+19005550100", common::ua::SDP, false)
        .await;
    let r = gateway.invite_outcome(&mut from_gw).await;
    assert_eq!(r.status(), Some(403));
    assert!(gateway
        .maybe_request(Method::Invite, Duration::from_millis(300))
        .await
        .is_none());

    // but a subscriber's own forwarding to the PSTN is followed for any caller
    let (code, _, err) = common::cli(
        &[
            "forward",
            "set",
            "011-123-4567",
            "always",
            "+1 212 555 1234",
        ],
        Some(&sw.data),
    );
    assert_eq!(code, 0, "{err}");
    let (call_id, inv) = foreign_invite(
        &mut stranger,
        "sip:x@evil.example",
        "0111234567",
        "Diversion: <sip:+19005550199@evil.example>;reason=unconditional\r\n",
    );
    stranger.send(inv);
    let out = gateway.expect_request(Method::Invite).await;
    assert_eq!(out.call_id(), Some(call_id.as_str()));
    let div = out.header_by_name("Diversion").unwrap();
    assert!(
        !div.contains("evil.example"),
        "the caller's claim was dropped: {div}"
    );
    assert!(div.contains("+82111234567"), "ours is there: {div}");
    gateway.reply(&out, 486);
    assert_eq!(
        stranger.final_response(&call_id, "INVITE").await.status(),
        Some(486)
    );
}

#[tokio::test]
async fn a_stale_nonce_from_the_trunk_is_answered_once_more() {
    let (_sw, mut caller, mut carrier) = with_carrier().await;
    let mut out = caller.invite("+12125551234").await;
    let mut nonces = Vec::new();
    for (n, stale) in [("n1", false), ("n2", true)] {
        let inv = carrier.expect_request(Method::Invite).await;
        if let Some(v) = inv.header(HeaderName::Authorization) {
            nonces.push(Credentials::parse(v).unwrap().nonce.to_owned());
        }
        let tag = carrier.token();
        let challenge = format!(
            "SIP/2.0 401 Unauthorized\r\n{}WWW-Authenticate: Digest realm=\"carrier\", nonce=\"{n}\", algorithm=MD5{}\r\nContent-Length: 0\r\n\r\n",
            copy_dialog_headers(&inv, &tag),
            if stale { ", stale=true" } else { "" }
        );
        carrier.send(bytes::Bytes::from(challenge));
        carrier.expect_request(Method::Ack).await;
    }
    let inv = carrier.expect_request(Method::Invite).await;
    let creds = Credentials::parse(inv.header(HeaderName::Authorization).unwrap()).unwrap();
    nonces.push(creds.nonce.to_owned());
    assert_eq!(nonces, ["n1", "n2"], "credentials for each fresh nonce");
    carrier.accept(&inv).await;
    assert_eq!(caller.invite_outcome(&mut out).await.status(), Some(200));
}
