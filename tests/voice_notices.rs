//! Text messages to landlines, read out by calls, end to end: a subscriber's MESSAGE to a
//! Seoul fixed line becomes a call through the PSTN trunk to a test gateway that answers and
//! hears the text spoken twice (real RTP, checked against espeak-ng's own rendering of the
//! same text), after which the switch hangs up and the message reads as delivered; a busy
//! gateway is called again and the retry delivers; calls that all fail (busy, then ringing
//! past the limit) leave the message failed with the cause; with `tts = "none"` the MESSAGE
//! leaves through the trunk as before.
//!
//! The speaking tests need espeak-ng (Debian: `apt-get install espeak-ng`); they are skipped
//! without it, except under `CI`, which installs it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::media::PW;
use common::rtp::{remote_of, RtpPhone};
use common::ua::Ua;
use common::{basic, fresh_ip, http, Options, Switch};
use switchboard_actors::prompts::speech::{EspeakNg, Speech};
use switchboard_engine::media::tone::block_dbfs;
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::{HeaderName, Message, Method};

const SENDER: &str = "+821011112222";
/// A Seoul number: a fixed line by the numbering plan, outside the switch's own range.
const LANDLINE: &str = "02-2123-4567";
const PCMU: &[Codec] = &[Codec::Pcmu];
/// A 20 ms frame louder than this counts as speech.
const SPEECH_DBFS: f64 = -45.0;

/// Whether espeak-ng runs here; under CI it must.
fn speaks() -> bool {
    match EspeakNg::new().check() {
        Ok(()) => true,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "espeak-ng in CI: {e}");
            eprintln!("skipped: espeak-ng is not installed ({e})");
            false
        }
    }
}

/// A switch whose PSTN trunk is a test gateway, speaking with espeak-ng (`tts`), with the
/// given retry settings; the sender's account made.
fn switch(tts: &str, retries: u32, ring_secs: u64) -> (Switch, SocketAddr) {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8210\"]\n\
             [voicemail]\ntts = \"{tts}\"\nnotice_retries = {retries}\nnotice_retry_secs = 1\n\
             notice_ring_secs = {ring_secs}\n\
             [[trunks]]\nname = \"gw\"\ngroup = \"pstn\"\naddress = \"{gw}\"\n\
             strip_plus = true\nno_response_secs = 3\n"
        ),
        ..Default::default()
    });
    sw.add_account(SENDER, PW);
    (sw, gw)
}

/// The sender texts the landline; the switch's answer.
async fn text_the_landline(sw: &Switch, text: &str) -> Message {
    let mut sender = Ua::registered(sw.sip, SENDER, PW).await;
    sender.text(LANDLINE, text).await
}

