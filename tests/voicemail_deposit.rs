//! Leaving a voice message, end to end: a test phone (real SIP, real RTP) calls a subscriber
//! who does not answer, is busy, has no phone registered, or forwards every call to
//! voicemail; the switch answers, the caller hears the greeting (speech: not silent) and the
//! beep (1 kHz), sends a tone and hangs up. The message is then in the mailbox (the HTTP
//! list), about as long as the tone was sent, and its WAV file holds that tone (Goertzel:
//! frequency and level); the subscriber gets an SMS (the notifier's log). A call shorter than
//! a second leaves nothing. A greeting uploaded over HTTP is what the next caller hears; a
//! switch killed (SIGKILL) while a message is being left keeps it once, readable, after the
//! restart.

mod common;

use std::time::{Duration, Instant};

use common::audio::{read_wav, Audio, LEVEL_DB, TONE_DBFS};
use common::media::{self, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{Call, Ua};
use common::{http, wait_for_sms, Switch};
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::Method;

/// The subscriber whose mailbox takes the calls: a mobile number, so it gets SMS.
const MAILBOX: &str = "+821012345678";
const CALLER: &str = "1002";
/// The caller's tone (the beep is 1 kHz).
const TONE_HZ: f32 = 440.0;
const BEEP_HZ: f32 = 1000.0;

fn switch() -> Switch {
    media::switch(
        "[numbering]\nown_ranges = [\"+8210\"]\n[voicemail]\nring_secs = 5\n",
        &[MAILBOX, CALLER, "1003"],
    )
}

/// The caller's end of a call the switch answered for a mailbox.
struct Caller {
    ua: Ua,
    phone: RtpPhone,
    call: Call,
}

/// `CALLER` calls `target` offering PCMU; its phone sends the tone from the answer on.
/// `callee` does what the subscriber's phone does with the INVITE (if it has one). `nat`: the
/// caller's SDP names another address than the one it sends from, so the switch anchors the
/// call's media before the mailbox takes it.
async fn call<F, Fut>(sw: &Switch, target: &str, nat: bool, callee: F) -> Caller
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ua = Ua::registered(sw.sip, CALLER, PW).await;
    let mut phone = RtpPhone::bind(ua.local.ip());
    let named = if nat {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        phone.local().ip()
    };
    assert_ne!(nat, named == phone.local().ip());
    let offer = phone.sdp(&[Codec::Pcmu], named);
    let mut call = ua.invite_sdp(target, &offer).await;
    callee().await;
    let ok = ua.invite_outcome(&mut call).await;
    assert_eq!(ok.status(), Some(200), "the switch answers: {ok:?}");
    let remote = remote_of(ok.body(), &[Codec::Pcmu]).expect("with its media");
    assert_eq!(remote.rtp.ip(), sw.sip.ip(), "on the switch's own address");
    phone.start_towards(&remote, TONE_HZ);
    Caller { ua, phone, call }
}

