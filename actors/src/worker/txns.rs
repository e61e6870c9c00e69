//! Server transactions of the requests a worker answers itself (OPTIONS, PUBLISH, refusals;
//! REGISTER is answered without one, see `register`).
//!
//! Under a storm of such requests a worker holds hundreds of thousands of them (each lives for
//! Timer J, 32 s over UDP), so the table's shape matters for latency, not just memory: a hash map
//! that doubles in one step has to move every entry into freshly faulted memory while requests
//! queue behind it. Here the table is split into shards, each resizing on its own, and holds
//! only a key and a pointer per entry, so a resize moves a few bytes per transaction and the
//! transactions themselves stay where they were allocated.
//!
//! Deadlines (Timer J, or a recheck while an Extension answers a PUBLISH) go in a FIFO: every
//! transaction gets the same Timer J, so deadlines arrive in order and no heap is needed.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use rustc_hash::{FxBuildHasher, FxHashMap};
use switchboard_engine::flow::Flow;
use switchboard_engine::txn::{ServerKey, ServerNonInvite};

/// Number of shards: a power of two.
const SHARDS: usize = 16;

/// A transaction and the flow its answers leave by.
pub type Entry = (ServerNonInvite, Flow);

pub struct LocalTxns {
    shards: Box<[FxHashMap<ServerKey, Box<Entry>>]>,
    fifo: Fifo,
}

impl Default for LocalTxns {
    fn default() -> Self {
        LocalTxns {
            shards: (0..SHARDS).map(|_| FxHashMap::default()).collect(),
            fifo: Fifo::default(),
        }
    }
}

impl LocalTxns {
    fn shard(&self, key: &ServerKey) -> usize {
        // bits the maps themselves do not use: the low bits pick a bucket, the top seven
        // are the control tag
        let h = FxBuildHasher.hash_one(key);
        ((h >> 32) as usize) & (SHARDS - 1)
    }

    pub fn get_mut(&mut self, key: &ServerKey) -> Option<&mut Entry> {
        let s = self.shard(key);
        self.shards[s].get_mut(key).map(|b| &mut **b)
    }

    pub fn insert(&mut self, key: ServerKey, entry: Entry) {
        let s = self.shard(&key);
        self.shards[s].insert(key, Box::new(entry));
    }

    pub fn remove(&mut self, key: &ServerKey) {
        let s = self.shard(key);
        self.shards[s].remove(key);
    }

    /// Asks for `key` to be looked at again at `at`.
    pub fn wake_at(&mut self, at: Instant, key: ServerKey) {
        self.fifo.push((at, key));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|m| m.len()).sum()
    }

    /// Runs Timer J of every transaction due and forgets the terminated ones.
    pub fn expire(&mut self, now: Instant) {
        while let Some((_, key)) = self.fifo.pop_due(now) {
            let s = self.shard(&key);
            let Some(entry) = self.shards[s].get_mut(&key) else {
                continue;
            };
            let t = &mut entry.0;
            t.handle_timeout(now);
            while t.poll_output().is_some() {}
            if t.is_terminated() || (t.is_completed() && t.poll_timeout().is_none()) {
                self.shards[s].remove(&key);
            } else {
                // not yet due (a late placeholder), or still waiting for an Extension's answer
                let next = t.poll_timeout().unwrap_or(now + Duration::from_secs(5));
                self.fifo.push((next, key));
            }
        }
    }

    /// Gives back what a burst grew: idle memory stays proportional to what is live.
    pub fn shrink(&mut self) {
        for m in self.shards.iter_mut() {
            crate::ownership::shrink(m);
        }
    }
}

/// Deadlines per chunk: a chunk is 128 KiB.
const CHUNK: usize = 4096;

/// A FIFO of deadlines in fixed-size chunks: it grows a chunk at a time instead of doubling
/// (and copying) one buffer, and gives chunks back as they drain.
#[derive(Default)]
struct Fifo {
    chunks: VecDeque<VecDeque<(Instant, ServerKey)>>,
}

