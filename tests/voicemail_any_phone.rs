//! Listening to a mailbox from another phone, end to end (real SIP, real RTP, digits by RFC
//! 4733): a subscriber at their own phone dials the voicemail number, presses `*`, keys a
//! colleague's mailbox number and PIN and hears the colleague's message (a tone, checked by
//! Goertzel); a wrong PIN counts toward the colleague's lockout and not the caller's; a
//! caller through a trunk, who is no subscriber, reaches a mailbox by the access number.
//!
//! The messages are imported over HTTP as WAV tones; the prompts are speech and are not
//! listened for.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::audio::Audio;
use common::media::{self, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{Call, Proto, Ua};
use common::voicemail::{import, json, list, operator, tone_wav, Format, TOKEN};
use common::{basic, fresh_ip, Switch};
use switchboard_engine::media::Codec;
use switchboard_engine::sip::Method;

/// The mailbox listened to.
const OWNER: &str = "1001";
const OWNER_PIN: &str = "4711";
/// The colleague whose phone is used.
const COLLEAGUE: &str = "1002";
const COLLEAGUE_PIN: &str = "2580";
/// The message's tone.
const MESSAGE_HZ: f32 = 440.0;
/// What the phones send.
const PHONE_HZ: f32 = 660.0;
const ACCESS: &str = "+8211990098";

/// A switch with both subscribers, each with a PIN, and a message of `MESSAGE_HZ` in the
/// owner's mailbox.
fn switch(extra: &str) -> Switch {
    let sw = media::switch(
        &format!("[http]\nadmin_token = \"{TOKEN}\"\n[voicemail]\n{extra}"),
        &[OWNER, COLLEAGUE],
    );
    for (number, pin) in [(OWNER, OWNER_PIN), (COLLEAGUE, COLLEAGUE_PIN)] {
        let path = format!("/v1/accounts/{number}/voicemail/settings");
        let body = format!("{{\"pin\": \"{pin}\"}}");
        let a = json(sw.http, "PUT", &path, &basic(number, PW), Some(&body));
        assert_eq!(a.status, 200, "{number}'s PIN is set: {}", a.text());
    }
    let wav = tone_wav(Format::int(8000, 1, 16), 4.0, f64::from(MESSAGE_HZ), -12.0);
    assert_eq!(import(sw.http, OWNER, "1007", &wav).status, 201);
    sw
}

/// The folders of the owner's messages, as the operator lists them.
fn folders(sw: &Switch) -> Vec<String> {
    list(sw.http, OWNER, &operator())["messages"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["folder"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Whether `number`'s mailbox is locked by wrong PINs (its settings over HTTP).
fn locked(sw: &Switch, number: &str) -> bool {
    let path = format!("/v1/accounts/{number}/voicemail/settings");
    let a = json(sw.http, "GET", &path, &operator(), None);
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()["pin_locked"] == true
}

/// A phone in a mailbox call.
struct Phone {
    ua: Ua,
    rtp: RtpPhone,
    call: Call,
}

impl Phone {
    /// `ua` dials `target`; the switch answers and speaks.
    async fn dial(mut ua: Ua, target: &str) -> Phone {
        let mut rtp = RtpPhone::bind(ua.local.ip());
        let offer = rtp.sdp(&[Codec::Pcmu], rtp.local().ip());
        let mut call = ua.invite_sdp(target, &offer).await;
        let ok = ua.invite_outcome(&mut call).await;
        assert_eq!(
            ok.status(),
            Some(200),
            "the switch answers {target}: {ok:?}"
        );
        let remote = remote_of(ok.body(), &[Codec::Pcmu]).expect("with its media");
        rtp.start_towards(&remote, PHONE_HZ);
        assert!(
            rtp.wait_heard(Duration::from_millis(500), PATIENCE).await,
            "the mailbox speaks"
        );
        Phone { ua, rtp, call }
    }

    /// Keys `digits`, then lets the switch answer for `settle`.
    async fn keys(&self, digits: &str, settle: Duration) {
        self.rtp.send_digits(digits);
        tokio::time::sleep(settle).await;
    }

    /// Waits for 1.5 s of `MESSAGE_HZ` heard after `from`, loud and dominant.
    async fn hears_the_message(&self, from: Duration) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let heard = self.rtp.audio().skip(from);
            if message_in(&heard) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the phone hears the message: {}",
                heard.describe(&[MESSAGE_HZ])
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the switch's BYE (answered 200); whether it came within `wait`.
    async fn hung_up_by_switch(&mut self, wait: Duration) -> bool {
        let cid = self.call.call_id.clone();
        let bye = self
            .ua
            .recv_where(wait, move |m| {
                m.method() == Some(Method::Bye) && m.call_id() == Some(cid.as_str())
            })
            .await;
        if let Some(bye) = &bye {
            self.ua.reply(bye, 200);
            self.rtp.stop();
        }
        bye.is_some()
    }

    async fn hang_up(&mut self) {
        let r = self.ua.request_in_dialog(&mut self.call, "BYE", None).await;
        assert_eq!(r.status(), Some(200), "the BYE is answered");
        self.rtp.stop();
    }
}

/// Whether 1.5 s of the message's tone (dominant, louder than -30 dBFS) is in `audio`.
fn message_in(audio: &Audio) -> bool {
    let window = Duration::from_millis(1500);
    let step = Duration::from_millis(100);
    let mut at = Duration::ZERO;
    while at + window <= audio.duration() {
        let w = audio.skip(at).take(window);
        if w.level_dbfs() > -30.0 && w.dominant_hz().map(f32::round) == Some(MESSAGE_HZ) {
            return true;
        }
        at += step;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleagues_phone_opens_the_owners_mailbox_with_star_number_and_pin() {
    let sw = switch("");
    let ua = Ua::new(sw.sip, COLLEAGUE, PW, Proto::Udp).await;
    let mut p = Phone::dial(ua, "*98").await;
    // star at the PIN prompt, the owner's mailbox number, the owner's PIN
    p.keys("*", Duration::from_millis(800)).await;
    p.keys(&format!("{OWNER}#"), Duration::from_millis(800))
        .await;
    p.keys(&format!("{OWNER_PIN}#"), Duration::from_millis(2000))
        .await;
    let before = p.rtp.heard();
    p.keys("1", Duration::ZERO).await;
    p.hears_the_message(before).await;
    // saved with 9: the owner's mailbox changed, over HTTP
    p.keys("9", Duration::from_millis(300)).await;
    let saved = common::eventually(PATIENCE, || folders(&sw) == ["saved"]);
    assert!(saved, "the owner's message is saved: {:?}", folders(&sw));
    p.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_for_another_mailbox_count_toward_its_lockout_not_the_callers() {
    let sw = switch("pin_failures = 2\npin_lockout_secs = 600\n");
    let ua = Ua::new(sw.sip, COLLEAGUE, PW, Proto::Udp).await;
    let mut p = Phone::dial(ua, "*98").await;
    // two tries at the owner's mailbox with wrong PINs
    p.keys(&format!("*{OWNER}#1111#"), Duration::from_millis(500))
        .await;
    p.keys(&format!("{OWNER}#2222#"), Duration::from_millis(500))
        .await;
    let owner_locked = common::eventually(PATIENCE, || locked(&sw, OWNER));
    assert!(
        owner_locked,
        "the owner's mailbox is locked after two wrong PINs"
    );
    assert!(
        !locked(&sw, COLLEAGUE),
        "the caller's own mailbox counted nothing"
    );
    p.hang_up().await;

    // locked: the owner's right PIN from the colleague's phone plays nothing
    let ua = Ua::new(sw.sip, COLLEAGUE, PW, Proto::Udp).await;
    let mut p = Phone::dial(ua, "*98").await;
    let before = p.rtp.heard();
    p.keys(
        &format!("*{OWNER}#{OWNER_PIN}#"),
        Duration::from_millis(2000),
    )
    .await;
    p.keys("1", Duration::from_secs(3)).await;
    assert!(
        !message_in(&p.rtp.audio().skip(before)),
        "nothing of the message was played"
    );
    assert_eq!(folders(&sw), ["new"]);
    assert!(
        p.hung_up_by_switch(Duration::from_secs(20)).await,
        "a locked mailbox says so and the switch hangs up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_caller_reaches_a_mailbox_by_the_access_number() {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = switch(&format!(
        "access_number = \"{ACCESS}\"\n[[trunks]]\nname = \"carrier\"\ngroup = \"carrier\"\naddress = \"{gw}\"\n"
    ));
    // the voicemail number is a subscriber's own: a trunk's caller is refused there
    let mut hotel = Ua::at(sw.sip, gw, "hotel").await;
    let offer = RtpPhone::bind(gw.ip());
    let sdp = offer.sdp(&[Codec::Pcmu], gw.ip());
    let mut c = hotel.invite_sdp("*98", &sdp).await;
    assert_eq!(hotel.invite_outcome(&mut c).await.status(), Some(403));
    drop(offer);

    let mut p = Phone::dial(hotel, ACCESS).await;
    p.keys(&format!("{OWNER}#"), Duration::from_millis(800))
        .await;
    p.keys(&format!("{OWNER_PIN}#"), Duration::from_millis(2000))
        .await;
    let before = p.rtp.heard();
    p.keys("1", Duration::ZERO).await;
    p.hears_the_message(before).await;
    p.hang_up().await;
}
