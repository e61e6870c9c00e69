//! A prepaid caller without credit hears why before the refusal: the switch answers the
//! off-net INVITE with 183 Session Progress and its own SDP, speaks the credit prompt as early
//! media, then answers 402 with the same To tag; nothing reaches the trunk. Checked as a
//! listener would: what the test phone heard follows the prompt's loudness from syllable to
//! syllable (the level envelope of the clip shipped with the switch, frame by frame), at the
//! clip's level, and not the phone's own tone. A caller that hangs up during the prompt gets
//! 487 and the prompt stops.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::audio::{read_wav, Audio};
use common::media::{self, PATIENCE, PW};
use common::rtp::{remote_of, RtpPhone};
use common::ua::{Call, Ua};
use common::{fresh_ip, http, Switch, TempDir};
use switchboard_engine::media::Codec;
use switchboard_engine::sip::Message;

const PCMU: &[Codec] = &[Codec::Pcmu];
const DESTINATION: &str = "+12125551234";
/// The phone's own voice, which must not come back.
const OWN_HZ: f32 = 1000.0;
/// Frames of the level envelope.
const FRAME: Duration = Duration::from_millis(20);

/// A switch rating calls to +1 212 and sending them to a trunk at `gateway`, with subscriber
/// 1001 prepaid at a zero balance.
fn prepaid_without_credit(tariffs: &Path, gateway: SocketAddr) -> Switch {
    std::fs::create_dir_all(tariffs).unwrap();
    std::fs::write(
        tariffs.join("default.csv"),
        "prefix,per_minute,connection,first,next,currency,description\n\
         1212,60,5,1,1,EUR,New York\n",
    )
    .unwrap();
    let sw = media::switch(
        &format!(
            "[numbering]\nown_ranges = [\"+8211\"]\n[tariffs]\ndir = \"{}\"\n\
             [[trunks]]\nname = \"gw\"\ngroup = \"pstn\"\naddress = \"{gateway}\"\n",
            tariffs.display()
        ),
        &["1001"],
    );
    let (status, body) = http(
        sw.http,
        "PUT",
        "/v1/billing/1001",
        &[],
        Some(r#"{"mode":"prepaid","currency":"EUR"}"#),
    );
    assert_eq!(status, 200, "{body}");
    sw
}

/// The level of each 20 ms frame, in dB (silence floored at -90).
fn envelope(a: &Audio) -> Vec<f64> {
    let n = (a.sample_rate().hz() as usize) * FRAME.as_millis() as usize / 1000;
    a.samples
        .chunks_exact(n)
        .map(|c| {
            let power = c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / n as f64;
            (10.0 * (power / (32768.0f64).powi(2)).log10()).max(-90.0)
        })
        .collect()
}

/// Pearson correlation of two series of the same length.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    ab / (aa * bb).sqrt()
}

/// The best correlation of `heard`'s envelope with `clip`'s, over alignments of up to 1 s
/// (the stream's start, jitter).
fn best_match(heard: &[f64], clip: &[f64]) -> f64 {
    (0..=50)
        .filter(|&lag| heard.len() >= lag + clip.len())
        .map(|lag| correlation(&heard[lag..lag + clip.len()], clip))
        .fold(f64::MIN, f64::max)
}

/// The credit prompt as the switch ships it (16 kHz), and its length.
fn credit_prompt() -> (Audio, Duration) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/prompts/en/credit-low.wav");
    let clip = read_wav(&path).expect("the prompt set holds credit-low.wav");
    let length = clip.duration();
    (clip, length)
}

/// Starts the call; the 183 with the switch's SDP and when it came.
async fn refused_call(sw: &Switch, ua: &mut Ua, phone: &mut RtpPhone) -> (Call, Message, Instant) {
    let offer = phone.sdp(PCMU, phone.local().ip());
    let call = ua.invite_sdp(DESTINATION, &offer).await;
    let early = ua
        .recv_where(PATIENCE, |m| {
            m.status() == Some(183) && m.call_id() == Some(call.call_id.as_str())
        })
        .await
        .expect("a 183 with the announcement");
    let at = Instant::now();
    let switch_media = remote_of(early.body(), PCMU).unwrap_or_else(|| {
        panic!(
            "the 183 carries the switch's SDP: {}",
            String::from_utf8_lossy(early.body())
        )
    });
    assert_eq!(
        switch_media.rtp.ip(),
        sw.sip.ip(),
        "on the switch's media address"
    );
    assert!(early.to_tag().is_some(), "an early dialog: {early:?}");
    phone.start_towards(&switch_media, OWN_HZ);
    (call, early, at)
}