impl Fifo {
    fn push(&mut self, item: (Instant, ServerKey)) {
        match self.chunks.back_mut() {
            Some(c) if c.len() < CHUNK => c.push_back(item),
            _ => {
                let mut c = VecDeque::with_capacity(CHUNK);
                c.push_back(item);
                self.chunks.push_back(c);
            }
        }
    }

    /// The first deadline when it is due by `now`.
    fn pop_due(&mut self, now: Instant) -> Option<(Instant, ServerKey)> {
        let front = self.chunks.front_mut()?;
        if front.front().is_none_or(|(at, _)| *at > now) {
            return None;
        }
        let item = front.pop_front();
        if front.is_empty() {
            self.chunks.pop_front();
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use switchboard_engine::sip::Message;
    use switchboard_engine::txn::Timers;

    fn key(branch: usize) -> ServerKey {
        let raw = format!(
            "REGISTER sip:sb.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
             From: <sip:1001@sb.test>;tag=a\r\nTo: <sip:1001@sb.test>\r\nCall-ID: c{branch}\r\n\
             CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        let req = Message::parse(Bytes::from(raw)).expect("parses");
        ServerKey::from_request(&req).expect("keyed")
    }

    /// A UDP transaction that has sent its final answer: it waits for Timer J.
    fn answered(now: Instant) -> Entry {
        let mut t = ServerNonInvite::new(now, false, Timers::default());
        t.respond(now, 200, Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"))
            .expect("answers");
        while t.poll_output().is_some() {}
        (t, Flow::udp("127.0.0.1:5070".parse().unwrap()))
    }

    #[test]
    fn transactions_spread_over_shards_and_leave_at_timer_j() {
        let now = Instant::now();
        let mut txns = LocalTxns::default();
        let keys: Vec<ServerKey> = (0..1000).map(key).collect();
        for k in &keys {
            let e = answered(now);
            let due = e.0.poll_timeout().expect("Timer J runs");
            txns.insert(k.clone(), e);
            txns.wake_at(due, k.clone());
        }
        assert_eq!(txns.len(), 1000);
        let used = txns.shards.iter().filter(|m| !m.is_empty()).count();
        assert_eq!(used, SHARDS, "every shard takes a share of 1000 keys");

        assert!(txns.get_mut(&keys[7]).is_some());
        txns.remove(&keys[7]);
        assert!(txns.get_mut(&keys[7]).is_none());
        assert_eq!(txns.len(), 999);

        txns.expire(now + Duration::from_secs(31));
        assert_eq!(txns.len(), 999, "Timer J is 64*T1 = 32 s over UDP");
        txns.expire(now + Duration::from_secs(33));
        assert_eq!(txns.len(), 0);
        txns.shrink();
        assert!(txns.shards.iter().all(|m| m.capacity() < 1024));
    }

    #[test]
    fn the_deadline_fifo_keeps_order_across_chunks_and_frees_drained_ones() {
        let t0 = Instant::now();
        let k = key(1);
        let mut f = Fifo::default();
        let n = 3 * CHUNK + 17;
        for i in 0..n {
            f.push((t0 + Duration::from_millis(i as u64), k.clone()));
        }
        assert_eq!(f.chunks.len(), 4);
        assert!(f.pop_due(t0 - Duration::from_millis(1)).is_none());
        let half = t0 + Duration::from_millis((n / 2) as u64);
        let mut last = t0;
        let mut popped = 0;
        while let Some((at, _)) = f.pop_due(half) {
            assert!(at >= last, "deadlines come out in order");
            last = at;
            popped += 1;
        }
        assert_eq!(popped, n / 2 + 1);
        assert_eq!(f.chunks.len(), 3, "the drained first chunk is given back");
        while f.pop_due(t0 + Duration::from_secs(60)).is_some() {}
        assert!(f.chunks.is_empty());
    }
}