/// The message's outcome as its sender reads it.
fn status(sw: &Switch, id: &str) -> serde_json::Value {
    let (code, body) = http(
        sw.http,
        "GET",
        &format!("/v1/messages/{id}"),
        &[("Authorization", &basic(SENDER, PW))],
        None,
    );
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the message's state is `state`; its view then.
fn wait_for_state(sw: &Switch, id: &str, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = status(sw, id);
        if v["state"] == state {
            return v;
        }
        assert!(Instant::now() < deadline, "never {state}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The gateway answers the next INVITE with `phone`'s PCMU; the INVITE.
async fn answer(gw: &mut Ua, phone: &mut RtpPhone) -> Message {
    let invite = gw.expect_request(Method::Invite).await;
    answer_this(gw, phone, invite).await
}

/// The gateway answers `invite` with `phone`'s PCMU.
async fn answer_this(gw: &mut Ua, phone: &mut RtpPhone, invite: Message) -> Message {
    let offer = remote_of(invite.body(), PCMU).expect("the switch offers PCMU");
    let sdp = phone.sdp(PCMU, phone.local().ip());
    gw.reply_tagged(&invite, 180, "gw1", None);
    gw.reply_tagged(&invite, 200, "gw1", Some(("application/sdp", &sdp)));
    let ack = gw.expect_request(Method::Ack).await;
    assert_eq!(ack.call_id(), invite.call_id());
    // the line sends its own (quiet) audio back, as a line does
    phone.start_towards(&offer, 300.0);
    invite
}

/// Waits for the switch's BYE after the reading (up to `within`) and answers it.
async fn hung_up(gw: &mut Ua, invite: &Message, within: Duration) {
    let bye = gw
        .maybe_request(Method::Bye, within)
        .await
        .expect("the switch hangs up after reading");
    assert_eq!(bye.call_id(), invite.call_id());
    gw.reply(&bye, 200);
}

/// 20 ms frame levels of `samples` at `rate`: louder than `SPEECH_DBFS` or not.
fn loud_frames(samples: &[i16], rate: SampleRate) -> Vec<bool> {
    samples
        .chunks_exact(rate.frame_samples())
        .map(|f| block_dbfs(f) > SPEECH_DBFS)
        .collect()
}

/// First and last loud frame, and how many are loud.
fn speech_span(loud: &[bool]) -> (usize, usize, usize) {
    let first = loud.iter().position(|&l| l).expect("some speech");
    let last = loud.iter().rposition(|&l| l).unwrap();
    (first, last, loud.iter().filter(|&&l| l).count())
}

/// The longest run of quiet frames within `loud[from..=to]`: where it starts and how long.
fn longest_quiet(loud: &[bool], from: usize, to: usize) -> (usize, usize) {
    let (mut best, mut run_start, mut run) = ((0, 0), from, 0);
    for (i, &l) in loud.iter().enumerate().take(to + 1).skip(from) {
        if l {
            run = 0;
        } else {
            if run == 0 {
                run_start = i;
            }
            run += 1;
            if run > best.1 {
                best = (run_start, run);
            }
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_to_a_landline_is_read_out_twice_by_a_call_then_delivered() {
    if !speaks() {
        return;
    }
    let text = "The meeting moved to three o'clock, in the small room upstairs.";
    let (rate, reference) = EspeakNg::new().speak(text).unwrap();
    let ref_loud = loud_frames(&reference, rate);
    let (ref_first, ref_last, ref_count) = speech_span(&ref_loud);
    let spoken = Duration::from_secs_f64(reference.len() as f64 / rate.hz() as f64);

    let (sw, gw_addr) = switch("espeak-ng", 2, 20);
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let mut line = RtpPhone::bind(gw_addr.ip());
    let accepted = text_the_landline(&sw, text).await;
    assert_eq!(accepted.status(), Some(202), "{accepted:?}");
    let id = accepted
        .header_by_name("Message-ID")
        .expect("a Message-ID")
        .to_owned();
    let v = status(&sw, &id);
    assert_eq!(v["via"], "voice");
    assert_eq!(v["to"], "+82221234567");

    let invite = answer(&mut gw, &mut line).await;
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:82221234567@{gw_addr};user=phone").as_str()),
        "the trunk's number format"
    );
    let from = invite.from().unwrap();
    assert_eq!(from.uri().user(), Some(SENDER), "the sender's number calls");
    let answered_at = Instant::now();
    hung_up(&mut gw, &invite, spoken * 2 + Duration::from_secs(15)).await;
    let call_took = answered_at.elapsed();

    // what the line heard, frame by frame
    let heard = line
        .streams()
        .into_iter()
        .max_by_key(|s| s.audio.samples.len())
        .expect("audio from the switch")
        .audio;
    let heard_rate = heard.sample_rate();
    let loud = loud_frames(&heard.samples, heard_rate);
    let (first, last, count) = speech_span(&loud);
    let frame = 0.020;
    let span = (last + 1 - first) as f64 * frame;
    // from the first reading's first sound to the second one's last: the text once, the
    // pause, and the reference's own first-to-last sound once more
    let expected = spoken.as_secs_f64() + 1.0 + (ref_last + 1 - ref_first) as f64 * frame;
    assert!(
        (span - expected).abs() <= 0.3,
        "speech from first to last sound {span:.2} s, expected {expected:.2} s \
         (espeak-ng says the text in {:.2} s)",
        spoken.as_secs_f64()
    );
    // twice the reference's speech, give or take what the narrowband line loses
    let ratio = count as f64 / (2 * ref_count) as f64;
    assert!(
        (0.8..=1.2).contains(&ratio),
        "{count} loud frames heard against 2 x {ref_count} spoken"
    );
    // the two readings, each mostly sound, with the pause between them in the middle
    let (pause_at, pause_len) = longest_quiet(&loud, first, last);
    // the pause, with the quiet the reference has after its last sound and before its first
    let pause = pause_len as f64 * frame;
    let expected_pause =
        1.0 + spoken.as_secs_f64() - (ref_last + 1) as f64 * frame + ref_first as f64 * frame;
    assert!(
        (pause - expected_pause).abs() <= 0.2,
        "the longest quiet stretch is {pause:.2} s, expected {expected_pause:.2} s"
    );
    let middle = (first + last) / 2;
    assert!(
        pause_at <= middle && middle <= pause_at + pause_len + 10,
        "the pause ({pause_at}, {pause_len} frames) sits between the readings ({first}..{last})"
    );
    for (name, from, to) in [
        ("first", first, pause_at - 1),
        ("second", pause_at + pause_len, last),
    ] {
        let n = to + 1 - from;
        let sounding = loud[from..=to].iter().filter(|&&l| l).count();
        assert!(
            sounding * 10 >= n * 6,
            "{name} reading: {sounding} of {n} frames sound"
        );
        let level = block_dbfs(
            &heard.samples
                [from * heard_rate.frame_samples()..(to + 1) * heard_rate.frame_samples()],
        );
        assert!(level > -30.0, "{name} reading at {level:.1} dBFS");
    }
    // the switch hung up once the second reading was over, not before
    let played = 0.5 + 2.0 * spoken.as_secs_f64() + 1.0;
    let took = call_took.as_secs_f64();
    assert!(
        played - 0.3 <= took && took <= played + 2.5,
        "the call lasted {took:.1} s for {played:.1} s of audio"
    );

    let v = wait_for_state(&sw, &id, "delivered");
    assert_eq!(v["calls"], 1, "{v}");
    assert!(v.get("cause").is_none(), "{v}");
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_voice_notices_total{outcome=\"delivered\"}") == 1.0
    }));
    // nobody else reads it: the same 404 as for a message that does not exist
    sw.add_account("+821033334444", PW);
    let (code, _) = http(
        sw.http,
        "GET",
        &format!("/v1/messages/{id}"),
        &[("Authorization", &basic("+821033334444", PW))],
        None,
    );
    assert_eq!(code, 404);
    let forged = id.replacen('.', "0.", 1);
    let (code, _) = http(sw.http, "GET", &format!("/v1/messages/{forged}"), &[], None);
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_landline_is_called_again_and_the_retry_delivers() {
    if !speaks() {
        return;
    }
    let (sw, gw_addr) = switch("espeak-ng", 2, 20);
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let accepted = text_the_landline(&sw, "Call me back.").await;
    assert_eq!(accepted.status(), Some(202));
    let id = accepted.header_by_name("Message-ID").unwrap().to_owned();

    let first = gw.expect_request(Method::Invite).await;
    let busy_at = Instant::now();
    gw.reply(&first, 486);
    assert_eq!(
        gw.expect_request(Method::Ack).await.call_id(),
        first.call_id()
    );
    let v = wait_for_state(&sw, &id, "pending");
    assert!(v["calls"] == 1 || v["calls"] == 0, "{v}");

    let mut line = RtpPhone::bind(gw_addr.ip());
    let second = answer(&mut gw, &mut line).await;
    let waited = busy_at.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "called again {waited:?} after the busy line, not before notice_retry_secs"
    );
    assert_ne!(second.call_id(), first.call_id(), "each call its own");
    hung_up(&mut gw, &second, Duration::from_secs(20)).await;
    assert!(
        line.heard() > Duration::from_secs(1),
        "the retry was read out: {:?}",
        line.heard()
    );
    let v = wait_for_state(&sw, &id, "delivered");
    assert_eq!(v["calls"], 2, "{v}");
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_voice_notice_calls_total{outcome=\"busy\"}") == 1.0
            && sw.metric("switchboard_voice_notice_calls_total{outcome=\"delivered\"}") == 1.0
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_call_fails_the_message_fails_with_the_last_cause() {
    if !speaks() {
        return;
    }
    let (sw, gw_addr) = switch("espeak-ng", 1, 2);
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let accepted = text_the_landline(&sw, "Your parcel is at the front desk.").await;
    assert_eq!(accepted.status(), Some(202));
    let id = accepted.header_by_name("Message-ID").unwrap().to_owned();

    // busy first...
    let first = gw.expect_request(Method::Invite).await;
    gw.reply(&first, 486);
    gw.expect_request(Method::Ack).await;
    // ...then it rings past notice_ring_secs: the switch cancels
    let second = gw.expect_request(Method::Invite).await;
    let rung_at = Instant::now();
    gw.reply_tagged(&second, 180, "gw2", None);
    let cancel = gw
        .maybe_request(Method::Cancel, Duration::from_secs(10))
        .await
        .expect("cancelled at the ring limit");
    let rang = rung_at.elapsed();
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(4)).contains(&rang),
        "rang for {rang:?} against notice_ring_secs = 2"
    );
    gw.reply(&cancel, 200);
    gw.reply_tagged(&second, 487, "gw2", None);
    gw.expect_request(Method::Ack).await;

    let v = wait_for_state(&sw, &id, "failed");
    assert_eq!(v["cause"], "no_answer", "{v}");
    assert_eq!(v["code"], 487, "{v}");
    assert_eq!(v["calls"], 2, "{v}");
    assert!(
        gw.maybe_request(Method::Invite, Duration::from_millis(2500))
            .await
            .is_none(),
        "notice_retries = 1: two calls and no more"
    );
    assert_eq!(
        sw.metric("switchboard_voice_notices_total{outcome=\"no_answer\"}"),
        1.0
    );

    // a text too long to read out is refused at once
    let long = "word ".repeat(300);
    let r = text_the_landline(&sw, &long).await;
    assert_eq!(r.status(), Some(413), "{r:?}");
}

#[tokio::test]
async fn without_speech_a_text_to_a_landline_leaves_through_the_trunk_as_a_message() {
    let (sw, gw_addr) = switch("none", 2, 20);
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let mut sender = Ua::registered(sw.sip, SENDER, PW).await;
    let (r, m) = tokio::join!(sender.text(LANDLINE, "hello office"), async {
        let m = gw.expect_request(Method::Message).await;
        // a gateway that takes no text to a fixed line refuses it
        gw.reply(&m, 488);
        m
    });
    assert_eq!(m.body(), b"hello office");
    assert!(m.header(HeaderName::ProxyAuthorization).is_none());
    assert_eq!(
        r.status(),
        Some(488),
        "the gateway's answer is the sender's"
    );
    assert!(gw
        .maybe_request(Method::Invite, Duration::from_millis(500))
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_landline_of_ours_hears_its_notice_read_out_instead_of_an_sms() {
    if !speaks() {
        return;
    }
    let gw_addr = SocketAddr::new(fresh_ip(), 5080);
    let sw = Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8210\", \"+822\"]\n\
             [notify]\ncoalesce_ms = 200\nmin_interval_secs = 1\n\
             [voicemail]\ntts = \"espeak-ng\"\n\
             [[trunks]]\nname = \"gw\"\ngroup = \"pstn\"\naddress = \"{gw_addr}\"\n"
        ),
        ..Default::default()
    });
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let mut stranger = Ua::new(sw.sip, "stranger", "", common::ua::Proto::Udp).await;
    let stored = stranger
        .message(
            LANDLINE,
            Some("sip:+821099990000@elsewhere.example"),
            "text/plain",
            b"hello office",
        )
        .await;
    assert_eq!(
        stored.status(),
        Some(202),
        "queued for the number, as before"
    );

    let mut line = RtpPhone::bind(gw_addr.ip());
    let invite = answer(&mut gw, &mut line).await;
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:+82221234567@{gw_addr};user=phone").as_str())
    );
    hung_up(&mut gw, &invite, Duration::from_secs(40)).await;
    // "You have a message from plus 8 2 1 0 ...: hello office  Sign in with your number;
    // your password is 4 8 ..." twice: many seconds of speech
    let heard = line
        .streams()
        .into_iter()
        .map(|s| s.audio)
        .max_by_key(|a| a.samples.len());
    let heard = heard.expect("audio from the switch");
    let loud = loud_frames(&heard.samples, heard.sample_rate());
    let (_, _, count) = speech_span(&loud);
    assert!(
        count as f64 * 0.020 > 6.0,
        "{:.1} s of speech",
        count as f64 * 0.020
    );
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_notifications_total{outcome=\"voice\"}") == 1.0
            && sw.metric("switchboard_voice_notices_total{outcome=\"delivered\"}") == 1.0
    }));
    assert!(common::sms_log(&sw.data).is_empty(), "no SMS to a landline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_text_survives_a_crash_and_is_read_out_after_the_restart() {
    if !speaks() {
        return;
    }
    let (mut sw, gw_addr) = switch("espeak-ng", 2, 20);
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let accepted = text_the_landline(&sw, "Back at noon.").await;
    assert_eq!(accepted.status(), Some(202));
    let id = accepted.header_by_name("Message-ID").unwrap().to_owned();
    // the line rings; the switch dies before anyone answers
    let ringing = gw.expect_request(Method::Invite).await;
    gw.reply_tagged(&ringing, 180, "gw1", None);
    sw.kill();
    sw.spawn();
    let mut line = RtpPhone::bind(gw_addr.ip());
    let old = ringing.call_id().unwrap().to_owned();
    let again = gw
        .recv_where(Duration::from_secs(10), |m| {
            m.method() == Some(Method::Invite) && m.call_id() != Some(old.as_str())
        })
        .await
        .expect("called again after the restart");
    let invite = answer_this(&mut gw, &mut line, again).await;
    hung_up(&mut gw, &invite, Duration::from_secs(20)).await;
    let v = wait_for_state(&sw, &id, "delivered");
    assert_eq!(v["calls"], 1, "the call the crash cut is not counted: {v}");
}
