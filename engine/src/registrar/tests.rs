use super::*;
use bytes::Bytes;

fn flow() -> Flow {
    Flow::udp("192.0.2.10:5062".parse().unwrap())
}

fn register(cseq: u32, call_id: &str, contacts: &[&str], expires: Option<u32>) -> Message {
    let mut s = format!(
        "REGISTER sip:sb SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{cseq}\r\n\
To: <sip:1001@sb>\r\nFrom: <sip:1001@sb>;tag=a\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        s.push_str(&format!("Contact: {c}\r\n"));
    }
    if let Some(e) = expires {
        s.push_str(&format!("Expires: {e}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    Message::parse(Bytes::from(s)).unwrap()
}

#[test]
fn register_adds_refreshes_and_removes_a_binding() {
    let p = Policy::default();
    let mut b = Vec::new();
    let r = register(1, "c1", &["<sip:1001@192.0.2.10:5062>"], Some(600));
    assert_eq!(apply(&r, &mut b, 1000, &p, &flow()), Ok(Applied::Changed));
    assert_eq!(b.len(), 1);
    assert_eq!(
        b.capacity(),
        1,
        "an Extension keeps no room for bindings it does not have"
    );
    assert_eq!(b[0].expires_at, 1600);
    assert_eq!(
        contact_values(&b, 1100),
        ["<sip:1001@192.0.2.10:5062>;expires=500"]
    );
    let r = register(2, "c1", &["<sip:1001@192.0.2.10:5062>"], Some(900));
    apply(&r, &mut b, 1200, &p, &flow()).unwrap();
    assert_eq!(
        (b.len(), b[0].expires_at),
        (1, 2100),
        "refresh replaces, not adds"
    );
    let r = register(3, "c1", &["<sip:1001@192.0.2.10:5062>"], Some(0));
    apply(&r, &mut b, 1300, &p, &flow()).unwrap();
    assert!(b.is_empty());
}

#[test]
fn several_devices_keep_separate_bindings() {
    let p = Policy::default();
    let mut b = Vec::new();
    apply(
        &register(1, "phone", &["<sip:1001@192.0.2.10:5062>"], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    apply(
        &register(1, "laptop", &["<sip:1001@192.0.2.11:5060>;q=0.5"], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].q, Some(500));
    assert_eq!(
        targets(&b, 10)[0].uri,
        "sip:1001@192.0.2.10:5062",
        "q=1 first"
    );
}

#[test]
fn wildcard_removes_everything_only_with_expires_zero() {
    let p = Policy::default();
    let mut b = Vec::new();
    apply(
        &register(1, "a", &["<sip:x@h1>", "<sip:x@h2>"], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(
        apply(&register(2, "a", &["*"], None), &mut b, 0, &p, &flow()),
        Err(RegisterError::Invalid(
            "Wildcard Contact needs Expires: 0 alone"
        ))
    );
    assert_eq!(
        apply(&register(2, "a", &["*"], Some(0)), &mut b, 0, &p, &flow()),
        Ok(Applied::Changed)
    );
    assert!(b.is_empty());
}

#[test]
fn too_brief_intervals_get_423_with_the_minimum() {
    let p = Policy::default();
    let mut b = Vec::new();
    let e = apply(
        &register(1, "a", &["<sip:x@h>"], Some(30)),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap_err();
    assert_eq!(e, RegisterError::TooBrief { min: 60 });
    assert_eq!(e.status().0, 423);
    assert!(b.is_empty(), "nothing applied");
    apply(
        &register(1, "a", &["<sip:x@h>;expires=99999"], Some(30)),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    assert_eq!(b[0].expires_at, 7200, "contact expires wins and is capped");
}

#[test]
fn stale_cseq_from_the_same_call_id_is_refused() {
    let p = Policy::default();
    let mut b = Vec::new();
    apply(
        &register(5, "a", &["<sip:x@h>"], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    let e = apply(
        &register(4, "a", &["<sip:x@h>"], None),
        &mut b,
        0,
        &p,
        &flow(),
    );
    assert_eq!(e, Err(RegisterError::OutOfOrder));
    assert_eq!(
        apply(
            &register(1, "other", &["<sip:x@h>"], None),
            &mut b,
            0,
            &p,
            &flow()
        ),
        Ok(Applied::Refreshed),
        "another Call-ID may start lower"
    );
    assert_eq!((b[0].call_id.as_str(), b[0].cseq), ("other", 1));
}

#[test]
fn expired_bindings_disappear_and_the_contact_limit_holds() {
    let p = Policy {
        max_contacts: 2,
        ..Policy::default()
    };
    let mut b = Vec::new();
    for (i, host) in ["h1", "h2", "h3"].iter().enumerate() {
        let c = format!("<sip:x@{host}>");
        apply(
            &register(1, host, &[&c], Some(100 + i as u32 * 100)),
            &mut b,
            0,
            &p,
            &flow(),
        )
        .unwrap();
    }
    let uris: Vec<_> = b.iter().map(|x| x.uri.as_str()).collect();
    assert_eq!(
        uris,
        ["sip:x@h2", "sip:x@h3"],
        "the one closest to expiry made room"
    );
    apply(&register(1, "q", &[], None), &mut b, 250, &p, &flow()).unwrap();
    assert_eq!(b.len(), 1);
}

#[test]
fn instance_ids_identify_a_device_across_address_changes() {
    let p = Policy::default();
    let mut b = Vec::new();
    let inst = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";
    apply(
        &register(1, "a", &[&format!("<sip:x@192.0.2.1>;{inst}")], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    apply(
        &register(2, "a", &[&format!("<sip:x@192.0.2.2>;{inst}")], None),
        &mut b,
        0,
        &p,
        &flow(),
    )
    .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].uri, "sip:x@192.0.2.2");
}

#[test]
fn a_refresh_from_the_same_device_only_moves_its_expiry() {
    let p = Policy::default();
    let mut b = Vec::new();
    let c = ["<sip:1001@192.0.2.10:5062>"];
    let first = apply(&register(1, "c1", &c, Some(600)), &mut b, 1000, &p, &flow());
    assert_eq!(first, Ok(Applied::Changed), "a new binding");
    let again = apply(&register(2, "c1", &c, Some(600)), &mut b, 1010, &p, &flow());
    assert_eq!(again, Ok(Applied::Refreshed));
    assert_eq!((b[0].expires_at, b[0].cseq), (1610, 2));
    // a phone that takes a new Call-ID for each REGISTER (SIPp does)
    let fresh = apply(&register(1, "c2", &c, Some(600)), &mut b, 1015, &p, &flow());
    assert_eq!(fresh, Ok(Applied::Refreshed));
    assert_eq!(b[0].call_id, "c2");
    let other = Flow::udp("192.0.2.10:5999".parse().unwrap());
    let moved = apply(&register(3, "c1", &c, Some(600)), &mut b, 1020, &p, &other);
    assert_eq!(moved, Ok(Applied::Changed), "a new source port is a change");
    let q = apply(&register(4, "c1", &[], None), &mut b, 1030, &p, &other);
    assert_eq!(q, Ok(Applied::Unchanged), "a query");
    let late = apply(&register(5, "c1", &[], None), &mut b, 9999, &p, &other);
    assert_eq!(late, Ok(Applied::Changed), "the binding expired on the way");
    assert!(b.is_empty());
}

#[test]
fn a_retransmitted_register_applies_nothing_the_second_time() {
    let p = Policy::default();
    let mut b = Vec::new();
    let r = register(7, "c1", &["<sip:x@h1>", "<sip:x@h2>"], Some(600));
    assert_eq!(apply(&r, &mut b, 1000, &p, &flow()), Ok(Applied::Changed));
    let before = b.clone();
    assert_eq!(
        apply(&r, &mut b, 1020, &p, &flow()),
        Ok(Applied::Unchanged),
        "same Call-ID and CSeq: the bindings stay as the first pass left them"
    );
    assert_eq!(b, before);
    let removal = register(8, "c1", &["<sip:x@h1>"], Some(0));
    assert_eq!(
        apply(&removal, &mut b, 1030, &p, &flow()),
        Ok(Applied::Changed)
    );
    assert_eq!(
        apply(&removal, &mut b, 1031, &p, &flow()),
        Ok(Applied::Unchanged)
    );
    assert_eq!(b.len(), 1);
    assert_eq!(
        apply(
            &register(6, "c1", &["<sip:x@h2>"], None),
            &mut b,
            1032,
            &p,
            &flow()
        ),
        Err(RegisterError::OutOfOrder),
        "a lower CSeq is still refused"
    );
}

#[test]
fn uri_comparison_ignores_host_case_and_escapes() {
    let a = Uri::parse("sip:%61lice@EXAMPLE.com;transport=TCP").unwrap();
    let b = Uri::parse("sip:alice@example.com;transport=tcp").unwrap();
    assert!(uri_eq(&a, &b));
    let c = Uri::parse("sip:alice@example.com:5060;transport=tcp").unwrap();
    assert!(
        !uri_eq(&b, &c),
        "explicit port differs from default (§19.1.4)"
    );
}
