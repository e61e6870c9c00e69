//! The conference part of a report: per room and over all rooms, the participants who
//! dialled and joined, the mix's packets (lost, late, frames missing from its timeline,
//! jitter), what the participants heard (another talker; never themselves) and the probe's
//! delay through the bridge; with the server's CPU per participant-second when it was
//! sampled.

use std::fmt::Write as _;

use serde::Serialize;

use std::time::Duration;

use super::ThresholdResult;
use crate::core::conference::room_name;
use crate::core::stats::{Histogram, Recorder, RoomTotals};

/// A limit on conference participants (scenario thresholds `conference_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConferenceThreshold {
    /// Calls answered with their audio running, per call dialled, at least this.
    JoinRatio(f64),
    /// Share of the mix's packets lost at most this.
    LossRatio(f64),
    /// Share of the mix's packets late at most this.
    LateRatio(f64),
    /// Share of listeners who heard another talker at least this.
    HeardRatio(f64),
    /// Talkers who heard their own voice at most this many.
    SelfHeard(u64),
    /// 99th percentile of the probe's delay through the bridge at most this.
    DelayP99(Duration),
}

/// Conference participants of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ConferenceReport {
    /// Over all rooms (`room` is `all`).
    #[serde(flatten)]
    pub all: RoomReport,
    /// Seconds of participants in calls (packets sent / 50).
    pub participant_seconds: f64,
    /// The server's CPU over the run per participant-second, in microseconds (when sampled;
    /// everything else the server did in the run is in it too).
    pub server_cpu_us_per_participant_second: Option<f64>,
    /// Each room, by number.
    pub rooms: Vec<RoomReport>,
}

/// The participants of one room (or of all).
#[derive(Debug, Clone, Serialize)]
pub struct RoomReport {
    /// `loadconf-<n>`, or `all`.
    pub room: String,
    /// Calls dialled, and calls answered whose audio ran.
    pub dialled: u64,
    pub joined: u64,
    /// Packets the participants sent, and of the mix: expected, received.
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    /// `(expected - received) / expected`, `late / received` (more than 40 ms past playout).
    pub lost_ratio: f64,
    pub late_ratio: f64,
    /// 20 ms frames of the mix's timeline that no packet brought (a tick the switch skipped).
    pub missing_frames: u64,
    /// Packets stamped more than a second off the mix's timeline (left out of the jitter).
    pub timestamp_jumps: u64,
    /// Interarrival jitter (RFC 3550) at the end of each call: mean and highest.
    pub jitter_mean_ms: f64,
    pub jitter_max_ms: f64,
    /// Participants who should hear another talker (and were measured), and who did.
    pub listeners: u64,
    pub heard: u64,
    /// `heard / listeners`; 0 with no listeners.
    pub heard_ratio: f64,
    /// Talkers measured, and those who heard their own voice.
    pub talkers: u64,
    pub self_heard: u64,
    /// The probe's bursts through the bridge, send to arrival (the kernel's receive
    /// timestamp where the runner had one).
    pub delay: DelayReport,
    /// The same bursts, send to the runner's reading them (what `delay` was before kernel
    /// timestamps: the runner's lateness included).
    pub delay_read: DelayReport,
    /// The runner's own lateness: reading each packet of the mix after its arrival, and
    /// sending each packet after its 20 ms tick was due.
    pub runner_read_lateness: DelayReport,
    pub runner_send_lateness: DelayReport,
    /// The probe's delay per pair of the probe's codec and the listener's.
    pub delay_by_codec: Vec<CodecDelayReport>,
}

/// The probe's bursts from a probe of one codec to listeners of one codec.
#[derive(Debug, Clone, Serialize)]
pub struct CodecDelayReport {
    pub probe: String,
    pub listener: String,
    pub delay: DelayReport,
    pub delay_read: DelayReport,
    pub runner_read_lateness: DelayReport,
}

/// Delay percentiles of the probe's bursts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DelayReport {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl DelayReport {
    fn of(h: &Histogram) -> DelayReport {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        DelayReport {
            samples: h.count(),
            p50_ms: ms(h.percentile(50.0)),
            p99_ms: ms(h.percentile(99.0)),
            max_ms: ms(h.max()),
        }
    }
}