impl Caller {
    /// Waits for the beep; what was heard before it (the greeting).
    async fn greeting_then_beep(&self) -> Audio {
        // the default greeting says the whole number: about 13 s
        let deadline = Instant::now() + PATIENCE + Duration::from_secs(15);
        loop {
            let heard = self.phone.audio();
            if let Some(at) = first_window_with(&heard, BEEP_HZ) {
                return heard.take(at);
            }
            assert!(
                Instant::now() < deadline,
                "the caller hears the beep: {}",
                heard.describe(&[BEEP_HZ])
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// Hangs up (BYE, answered 200).
    async fn hang_up(&mut self) {
        let r = self.ua.request_in_dialog(&mut self.call, "BYE", None).await;
        assert_eq!(r.status(), Some(200), "the BYE is answered");
        self.phone.stop();
    }
}

/// Where the first 150 ms of a pure `hz` tone start: three 50 ms windows in a row, each loud
/// (above -30 dBFS) with nearly all its power at `hz` (speech never holds one pitch that
/// long).
fn first_window_with(audio: &Audio, hz: f32) -> Option<Duration> {
    let step = Duration::from_millis(50);
    let pure = |at: Duration| {
        let w = audio.skip(at).take(step);
        let level = w.level_dbfs();
        level > -30.0 && w.level_at(hz) >= level - 3.0
    };
    let mut at = Duration::ZERO;
    while at + 3 * step <= audio.duration() {
        if pure(at) && pure(at + step) && pure(at + 2 * step) {
            return Some(at);
        }
        at += step;
    }
    None
}

/// Leaves a message of about `tone`: waits for the beep (`skip`: pressing `#` after a second
/// of the greeting), checks the greeting before it, sends the tone on for `tone` and hangs
/// up.
async fn leave(caller: &mut Caller, tone: Duration, skip: bool) {
    if skip {
        assert!(
            caller
                .phone
                .wait_heard(Duration::from_millis(1200), PATIENCE)
                .await,
            "the greeting plays"
        );
        caller.phone.send_digits("#");
    }
    let greeting = caller.greeting_then_beep().await;
    assert!(
        greeting.duration() >= Duration::from_millis(1000),
        "a greeting comes before the beep: {}",
        greeting.describe(&[])
    );
    let spoken = greeting.sounding(-50.0);
    assert!(
        spoken.duration() >= Duration::from_millis(500) && spoken.level_dbfs() > -35.0,
        "the greeting is speech, not silence: {}",
        greeting.describe(&[])
    );
    tokio::time::sleep(tone).await;
    caller.hang_up().await;
}

/// The mailbox's messages once `n` are there (the HTTP list, as the operator reads it).
fn messages(sw: &Switch, mailbox: &str, n: usize) -> Vec<serde_json::Value> {
    let path = format!("/v1/accounts/{mailbox}/voicemail");
    let mut last = serde_json::Value::Null;
    let ok = common::eventually(PATIENCE, || {
        let (code, body) = http(sw.http, "GET", &path, &[], None);
        assert_eq!(code, 200, "{body}");
        last = serde_json::from_str(&body).unwrap();
        last["messages"].as_array().map_or(0, Vec::len) >= n
    });
    assert!(ok, "{n} messages in {mailbox}: {last}");
    last["messages"].as_array().unwrap().clone()
}

/// Asserts a message of about `secs` seconds (the time from the beep to the hang-up).
fn assert_length(m: &serde_json::Value, secs: f64) {
    let ms = m["duration_ms"].as_u64().unwrap() as f64;
    assert!(
        (ms / 1000.0 - secs).abs() <= 0.6,
        "a message of about {secs} s: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_leaves_the_callers_tone_in_the_mailbox_and_an_sms_tells_the_owner() {
    let mut sw = switch();
    let mut owner = Ua::registered(sw.sip, MAILBOX, PW).await;
    let o = &mut owner;
    let mut caller = call(&sw, MAILBOX, false, move || async move {
        // the phone rings and nobody takes it: after the ring time the switch cancels it
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
    })
    .await;
    leave(&mut caller, Duration::from_secs(3), false).await;

    let list = messages(&sw, MAILBOX, 1);
    assert_eq!(list.len(), 1);
    let m = &list[0];
    assert_eq!(
        (m["caller"]["number"].as_str(), m["folder"].as_str()),
        (Some(CALLER), Some("new"))
    );
    assert_length(m, 3.0);

    let sms = wait_for_sms(&sw.data, 1);
    assert_eq!(sms[0]["to"], MAILBOX);
    let text = sms[0]["text"].as_str().unwrap();
    assert!(text.contains("voicemail from 1002"), "{text}");
    assert!(
        text.contains("0:03 long") || text.contains("0:04 long"),
        "{text}"
    );

    // the file on disk holds the caller's tone, at the call's rate
    let id = m["id"].as_u64().unwrap();
    assert_eq!(sw.stop(), Some(0));
    let path = sw
        .data
        .join("voicemail")
        .join(MAILBOX)
        .join(format!("{id}.wav"));
    let audio = read_wav(&path).unwrap();
    assert_eq!(audio.sample_rate(), SampleRate::NARROW);
    assert!(
        (audio.duration().as_millis() as u64).abs_diff(m["duration_ms"].as_u64().unwrap()) < 30,
        "the file is as long as the record says: {}",
        audio.describe(&[])
    );
    let tone = audio.sounding(-40.0);
    assert!(
        tone.duration() >= Duration::from_millis(2500),
        "the tone fills the message: {}",
        audio.describe(&[TONE_HZ])
    );
    assert_eq!(
        tone.dominant_hz().map(|h| h.round()),
        Some(TONE_HZ),
        "{}",
        tone.describe(&[TONE_HZ])
    );
    let level = tone.level_at(TONE_HZ);
    assert!(
        (level - TONE_DBFS as f64).abs() <= LEVEL_DB,
        "the tone at the level sent ({TONE_DBFS} dBFS): {level:.1}"
    );
    assert!(
        tone.level_at(BEEP_HZ) < TONE_DBFS as f64 - 30.0,
        "the beep is not in the message: {}",
        tone.describe(&[BEEP_HZ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_subscribers_caller_leaves_a_message() {
    let sw = switch();
    let mut owner = Ua::registered(sw.sip, MAILBOX, PW).await;
    let o = &mut owner;
    // anchored (the caller looks to be behind NAT): the mailbox keeps the call's session
    let mut caller = call(&sw, MAILBOX, true, move || async move {
        let inv = o.expect_request(Method::Invite).await;
        o.reply(&inv, 486);
    })
    .await;
    leave(&mut caller, Duration::from_secs(3), true).await;
    let list = messages(&sw, MAILBOX, 1);
    assert_length(&list[0], 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_phone_registered_the_mailbox_answers_and_under_a_second_nothing_is_kept() {
    let sw = switch();
    // hung up half a second after the beep: nothing kept
    let mut caller = call(&sw, MAILBOX, false, || async {}).await;
    leave(&mut caller, Duration::from_millis(400), true).await;
    // then a real message
    let mut caller = call(&sw, MAILBOX, false, || async {}).await;
    leave(&mut caller, Duration::from_secs(3), true).await;
    let list = messages(&sw, MAILBOX, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list_after = messages(&sw, MAILBOX, 1);
    assert_eq!(
        list.len(),
        1,
        "only the second call left a message: {list:?}"
    );
    assert_eq!(list_after.len(), 1);
    assert_length(&list[0], 3.0);
    // one SMS: the short call told nobody anything
    let sms = wait_for_sms(&sw.data, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(common::sms_log(&sw.data).len(), sms.len());
    assert_eq!(sms.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_every_call_to_voicemail_answers_without_ringing_the_phone() {
    let sw = switch();
    let mut owner = Ua::registered(sw.sip, "1003", PW).await;
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1003/forwarding",
        &[("Authorization", &common::basic("1003", PW))],
        Some(r#"{"always": "voicemail"}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"always\":\"voicemail\""), "{body}");
    let mut caller = call(&sw, "1003", false, || async {}).await;
    leave(&mut caller, Duration::from_secs(2), true).await;
    let list = messages(&sw, "1003", 1);
    assert_length(&list[0], 2.0);
    assert!(
        owner
            .maybe_request(Method::Invite, Duration::from_millis(200))
            .await
            .is_none(),
        "the phone never rang"
    );
    // an extension has no phone to text
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(common::sms_log(&sw.data).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_says_so_and_hangs_up_without_a_beep() {
    let sw = media::switch("[voicemail]\nmax_messages = 1\n", &[CALLER, "1003"]);
    let mut caller = call(&sw, "1003", false, || async {}).await;
    leave(&mut caller, Duration::from_millis(1500), true).await;
    messages(&sw, "1003", 1);

    let mut caller = call(&sw, "1003", false, || async {}).await;
    let call_id = caller.call.call_id.clone();
    let bye = caller
        .ua
        .recv_where(PATIENCE + Duration::from_secs(15), move |m| {
            m.method() == Some(Method::Bye) && m.call_id() == Some(call_id.as_str())
        })
        .await
        .expect("the switch hangs up");
    caller.ua.reply(&bye, 200);
    let heard = caller.phone.audio();
    caller.phone.stop();
    assert!(
        heard.duration() >= Duration::from_secs(2) && heard.sounding(-50.0).level_dbfs() > -35.0,
        "the caller heard the greeting and that the mailbox is full: {}",
        heard.describe(&[BEEP_HZ])
    );
    assert_eq!(
        first_window_with(&heard, BEEP_HZ),
        None,
        "no beep: {}",
        heard.describe(&[BEEP_HZ])
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(messages(&sw, "1003", 1).len(), 1, "nothing more was kept");
}

/// A greeting the subscriber uploads over HTTP (a 660 Hz tone here, at 44.1 kHz: converted on
/// upload) is what the next caller hears before the beep, instead of the spoken default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_uploaded_over_http_is_what_the_next_caller_hears() {
    use common::voicemail::{request, tone_wav, Format};
    const GREETING_HZ: f32 = 660.0;
    let sw = switch();
    let wav = tone_wav(
        Format::int(44_100, 1, 16),
        2.0,
        GREETING_HZ as f64,
        TONE_DBFS as f64,
    );
    let path = format!("/v1/accounts/{MAILBOX}/voicemail/greetings/unavailable");
    let up = request(
        sw.http,
        "PUT",
        &path,
        &[("Authorization", &common::basic(MAILBOX, PW))],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(up.status, 200, "{}", up.text());

    // no phone registered: the unavailable greeting plays
    let mut caller = call(&sw, MAILBOX, false, || async {}).await;
    let greeting = caller.greeting_then_beep().await;
    // the uploaded greeting first (then the spoken instructions, as after any greeting)
    let step = Duration::from_millis(50);
    let mut tone = Duration::ZERO;
    while greeting.skip(tone).take(step).level_at(GREETING_HZ) >= TONE_DBFS as f64 - 6.0 {
        tone += step;
    }
    assert!(
        tone >= Duration::from_millis(1700) && tone <= Duration::from_millis(2100),
        "the two-second greeting is heard whole, from the start: {:?} of {}",
        tone,
        greeting.describe(&[GREETING_HZ])
    );
    let heard = greeting.take(tone);
    assert_eq!(
        heard.dominant_hz().map(|h| h.round()),
        Some(GREETING_HZ),
        "the uploaded greeting, not the spoken default: {}",
        heard.describe(&[GREETING_HZ])
    );
    let level = heard.level_at(GREETING_HZ);
    assert!(
        (level - TONE_DBFS as f64).abs() <= LEVEL_DB + 1.0,
        "at about the level uploaded ({TONE_DBFS} dBFS): {level:.1}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    caller.hang_up().await;
    assert_length(&messages(&sw, MAILBOX, 1)[0], 2.0);
}

/// SIGKILL while a caller is leaving a message: after the restart the message is there once,
/// with what was recorded up to at most a second before the kill, and its file is readable
/// and holds the caller's tone. A second restart changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_being_left_when_the_switch_is_killed_is_kept_once_and_readable() {
    let mut sw = switch();
    let caller = call(&sw, MAILBOX, false, || async {}).await;
    assert!(
        caller
            .phone
            .wait_heard(Duration::from_millis(1200), PATIENCE)
            .await,
        "the greeting plays"
    );
    caller.phone.send_digits("#");
    caller.greeting_then_beep().await;
    let recorded = Duration::from_millis(2500);
    tokio::time::sleep(recorded).await;
    sw.kill();
    drop(caller);
    sw.spawn();

    let list = messages(&sw, MAILBOX, 1);
    assert_eq!(list.len(), 1, "{list:?}");
    let m = &list[0];
    let ms = m["duration_ms"].as_u64().unwrap();
    assert!(
        (1400..=2700).contains(&ms),
        "all but at most the last second of 2.5 s: {m}"
    );
    let id = m["id"].as_u64().unwrap();
    assert_eq!(sw.stop(), Some(0));
    sw.spawn();
    let again = messages(&sw, MAILBOX, 1);
    assert_eq!(
        again.len(),
        1,
        "still once after another restart: {again:?}"
    );
    assert_eq!(again[0]["id"].as_u64(), Some(id));
    assert_eq!(sw.stop(), Some(0));

    let dir = sw.data.join("voicemail").join(MAILBOX);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wav") && !n.starts_with("greeting-"))
        .collect();
    assert_eq!(files, vec![format!("{id}.wav")], "one file, the message's");
    let audio = read_wav(&dir.join(format!("{id}.wav"))).unwrap();
    assert!(
        (audio.duration().as_millis() as u64).abs_diff(ms) < 30,
        "the file is as long as its record: {}",
        audio.describe(&[])
    );
    let tone = audio.sounding(-40.0);
    assert_eq!(
        tone.dominant_hz().map(|h| h.round()),
        Some(TONE_HZ),
        "{}",
        tone.describe(&[TONE_HZ])
    );
}
