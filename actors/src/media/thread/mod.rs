//! A media thread: a plain thread that owns the UDP sockets of its sessions and drives them,
//! with the command channel's waker (a `mio::Poll`) and its sessions' deadlines.
//!
//! Two loops, one per thread as `media.io` says: `epoll.rs` (`epoll_wait`, then per readable
//! socket `recvmmsg` batches into the thread's receive buffers, `recv.rs`, and a packet to
//! forward sent at once from the other side's socket) and `ring.rs` (an io_uring,
//! `uring.rs`: a multishot receive armed on every socket into provided buffers, a packet to
//! forward queued as a send of the same buffer, one `io_uring_enter` per turn); a thread
//! whose ring cannot be set up runs the epoll loop. Either way each datagram goes to the
//! session (`handle_packet`, with the time the wait returned, read again every 16 sockets or
//! completions), a relayed packet leaves from the other side's socket in its own buffer
//! (with `send` when that socket is connected to the address, `socket.rs`, else `sendto`),
//! and then the session's own packets
//! (`poll_transmit`, into the thread's send buffer) and events (to the call's actor) are
//! drained and its next deadline armed. Deadlines sit in a heap; a session's entry is
//! replaced only when its deadline moves earlier, so a relayed packet, which moves the media
//! timeout later, touches no heap. Nothing on the packet path allocates, locks or logs.
//!
//! With `media.connect_latched`, a socket is connected to the one source its port latched
//! to (`Session::peer`) after the packets that taught it, and disconnected when a command
//! (a new SDP) opened learning again.
//!
//! Around each wait the thread notes when it woke and when it waits again (`load.rs`),
//! and once a second publishes how busy it was, for the plane's placement of new sessions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::Recipient;
use crossbeam::channel::{Receiver, TryRecvError};
use mio::net::UdpSocket;
use mio::{Interest, Poll, Token, Waker};
use rustc_hash::FxHashMap;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::session::{Session, MAX_TRANSMIT};
use switchboard_engine::media::{Side, FRAME};

use super::command::{Command, Mailbox, Open};
use super::counters::{Counters, Sinks};
use super::jitter_gauges::JitterGauges;
use super::load::{Meter, ThreadLoad};
use super::ports::Pools;
use super::recv::Batch;
use super::socket::MediaSocket;
use super::uring::Ring;
use crate::api::bell::FeedBell;
use crate::api::media::{MediaNote, MediaSessionId};
use crate::metrics::Metrics;

mod epoll;
mod ring;

const WAKER: Token = Token(usize::MAX);
/// Readable sockets served per clock read: a packet's arrival time is late by at most the
/// time this many sockets take (tens of microseconds), for a clock read per 16 packets.
const CLOCK_EVERY: usize = 16;
/// Deadlines a session may run in one go (each advances it; a bound against a bug).
const MAX_DUE_PER_WAKE: usize = 16;
/// Failed receives a socket may return in one wake-up before it is left (each ICMP error
/// queued on a connected socket fails one; anything else that fails again would spin).
const MAX_RECV_ERRORS: usize = 4;

/// A started thread.
pub(super) struct Spawned {
    pub(super) mailbox: Mailbox,
    pub(super) join: std::thread::JoinHandle<()>,
}

/// How a thread does its IO.
#[derive(Copy, Clone, Debug)]
pub(super) struct IoOptions {
    /// Connect a socket to the peer its port latched to (`media.connect_latched`).
    pub(super) connect: bool,
    /// Run on an io_uring (`media.io = "uring"`), else epoll.
    pub(super) uring: bool,
    /// Coalesce wake-ups while busy (set for a thread under SCHED_FIFO, `ring.rs`).
    pub(super) coalesce: bool,
}

/// Starts media thread `index`, under `SCHED_FIFO` at `realtime_priority` when it is not 0
/// (`media.realtime_priority`).
pub(super) fn spawn(
    index: usize,
    ports: Arc<Mutex<Pools>>,
    metrics: Arc<Metrics>,
    load: Arc<ThreadLoad>,
    io: IoOptions,
    realtime_priority: u8,
) -> std::io::Result<Spawned> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let bell = FeedBell::new(waker.clone());
    let (tx, rx) = crossbeam::channel::unbounded();
    let thread_bell = bell.clone();
    let meter = Meter::new(index, load, &metrics, Instant::now());
    let jitter = JitterGauges::new(index, &metrics);
    let join = std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            let mut io = io;
            if realtime_priority > 0 {
                match super::realtime::set_fifo(realtime_priority) {
                    Ok(()) => io.coalesce = true,
                    Err(e) => tracing::warn!(
                        thread = index,
                        error = %e,
                        "media.realtime_priority not applied (needs root or CAP_SYS_NICE): an ordinary thread"
                    ),
                }
            }
            MediaThread::new(poll, rx, thread_bell, ports, metrics, (meter, jitter), io).run()
        })?;
    Ok(Spawned {
        mailbox: Mailbox { tx, waker, bell },
        join,
    })
}

