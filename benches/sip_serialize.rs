//! sip_forward_invite: the edits a proxy makes to forward an INVITE (new Request-URI, our Via
//! and Record-Route, Max-Forwards) into a reused buffer; sip_response_register_200: building
//! the 200 OK of a REGISTER.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::sip::{Forward, Message, ResponseBuilder, ViaFix};

#[path = "common.rs"]
mod common;

fn serialize(c: &mut Criterion) {
    let inv = Message::parse(Bytes::from_static(common::INVITE.as_bytes())).unwrap();
    let reg = Message::parse(Bytes::from_static(common::REGISTER.as_bytes())).unwrap();
    let fix = ViaFix {
        source_ip: "192.0.2.10".parse().unwrap(),
        source_port: 5062,
    };
    let mut g = c.benchmark_group("sip_serialize");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(2048);
    g.bench_function("sip_forward_invite", |b| {
        b.iter(|| {
            Forward::request()
                .request_uri("sip:+82111234567@192.0.2.20:5060")
                .push_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsbabcdefghijkl.0a1b2c3d;rport")
                .record_route("<sip:127.0.0.1:5060;lr>")
                .fix_via(Some(fix))
                .write(black_box(&inv), &mut buf);
            buf.len()
        })
    });
    g.bench_function("sip_response_register_200", |b| {
        b.iter(|| {
            ResponseBuilder::new(black_box(&reg), 200, "OK")
                .to_tag("a6c85cf")
                .via_fix(Some(fix))
                .header("Contact", "<sip:+82101234567@192.0.2.10:5062>;expires=3600")
                .build()
        })
    });
    g.finish();
}

criterion_group!(benches, serialize);
criterion_main!(benches);
