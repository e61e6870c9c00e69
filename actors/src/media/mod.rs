//! The media plane's runtime: media threads that own the RTP sockets of anchored calls and
//! drive their engine `Session`s, and the handles the call's actors steer them with.
//!
//! - [`MediaPlane`] (in `Shared`): starts the threads (`media-0`, ...), binds each session's
//!   port pairs from the configured range (`open`; `open_in` puts a side's pair on the IPv6
//!   address, `media.address_v6`, so each side is in its phone's address family) and hands
//!   it to a thread by load: the lowest-index thread that is not busy, so sessions are packed
//!   onto as few threads as carry them (`placement.rs` for the policy, `load.rs` for the
//!   figures it reads). Both sides of a call live on one thread, so a relayed packet never
//!   crosses threads, and a session never moves: its id carries its thread's index in its
//!   low 8 bits.
//! - [`MediaSession`]: the call's handle. Its methods are commands to the thread
//!   (`configure` a side from its negotiated SDP, `activate`, `play`, `send_digit`,
//!   `set_sink`, `set_feed`, `set_mixer_clock`, `stats`); dropping it closes the session and
//!   frees its ports. Its thread's [`FeedBell`] (`feed_bell`) is how a producer of its feed
//!   (the conference mixer) has the payloads sent the moment they are made.
//!   What happens (a side latched, a digit, a source ended, the media timed out) comes back
//!   to the owner given to `open` as [`MediaNote`] messages.
//!
//! This module sits below `shared`: it imports the engine, `api::media` and `api::bell`,
//! `config` and `metrics`, nothing else of the crate.

mod command;
mod counters;
mod error;
mod jitter_gauges;
mod load;
mod placement;
mod ports;
mod realtime;
mod recv;
mod socket;
mod thread;
#[cfg_attr(not(target_os = "linux"), path = "uring_none.rs")]
mod uring;

pub use crate::api::bell::FeedBell;
pub use error::MediaError;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::Recipient;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::{
    MixerClock, SessionConfig, SessionStats, Source, StreamConfig,
};
use switchboard_engine::media::{FrameSink, PayloadFeed, Side};
use switchboard_engine::sdp::rewrite::RelayPort;

use command::{Command, Mailbox, Open};
use load::ThreadLoad;
use ports::{Pair, Pools, Ports};

use crate::api::media::{MediaNote, MediaSessionId};
use crate::config::Media;
use crate::metrics::Metrics;

/// The media threads and the port range: a cheap handle to clone.
#[derive(Clone)]
pub struct MediaPlane {
    inner: Arc<Plane>,
}

struct Plane {
    threads: Vec<Mailbox>,
    /// By thread index, as `threads`.
    loads: Vec<Arc<ThreadLoad>>,
    joins: Mutex<Vec<std::thread::JoinHandle<()>>>,
    ports: Arc<Mutex<Pools>>,
    advertise: IpAddr,
    /// The IPv6 address in SDP, when the plane has IPv6 ports.
    advertise_v6: Option<IpAddr>,
    next_id: AtomicU64,
    session: SessionConfig,
    metrics: Arc<Metrics>,
}

/// Bits of a `MediaSessionId` that hold its thread's index (`media.threads` is at most 256).
const THREAD_BITS: u32 = 8;

/// The id of the `seq`th session, placed on thread `index`.
fn session_id(seq: u64, index: usize) -> MediaSessionId {
    MediaSessionId(seq << THREAD_BITS | index as u64)
}

/// The index of the thread session `id` runs on, of `threads` (any id maps to one).
fn thread_index(id: MediaSessionId, threads: usize) -> usize {
    (id.0 & ((1 << THREAD_BITS) - 1)) as usize % threads.max(1)
}

impl Plane {
    /// The thread a session runs on, from the index in its id's low bits.
    fn thread_of(&self, id: MediaSessionId) -> &Mailbox {
        &self.threads[thread_index(id, self.threads.len())]
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        for t in &self.threads {
            t.send(Command::Stop);
        }
    }
}

/// Where a side's media reaches the switch (in its SDP).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LocalPorts {
    /// The advertised address and the RTP port.
    pub rtp: SocketAddr,
    /// The RTCP port (RTP + 1) at the same address.
    pub rtcp: SocketAddr,
}

impl LocalPorts {
    /// The ports for `sdp::rewrite`.
    pub fn relay_port(&self) -> RelayPort {
        RelayPort::new(self.rtp.port())
    }
}

