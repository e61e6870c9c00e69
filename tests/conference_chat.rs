//! Text merged with voice: a conference and the chat room of the same name are one group.
//! `/call` typed in the room makes the switch call every member into the conference; members
//! in voice show in the room's member list with their state; a member in the conference is on
//! the phone for its watchers with a note naming the room.

mod common;

use std::time::{Duration, Instant};

use common::audio::{LEVEL_DB, TONE_DBFS};
use common::media::{self, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::Ua;
use common::{basic, http};
use switchboard_engine::media::Codec;
use switchboard_engine::sip::{Message, Method};

const PCMU: &[Codec] = &[Codec::Pcmu];

/// Waits for the room's answer to a command: a MESSAGE whose text contains `what` (each
/// MESSAGE on the way is answered 200).
async fn room_says(ua: &mut Ua, what: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = ua
            .maybe_request(Method::Message, left)
            .await
            .unwrap_or_else(|| panic!("{}: the room never said {what:?}", ua.user));
        ua.reply(&m, 200);
        let text = String::from_utf8_lossy(m.body()).into_owned();
        if text.contains(what) {
            return text;
        }
    }
}

/// Answers the switch's INVITE (from the conference) with `phone`'s PCMU and starts its tone.
async fn answer_the_conference(ua: &mut Ua, phone: &mut RtpPhone, hz: f32) -> Message {
    let invite = ua.expect_request(Method::Invite).await;
    let offer = remote_of(invite.body(), PCMU).expect("the switch offers PCMU");
    let tag = format!("t{}", ua.user);
    let sdp = phone.sdp(PCMU, phone.local().ip());
    ua.reply_tagged(&invite, 180, &tag, None);
    ua.reply_tagged(&invite, 200, &tag, Some(("application/sdp", &sdp)));
    let ack = ua.expect_request(Method::Ack).await;
    assert_eq!(ack.call_id(), invite.call_id());
    phone.start_towards(&offer, hz);
    invite
}

fn hears(who: &str, phone: &RtpPhone, hz: f32, not_hz: f32) {
    phone.clear_received();
    assert!(
        phone.wait_heard_blocking(Duration::from_millis(1500), PATIENCE),
        "{who} hears the conference"
    );
    let a = phone.audio();
    let what = a.describe(&[hz, not_hz]);
    assert!(
        (a.level_at(hz) - TONE_DBFS as f64).abs() <= LEVEL_DB,
        "{who} hears {hz} Hz: {what}"
    );
    assert!(
        a.level_at(not_hz) < TONE_DBFS as f64 - 30.0,
        "{who} never hears itself: {what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_call_in_a_room_calls_every_member_into_its_conference() {
    let sw = media::switch("", &["1001", "1002"]);
    let mut a = Ua::registered(sw.sip, "1001", PW).await;
    let mut b = Ua::registered(sw.sip, "1002", PW).await;
    assert_eq!(a.text("room-team", "/join").await.status(), Some(200));
    room_says(&mut a, "created the room").await;
    assert_eq!(
        a.text("room-team", "/invite 1002").await.status(),
        Some(200)
    );
    room_says(&mut b, "added you").await;
    let (mut pa, mut pb) = (RtpPhone::bind(a.local.ip()), RtpPhone::bind(b.local.ip()));

    assert_eq!(a.text("room-team", "/call").await.status(), Some(200));
    let (ia, ib) = tokio::join!(
        answer_the_conference(&mut a, &mut pa, 440.0),
        answer_the_conference(&mut b, &mut pb, 1000.0)
    );
    for invite in [&ia, &ib] {
        let from = invite.from().expect("a From").uri().as_str().to_owned();
        assert!(
            from.starts_with("sip:conf-team@"),
            "called by the room: {from}"
        );
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    hears("1001", &pa, 1000.0, 440.0);
    hears("1002", &pb, 440.0, 1000.0);

    // the room lists who is in voice, and how (both send a tone: both talk)
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert_eq!(a.text("room-team", "/members").await.status(), Some(200));
        let list = room_says(&mut a, "Members").await;
        if list.contains("1001 (owner, talking)") && list.contains("1002 (talking)") {
            break;
        }
        assert!(Instant::now() < deadline, "members in voice: {list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (code, body) = http(sw.http, "GET", "/v1/rooms/team", &[], None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let voice: Vec<_> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["number"].clone(), m["voice"].clone()))
        .collect();
    assert!(
        voice.contains(&("1002".into(), "talking".into())),
        "the API shows voice states: {body}"
    );
    // a text typed in the room still reaches the voice members
    let posted = b.text("room-team", "hello by text").await;
    assert!(matches!(posted.status(), Some(200 | 202)), "{posted:?}");
    room_says(&mut a, "hello by text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_in_a_conference_is_on_the_phone_with_a_note_naming_the_room() {
    let sw = media::switch("", &["1001", "1002"]);
    for (owner, buddy) in [("1001", "1002"), ("1002", "1001")] {
        let (code, body) = http(
            sw.http,
            "POST",
            &format!("/v1/accounts/{owner}/buddies"),
            &[("Authorization", &basic(owner, PW))],
            Some(&format!(r#"{{"number":"{buddy}"}}"#)),
        );
        assert!(code == 201 || code == 200, "{code} {body}");
    }
    let mut a = Ua::registered(sw.sip, "1001", PW).await;
    let mut phone = RtpPhone::bind(a.local.ip());
    let offer = phone.sdp(PCMU, phone.local().ip());
    let mut call = a.invite_sdp("conf-standup", &offer).await;
    let ok = a.invite_outcome(&mut call).await;
    assert_eq!(ok.status(), Some(200));
    phone.start_towards(&remote_of(ok.body(), PCMU).unwrap(), 440.0);
    let presence = || {
        let (code, body) = http(
            sw.http,
            "GET",
            "/v1/accounts/1002/presence",
            &[("Authorization", &basic("1002", PW))],
            None,
        );
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["buddies"][0].clone()
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = presence();
        let noted = b["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "in conference standup"));
        let busy = b["activities"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "on-the-phone"));
        if noted && busy {
            break;
        }
        assert!(Instant::now() < deadline, "on the phone in the room: {b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = a.request_in_dialog(&mut call, "BYE", None).await;
    assert_eq!(r.status(), Some(200));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = presence();
        if b["notes"].as_array().is_none_or(|n| n.is_empty())
            && b["activities"].as_array().is_none_or(|n| n.is_empty())
        {
            break;
        }
        assert!(Instant::now() < deadline, "off the phone again: {b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
