//! A member's outside number verified by a call that reads the code, end to end: the member
//! claims a Seoul fixed line, asks for a code without saying how, and the switch calls the
//! line through its PSTN trunk (a test gateway on loopback) and reads the code twice, digit by
//! digit. The test line answers and listens; the code is read back from the audio by
//! rendering the spoken text with espeak-ng (clause by clause, so the text up to a digit
//! sounds exactly as the start of the whole text) for each candidate digit and keeping the
//! one whose sound matches what the line heard. The code so heard is keyed back over HTTP
//! and verifies the number, after which a call to the landline reaches the member; the text
//! with the code was never written to the data directory. A call
//! shares the claim's send limit with the SMS; an SMS to a fixed line, a call without speech
//! and an unknown channel are refused before any code is spent.
//!
//! The speaking test needs espeak-ng (Debian: `apt-get install espeak-ng`); it is skipped
//! without it, except under `CI`, which installs it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::rtp::{remote_of, RtpPhone};
use common::ua::Ua;
use common::{fresh_ip, http, wait_for_sms, Options, Switch};
use switchboard_actors::prompts::speech::{EspeakNg, Speech};
use switchboard_engine::media::resample::FrameResampler;
use switchboard_engine::media::tone::block_dbfs;
use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::members::spoken_code;
use switchboard_engine::messaging::voice::{LEAD_IN, PAUSE};
use switchboard_engine::sip::{Message, Method};

const PW: &str = "test-password";
/// A Seoul number: a fixed line by the numbering plan, outside the switch's own range.
const LANDLINE: &str = "02-2123-4567";
const LANDLINE_E164: &str = "+82221234567";
/// A mobile number the member also holds at another provider.
const MOBILE_E164: &str = "+821099998888";
const PCMU: &[Codec] = &[Codec::Pcmu];
/// A 20 ms frame louder than this counts as speech.
const SPEECH_DBFS: f64 = -45.0;
/// Digits of a code (`[members] code_digits`).
const DIGITS: usize = 6;

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

/// A switch whose PSTN trunk is a test gateway, speaking with `tts` (no mailboxes: a busy
/// phone is busy), with the code limits of a real one (a minute between codes to a number);
/// accounts 1001 and 1002.
fn switch(tts: &str) -> (Switch, SocketAddr) {
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = Switch::with(Options {
        config: format!(
            "[numbering]\nown_ranges = [\"+8211\"]\n\
             [accounts]\notp_per_number = 3\notp_min_interval_secs = 60\n\
             [voicemail]\nenabled = false\ntts = \"{tts}\"\nnotice_retries = 1\nnotice_retry_secs = 1\n\
             notice_ring_secs = 20\n\
             [[trunks]]\nname = \"gw\"\ngroup = \"pstn\"\naddress = \"{gw}\"\n\
             strip_plus = true\nno_response_secs = 3\n"
        ),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    (sw, gw)
}

fn post(sw: &Switch, path: &str, body: &str) -> (u16, serde_json::Value) {
    let (code, out) = http(sw.http, "POST", path, &[], Some(body));
    (code, serde_json::from_str(&out).unwrap_or_default())
}

/// A member owning 1001 who claims the landline and a mobile; its id.
fn member(sw: &Switch) -> String {
    let body = format!(
        r#"{{"name":"Park Jisoo","email":"jisoo@example.com","country":"KR","numbers":["1001"],
            "reachable_at":"{LANDLINE}","other_numbers":["{MOBILE_E164}"]}}"#
    );
    let (code, m) = post(sw, "/v1/members", &body);
    assert_eq!(code, 201, "{m}");
    m["id"].as_str().unwrap().to_owned()
}

/// The gateway answers `invite` with `phone`'s PCMU, and the line sends its own quiet audio.
async fn answer(gw: &mut Ua, phone: &mut RtpPhone, invite: &Message) {
    let offer = remote_of(invite.body(), PCMU).expect("the switch offers PCMU");
    let sdp = phone.sdp(PCMU, phone.local().ip());
    gw.reply_tagged(invite, 180, "line", None);
    gw.reply_tagged(invite, 200, "line", Some(("application/sdp", &sdp)));
    let ack = gw.expect_request(Method::Ack).await;
    assert_eq!(ack.call_id(), invite.call_id());
    phone.start_towards(&offer, 300.0);
}

/// What espeak-ng says for `text`, after the notice's lead-in, as the switch sends it to a
/// line at `rate`: through the same frame resampler, frame by frame from the start.
fn rendered(text: &str, rate: SampleRate) -> Vec<i16> {
    let (from, speech) = EspeakNg::new().speak(text).expect("espeak-ng speaks");
    let lead = LEAD_IN.as_millis() as usize * from.hz() as usize / 1000;
    let mut input = vec![0i16; lead];
    input.extend_from_slice(&speech);
    let (n_in, n_out) = (from.frame_samples(), rate.frame_samples());
    input.resize(input.len().div_ceil(n_in) * n_in, 0);
    let mut r = FrameResampler::new(from, rate);
    let mut out = vec![0i16; input.len() / n_in * n_out];
    for (i, frame) in input.chunks_exact(n_in).enumerate() {
        r.process(frame, &mut out[i * n_out..(i + 1) * n_out]);
    }
    out
}

