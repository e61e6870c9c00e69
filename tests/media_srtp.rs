//! SRTP (SDES, RFC 4568 and RFC 3711) through the switch, with real audio: a phone that
//! offers `RTP/SAVP` calls a plain RTP phone; the switch ends SRTP on the caller's leg
//! (`media.srtp = "any"`: the test's signalling is plain UDP), each hears the other's tone,
//! and neither's keys reach the other side. Where the switch may not end SRTP ("off", or
//! "tls-only" over UDP) an `RTP/SAVP` offer passes end to end untouched, even with
//! `media.anchor = "always"`: the switch cannot relay SRTP it holds no keys for, and the
//! callee, not the switch, answers the offer (it may speak SRTP itself), so the switch
//! neither refuses it with 488 nor strips it.
//!
//! Toward a callee registered over TLS the switch offers SRTP itself (`RTP/SAVP`, a fresh key
//! of its own, never the caller's): two TLS phones each speak SRTP with the switch under keys
//! of their own; a TLS callee that answers that offer with plain RTP gets a plain leg and the
//! call goes on; a callee registered over UDP is offered plain RTP, and so is a TLS callee
//! when the caller offered plain RTP.

mod common;

use std::time::Duration;

use common::audio::assert_tone;
use common::media::{self, api, the_live_call, LISTEN, PATIENCE, PW};
use common::rtp::{answer_codecs, remote_of, Audio, RtpPhone, TONE_DBFS};
use common::ua::Ua;
use switchboard_engine::media::codec::Decoder;
use switchboard_engine::media::rtp::{write_header, Header, PayloadType, RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::srtp::{MasterKey, SrtpContext, Suite, SRTP_OVERHEAD};
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sdp::crypto::Crypto;
use switchboard_engine::sdp::Sdp;
use switchboard_engine::sip::Method;

const SUITE: Suite = Suite::AesCm128HmacSha1_80;
const CALLER_HZ: f32 = 440.0;
const CALLEE_HZ: f32 = 1000.0;

/// The caller's own key (what a phone would draw at random).
fn caller_key() -> MasterKey {
    MasterKey::from_bytes(&std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a))
}

/// `plain` (a phone's RTP/AVP SDP) as an SRTP offer with one crypto line for `key`.
fn savp(plain: &[u8], key: &MasterKey) -> Vec<u8> {
    let line = switchboard_engine::sdp::crypto::Crypto::new(1, SUITE, key);
    String::from_utf8(plain.to_vec())
        .unwrap()
        .replace("RTP/AVP", "RTP/SAVP")
        .replace(
            "a=ptime:20\r\n",
            &format!("a=ptime:20\r\na=crypto:{line}\r\n"),
        )
        .into_bytes()
}

/// The one usable crypto line of the audio stream of `body`: its suite and key.
fn crypto_of(body: &[u8]) -> (Suite, MasterKey) {
    let sdp = Sdp::parse(body).unwrap();
    let m = &sdp.media[0];
    assert_eq!(m.proto, "RTP/SAVP", "{sdp}");
    let lines: Vec<_> = m.cryptos().collect();
    assert_eq!(lines.len(), 1, "one crypto line: {sdp}");
    assert_eq!(lines[0].tag, 1, "the tag of the offer's line: {sdp}");
    lines[0].usable().expect("a line the caller can run")
}

/// What a listener would hear if it took `packets` for plain PCMU.
fn as_plain_pcmu(packets: &[Vec<u8>]) -> Audio {
    let mut decoder = Decoder::new(Codec::Pcmu);
    let mut pcm = vec![0i16; 4096];
    let mut samples = Vec::new();
    for p in packets.iter().filter(|p| p.len() > 12) {
        let n = decoder.decode(&p[12..], &mut pcm);
        samples.extend_from_slice(&pcm[..n]);
    }
    Audio::new(SampleRate::NARROW, samples)
}

