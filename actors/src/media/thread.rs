//! A media thread: a plain thread with one `mio::Poll` over the UDP sockets of its sessions,
//! the command channel's waker, and its sessions' deadlines.
//!
//! Per readable socket it receives until the socket is empty, in batches (`recv.rs`: one
//! `recvmmsg` per wake-up of a socket holding one datagram), into the thread's receive
//! buffers; each datagram goes to the session (`handle_packet`, with the time the poll
//! returned, read again every 16 sockets), and a packet to forward leaves at once from the
//! other side's socket (`send_to`, the same buffer). Then the session's own packets
//! (`poll_transmit`, into the thread's send buffer) and events (to the call's actor) are
//! drained and its next deadline armed. Deadlines sit in a heap; a session's entry is
//! replaced only when its deadline moves earlier, so a relayed packet, which moves the media
//! timeout later, touches no heap. Nothing on the packet path allocates, locks or logs.
//!
//! Around each `epoll_wait` the thread notes when it woke and when it waits again (`load.rs`),
//! and once a second publishes how busy it was, for the plane's placement of new sessions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::Recipient;
use crossbeam::channel::{Receiver, TryRecvError};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use rustc_hash::FxHashMap;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::session::{Action, Session, MAX_TRANSMIT};
use switchboard_engine::media::{Side, FRAME};

use super::command::{Command, Mailbox, Open};
use super::counters::{Counters, Sinks};
use super::load::{Meter, ThreadLoad};
use super::ports::Pools;
use super::recv::{Batch, BATCH};
use crate::api::bell::FeedBell;
use crate::api::media::{MediaNote, MediaSessionId};
use crate::metrics::Metrics;

const WAKER: Token = Token(usize::MAX);
/// Readable sockets served per clock read: a packet's arrival time is late by at most the
/// time this many sockets take (tens of microseconds), for a clock read per 16 packets.
const CLOCK_EVERY: usize = 16;
/// Deadlines a session may run in one go (each advances it; a bound against a bug).
const MAX_DUE_PER_WAKE: usize = 16;

/// A started thread.
pub(super) struct Spawned {
    pub(super) mailbox: Mailbox,
    pub(super) join: std::thread::JoinHandle<()>,
}

/// Starts media thread `index`.
pub(super) fn spawn(
    index: usize,
    ports: Arc<Mutex<Pools>>,
    metrics: Arc<Metrics>,
    load: Arc<ThreadLoad>,
) -> std::io::Result<Spawned> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let bell = FeedBell::new(waker.clone());
    let (tx, rx) = crossbeam::channel::unbounded();
    let thread_bell = bell.clone();
    let meter = Meter::new(index, load, &metrics, Instant::now());
    let join = std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || MediaThread::new(poll, rx, thread_bell, ports, metrics, meter).run())?;
    Ok(Spawned {
        mailbox: Mailbox { tx, waker, bell },
        join,
    })
}

/// One side's sockets.
struct SideSockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    rtp_port: u16,
    /// Bound on the IPv6 address (its port goes back to that pool).
    v6: bool,
}

impl SideSockets {
    fn socket(&self, rtcp: bool) -> &UdpSocket {
        if rtcp {
            &self.rtcp
        } else {
            &self.rtp
        }
    }
}

struct Entry {
    id: MediaSessionId,
    generation: u32,
    session: Session,
    sides: [Option<SideSockets>; 2],
    owner: Recipient<MediaNote>,
    /// The deadline in the heap for it, if any.
    armed: Option<Instant>,
}

struct MediaThread {
    poll: Poll,
    rx: Receiver<Command>,
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    generation: u32,
    by_id: FxHashMap<MediaSessionId, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    /// Rung when payloads wait in the feeds of `fed`.
    bell: FeedBell,
    /// The slots of the sessions with a feed.
    fed: Vec<usize>,
    batch: Batch,
    out: Box<[u8]>,
    ports: Arc<Mutex<Pools>>,
    metrics: Arc<Metrics>,
    counters: Counters,
    sinks: Sinks,
    meter: Meter,
}

/// A token names a slot, a side and RTP or RTCP.
fn token(slot: usize, side: Side, rtcp: bool) -> Token {
    Token(slot << 2 | side.index() << 1 | usize::from(rtcp))
}

fn untoken(t: Token) -> (usize, Side, bool) {
    let side = if t.0 & 2 == 0 {
        Side::Caller
    } else {
        Side::Callee
    };
    (t.0 >> 2, side, t.0 & 1 != 0)
}

