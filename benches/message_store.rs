//! The durable message store path: enqueue through the queue writer (its group commit: one
//! fsync per batch, then every acknowledgement), and dequeue (read the next batch in order,
//! remove each delivered message).
//!
//! - `enqueue_one_by_one`: one message at a time, each waiting for its own commit (the cost
//!   of a flush, as a sender alone sees it).
//! - `enqueue_burst/N`: N messages queued at once (N senders), all acknowledged after the
//!   commits they fit in; throughput is messages per second.
//! - `dequeue_batch/256`: read 256 messages of one number in order and remove each.
//!
//! The store lives in a temporary directory on the disk the data directory would use.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use switchboard_actors::metrics::Metrics;
use switchboard_actors::store::writer::{Enqueue, MessageQueue, WriterConfig};
use switchboard_actors::store::Store;
use switchboard_engine::messaging::{QueueLimits, StoredMessage};
use switchboard_engine::numbering::Aor;

fn message(n: u64) -> StoredMessage {
    StoredMessage {
        id: String::new(),
        from: "<sip:+821099990000@elsewhere.example>".into(),
        sender: "+821099990000".into(),
        content_type: "text/plain;charset=UTF-8".into(),
        body: format!("benchmark message number {n}, about as long as a chat line").into_bytes(),
        accepted_unix_ms: 1_796_118_524_000 + n,
        expires_unix: 0,
    }
}

fn setup(name: &str) -> (MessageQueue, Store) {
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("bench-message-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, 200, 64).unwrap();
    let queue = MessageQueue::start(
        store.clone(),
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
    );
    (queue, store)
}

/// Queues `n` messages for `n` numbers at once and waits for every acknowledgement.
fn burst(rt: &tokio::runtime::Runtime, q: &MessageQueue, n: u64, round: u64) {
    let replies: Vec<_> = (0..n)
        .map(|i| {
            let (reply, rx) = tokio::sync::oneshot::channel();
            q.enqueue(Enqueue {
                aor: Aor::from_canonical(&format!("+8210{:08}", (round * n + i) % 100_000)),
                message: message(i),
                dynamic: None,
                reply: reply.into(),
            });
            rx
        })
        .collect();
    rt.block_on(async {
        for r in replies {
            assert!(r.await.unwrap().is_ok());
        }
    });
}

fn store_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("message_store");
    g.measurement_time(Duration::from_secs(8));

    let (q, _store) = setup("one");
    g.throughput(Throughput::Elements(1));
    let mut round = 0;
    g.bench_function("enqueue_one_by_one", |b| {
        b.iter(|| {
            round += 1;
            burst(&rt, &q, 1, round)
        })
    });

    for n in [64u64, 1024] {
        let (q, _store) = setup(&format!("burst{n}"));
        g.throughput(Throughput::Elements(n));
        let mut round = 0;
        g.bench_function(format!("enqueue_burst/{n}"), |b| {
            b.iter(|| {
                round += 1;
                burst(&rt, &q, n, round)
            })
        });
    }

    let (q, store) = setup("dequeue");
    let aor = Aor::from_canonical("+821012345678");
    g.throughput(Throughput::Elements(256));
    g.bench_function("dequeue_batch/256", |b| {
        b.iter_batched(
            || {
                for i in 0..256 {
                    store
                        .put_message(&aor, store.next_message_seq().unwrap(), &message(i))
                        .unwrap();
                }
            },
            |_| {
                let batch = q.messages(&aor, None, 256);
                assert_eq!(batch.len(), 256);
                for (seq, _) in batch {
                    q.remove(aor.clone(), seq, "delivered");
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, store_path);
criterion_main!(benches);
