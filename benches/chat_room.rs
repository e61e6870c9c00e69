//! A post to a 100-member chat room through the queue writer's group commit: the history
//! entry and 99 queue copies (one per other member) written and covered by one flush.
//!
//! - `room_post_100/one_by_one`: one post at a time, each waiting for its own commit (what a
//!   lone poster sees).
//! - `room_post_100/pipelined/N`: N posts in flight at once (a busy room, or many rooms),
//!   acknowledged after the commits they fit in; throughput is posts per second.
//!
//! The store lives in `target/` on the disk the data directory would use.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchboard_actors::metrics::Metrics;
use switchboard_actors::store::writer::{
    MessageQueue, RecordChange, RoomCommit, RoomPost, WriterConfig,
};
use switchboard_actors::store::Store;
use switchboard_engine::chat::{delivered_body, RoomName};
use switchboard_engine::messaging::{QueueLimits, StoredMessage};
use switchboard_engine::numbering::Aor;
use switchboard_engine::store::RoomEntry;

const MEMBERS: usize = 100;

fn setup(name: &str) -> MessageQueue {
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("bench-chat-room-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, 200, 64).unwrap();
    MessageQueue::start(
        store,
        WriterConfig {
            limits: QueueLimits {
                max_messages: u64::MAX,
                max_bytes: u64::MAX,
            },
            ttl_secs: 86_400,
            batch: 4096,
            commit_interval: std::time::Duration::ZERO,
            domain: "switchboard.local".into(),
            seed: 1,
        },
        Arc::new(Metrics::new()),
    )
}

struct Poster {
    room: RoomName,
    members: Vec<Aor>,
    seq: u64,
}

impl Poster {
    fn new() -> Poster {
        Poster {
            room: RoomName::parse("bench").unwrap(),
            members: (0..MEMBERS)
                .map(|i| Aor::from_canonical(&format!("+8210{:08}", i)))
                .collect(),
            seq: 0,
        }
    }

    /// Sends one post from member 0; the receiver of its acknowledgement.
    fn post(
        &mut self,
        q: &MessageQueue,
    ) -> tokio::sync::oneshot::Receiver<switchboard_actors::store::writer::RoomResult> {
        self.seq += 1;
        let text = format!(
            "benchmark post number {}, about as long as a chat line",
            self.seq
        );
        let body = text.into_bytes();
        let copy = StoredMessage {
            id: String::new(),
            from: self.room.from_header("+821000000000", "switchboard.local"),
            sender: self.room.user(),
            content_type: "text/plain;charset=UTF-8".into(),
            body: delivered_body("text/plain", &body, "+821000000000", true),
            accepted_unix_ms: 1_796_118_524_000 + self.seq,
            expires_unix: 0,
        };
        let entry = RoomEntry {
            seq: self.seq,
            sender: self.members[0].to_string(),
            display: self.members[0].to_string(),
            content_type: "text/plain;charset=UTF-8".into(),
            body,
            accepted_unix_ms: 1_796_118_524_000 + self.seq,
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        q.room_commit(RoomCommit {
            room: self.room.clone(),
            epoch: 1,
            record: RecordChange::Keep,
            post: Some(RoomPost {
                entry,
                copy,
                recipients: self.members[1..].to_vec(),
            }),
            notices: Vec::new(),
            catch_up: None,
            reply,
        });
        rx
    }
}

fn room_post(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("room_post_100");
    g.measurement_time(Duration::from_secs(8));
    g.sample_size(20);

    let q = setup("one");
    let mut p = Poster::new();
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_by_one", |b| {
        b.iter(|| {
            let rx = p.post(&q);
            let done = rt.block_on(rx).unwrap().unwrap();
            assert_eq!(done.queued.len(), MEMBERS - 1);
        })
    });

    for n in [16u64, 64] {
        let q = setup(&format!("pipelined{n}"));
        let mut p = Poster::new();
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("pipelined/{n}"), |b| {
            b.iter(|| {
                let rxs: Vec<_> = (0..n).map(|_| p.post(&q)).collect();
                rt.block_on(async {
                    for rx in rxs {
                        assert!(rx.await.unwrap().is_ok());
                    }
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, room_post);
criterion_main!(benches);