#[tokio::test]
async fn a_caller_without_credit_hears_the_prompt_then_402_and_the_trunk_hears_nothing() {
    let tariffs = TempDir::new("announce-tariffs");
    let trunk = UdpSocket::bind(SocketAddr::new(fresh_ip(), 5080)).unwrap();
    let sw = prepaid_without_credit(&tariffs.0, trunk.local_addr().unwrap());
    let (clip, length) = credit_prompt();
    let mut ua = Ua::registered(sw.sip, "1001", PW).await;
    let mut phone = RtpPhone::bind(ua.local.ip());

    let (_, early, early_at) = refused_call(&sw, &mut ua, &mut phone).await;
    let refusal = ua.final_response(early.call_id().unwrap(), "INVITE").await;
    let after = early_at.elapsed();
    phone.stop();
    assert_eq!(
        (refusal.status(), refusal.reason()),
        (Some(402), Some("Insufficient Credit"))
    );
    assert_eq!(
        refusal.to_tag(),
        early.to_tag(),
        "the 402 ends the early dialog"
    );
    assert!(
        after + Duration::from_millis(200) >= length && after <= length + Duration::from_secs(3),
        "the 402 comes once the {length:?} prompt played, {after:?} after the 183"
    );

    // what the phone heard: the prompt, syllable by syllable, at its level
    let heard = phone
        .streams()
        .into_iter()
        .max_by_key(|s| s.audio.samples.len())
        .map(|s| s.audio)
        .unwrap_or_default();
    let heard_env = envelope(&heard);
    let clip_env = envelope(&clip);
    let fit = best_match(&heard_env, &clip_env);
    let what = format!(
        "heard {:?} at {:.1} dBFS (clip {length:?} at {:.1} dBFS); envelope fit {fit:.2}; {}",
        heard.duration(),
        heard.level_dbfs(),
        clip.level_dbfs(),
        heard.describe(&[OWN_HZ])
    );
    eprintln!("{what}");
    assert!(
        heard.duration() + Duration::from_millis(300) >= length,
        "the whole prompt: {what}"
    );
    assert!(fit >= 0.8, "the loudness follows the prompt's: {what}");
    assert!(
        (heard.level_dbfs() - clip.level_dbfs()).abs() <= 3.0,
        "at the prompt's level: {what}"
    );
    assert!(
        !heard.has(OWN_HZ),
        "the phone's own voice came back: {what}"
    );

    // nothing left the switch, and the record says why
    trunk.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        trunk.recv_from(&mut buf).is_err(),
        "the trunk got a request"
    );
    let mut rec = serde_json::Value::Null;
    assert!(common::eventually(Duration::from_secs(5), || {
        let (_, body) = http(sw.http, "GET", "/v1/cdrs?format=jsonl", &[], None);
        rec = body
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .next()
            .unwrap_or_default();
        !rec.is_null()
    }));
    assert_eq!(rec["cause"], 402, "{rec}");
    assert!(rec["trunk"].is_null(), "{rec}");
}

#[tokio::test]
async fn a_caller_who_hangs_up_during_the_prompt_gets_487_and_the_prompt_stops() {
    let tariffs = TempDir::new("announce-cancel-tariffs");
    let trunk = UdpSocket::bind(SocketAddr::new(fresh_ip(), 5080)).unwrap();
    let sw = prepaid_without_credit(&tariffs.0, trunk.local_addr().unwrap());
    let (_, length) = credit_prompt();
    let mut ua = Ua::registered(sw.sip, "1001", PW).await;
    let mut phone = RtpPhone::bind(ua.local.ip());

    let (call, early, _) = refused_call(&sw, &mut ua, &mut phone).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let call_id = early.call_id().unwrap().to_owned();
    ua.cancel(&call);
    let end = ua.final_response(&call_id, "INVITE").await;
    assert_eq!(end.status(), Some(487), "{end:?}");
    let packets = |p: &RtpPhone| p.streams().iter().map(|s| s.packets).sum::<u64>();
    // the last packets in flight arrive, then nothing more
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = packets(&phone);
    assert!(settled > 0, "the prompt played before the CANCEL");
    tokio::time::sleep(length).await;
    let later = packets(&phone);
    phone.stop();
    assert_eq!(later, settled, "the prompt went on after the CANCEL");
}
