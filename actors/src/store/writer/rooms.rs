//! Chat room commits on the queue writer thread.
//!
//! A post to a room is one job: its history entry and a copy in the queue of every other
//! member are written together and covered by the batch's one flush, and only then is the
//! room told (and through it the sender). Membership changes, command answers and notices
//! take the same path, so what a member reads from their queue follows the room's order.
//! The room record is written last, after everything else of its commit, and put back if the
//! flush fails, so a change reported failed is not on disk.
//!
//! A rejoining member's catch-up is read here, as part of the join's commit: the writer applies
//! jobs in order, so every post the room handed out before the join is in the history by then.
//!
//! Every job carries the epoch (actor id) of the ChatRoom that sent it. Once a job of a room
//! fails, later jobs of that epoch are refused unwritten (they were built on memory that ran
//! ahead of the disk); the ChatRoom that replaces it reads the store again, and its first job
//! lifts the refusal. So no sequence number is used twice.
//!
//! A member whose queue is at its limits gets no copy of a post (counted as
//! `room_copy_skipped`); the room's history still has it (`GET /v1/rooms/{room}/messages`).

use switchboard_engine::chat::{delivered_body, post_id, RoomName};
use switchboard_engine::messaging::{message_id, Refusal, StoredMessage};
use switchboard_engine::numbering::Aor;
use tracing::warn;

use super::room_commit::{
    CatchUp, Owned, RecordChange, RoomCommit, RoomCommitted, RoomDone, RoomPost, RoomRefused,
};
use super::{store_failure, MessageQueue, Op, Writer};
use crate::metrics::OutcomeLabel;

/// The refusal of a job sent by a ChatRoom after one of its jobs failed.
const RELOADING: Refusal = Refusal {
    code: 503,
    reason: "Room Reloading",
};

impl MessageQueue {
    /// Writes a room change; the answer comes once it is on disk (or refused).
    pub fn room_commit(&self, c: RoomCommit) {
        if let Err(crossbeam::channel::SendError(Op::Room(c))) = self.tx.send(Op::Room(Box::new(c)))
        {
            let _ = c.reply.send(Err(RoomRefused::Store(Refusal {
                code: 503,
                reason: "Message Store Unavailable",
            })));
        }
    }
}

