//! Which media thread a new session goes to: sessions are packed onto the fewest threads that
//! carry them with time to spare, and spill onto the next thread only when the ones before it
//! are busy.
//!
//! Why pack: a media thread that often runs out of work sleeps in `epoll_wait` and is woken
//! again by the next packet, and on a small machine that sleep and wake-up costs more than
//! the packet (benches/README.md, "Relay side by side with rtpengine": two half-idle threads
//! spent 0.65-0.78 of rtpengine's CPU per packet where one busy thread spent 0.46-0.60, with a
//! sixth as many context switches). More threads buy headroom, not cheaper packets, so they
//! are used once the first ones are full.
//!
//! The policy ([`place`]): the lowest-index thread whose expected busy fraction is below
//! [`SPILL_AT`] (70 % of its wall time between `epoll_wait` returns and the next wait) takes
//! the session; when every thread is at or above it, the one expected to be least busy does.
//! A thread's expected busy fraction ([`Load::expected`]) is what its last figure measured for
//! the sessions that figure covered, plus an estimate for the sessions placed since, so that a
//! burst of set-ups does not all land on one thread before its figure shows them:
//!
//! - the figure is published by the thread once a second: the busy fraction of that second
//!   and the sessions open through all of it (`load.rs`); divided, the busy fraction one of
//!   its sessions costs on that thread, whatever the sessions do (relayed, transcoded, ringing
//!   without media, on hold);
//! - sessions the figure does not cover (placed since, in the plane's own count) are costed at
//!   that measured cost or at [`SESSION_COST`] (a relayed G.711 call), whichever is more:
//!   a session just placed has usually not sent a packet yet;
//! - sessions closed since the figure take their share off it.
//!
//! Sessions stay on the thread they were placed on for their whole life: no live session is
//! moved, so the plane packs as new calls come and go (the threads of the highest indexes
//! empty first as their calls end, and block in `epoll_wait` with nothing to time).
//!
//! Sans-IO: figures in, a thread index out; no clock, atomics or threads here. The runtime
//! reads the figures from the threads' atomics (`load.rs`) in `MediaPlane::open`.

/// The busy fraction from which a thread takes no more sessions while another thread is below
/// it. The margin above it is for the bursts of packets and set-ups that come before the next
/// figure, and for the sessions placed in the meantime that send more than estimated.
pub(super) const SPILL_AT: f64 = 0.70;

/// The busy fraction a session is estimated at before any figure covers it: a relayed G.711
/// call, 100 packets a second at 6.5 µs each (the CPU per packet of one media thread relaying
/// 250 to 1,000 calls on a 2-vCPU EPYC VM was 6.2-6.6 µs, benches/README.md; a faster machine
/// costs less, which only makes the estimate of a burst cautious). With [`SPILL_AT`], about
/// 1,070 such sessions set up at once fit on one thread before the next takes any.
pub(super) const SESSION_COST: f64 = 100.0 * 6.5e-6;

/// What the plane knows of one media thread when a session is to be placed.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub(super) struct Load {
    /// The busy fraction of the thread's last measured second (0 to 1): time between its
    /// `epoll_wait` returns and its next waits. 0 when the figure is old (the thread has been
    /// waiting since).
    pub(super) busy: f64,
    /// Sessions the thread had open through the whole of that second.
    pub(super) covered: u32,
    /// Sessions placed on the thread and not closed, counted by the plane as it places and
    /// closes them (so sessions the thread has not even opened yet count).
    pub(super) sessions: u32,
}

impl Load {
    /// The busy fraction one session costs on this thread, as measured (0 with no sessions
    /// covered).
    fn measured_cost(&self) -> f64 {
        if self.covered == 0 {
            0.0
        } else {
            self.busy / f64::from(self.covered)
        }
    }

    /// The busy fraction the thread is expected at with its sessions of now.
    pub(super) fn expected(&self) -> f64 {
        let measured = self.measured_cost();
        // the covered sessions still open; the plane cannot tell a session closed since the
        // figure from one placed since, so closed ones are assumed first (the cautious way
        // round would count a session that came and went as still there)
        let kept = self.sessions.min(self.covered);
        let placed_since = self.sessions - kept;
        f64::from(kept) * measured + f64::from(placed_since) * measured.max(SESSION_COST)
    }
}

