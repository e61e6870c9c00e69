use super::*;

fn msg(s: &str) -> Result<Message, ParseError> {
    Message::parse(Bytes::from(s.replace('\n', "\r\n")))
}

const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\n\
Max-Forwards: 70\n\
To: Bob <sip:bob@biloxi.com>\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\n\
CSeq: 314159 INVITE\n\
Contact: <sip:alice@pc33.atlanta.com>\n\
Content-Type: application/sdp\n\
Content-Length: 4\n\
\n\
v=0\n";

#[test]
fn request_fields_are_indexed() {
    let m = msg(INVITE).unwrap();
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.request_uri_str(), Some("sip:bob@biloxi.com"));
    assert_eq!(m.call_id(), Some("a84b4c76e66710@pc33.atlanta.com"));
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, Method::Invite));
    assert_eq!(m.from_tag(), Some("1928301774"));
    assert_eq!(m.to_tag(), None);
    assert_eq!(m.max_forwards(), Some(70));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    assert_eq!(m.body(), b"v=0\r");
}

#[test]
fn extra_datagram_bytes_beyond_content_length_are_discarded() {
    let m = msg(&INVITE.replace("Content-Length: 4", "Content-Length: 0")).unwrap();
    assert!(m.body().is_empty());
    assert!(m.as_bytes().ends_with(b"\r\n\r\n"));
}

#[test]
fn short_body_is_an_error() {
    let e = msg(&INVITE.replace("Content-Length: 4", "Content-Length: 9999")).unwrap_err();
    assert!(matches!(
        e,
        ParseError::BodyTruncated { declared: 9999, .. }
    ));
    assert_eq!(e.reaction(), Reaction::Respond(400));
}

#[test]
fn negative_content_length_is_an_error() {
    let e = msg(&INVITE.replace("Content-Length: 4", "Content-Length: -999")).unwrap_err();
    assert_eq!(e, ParseError::ContentLength);
}

#[test]
fn folded_values_are_unfolded_once() {
    let m =
        msg("OPTIONS sip:x@y SIP/2.0\nSubject: first\n   second\n\tthird\nCall-ID: c\n\n").unwrap();
    assert_eq!(m.header(HeaderName::Subject), Some("first second third"));
    assert_eq!(m.call_id(), Some("c"));
}

#[test]
fn list_headers_split_across_lines_and_commas() {
    let m = msg("OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\nv: SIP/2.0/TCP c;branch=z9hG4bK3\n\n").unwrap();
    let hosts: Vec<_> = m.vias().map(|v| v.host()).collect();
    assert_eq!(hosts, ["a", "b", "c"]);
}

#[test]
fn responses_parse_with_empty_reason() {
    let m = msg("SIP/2.0 100 \nVia: SIP/2.0/UDP a;branch=z9hG4bK1\n\n").unwrap();
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
    let m = msg("SIP/2.0 180\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\n\n").unwrap();
    assert_eq!(m.status(), Some(180));
}

#[test]
fn start_line_errors_are_classified() {
    assert_eq!(
        msg("INVITE sip:x@y SIP/7.0\n\n").unwrap_err(),
        ParseError::Version
    );
    assert_eq!(
        msg("INVITE  sip:x@y SIP/2.0\n\n").unwrap_err(),
        ParseError::StartLine
    );
    assert_eq!(
        msg("INVITE <sip:x@y> SIP/2.0\n\n").unwrap_err(),
        ParseError::RequestUri
    );
    assert_eq!(
        msg("SIP/2.0 4294967301 Big\n\n").unwrap_err(),
        ParseError::StatusCode
    );
    assert_eq!(
        msg("SIP/2.0 099 Low\n\n").unwrap_err(),
        ParseError::StatusCode
    );
    assert!(
        msg("INVITE sip:x@y SIP/2.0   \n\n").is_ok(),
        "trailing white space tolerated"
    );
}

#[test]
fn header_lines_need_a_token_and_colon() {
    assert!(matches!(
        msg("OPTIONS sip:x@y SIP/2.0\nNo colon here\n\n").unwrap_err(),
        ParseError::HeaderLine { line: 2 }
    ));
    assert!(matches!(
        msg("OPTIONS sip:x@y SIP/2.0\nBad Name: v\n\n").unwrap_err(),
        ParseError::HeaderLine { .. }
    ));
}

