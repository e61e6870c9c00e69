//! How busy each media thread is, for placing sessions (`placement.rs`) and for the metrics.
//!
//! A thread measures its busy time, the wall time from each return of `epoll_wait` to its next
//! wait, with the clock reads its loop makes anyway ([`Meter`]: two plain additions a
//! wake-up), and once a second publishes the busy fraction of that second and the sessions it
//! had open through all of it into its [`ThreadLoad`] (relaxed atomics, one writer) and into
//! the `media_thread_busy` and `media_thread_sessions` gauges. The plane counts the sessions it
//! placed on each thread and not yet closed in the same `ThreadLoad` as it places and closes
//! them, so a session counts from the moment it is placed.
//!
//! A thread on an io_uring (`media.io = "uring"`) does its packets' kernel work inside its
//! wait (the receives run as its deferred task work, the sends at submission), so there the
//! busy time is the thread's CPU time instead (one `clock_gettime` of the thread's CPU clock
//! per published second).
//!
//! A thread with no sessions publishes zeroes and then blocks in `epoll_wait` with no timeout;
//! a figure older than [`STALE`] is read as an idle second (a thread that has not woken for
//! that long was waiting).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

use super::placement::Load;
use crate::metrics::{Metrics, ThreadLabel};

/// How often a busy thread publishes its figure.
pub(super) const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// A figure older than this is read as busy 0.
pub(super) const STALE: Duration = Duration::from_secs(3);

/// One media thread's figures, shared between the thread (busy, covered) and the plane
/// (sessions).
#[derive(Debug)]
pub(super) struct ThreadLoad {
    epoch: Instant,
    /// Sessions placed and not closed (the plane's count).
    sessions: AtomicU32,
    /// The busy fraction of the last published second, in millionths.
    busy_ppm: AtomicU32,
    /// Sessions open through the whole of that second.
    covered: AtomicU32,
    /// When it was published: milliseconds after `epoch`.
    published_ms: AtomicU64,
}

impl ThreadLoad {
    pub(super) fn new(epoch: Instant) -> ThreadLoad {
        ThreadLoad {
            epoch,
            sessions: AtomicU32::new(0),
            busy_ppm: AtomicU32::new(0),
            covered: AtomicU32::new(0),
            published_ms: AtomicU64::new(0),
        }
    }