/// How alike `heard[lag + j]` and `ours[j]` are over `j` in `from..to`: the cosine of the
/// two stretches (1: the same sound).
fn likeness(heard: &[i16], ours: &[i16], lag: isize, from: usize, to: usize) -> f64 {
    let (mut dot, mut hh, mut oo) = (0.0, 0.0, 0.0);
    for (j, &o) in ours.iter().enumerate().take(to).skip(from) {
        let k = j as isize + lag;
        let h = if k >= 0 && (k as usize) < heard.len() {
            f64::from(heard[k as usize])
        } else {
            0.0
        };
        let o = f64::from(o);
        dot += h * o;
        hh += h * h;
        oo += o * o;
    }
    if hh == 0.0 || oo == 0.0 {
        return 0.0;
    }
    dot / (hh * oo).sqrt()
}

/// The spoken text up to and including digit `i` (0-based) of `code` and the mark after it:
/// espeak-ng speaks clause by clause, so this is how the whole text starts.
fn text_through_digit(code: &str, i: usize) -> String {
    let text = spoken_code(code);
    let mut seen = 0;
    for (at, c) in text.char_indices() {
        if c.is_ascii_digit() {
            if seen == i {
                return text[..at + 2].to_owned();
            }
            seen += 1;
        }
    }
    panic!("{text:?} has no digit {i}");
}

/// Where `s` first sounds.
fn onset(s: &[i16]) -> Option<usize> {
    s.iter().position(|x| x.unsigned_abs() > 300)
}