#[tokio::test]
async fn an_srtp_phone_and_a_plain_phone_hear_each_other_through_the_switch() {
    let sw = media::switch(
        "[media]\nanchor = \"auto\"\nsrtp = \"any\"\n",
        &["1001", "1002"],
    );
    let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
    let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
    let mut a = RtpPhone::bind(ua_a.local.ip());
    let mut b = RtpPhone::bind(ua_b.local.ip());
    let key = caller_key();

    // A offers SRTP; B, a plain phone, is offered plain RTP without A's key
    let offer = savp(&a.sdp(&[Codec::Pcmu], a.local().ip()), &key);
    let mut call_a = ua_a.invite_sdp("1001", &offer).await;
    let invite = ua_b.expect_request(Method::Invite).await;
    let to_b = String::from_utf8_lossy(invite.body()).into_owned();
    assert!(
        to_b.contains("m=audio ") && to_b.contains(" RTP/AVP "),
        "{to_b}"
    );
    assert!(!to_b.contains("crypto"), "A's key stays on A's leg: {to_b}");
    let accepted = answer_codecs(invite.body(), &[Codec::Pcmu]);
    let b_sdp = b.sdp(&accepted, b.local().ip());
    let call_b = ua_b.accept_sdp(&invite, &b_sdp).await;
    let answer = ua_a.invite_outcome(&mut call_a).await;
    assert_eq!(answer.status(), Some(200));
    ua_b.expect_request(Method::Ack).await;

    // A gets the switch's own key in one crypto line, in RTP/SAVP
    let (suite, switch_key) = crypto_of(answer.body());
    assert_eq!(suite, SUITE);
    assert_ne!(switch_key, key);
    a.use_srtp(SUITE, key, switch_key);
    let a_sends = remote_of(answer.body(), &[Codec::Pcmu]).expect("audio in the answer");
    let b_sends = remote_of(invite.body(), &accepted).expect("audio in the offer");
    a.start_towards(&a_sends, CALLER_HZ);
    b.start_towards(&b_sends, CALLEE_HZ);

    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");

    let live = the_live_call(&sw);
    assert_eq!(live["media"], "anchored", "{live}");
    assert_eq!(live["reason"], "srtp", "{live}");
    let id = live["id"].as_u64().unwrap();

    // a tampered packet from A's address is dropped and counted on A's leg
    let mut forger = SrtpContext::new(SUITE, &key);
    let mut packet = [0u8; 12 + 160 + SRTP_OVERHEAD];
    let h = Header::new(
        PayloadType::new(0).unwrap(),
        Seq(7),
        RtpTimestamp(0),
        Ssrc(0x5eed),
    );
    let n = write_header(&mut packet, &h).unwrap();
    let len = forger.protect(&mut packet, n + 160).unwrap();
    packet[40] ^= 0x10;
    a.send_raw(&packet[..len], a_sends.rtp);
    let dropped = || {
        let (_, shown) = api(&sw, &format!("/v1/calls/{id}"));
        let legs = shown["media_stats"]["legs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        legs.iter()
            .find(|l| l["side"] == "caller")
            .and_then(|l| l["dropped_srtp"].as_u64())
            .unwrap_or(0)
    };
    assert!(
        common::eventually(Duration::from_secs(5), || dropped() >= 1),
        "the forgery is counted"
    );
    let (_, shown) = api(&sw, &format!("/v1/calls/{id}"));
    for leg in shown["media_stats"]["legs"].as_array().unwrap() {
        let srtp = leg["side"] == "caller";
        assert_eq!(leg["srtp"], srtp, "{shown}");
        assert!(leg["packets_received"].as_u64().unwrap() > 10, "{shown}");
    }

    let mut call_a = call_a;
    let mut call_b = call_b;
    let bye = ua_a.in_dialog_request(&mut call_a, "BYE", None, true);
    ua_a.send(bye);
    let bye = ua_b.expect_request(Method::Bye).await;
    ua_b.reply(&bye, 200);
    let _ = &mut call_b;
    a.stop();
    b.stop();

    // each heard the other's tone, decrypted where it was encrypted
    assert_tone("A", &a.audio(), CALLEE_HZ, CALLER_HZ, SampleRate::NARROW);
    assert_tone("B", &b.audio(), CALLER_HZ, CALLEE_HZ, SampleRate::NARROW);
    assert_eq!(a.srtp_failures(), 0, "every packet to A authenticated");
    assert_eq!(b.unknown_packets(), 0, "B gets plain RTP it reads");
    // what reached A was SRTP: as plain audio it is noise, with the switch's key it is audio
    let raw = a.raw_received();
    assert!(raw.len() >= 50, "{} packets kept", raw.len());
    assert!(
        raw.iter().all(|p| p.len() == 12 + 160 + 10),
        "PCMU and an 80-bit tag"
    );
    let heard_raw = as_plain_pcmu(&raw[10..]);
    assert!(
        !heard_raw.has(CALLEE_HZ),
        "ciphertext is no tone (level {:.1} dBFS)",
        heard_raw.level_at(CALLEE_HZ)
    );
    let mut reader = SrtpContext::new(SUITE, &switch_key);
    let mut plain = Vec::new();
    for p in &raw {
        let mut buf = p.clone();
        let n = reader
            .unprotect(&mut buf, p.len())
            .expect("authenticated by the switch");
        buf.truncate(n);
        plain.push(buf);
    }
    let heard = as_plain_pcmu(&plain[10..]);
    assert!(heard.has(CALLEE_HZ), "decrypted, it is B's tone");
    assert!((heard.level_at(CALLEE_HZ) - f64::from(TONE_DBFS)).abs() < 3.0);
}

#[tokio::test]
async fn an_srtp_offer_the_switch_may_not_end_passes_end_to_end_untouched() {
    for srtp in ["off", "tls-only"] {
        let sw = media::switch(
            &format!("[media]\nanchor = \"always\"\nsrtp = \"{srtp}\"\n"),
            &["1001", "1002"],
        );
        let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
        let mut ua_a = Ua::registered(sw.sip, "1002", PW).await;
        let a = RtpPhone::bind(ua_a.local.ip());
        let key = caller_key();
        let offer = savp(&a.sdp(&[Codec::Pcmu], a.local().ip()), &key);
        let mut call_a = ua_a.invite_sdp("1001", &offer).await;
        let invite = ua_b.expect_request(Method::Invite).await;
        let to_b = Sdp::parse(invite.body()).unwrap();
        let sent = Sdp::parse(&offer).unwrap();
        assert_eq!(to_b.media, sent.media, "{srtp}: the offer as A wrote it");
        assert_eq!(
            crypto_of(invite.body()).1,
            key,
            "{srtp}: A's own key, end to end"
        );
        // B speaks SRTP too and answers with its key: A gets that answer as B wrote it
        let b = RtpPhone::bind(ua_b.local.ip());
        let b_key = MasterKey::from_bytes(&[0x42; 30]);
        let b_sdp = savp(&b.sdp(&[Codec::Pcmu], b.local().ip()), &b_key);
        ua_b.accept_sdp(&invite, &b_sdp).await;
        let answer = ua_a.invite_outcome(&mut call_a).await;
        assert_eq!(answer.status(), Some(200), "{srtp}");
        assert_eq!(crypto_of(answer.body()).1, b_key, "{srtp}");
        let live = the_live_call(&sw);
        assert_eq!(live["media"], "direct", "{srtp}: {live}");
    }
}

/// A phone registered over TLS on the switch's TLS port.
async fn tls_registered(sw: &common::Switch, user: &str) -> Ua {
    let trust = common::tls::client_trusting(&common::tls::lab_cert(&sw.data));
    let mut ua = Ua::tls(sw.sip, sw.tls, user, PW, trust)
        .await
        .expect("a TLS handshake");
    assert_eq!(
        ua.register(600).await.status(),
        Some(200),
        "{user} over TLS"
    );
    ua
}

/// The packets `raw` (SRTP as received) unprotected with `key`, or a panic.
fn unprotected(raw: &[Vec<u8>], key: &MasterKey) -> Vec<Vec<u8>> {
    let mut reader = SrtpContext::new(SUITE, key);
    raw.iter()
        .map(|p| {
            let mut buf = p.clone();
            let n = reader
                .unprotect(&mut buf, p.len())
                .expect("authenticated by the switch");
            buf.truncate(n);
            buf
        })
        .collect()
}

#[tokio::test]
async fn two_phones_registered_over_tls_speak_srtp_each_with_its_own_key_to_the_switch() {
    let sw = media::switch("[media]\nanchor = \"always\"\n", &["1001", "1002"]);
    let mut ua_b = tls_registered(&sw, "1001").await;
    let mut ua_a = tls_registered(&sw, "1002").await;
    let mut a = RtpPhone::bind(ua_a.local.ip());
    let mut b = RtpPhone::bind(ua_b.local.ip());
    let key = caller_key();

    let offer = savp(&a.sdp(&[Codec::Pcmu], a.local().ip()), &key);
    let mut call_a = ua_a.invite_sdp("1001", &offer).await;
    let invite = ua_b.expect_request(Method::Invite).await;
    // B, on TLS, is offered SRTP with a key of the switch's, not A's
    let (suite, to_b_key) = crypto_of(invite.body());
    assert_eq!(suite, SUITE);
    assert_ne!(to_b_key, key, "A's key stays on A's leg");
    assert!(
        !String::from_utf8_lossy(invite.body()).contains(&Crypto::new(1, SUITE, &key).to_string()),
        "no trace of A's key"
    );
    let b_key = MasterKey::from_bytes(&[0x42; 30]);
    let accepted = answer_codecs(invite.body(), &[Codec::Pcmu]);
    let b_sdp = savp(&b.sdp(&accepted, b.local().ip()), &b_key);
    let mut call_b = ua_b.accept_sdp(&invite, &b_sdp).await;
    let answer = ua_a.invite_outcome(&mut call_a).await;
    assert_eq!(answer.status(), Some(200));
    ua_b.expect_request(Method::Ack).await;
    let (_, to_a_key) = crypto_of(answer.body());
    assert!(
        to_a_key != key && to_a_key != b_key && to_a_key != to_b_key,
        "a key of the switch's own for each leg"
    );
    assert!(!String::from_utf8_lossy(answer.body())
        .contains(&Crypto::new(1, SUITE, &b_key).to_string()));

    a.use_srtp(SUITE, key, to_a_key);
    b.use_srtp(SUITE, b_key, to_b_key);
    let a_sends = remote_of(answer.body(), &[Codec::Pcmu]).expect("audio in the answer");
    let b_sends = remote_of(invite.body(), &accepted).expect("audio in the offer");
    a.start_towards(&a_sends, CALLER_HZ);
    b.start_towards(&b_sends, CALLEE_HZ);
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");

    let live = the_live_call(&sw);
    assert_eq!(live["media"], "anchored", "{live}");
    let id = live["id"].as_u64().unwrap();
    let (_, shown) = api(&sw, &format!("/v1/calls/{id}"));
    for leg in shown["media_stats"]["legs"].as_array().unwrap() {
        assert_eq!(leg["srtp"], true, "{shown}");
    }

    let bye = ua_a.in_dialog_request(&mut call_a, "BYE", None, true);
    ua_a.send(bye);
    let bye = ua_b.expect_request(Method::Bye).await;
    ua_b.reply(&bye, 200);
    let _ = &mut call_b;
    a.stop();
    b.stop();

    assert_tone("A", &a.audio(), CALLEE_HZ, CALLER_HZ, SampleRate::NARROW);
    assert_tone("B", &b.audio(), CALLER_HZ, CALLEE_HZ, SampleRate::NARROW);
    assert_eq!(a.srtp_failures(), 0, "every packet to A authenticated");
    assert_eq!(b.srtp_failures(), 0, "every packet to B authenticated");
    // what reached B was SRTP under the key offered to B: noise as plain audio, A's tone
    // once unprotected
    let raw = b.raw_received();
    assert!(raw.len() >= 50, "{} packets kept", raw.len());
    assert!(
        !as_plain_pcmu(&raw[10..]).has(CALLER_HZ),
        "ciphertext is no tone"
    );
    let heard = as_plain_pcmu(&unprotected(&raw, &to_b_key)[10..]);
    assert!(heard.has(CALLER_HZ), "decrypted, it is A's tone");
    assert!((heard.level_at(CALLER_HZ) - f64::from(TONE_DBFS)).abs() < 3.0);
}

#[tokio::test]
async fn a_tls_callee_that_answers_the_srtp_offer_with_plain_rtp_still_hears_the_caller() {
    let sw = media::switch("[media]\nanchor = \"always\"\n", &["1001", "1002"]);
    let mut ua_b = tls_registered(&sw, "1001").await;
    let mut ua_a = tls_registered(&sw, "1002").await;
    let mut a = RtpPhone::bind(ua_a.local.ip());
    let mut b = RtpPhone::bind(ua_b.local.ip());
    let key = caller_key();
    let offer = savp(&a.sdp(&[Codec::Pcmu], a.local().ip()), &key);
    let mut call_a = ua_a.invite_sdp("1001", &offer).await;
    let invite = ua_b.expect_request(Method::Invite).await;
    crypto_of(invite.body());
    // B knows no SRTP and answers RTP/AVP (RFC 4568 says it should have refused)
    let accepted = answer_codecs(invite.body(), &[Codec::Pcmu]);
    let b_sdp = b.sdp(&accepted, b.local().ip());
    let _call_b = ua_b.accept_sdp(&invite, &b_sdp).await;
    let answer = ua_a.invite_outcome(&mut call_a).await;
    assert_eq!(answer.status(), Some(200));
    ua_b.expect_request(Method::Ack).await;
    let (_, to_a_key) = crypto_of(answer.body());
    a.use_srtp(SUITE, key, to_a_key);
    let a_sends = remote_of(answer.body(), &[Codec::Pcmu]).expect("audio in the answer");
    let b_sends = remote_of(invite.body(), &accepted).expect("audio in the offer");
    a.start_towards(&a_sends, CALLER_HZ);
    b.start_towards(&b_sends, CALLEE_HZ);
    assert!(a.wait_heard(LISTEN, PATIENCE).await, "A hears audio");
    assert!(b.wait_heard(LISTEN, PATIENCE).await, "B hears audio");
    let id = the_live_call(&sw)["id"].as_u64().unwrap();
    let (_, shown) = api(&sw, &format!("/v1/calls/{id}"));
    for leg in shown["media_stats"]["legs"].as_array().unwrap() {
        let srtp = leg["side"] == "caller";
        assert_eq!(leg["srtp"], srtp, "B's leg is plain: {shown}");
    }
    a.stop();
    b.stop();
    assert_tone("A", &a.audio(), CALLEE_HZ, CALLER_HZ, SampleRate::NARROW);
    assert_tone("B", &b.audio(), CALLER_HZ, CALLEE_HZ, SampleRate::NARROW);
    assert_eq!(a.srtp_failures(), 0);
    assert_eq!(b.unknown_packets(), 0, "B gets plain RTP it reads");
}

#[tokio::test]
async fn a_callee_registered_over_udp_is_offered_plain_rtp_by_a_tls_caller() {
    let sw = media::switch("[media]\nanchor = \"auto\"\n", &["1001", "1002"]);
    let mut ua_b = Ua::registered(sw.sip, "1001", PW).await;
    let mut ua_a = tls_registered(&sw, "1002").await;
    let a = RtpPhone::bind(ua_a.local.ip());
    let offer = savp(&a.sdp(&[Codec::Pcmu], a.local().ip()), &caller_key());
    let mut call_a = ua_a.invite_sdp("1001", &offer).await;
    let invite = ua_b.expect_request(Method::Invite).await;
    let to_b = Sdp::parse(invite.body()).unwrap();
    assert_eq!(to_b.media[0].proto, "RTP/AVP", "{to_b}");
    assert_eq!(
        to_b.media[0].cryptos().count(),
        0,
        "no key over UDP: {to_b}"
    );
    let b = RtpPhone::bind(ua_b.local.ip());
    let accepted = answer_codecs(invite.body(), &[Codec::Pcmu]);
    ua_b.accept_sdp(&invite, &b.sdp(&accepted, b.local().ip()))
        .await;
    let answer = ua_a.invite_outcome(&mut call_a).await;
    assert_eq!(answer.status(), Some(200));
    assert_ne!(crypto_of(answer.body()).1, caller_key());
    let live = the_live_call(&sw);
    assert_eq!(live["media"], "anchored", "{live}");
    assert_eq!(live["reason"], "srtp", "{live}");
}

#[tokio::test]
async fn a_plain_offer_reaches_a_tls_callee_as_plain_rtp_in_an_anchored_call() {
    let sw = media::switch("[media]\nanchor = \"always\"\n", &["1001", "1002"]);
    let mut ua_b = tls_registered(&sw, "1001").await;
    let mut ua_a = tls_registered(&sw, "1002").await;
    let a = RtpPhone::bind(ua_a.local.ip());
    let _call_a = ua_a
        .invite_sdp("1001", &a.sdp(&[Codec::Pcmu], a.local().ip()))
        .await;
    let invite = ua_b.expect_request(Method::Invite).await;
    let to_b = Sdp::parse(invite.body()).unwrap();
    // a phone without SRTP would refuse RTP/SAVP (488): the caller did not ask for it
    assert_eq!(to_b.media[0].proto, "RTP/AVP", "{to_b}");
    assert_eq!(to_b.media[0].cryptos().count(), 0, "{to_b}");
    assert_ne!(to_b.media[0].port, a.local().port(), "anchored: {to_b}");
}
