//! One runner shard: a UDP socket and the simulated devices whose Contact it is, with every
//! flow they run (by Call-ID), their timers and their RTP legs. A shard is one tokio task
//! and owns all of this alone: no locks. It starts the actions the scheduler hands it and
//! records every outcome in its own `Recorder`, merged with the others' at the end.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::FxHashMap;
use switchboard_engine::entropy::Entropy;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::conference::{self, ProbeClocks};
use super::media;
use super::people::People;
use crate::core::agent::{Callee, Caller, Endpoint, Identity, Out, Request, Subscriber};
use crate::core::conference::{Participant, Voice};
use crate::core::stats::Recorder;
use crate::core::{Action, Kind, Outcome, User};
use legs::LegReport;
use switchboard_engine::media::Codec;

/// In-flight counters, one per [`Kind`].
pub type InFlight = [AtomicU64; Kind::ALL.len()];

/// A flow and what it belongs to.
enum Flow {
    /// A request; `device` for a REGISTER (its Call-ID and CSeq live on), `record` false for
    /// set-up requests (room joins) that are not part of the figures.
    Request {
        r: Box<Request>,
        device: Option<(User, u32)>,
        record: bool,
    },
    Caller(Box<Caller>),
    Callee(Box<Callee>),
    Subscriber(Box<Subscriber>),
}

