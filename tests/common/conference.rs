//! Conference participants for the end-to-end tests: a registered agent whose test phone
//! dials `conf-<name>` with real RTP and sends a tone once answered ([`Member`]), what it
//! hears checked by frequency and level ([`assert_mix`]), and the operator's conferences API
//! ([`api`]).

use std::time::{Duration, Instant};

use switchboard_engine::media::{Codec, SampleRate};
use switchboard_engine::sip::{Message, Method};

use super::audio::{Audio, LEVEL_DB, TONE_DBFS};
use super::media::{PATIENCE, PW};
use super::rtp::{remote_of, RtpPhone};
use super::ua::{Call, Ua};
use super::{http, Switch};

/// A participant: its agent, its phone, its call.
pub struct Member {
    pub who: &'static str,
    pub ua: Ua,
    pub phone: RtpPhone,
    pub call: Call,
}

impl Member {
    /// `who` dials conference `room` offering `codecs` and sends `hz` once answered (0 Hz:
    /// silence, in packets as usual).
    pub async fn dial(
        sw: &Switch,
        who: &'static str,
        room: &str,
        codecs: &[Codec],
        hz: f32,
    ) -> Member {
        let (mut m, ok) = Member::try_dial(sw, who, room, codecs).await;
        assert_eq!(ok.status(), Some(200), "{who} is answered: {ok:?}");
        let remote = remote_of(ok.body(), codecs).expect("the switch answers with its media");
        assert_eq!(remote.rtp.ip(), sw.sip.ip(), "on the switch's own address");
        assert_eq!(remote.codec, codecs[0], "in the codec the phone prefers");
        m.phone.start_towards(&remote, hz);
        m
    }

    /// `who` dials conference `room`: the member and the INVITE's final response, whatever
    /// it is (the phone sends nothing yet).
    pub async fn try_dial(
        sw: &Switch,
        who: &'static str,
        room: &str,
        codecs: &[Codec],
    ) -> (Member, Message) {
        let mut ua = Ua::registered(sw.sip, who, PW).await;
        let phone = RtpPhone::bind(ua.local.ip());
        let offer = phone.sdp(codecs, phone.local().ip());
        let mut call = ua.invite_sdp(&format!("conf-{room}"), &offer).await;
        let outcome = ua.invite_outcome(&mut call).await;
        let m = Member {
            who,
            ua,
            phone,
            call,
        };
        (m, outcome)
    }

    /// Listens afresh for `len`.
    pub fn listen(&self, len: Duration) -> Audio {
        self.phone.clear_received();
        assert!(
            self.phone.wait_heard_blocking(len, PATIENCE),
            "{} hears the conference",
            self.who
        );
        self.phone.audio()
    }

    /// Forgets what the phone heard and listens on past the first 200 ms, which
    /// [`RtpPhone::audio`] leaves out: what comes next is all heard.
    pub async fn fresh_ears(&self) {
        self.phone.clear_received();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Waits until some 100 ms of what the phone heard since it was last cleared holds `hz`
    /// as a tenth of its power or more (a short tone over the mix counts).
    pub async fn wait_for_tone(&self, hz: f32, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !sounds(&self.phone.audio(), hz) {
            assert!(
                Instant::now() < deadline,
                "{} hears {what} ({hz} Hz): {}",
                self.who,
                self.phone.audio().describe(&[hz])
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Hangs up (BYE, answered 200).
    pub async fn hang_up(&mut self) {
        let r = self.ua.request_in_dialog(&mut self.call, "BYE", None).await;
        assert_eq!(r.status(), Some(200), "{}'s BYE is answered", self.who);
        self.phone.stop();
    }

    /// The switch's BYE of this call within `wait`, answered 200.
    pub async fn bye(&mut self, wait: Duration) -> Option<Message> {
        let call_id = self.call.call_id.clone();
        let bye = self
            .ua
            .recv_where(wait, move |m| {
                m.method() == Some(Method::Bye) && m.call_id() == Some(call_id.as_str())
            })
            .await?;
        self.ua.reply(&bye, 200);
        Some(bye)
    }
}

/// Whether some 100 ms of `audio` holds `hz` clearly (`Audio::has`).
pub fn sounds(audio: &Audio, hz: f32) -> bool {
    let step = Duration::from_millis(100);
    let mut at = Duration::ZERO;
    while at + step <= audio.duration() {
        if audio.skip(at).take(step).has(hz) {
            return true;
        }
        at += step;
    }
    false
}

/// Asserts `audio` holds each of `present` at about the level it was sent, and `absent` at
/// least 30 dB below that.
pub fn assert_mix(who: &str, audio: &Audio, rate: SampleRate, present: &[f32], absent: &[f32]) {
    let all: Vec<f32> = present.iter().chain(absent).copied().collect();
    let what = audio.describe(&all);
    assert_eq!(audio.sample_rate(), rate, "{who} hears at {rate}: {what}");
    for &hz in present {
        let level = audio.level_at(hz);
        assert!(
            (level - TONE_DBFS as f64).abs() <= LEVEL_DB,
            "{who} hears {hz} Hz at {level:.1} dBFS, sent at {TONE_DBFS}: {what}"
        );
    }
    for &hz in absent {
        let level = audio.level_at(hz);
        assert!(
            level < TONE_DBFS as f64 - 30.0,
            "{who} must not hear {hz} Hz ({level:.1} dBFS): {what}"
        );
    }
}

/// `method path` with a JSON `body` on the switch's API as the operator (loopback, or the
/// bearer `token` when one is given): status and JSON (`null` for no or another body).
pub fn api(
    sw: &Switch,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    let (status, text) = http(sw.http, method, path, &headers, body);
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, json)
}
