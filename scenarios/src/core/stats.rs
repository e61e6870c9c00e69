//! Statistics of a load run: what each runner shard records, merged at the end into the
//! report and, while the run goes on, into live progress figures.
//!
//! Sans-IO: time comes in as `Duration` offsets from the run's start. The hot path
//! ([`Recorder::offered`], [`Recorder::outcome`]) writes into fixed-size arrays; the only
//! growth is the timeline (one slot per second of the run, preallocated for its planned
//! length), the per-second latency histograms (one per kind and second, on the first outcome
//! of that kind in that second) and the message id sets (amortised, by doubling).
//!
//! Definitions:
//! - *offered*: requests sent, counted in the second they were sent;
//! - *achieved*: `Outcome::Ok` answers, counted in the second they arrived;
//! - latency percentiles are of `Outcome::Ok` answers only: a fast 503 or a timeout would
//!   otherwise pull them down or up; failures and timeouts have their own counters.

mod conference;
mod histogram;
mod rtp;

pub use conference::{ParticipantCounts, ParticipantMeter, RoomTotals};
pub use histogram::{Histogram, MAX_TRACKED};
pub use rtp::{LegCounts, LegMeter, Origin, RtpStream};

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{Kind, Outcome};

/// Status codes counted one by one (the SIP range); others are counted under 0.
const CODES: std::ops::RangeInclusive<u16> = 100..=699;
const KINDS: usize = Kind::ALL.len();

/// Everything one runner shard records; shards are merged at the end and for live progress.
#[derive(Debug, Clone)]
pub struct Recorder {
    kinds: [KindTotals; KINDS],
    seconds: Vec<Second>,
    acked: HashSet<u64>,
    received: HashSet<u64>,
    duplicates: u64,
    /// RTP of the legs that ended, by [`Origin`] (in [`Origin::ALL`] order).
    rtp: [RtpTotals; Origin::ALL.len()],
    /// Conference participants by room.
    rooms: BTreeMap<u32, RoomTotals>,
}

/// Request counters of one kind (all of a run, or of one second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests sent.
    pub offered: u64,
    /// `Outcome::Ok` answers.
    pub ok: u64,
    /// `Outcome::Failed` answers.
    pub failed: u64,
    /// `Outcome::Timeout`s.
    pub timeouts: u64,
}

impl Counts {
    /// Requests with an outcome.
    pub fn outcomes(&self) -> u64 {
        self.ok + self.failed + self.timeouts
    }

    /// `ok / outcomes`; 1 when nothing has an outcome (nothing failed).
    pub fn success_ratio(&self) -> f64 {
        match self.outcomes() {
            0 => 1.0,
            n => self.ok as f64 / n as f64,
        }
    }

    fn add(&mut self, o: &Counts) {
        self.offered += o.offered;
        self.ok += o.ok;
        self.failed += o.failed;
        self.timeouts += o.timeouts;
    }
}

/// Message delivery counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Distinct ids the server acknowledged with a 2xx.
    pub acked: u64,
    /// Distinct ids some recipient received.
    pub received: u64,
    /// Acknowledged ids never received.
    pub lost: u64,
    /// Receptions of an id already received.
    pub duplicates: u64,
}

/// RTP counters summed over call legs ([`LegCounts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RtpTotals {
    /// Call legs that reported.
    pub legs: u64,
    /// Packets the legs sent.
    pub sent: u64,
    /// Packets expected (RFC 3550 A.3 per stream; a silent leg's own sends, see
    /// [`LegCounts::expected`]).
    pub expected: u64,
    /// Packets received (duplicates included, as in RFC 3550).
    pub received: u64,
    /// Packets more than 40 ms past their playout time (see [`RtpStream`]).
    pub late: u64,
    /// The highest loss ratio and late ratio of any one leg.
    pub worst_lost_ratio: f64,
    pub worst_late_ratio: f64,
}

impl RtpTotals {
    /// Packets expected but not received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    fn add_leg(&mut self, leg: &LegCounts) {
        self.add(&RtpTotals {
            legs: 1,
            sent: leg.sent,
            expected: leg.expected,
            received: leg.received,
            late: leg.late,
            worst_lost_ratio: leg.lost_ratio(),
            worst_late_ratio: leg.late_ratio(),
        });
    }

    fn add(&mut self, o: &RtpTotals) {
        self.legs += o.legs;
        self.sent += o.sent;
        self.expected += o.expected;
        self.received += o.received;
        self.late += o.late;
        self.worst_lost_ratio = self.worst_lost_ratio.max(o.worst_lost_ratio);
        self.worst_late_ratio = self.worst_late_ratio.max(o.worst_late_ratio);
    }
}

/// Live figures over a window of the run, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    /// Requests sent per second.
    pub offered_per_sec: f64,
    /// `Outcome::Ok` answers per second.
    pub achieved_per_sec: f64,
    /// `ok / (ok + failed + timeouts)` of the outcomes in the window; 1 when there were none.
    pub success_ratio: f64,
    /// 99th percentile latency of the `Ok` answers in the window (~6 % precision).
    pub p99: Duration,
    /// Requests sent since the start without an outcome yet.
    pub in_flight: u64,
}