/// The thread a new session goes to: the lowest index expected below [`SPILL_AT`], else the
/// least busy (the first of equals). `loads` is by thread index; with none, 0.
pub(super) fn place(loads: impl IntoIterator<Item = Load>) -> usize {
    let mut least = (0, f64::INFINITY);
    for (i, load) in loads.into_iter().enumerate() {
        let e = load.expected();
        if e < SPILL_AT {
            return i;
        }
        if e < least.1 {
            least = (i, e);
        }
    }
    least.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(busy: f64, covered: u32, sessions: u32) -> Load {
        Load {
            busy,
            covered,
            sessions,
        }
    }

    fn idle() -> Load {
        Load::default()
    }

    #[test]
    fn an_idle_plane_puts_every_session_on_the_first_thread() {
        assert_eq!(place([idle(), idle(), idle()]), 0);
    }

    #[test]
    fn the_first_thread_below_the_threshold_takes_it_even_when_a_later_one_is_idler() {
        assert_eq!(place([load(0.69, 500, 500), idle()]), 0);
        assert_eq!(
            place([load(0.75, 500, 500), load(0.5, 300, 300), idle()]),
            1
        );
    }

    #[test]
    fn a_thread_at_the_threshold_spills_to_the_next() {
        assert_eq!(place([load(SPILL_AT, 500, 500), idle()]), 1);
    }

    #[test]
    fn when_every_thread_is_busy_the_least_busy_takes_it() {
        assert_eq!(
            place([
                load(0.95, 900, 900),
                load(0.8, 700, 700),
                load(0.9, 800, 800)
            ]),
            1
        );
        assert_eq!(
            place([load(0.9, 9, 9), load(0.9, 9, 9)]),
            0,
            "the first of equals"
        );
    }

    #[test]
    fn a_burst_of_set_ups_spills_before_any_figure_shows_it() {
        // sessions placed one after another on an unmeasured plane: the first thread takes
        // those its estimate leaves room for, then the second
        let mut loads = [idle(), idle()];
        let mut on_first = 0;
        for _ in 0..2000 {
            let i = place(loads);
            loads[i].sessions += 1;
            if i == 0 {
                on_first += 1;
            }
        }
        let room = (SPILL_AT / SESSION_COST).ceil() as u32;
        assert_eq!(on_first, room);
        assert_eq!(loads[0].sessions, room);
        assert_eq!(loads[1].sessions, 2000 - room);
    }

    #[test]
    fn a_measured_thread_admits_new_sessions_at_its_own_cost_when_dearer_than_the_estimate() {
        // 100 transcoded calls measured at 0.251 % each: room for 179 more
        let mut l = load(0.251, 100, 100);
        let mut placed = 0;
        while place([l, idle()]) == 0 {
            l.sessions += 1;
            placed += 1;
        }
        assert_eq!(placed, ((SPILL_AT - 0.251) / 0.00251).ceil() as u32);
        assert!(placed < ((SPILL_AT - 0.251) / SESSION_COST) as u32 / 2);
    }

    #[test]
    fn a_thread_measured_cheaper_than_the_estimate_still_costs_new_sessions_at_the_estimate() {
        // 1,000 sessions measured at 0.2 (ringing, on hold or cheap): the next ones are
        // assumed to be relayed calls until a figure covers them
        let l = load(0.2, 1000, 1000);
        let more = ((SPILL_AT - 0.2) / SESSION_COST).ceil() as u32;
        assert_eq!(place([load(0.2, 1000, 1000 + more - 1), idle()]), 0);
        assert_eq!(place([load(0.2, 1000, 1000 + more), idle()]), 1);
        assert!((l.expected() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn sessions_closed_since_the_figure_take_their_share_off() {
        // measured full with 1,000 sessions; 600 have ended since
        let l = load(0.9, 1000, 400);
        assert!((l.expected() - 0.36).abs() < 1e-9);
        assert_eq!(place([l, idle()]), 0);
        // every session ended: an idle thread, whatever the old figure said
        assert_eq!(load(0.9, 1000, 0).expected(), 0.0);
    }

    #[test]
    fn an_old_figure_read_as_zero_costs_new_sessions_at_the_estimate() {
        let l = load(0.0, 300, 310);
        assert!((l.expected() - 10.0 * SESSION_COST).abs() < 1e-12);
    }

    #[test]
    fn no_threads_is_thread_zero() {
        assert_eq!(place(std::iter::empty()), 0);
    }
}
