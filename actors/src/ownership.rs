//! Who owns what: the worker a key belongs to (`shard_of`), actors started on demand per key
//! and retired when idle (`Registry`), and the actors that own the Call-IDs of this arbiter
//! (`owners`, one table per arbiter thread).
//!
//! Retirement is race-free without locks: a registry counts what it sends to each actor, an
//! idle actor reports how many messages it handled, and the registry retires it only if the
//! two agree, so no message is ever in flight to a stopping actor. The next message for the
//! key starts a fresh actor (which reloads what it needs from the store).
//!
//! Imports nothing of this crate but the message every Call-ID owner takes (`api::leg`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use actix::{Actor, Addr, Context, Handler, Message, Recipient};
use rustc_hash::FxHashMap;

use crate::api::leg::FromNetwork;

/// Which of `shards` workers owns `key` (a Call-ID, an address of record, a room name): every
/// message about one key is handled on one arbiter. FNV-1a, stable across runs and processes.
pub fn shard_of(key: &str, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in key.as_bytes() {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// Shrinks a map that holds far less than it has room for: after a burst, idle memory stays
/// proportional to what is live.
pub fn shrink<K: Hash + Eq, V, S: BuildHasher>(m: &mut HashMap<K, V, S>) {
    if m.capacity() > 4 * m.len() + 1024 {
        m.shrink_to(2 * m.len());
    }
}

/// Tells an actor its registry retired it: everything it was sent has been handled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

/// An actor's id in its registry, unique per registry: a key's next actor gets a new one, so
/// a late report of an old actor never touches its successor.
pub type OwnerId = u64;

struct Entry<M: Message<Result = ()> + Send> {
    id: OwnerId,
    addr: Recipient<M>,
    stop: Recipient<Stop>,
    sent: u64,
}

/// A live actor found by `Registry::live`.
pub struct Live<'a, M: Message<Result = ()> + Send> {
    entry: &'a mut Entry<M>,
}

impl<M: Message<Result = ()> + Send> Live<'_, M> {
    /// Sends it one message (counted, for retirement).
    pub fn send(self, msg: M) {
        self.entry.sent += 1;
        self.entry.addr.do_send(msg);
    }
}

/// The actors of one kind on one arbiter, by key, each taking messages `M`.
pub struct Registry<K, M: Message<Result = ()> + Send> {
    entries: FxHashMap<K, Entry<M>>,
    next_id: OwnerId,
}

impl<K: Hash + Eq + Clone, M: Message<Result = ()> + Send + 'static> Default for Registry<K, M> {
    fn default() -> Self {
        Registry {
            entries: FxHashMap::default(),
            next_id: 1,
        }
    }
}

impl<K, M> Registry<K, M>
where
    K: Hash + Eq + Clone,
    M: Message<Result = ()> + Send + 'static,
{
    /// Sends `msg` to the live actor of `key`, starting one with `start(id)` when there is
    /// none (or it stopped).
    pub fn send<A>(&mut self, key: &K, msg: M, start: impl FnOnce(OwnerId) -> Addr<A>)
    where
        A: Actor<Context = Context<A>> + Handler<M> + Handler<Stop>,
    {
        let live = self.entries.get(key).is_some_and(|e| e.addr.connected());
        if !live {
            let id = self.new_id();
            self.file(key.clone(), id, start(id), 0);
        }
        // just filed or found live above
        let e = self.entries.get_mut(key).expect("entry present");
        e.sent += 1;
        e.addr.do_send(msg);
    }

    /// An id for an actor that will be filed with `file`.
    pub fn new_id(&mut self) -> OwnerId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Files an actor started by the caller under `key` (replacing any), counting `sent`
    /// messages it was already given.
    pub fn file<A>(&mut self, key: K, id: OwnerId, addr: Addr<A>, sent: u64)
    where
        A: Actor<Context = Context<A>> + Handler<M> + Handler<Stop>,
    {
        let entry = Entry {
            id,
            addr: addr.clone().recipient(),
            stop: addr.recipient(),
            sent,
        };
        self.entries.insert(key, entry);
    }

    /// Delivers `msg` to the live actor of `key`; gives it back when there is none.
    pub fn deliver<Q>(&mut self, key: &Q, msg: M) -> Result<(), M>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.live(key) {
            Some(to) => {
                to.send(msg);
                Ok(())
            }
            None => Err(msg),
        }
    }

    /// The live actor of `key`, to send one message to (a stopped one is forgotten). The
    /// key is only borrowed for the lookup, so it may borrow from the message then sent.
    pub fn live<Q>(&mut self, key: &Q) -> Option<Live<'_, M>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !self.entries.get(key)?.addr.connected() {
            self.entries.remove(key);
            return None;
        }
        self.entries.get_mut(key).map(|entry| Live { entry })
    }

    /// Actor `id` of `key` is idle after handling `processed` messages: if that is everything
    /// it was sent, it is forgotten and told to `Stop`. Returns whether it was.
    pub fn retire<Q>(&mut self, key: &Q, id: OwnerId, processed: u64) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let idle = self
            .entries
            .get(key)
            .is_some_and(|e| e.id == id && e.sent == processed);
        if idle {
            if let Some(e) = self.entries.remove(key) {
                e.stop.do_send(Stop);
            }
            shrink(&mut self.entries);
        }
        idle
    }

    /// Forgets actor `id` of `key`: it stopped.
    pub fn remove<Q>(&mut self, key: &Q, id: OwnerId)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.entries.get(key).is_some_and(|e| e.id == id) {
            self.entries.remove(key);
            shrink(&mut self.entries);
        }
    }

    /// The keys of the live actors.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries
            .iter()
            .filter(|(_, e)| e.addr.connected())
            .map(|(k, _)| k)
    }

    /// Actors filed now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives back what a burst grew.
    pub fn shrink(&mut self) {
        shrink(&mut self.entries);
    }
}

