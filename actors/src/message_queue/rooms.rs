//! Chat room commits on the queue writer thread.
//!
//! A post to a room is one job: its history entry and a copy in the queue of every other
//! member are written together and covered by the batch's one flush, and only then is the
//! room told (and through it the sender). Membership changes, command answers and notices
//! take the same path, so what a member reads from their queue follows the room's order.
//!
//! A member whose queue is at its limits gets no copy of a post (counted as
//! `room_copy_skipped`); the room's history still has it (`GET /v1/rooms/{room}/messages`).

use switchboard_engine::chat::{post_id, RoomName};
use switchboard_engine::messaging::{message_id, Refusal, StoredMessage};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::{RoomEntry, RoomRecord};
use tokio::sync::oneshot;
use tracing::warn;

use super::{store_failure, MessageQueue, Op, Writer};
use crate::metrics::OutcomeLabel;

/// What happens to the room's record.
#[derive(Debug, Clone)]
pub enum RecordChange {
    Keep,
    Put(RoomRecord),
    /// The room and its history go.
    Delete,
}

/// A post: its history entry and the copy every recipient's queue gets.
pub struct RoomPost {
    pub entry: RoomEntry,
    /// `id` and `expires_unix` are filled in by the writer (one id for every copy).
    pub copy: StoredMessage,
    pub recipients: Vec<Aor>,
}

/// One room change, written in one group commit.
pub struct RoomCommit {
    pub room: RoomName,
    pub record: RecordChange,
    pub post: Option<RoomPost>,
    /// Messages from the room to single members (answers, announcements, catch-up); an
    /// empty `id` is filled in by the writer.
    pub notices: Vec<(Aor, StoredMessage)>,
    pub reply: oneshot::Sender<RoomResult>,
}

/// A room change on disk.
#[derive(Debug, Clone, Default)]
pub struct RoomCommitted {
    /// The Message-ID of the post's copies.
    pub id: Option<String>,
    /// Members whose queue got something (to be told to deliver).
    pub queued: Vec<Aor>,
}

pub type RoomResult = Result<RoomCommitted, Refusal>;

/// A room change written and waiting for the flush, with what to take back if it fails.
pub(super) struct RoomDone {
    reply: oneshot::Sender<RoomResult>,
    room: RoomName,
    history: Option<u64>,
    written: Vec<(Aor, u64)>,
    committed: RoomCommitted,
}

impl MessageQueue {
    /// Writes a room change; the answer comes once it is on disk (or refused).
    pub fn room_commit(&self, c: RoomCommit) {
        if let Err(crossbeam::channel::SendError(Op::Room(c))) = self.tx.send(Op::Room(Box::new(c)))
        {
            let _ = c.reply.send(Err(Refusal {
                code: 503,
                reason: "Message Store Unavailable",
            }));
        }
    }
}

impl Writer {
    /// Writes a room change (not yet flushed); `None` when it was refused at once.
    pub(super) fn write_room(&mut self, c: RoomCommit) -> Option<RoomDone> {
        let RoomCommit {
            room,
            record,
            post,
            notices,
            reply,
        } = c;
        let mut done = RoomDone {
            reply,
            room,
            history: None,
            written: Vec::new(),
            committed: RoomCommitted::default(),
        };
        match self.write_room_parts(&mut done, record, post, notices) {
            Ok(()) => Some(done),
            Err(r) => {
                self.undo_room(&done);
                self.count_room("store_failed");
                let _ = done.reply.send(Err(r));
                None
            }
        }
    }

    fn write_room_parts(
        &mut self,
        done: &mut RoomDone,
        record: RecordChange,
        post: Option<RoomPost>,
        notices: Vec<(Aor, StoredMessage)>,
    ) -> Result<(), Refusal> {
        let name = done.room.as_str().to_owned();
        match &record {
            RecordChange::Keep => {}
            RecordChange::Put(r) => self.store.put_room(&name, r).map_err(store_failure)?,
            RecordChange::Delete => {
                self.store.remove_room(&name).map_err(store_failure)?;
            }
        }
        if let Some(p) = post {
            self.store
                .put_room_entry(&name, &p.entry)
                .map_err(store_failure)?;
            done.history = Some(p.entry.seq);
            let random = self.entropy.token(10);
            let id = post_id(&done.room, p.entry.seq, &random, &self.cfg.domain);
            let mut copy = p.copy;
            copy.id = id.clone();
            copy.expires_unix = copy.accepted_unix_ms / 1000 + self.cfg.ttl_secs;
            let mut copies = Vec::with_capacity(p.recipients.len());
            for aor in p.recipients {
                let limits = self.cfg.limits;
                if self.usage(&aor)?.admit(&limits, copy.body.len()).is_err() {
                    self.count_room("copy_skipped");
                    continue;
                }
                let seq = self.store.next_message_seq().map_err(store_failure)?;
                copies.push((aor, seq));
            }
            self.store
                .put_message_copies(&copies, &copy)
                .map_err(store_failure)?;
            for (aor, seq) in copies {
                self.queued(done, aor, seq, copy.body.len())?;
            }
            done.committed.id = Some(id);
        }
        for (aor, mut m) in notices {
            let seq = self.store.next_message_seq().map_err(store_failure)?;
            if m.id.is_empty() {
                // a catch-up copy of a post keeps the post's id (and so its Room-Seq)
                m.id = message_id(seq, &self.entropy.token(10), &self.cfg.domain);
            }
            m.expires_unix = m.accepted_unix_ms / 1000 + self.cfg.ttl_secs;
            self.queue_at(done, aor, seq, &m)?;
        }
        Ok(())
    }