impl MediaPlane {
    /// Starts the media threads. Fails when the RTP address cannot be bound (not an address
    /// of this host) or a thread cannot start.
    pub fn start(config: &Media, metrics: Arc<Metrics>) -> Result<MediaPlane, MediaError> {
        let probe = SocketAddr::new(config.address, 0);
        UdpSocket::bind(probe).map_err(|source| MediaError::Bind {
            addr: probe,
            source,
        })?;
        let v6 = match config.v6() {
            Some((bind, advertise)) => {
                let probe = SocketAddr::new(bind, 0);
                UdpSocket::bind(probe).map_err(|source| MediaError::Bind {
                    addr: probe,
                    source,
                })?;
                Some((Ports::new(bind, config.port_range()), advertise))
            }
            None => None,
        };
        let advertise_v6 = v6.as_ref().map(|(_, a)| *a);
        let ports = Pools::new(
            Ports::new(config.address, config.port_range()),
            v6.map(|(p, _)| p),
        );
        metrics.media_ports_free.set(ports.free() as i64);
        let ports = Arc::new(Mutex::new(ports));
        let mut threads = Vec::new();
        let mut loads = Vec::new();
        let mut joins = Vec::new();
        let epoch = Instant::now();
        for index in 0..config.thread_count().min(1 << THREAD_BITS) {
            let load = Arc::new(ThreadLoad::new(epoch));
            let t = thread::spawn(
                index,
                ports.clone(),
                metrics.clone(),
                load.clone(),
                thread::IoOptions {
                    connect: config.connect_latched,
                    uring: config.uring(),
                    // set by the thread once it is under SCHED_FIFO
                    coalesce: false,
                },
                config.realtime_priority,
            )
            .map_err(|source| MediaError::Thread { index, source })?;
            threads.push(t.mailbox);
            loads.push(load);
            joins.push(t.join);
        }
        Ok(MediaPlane {
            inner: Arc::new(Plane {
                threads,
                loads,
                joins: Mutex::new(joins),
                ports,
                advertise: config.advertised(),
                advertise_v6,
                next_id: AtomicU64::new(1),
                session: SessionConfig {
                    timeout: config.timeout(),
                    hold_timeout: config.hold_timeout(),
                },
                metrics,
            }),
        })
    }

    /// A session with a port pair for each of `sides` (the caller's alone when the switch
    /// answers), on the first media thread not busy (`placement.rs`); its events go to
    /// `owner`. Its ports are on the IPv4 address.
    pub fn open(
        &self,
        sides: &[Side],
        owner: Recipient<MediaNote>,
    ) -> Result<MediaSession, MediaError> {
        let sides: Vec<(Side, bool)> = sides.iter().map(|&s| (s, false)).collect();
        self.open_in(&sides, owner)
    }

    /// The same, with each side's ports on the IPv6 address when its `bool` says so and the
    /// plane has one (`media.address_v6`), else on the IPv4 address: a side's ports are in
    /// the family of the phone they talk to.
    pub fn open_in(
        &self,
        sides: &[(Side, bool)],
        owner: Recipient<MediaNote>,
    ) -> Result<MediaSession, MediaError> {
        let p = &self.inner;
        let mut pairs: [Option<Pair>; 2] = [None, None];
        {
            let mut ports = p.ports.lock().unwrap_or_else(|e| e.into_inner());
            for &(side, v6) in sides {
                if pairs[side.index()].is_some() {
                    continue;
                }
                match ports.bind_pair(v6) {
                    Ok(pair) => pairs[side.index()] = Some(pair),
                    Err(e) => {
                        for pair in pairs.into_iter().flatten() {
                            let (v6, port) = (pair.v6, pair.rtp_port);
                            drop(pair);
                            ports.release(v6, port);
                        }
                        return Err(e);
                    }
                }
            }
            p.metrics.media_ports_free.set(ports.free() as i64);
        }
        let local = pairs.each_ref().map(|pair| {
            pair.as_ref().map(|pair| {
                let ip = match p.advertise_v6 {
                    Some(v6) if pair.v6 => v6,
                    _ => p.advertise,
                };
                LocalPorts {
                    rtp: SocketAddr::new(ip, pair.rtp_port),
                    rtcp: SocketAddr::new(ip, pair.rtp_port + 1),
                }
            })
        });
        let now = Instant::now();
        let index = placement::place(p.loads.iter().map(|l| l.load(now)));
        let load = p.loads[index].clone();
        load.placed();
        let seq = p.next_id.fetch_add(1, Ordering::Relaxed);
        let id = session_id(seq, index);
        let mailbox = p.threads[index].clone();
        p.metrics.media_sessions.inc();
        mailbox.send(Command::Open(Box::new(Open {
            id,
            sides: pairs,
            owner,
            config: p.session,
            seed: rand::random(),
        })));
        Ok(MediaSession {
            id,
            mailbox,
            load,
            local,
        })
    }