thread_local! {
    static OWNERS: RefCell<Registry<Box<str>, FromNetwork>> = RefCell::new(Registry::default());
}

/// The actors that own the Call-IDs of this arbiter (CallLegs, Subscriptions, Deliveries):
/// the worker delivers what arrives for a Call-ID to its owner; an owner files itself, and
/// retires or leaves through here without a message to the worker. One table per arbiter
/// thread, touched only from that thread, so it needs no lock.
///
/// `f` must not call `owners` again (the table is borrowed while it runs).
pub fn owners<R>(f: impl FnOnce(&mut Registry<Box<str>, FromNetwork>) -> R) -> R {
    OWNERS.with(|o| f(&mut o.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::ActorContext;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Ping;

    struct Counter {
        handled: Arc<AtomicU64>,
        stopped: Arc<AtomicU64>,
    }

    impl Actor for Counter {
        type Context = Context<Self>;
        fn stopped(&mut self, _: &mut Context<Self>) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Handler<Ping> for Counter {
        type Result = ();
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) {
            self.handled.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Handler<Stop> for Counter {
        type Result = ();
        fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
            ctx.stop();
        }
    }

    #[test]
    fn sharding_is_stable_and_spreads() {
        assert_eq!(shard_of("abc@host", 4), shard_of("abc@host", 4));
        let used: std::collections::HashSet<_> = (0..100)
            .map(|i| shard_of(&format!("call-{i}"), 4))
            .collect();
        assert_eq!(used.len(), 4);
        assert_eq!(shard_of("anything", 0), 0);
    }

    #[actix_rt::test]
    async fn an_actor_is_retired_only_when_it_handled_everything_it_was_sent() {
        let handled = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicU64::new(0));
        let mut r: Registry<String, Ping> = Registry::default();
        let key = "k".to_string();
        let mut started = Vec::new();
        for _ in 0..3 {
            r.send(&key, Ping, |id| {
                started.push(id);
                Counter {
                    handled: handled.clone(),
                    stopped: stopped.clone(),
                }
                .start()
            });
        }
        assert_eq!(started, vec![1], "one actor, started on demand");
        // a report of two handled messages while three were sent: a message is in flight
        assert!(!r.retire(&key, 1, 2));
        assert!(!r.retire(&key, 7, 3), "another actor's report");
        assert!(r.retire(&key, 1, 3));
        assert!(r.is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(handled.load(Ordering::SeqCst), 3);
        assert_eq!(stopped.load(Ordering::SeqCst), 1, "told to stop");
        // the next message starts a new actor with a new id
        r.send(&key, Ping, |id| {
            started.push(id);
            Counter {
                handled: handled.clone(),
                stopped: stopped.clone(),
            }
            .start()
        });
        assert_eq!(started, vec![1, 2]);
        r.remove(&key, 1);
        assert_eq!(r.len(), 1, "a stale removal leaves the successor");
        r.remove(&key, 2);
        assert!(r.is_empty());
    }

    #[actix_rt::test]
    async fn delivery_to_a_stopped_actor_gives_the_message_back() {
        let handled = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicU64::new(0));
        let mut r: Registry<String, Ping> = Registry::default();
        assert!(r.deliver("none", Ping).is_err());
        let addr = Counter {
            handled: handled.clone(),
            stopped: stopped.clone(),
        }
        .start();
        let id = r.new_id();
        r.file("k".to_string(), id, addr.clone(), 0);
        assert!(r.deliver("k", Ping).is_ok());
        addr.do_send(Stop);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(r.deliver("k", Ping).is_err(), "its actor stopped");
        assert!(r.is_empty());
    }
}