    fn queue_at(
        &mut self,
        done: &mut RoomDone,
        aor: Aor,
        seq: u64,
        m: &StoredMessage,
    ) -> Result<(), Refusal> {
        self.store
            .put_message(&aor, seq, m)
            .map_err(store_failure)?;
        self.queued(done, aor, seq, m.body.len())
    }

    /// Counts a message written to the queue of `aor` and remembers it for an undo.
    fn queued(
        &mut self,
        done: &mut RoomDone,
        aor: Aor,
        seq: u64,
        len: usize,
    ) -> Result<(), Refusal> {
        self.usage(&aor)?.add(len);
        self.metrics.messages_queued.inc();
        done.committed.queued.push(aor.clone());
        done.written.push((aor, seq));
        Ok(())
    }

    /// Takes a room change's history entry and queue copies back out (best effort).
    fn undo_room(&mut self, done: &RoomDone) {
        for (aor, seq) in &done.written {
            self.remove(aor, *seq, "store_failed");
        }
        if let Some(seq) = done.history {
            if let Err(e) = self.store.remove_room_entry(done.room.as_str(), seq) {
                warn!(error = %e, "room history removal failed");
            }
        }
    }

    /// The batch's flush is done (`ok`) or failed: answers every room change in it.
    pub(super) fn rooms_flushed(&mut self, rooms: Vec<RoomDone>, ok: bool) {
        for done in rooms {
            if ok {
                self.count_room("stored");
                let mut committed = done.committed;
                // a member with several new messages is told once
                let mut seen = std::collections::HashSet::with_capacity(committed.queued.len());
                committed.queued.retain(|a| seen.insert(a.clone()));
                let _ = done.reply.send(Ok(committed));
            } else {
                self.undo_room(&done);
                self.count_room("store_failed");
                let _ = done.reply.send(Err(Refusal {
                    code: 500,
                    reason: "Message Store Failure",
                }));
            }
        }
    }

    fn count_room(&self, outcome: &'static str) {
        self.metrics
            .room_commits
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_queue::WriterConfig;
    use crate::metrics::Metrics;
    use crate::store::Store;
    use std::sync::Arc;
    use switchboard_engine::messaging::QueueLimits;

    fn message(text: &str) -> StoredMessage {
        StoredMessage {
            id: String::new(),
            from: "\"1001\" <sip:room-ops@h>".into(),
            sender: "room-ops".into(),
            content_type: "text/plain".into(),
            body: text.as_bytes().to_vec(),
            accepted_unix_ms: 1_000,
            expires_unix: 0,
        }
    }

    #[test]
    fn a_post_writes_history_and_a_copy_per_member_and_skips_a_full_queue() {
        let dir = std::env::temp_dir().join(format!("sb-room-commit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let full = Aor::from_canonical("1002");
        store.put_message(&full, 1, &message("old")).unwrap();
        let metrics = Arc::new(Metrics::new());
        let q = MessageQueue::start(
            store.clone(),
            WriterConfig {
                limits: QueueLimits {
                    max_messages: 1,
                    max_bytes: 1 << 20,
                },
                ttl_secs: 60,
                batch: 16,
                domain: "h".into(),
                seed: 1,
            },
            metrics.clone(),
        );
        let room = RoomName::parse("ops").unwrap();
        let ok = Aor::from_canonical("1003");
        let (reply, rx) = oneshot::channel();
        let mut catch_up = message("kept id");
        catch_up.id = "room-ops.1.x@h".into();
        q.room_commit(RoomCommit {
            room: room.clone(),
            record: RecordChange::Put(RoomRecord::default()),
            post: Some(RoomPost {
                entry: RoomEntry {
                    seq: 7,
                    sender: "1001".into(),
                    display: "1001".into(),
                    content_type: "text/plain".into(),
                    body: b"hi".to_vec(),
                    accepted_unix_ms: 1_000,
                },
                copy: message("1001: hi"),
                recipients: vec![full.clone(), ok.clone()],
            }),
            notices: vec![(Aor::from_canonical("1004"), catch_up)],
            reply,
        });
        let done = rx.blocking_recv().unwrap().unwrap();
        assert_eq!(
            done.id
                .as_deref()
                .and_then(switchboard_engine::chat::seq_of_id),
            Some(7)
        );
        assert_eq!(done.queued, [ok.clone(), Aor::from_canonical("1004")]);
        assert_eq!(store.last_room_seq("ops").unwrap(), 7);
        assert!(store.room("ops").unwrap().is_some());
        let copies = store.messages(&ok, None, 10).unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].1.body, b"1001: hi");
        assert_eq!(copies[0].1.expires_unix, 61);
        assert_eq!(
            store.messages(&full, None, 10).unwrap().len(),
            1,
            "full: no copy"
        );
        let notice = store
            .messages(&Aor::from_canonical("1004"), None, 10)
            .unwrap();
        assert_eq!(
            notice[0].1.id, "room-ops.1.x@h",
            "a catch-up copy keeps its id"
        );
        assert!(metrics
            .encode()
            .contains("switchboard_room_commits_total{outcome=\"copy_skipped\"} 1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
