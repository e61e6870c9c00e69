//! What the voicemail thread (`mailbox::writer`) reports: the messages it is writing, its
//! polls (each drains every message's ring into its file), how long they took and how late
//! they began, the deepest ring it found, and the audio written and lost.
//!
//! Updated once per poll (50 a second while a message is being left) and once per message:
//! a few atomic updates, no lock.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The voicemail thread's metrics (`switchboard_voicemail_*`).
#[derive(Default)]
pub struct VoicemailMetrics {
    /// Messages being written.
    pub deposits_active: Gauge,
    /// Polls while any message was being written.
    pub polls: Counter,
    /// Of those, the ones begun more than a frame (20 ms) after they were due (20 ms after the
    /// previous one began): the thread was behind, mostly waiting for fsyncs (its rings still
    /// hold two seconds or more, so no audio is lost by it).
    pub late_polls: Counter,
    /// Time the thread spent in those polls, and the longest one so far (seconds).
    pub poll_busy: Counter<f64, AtomicU64>,
    pub poll_max: Gauge<f64, AtomicU64>,
    /// The most caller frames one message's ring held at a poll so far (1 or 2 when the
    /// thread keeps up).
    pub backlog_max_frames: Gauge,
    /// Caller frames (20 ms each) written into messages.
    pub frames: Counter,
    /// Frames lost to messages because their ring was full (the thread fell behind).
    pub frames_dropped: Counter,
}

impl VoicemailMetrics {
    /// Adds every metric to `r` (prefixed `switchboard_` by the registry).
    pub(super) fn register(&self, r: &mut Registry) {
        r.register(
            "voicemail_deposits_active",
            "Voice messages being written by the voicemail thread",
            self.deposits_active.clone(),
        );
        r.register(
            "voicemail_polls",
            "Polls of the voicemail thread (each drains every message's ring) while a message \
             was being left",
            self.polls.clone(),
        );
        r.register(
            "voicemail_late_polls",
            "Voicemail thread polls begun more than 40 ms after the previous one (20 ms late)",
            self.late_polls.clone(),
        );
        r.register(
            "voicemail_poll_busy_seconds",
            "Time the voicemail thread spent in its polls",
            self.poll_busy.clone(),
        );
        r.register(
            "voicemail_poll_max_seconds",
            "The longest poll of the voicemail thread so far",
            self.poll_max.clone(),
        );
        r.register(
            "voicemail_backlog_max_frames",
            "The most caller frames one message's ring held at a poll so far",
            self.backlog_max_frames.clone(),
        );
        r.register(
            "voicemail_frames",
            "Caller frames (20 ms) written into voice messages",
            self.frames.clone(),
        );
        r.register(
            "voicemail_frames_dropped",
            "Audio frames voice messages lost because the voicemail thread fell behind",
            self.frames_dropped.clone(),
        );
    }
}