    /// A session was placed on the thread.
    pub(super) fn placed(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    /// A session placed on the thread was closed.
    pub(super) fn closed(&self) {
        let _ = self
            .sessions
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The figures as of `now`, for `placement::place`.
    pub(super) fn load(&self, now: Instant) -> Load {
        let age = self
            .millis(now)
            .saturating_sub(self.published_ms.load(Ordering::Relaxed));
        let busy = if age > STALE.as_millis() as u64 {
            0.0
        } else {
            f64::from(self.busy_ppm.load(Ordering::Relaxed)) / 1e6
        };
        Load {
            busy,
            covered: self.covered.load(Ordering::Relaxed),
            sessions: self.sessions.load(Ordering::Relaxed),
        }
    }

    fn publish(&self, now: Instant, busy: f64, covered: u32) {
        self.busy_ppm
            .store((busy.clamp(0.0, 1.0) * 1e6) as u32, Ordering::Relaxed);
        self.covered.store(covered, Ordering::Relaxed);
        self.published_ms.store(self.millis(now), Ordering::Relaxed);
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }
}

/// The thread's side: busy time and sessions opened since the last figure.
pub(super) struct Meter {
    shared: Arc<ThreadLoad>,
    busy_gauge: Gauge<f64, AtomicU64>,
    sessions_gauge: Gauge,
    /// When the second being measured began.
    since: Instant,
    /// When `epoll_wait` last returned.
    woke: Instant,
    busy: Duration,
    /// Sessions opened since `since` (not open through all of it).
    opened: u32,
    /// Zeroes were published and nothing has been opened since.
    idle: bool,
    /// Busy time is the thread's CPU time: its reading when the second began.
    cpu: Option<Duration>,
}

impl Meter {
    pub(super) fn new(
        index: usize,
        shared: Arc<ThreadLoad>,
        metrics: &Metrics,
        now: Instant,
    ) -> Meter {
        let label = ThreadLabel {
            thread: index as u32,
        };
        Meter {
            shared,
            busy_gauge: metrics.media_thread_busy.get_or_create(&label).clone(),
            sessions_gauge: metrics.media_thread_sessions.get_or_create(&label).clone(),
            since: now,
            woke: now,
            busy: Duration::ZERO,
            opened: 0,
            idle: false,
            cpu: None,
        }
    }

    /// Measures busy time as the thread's CPU time from now on (a thread whose kernel work
    /// runs inside its wait). Call on the thread itself.
    pub(super) fn use_cpu_time(&mut self) {
        self.cpu = Some(thread_cpu_time());
    }

    /// `epoll_wait` returned at `now`.
    pub(super) fn woke(&mut self, now: Instant) {
        self.woke = now;
    }

    /// The thread is about to wait, at `now`; with `open` sessions. Publishes the figure when
    /// a second has passed, or zeroes once when the thread has no session left; true when it
    /// published (the caller flushes its counters with it).
    pub(super) fn waits(&mut self, now: Instant, open: usize) -> bool {
        self.busy += now.saturating_duration_since(self.woke);
        let elapsed = now.saturating_duration_since(self.since);
        if open == 0 {
            if self.idle {
                return false;
            }
            self.idle = true;
            self.publish(now, 0.0, 0, 0);
            return true;
        }
        if elapsed < PUBLISH_EVERY {
            return false;
        }
        let busy = match self.cpu {
            Some(before) => {
                let cpu = thread_cpu_time();
                self.cpu = Some(cpu);
                cpu.saturating_sub(before)
            }
            None => self.busy,
        };
        let busy = busy.as_secs_f64() / elapsed.as_secs_f64();
        let covered = (open as u32).saturating_sub(self.opened);
        self.publish(now, busy, covered, open);
        true
    }

    /// The thread opened a session.
    pub(super) fn opened(&mut self) {
        self.opened += 1;
        self.idle = false;
    }

    fn publish(&mut self, now: Instant, busy: f64, covered: u32, open: usize) {
        self.shared.publish(now, busy, covered);
        self.busy_gauge.set(busy);
        self.sessions_gauge.set(open as i64);
        self.since = now;
        self.busy = Duration::ZERO;
        self.opened = 0;
    }
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    // SAFETY: all zeroes is a valid timespec, which clock_gettime fills
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid timespec to write to
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn meter(t0: Instant) -> (Meter, Arc<ThreadLoad>, Metrics) {
        let m = Metrics::new();
        let shared = Arc::new(ThreadLoad::new(t0));
        (Meter::new(3, shared.clone(), &m, t0), shared, m)
    }

    #[test]
    fn the_busy_fraction_is_the_time_between_wake_ups_and_waits_over_the_second() {
        let t0 = Instant::now();
        let (mut m, shared, metrics) = meter(t0);
        for _ in 0..4 {
            m.opened();
        }
        m.waits(t0, 4);
        // ten wake-ups of 30 ms each over 1 s: 0.3
        for k in 0..10 {
            let t = t0 + 100 * MS * k;
            m.woke(t);
            assert!(!m.waits(t + 30 * MS, 4), "not a second yet");
        }
        m.woke(t0 + 1000 * MS);
        assert!(m.waits(t0 + 1000 * MS, 4));
        let l = shared.load(t0 + 1000 * MS);
        assert!((l.busy - 0.3).abs() < 1e-3, "{}", l.busy);
        assert_eq!(l.covered, 0, "all four opened during the second");
        let gauge = metrics
            .media_thread_busy
            .get_or_create(&ThreadLabel { thread: 3 })
            .get();
        assert!((gauge - 0.3).abs() < 1e-3);
        // the next second covers them
        m.woke(t0 + 1500 * MS);
        assert!(m.waits(t0 + 2000 * MS, 4));
        let l = shared.load(t0 + 2000 * MS);
        assert!((l.busy - 0.5).abs() < 1e-3, "{}", l.busy);
        assert_eq!(l.covered, 4);
    }

    #[test]
    fn the_plane_counts_placed_sessions_until_they_close() {
        let t0 = Instant::now();
        let shared = ThreadLoad::new(t0);
        shared.placed();
        shared.placed();
        shared.closed();
        assert_eq!(shared.load(t0).sessions, 1);
        shared.closed();
        shared.closed();
        assert_eq!(shared.load(t0).sessions, 0, "never below zero");
    }

    #[test]
    fn an_old_figure_reads_as_idle() {
        let t0 = Instant::now();
        let (mut m, shared, _metrics) = meter(t0);
        m.opened();
        m.woke(t0);
        assert!(m.waits(t0 + 1000 * MS, 1));
        assert!(shared.load(t0 + 1000 * MS).busy > 0.99);
        assert!(shared.load(t0 + 1000 * MS + STALE).busy > 0.99);
        assert_eq!(shared.load(t0 + 1001 * MS + STALE).busy, 0.0);
    }

    #[test]
    fn a_thread_left_without_sessions_publishes_zeroes_once() {
        let t0 = Instant::now();
        let (mut m, shared, metrics) = meter(t0);
        m.opened();
        m.woke(t0);
        assert!(m.waits(t0 + 1000 * MS, 1));
        m.woke(t0 + 1000 * MS);
        assert!(m.waits(t0 + 1001 * MS, 0), "the last session closed");
        let l = shared.load(t0 + 1001 * MS);
        assert_eq!((l.busy, l.covered), (0.0, 0));
        let label = ThreadLabel { thread: 3 };
        assert_eq!(metrics.media_thread_busy.get_or_create(&label).get(), 0.0);
        assert_eq!(metrics.media_thread_sessions.get_or_create(&label).get(), 0);
        m.woke(t0 + 1001 * MS);
        assert!(!m.waits(t0 + 1002 * MS, 0), "once");
    }

    #[test]
    fn a_thread_measured_by_cpu_time_counts_what_it_ran_not_what_it_waited() {
        let t0 = Instant::now();
        let (mut m, shared, _metrics) = meter(t0);
        m.use_cpu_time();
        m.opened();
        // spin about 100 ms of CPU, then sleep 200 ms: about a third busy
        let spin = Instant::now();
        while spin.elapsed() < 100 * MS {
            std::hint::black_box(0u64);
        }
        std::thread::sleep(200 * MS);
        let now = Instant::now();
        m.woke(now);
        assert!(m.waits(t0 + 1000 * MS, 1));
        let busy = shared.load(t0 + 1000 * MS).busy;
        // at most the CPU it had (the machine may have lent it less than 100 ms)
        assert!(busy > 0.0 && busy <= 0.15, "{busy}");
    }
}