impl Flow {
    fn is_done(&self) -> bool {
        match self {
            Flow::Request { r, .. } => r.is_done(),
            Flow::Caller(c) => c.is_done(),
            Flow::Callee(c) => c.is_done(),
            Flow::Subscriber(s) => s.is_done(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Flow::Request { r, .. } => r.poll_timeout(),
            Flow::Caller(c) => c.poll_timeout(),
            Flow::Callee(c) => c.poll_timeout(),
            Flow::Subscriber(s) => s.poll_timeout(),
        }
    }

    /// Our tag in the flow's dialog (or of its request).
    fn tag(&self) -> &str {
        match self {
            Flow::Request { r, .. } => r.tag(),
            Flow::Caller(c) => c.tag(),
            Flow::Callee(c) => c.tag(),
            Flow::Subscriber(s) => s.tag(),
        }
    }

    fn records(&self) -> bool {
        !matches!(self, Flow::Request { record: false, .. })
    }
}

/// What the scheduler hands a shard.
pub enum Work {
    /// An action of the run (in the figures).
    Run(Action),
    /// Actions of the run due at once (in the figures), in order.
    Runs(Vec<Action>),
    /// An action of the set-up before the first phase (registrations; not in the figures).
    Setup(Action),
    /// A member joins a room before the first phase.
    Join { room: u32, member: User },
    /// The phases start now: offsets in the figures count from here.
    Start(Instant),
}

/// A device's registration: one Call-ID for all its REGISTERs, a growing CSeq; its
/// identity, To and Contact made once (every refresh repeats them).
struct Device {
    call_id: String,
    cseq: u32,
    id: Identity,
    to: String,
    contact: String,
}

/// What a shard is started with.
pub struct ShardSetup {
    pub index: usize,
    pub socket: UdpSocket,
    pub target: SocketAddr,
    pub domain: String,
    pub people: Arc<People>,
    pub epoch: Instant,
    pub seed: u64,
    pub seconds: usize,
    pub register_expires: u32,
    /// Closed-loop behaviours count their flows in flight here (per `Kind`).
    pub in_flight: Arc<InFlight>,
    /// Conference probes' burst times, by room (shared by every shard).
    pub probes: Arc<ProbeClocks>,
    /// Messages the server acknowledged that no device received yet (over all shards: a
    /// message's sender and recipient may be on different shards).
    pub outstanding: Arc<AtomicI64>,
    /// The latest copy of the recorder goes here about once a second (live progress).
    pub progress: mpsc::UnboundedSender<(usize, Recorder)>,
}

pub struct Shard {
    index: usize,
    socket: Arc<UdpSocket>,
    target: SocketAddr,
    ep: Endpoint,
    people: Arc<People>,
    epoch: Instant,
    e: Entropy,
    recorder: Recorder,
    /// Flows by Call-ID; a callee's by Call-ID and a trailing NUL (its caller may be on this
    /// shard too, with the same Call-ID).
    flows: FxHashMap<Box<str>, Flow>,
    timers: BinaryHeap<Reverse<(Instant, Box<str>)>>,
    devices: HashMap<(User, u32), Device>,
    /// RTP sockets waiting for their call to come up, and running legs, by Call-ID.
    media_sockets: FxHashMap<Box<str>, std::net::UdpSocket>,
    legs: FxHashMap<Box<str>, media::Leg>,
    /// Conference participants waiting for their call to come up, and running, by Call-ID.
    participants: FxHashMap<Box<str>, Participant>,
    conference_legs: FxHashMap<Box<str>, conference::Leg>,
    /// One second of each voice in each codec, encoded once.
    voices: HashMap<(Voice, Codec), Arc<[u8]>>,
    probes: Arc<ProbeClocks>,
    rtp: (
        mpsc::UnboundedSender<LegReport>,
        mpsc::UnboundedReceiver<LegReport>,
    ),
    rtp_pending: usize,
    register_expires: u32,
    /// The Request-URI of every REGISTER (`sip:<server>`).
    register_uri: String,
    next_message: u64,
    in_flight: Arc<InFlight>,
    outstanding: Arc<AtomicI64>,
    progress: mpsc::UnboundedSender<(usize, Recorder)>,
    out: Vec<Out>,
}

fn kind_index(k: Kind) -> usize {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

impl Shard {
    pub fn new(s: ShardSetup) -> std::io::Result<Shard> {
        let local = s.socket.local_addr()?;
        Ok(Shard {
            index: s.index,
            socket: Arc::new(s.socket),
            target: s.target,
            ep: Endpoint {
                server: s.target.to_string(),
                domain: s.domain,
                local,
            },
            people: s.people,
            epoch: s.epoch,
            e: Entropy::seeded(s.seed),
            recorder: Recorder::new(s.seconds),
            flows: FxHashMap::default(),
            timers: BinaryHeap::new(),
            devices: HashMap::new(),
            media_sockets: FxHashMap::default(),
            legs: FxHashMap::default(),
            participants: FxHashMap::default(),
            conference_legs: FxHashMap::default(),
            voices: HashMap::new(),
            probes: s.probes,
            rtp: mpsc::unbounded_channel(),
            rtp_pending: 0,
            register_expires: s.register_expires,
            register_uri: format!("sip:{}", s.target),
            // message ids: this run's (random) and this shard's, so a delivery left over from
            // an earlier run is no receipt of this one
            next_message: (s.seed & 0xff_ffff) << 32 | (s.index as u64) << 24,
            in_flight: s.in_flight,
            outstanding: s.outstanding,
            progress: s.progress,
            out: Vec::with_capacity(8),
        })
    }

    /// Runs until the scheduler closes `actions` and the flows are done (or `drain` passed
    /// since), or `stop` says so; returns the shard's recorder.
    pub async fn run(
        mut self,
        mut actions: mpsc::Receiver<Work>,
        drain: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Recorder {
        let mut buf = vec![0u8; 65_536];
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut closed = false;
        let mut drain_until: Option<tokio::time::Instant> = None;
        let socket = self.socket.clone();
        // one timer for the flows' earliest deadline, moved only when that changes (a new
        // sleep per turn of the loop would register and cancel a timer each time)
        let idle = || tokio::time::Instant::now() + Duration::from_secs(3600);
        let sleep = tokio::time::sleep_until(idle());
        tokio::pin!(sleep);
        loop {
            // the timers of flows that ended (most requests: answered before Timer E) are
            // dropped here rather than woken for
            while let Some(Reverse((_, key))) = self.timers.peek() {
                if self.flows.contains_key(key) {
                    break;
                }
                self.timers.pop();
            }
            let next = self.timers.peek().map(|Reverse((at, _))| *at);
            let sleep_to = next.map_or_else(idle, tokio::time::Instant::from_std);
            if (next.is_some() && sleep.deadline() != sleep_to)
                || (next.is_none() && sleep.deadline() < sleep_to - Duration::from_secs(60))
            {
                sleep.as_mut().reset(sleep_to);
            }
            tokio::select! {
                r = socket.recv_from(&mut buf) => {
                    if let Ok((n, _)) = r {
                        self.on_datagram(Bytes::copy_from_slice(&buf[..n]));
                        // take what else is waiting without yielding
                        while let Ok((n, _)) = socket.try_recv_from(&mut buf) {
                            self.on_datagram(Bytes::copy_from_slice(&buf[..n]));
                        }
                    }
                }
                a = actions.recv(), if !closed => match a {
                    Some(Work::Run(a)) => self.start(a, true),
                    Some(Work::Runs(batch)) => batch.into_iter().for_each(|a| self.start(a, true)),
                    Some(Work::Setup(a)) => self.start(a, false),
                    Some(Work::Join { room, member }) => self.join(room, member),
                    Some(Work::Start(at)) => self.epoch = at,
                    None => {
                        closed = true;
                        drain_until = Some(tokio::time::Instant::now() + drain);
                    }
                },
                _ = &mut sleep => {
                    sleep.as_mut().reset(idle());
                    self.fire_timers();
                }
                c = self.rtp.1.recv() => {
                    if let Some(c) = c {
                        self.rtp_pending = self.rtp_pending.saturating_sub(1);
                        self.leg_report(&c);
                    }
                }
                _ = tick.tick() => {
                    let _ = self.progress.send((self.index, self.recorder.clone()));
                }
                _ = stop.changed() => {
                    if *stop.borrow() {
                        closed = true;
                        let soon = tokio::time::Instant::now() + Duration::from_secs(2);
                        drain_until = Some(drain_until.map_or(soon, |d| d.min(soon)));
                    }
                }
            }
            if closed {
                let waiting_messages = self.outstanding.load(Ordering::Relaxed) > 0;
                let over = drain_until.is_some_and(|d| tokio::time::Instant::now() >= d);
                if over || (self.settled() && !waiting_messages) {
                    break;
                }
                tracing::trace!(
                    shard = self.index,
                    flows = self.flows.len(),
                    waiting_messages,
                    "load draining"
                );
            }
        }
        self.unregister_all(&socket, &mut buf).await;
        // legs still running are stopped and counted
        for (_, leg) in self.legs.drain() {
            if let Some(rx) = leg.stop() {
                if let Ok(Ok(c)) = tokio::time::timeout(Duration::from_millis(200), rx).await {
                    self.recorder.rtp(&c);
                }
            }
        }
        for (_, leg) in self.conference_legs.drain() {
            if let Some(rx) = leg.stop() {
                if let Ok(Ok(c)) = tokio::time::timeout(Duration::from_millis(200), rx).await {
                    self.recorder.conference(&c);
                }
            }
        }
        let _ = self.progress.send((self.index, self.recorder.clone()));
        self.recorder
    }

    /// Whether every flow that counts has ended (subscriptions live until they expire and
    /// do not hold the end of a run) and every RTP leg has reported.
    fn settled(&self) -> bool {
        self.rtp_pending == 0
            && self
                .flows
                .values()
                .all(|f| f.is_done() || matches!(f, Flow::Subscriber(_)) || !f.records())
    }

    fn at(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.epoch)
    }

    fn identity(&self, user: User, device: u32) -> Identity {
        self.people.identity(user, device)
    }

    fn media_socket(&mut self) -> Option<std::net::UdpSocket> {
        let s = std::net::UdpSocket::bind(SocketAddr::new(self.ep.local.ip(), 0)).ok()?;
        s.set_nonblocking(true).ok()?;
        Some(s)
    }

    fn keep(&mut self, call_id: Box<str>, flow: Flow, now: Instant) {
        if flow.is_done() {
            if let Flow::Request {
                r, device: Some(d), ..
            } = &flow
            {
                // the device's next REGISTER goes on from the CSeq this one ended at (one
                // more when a challenge was answered)
                if let Some(dev) = self.devices.get_mut(d) {
                    dev.cseq = dev.cseq.max(r.cseq());
                }
            }
            self.forget(&call_id);
            return;
        }
        if let Some(at) = flow.poll_timeout() {
            self.timers.push(Reverse((at.max(now), call_id.clone())));
        }
        self.flows.insert(call_id, flow);
    }

    fn forget(&mut self, call_id: &str) {
        self.media_sockets.remove(call_id);
        self.participants.remove(call_id);
        self.stop_legs(call_id);
    }

    /// Carries out what the flow of `call_id` asked; `record`: its outcomes count.
    fn apply(&mut self, now: Instant, call_id: &str, record: bool, out: &mut Vec<Out>) {
        let at = self.at(now);
        for o in out.drain(..) {
            match o {
                Out::Send(b) => {
                    tracing::trace!(shard = self.index, key = %call_id.escape_debug(), line = %String::from_utf8_lossy(&b[..b.iter().position(|c| *c == b'\r').unwrap_or(0)]), "load out");
                    let _ = self.socket.try_send_to(&b, self.target);
                }
                Out::Done {
                    kind,
                    latency,
                    outcome,
                } => {
                    if record {
                        self.recorder.outcome(kind, at, latency, outcome);
                    }
                    if kind != Kind::Bye && kind != Kind::Notify {
                        let i = kind_index(kind);
                        let _ = self.in_flight[i].fetch_update(
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                            |v| v.checked_sub(1),
                        );
                    }
                }
                Out::MessageAcked(id) => {
                    self.recorder.message_acked(id);
                    self.outstanding.fetch_add(1, Ordering::Relaxed);
                }
                Out::Notified { latency } => {
                    if let Some(l) = latency {
                        self.recorder.outcome(Kind::Notify, at, l, Outcome::Ok(200));
                    }
                }
                Out::MediaStart { remote, peer } => self.start_media(call_id, remote, peer),
                Out::MediaStop => self.stop_legs(call_id),
            }
        }
    }
}

mod incoming;
mod legs;
mod requests;
mod start;
mod teardown;
