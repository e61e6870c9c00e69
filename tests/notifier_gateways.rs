//! The `smpp` and `http` notifier gateways against a simulated SMSC and a stand-in SMS
//! provider on 127.0.0.1, through the public gateway API.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::sms_http::SmsHttp;
use common::smsc::{Interject, Smsc};
use switchboard_actors::config::{NotifyHttp, NotifySmpp};
use switchboard_actors::notifier::http::HttpGateway;
use switchboard_actors::notifier::smpp::SmppGateway;
use switchboard_actors::notifier::{Gateway, GatewayError, Sms};
use switchboard_engine::smpp::{CommandStatus, DataCoding};

const TO: &str = "+821012345678";

fn sms(text: &str) -> Sms {
    Sms {
        to: TO.into(),
        text: text.into(),
    }
}

fn smpp_cfg(address: String, password: &str) -> NotifySmpp {
    NotifySmpp {
        address,
        system_id: "switchboard".into(),
        password: password.into(),
        system_type: "NOTIFY".into(),
        source_addr: "Switchboard".into(),
        timeout_ms: 2_000,
    }
}

fn smsc_and_gateway() -> (Smsc, SmppGateway) {
    let smsc = Smsc::start("switchboard", "s3cret");
    let g = SmppGateway::new(&smpp_cfg(smsc.address(), "s3cret")).unwrap();
    (smsc, g)
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_ascii_sms_arrives_whole_with_the_default_alphabet() {
    let (smsc, mut g) = smsc_and_gateway();
    assert_eq!(g.kind(), "smpp");
    g.send(&sms("You have 2 new messages.\nCall 1001 to listen."))
        .unwrap();
    let got = smsc.submits();
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(
        s.text.as_deref(),
        Ok("You have 2 new messages.\nCall 1001 to listen.")
    );
    assert_eq!(s.data_coding, DataCoding::SMSC_DEFAULT);
    assert!(!s.in_payload);
    assert_eq!(s.destination, "821012345678");
    assert_eq!(s.destination_ton_npi, (1, 1));
    assert_eq!(
        (s.source.as_str(), s.source_ton_npi),
        ("Switchboard", (5, 0))
    );
    assert_eq!(smsc.state().binds, 1);
}

#[test]
fn a_korean_text_arrives_as_ucs2_and_decodes_back() {
    let (smsc, mut g) = smsc_and_gateway();
    g.send(&sms("새 메시지가 2개 있습니다")).unwrap();
    let s = &smsc.submits()[0];
    assert_eq!(s.data_coding, DataCoding::UCS2);
    assert_eq!(s.text.as_deref(), Ok("새 메시지가 2개 있습니다"));
    assert_eq!(s.sm_length, "새 메시지가 2개 있습니다".chars().count() * 2);
}

#[test]
fn a_300_character_text_arrives_in_message_payload() {
    let (smsc, mut g) = smsc_and_gateway();
    let text: String = (0..300).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    g.send(&sms(&text)).unwrap();
    let s = &smsc.submits()[0];
    assert!(s.in_payload);
    assert_eq!(s.sm_length, 0);
    assert_eq!(s.data_coding, DataCoding::SMSC_DEFAULT);
    assert_eq!(s.text.as_deref(), Ok(text.as_str()));
}

#[test]
fn a_wrong_password_is_refused_and_nothing_is_submitted() {
    let smsc = Smsc::start("switchboard", "s3cret");
    let mut g = SmppGateway::new(&smpp_cfg(smsc.address(), "wrong")).unwrap();
    match g.send(&sms("hello")) {
        Err(GatewayError::Refused(why)) => {
            assert!(why.contains("0x0000000e"), "{why}");
            assert!(!why.contains("wrong"), "the password leaked: {why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(smsc.submits().is_empty());
    assert_eq!(smsc.state().binds, 0);
}

#[test]
fn a_throttled_submit_is_refused_and_the_next_succeeds_on_the_same_connection() {
    let (smsc, mut g) = smsc_and_gateway();
    smsc.refuse_next(1, CommandStatus::ESME_RTHROTTLED);
    match g.send(&sms("first")) {
        Err(GatewayError::Refused(why)) => assert!(why.contains("0x00000058"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    g.send(&sms("second")).unwrap();
    let got = smsc.submits();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(
        (got[1].status, got[1].text.as_deref()),
        (CommandStatus::OK, Ok("second"))
    );
    let st = smsc.state();
    assert_eq!((st.connections, st.binds), (1, 1));
}

#[test]
fn the_smsc_closing_the_connection_between_sends_leads_to_a_reconnect() {
    let (smsc, mut g) = smsc_and_gateway();
    g.send(&sms("before")).unwrap();
    smsc.close_connections();
    g.send(&sms("after")).unwrap();
    let texts: Vec<_> = smsc.submits().into_iter().map(|s| s.text).collect();
    assert_eq!(texts, [Ok("before".to_string()), Ok("after".to_string())]);
    let st = smsc.state();
    assert_eq!((st.connections, st.binds), (2, 2));
}

#[test]
fn a_kept_connection_dying_under_a_submit_is_retried_once_on_a_new_one() {
    let (smsc, mut g) = smsc_and_gateway();
    g.send(&sms("first")).unwrap();
    smsc.hang_up_on_next_submit();
    let t0 = Instant::now();
    g.send(&sms("second")).unwrap();
    // noticed as a closed connection, not waited out as a timeout
    assert!(
        t0.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        t0.elapsed()
    );
    let texts: Vec<_> = smsc.submits().into_iter().map(|s| s.text).collect();
    assert_eq!(texts, [Ok("first".to_string()), Ok("second".to_string())]);
    assert_eq!(smsc.state().connections, 2);
}

#[test]
fn a_new_connection_dying_under_a_submit_is_unreachable_without_retry() {
    let (smsc, mut g) = smsc_and_gateway();
    smsc.hang_up_on_next_submit();
    unreachable_at_once(&mut g, "lost");
    assert_eq!(smsc.state().connections, 1);
    // the next send starts over on a new connection
    g.send(&sms("next")).unwrap();
    assert_eq!(smsc.state().connections, 2);
    assert_eq!(smsc.submits().len(), 1);
}

#[test]
fn an_enquire_link_while_waiting_for_the_answer_is_answered() {
    let (smsc, mut g) = smsc_and_gateway();
    smsc.interject_before_next_answer(Interject::EnquireLink);
    g.send(&sms("hello")).unwrap();
    let st = smsc.state();
    assert_eq!(st.enquire_link_resps, 1);
    assert!(st.unexpected.is_empty(), "{:?}", st.unexpected);
    assert_eq!(st.submits.len(), 1);
}

#[test]
fn an_unknown_command_from_the_smsc_is_nacked_with_rinvcmdid() {
    let (smsc, mut g) = smsc_and_gateway();
    smsc.interject_before_next_answer(Interject::UnknownCommand);
    g.send(&sms("hello")).unwrap();
    let st = smsc.state();
    assert_eq!(st.nacks, [CommandStatus::ESME_RINVCMDID]);
    assert!(st.unexpected.is_empty(), "{:?}", st.unexpected);
}

#[test]
fn dropping_the_gateway_unbinds() {
    let (smsc, mut g) = smsc_and_gateway();
    g.send(&sms("hello")).unwrap();
    assert_eq!(smsc.state().unbinds, 0);
    drop(g);
    // the drop waits for the unbind_resp, sent after the unbind was counted
    assert_eq!(smsc.state().unbinds, 1);
}

#[test]
fn an_unreachable_smsc_port_is_unreachable_within_the_timeout() {
    let address = format!("127.0.0.1:{}", closed_port());
    let mut g = SmppGateway::new(&smpp_cfg(address, "s3cret")).unwrap();
    unreachable_at_once(&mut g, "hello");
}

#[test]
fn a_silent_smsc_is_unreachable_once_the_timeout_passes() {
    // the kernel completes the handshake; nobody ever reads or answers the bind
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = smpp_cfg(silent.local_addr().unwrap().to_string(), "s3cret");
    cfg.timeout_ms = 300;
    let mut g = SmppGateway::new(&cfg).unwrap();
    let t0 = Instant::now();
    let got = g.send(&sms("hello"));
    let took = t0.elapsed();
    assert!(matches!(got, Err(GatewayError::Unreachable(_))), "{got:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

fn http_cfg(url: String, token: &str) -> NotifyHttp {
    NotifyHttp {
        url,
        token: token.into(),
        from: "Switchboard".into(),
        timeout_ms: 2_000,
    }
}

#[test]
fn the_http_provider_receives_the_json_body_and_the_bearer_token() {
    let provider = SmsHttp::start(202);
    let mut g = HttpGateway::new(&http_cfg(provider.url("/v1/sms"), "tok-123")).unwrap();
    assert_eq!(g.kind(), "http");
    g.send(&sms("새 메시지 \"2\"")).unwrap();
    let got = provider.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/sms"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer tok-123"));
    assert_eq!(
        r.json,
        serde_json::json!({"to": TO, "text": "새 메시지 \"2\"", "from": "Switchboard"})
    );
}

#[test]
fn without_a_token_no_authorization_header_is_sent() {
    let provider = SmsHttp::start(200);
    let mut g = HttpGateway::new(&http_cfg(provider.url("/sms"), "")).unwrap();
    g.send(&sms("hello")).unwrap();
    assert_eq!(provider.received()[0].header("authorization"), None);
}

#[test]
fn an_http_500_answer_is_refused_as_http_500() {
    let provider = SmsHttp::start(500);
    let mut g = HttpGateway::new(&http_cfg(provider.url("/sms"), "tok")).unwrap();
    match g.send(&sms("hello")) {
        Err(GatewayError::Refused(why)) => assert_eq!(why, "HTTP 500"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    provider.answer(200);
    g.send(&sms("again")).unwrap();
    assert_eq!(provider.received().len(), 2);
}

#[test]
fn a_closed_http_port_is_unreachable() {
    let url = format!("http://127.0.0.1:{}/sms", closed_port());
    let mut g = HttpGateway::new(&http_cfg(url, "tok")).unwrap();
    unreachable_at_once(&mut g, "hello");
}

#[test]
fn a_redirect_is_not_followed_but_refused() {
    let provider = SmsHttp::start(302);
    let mut g = HttpGateway::new(&http_cfg(provider.url("/sms"), "tok")).unwrap();
    match g.send(&sms("hello")) {
        Err(GatewayError::Refused(why)) => assert_eq!(why, "HTTP 302"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(provider.received().len(), 1);
}

#[test]
fn a_silent_http_provider_is_unreachable_once_the_timeout_passes() {
    // the kernel completes the handshake; nobody ever reads the request
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = http_cfg(format!("http://{}/sms", silent.local_addr().unwrap()), "");
    cfg.timeout_ms = 300;
    let mut g = HttpGateway::new(&cfg).unwrap();
    let t0 = Instant::now();
    let got = g.send(&sms("hello"));
    let took = t0.elapsed();
    assert!(matches!(got, Err(GatewayError::Unreachable(_))), "{got:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn an_https_url_to_a_plain_http_server_fails_in_the_tls_handshake() {
    // exercises the rustls path without any network: the handshake meets an HTTP answer
    let provider = SmsHttp::start(200);
    let url = format!("https://{}/sms", provider.addr);
    let mut g = HttpGateway::new(&http_cfg(url, "tok")).unwrap();
    let got = g.send(&sms("hello"));
    assert!(matches!(got, Err(GatewayError::Unreachable(_))), "{got:?}");
    assert!(provider.received().is_empty());
}

/// Sends `text` and expects Unreachable, noticed at once rather than waited out as the
/// gateway's timeout.
fn unreachable_at_once(g: &mut dyn Gateway, text: &str) {
    let t0 = Instant::now();
    let got = g.send(&sms(text));
    assert!(matches!(got, Err(GatewayError::Unreachable(_))), "{got:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        t0.elapsed()
    );
}
