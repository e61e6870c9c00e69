//! A media thread's feed bell: how a producer of fed payloads (the conference mixer thread)
//! tells the thread that payloads wait in its sessions' feeds, so they go out at once instead
//! of on the thread's next frame tick.
//!
//! Ringing sets a flag and wakes the thread's poll (the same `mio::Waker` as its commands)
//! only when the flag was clear: one wake-up per thread however many of its sessions got a
//! payload. The thread clears the flag when it wakes, then gives every fed session a
//! `handle_feed`. Ringing neither allocates nor locks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The bell of one media thread: cheap to clone, for every participant on that thread.
#[derive(Clone)]
pub struct FeedBell {
    inner: Arc<Bell>,
}

struct Bell {
    rung: AtomicBool,
    waker: Arc<mio::Waker>,
}

impl std::fmt::Debug for FeedBell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedBell")
            .field("rung", &self.inner.rung.load(Ordering::Relaxed))
            .finish()
    }
}

impl FeedBell {
    pub(crate) fn new(waker: Arc<mio::Waker>) -> FeedBell {
        FeedBell {
            inner: Arc::new(Bell {
                rung: AtomicBool::new(false),
                waker,
            }),
        }
    }

    /// Payloads wait: the thread sends them as soon as it wakes. Call after writing them.
    pub fn ring(&self) {
        // the swap orders the payloads written before it ahead of the thread's reads after
        // its own swap in `answer`
        if !self.inner.rung.swap(true, Ordering::AcqRel) {
            // a failed wake (the thread is gone) loses nothing it would have done
            let _ = self.inner.waker.wake();
        }
    }

    /// Whether the bell rang since the last answer (and clears it).
    pub(crate) fn answer(&self) -> bool {
        self.inner.rung.swap(false, Ordering::AcqRel)
    }

    /// Whether two handles ring the same thread.
    pub fn same_thread(&self, other: &FeedBell) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ringing_twice_before_an_answer_wakes_the_thread_once() {
        let mut poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(1)).unwrap());
        let bell = FeedBell::new(waker);
        let other = bell.clone();
        assert!(!bell.answer());
        bell.ring();
        other.ring();
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(std::time::Duration::from_secs(1)))
            .unwrap();
        assert_eq!(events.iter().count(), 1, "woken");
        assert!(bell.answer(), "it rang");
        assert!(!bell.answer(), "once");
        assert!(bell.same_thread(&other));
    }
}