/// The code a line heard: digit after digit, each candidate's rendering of the text up to it
/// is laid over the audio, and the one most like what was heard where the candidates differ
/// wins.
fn code_heard(heard: &[i16], rate: SampleRate) -> String {
    let (mut code, mut lag, mut done) = (String::new(), None::<isize>, 0usize);
    for i in 0..DIGITS {
        let renders: Vec<(char, Vec<i16>)> = ('0'..='9')
            .map(|d| {
                let mut candidate = format!("{code}{d}");
                while candidate.len() < DIGITS {
                    candidate.push('0');
                }
                (d, rendered(&text_through_digit(&candidate, i), rate))
            })
            .collect();
        if i == 0 {
            // the words before the first digit sound the same in every candidate: they say
            // where the reading starts in what was heard
            let first = &renders[0].1;
            done = (0..first.len())
                .find(|&j| renders.iter().any(|(_, r)| r.get(j) != first.get(j)))
                .unwrap_or(first.len());
            let ours = &first[..done];
            let guess = onset(heard).expect("the line heard speech") as isize
                - onset(ours).expect("the words before the code") as isize;
            lag = ((guess - 200)..=(guess + 200))
                .map(|l| (likeness(heard, ours, l, 0, done), l))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, l)| l);
        }
        let at = lag.expect("found with the first digit");
        let mut scores: Vec<(f64, char, isize, usize)> = renders
            .iter()
            .map(|(d, ours)| {
                let (score, l) = ((at - 4)..=(at + 4))
                    .map(|l| (likeness(heard, ours, l, done, ours.len()), l))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .expect("lags to try");
                (score, *d, l, ours.len())
            })
            .collect();
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (score, digit, l, len) = scores[0];
        assert!(
            // what the switch sent matches one candidate near exactly (μ-law noise aside)
            score > 0.9 && scores[1].0 < 0.6,
            "digit {i} is not clear: {:?}",
            &scores[..3]
        );
        code.push(digit);
        lag = Some(l);
        done = len;
    }
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_landline_gets_a_call_that_reads_the_code_and_the_code_heard_verifies_it() {
    if !speaks() {
        return;
    }
    let (mut sw, gw_addr) = switch("espeak-ng");
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let mut line = RtpPhone::bind(gw_addr.ip());
    let id = member(&sw);
    let verify = format!("/v1/members/{id}/numbers/{LANDLINE_E164}/verification");

    // no channel asked: a fixed line gets a call
    let (code, sent) = post(&sw, &verify, "");
    assert_eq!(code, 202, "{sent}");
    assert_eq!(sent["channel"], "call", "{sent}");
    assert_eq!(sent["number"], LANDLINE_E164);
    // a call counts toward the claim's sends like an SMS
    let (code, e) = post(&sw, &verify, r#"{"channel":"call"}"#);
    assert_eq!(
        (code, e["code"].as_str()),
        (429, Some("too_many_codes")),
        "{e}"
    );

    let invite = gw.expect_request(Method::Invite).await;
    assert_eq!(
        invite.request_uri_str(),
        Some(format!("sip:82221234567@{gw_addr};user=phone").as_str()),
        "through the PSTN trunk, in its number format"
    );
    // timed from before the answer: under load the test's own handling of the ACK can come
    // late, and the reading starts at the switch's answer, not at the test's
    let answered = Instant::now();
    answer(&mut gw, &mut line, &invite).await;
    let bye = gw
        .maybe_request(Method::Bye, Duration::from_secs(30))
        .await
        .expect("the switch hangs up after reading");
    assert_eq!(bye.call_id(), invite.call_id());
    gw.reply(&bye, 200);
    let took = answered.elapsed();

    let heard = line
        .streams()
        .into_iter()
        .max_by_key(|s| s.audio.samples.len())
        .expect("audio from the switch")
        .audio;
    let rate = heard.sample_rate();
    let samples = heard.samples;

    // the code, as heard (checked against the switch below)
    let code = code_heard(&samples, rate);

    // what was heard: speech, as loud as speech, for as long as the text said twice. The
    // length is that of this code's digits: "zero" and "seven" take longer to say than
    // "one" or "six", by up to a second over two readings of six digits
    let (from, speech) = EspeakNg::new().speak(&spoken_code(&code)).unwrap();
    let once = speech.len() as f64 / f64::from(from.hz());
    let played = (LEAD_IN + PAUSE).as_secs_f64() + 2.0 * once;
    // read twice, then hung up (one reading would end near half of `played`)
    assert!(
        (played - 1.0..played + 3.0).contains(&took.as_secs_f64()),
        "the call lasted {took:?} for about {played:.1} s of reading {code}"
    );
    let loud: Vec<f64> = samples
        .chunks_exact(rate.frame_samples())
        .map(block_dbfs)
        .filter(|&l| l > SPEECH_DBFS)
        .collect();
    let loud_secs = loud.len() as f64 * 0.020;
    assert!(
        (once * 0.8..=played).contains(&loud_secs),
        "{loud_secs:.1} s of speech heard, the text takes {once:.1} s to say"
    );
    let level = block_dbfs(&samples);
    assert!(level > -35.0, "the reading at {level:.1} dBFS");

    // the code, as heard, verifies the number
    let (status, v) = post(
        &sw,
        &format!("{verify}/confirm"),
        &format!(r#"{{"code":"{code}"}}"#),
    );
    assert_eq!(
        (status, v["verified"].as_bool()),
        (200, Some(true)),
        "{code}: {v}"
    );

    // and a call to the landline now reaches the member's phone
    let mut member_phone = Ua::registered(sw.sip, "1001", PW).await;
    let mut caller = Ua::registered(sw.sip, "1002", PW).await;
    let mut call = caller.invite(LANDLINE_E164).await;
    let inv = member_phone.expect_request(Method::Invite).await;
    member_phone.reply(&inv, 486);
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    assert!(
        gw.maybe_request(Method::Invite, Duration::from_millis(300))
            .await
            .is_none(),
        "the landline itself is not called again"
    );
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_voice_notices_total{outcome=\"delivered\"}") == 1.0
    }));

    // the text with the code was never written: nothing in the data directory holds it
    assert_eq!(sw.stop(), Some(0));
    let said = spoken_code(&code);
    let mut dirs = vec![sw.data.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(said.len()).any(|w| w == said.as_bytes()),
                "{} holds the code's text",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_channel_that_cannot_reach_the_number_is_refused_before_a_code_is_spent() {
    let (sw, gw_addr) = switch("none");
    let mut gw = Ua::at(sw.sip, gw_addr, "gw").await;
    let id = member(&sw);
    let landline = format!("/v1/members/{id}/numbers/{LANDLINE_E164}/verification");
    let mobile = format!("/v1/members/{id}/numbers/{MOBILE_E164}/verification");

    let (code, e) = post(&sw, &landline, r#"{"channel":"sms"}"#);
    assert_eq!(
        (code, e["code"].as_str()),
        (422, Some("cannot_text")),
        "{e}"
    );
    let (code, e) = post(&sw, &landline, "{}");
    assert_eq!(
        (code, e["code"].as_str()),
        (422, Some("no_speech")),
        "a fixed line needs a call, and this switch cannot speak: {e}"
    );
    let (code, e) = post(&sw, &mobile, r#"{"channel":"fax"}"#);
    assert_eq!(
        (code, e["code"].as_str()),
        (400, Some("bad_channel")),
        "{e}"
    );
    let (code, e) = post(&sw, &mobile, r#"{"channel":"sms","extra":1}"#);
    assert_eq!((code, e["code"].as_str()), (400, Some("bad_json")), "{e}");

    // none of that spent a send: a mobile gets its SMS at once, by default
    let (code, sent) = post(&sw, &mobile, "{}");
    assert_eq!(
        (code, sent["channel"].as_str()),
        (202, Some("sms")),
        "{sent}"
    );
    let sms = wait_for_sms(&sw.data, 1);
    assert_eq!(sms[0]["to"], MOBILE_E164);
    let (code, e) = post(&sw, &mobile, r#"{"channel":"sms"}"#);
    assert_eq!(
        (code, e["code"].as_str()),
        (429, Some("too_many_codes")),
        "{e}"
    );
    assert!(
        gw.maybe_request(Method::Invite, Duration::from_millis(500))
            .await
            .is_none(),
        "nothing was called"
    );
}
