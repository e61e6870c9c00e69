//! txn_lookup_100k: build the server-transaction key of a received request and find it among
//! 100,000 live transactions (what absorbing a retransmission costs).
//!
//! register_answers_new_16k: what a REGISTER pays the worker's ring of recent answers (full,
//! 16,384): its key, a miss, a slot taken and its answer kept. register_answers_repeat_16k:
//! a retransmission found and its answer handed back.

use std::collections::HashMap;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};
use switchboard_engine::sip::Message;

use switchboard_engine::txn::{RecentAnswers, Seen, ServerKey};

#[path = "common.rs"]
mod common;

fn lookup(c: &mut Criterion) {
    let mut table = HashMap::with_capacity(100_000);
    let mut probe = None;
    for i in 0..100_000u32 {
        let text = common::REGISTER.replace("z9hG4bKnashds7", &format!("z9hG4bKbench{i:08}"));
        let m = Message::parse(Bytes::from(text)).unwrap();
        let k = ServerKey::from_request(&m).unwrap();
        table.insert(k, i);
        if i == 77_777 {
            probe = Some(m);
        }
    }
    let probe = probe.unwrap();
    let mut g = c.benchmark_group("txn_lookup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("txn_lookup_100k", |b| {
        b.iter(|| {
            let k = ServerKey::from_request(black_box(&probe)).unwrap();
            *table.get(&k).unwrap()
        })
    });
    g.finish();
}

fn answers(c: &mut Criterion) {
    const RING: usize = 16_384;
    let t0 = Instant::now();
    let mut ring: RecentAnswers<u32> = RecentAnswers::new(RING, Duration::from_secs(32));
    let requests: Vec<Message> = (0..2 * RING as u32)
        .map(|i| {
            let branch = format!("z9hG4bKring{i:08}");
            let text = common::REGISTER.replace("z9hG4bKnashds7", &branch);
            Message::parse(Bytes::from(text)).unwrap()
        })
        .collect();
    let answer = Bytes::from(vec![b'x'; 400]);
    for m in &requests[..RING] {
        let k = ServerKey::from_request(m).unwrap();
        ring.handle_answer(t0, k, answer.clone(), 1);
    }
    let mut g = c.benchmark_group("register_answers");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("register_answers_new_16k", |b| {
        b.iter(|| {
            // the requests not in the ring, round and round: each one is new when it comes
            let m = &requests[RING + i % RING];
            i += 1;
            let k = ServerKey::from_request(black_box(m)).unwrap();
            if ring.handle_request(t0, &k) == Seen::New {
                ring.begin(t0, k.clone());
                ring.handle_answer(t0, k, answer.clone(), 1);
            }
        })
    });
    let last = requests.last().unwrap();
    ring.handle_answer(
        t0,
        ServerKey::from_request(last).unwrap(),
        answer.clone(),
        1,
    );
    g.bench_function("register_answers_repeat_16k", |b| {
        b.iter(|| {
            let k = ServerKey::from_request(black_box(last)).unwrap();
            match ring.handle_request(t0, &k) {
                Seen::Answered(bytes, _) => bytes.len(),
                _ => 0,
            }
        })
    });
    g.finish();
}

criterion_group!(benches, lookup, answers);
criterion_main!(benches);