/// One side's sockets.
struct SideSockets {
    rtp: MediaSocket,
    rtcp: MediaSocket,
    rtp_port: u16,
    /// Bound on the IPv6 address (its port goes back to that pool).
    v6: bool,
}

impl SideSockets {
    fn socket(&self, rtcp: bool) -> &MediaSocket {
        if rtcp {
            &self.rtcp
        } else {
            &self.rtp
        }
    }

    fn socket_mut(&mut self, rtcp: bool) -> &mut MediaSocket {
        if rtcp {
            &mut self.rtcp
        } else {
            &mut self.rtp
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
    jitter: JitterGauges,
    /// Connects a socket to the peer its port latched to.
    connect: bool,
    /// Waits on the ring coalesce completions while busy (`ring.rs`, `COALESCE`).
    coalesce: bool,
    /// Asked to run on an io_uring.
    uring: bool,
    /// The ring it runs on, when it does (set up on the thread itself).
    ring: Option<Ring>,
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
        (meter, jitter): (Meter, JitterGauges),
        io: IoOptions,
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
            jitter,
            connect: io.connect,
            uring: io.uring,
            coalesce: io.coalesce,
            ring: None,
        }
    }

    fn run(mut self) {
        if self.uring {
            match Ring::new(self.poll.as_raw_fd()) {
                Ok(ring) => self.ring = Some(ring),
                Err(e) => {
                    tracing::warn!(error = %e, "io_uring unavailable: the media thread runs on epoll")
                }
            }
        }
        if self.ring.is_some() {
            self.run_uring();
        } else {
            self.run_epoll();
        }
        self.counters.flush(&self.sinks);
        let ids: Vec<MediaSessionId> = self.by_id.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
    }

    /// Once a second with the thread's load: the flush of the counters and where the input
    /// jitter buffers stand.
    fn publish(&mut self) {
        self.counters.flush(&self.sinks);
        for e in self.slots.iter().flatten() {
            self.jitter.add(&e.session);
        }
        self.jitter.publish();
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
                    if self.connect {
                        // a new SDP opens learning again: its sockets take anyone
                        for side in [Side::Caller, Side::Callee] {
                            follow(e, side, false);
                            follow(e, side, true);
                        }
                    }
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
                rtp: MediaSocket::new(UdpSocket::from_std(pair.rtp)),
                rtcp: MediaSocket::new(UdpSocket::from_std(pair.rtcp)),
                rtp_port: pair.rtp_port,
                v6: pair.v6,
            };
            let (rtp, rtcp) = (token(slot, side, false), token(slot, side, true));
            let ok = match self.ring.as_mut() {
                Some(ring) => ring
                    .watch(rtp.0, self.generation, s.rtp.socket().as_raw_fd())
                    .and_then(|_| ring.watch(rtcp.0, self.generation, s.rtcp.socket().as_raw_fd())),
                None => registry
                    .register(s.rtp.socket_mut(), rtp, Interest::READABLE)
                    .and_then(|_| registry.register(s.rtcp.socket_mut(), rtcp, Interest::READABLE)),
            };
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
                let side = if i == 0 { Side::Caller } else { Side::Callee };
                match self.ring.as_mut() {
                    Some(ring) => {
                        ring.unwatch(token(slot, side, false).0, e.generation);
                        ring.unwatch(token(slot, side, true).0, e.generation);
                    }
                    None => {
                        let _ = self.poll.registry().deregister(s.rtp.socket_mut());
                        let _ = self.poll.registry().deregister(s.rtcp.socket_mut());
                    }
                }
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
        let icmp = &mut counters.icmp;
        let sent = e.sides[t.side.index()]
            .as_ref()
            .map(|s| s.socket(t.rtcp).send(&out[..t.len], t.to, icmp));
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

/// Connects a socket of `side` to the peer its port latched to, or disconnects it when the
/// port learns again (a failure leaves it unconnected, sending with `sendto`, and is tried
/// again with the next packets).
fn follow(e: &mut Entry, side: Side, rtcp: bool) {
    let peer = e.session.peer(side, rtcp);
    let Some(s) = e.sides[side.index()].as_mut() else {
        return;
    };
    let sock = s.socket_mut(rtcp);
    if sock.peer() != peer {
        if let Err(err) = sock.follow(peer) {
            tracing::debug!(error = %err, session = %e.id, ?peer, "media socket not connected");
        }
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
