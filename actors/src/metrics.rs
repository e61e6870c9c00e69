//! Prometheus metrics: registrations, calls, SIP traffic by method and status code.
//!
//! Counters are lock-free atomics; families take a read lock only to find an existing label
//! set. `/metrics` renders the OpenMetrics text format through `prometheus-client`.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

mod labels;
mod voicemail;
mod workers;

pub use labels::*;
pub use voicemail::VoicemailMetrics;
pub use workers::{WorkerLabel, WorkerMetrics};

/// Every metric of the switch.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests_received: Family<MethodLabel, Counter>,
    pub responses_received: Family<CodeLabel, Counter>,
    pub responses_sent: Family<CodeLabel, Counter>,
    /// Stored registrar bindings (contacts).
    pub registrations: Gauge,
    pub register_requests: Family<OutcomeLabel, Counter>,
    pub active_calls: Gauge,
    pub calls: Family<OutcomeLabel, Counter>,
    pub extensions_active: Gauge,
    /// Subscriptions (Subscription actors: presence, message-summary) alive.
    pub subscriptions: Gauge,
    /// NOTIFY requests sent (first transmissions), in subscriptions and unsolicited.
    pub notifies: Counter,
    pub tcp_connections: Gauge,
    /// TLS handshakes completed on accepted connections.
    pub tls_handshakes: Counter,
    pub drops: Family<ReasonLabel, Counter>,
    pub call_failures: Counter,
    /// The routing plugin version new calls start on.
    pub plugin_version: Gauge,
    pub plugin_reloads: Family<OutcomeLabel, Counter>,
    pub plugin_failures: Family<KindLabel, Counter>,
    /// Requests routed, by the plugin version that routed them.
    pub plugin_routed: Family<VersionLabel, Counter>,
    /// Forwarding hops taken by calls and messages, by reason.
    pub forwards: Family<KindLabel, Counter>,
    /// Trunk attempts by trunk name and outcome.
    pub trunk_attempts: Family<TrunkLabel, Counter>,
    /// Messages waiting in the durable queues.
    pub messages_queued: Gauge,
    /// MESSAGE requests by outcome: delivered (online), stored, refused, too_large ...
    pub messages: Family<OutcomeLabel, Counter>,
    /// Queued messages leaving their queue: delivered, refused (by every device), expired.
    pub queue_removals: Family<OutcomeLabel, Counter>,
    /// Group commits of the queue writer and the messages they carried.
    pub queue_commits: Counter,
    pub queue_committed: Counter,
    /// Unclaimed dynamic accounts.
    pub dynamic_accounts: Gauge,
    /// Notices (SMS, or voice for landlines) by outcome.
    pub notifications: Family<OutcomeLabel, Counter>,
    /// Text messages read out to landlines, by how they ended: delivered, or the cause of the
    /// failure (busy, no_answer, hung_up, rejected, trunk_failed, not_spoken, unplaceable).
    pub voice_notices: Family<OutcomeLabel, Counter>,
    /// The calls of those notices, by result (the same names).
    pub voice_notice_calls: Family<OutcomeLabel, Counter>,
    /// Chat room posts by outcome: posted, not_member, rate_limited, no_room, store_failed.
    pub room_posts: Family<OutcomeLabel, Counter>,
    /// Room changes written by the queue writer, by outcome (and copies skipped).
    pub room_commits: Family<OutcomeLabel, Counter>,
    /// ChatRoom actors running.
    pub rooms_active: Gauge,
    /// Recordings being written.
    pub recordings_active: Gauge,
    /// Recordings by outcome: finished, recovered (at start-up), deleted, failed.
    pub recordings: Family<OutcomeLabel, Counter>,
    /// Frames lost to recordings because the recorder fell two seconds behind.
    pub recording_frames_dropped: Counter,
    /// RTP and RTCP packets forwarded in place by the media threads.
    pub media_relayed: Counter,
    /// Packets the frame path (transcoding, sources, DTMF) sent.
    pub media_frame_packets: Counter,
    /// Media packets not sent on, by reason.
    pub media_dropped: Family<ReasonLabel, Counter>,
    /// Media sessions open.
    pub media_sessions: Gauge,
    /// Calls whose media the switch anchored.
    pub anchored_calls: Counter,
    /// Calls the switch ended because their media died (no RTP for media.timeout_secs).
    pub media_timeouts: Counter,
    /// RTP port pairs free in the configured range.
    pub media_ports_free: Gauge,
    /// Per media thread, the fraction of the last second it was busy (between `epoll_wait`
    /// returns and its next waits), and the sessions it has open; published once a second.
    pub media_thread_busy: Family<ThreadLabel, Gauge<f64, AtomicU64>>,
    pub media_thread_sessions: Family<ThreadLabel, Gauge>,
    /// Per media thread and codec, over the open sessions' input jitter buffers (the frame
    /// path: conference participants, transcoded legs), published once a second: the
    /// highest and the mean target delay (seconds), and the ticks they grew and the frames
    /// they skipped to shrink, summed.
    pub media_jitter_target_max: Family<JitterLabel, Gauge<f64, AtomicU64>>,
    pub media_jitter_target_mean: Family<JitterLabel, Gauge<f64, AtomicU64>>,
    /// The mean buffering delay of those buffers (seconds).
    pub media_jitter_delay_mean: Family<JitterLabel, Gauge<f64, AtomicU64>>,
    pub media_jitter_grown: Family<JitterLabel, Gauge>,
    pub media_jitter_shrunk: Family<JitterLabel, Gauge>,
    /// Conferences with a running bridge.
    pub conferences_active: Gauge,
    /// Participants on the mixer thread.
    pub conference_participants: Gauge,
    /// Ticks of the mixer thread (20 ms each while anyone is in a conference).
    pub conference_ticks: Counter,
    /// Time the mixer thread spent in its ticks, and the longest tick so far (seconds).
    pub conference_tick_busy: Counter<f64, AtomicU64>,
    pub conference_tick_max: Gauge<f64, AtomicU64>,
    /// Ticks that began more than half a frame (10 ms) after their time.
    pub conference_late_ticks: Counter,
    /// Participants' voice frames not waiting at their mixer tick (their media thread's
    /// frame tick came late, or the session had not started its frames yet).
    pub conference_voice_missing: Counter,
    /// Bridge commands that failed and were undone from the bridge's snapshot.
    pub conference_restarts: Counter,
    /// Session deadlines the media threads ran (20 ms frame ticks, DTMF, media timeouts).
    pub media_ticks: Counter,
    /// Of those, the ones run more than a frame (20 ms) after they were due: the thread was
    /// behind, and a transcoded frame left late.
    pub media_late_ticks: Counter,
    /// ICMP errors (the peer's port closed, its host unreachable) that connected media
    /// sockets reported on a send or receive, taken and passed over.
    pub media_icmp_errors: Counter,
    /// The voicemail thread: messages being written, its polls, backlog and lost audio.
    pub voicemail: VoicemailMetrics,
    /// The signalling workers' reads.
    pub workers: WorkerMetrics,
    /// Bans made, by reason (bad_digest, unauthenticated, unknown_number, scanner, malformed,
    /// flood).
    pub bans: Family<ReasonLabel, Counter>,
    /// Sources banned now.
    pub banned_sources: Gauge,
    /// Requests refused by an abuse limit, by limit (unregistered_source,
    /// unregistered_number, otp, dynamic_source).
    pub abuse_refusals: Family<LimitLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("switchboard")),
            bans: Family::default(),
            banned_sources: Gauge::default(),
            abuse_refusals: Family::default(),
            requests_received: Family::default(),
            responses_received: Family::default(),
            responses_sent: Family::default(),
            registrations: Gauge::default(),
            register_requests: Family::default(),
            active_calls: Gauge::default(),
            calls: Family::default(),
            extensions_active: Gauge::default(),
            subscriptions: Gauge::default(),
            notifies: Counter::default(),
            tcp_connections: Gauge::default(),
            tls_handshakes: Counter::default(),
            drops: Family::default(),
            call_failures: Counter::default(),
            plugin_version: Gauge::default(),
            plugin_reloads: Family::default(),
            plugin_failures: Family::default(),
            plugin_routed: Family::default(),
            forwards: Family::default(),
            trunk_attempts: Family::default(),
            messages_queued: Gauge::default(),
            messages: Family::default(),
            queue_removals: Family::default(),
            queue_commits: Counter::default(),
            queue_committed: Counter::default(),
            dynamic_accounts: Gauge::default(),
            notifications: Family::default(),
            voice_notices: Family::default(),
            voice_notice_calls: Family::default(),
            room_posts: Family::default(),
            room_commits: Family::default(),
            rooms_active: Gauge::default(),
            recordings_active: Gauge::default(),
            recordings: Family::default(),
            recording_frames_dropped: Counter::default(),
            media_relayed: Counter::default(),
            media_frame_packets: Counter::default(),
            media_dropped: Family::default(),
            media_sessions: Gauge::default(),
            anchored_calls: Counter::default(),
            media_timeouts: Counter::default(),
            media_ports_free: Gauge::default(),
            media_thread_busy: Family::default(),
            media_thread_sessions: Family::default(),
            media_jitter_target_max: Family::default(),
            media_jitter_target_mean: Family::default(),
            media_jitter_delay_mean: Family::default(),
            media_jitter_grown: Family::default(),
            media_jitter_shrunk: Family::default(),
            conferences_active: Gauge::default(),
            conference_participants: Gauge::default(),
            conference_ticks: Counter::default(),
            conference_tick_busy: Counter::default(),
            conference_tick_max: Gauge::default(),
            conference_late_ticks: Counter::default(),
            conference_voice_missing: Counter::default(),
            conference_restarts: Counter::default(),
            media_ticks: Counter::default(),
            media_late_ticks: Counter::default(),
            media_icmp_errors: Counter::default(),
            voicemail: VoicemailMetrics::default(),
            workers: WorkerMetrics::default(),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "sip_requests_received",
                "SIP requests received, by method",
                m.requests_received.clone(),
            );
            r.register(
                "sip_responses_received",
                "SIP responses received, by status code",
                m.responses_received.clone(),
            );
            r.register(
                "sip_responses_sent",
                "SIP responses sent, by status code",
                m.responses_sent.clone(),
            );
            r.register(
                "media_relayed_packets",
                "RTP and RTCP packets the media threads forwarded in place",
                m.media_relayed.clone(),
            );
            r.register(
                "media_frame_packets",
                "Packets the media frame path sent (transcoded audio, tones, DTMF)",
                m.media_frame_packets.clone(),
            );
            r.register(
                "media_dropped_packets",
                "Media packets not sent on, by reason",
                m.media_dropped.clone(),
            );
            r.register(
                "media_sessions",
                "Anchored media sessions open",
                m.media_sessions.clone(),
            );
            r.register(
                "media_ports_free",
                "RTP port pairs free in the media port range",
                m.media_ports_free.clone(),
            );
            r.register(
                "media_thread_busy",
                "Fraction of the last second each media thread was busy (not waiting for packets)",
                m.media_thread_busy.clone(),
            );
            r.register(
                "media_thread_sessions",
                "Media sessions open on each media thread",
                m.media_thread_sessions.clone(),
            );
            r.register(
                "media_jitter_target_max_seconds",
                "Highest target delay of the input jitter buffers open on each media thread, by codec",
                m.media_jitter_target_max.clone(),
            );
            r.register(
                "media_jitter_target_mean_seconds",
                "Mean target delay of the input jitter buffers open on each media thread, by codec",
                m.media_jitter_target_mean.clone(),
            );
            r.register(
                "media_jitter_delay_mean_seconds",
                "Mean buffering delay of the input jitter buffers open on each media thread, by codec",
                m.media_jitter_delay_mean.clone(),
            );
            r.register(
                "media_jitter_grown_ticks",
                "Ticks the open input jitter buffers played no frame (the delay grew), summed, by codec",
                m.media_jitter_grown.clone(),
            );
            r.register(
                "media_jitter_shrunk_frames",
                "Frames the open input jitter buffers skipped to shrink their delay, summed, by codec",
                m.media_jitter_shrunk.clone(),
            );
            r.register(
                "conferences_active",
                "Conferences with a running bridge",
                m.conferences_active.clone(),
            );
            r.register(
                "conference_participants",
                "Participants on the mixer thread",
                m.conference_participants.clone(),
            );
            r.register(
                "conference_mixer_ticks",
                "Ticks of the conference mixer thread (20 ms each while anyone is in a conference)",
                m.conference_ticks.clone(),
            );
            r.register(
                "conference_mixer_busy_seconds",
                "Time the conference mixer thread spent in its ticks",
                m.conference_tick_busy.clone(),
            );
            r.register(
                "conference_mixer_tick_max_seconds",
                "The longest tick of the conference mixer thread so far",
                m.conference_tick_max.clone(),
            );
            r.register(
                "conference_mixer_late_ticks",
                "Mixer ticks that began more than half a frame (10 ms) after their time",
                m.conference_late_ticks.clone(),
            );
            r.register(
                "conference_voice_missing",
                "Participants' voice frames not waiting at their mixer tick (a media thread late)",
                m.conference_voice_missing.clone(),
            );
            r.register(
                "conference_bridge_restarts",
                "Conference bridge commands that failed and were undone from the snapshot",
                m.conference_restarts.clone(),
            );
            r.register(
                "anchored_calls",
                "Calls whose media the switch anchored",
                m.anchored_calls.clone(),
            );
            r.register(
                "media_timeouts",
                "Calls the switch ended because no RTP came for media.timeout_secs",
                m.media_timeouts.clone(),
            );
            r.register(
                "media_ticks",
                "Session deadlines the media threads ran (frame ticks, DTMF, media timeouts)",
                m.media_ticks.clone(),
            );
            r.register(
                "media_late_ticks",
                "Session deadlines run more than 20 ms after they were due",
                m.media_late_ticks.clone(),
            );
            r.register(
                "media_icmp_errors",
                "ICMP errors connected media sockets reported, passed over",
                m.media_icmp_errors.clone(),
            );
            r.register(
                "room_posts",
                "Chat room posts by outcome",
                m.room_posts.clone(),
            );
            r.register(
                "room_commits",
                "Chat room changes written by the queue writer, by outcome",
                m.room_commits.clone(),
            );
            r.register(
                "rooms_active",
                "Chat rooms with a running ChatRoom actor",
                m.rooms_active.clone(),
            );
            r.register(
                "recordings_active",
                "Call recordings being written",
                m.recordings_active.clone(),
            );
            r.register(
                "recordings",
                "Call recordings by outcome (finished, recovered, deleted, failed)",
                m.recordings.clone(),
            );
            r.register(
                "recording_frames_dropped",
                "Audio frames recordings lost because the recorder fell behind",
                m.recording_frames_dropped.clone(),
            );
            m.voicemail.register(&mut r);
            m.workers.register(&mut r);
            r.register(
                "messages_queued",
                "Messages waiting in the durable queues",
                m.messages_queued.clone(),
            );
            r.register(
                "messages",
                "MESSAGE requests to our numbers by outcome",
                m.messages.clone(),
            );
            r.register(
                "queue_removals",
                "Queued messages removed, by why (delivered, refused, expired)",
                m.queue_removals.clone(),
            );
            r.register(
                "queue_commits",
                "Group commits (one fsync each) of the message queues",
                m.queue_commits.clone(),
            );
            r.register(
                "queue_committed_messages",
                "Messages written by the group commits",
                m.queue_committed.clone(),
            );
            r.register(
                "dynamic_accounts",
                "Dynamic accounts nobody claimed yet",
                m.dynamic_accounts.clone(),
            );
            r.register(
                "notifications",
                "Notices to offline numbers by outcome",
                m.notifications.clone(),
            );
            r.register(
                "voice_notices",
                "Text messages read out to landlines, by outcome",
                m.voice_notices.clone(),
            );
            r.register(
                "voice_notice_calls",
                "Calls of voice notices, by result",
                m.voice_notice_calls.clone(),
            );
            r.register(
                "registrations",
                "Registered contacts (bindings) held",
                m.registrations.clone(),
            );
            r.register(
                "register_requests",
                "REGISTER requests by outcome",
                m.register_requests.clone(),
            );
            r.register(
                "active_calls",
                "Calls being set up or in progress",
                m.active_calls.clone(),
            );
            r.register(
                "calls",
                "Finished call attempts by outcome",
                m.calls.clone(),
            );
            r.register(
                "subscriptions",
                "Subscriptions alive (presence, message-summary)",
                m.subscriptions.clone(),
            );
            r.register("notifies", "NOTIFY requests sent", m.notifies.clone());
            r.register(
                "extensions_active",
                "Extension actors running",
                m.extensions_active.clone(),
            );
            r.register(
                "tcp_connections",
                "Open SIP stream connections (TCP and TLS)",
                m.tcp_connections.clone(),
            );
            r.register(
                "tls_handshakes",
                "TLS handshakes completed on accepted SIP connections",
                m.tls_handshakes.clone(),
            );
            r.register(
                "sip_dropped",
                "SIP messages dropped, by reason (banned: from a banned source)",
                m.drops.clone(),
            );
            r.register("bans", "Sources banned, by reason", m.bans.clone());
            r.register(
                "banned_sources",
                "Sources banned now",
                m.banned_sources.clone(),
            );
            r.register(
                "abuse_refusals",
                "Requests refused by an abuse limit, by limit",
                m.abuse_refusals.clone(),
            );
            r.register(
                "call_failures",
                "Calls ended by an internal failure (answered 500)",
                m.call_failures.clone(),
            );
            r.register(
                "plugin_version",
                "Routing plugin version new calls start on",
                m.plugin_version.clone(),
            );
            r.register(
                "plugin_reloads",
                "Routing plugin reloads by outcome (accepted, rejected)",
                m.plugin_reloads.clone(),
            );
            r.register(
                "plugin_failures",
                "Requests failed by the routing plugin, by kind (error, timeout, memory, bad_decision)",
                m.plugin_failures.clone(),
            );
            r.register(
                "plugin_routed",
                "Requests routed, by the routing plugin version that routed them",
                m.plugin_routed.clone(),
            );
            r.register(
                "forwards",
                "Forwarding hops taken, by reason",
                m.forwards.clone(),
            );
            r.register(
                "trunk_attempts",
                "Requests sent to trunks, by trunk and outcome",
                m.trunk_attempts.clone(),
            );
        }
        m
    }

    /// Registers a gauge read from elsewhere (plugin versions and the like in later work).
    pub fn register_gauge(&self, name: &str, help: &str, g: Gauge) {
        self.registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .register(name, help, g);
    }

    pub fn request(&self, method: switchboard_engine::sip::Method) {
        self.requests_received
            .get_or_create(&MethodLabel {
                method: method.as_str(),
            })
            .inc();
    }

    pub fn dropped(&self, reason: &'static str) {
        self.drops.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a response on its way out (cheap: reads the status digits).
    pub fn sent(&self, bytes: &[u8]) {
        if bytes.len() > 12 && bytes.starts_with(b"SIP/2.0 ") {
            let d = &bytes[8..11];
            if d.iter().all(u8::is_ascii_digit) {
                let code =
                    (d[0] - b'0') as u16 * 100 + (d[1] - b'0') as u16 * 10 + (d[2] - b'0') as u16;
                self.responses_sent.get_or_create(&CodeLabel { code }).inc();
            }
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}

/// How a call attempt ended, for the `calls` counter.
pub fn call_outcome(code: u16, canceled: bool) -> &'static str {
    match code {
        200..=299 => "answered",
        _ if canceled => "canceled",
        486 | 600 => "busy",
        480 | 408 => "no_answer",
        404 | 604 => "not_found",
        407 | 401 | 403 => "unauthorized",
        487 => "canceled",
        500..=599 => "failed",
        _ => "rejected",
    }
}

#[cfg(test)]
mod tests;
