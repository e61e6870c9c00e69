//! The queue writer: the single writer of the durable message queues, on its own thread.
//!
//! Every message for an offline number comes here. The writer takes whatever has arrived (up
//! to `messaging.commit_batch`), checks each number's limits, writes the messages, flushes
//! once (one fsync for the whole batch) and only then acknowledges every one of them: the
//! sender's 202 always follows the write to disk. Removals (delivered, expired) are written
//! behind: a crash before the next flush can only redeliver a message, which its stable
//! `Message-ID` lets the device recognize.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, Sender};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::messaging::{message_id, QueueLimits, QueueUsage, Refusal, StoredMessage};
use switchboard_engine::numbering::Aor;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::metrics::{Metrics, OutcomeLabel};
use crate::store::Store;

mod answers;
mod room_commit;
mod rooms;
use answers::Answers;
pub use answers::{AckSink, Reply};
pub use room_commit::{
    CatchUp, RecordChange, RoomCommit, RoomCommitted, RoomPost, RoomRefused, RoomResult,
};

/// A message accepted for a number: written, flushed, and now waiting.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub aor: Aor,
    pub seq: u64,
    pub id: String,
    /// A dynamic account was made for the number with this message.
    pub dynamic_created: bool,
}

/// Why a message was not accepted.
pub type EnqueueResult = Result<Accepted, Refusal>;

/// What a sweep removed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SweepReport {
    pub expired_messages: u64,
    pub expired_accounts: Vec<String>,
}

/// A message to queue.
pub struct Enqueue {
    pub aor: Aor,
    /// `id` and `expires_unix` are filled in by the writer.
    pub message: StoredMessage,
    /// Make a dynamic account for the number if it has none.
    pub dynamic: Option<DynamicAccount>,
    pub reply: Reply,
}

/// The dynamic account to make with a message.
pub struct DynamicAccount {
    pub realm: String,
    pub expires_unix: u64,
}

enum Op {
    Enqueue(Box<Enqueue>),
    /// A chat room change: its record, a post's history entry and queue copies, notices.
    Room(Box<RoomCommit>),
    /// A message was removed (by whoever delivered it): counters only.
    Removed {
        aor: Aor,
        len: usize,
        outcome: &'static str,
    },
    Purge {
        aor: Aor,
    },
    Sweep {
        now: u64,
        reply: oneshot::Sender<SweepReport>,
    },
}

/// The handle signalling actors and the HTTP API use.
#[derive(Clone)]
pub struct MessageQueue {
    tx: Sender<Op>,
    store: Store,
    /// Messages handed to the writer and not answered yet.
    pending: Arc<AtomicUsize>,
    /// Past this many pending, a message is refused at once (`with_max_pending`).
    max_pending: usize,
    metrics: Arc<Metrics>,
}

/// How the writer runs.
pub struct WriterConfig {
    pub limits: QueueLimits,
    pub ttl_secs: u64,
    pub batch: usize,
    /// Under load (the last commit carried more than one message), the next commit begins
    /// no sooner than this after the last one began: fewer, larger commits, each an fsync
    /// and a wake-up of the store's I/O threads and of every worker waiting for answers.
    /// A lone message is committed at once. Zero: commit as soon as the last one is done.
    pub commit_interval: Duration,
    pub domain: String,
    pub seed: u64,
}