#[test]
fn incomplete_head_is_reported() {
    assert_eq!(
        msg("OPTIONS sip:x@y SIP/2.0\nVia: x").unwrap_err(),
        ParseError::Incomplete
    );
    assert_eq!(msg("\n\n").unwrap_err(), ParseError::Empty);
}

#[test]
fn cseq_limits_and_delta_seconds_saturation() {
    assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
    assert!(CSeq::parse("2147483648 INVITE").is_err());
    assert_eq!(
        CSeq::parse("0009\n  INVITE".replace('\n', " ").as_str())
            .unwrap()
            .seq,
        9
    );
    assert!(CSeq::parse("9INVITE").is_err());
    assert_eq!(parse_delta_seconds("10000000000000000000"), Some(u32::MAX));
    assert_eq!(parse_delta_seconds("3600"), Some(3600));
    assert_eq!(parse_delta_seconds("-1"), None);
}

#[test]
fn kept_views_answer_as_a_fresh_parse_of_the_header_would() {
    let m = msg("INVITE sip:bob%40x@biloxi.example.com;user=phone SIP/2.0\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776, SIP/2.0/TCP a.b\n\
To: <sip:bob@biloxi.example.com>\nFrom: sip:alice@atlanta.example.com;tag=1928\n\
Call-ID: a84b4c76e66710\nCSeq: 314159 INVITE\n\n")
    .unwrap();
    for _ in 0..2 {
        let via = m.header_values(HeaderName::Via).next().unwrap();
        assert_eq!(m.top_via(), Via::parse(via).ok());
        assert_eq!(m.top_via().unwrap().port(), Some(5066));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK776"));
        assert_eq!(
            m.request_uri(),
            Uri::parse(m.request_uri_str().unwrap()).ok()
        );
        assert_eq!(m.request_uri().unwrap().param("user"), Some("phone"));
    }
    let copy = m.clone();
    assert_eq!(copy.top_via(), m.top_via(), "a copy keeps the view");
    let folded = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK1\n\n").unwrap();
    assert_eq!(
        folded.top_via().unwrap().branch(),
        Some("z9hG4bK1"),
        "a folded value"
    );
    assert_eq!(folded.top_via(), folded.vias().next());
    let bad = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP\n\n").unwrap();
    assert!(bad.top_via().is_none());
    assert!(bad.top_via().is_none(), "an invalid value stays invalid");
}

#[test]
fn from_and_to_are_kept_and_answer_as_a_fresh_parse_would() {
    let m = msg("REGISTER sip:biloxi.example.com SIP/2.0\n\
Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\n\
To: \"Bob\"\n <sip:bob@biloxi.example.com>\n\
From: Bob <sip:bob@biloxi.example.com>;tag=456248\n\
Call-ID: 843817637684230@998sdasdh09\nCSeq: 1826 REGISTER\n\n")
    .unwrap();
    for _ in 0..2 {
        let to = m.header(HeaderName::To).unwrap();
        assert_eq!(to, "\"Bob\" <sip:bob@biloxi.example.com>", "a folded To");
        assert_eq!(m.to(), NameAddr::parse(to).ok());
        let from = m.header(HeaderName::From).unwrap();
        assert_eq!(m.from(), NameAddr::parse(from).ok());
        assert_eq!(m.from().unwrap().tag(), Some("456248"));
        assert_eq!(m.to().unwrap().uri().user(), Some("bob"));
    }
    assert_eq!(m.clone().from(), m.from(), "a copy keeps the view");
    // a malformed From is None every time, and does not hide a good To
    let bad = msg(
        "REGISTER sip:b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
From: <sip:@>;tag=1\nTo: <sip:bob@b>\nCall-ID: c\nCSeq: 1 REGISTER\n\n",
    )
    .unwrap();
    assert!(bad.from().is_none());
    assert!(bad.from().is_none(), "an invalid value stays invalid");
    assert_eq!(bad.to().unwrap().uri().user(), Some("bob"));
    // and one without From at all
    let none = msg(
        "OPTIONS sip:b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
To: <sip:bob@b>\nCall-ID: c\nCSeq: 1 OPTIONS\n\n",
    )
    .unwrap();
    assert!(none.from().is_none());
    assert!(none.to().is_some());
}
