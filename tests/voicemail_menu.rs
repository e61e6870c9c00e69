//! Listening to voicemail from a phone, end to end: test phones (real SIP, real RTP) leave a
//! message, the subscriber's phone gets the message-waiting NOTIFY, dials the voicemail number
//! (or `*97`, or its own number), keys the PIN by RFC 4733 and hears the message (the caller's
//! tone, checked by Goertzel frequency and level); deleting it turns the lamp off. Also: wrong
//! PINs hang up and lock the mailbox until the lockout ends, a saved message plays from the
//! saved folder, the own phone skips the PIN when the operator allows, a greeting recorded by
//! phone is what the next caller hears, a PIN changed by phone is the one asked next, and a
//! call back asks the phone to call the caller (REFER).
//!
//! The prompts are speech; what the tests listen for are tones: the messages and greetings
//! are tones the phones sent, the beep is 1 kHz.

mod common;

use std::time::{Duration, Instant};

use common::audio::{Audio, LEVEL_DB, TONE_DBFS};
use common::media::{self, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{Call, Proto, Ua};
use common::{http, Switch};
use switchboard_engine::media::Codec;
use switchboard_engine::sip::{HeaderName, Message, Method};
use switchboard_engine::voicemail::summary::{self, Counts};
use switchboard_engine::voicemail::MessageClass;

/// The subscriber whose mailbox it is.
const OWNER: &str = "1001";
/// Who leaves the messages.
const CALLER: &str = "1002";
const PIN: &str = "4711";
/// The caller's tone (the message).
const MESSAGE_HZ: f32 = 440.0;
/// The subscriber's phone's tone (a greeting it records).
const OWNER_HZ: f32 = 660.0;
const BEEP_HZ: f32 = 1000.0;

fn switch(voicemail: &str) -> Switch {
    media::switch(
        &format!("[presence]\nnotify_interval_ms = 200\n[voicemail]\nring_secs = 5\n{voicemail}"),
        &[OWNER, CALLER],
    )
}

/// One end of a call the switch answered.
struct Phone {
    ua: Ua,
    rtp: RtpPhone,
    call: Call,
}

impl Phone {
    /// `ua` dials `target` offering PCMU; its phone sends `hz` from the answer on.
    async fn dial(mut ua: Ua, target: &str, hz: f32) -> Phone {
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
        rtp.start_towards(&remote, hz);
        Phone { ua, rtp, call }
    }

    /// The subscriber's phone dials `target` (its mailbox) and waits for the switch to speak.
    async fn mailbox(sw: &Switch, target: &str) -> Phone {
        let ua = Ua::new(sw.sip, OWNER, PW, Proto::Udp).await;
        Phone::open(ua, target).await
    }

    async fn open(ua: Ua, target: &str) -> Phone {
        let p = Phone::dial(ua, target, OWNER_HZ).await;
        assert!(
            p.rtp.wait_heard(Duration::from_millis(500), PATIENCE).await,
            "the mailbox speaks"
        );
        p
    }

    /// How much the phone has heard so far (a mark to look for what comes next).
    fn mark(&self) -> Duration {
        self.rtp.heard()
    }

    fn keys(&self, digits: &str) {
        self.rtp.send_digits(digits);
    }

    /// Waits for `hz` heard after `from` (at least `len` of it); the audio from where it
    /// starts.
    async fn hears(&self, from: Duration, hz: f32, len: Duration, within: Duration) -> Audio {
        let deadline = Instant::now() + within;
        loop {
            let heard = self.rtp.audio().skip(from);
            if let Some(at) = first_window_with(&heard, hz) {
                let tone = heard.skip(at);
                if tone.duration() >= len {
                    return tone;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the phone hears {hz} Hz: {}",
                heard.describe(&[hz])
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether `hz` is heard after `from` within `wait`.
    async fn heard_within(&self, from: Duration, hz: f32, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if first_window_with(&self.rtp.audio().skip(from), hz).is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
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

    /// Hangs up (BYE, answered 200).
    async fn hang_up(&mut self) {
        let r = self.ua.request_in_dialog(&mut self.call, "BYE", None).await;
        assert_eq!(r.status(), Some(200), "the BYE is answered");
        self.rtp.stop();
    }
}

/// Where a stretch in which `hz` is the strongest frequency, and loud, first starts (in steps
/// of a quarter of it): 400 ms of a tone, not a moment of speech; the 200 ms beep, which may
/// be the last thing heard before a recording, in 150 ms.
fn first_window_with(audio: &Audio, hz: f32) -> Option<Duration> {
    let window = Duration::from_millis(if hz == BEEP_HZ { 150 } else { 400 });
    let step = window / 4;
    let mut at = Duration::ZERO;
    while at + window <= audio.duration() {
        let w = audio.skip(at).take(window);
        if w.level_dbfs() > -30.0 && w.dominant_hz().map(f32::round) == Some(hz) {
            return Some(at);
        }
        at += step;
    }
    None
}

/// The subscriber chooses `pin` by phone (a mailbox without a PIN lets its own phone in).
async fn set_pin_by_phone(sw: &Switch, pin: &str) {
    let mut p = Phone::mailbox(sw, "*98").await;
    p.keys(&format!("4{pin}#{pin}#"));
    // each digit takes about 300 ms, then the change is written
    tokio::time::sleep(Duration::from_millis(400 * (3 + 2 * pin.len() as u64))).await;
    p.hang_up().await;
}

/// `CALLER` leaves a message of `MESSAGE_HZ` for `OWNER`, whose phone is not registered (the
/// mailbox answers at once); what the caller heard before the beep (the greeting), of which
/// it lets `greeting` play before skipping to the beep with `#`.
async fn leave_message(sw: &Switch, ua: Ua, greeting: Duration) -> Audio {
    let mut p = Phone::dial(ua, OWNER, MESSAGE_HZ).await;
    assert!(
        p.rtp.wait_heard(greeting, PATIENCE).await,
        "the greeting plays"
    );
    p.keys("#");
    let deadline = Instant::now() + PATIENCE;
    let before_beep = loop {
        let heard = p.rtp.audio();
        if let Some(at) = first_window_with(&heard, BEEP_HZ) {
            break heard.take(at);
        }
        assert!(Instant::now() < deadline, "the caller hears the beep");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    p.hang_up().await;
    messages(sw, |m| !m.is_empty());
    before_beep
}

/// The mailbox's messages once `ready` says so (the HTTP list).
fn messages(sw: &Switch, ready: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let path = format!("/v1/accounts/{OWNER}/voicemail");
    let mut last = Vec::new();
    let ok = common::eventually(PATIENCE, || {
        let (code, body) = http(sw.http, "GET", &path, &[], None);
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        last = v["messages"].as_array().cloned().unwrap_or_default();
        ready(&last)
    });
    assert!(ok, "the mailbox as expected: {last:?}");
    last
}

/// Asserts that `tone` is the caller's message: its frequency, at the level it was sent.
fn assert_is_the_message(tone: &Audio) {
    let tone = tone.take(Duration::from_millis(1500));
    assert_eq!(
        tone.dominant_hz().map(f32::round),
        Some(MESSAGE_HZ),
        "{}",
        tone.describe(&[MESSAGE_HZ])
    );
    let level = tone.level_at(MESSAGE_HZ);
    assert!(
        (level - TONE_DBFS as f64).abs() <= LEVEL_DB,
        "the message at the level the caller sent ({TONE_DBFS} dBFS): {level:.1}"
    );
}

/// The next unsolicited message-summary NOTIFY (answered 200) whose voice counts pass `want`.
async fn lamp(ua: &mut Ua, want: impl Fn(Counts) -> bool, wait: Duration) -> Option<Counts> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = ua
            .recv_where(left, |m| {
                m.method() == Some(Method::Notify)
                    && m.header(HeaderName::Event) == Some("message-summary")
            })
            .await?;
        ua.reply(&n, 200);
        let counts = voice(&n);
        if want(counts) {
            return Some(counts);
        }
    }
}

fn voice(n: &Message) -> Counts {
    summary::parse(n.body())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(n.body())))
        .counts(MessageClass::Voice)
        .expect("a Voice-Message line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_lights_the_lamp_and_listening_with_the_pin_then_deleting_turns_it_off() {
    let sw = switch("");
    set_pin_by_phone(&sw, PIN).await;
    let mut owner = Ua::registered(sw.sip, OWNER, PW).await;

    // a caller rings the subscriber, who does not answer, and leaves a 3 s tone
    let dial = Phone::dial(Ua::registered(sw.sip, CALLER, PW).await, OWNER, MESSAGE_HZ);
    let o = &mut owner;
    let ring = async move {
        let inv = o.expect_request(Method::Invite).await;
        let tag = o.token();
        o.reply_tagged(&inv, 180, &tag, None);
        let cancel = o
            .recv_where(Duration::from_secs(15), |m| {
                m.method() == Some(Method::Cancel)
            })
            .await
            .expect("the ringing phone is cancelled after the ring time");
        o.reply(&cancel, 200);
        o.reply_tagged(&inv, 487, &tag, None);
    };
    let (mut caller, ()) = tokio::join!(dial, ring);
    let deadline = Instant::now() + PATIENCE + Duration::from_secs(10);
    while first_window_with(&caller.rtp.audio(), BEEP_HZ).is_none() {
        assert!(Instant::now() < deadline, "the caller hears the beep");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    caller.hang_up().await;

    let lit = lamp(&mut owner, |c| c.new == 1, PATIENCE).await;
    assert_eq!(lit.map(|c| (c.new, c.old)), Some((1, 0)), "the lamp lights");

    // the subscriber dials the voicemail number, keys the PIN, plays the new message
    let mut p = Phone::open(owner, "*98").await;
    let before = p.mark();
    p.keys(&format!("{PIN}#"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    p.keys("1");
    let tone = p
        .hears(before, MESSAGE_HZ, Duration::from_millis(1500), PATIENCE)
        .await;
    assert_is_the_message(&tone);
    p.keys("7");
    let off = lamp(&mut p.ua, |c| c.new == 0, PATIENCE).await;
    assert_eq!(off.map(|c| c.new), Some(0), "the lamp goes off");
    assert!(messages(&sw, |m| m.is_empty()).is_empty(), "deleted");
    p.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_hang_up_and_lock_the_mailbox_until_the_lockout_ends() {
    let sw = switch("pin_failures = 3\npin_lockout_secs = 10\n");
    set_pin_by_phone(&sw, PIN).await;
    leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1200),
    )
    .await;

    // three wrong PINs: the switch says goodbye and hangs up
    let mut p = Phone::mailbox(&sw, "*98").await;
    p.keys("1111#2222#3333#");
    assert!(
        p.hung_up_by_switch(Duration::from_secs(20)).await,
        "the switch hangs up after the third wrong PIN"
    );
    let locked_at = Instant::now();

    // locked: the right PIN is not taken, and the message is not heard
    let mut p = Phone::mailbox(&sw, "*98").await;
    assert!(
        locked_at.elapsed() < Duration::from_secs(8),
        "this call comes within the lockout"
    );
    let before = p.mark();
    p.keys(&format!("{PIN}#1"));
    assert!(
        p.hung_up_by_switch(Duration::from_secs(15)).await,
        "a locked mailbox says so and hangs up"
    );
    assert!(
        first_window_with(&p.rtp.audio().skip(before), MESSAGE_HZ).is_none(),
        "nothing of the message was played"
    );

    // after the lockout the right PIN opens the mailbox
    tokio::time::sleep(Duration::from_millis(10_500).saturating_sub(locked_at.elapsed())).await;
    let p = Phone::mailbox(&sw, "*98").await;
    let before = p.mark();
    p.keys(&format!("{PIN}#"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    p.keys("1");
    let tone = p
        .hears(before, MESSAGE_HZ, Duration::from_millis(1500), PATIENCE)
        .await;
    assert_is_the_message(&tone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_message_plays_again_from_the_saved_folder() {
    let sw = switch("");
    leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1200),
    )
    .await;
    // no PIN chosen yet: the subscriber's own phone goes in (by *97 this time)
    let mut p = Phone::mailbox(&sw, "*97").await;
    p.keys("1");
    let first = p
        .hears(
            Duration::ZERO,
            MESSAGE_HZ,
            Duration::from_millis(1000),
            PATIENCE,
        )
        .await;
    assert_is_the_message(&first);
    p.keys("9");
    let saved = messages(&sw, |m| m.len() == 1 && m[0]["folder"] == "saved");
    assert_eq!(saved[0]["caller"]["number"], CALLER);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = p.mark();
    p.keys("2");
    let again = p
        .hears(before, MESSAGE_HZ, Duration::from_millis(1500), PATIENCE)
        .await;
    assert_is_the_message(&again);
    p.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_phone_goes_straight_to_the_menu_when_the_operator_allows() {
    let sw = switch("pin_from_own_phone = false\n");
    set_pin_by_phone(&sw, PIN).await;
    leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1200),
    )
    .await;
    // the subscriber dials their own number: the first key is a menu key, not a PIN digit
    let mut p = Phone::mailbox(&sw, OWNER).await;
    p.keys("1");
    let tone = p
        .hears(
            Duration::ZERO,
            MESSAGE_HZ,
            Duration::from_millis(1500),
            PATIENCE,
        )
        .await;
    assert_is_the_message(&tone);
    p.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_recorded_by_phone_is_what_the_next_caller_hears() {
    let sw = switch("");
    // greetings, unavailable: record after the tone
    let mut p = Phone::mailbox(&sw, "*98").await;
    let before = p.mark();
    p.keys("31");
    p.hears(before, BEEP_HZ, Duration::from_millis(100), PATIENCE)
        .await;
    // the phone's tone is recorded for about 2.5 s, then `#` ends it and 1 keeps it
    tokio::time::sleep(Duration::from_millis(2500)).await;
    p.keys("#");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    p.keys("1");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.hang_up().await;

    let greeting = leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1500),
    )
    .await;
    let sounding = greeting.sounding(-40.0);
    assert!(
        sounding.duration() >= Duration::from_millis(1200),
        "the greeting is not silent: {}",
        greeting.describe(&[OWNER_HZ])
    );
    assert_eq!(
        sounding.dominant_hz().map(f32::round),
        Some(OWNER_HZ),
        "the greeting is the subscriber's recorded tone: {}",
        sounding.describe(&[OWNER_HZ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_changed_by_phone_is_the_one_asked_next() {
    let sw = switch("");
    set_pin_by_phone(&sw, PIN).await;
    let p = Phone::mailbox(&sw, "*98").await;
    p.keys(&format!("{PIN}#"));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let mut p = p;
    p.keys("490210#90210#");
    // the prompts and the change through the voicemail thread: generous on a busy machine
    tokio::time::sleep(Duration::from_millis(7000)).await;
    p.hang_up().await;
    leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1200),
    )
    .await;

    // the old PIN and then a menu key: still the PIN prompt, nothing plays
    let mut p = Phone::mailbox(&sw, "*98").await;
    let before = p.mark();
    p.keys(&format!("{PIN}#1"));
    assert!(
        !p.heard_within(before, MESSAGE_HZ, Duration::from_secs(8))
            .await,
        "the old PIN opens nothing"
    );
    p.hang_up().await;
    // the new one opens the mailbox
    let mut p = Phone::mailbox(&sw, "*98").await;
    let before = p.mark();
    p.keys("90210#");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    p.keys("1");
    let tone = p
        .hears(before, MESSAGE_HZ, Duration::from_millis(1500), PATIENCE)
        .await;
    assert_is_the_message(&tone);
    p.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_back_asks_the_phone_to_call_the_caller() {
    let sw = switch("");
    let mut caller = Ua::registered(sw.sip, CALLER, PW).await;
    leave_message(
        &sw,
        Ua::new(sw.sip, CALLER, PW, Proto::Udp).await,
        Duration::from_millis(1200),
    )
    .await;
    let mut p = Phone::mailbox(&sw, "*98").await;
    p.keys("1");
    p.hears(
        Duration::ZERO,
        MESSAGE_HZ,
        Duration::from_millis(500),
        PATIENCE,
    )
    .await;
    p.keys("8");
    // "calling 1 0 0 2", then the switch asks the phone to call
    let refer =
        p.ua.recv_where(Duration::from_secs(20), |m| {
            m.method() == Some(Method::Refer)
        })
        .await
        .expect("a REFER from the switch");
    assert_eq!(
        refer.call_id(),
        Some(p.call.call_id.as_str()),
        "in the call"
    );
    let to = refer
        .header_by_name("Refer-To")
        .expect("Refer-To")
        .to_owned();
    assert!(to.starts_with(&format!("<sip:{CALLER}@")), "{to}");
    p.ua.reply_tagged(&refer, 202, &p.call.local_tag, None);
    assert!(
        p.hung_up_by_switch(Duration::from_secs(10)).await,
        "the switch leaves the call to the phone"
    );
    // the phone calls the number it was given, as any call it places
    let target = to
        .trim_matches(|c| c == '<' || c == '>')
        .trim_start_matches("sip:")
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    let back = p.ua.invite(&target).await;
    let inv = caller.expect_request(Method::Invite).await;
    assert!(
        inv.from().is_some_and(|f| f.uri().as_str().contains(OWNER)),
        "the caller's phone rings with the subscriber calling"
    );
    // (the test's caller takes no call: it rings, and the subscriber gives up)
    caller.reply_tagged(&inv, 180, "cb", None);
    assert!(
        p.ua.response(&back.call_id, 180).await.is_some(),
        "it rings"
    );
    p.ua.cancel(&back);
    let cancel = caller.expect_request(Method::Cancel).await;
    caller.reply(&cancel, 200);
    caller.reply_tagged(&inv, 487, "cb", None);
    let r = p.ua.final_response(&back.call_id, "INVITE").await;
    assert_eq!(r.status(), Some(487));
}