#[derive(Debug, Clone)]
struct KindTotals {
    counts: Counts,
    latency: Histogram,
    /// Failures by status code: index `code - 100`, the last slot for codes outside 100..=699.
    codes: Box<[u64]>,
}

impl Default for KindTotals {
    fn default() -> Self {
        KindTotals {
            counts: Counts::default(),
            latency: Histogram::new(),
            codes: vec![0; CODES.len() + 1].into_boxed_slice(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Second {
    counts: [Counts; KINDS],
    /// Latency of the `Ok` answers that came in this second; made on the first one.
    latency: [Option<Histogram>; KINDS],
}

impl Recorder {
    /// A recorder for a run of `second_slots` seconds (the timeline grows if the run goes
    /// on longer).
    pub fn new(second_slots: usize) -> Self {
        Recorder {
            kinds: Default::default(),
            seconds: vec![Second::default(); second_slots],
            acked: HashSet::new(),
            received: HashSet::new(),
            duplicates: 0,
            rtp: Default::default(),
            rooms: BTreeMap::new(),
        }
    }

    /// A request of `kind` was sent at `at` (offset from the run's start): offered load.
    pub fn offered(&mut self, kind: Kind, at: Duration) {
        self.kinds[kind as usize].counts.offered += 1;
        self.second_mut(at).counts[kind as usize].offered += 1;
    }

    /// Its outcome, `latency` after it was sent, at `at` (when the outcome came).
    pub fn outcome(&mut self, kind: Kind, at: Duration, latency: Duration, outcome: Outcome) {
        let k = kind as usize;
        let totals = &mut self.kinds[k];
        match outcome {
            Outcome::Ok(_) => {
                totals.counts.ok += 1;
                totals.latency.record(latency);
            }
            Outcome::Failed(code) => {
                totals.counts.failed += 1;
                totals.codes[code_slot(code)] += 1;
            }
            Outcome::Timeout => totals.counts.timeouts += 1,
        }
        let second = self.second_mut(at);
        let counts = &mut second.counts[k];
        match outcome {
            Outcome::Ok(_) => {
                counts.ok += 1;
                second.latency[k]
                    .get_or_insert_with(Histogram::coarse)
                    .record(latency);
            }
            Outcome::Failed(_) => counts.failed += 1,
            Outcome::Timeout => counts.timeouts += 1,
        }
    }

    /// The server acknowledged (2xx) the MESSAGE with this id.
    pub fn message_acked(&mut self, id: u64) {
        self.acked.insert(id);
    }

    /// A recipient received the MESSAGE with this id (a second reception is a duplicate).
    pub fn message_received(&mut self, id: u64) {
        if !self.received.insert(id) {
            self.duplicates += 1;
        }
    }

    /// RTP of one call leg when it ends, as its [`LegMeter`] counted it (late: more than
    /// [`RtpStream::LATE`] past the playout time its stream's first packet sets).
    pub fn rtp(&mut self, leg: &LegCounts) {
        self.rtp[origin_slot(leg.origin)].add_leg(leg);
    }

    /// A participant of conference room `room` dialled.
    pub fn conference_dialled(&mut self, room: u32) {
        self.room_mut(room).dialled += 1;
    }

    /// What a conference participant counted when its call ended.
    pub fn conference(&mut self, c: &ParticipantCounts) {
        self.room_mut(c.room).add_participant(c);
    }

    /// Each conference room's totals, by room number.
    pub fn conference_rooms(&self) -> &BTreeMap<u32, RoomTotals> {
        &self.rooms
    }

    /// The totals of every conference room.
    pub fn conference_totals(&self) -> RoomTotals {
        let mut t = RoomTotals::default();
        self.rooms.values().for_each(|r| t.add(r));
        t
    }

    fn room_mut(&mut self, room: u32) -> &mut RoomTotals {
        self.rooms.entry(room).or_default()
    }

    /// Adds everything `other` recorded. A message id received by both is a duplicate.
    pub fn merge(&mut self, other: &Recorder) {
        for (a, b) in self.kinds.iter_mut().zip(other.kinds.iter()) {
            a.counts.add(&b.counts);
            a.latency.merge(&b.latency);
            for (x, y) in a.codes.iter_mut().zip(b.codes.iter()) {
                *x += y;
            }
        }
        if self.seconds.len() < other.seconds.len() {
            self.seconds
                .resize_with(other.seconds.len(), Second::default);
        }
        for (a, b) in self.seconds.iter_mut().zip(other.seconds.iter()) {
            for k in 0..KINDS {
                a.counts[k].add(&b.counts[k]);
                if let Some(h) = &b.latency[k] {
                    a.latency[k].get_or_insert_with(Histogram::coarse).merge(h);
                }
            }
        }
        self.acked.extend(other.acked.iter().copied());
        for &id in &other.received {
            self.message_received(id);
        }
        self.duplicates += other.duplicates;
        for (a, b) in self.rtp.iter_mut().zip(other.rtp.iter()) {
            a.add(b);
        }
        for (room, totals) in &other.rooms {
            self.room_mut(*room).add(totals);
        }
    }

    /// Live figures over all kinds, over the last `window` ending at `now`. The window's start
    /// is rounded down to a whole second (so it may be up to 1 s longer), and rates are per
    /// second of the time it really covers.
    pub fn live(&self, now: Duration, window: Duration) -> Live {
        self.live_where(now, window, |_| true)
    }

    /// [`Recorder::live`] for one kind.
    pub fn live_of(&self, kind: Kind, now: Duration, window: Duration) -> Live {
        self.live_where(now, window, |k| k == kind as usize)
    }

    /// Counters of `kind` over the whole run.
    pub fn counts(&self, kind: Kind) -> Counts {
        self.kinds[kind as usize].counts
    }

    /// Counters of all kinds over the whole run.
    pub fn total(&self) -> Counts {
        let mut c = Counts::default();
        self.kinds.iter().for_each(|k| c.add(&k.counts));
        c
    }

    /// Latencies of the `Ok` answers of `kind` over the whole run.
    pub fn latency(&self, kind: Kind) -> &Histogram {
        &self.kinds[kind as usize].latency
    }

    /// Failures of `kind` by status code, ascending (codes outside 100..=699 under 0).
    pub fn failure_codes(&self, kind: Kind) -> impl Iterator<Item = (u16, u64)> + '_ {
        let codes = &self.kinds[kind as usize].codes;
        let other = (codes[CODES.len()] > 0).then_some((0, codes[CODES.len()]));
        other
            .into_iter()
            .chain(CODES.zip(codes.iter().copied()).filter(|&(_, n)| n > 0))
    }

    /// Seconds in the timeline (the planned length, or more if the run went on longer).
    pub fn seconds(&self) -> usize {
        self.seconds.len()
    }

    /// Counters of `kind` in second `second`: offered by send time, outcomes by arrival.
    pub fn second(&self, second: usize, kind: Kind) -> Counts {
        self.seconds
            .get(second)
            .map_or_else(Counts::default, |s| s.counts[kind as usize])
    }

    /// Latencies of the `Ok` answers of `kind` that arrived in second `second` (~6 %
    /// precision), if there were any.
    pub fn second_latency(&self, second: usize, kind: Kind) -> Option<&Histogram> {
        self.seconds.get(second)?.latency[kind as usize].as_ref()
    }

    /// Message delivery counters (lost: acknowledged ids not received so far).
    pub fn messages(&self) -> MessageCounts {
        MessageCounts {
            acked: self.acked.len() as u64,
            received: self.received.len() as u64,
            lost: self.acked.difference(&self.received).count() as u64,
            duplicates: self.duplicates,
        }
    }

    /// RTP counters over all legs.
    pub fn rtp_totals(&self) -> RtpTotals {
        let mut t = RtpTotals::default();
        self.rtp.iter().for_each(|o| t.add(o));
        t
    }

    /// RTP counters of the legs whose packets came from `origin`.
    pub fn rtp_of(&self, origin: Origin) -> RtpTotals {
        self.rtp[origin_slot(origin)]
    }

    fn second_mut(&mut self, at: Duration) -> &mut Second {
        let s = at.as_secs() as usize;
        if s >= self.seconds.len() {
            // grows per second of overrun, not per sample
            self.seconds.resize_with(s + 1, Second::default);
        }
        &mut self.seconds[s]
    }

    fn live_where(&self, now: Duration, window: Duration, pick: impl Fn(usize) -> bool) -> Live {
        let first = now.saturating_sub(window).as_secs() as usize;
        let span = (now.as_secs_f64() - first as f64).max(1e-3);
        let (mut counts, mut latency) = (Counts::default(), Histogram::coarse());
        // the seconds that have begun by `now`
        let end = now.as_secs() as usize + usize::from(now.subsec_nanos() > 0);
        for second in self.seconds.iter().take(end).skip(first) {
            for k in (0..KINDS).filter(|&k| pick(k)) {
                counts.add(&second.counts[k]);
                if let Some(h) = &second.latency[k] {
                    latency.merge(h);
                }
            }
        }
        let in_flight = (0..KINDS)
            .filter(|&k| pick(k))
            .map(|k| {
                let c = &self.kinds[k].counts;
                c.offered.saturating_sub(c.outcomes())
            })
            .sum();
        Live {
            offered_per_sec: counts.offered as f64 / span,
            achieved_per_sec: counts.ok as f64 / span,
            success_ratio: counts.success_ratio(),
            p99: latency.percentile(99.0),
            in_flight,
        }
    }
}

/// Its index in [`Origin::ALL`] (declaration order).
fn origin_slot(o: Origin) -> usize {
    o as usize
}

fn code_slot(code: u16) -> usize {
    if CODES.contains(&code) {
        usize::from(code - CODES.start())
    } else {
        CODES.len()
    }
}

#[cfg(test)]
mod tests;