impl MediaThread {
    fn new(
        poll: Poll,
        rx: Receiver<Command>,
        bell: FeedBell,
        ports: Arc<Mutex<Pools>>,
        metrics: Arc<Metrics>,
        meter: Meter,
    ) -> Self {
        MediaThread {
            poll,
            rx,
            slots: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            generation: 0,
            by_id: FxHashMap::default(),
            timers: BinaryHeap::with_capacity(4096),
            bell,
            fed: Vec::with_capacity(1024),
            batch: Batch::new(),
            out: vec![0; MAX_TRANSMIT].into_boxed_slice(),
            ports,
            sinks: Sinks::of(&metrics),
            metrics,
            counters: Counters::default(),
            meter,
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            // the figure of the last second, with the counts, once a second (and zeroes once
            // when the last session has closed: then no deadline wakes the thread again)
            if self.meter.waits(now, self.by_id.len()) {
                self.counters.flush(&self.sinks);
            }
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _, _))| at.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    tracing::error!(error = %e, "media thread poll failed");
                    break;
                }
            }
            let mut commands = false;
            let mut now = Instant::now();
            self.meter.woke(now);
            for (k, ev) in events.iter().enumerate() {
                if k > 0 && k % CLOCK_EVERY == 0 {
                    now = Instant::now();
                }
                match ev.token() {
                    WAKER => commands = true,
                    t => self.readable(t, now),
                }
            }
            if commands && !self.commands() {
                break;
            }
            let now = Instant::now();
            if commands && self.bell.answer() {
                self.feeds(now);
            }
            self.fire(now);
        }
        self.counters.flush(&self.sinks);
        let ids: Vec<MediaSessionId> = self.by_id.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
    }

    /// Everything waiting on a socket of a session, at `now` (read when the poll returned and
    /// again every `CLOCK_EVERY` sockets, not per packet).
    fn readable(&mut self, t: Token, now: Instant) {
        let (slot, side, rtcp) = untoken(t);
        let Some(Some(e)) = self.slots.get_mut(slot) else {
            return;
        };
        loop {
            let Some(sock) = e.sides[side.index()].as_ref().map(|s| s.socket(rtcp)) else {
                return;
            };
            let n = match self.batch.recv(sock) {
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                // an ICMP error queued on the socket: taken, move on
                Err(_) => continue,
            };
            for i in 0..n {
                let (buf, len, from) = self.batch.datagram(i);
                let Some(from) = from else { continue };
                match e.session.handle_packet(now, side, from, rtcp, buf, len) {
                    Action::Forward {
                        side: to,
                        to: addr,
                        len,
                        rtcp,
                    } => {
                        let sent = e.sides[to.index()]
                            .as_ref()
                            .map(|s| s.socket(rtcp).send_to(&buf[..len], addr));
                        match sent {
                            Some(Ok(_)) => self.counters.relayed += 1,
                            _ => self.counters.send_failed(),
                        }
                    }
                    Action::Consumed => {}
                    Action::Dropped(r) => self.counters.dropped(r),
                }
            }
            if n < BATCH {
                break; // a short batch: the socket is empty
            }
        }
        drain(e, now, &mut self.out, &mut self.counters);
        arm(e, slot, &mut self.timers);
    }

    /// The bell rang: every fed session sends what its feed was given.
    fn feeds(&mut self, now: Instant) {
        for &slot in &self.fed {
            let Some(Some(e)) = self.slots.get_mut(slot) else {
                continue;
            };
            e.session.handle_feed(now);
            drain(e, now, &mut self.out, &mut self.counters);
        }
    }

    /// Runs the sessions whose deadline has come.
    fn fire(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(Some(e)) = self.slots.get_mut(slot) else {
                continue;
            };
            if e.generation != generation || e.armed != Some(at) {
                continue; // replaced by an earlier deadline, or another session's
            }
            e.armed = None;
            for _ in 0..MAX_DUE_PER_WAKE {
                let Some(due) = e.session.poll_timeout().filter(|&t| t <= now) else {
                    break;
                };
                self.counters.ticks += 1;
                if now - due > FRAME {
                    self.counters.late_ticks += 1;
                }
                e.session.handle_timeout(now);
                drain(e, now, &mut self.out, &mut self.counters);
            }
            arm(e, slot, &mut self.timers);
        }
    }

    /// Applies the commands waiting; false on `Stop`.
    fn commands(&mut self) -> bool {
        loop {
            let c = match self.rx.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            let now = Instant::now();
            let id = match c {
                Command::Stop => return false,
                Command::Open(o) => {
                    self.open(now, *o);
                    continue;
                }
                Command::Close(id) => {
                    self.close(id);
                    continue;
                }
                Command::Configure(id, side, s) => self.with(id, |x| x.configure(now, side, s)),
                Command::Activate(id) => self.with(id, |x| x.activate(now)),
                Command::Play(id, side, src) => self.with(id, |x| x.play(now, side, src)),
                Command::StopPlay(id, side) => self.with(id, |x| x.stop_play(now, side)),
                Command::SendDigit(id, side, d) => self.with(id, |x| x.send_digit(now, side, d)),
                Command::SetSink(id, sink) => self.with(id, |x| x.set_sink(now, sink)),
                Command::SetFeed(id, side, feed) => {
                    let slot = self.with(id, |x| x.set_feed(now, side, feed));
                    if let Some(slot) = slot {
                        self.mark_fed(slot);
                    }
                    slot
                }
                Command::SetMixerClock(id, clock) => {
                    self.with(id, |x| x.set_mixer_clock(now, clock))
                }
                Command::Stats(id, reply) => {
                    if let Some(&slot) = self.by_id.get(&id) {
                        if let Some(Some(e)) = self.slots.get(slot) {
                            let _ = reply.send(e.session.stats());
                        }
                    }
                    continue;
                }
            };
            if let Some(slot) = id {
                if let Some(Some(e)) = self.slots.get_mut(slot) {
                    drain(e, now, &mut self.out, &mut self.counters);
                    arm(e, slot, &mut self.timers);
                }
            }
        }
    }

    /// Keeps the list of fed sessions right after a feed was set or taken away.
    fn mark_fed(&mut self, slot: usize) {
        let fed = matches!(self.slots.get(slot), Some(Some(e)) if e.session.is_fed());
        let listed = self.fed.contains(&slot);
        if fed && !listed {
            self.fed.push(slot);
        } else if !fed && listed {
            self.fed.retain(|&f| f != slot);
        }
    }

    /// Runs a command on session `id`; its slot.
    fn with(&mut self, id: MediaSessionId, f: impl FnOnce(&mut Session)) -> Option<usize> {
        let slot = *self.by_id.get(&id)?;
        let e = self.slots.get_mut(slot)?.as_mut()?;
        f(&mut e.session);
        Some(slot)
    }

    fn open(&mut self, now: Instant, o: Open) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.generation = self.generation.wrapping_add(1);
        let registry = self.poll.registry();
        let mut sides: [Option<SideSockets>; 2] = [None, None];
        for (i, pair) in o.sides.into_iter().enumerate() {
            let Some(pair) = pair else { continue };
            let side = if i == 0 { Side::Caller } else { Side::Callee };
            let mut s = SideSockets {
                rtp: UdpSocket::from_std(pair.rtp),
                rtcp: UdpSocket::from_std(pair.rtcp),
                rtp_port: pair.rtp_port,
                v6: pair.v6,
            };
            let ok = registry
                .register(&mut s.rtp, token(slot, side, false), Interest::READABLE)
                .and_then(|_| {
                    registry.register(&mut s.rtcp, token(slot, side, true), Interest::READABLE)
                });
            if let Err(e) = ok {
                tracing::warn!(error = %e, session = %o.id, "media socket not registered");
            }
            sides[i] = Some(s);
        }
        self.slots[slot] = Some(Entry {
            id: o.id,
            generation: self.generation,
            session: Session::new(now, o.config, Entropy::seeded(o.seed)),
            sides,
            owner: o.owner,
            armed: None,
        });
        self.by_id.insert(o.id, slot);
        self.meter.opened();
    }

    /// Ends session `id`: its sockets close and their ports go back to the range.
    fn close(&mut self, id: MediaSessionId) {
        let Some(slot) = self.by_id.remove(&id) else {
            return;
        };
        let Some(mut e) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.fed.retain(|&f| f != slot);
        let mut freed = [None, None];
        for (i, s) in e.sides.iter_mut().enumerate() {
            if let Some(s) = s.as_mut() {
                let _ = self.poll.registry().deregister(&mut s.rtp);
                let _ = self.poll.registry().deregister(&mut s.rtcp);
                freed[i] = Some((s.v6, s.rtp_port));
            }
        }
        // the sockets close before their ports can be handed out again
        drop(e);
        let mut ports = self.ports.lock().unwrap_or_else(|p| p.into_inner());
        for (v6, port) in freed.into_iter().flatten() {
            ports.release(v6, port);
        }
        self.metrics.media_ports_free.set(ports.free() as i64);
        drop(ports);
        self.metrics.media_sessions.dec();
    }
}

/// Sends what the session made and tells its owner what happened.
fn drain(e: &mut Entry, now: Instant, out: &mut [u8], counters: &mut Counters) {
    while let Some(t) = e.session.poll_transmit(now, out) {
        let sent = e.sides[t.side.index()]
            .as_ref()
            .map(|s| s.socket(t.rtcp).send_to(&out[..t.len], t.to));
        match sent {
            Some(Ok(_)) => counters.framed += 1,
            _ => counters.send_failed(),
        }
    }
    while let Some(event) = e.session.poll_event() {
        e.owner.do_send(MediaNote {
            session: e.id,
            event,
        });
    }
}

/// Puts the session's next deadline in the heap when it is earlier than the one there.
fn arm(e: &mut Entry, slot: usize, timers: &mut BinaryHeap<Reverse<(Instant, usize, u32)>>) {
    let Some(at) = e.session.poll_timeout() else {
        return;
    };
    if e.armed.is_some_and(|a| a <= at) {
        return;
    }
    e.armed = Some(at);
    timers.push(Reverse((at, slot, e.generation)));
}
