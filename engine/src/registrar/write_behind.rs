//! When an address's bindings reach the store: at once when they change, later when a refresh
//! only moved their expiries.
//!
//! A phone that refreshes its registration sends the same Contact from the same place with a
//! higher CSeq; the only thing that changes is the expiry (`Applied::Refreshed`). Writing
//! each of those costs a store write per REGISTER for a fact a crash barely needs: the phone
//! refreshes again anyway. So a refresh is held back when the stored copy is still close
//! enough, and written by a deadline:
//!
//! - a refresh is written at once unless every binding's new expiry is less than `every`
//!   seconds later than the stored one, and the soonest stored expiry is more than
//!   `2 * every` seconds away (the stored copy never lapses while a write is held back);
//! - a held-back refresh is written at the latest `every` seconds after the first one held
//!   back (`poll_timeout`), or earlier with the next change;
//! - anything else (`Applied::Changed`) is written at once.
//!
//! What a crash loses: every binding is in the store, with an expiry less than `every`
//! seconds older than the one its phone was given; a phone that refreshes more than `every`
//! seconds before its expiry (most refresh at half of it) loses nothing, and a binding that
//! lapsed early is made again by the phone's next refresh.
//!
//! Time is seconds since the Unix epoch, as for bindings. Drive it with `handle_written`
//! after every store write (and after loading), `handle_applied` after every REGISTER, and
//! write when `poll_timeout` is due (`handle_timeout`).

use std::time::Duration;

use super::Applied;
use crate::store::BindingRecord;

/// Whether to write the bindings to the store now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Write them now.
    Now,
    /// Held back until `poll_timeout`.
    Later,
    /// Nothing to write.
    Nothing,
}

/// The write-behind state of one address (see the module docs).
#[derive(Debug, Clone)]
pub struct WriteBehind {
    every: u64,
    /// The expiries of the stored copy, in binding order.
    stored: Vec<u64>,
    /// When the held-back refresh is written.
    due: Option<u64>,
}

impl WriteBehind {
    /// Holds refreshes back by at most `every` (whole seconds; zero writes every refresh).
    pub fn new(every: Duration) -> WriteBehind {
        WriteBehind {
            every: every.as_secs(),
            stored: Vec::new(),
            due: None,
        }
    }

    /// The store now holds `bindings` (written, or just loaded).
    pub fn handle_written(&mut self, bindings: &[BindingRecord]) {
        self.stored.clear();
        self.stored.extend(bindings.iter().map(|b| b.expires_at));
        self.due = None;
    }

    /// A REGISTER was applied at `now` with the result `applied`, leaving `bindings`.
    pub fn handle_applied(
        &mut self,
        now: u64,
        applied: Applied,
        bindings: &[BindingRecord],
    ) -> Write {
        match applied {
            Applied::Unchanged => Write::Nothing,
            Applied::Changed => Write::Now,
            Applied::Refreshed if self.may_hold(now, bindings) => {
                self.due.get_or_insert(now + self.every);
                Write::Later
            }
            Applied::Refreshed => Write::Now,
        }
    }