impl MessageQueue {
    /// Starts the writer thread.
    pub fn start(store: Store, cfg: WriterConfig, metrics: Arc<Metrics>) -> MessageQueue {
        let (tx, rx) = channel::unbounded();
        metrics.messages_queued.set(store.count_messages() as i64);
        metrics.dynamic_accounts.set(store.count_dynamic() as i64);
        let pending = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            pending: pending.clone(),
            store: store.clone(),
            usage: HashMap::new(),
            entropy: Entropy::seeded(cfg.seed),
            cfg,
            metrics: metrics.clone(),
            failed_rooms: HashMap::new(),
            owned: None,
        };
        std::thread::Builder::new()
            .name("message-queue".into())
            .spawn(move || writer.run(rx))
            .expect("spawn the message queue writer");
        MessageQueue {
            tx,
            store,
            pending,
            max_pending: usize::MAX,
            metrics,
        }
    }

    /// Refuses messages at once (503 "Message Store Busy") while `max` already wait for the
    /// writer's answer: past its ceiling the switch answers the excess now instead of letting
    /// every answer slide past the senders' retransmission timers (each retransmission is
    /// more work for the same message). Unbounded by default.
    pub fn with_max_pending(mut self, max: usize) -> MessageQueue {
        self.max_pending = max.max(1);
        self
    }

    /// Messages handed to the writer and not answered yet.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Queues a message; the answer comes once it is on disk (or refused).
    pub fn enqueue(&self, e: Enqueue) {
        if self.pending.load(Ordering::Relaxed) >= self.max_pending {
            self.metrics
                .messages
                .get_or_create(&OutcomeLabel {
                    outcome: "store_busy",
                })
                .inc();
            return e.reply.send(Err(Refusal {
                code: 503,
                reason: "Message Store Busy",
            }));
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(channel::SendError(Op::Enqueue(e))) = self.tx.send(Op::Enqueue(Box::new(e))) {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            e.reply.send(Err(Refusal {
                code: 503,
                reason: "Message Store Unavailable",
            }));
        }
    }

    /// A queued message left its queue (`delivered`, `refused`, `fetched`). It is gone from
    /// the tree when this returns (written behind: durable at the next flush), so the next
    /// read of the queue, from any thread, no longer sees it; the writer's counters follow.
    pub fn remove(&self, aor: Aor, seq: u64, outcome: &'static str) {
        match self.store.remove_message(&aor, seq) {
            Ok(Some(len)) => {
                let _ = self.tx.send(Op::Removed { aor, len, outcome });
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "queue removal failed"),
        }
    }

    /// Drops every message of a number (its account was removed).
    pub fn purge(&self, aor: Aor) {
        let _ = self.tx.send(Op::Purge { aor });
    }

    /// Removes messages past their TTL and dynamic accounts past their expiry, as of `now`.
    pub async fn sweep(&self, now: u64) -> SweepReport {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Op::Sweep { now, reply });
        rx.await.unwrap_or_default()
    }

    /// Up to `limit` messages of `aor` after `after`, in order (a read, from any thread).
    pub fn messages(
        &self,
        aor: &Aor,
        after: Option<u64>,
        limit: usize,
    ) -> Vec<(u64, StoredMessage)> {
        self.store.messages(aor, after, limit).unwrap_or_else(|e| {
            warn!(error = %e, "queue read failed");
            Vec::new()
        })
    }

    /// Whether anything waits for `aor`.
    pub fn has_messages(&self, aor: &Aor) -> bool {
        self.store.has_messages(aor).unwrap_or(false)
    }
}

