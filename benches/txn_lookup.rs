//! txn_lookup_100k: build the server-transaction key of a received request and find it among
//! 100,000 live transactions (what absorbing a retransmission costs).

use std::collections::HashMap;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::sip::Message;
use switchboard_engine::txn::ServerKey;

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

criterion_group!(benches, lookup);
criterion_main!(benches);
