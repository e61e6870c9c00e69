//! sip_parse_invite_sdp: parse a ~1.2 KB INVITE with SDP from its receive buffer, the way
//! ingress does (parse, then validate the headers every element relies on).
//! sip_views_invite_sdp: the same, then the typed views a proxied INVITE is asked for on its
//! way through the switch (top Via ten times, From and To three, the Request-URI two), which
//! the message keeps (top Via, Request-URI) once parsed.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::sip::{validate, Message};

#[path = "common.rs"]
mod common;

fn parse(c: &mut Criterion) {
    let raw = Bytes::from_static(common::INVITE.as_bytes());
    let mut g = c.benchmark_group("sip_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sip_parse_invite_sdp", |b| {
        b.iter(|| Message::parse(black_box(raw.clone())).unwrap())
    });
    g.bench_function("sip_parse_validate_invite_sdp", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(raw.clone())).unwrap();
            validate::request(&m).unwrap();
            m
        })
    });
    g.bench_function("sip_views_invite_sdp", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(raw.clone())).unwrap();
            validate::request(&m).unwrap();
            for _ in 0..10 {
                black_box(m.top_via());
            }
            for _ in 0..3 {
                black_box((m.from(), m.to()));
            }
            for _ in 0..2 {
                black_box(m.request_uri());
            }
            m
        })
    });
    let reg = Bytes::from_static(common::REGISTER.as_bytes());
    g.bench_function("sip_parse_validate_register", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(reg.clone())).unwrap();
            validate::request(&m).unwrap();
            m
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