impl Writer {
    /// Writes a room change (not yet flushed); `None` when it was refused at once.
    pub(super) fn write_room(&mut self, c: RoomCommit) -> Option<RoomDone> {
        let RoomCommit {
            room,
            epoch,
            record,
            post,
            notices,
            catch_up,
            reply,
        } = c;
        match self.failed_rooms.get(&room) {
            Some(&failed) if epoch <= failed => {
                self.count_room("reloading");
                let _ = reply.send(Err(RELOADING.into()));
                return None;
            }
            Some(_) => {
                self.failed_rooms.remove(&room);
            }
            None => {}
        }
        let mut done = RoomDone {
            reply,
            room,
            epoch,
            history: None,
            written: Vec::new(),
            record_before: None,
            committed: RoomCommitted::default(),
        };
        match self.write_room_parts(&mut done, record, post, notices, catch_up) {
            Ok(()) => Some(done),
            Err(r) => {
                self.undo_room(&mut done);
                self.count_room(match r {
                    RoomRefused::TooManyRooms { .. } => "too_many_rooms",
                    RoomRefused::Store(_) => "store_failed",
                });
                self.failed_rooms.insert(done.room.clone(), done.epoch);
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
        catch_up: Option<CatchUp>,
    ) -> Result<(), RoomRefused> {
        let name = done.room.as_str().to_owned();
        if let RecordChange::Create { record, max_owned } = &record {
            let owned = self.owned()?.get(&record.owner).copied().unwrap_or(0);
            let exists = self.store.room(&name).map_err(store_failure)?.is_some();
            if !exists && owned >= *max_owned {
                return Err(RoomRefused::TooManyRooms { max: *max_owned });
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
        let mut notices = notices.into_iter();
        if let Some(first) = notices.next() {
            self.notice(done, first)?;
        }
        if let Some(c) = catch_up {
            for m in self.missed(&done.room, &c)? {
                self.notice(done, (c.who.clone(), m))?;
            }
        }
        for n in notices {
            self.notice(done, n)?;
        }
        // last: nothing after it can fail, so a refused change leaves the old record
        self.write_record(done, record)
    }

    /// What a rejoining member missed, as copies that keep their posts' Message-ID form (and so
    /// their Room-Seq).
    fn missed(&mut self, room: &RoomName, c: &CatchUp) -> Result<Vec<StoredMessage>, Refusal> {
        let entries = self
            .store
            .room_history_tail(room.as_str(), c.after, c.cap)
            .map_err(store_failure)?;
        let domain = self.cfg.domain.clone();
        Ok(entries
            .into_iter()
            .map(|e| StoredMessage {
                id: post_id(room, e.seq, &self.entropy.token(10), &domain),
                from: room.from_header(&e.display, &domain),
                sender: room.user(),
                body: delivered_body(&e.content_type, &e.body, &e.display, c.prefix),
                content_type: e.content_type,
                accepted_unix_ms: e.accepted_unix_ms,
                expires_unix: 0,
            })
            .collect())
    }

    fn notice(&mut self, done: &mut RoomDone, n: (Aor, StoredMessage)) -> Result<(), Refusal> {
        let (aor, mut m) = n;
        let seq = self.store.next_message_seq().map_err(store_failure)?;
        if m.id.is_empty() {
            m.id = message_id(seq, &self.entropy.token(10), &self.cfg.domain);
        }
        m.expires_unix = m.accepted_unix_ms / 1000 + self.cfg.ttl_secs;
        self.store
            .put_message(&aor, seq, &m)
            .map_err(store_failure)?;
        self.queued(done, aor, seq, m.body.len())
    }

    fn write_record(
        &mut self,
        done: &mut RoomDone,
        change: RecordChange,
    ) -> Result<(), RoomRefused> {
        let name = done.room.as_str();
        let new = match change {
            RecordChange::Keep => return Ok(()),
            RecordChange::Put(r) | RecordChange::Create { record: r, .. } => Some(r),
            RecordChange::Delete => None,
        };
        let before = self.store.room(name).map_err(store_failure)?;
        match &new {
            Some(r) => self.store.put_room(name, r).map_err(store_failure)?,
            None => {
                self.store.remove_room(name).map_err(store_failure)?;
            }
        }
        let old_owner = before.as_ref().map(|r| r.owner.clone());
        let new_owner = new.map(|r| r.owner);
        self.owner_moved(old_owner.as_deref(), new_owner.as_deref());
        done.record_before = Some((before, new_owner));
        Ok(())
    }

    /// The rooms per owner (counted from the store on first use).
    fn owned(&mut self) -> Result<&mut Owned, Refusal> {
        if self.owned.is_none() {
            let mut owned = Owned::new();
            for (_, r) in self.store.rooms().map_err(store_failure)? {
                *owned.entry(r.owner).or_default() += 1;
            }
            self.owned = Some(owned);
        }
        Ok(self.owned.get_or_insert_with(Owned::new))
    }

    /// A room's owner changed from `old` to `new` (`None`: no room).
    fn owner_moved(&mut self, old: Option<&str>, new: Option<&str>) {
        let Some(owned) = self.owned.as_mut() else {
            return; // not counted yet: the first count reads the store
        };
        if let Some(o) = old {
            if let Some(n) = owned.get_mut(o) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    owned.remove(o);
                }
            }
        }
        if let Some(o) = new {
            *owned.entry(o.to_owned()).or_default() += 1;
        }
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

    /// Takes a room change back out (best effort): its history entry, queue copies and the
    /// record as it was (a deleted room's history is not brought back).
    fn undo_room(&mut self, done: &mut RoomDone) {
        for (aor, seq) in &done.written {
            self.remove(aor, *seq, "store_failed");
        }
        let name = done.room.as_str();
        if let Some(seq) = done.history {
            if let Err(e) = self.store.remove_room_entry(name, seq) {
                warn!(error = %e, "room history removal failed");
            }
        }
        if let Some((before, new_owner)) = done.record_before.take() {
            let restored = match &before {
                Some(r) => self.store.put_room(name, r),
                None => self.store.remove_room(name).map(|_| ()),
            };
            if let Err(e) = restored {
                warn!(error = %e, "room record restore failed");
            }
            self.owner_moved(
                new_owner.as_deref(),
                before.as_ref().map(|r| r.owner.as_str()),
            );
        }
    }

    /// The batch's flush is done (`ok`) or failed: answers every room change in it.
    pub(super) fn rooms_flushed(&mut self, mut rooms: Vec<RoomDone>, ok: bool) {
        if !ok {
            // newest first, so each record goes back to what it was before the batch
            for done in rooms.iter_mut().rev() {
                self.undo_room(done);
                self.failed_rooms.insert(done.room.clone(), done.epoch);
            }
        }
        for done in rooms {
            if ok {
                self.count_room("stored");
                let mut committed = done.committed;
                // a member with several new messages is told once
                let mut seen = std::collections::HashSet::with_capacity(committed.queued.len());
                committed.queued.retain(|a| seen.insert(a.clone()));
                let _ = done.reply.send(Ok(committed));
            } else {
                self.count_room("store_failed");
                let _ = done.reply.send(Err(RoomRefused::Store(Refusal {
                    code: 500,
                    reason: "Message Store Failure",
                })));
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
    use crate::metrics::Metrics;
    use crate::store::writer::RoomResult;
    use crate::store::writer::WriterConfig;
    use crate::store::Store;
    use std::sync::Arc;
    use switchboard_engine::messaging::QueueLimits;
    use switchboard_engine::store::{RoomEntry, RoomRecord};
    use tokio::sync::oneshot;

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
                commit_interval: std::time::Duration::ZERO,
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
            epoch: 1,
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
            catch_up: None,
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

    fn started(name: &str) -> (Store, MessageQueue, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sb-room-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let cfg = WriterConfig {
            limits: QueueLimits {
                max_messages: 100,
                max_bytes: 1 << 20,
            },
            ttl_secs: 60,
            batch: 16,
            commit_interval: std::time::Duration::ZERO,
            domain: "h".into(),
            seed: 1,
        };
        let q = MessageQueue::start(store.clone(), cfg, Arc::new(Metrics::new()));
        (store, q, dir)
    }

    fn record(owner: &str) -> RoomRecord {
        RoomRecord {
            owner: owner.into(),
            ..RoomRecord::default()
        }
    }

    /// Sends a commit and returns the channel of its answer (without waiting).
    fn send(
        q: &MessageQueue,
        room: &str,
        epoch: u64,
        record: RecordChange,
        post: Option<(u64, &str)>,
        catch_up: Option<CatchUp>,
    ) -> oneshot::Receiver<RoomResult> {
        let (reply, rx) = oneshot::channel();
        let post = post.map(|(seq, to)| RoomPost {
            entry: RoomEntry {
                seq,
                sender: "1001".into(),
                display: "1001".into(),
                content_type: "text/plain".into(),
                body: format!("post {seq}").into_bytes(),
                accepted_unix_ms: 1_000,
            },
            copy: message("copy"),
            recipients: vec![Aor::from_canonical(to)],
        });
        q.room_commit(RoomCommit {
            room: RoomName::parse(room).unwrap(),
            epoch,
            record,
            post,
            notices: vec![(Aor::from_canonical("1001"), message("answer"))],
            catch_up,
            reply,
        });
        rx
    }

    #[test]
    fn a_join_catches_up_with_posts_the_writer_has_not_flushed_yet() {
        let (store, q, dir) = started("catch-up");
        let rejoiner = Aor::from_canonical("1002");
        // the posts and the join go out back to back, as a ChatRoom pipelines them
        let posts: Vec<_> = (1..=3)
            .map(|seq| send(&q, "ops", 1, RecordChange::Keep, Some((seq, "1003")), None))
            .collect();
        let catch_up = CatchUp {
            who: rejoiner.clone(),
            after: 0,
            cap: 2,
            prefix: true,
        };
        let join = send(&q, "ops", 1, RecordChange::Keep, None, Some(catch_up));
        for rx in posts {
            rx.blocking_recv().unwrap().unwrap();
        }
        let done = join.blocking_recv().unwrap().unwrap();
        assert!(done.queued.contains(&rejoiner));
        let got = store.messages(&rejoiner, None, 10).unwrap();
        let seqs: Vec<_> = got
            .iter()
            .map(|(_, m)| switchboard_engine::chat::seq_of_id(&m.id))
            .collect();
        assert_eq!(seqs, [Some(2), Some(3)], "the newest two, in order");
        assert_eq!(got[0].1.body, b"1001: post 2");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_owner_at_the_cap_cannot_create_another_room_and_nothing_of_it_is_written() {
        let (store, q, dir) = started("cap");
        let create = || RecordChange::Create {
            record: record("1001"),
            max_owned: 1,
        };
        let first = send(&q, "one", 1, create(), None, None);
        assert!(first.blocking_recv().unwrap().is_ok());
        let before = store
            .messages(&Aor::from_canonical("1001"), None, 10)
            .unwrap();
        let second = send(&q, "two", 1, create(), None, None);
        assert_eq!(
            second.blocking_recv().unwrap().unwrap_err(),
            RoomRefused::TooManyRooms { max: 1 }
        );
        assert!(store.room("two").unwrap().is_none());
        let after = store
            .messages(&Aor::from_canonical("1001"), None, 10)
            .unwrap();
        assert_eq!(
            after.len(),
            before.len(),
            "no answer queued for a refused room"
        );
        // someone else may still create one
        let other = RecordChange::Create {
            record: record("1002"),
            max_owned: 1,
        };
        assert!(send(&q, "two", 2, other, None, None)
            .blocking_recv()
            .unwrap()
            .is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn after_a_failed_job_the_rooms_later_jobs_are_refused_until_a_new_chat_room_sends() {
        let (store, q, dir) = started("epoch");
        let taken = RecordChange::Create {
            record: record("1001"),
            max_owned: 1,
        };
        send(&q, "mine", 1, taken, None, None)
            .blocking_recv()
            .unwrap()
            .unwrap();
        // epoch 1 of "full" fails, and the post pipelined behind it must not be written
        let over = RecordChange::Create {
            record: record("1001"),
            max_owned: 1,
        };
        let failed = send(&q, "full", 1, over, None, None);
        let behind = send(&q, "full", 1, RecordChange::Keep, Some((1, "1003")), None);
        assert!(failed.blocking_recv().unwrap().is_err());
        assert_eq!(
            behind.blocking_recv().unwrap().unwrap_err(),
            RoomRefused::Store(RELOADING)
        );
        assert_eq!(store.last_room_seq("full").unwrap(), 0, "no history entry");
        // the ChatRoom that reloaded (epoch 2) is served again
        let fresh = send(&q, "full", 2, RecordChange::Keep, Some((1, "1003")), None);
        assert!(fresh.blocking_recv().unwrap().is_ok());
        assert_eq!(store.last_room_seq("full").unwrap(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