struct Writer {
    store: Store,
    /// The handle's count of messages waiting for an answer.
    pending: Arc<AtomicUsize>,
    cfg: WriterConfig,
    /// Usage of the numbers touched since start (read from the store on first touch).
    usage: HashMap<Aor, QueueUsage>,
    entropy: Entropy,
    metrics: Arc<Metrics>,
    /// Rooms whose ChatRoom (the epoch here) had a job fail: its later jobs are refused.
    failed_rooms: HashMap<switchboard_engine::chat::RoomName, u64>,
    /// Rooms per owner, for `rooms.max_rooms_per_owner` (counted on first use).
    owned: Option<room_commit::Owned>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Op>) {
        let mut batch = Vec::with_capacity(self.cfg.batch);
        // when the last commit began, and whether it carried several messages
        let mut last: Option<(Instant, bool)> = None;
        while let Ok(first) = rx.recv() {
            batch.push(first);
            if let Some((began, true)) = last {
                // sleep rather than wait on the channel: a wait would wake for every message
                let wait =
                    (began + self.cfg.commit_interval).saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait);
                }
            }
            while batch.len() < self.cfg.batch {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            last = Some((Instant::now(), batch.len() > 1));
            self.apply(&mut batch);
        }
        debug!("message queue writer stopped");
    }

    fn apply(&mut self, batch: &mut Vec<Op>) {
        let mut acks: Vec<(Reply, Accepted)> = Vec::new();
        // refusals wait for the commit too: a sink hears once per commit
        let mut answers = Answers::default();
        let mut room_acks = Vec::new();
        let mut sweeps = Vec::new();
        let mut enqueued = 0;
        for op in batch.drain(..) {
            match op {
                Op::Enqueue(e) => {
                    enqueued += 1;
                    let e = *e;
                    match self.write(e.aor, e.message, e.dynamic) {
                        Ok(a) => acks.push((e.reply, a)),
                        Err(r) => {
                            self.count(refusal_outcome(r.code));
                            answers.push(e.reply, Err(r));
                        }
                    }
                }
                Op::Room(r) => {
                    if let Some(done) = self.write_room(*r) {
                        room_acks.push(done);
                    }
                }
                Op::Removed { aor, len, outcome } => self.removed(&aor, len, outcome),
                Op::Purge { aor } => {
                    let n = self.store.purge_messages(&aor).unwrap_or(0);
                    self.usage.remove(&aor);
                    self.metrics.messages_queued.dec_by(n as i64);
                }
                Op::Sweep { now, reply } => sweeps.push((now, reply)),
            }
        }
        if !acks.is_empty() || !room_acks.is_empty() {
            let t = Instant::now();
            let flushed = self.store.flush();
            self.metrics.queue_commits.inc();
            self.metrics.queue_committed.inc_by(acks.len() as u64);
            debug!(
                messages = acks.len(),
                ms = t.elapsed().as_secs_f64() * 1000.0,
                "group commit"
            );
            self.rooms_flushed(room_acks, flushed.is_ok());
            match flushed {
                Ok(_) => {
                    self.count_n("stored", acks.len() as u64);
                    for (reply, a) in acks {
                        answers.push(reply, Ok(a));
                    }
                }
                Err(e) => {
                    // not known to be on disk: the batch is taken back out (best effort, so a
                    // sender that tries again makes the only copy) and refused
                    warn!(error = %e, "message queue flush failed");
                    for (_, a) in &acks {
                        self.remove(&a.aor, a.seq, "store_failed");
                    }
                    self.count_n("store_failed", acks.len() as u64);
                    for (reply, _) in acks {
                        answers.push(
                            reply,
                            Err(Refusal {
                                code: 500,
                                reason: "Message Store Failure",
                            }),
                        );
                    }
                }
            }
        }
        answers.deliver();
        self.pending.fetch_sub(enqueued, Ordering::Relaxed);
        for (now, reply) in sweeps {
            let _ = reply.send(self.sweep(now));
        }
    }

    fn count(&self, outcome: &'static str) {
        self.count_n(outcome, 1);
    }

    fn count_n(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.metrics
                .messages
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(n);
        }
    }

    fn usage(&mut self, aor: &Aor) -> Result<&mut QueueUsage, Refusal> {
        if !self.usage.contains_key(aor) {
            let u = self.store.queue_usage(aor).map_err(store_failure)?;
            self.usage.insert(aor.clone(), u);
        }
        Ok(self.usage.get_mut(aor).expect("just inserted"))
    }

    fn write(
        &mut self,
        aor: Aor,
        mut m: StoredMessage,
        dynamic: Option<DynamicAccount>,
    ) -> Result<Accepted, Refusal> {
        let limits = self.cfg.limits;
        let len = m.body.len();
        self.usage(&aor)?.admit(&limits, len)?;
        let seq = self.store.next_message_seq().map_err(store_failure)?;
        let random = self.entropy.token(10);
        m.id = message_id(seq, &random, &self.cfg.domain);
        m.expires_unix = m.accepted_unix_ms / 1000 + self.cfg.ttl_secs;
        let mut dynamic_created = false;
        if let Some(d) = dynamic {
            let now = m.accepted_unix_ms / 1000;
            dynamic_created = self
                .store
                .create_dynamic(&aor, &d.realm, now, d.expires_unix)
                .map_err(store_failure)?;
            if dynamic_created {
                self.metrics.dynamic_accounts.inc();
                info!(number = %aor.redacted(), "dynamic account created");
            }
        }
        self.store
            .put_message(&aor, seq, &m)
            .map_err(store_failure)?;
        self.usage(&aor)?.add(len);
        self.metrics.messages_queued.inc();
        Ok(Accepted {
            aor,
            seq,
            id: m.id,
            dynamic_created,
        })
    }

    fn remove(&mut self, aor: &Aor, seq: u64, outcome: &'static str) {
        match self.store.remove_message(aor, seq) {
            Ok(Some(len)) => self.removed(aor, len, outcome),
            Ok(None) => {}
            Err(e) => warn!(error = %e, "queue removal failed"),
        }
    }

    /// Counts a removal. (A number first touched after a removal but before its notice counts
    /// one message short for a moment: its limits are a bound, not an exact count.)
    fn removed(&mut self, aor: &Aor, len: usize, outcome: &'static str) {
        self.metrics.messages_queued.dec();
        self.metrics
            .queue_removals
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        if let Some(u) = self.usage.get_mut(aor) {
            u.remove(len);
            if u.messages == 0 {
                self.usage.remove(aor);
            }
        }
    }

    fn sweep(&mut self, now: u64) -> SweepReport {
        let mut report = SweepReport::default();
        match self.store.expired_messages(now) {
            Ok(expired) => {
                for (aor, seq, _) in expired {
                    self.remove(&aor, seq, "expired");
                    report.expired_messages += 1;
                }
            }
            Err(e) => warn!(error = %e, "queue sweep failed"),
        }
        match self.store.expired_dynamic(now) {
            Ok(accounts) => {
                for aor in accounts {
                    let purged = self.store.purge_messages(&aor).unwrap_or(0);
                    self.metrics.messages_queued.dec_by(purged as i64);
                    self.usage.remove(&aor);
                    match self.store.remove_account(&aor) {
                        Ok(_) => {
                            self.metrics.dynamic_accounts.dec();
                            info!(number = %aor.redacted(), messages = purged, "unclaimed dynamic account expired");
                            report.expired_accounts.push(aor.to_string());
                        }
                        Err(e) => warn!(error = %e, "dynamic account removal failed"),
                    }
                }
            }
            Err(e) => warn!(error = %e, "dynamic account sweep failed"),
        }
        if report.expired_messages > 0 || !report.expired_accounts.is_empty() {
            if let Err(e) = self.store.flush() {
                warn!(error = %e, "flush after a sweep failed");
            }
        }
        report
    }
}

fn store_failure(e: crate::store::StoreError) -> Refusal {
    warn!(error = %e, "message queue write failed");
    Refusal {
        code: 500,
        reason: "Message Store Failure",
    }
}

fn refusal_outcome(code: u16) -> &'static str {
    match code {
        486 => "mailbox_full",
        507 => "mailbox_bytes_full",
        _ => "store_failed",
    }
}