    /// When the held-back refresh must be written, if one is.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.due
    }

    /// Whether a held-back refresh is due at `now` (write it, then `handle_written`).
    pub fn handle_timeout(&mut self, now: u64) -> bool {
        self.due.is_some_and(|due| due <= now)
    }

    /// Whether the stored copy is behind the bindings in memory.
    pub fn is_pending(&self) -> bool {
        self.due.is_some()
    }

    fn may_hold(&self, now: u64, bindings: &[BindingRecord]) -> bool {
        if self.every == 0 || self.stored.len() != bindings.len() {
            return false;
        }
        let close = bindings
            .iter()
            .zip(&self.stored)
            .all(|(b, &stored)| b.expires_at.saturating_sub(stored) < self.every);
        let soonest = self.stored.iter().copied().min().unwrap_or(0);
        close && soonest > now + 2 * self.every
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Transport;
    use crate::presence::caps::Caps;

    fn binding(expires_at: u64) -> BindingRecord {
        BindingRecord {
            uri: "sip:1001@192.0.2.10:5062".into(),
            q: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: Transport::Udp,
            source: "192.0.2.10:5062".parse().unwrap(),
            conn: None,
            caps: Caps::AUDIO,
        }
    }

    const EVERY: Duration = Duration::from_secs(30);

    #[test]
    fn refreshes_within_the_period_are_held_back_and_the_store_stays_less_than_it_behind() {
        let mut w = WriteBehind::new(EVERY);
        // registered at 1000 for 3600 s, written
        let mut stored = 4600;
        w.handle_written(&[binding(stored)]);
        let mut writes = Vec::new();
        // a phone refreshing every second for two minutes
        for t in 1001..=1120 {
            let b = [binding(t + 3600)];
            let now = w.handle_applied(t, Applied::Refreshed, &b) == Write::Now;
            if now || w.handle_timeout(t) {
                writes.push(t);
                stored = b[0].expires_at;
                w.handle_written(&b);
            }
            assert!(
                b[0].expires_at - stored < 30,
                "at {t} the store is {stored}"
            );
        }
        assert_eq!(
            writes,
            [1030, 1060, 1090, 1120],
            "one write per 30 s, not 120"
        );
    }

    #[test]
    fn the_first_held_back_refresh_sets_the_deadline() {
        let mut w = WriteBehind::new(EVERY);
        w.handle_written(&[binding(4600)]);
        assert_eq!(w.poll_timeout(), None);
        let b = [binding(4610)];
        assert_eq!(w.handle_applied(1010, Applied::Refreshed, &b), Write::Later);
        assert_eq!(w.poll_timeout(), Some(1040));
        let b = [binding(4620)];
        assert_eq!(w.handle_applied(1020, Applied::Refreshed, &b), Write::Later);
        assert_eq!(
            w.poll_timeout(),
            Some(1040),
            "not pushed back by later refreshes"
        );
        assert!(!w.handle_timeout(1039));
        assert!(w.handle_timeout(1040));
        w.handle_written(&b);
        assert!(!w.is_pending());
    }

    #[test]
    fn an_expiry_too_far_ahead_of_the_stored_one_is_written_at_once() {
        let mut w = WriteBehind::new(EVERY);
        w.handle_written(&[binding(1600)]);
        // the phone asks for an hour instead of ten minutes
        let b = [binding(4610)];
        assert_eq!(w.handle_applied(1010, Applied::Refreshed, &b), Write::Now);
    }

    #[test]
    fn a_stored_copy_close_to_lapsing_is_written_at_once() {
        let mut w = WriteBehind::new(EVERY);
        // a 60 s registration refreshed 20 s later: the stored copy lapses in 40 s
        w.handle_written(&[binding(1060)]);
        let b = [binding(1080)];
        assert_eq!(w.handle_applied(1020, Applied::Refreshed, &b), Write::Now);
    }

    #[test]
    fn changes_are_written_at_once_and_unchanged_bindings_not_at_all() {
        let mut w = WriteBehind::new(EVERY);
        w.handle_written(&[binding(4600)]);
        let b = [binding(4610)];
        assert_eq!(w.handle_applied(1010, Applied::Changed, &b), Write::Now);
        assert_eq!(
            w.handle_applied(1010, Applied::Unchanged, &b),
            Write::Nothing
        );
        let two = [binding(4610), binding(4610)];
        assert_eq!(
            w.handle_applied(1010, Applied::Refreshed, &two),
            Write::Now,
            "the stored copy has another number of bindings"
        );
        let mut never = WriteBehind::new(Duration::ZERO);
        never.handle_written(&[binding(4600)]);
        assert_eq!(
            never.handle_applied(1010, Applied::Refreshed, &b),
            Write::Now
        );
    }
}