impl ConferenceReport {
    /// The report's conference part; `None` when no participant dialled.
    pub(super) fn new(recorder: &Recorder, server_cpu_secs: Option<f64>) -> Option<Self> {
        let rooms = recorder.conference_rooms();
        if rooms.is_empty() {
            return None;
        }
        let all = recorder.conference_totals();
        let participant_seconds = all.sent as f64 / 50.0;
        Some(ConferenceReport {
            all: RoomReport::new("all".into(), &all),
            participant_seconds,
            server_cpu_us_per_participant_second: server_cpu_secs
                .filter(|_| participant_seconds > 0.0)
                .map(|cpu| cpu * 1e6 / participant_seconds),
            rooms: rooms
                .iter()
                .map(|(r, t)| RoomReport::new(room_name(*r), t))
                .collect(),
        })
    }

    /// The terminal's conference lines: the totals, then one line per room.
    pub(super) fn write_summary(&self, out: &mut String) {
        let a = &self.all;
        let _ = writeln!(
            out,
            "conferences: {} room(s), {}/{} joined, {:.0} participant-s; mix {} packets, \
             {:.3} % lost, {:.3} % late, {} frames missing, {} timestamp jumps, jitter mean \
             {:.2} ms max {:.2} ms",
            self.rooms.len(),
            a.joined,
            a.dialled,
            self.participant_seconds,
            a.received,
            a.lost_ratio * 100.0,
            a.late_ratio * 100.0,
            a.missing_frames,
            a.timestamp_jumps,
            a.jitter_mean_ms,
            a.jitter_max_ms
        );
        let _ = write!(
            out,
            "conferences heard: {}/{} listeners heard another talker, {}/{} talkers heard \
             themselves",
            a.heard, a.listeners, a.self_heard, a.talkers
        );
        if a.delay.samples > 0 {
            let _ = write!(
                out,
                "; probe delay p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} bursts)",
                a.delay.p50_ms, a.delay.p99_ms, a.delay.max_ms, a.delay.samples
            );
        }
        if let Some(us) = self.server_cpu_us_per_participant_second {
            let _ = write!(out, "; server {us:.1} µs CPU per participant-second");
        }
        out.push('\n');
        if a.delay.samples > 0 {
            let (r, l, w) = (
                &a.delay_read,
                &a.runner_read_lateness,
                &a.runner_send_lateness,
            );
            let _ =
                writeln!(
                out,
                "conferences runner: probe delay by the runner's read p50 {:.1} ms, p99 {:.1} ms; \
                 the runner read the mix late p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} \
                 packets timestamped); sent late p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
                r.p50_ms, r.p99_ms, l.p50_ms, l.p99_ms, l.max_ms, l.samples, w.p50_ms, w.p99_ms,
                w.max_ms
            );
            for c in &a.delay_by_codec {
                let _ = writeln!(
                    out,
                    "  probe {:>5} -> listener {:<5} delay p50 {:>5.1} ms p99 {:>5.1} ms max \
                     {:>5.1} ms ({:>5} bursts); by read p50 {:>5.1} p99 {:>5.1}; read late \
                     p50 {:.2} p99 {:.2} ms",
                    c.probe,
                    c.listener,
                    c.delay.p50_ms,
                    c.delay.p99_ms,
                    c.delay.max_ms,
                    c.delay.samples,
                    c.delay_read.p50_ms,
                    c.delay_read.p99_ms,
                    c.runner_read_lateness.p50_ms,
                    c.runner_read_lateness.p99_ms
                );
            }
        }
        for r in &self.rooms {
            let _ = write!(
                out,
                "  {:<14} {:>3}/{:<3} joined {:>8} received {:>7.3} % lost {:>7.3} % late \
                 {:>4} missing  heard {}/{}  self {}",
                r.room,
                r.joined,
                r.dialled,
                r.received,
                r.lost_ratio * 100.0,
                r.late_ratio * 100.0,
                r.missing_frames,
                r.heard,
                r.listeners,
                r.self_heard
            );
            if r.delay.samples > 0 {
                let _ = write!(out, "  delay p50 {:.1} ms", r.delay.p50_ms);
            }
            out.push('\n');
        }
    }

    /// The HTML table: one row per room and the totals.
    pub(super) fn write_html(&self, s: &mut String) {
        s.push_str(
            "<h2>Conferences</h2><table><tr><th>room</th><th>joined</th><th>dialled</th>\
             <th>received</th><th>lost %</th><th>late %</th><th>missing frames</th>\
             <th>jitter mean ms</th><th>jitter max ms</th><th>heard</th><th>self heard</th>\
             <th>delay p50 ms</th><th>delay p99 ms</th></tr>",
        );
        for r in self.rooms.iter().chain(std::iter::once(&self.all)) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td>\
                 <td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{}/{}</td><td>{}/{}</td>\
                 <td>{:.1}</td><td>{:.1}</td></tr>",
                r.room,
                r.joined,
                r.dialled,
                r.received,
                r.lost_ratio * 100.0,
                r.late_ratio * 100.0,
                r.missing_frames,
                r.jitter_mean_ms,
                r.jitter_max_ms,
                r.heard,
                r.listeners,
                r.self_heard,
                r.talkers,
                r.delay.p50_ms,
                r.delay.p99_ms
            );
        }
        s.push_str("</table>");
    }
}

