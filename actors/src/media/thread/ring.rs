//! The media thread's io_uring loop (`media.io = "uring"`, `uring.rs` for the ring): one
//! `io_uring_enter` per turn submits the sends queued in the last one and waits for
//! completions (or the next deadline); each received datagram goes to its session in the
//! provided buffer it arrived in, and a packet relayed to a connected socket is queued as a
//! send of that buffer, which returns to the ring when the send completes.

use std::cmp::Reverse;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::{Events, Token};
use switchboard_engine::media::session::Action;

use super::{arm, drain, follow, token, untoken, MediaThread, CLOCK_EVERY};
use crate::media::socket::is_icmp_errno;
use crate::media::uring::{datagram, generation_bits, Done, PAYLOAD};

/// A real-time media thread (`media.realtime_priority`) runs the moment a completion wakes
/// it, so left alone it would wake for nearly every packet: each wake-up then costs more than
/// the packet (6.1 against 3.6 µs per relayed packet at 2,000 calls). While busy (its last
/// wake-up found at least `COALESCE_BUSY` completions, or came less than `COALESCE` after
/// the one before) it waits instead for
/// `COALESCE_BATCH` completions or `COALESCE`, whichever comes first: a packet waits at most
/// that long, and the thread drains a batch per wake-up as an ordinary thread does. Idle or
/// lightly loaded, it wakes per completion as before (and an idle thread not at all).
const COALESCE: Duration = Duration::from_micros(500);
const COALESCE_BATCH: usize = 32;
const COALESCE_BUSY: usize = 8;

impl MediaThread {
    /// Runs until `Stop` (the ring is set).
    pub(super) fn run_uring(&mut self) {
        let mut events = Events::with_capacity(64);
        self.meter.use_cpu_time();
        // whether the thread is busy: its last wake-up found a batch's worth of completions,
        // or came less than COALESCE after the one before
        let mut busy = false;
        let mut last_wake = Instant::now();
        loop {
            let now = Instant::now();
            if self.meter.waits(now, self.by_id.len()) {
                self.publish();
            }
            let mut timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _, _))| at.saturating_duration_since(now));
            // a busy real-time thread waits for a batch, or COALESCE at most (see below)
            let want = if self.coalesce && busy {
                timeout = Some(timeout.map_or(COALESCE, |t| t.min(COALESCE)));
                COALESCE_BATCH
            } else {
                1
            };
            let Some(ring) = self.ring.as_mut() else {
                return;
            };
            if let Err(e) = ring.wait(want, timeout) {
                tracing::error!(error = %e, "media thread ring failed");
                break;
            }
            let mut now = Instant::now();
            let woke = now;
            self.meter.woke(now);
            let mut commands = false;
            let mut k = 0usize;
            while let Some(done) = self.ring.as_mut().and_then(|r| r.next()) {
                k += 1;
                if k.is_multiple_of(CLOCK_EVERY) {
                    now = Instant::now();
                }
                match done {
                    Done::Received {
                        token,
                        generation,
                        result,
                        more,
                    } => self.received(Token(token), generation, result, more, now),
                    Done::Sent {
                        token,
                        generation,
                        buffer,
                        retried,
                        result,
                    } => self.sent(Token(token), generation, buffer, retried, result),
                    Done::Woken { rearm } => {
                        commands = true;
                        if rearm {
                            if let Some(ring) = self.ring.as_mut() {
                                let _ = ring.arm_wake();
                            }
                        }
                    }
                    Done::Other => {}
                }
            }
            busy = k >= COALESCE_BUSY || woke.saturating_duration_since(last_wake) < COALESCE;
            last_wake = woke;
            if let Some(ring) = self.ring.as_mut() {
                ring.publish();
            }
            if commands {
                // takes the waker's edge off the epoll descriptor the ring polls
                let _ = self.poll.poll(&mut events, Some(Duration::ZERO));
                if !self.commands() {
                    break;
                }
            }
            let now = Instant::now();
            if commands && self.bell.answer() {
                self.feeds(now);
            }
            self.fire(now);
        }
    }

    /// A completion of socket `t`'s receive: a datagram in a provided buffer, or an error.
    fn received(
        &mut self,
        t: Token,
        generation: u32,
        result: Result<(u16, usize), i32>,
        more: bool,
        now: Instant,
    ) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let (slot, side, rtcp) = untoken(t);
        let e = match self.slots.get_mut(slot) {
            Some(Some(e)) if generation_bits(e.generation) == generation => e,
            // a socket closed since (its receive was cancelled)
            _ => {
                if let Ok((b, _)) = result {
                    ring.give_back(b);
                }
                return;
            }
        };
        if !more && result != Err(libc::ECANCELED) {
            // ended by an error (an ICMP error, no buffer free): armed again, the packets
            // still wait in the socket
            if let Some(s) = e.sides[side.index()].as_ref() {
                let _ = ring.arm_recv(t.0, e.generation, s.socket(rtcp).socket().as_raw_fd());
            }
        }
        let (b, n) = match result {
            Ok(r) => r,
            Err(errno) => {
                if is_icmp_errno(errno) {
                    self.counters.icmp += 1;
                }
                return;
            }
        };
        let buf = ring.buffer(b);
        let (len, from) = datagram(buf, n);
        let mut queued = None;
        if let Some(from) = from {
            let payload = &mut buf[PAYLOAD..];
            match e.session.handle_packet(now, side, from, rtcp, payload, len) {
                Action::Forward {
                    side: to,
                    to: addr,
                    len,
                    rtcp,
                } => match e.sides[to.index()].as_ref().map(|s| s.socket(rtcp)) {
                    // connected there: the send goes on the ring, in this buffer
                    Some(sock) if sock.peer() == Some(addr) => {
                        let fd = sock.socket().as_raw_fd();
                        queued = Some(((token(slot, to, rtcp).0, fd), len));
                    }
                    Some(sock) => match sock.send(&payload[..len], addr, &mut self.counters.icmp) {
                        Ok(_) => self.counters.relayed += 1,
                        Err(_) => self.counters.send_failed(),
                    },
                    None => self.counters.send_failed(),
                },
                Action::Consumed => {}
                Action::Dropped(r) => self.counters.dropped(r),
            }
        }
        match queued {
            Some((to, len)) => {
                if ring.send(to, e.generation, b, len, false).is_err() {
                    self.counters.send_failed();
                    ring.give_back(b);
                }
            }
            None => ring.give_back(b),
        }
        if self.connect {
            follow(e, side, rtcp);
        }
        drain(e, now, &mut self.out, &mut self.counters);
        arm(e, slot, &mut self.timers);
    }

    /// A queued send finished: its buffer goes back to the ring, or, after an ICMP error about
    /// an earlier packet, it is sent once more.
    fn sent(&mut self, t: Token, generation: u32, buffer: u16, retried: bool, result: i32) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if result >= 0 {
            self.counters.relayed += 1;
            ring.give_back(buffer);
            return;
        }
        if !retried && is_icmp_errno(-result) {
            self.counters.icmp += 1;
            let (slot, side, rtcp) = untoken(t);
            if let Some(Some(e)) = self.slots.get(slot) {
                let fd = e.sides[side.index()]
                    .as_ref()
                    .map(|s| s.socket(rtcp).socket().as_raw_fd());
                if let Some(fd) = fd.filter(|_| generation_bits(e.generation) == generation) {
                    if ring.resend((t.0, fd), e.generation, buffer).is_ok() {
                        return;
                    }
                }
            }
        }
        self.counters.send_failed();
        ring.give_back(buffer);
    }
}
