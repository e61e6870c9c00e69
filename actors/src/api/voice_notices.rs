//! What the VoiceNotices actor takes: text messages to landlines to keep and read out, and
//! what each of their calls came to; and the call a CallLeg places for one of them.

use std::sync::Arc;
use std::time::Duration;

use actix::{Message, Recipient};
use switchboard_engine::media::SampleRate;
use switchboard_engine::messaging::voice::AttemptResult;
use switchboard_engine::messaging::Refusal;
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;

/// A text message routing sent to the PSTN group for a landline: keep it, answer with its
/// Message-ID once it is on disk (or the refusal), then read it out by calls through `group`.
/// A `secret` text (a verification code) is never written: it is answered at once and read
/// out from memory, and a restart drops it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReadOut {
    pub to: Aor,
    pub group: String,
    /// The sender for people: a canonical number or a SIP URI.
    pub sender: String,
    pub text: String,
    pub secret: bool,
    pub reply: oneshot::Sender<Result<String, Refusal>>,
}

/// Call number `attempt` of notice `seq` ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttemptEnded {
    pub seq: u64,
    pub attempt: u32,
    pub result: AttemptResult,
}

/// One call of a notice, for the CallLeg that places it.
pub struct NoticeCallSpec {
    pub seq: u64,
    pub attempt: u32,
    /// The landline.
    pub to: Aor,
    /// The trunk group the call goes through.
    pub group: String,
    /// Who the landline sees calling: a name-addr without a tag.
    pub from: String,
    /// What is played once the call is answered (`messaging::voice::read_twice`).
    pub audio: Arc<[i16]>,
    pub rate: SampleRate,
    /// How long the landline may ring.
    pub ring: Duration,
    /// Where the call's result goes.
    pub report: Recipient<AttemptEnded>,
}

/// Where text messages to landlines go.
#[derive(Clone)]
pub struct VoiceNoticesHandle {
    pub read_out: Recipient<ReadOut>,
}