impl RoomReport {
    fn new(room: String, t: &RoomTotals) -> RoomReport {
        RoomReport {
            room,
            dialled: t.dialled,
            joined: t.joined,
            sent: t.sent,
            expected: t.expected,
            received: t.received,
            lost_ratio: super::ratio(t.lost(), t.expected),
            late_ratio: super::ratio(t.late, t.received),
            missing_frames: t.missing_frames,
            timestamp_jumps: t.timestamp_jumps,
            jitter_mean_ms: super::ratio(t.jitter_sum_us, t.joined) / 1e3,
            jitter_max_ms: t.jitter_max_us as f64 / 1e3,
            listeners: t.listeners,
            heard: t.heard,
            heard_ratio: super::ratio(t.heard, t.listeners),
            talkers: t.talkers,
            self_heard: t.self_heard,
            delay: DelayReport::of(&t.delays),
            delay_read: DelayReport::of(&t.delays_read),
            runner_read_lateness: DelayReport::of(&t.lateness),
            runner_send_lateness: DelayReport::of(&t.send_lateness),
            delay_by_codec: t
                .by_codec
                .iter()
                .map(|c| CodecDelayReport {
                    probe: c.probe.to_string(),
                    listener: c.listener.to_string(),
                    delay: DelayReport::of(&c.delays),
                    delay_read: DelayReport::of(&c.delays_read),
                    runner_read_lateness: DelayReport::of(&c.lateness),
                })
                .collect(),
        }
    }
}

/// Checks one conference threshold. A ratio with nothing to count (no call dialled, no
/// packet, no listener) and a delay with no burst measured fail, with the note `no
/// participants`, `no rtp`, `no listeners` or `no samples`: a run that measured nothing has
/// shown nothing. The loss and late ratios pass with no packets only when nothing dialled.
pub(super) fn check(recorder: &Recorder, t: &ConferenceThreshold) -> ThresholdResult {
    let a = recorder.conference_totals();
    let (name, limit, actual, passed, note) = match *t {
        ConferenceThreshold::JoinRatio(limit) => {
            let actual = super::ratio(a.joined, a.dialled);
            let none = a.dialled == 0;
            let note = none.then_some("no participants");
            (
                "conference_join_ratio",
                limit,
                actual,
                !none && actual >= limit,
                note,
            )
        }
        ConferenceThreshold::LossRatio(limit) => {
            let actual = super::ratio(a.lost(), a.expected);
            let none = a.expected == 0;
            let passed = actual <= limit && (!none || a.dialled == 0);
            (
                "conference_loss_ratio",
                limit,
                actual,
                passed,
                none.then_some("no rtp"),
            )
        }
        ConferenceThreshold::LateRatio(limit) => {
            let actual = super::ratio(a.late, a.received);
            let none = a.received == 0;
            let passed = actual <= limit && (!none || a.dialled == 0);
            (
                "conference_late_ratio",
                limit,
                actual,
                passed,
                none.then_some("no rtp"),
            )
        }
        ConferenceThreshold::HeardRatio(limit) => {
            let actual = super::ratio(a.heard, a.listeners);
            let none = a.listeners == 0;
            let note = none.then_some("no listeners");
            (
                "conference_heard_ratio",
                limit,
                actual,
                !none && actual >= limit,
                note,
            )
        }
        ConferenceThreshold::SelfHeard(limit) => (
            "conference_self_heard",
            limit as f64,
            a.self_heard as f64,
            a.self_heard <= limit,
            None,
        ),
        ConferenceThreshold::DelayP99(max) => {
            let none = a.delays.count() == 0;
            let actual = a.delays.percentile(99.0).as_secs_f64() * 1e3;
            let limit = max.as_secs_f64() * 1e3;
            let note = none.then_some("no samples");
            (
                "conference_delay_p99_ms",
                limit,
                actual,
                !none && actual <= limit,
                note,
            )
        }
    };
    ThresholdResult {
        name: name.into(),
        limit,
        actual,
        passed,
        note: note.map(str::to_owned),
    }
}
