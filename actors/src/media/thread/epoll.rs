//! The media thread's epoll loop (`media.io = "epoll"`, and wherever io_uring cannot be set
//! up): `epoll_wait` on the sockets and the waker, then per readable socket `recvmmsg`
//! batches until it is empty (`recv.rs`), each datagram to its session, a relayed packet
//! sent at once from the other side's socket.

use std::cmp::Reverse;
use std::io::ErrorKind;
use std::time::Instant;

use mio::{Events, Token};
use switchboard_engine::media::session::Action;

use super::{arm, drain, follow, untoken, MediaThread, CLOCK_EVERY, MAX_RECV_ERRORS, WAKER};
use crate::media::recv::BATCH;
use crate::media::socket::is_icmp;

impl MediaThread {
    /// Runs until `Stop`.
    pub(super) fn run_epoll(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            // the figure of the last second, with the counts, once a second (and zeroes once
            // when the last session has closed: then no deadline wakes the thread again)
            if self.meter.waits(now, self.by_id.len()) {
                self.publish();
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
    }

    /// Everything waiting on a socket of a session, at `now` (read when the poll returned and
    /// again every `CLOCK_EVERY` sockets, not per packet).
    fn readable(&mut self, t: Token, now: Instant) {
        let (slot, side, rtcp) = untoken(t);
        let Some(Some(e)) = self.slots.get_mut(slot) else {
            return;
        };
        let mut errors = 0;
        loop {
            let Some(sock) = e.sides[side.index()].as_ref().map(|s| s.socket(rtcp)) else {
                return;
            };
            let n = match self.batch.recv(sock.socket()) {
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => {
                    // an ICMP error queued on a connected socket: taken, move on
                    if is_icmp(&err) {
                        self.counters.icmp += 1;
                    }
                    errors += 1;
                    if errors < MAX_RECV_ERRORS {
                        continue;
                    }
                    break;
                }
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
                        let icmp = &mut self.counters.icmp;
                        let sent = e.sides[to.index()]
                            .as_ref()
                            .map(|s| s.socket(rtcp).send(&buf[..len], addr, icmp));
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
        if self.connect {
            follow(e, side, rtcp);
        }
        drain(e, now, &mut self.out, &mut self.counters);
        arm(e, slot, &mut self.timers);
    }
}