    /// What session `id` measured, for an observer that does not own it (the API); the
    /// receiver fails if the session is gone.
    pub fn stats(&self, id: MediaSessionId) -> tokio::sync::oneshot::Receiver<SessionStats> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.thread_of(id).send(Command::Stats(id, tx));
        rx
    }

    /// The address the relay ports are advertised at.
    pub fn advertise(&self) -> IpAddr {
        self.inner.advertise
    }

    /// The IPv6 address the relay ports are advertised at, when the plane has IPv6 ports.
    pub fn advertise_v6(&self) -> Option<IpAddr> {
        self.inner.advertise_v6
    }

    /// Port pairs not in use.
    pub fn ports_free(&self) -> usize {
        let ports = self.inner.ports.lock().unwrap_or_else(|e| e.into_inner());
        ports.free()
    }

    /// Stops the media threads (their sessions close) and waits for them.
    pub fn stop(&self) {
        for t in &self.inner.threads {
            t.send(Command::Stop);
        }
        let joins =
            std::mem::take(&mut *self.inner.joins.lock().unwrap_or_else(|e| e.into_inner()));
        for j in joins {
            let _ = j.join();
        }
    }
}

/// A call's media on a media thread. Commands return at once; dropping it closes the session.
pub struct MediaSession {
    id: MediaSessionId,
    mailbox: Mailbox,
    /// Its thread's figures, where the plane counts it.
    load: Arc<ThreadLoad>,
    local: [Option<LocalPorts>; 2],
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("id", &self.id)
            .field("local", &self.local)
            .finish()
    }
}

impl MediaSession {
    pub fn id(&self) -> MediaSessionId {
        self.id
    }

    /// The switch's ports for `side`, if it has one.
    pub fn local(&self, side: Side) -> Option<LocalPorts> {
        self.local[side.index()]
    }

    /// Sets up `side` from its negotiated SDP (again after a re-INVITE: it re-latches).
    pub fn configure(&self, side: Side, stream: StreamConfig) {
        self.mailbox.send(Command::Configure(self.id, side, stream));
    }

    /// The call is answered: the media timeout counts from now.
    pub fn activate(&self) {
        self.mailbox.send(Command::Activate(self.id));
    }

    /// Plays `source` to `side` in place of the other side.
    pub fn play(&self, side: Side, source: Source) {
        self.mailbox.send(Command::Play(self.id, side, source));
    }

    pub fn stop_play(&self, side: Side) {
        self.mailbox.send(Command::StopPlay(self.id, side));
    }

    /// Sends an RFC 4733 digit to `side`.
    pub fn send_digit(&self, side: Side, digit: Digit) {
        self.mailbox.send(Command::SendDigit(self.id, side, digit));
    }

    /// Gives both sides' decoded frames to `sink` (recording); `None` stops.
    pub fn set_sink(&self, sink: Option<Box<dyn FrameSink>>) {
        self.mailbox.send(Command::SetSink(self.id, sink));
    }

    /// Gives `side` the payloads of `feed` in place of the other side (a conference's mix);
    /// `None` stops.
    pub fn set_feed(&self, side: Side, feed: Option<Box<dyn PayloadFeed>>) {
        self.mailbox.send(Command::SetFeed(self.id, side, feed));
    }

    /// Makes the session's frame tick follow a mixer's clock (a conference participant), or
    /// its own again.
    pub fn set_mixer_clock(&self, clock: Option<MixerClock>) {
        self.mailbox.send(Command::SetMixerClock(self.id, clock));
    }

    /// The bell that has the session's thread send what its feeds were given.
    pub fn feed_bell(&self) -> FeedBell {
        self.mailbox.bell.clone()
    }

    /// What the session measured (the receiver fails if the session is gone).
    pub fn stats(&self) -> tokio::sync::oneshot::Receiver<SessionStats> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.mailbox.send(Command::Stats(self.id, tx));
        rx
    }

    /// Closes the session: its sockets close and its ports are free again.
    pub fn close(self) {}
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.mailbox.send(Command::Close(self.id));
        self.load.closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_names_its_thread_and_ids_stay_distinct() {
        let threads = 1 << THREAD_BITS;
        let mut seen = std::collections::HashSet::new();
        for seq in [1, 2, 77, 1 << 40] {
            for index in [0, 1, 5, threads - 1] {
                let id = session_id(seq, index);
                assert_eq!(thread_index(id, threads), index);
                assert!(seen.insert(id), "{id} twice");
            }
        }
        assert_eq!(
            thread_index(session_id(9, 3), 2),
            1,
            "a foreign id still maps"
        );
    }
}
