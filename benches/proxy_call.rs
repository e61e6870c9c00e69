//! proxy_call_invite_to_bye: the engine work of one proxied call (INVITE with 100, 180, 200,
//! then a BYE transaction), without I/O: what a CallLeg asks of the engine per call.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::flow::Transport;
use switchboard_engine::proxy::{BranchSpec, ContextConfig, Local, Output, ProxyContext};
use switchboard_engine::sip::{Message, ResponseBuilder};

#[path = "common.rs"]
mod common;

fn downstream(ctx: &mut ProxyContext) -> Option<Message> {
    let mut req = None;
    while let Some(o) = ctx.poll_output() {
        if let Output::Downstream { bytes, .. } = o {
            req = Some(Message::parse(bytes).unwrap());
        }
    }
    req
}

fn call(c: &mut Criterion) {
    let local = Arc::new(Local::new("127.0.0.1", 5060, "switchboard.example"));
    let inv = Message::parse(Bytes::from_static(common::INVITE.as_bytes())).unwrap();
    let bye_text = "BYE sip:+82111234567@192.0.2.20:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKbye1;rport\r\nMax-Forwards: 70\r\nRoute: <sip:127.0.0.1:5060;lr>\r\n\
To: <sip:+82111234567@switchboard.example>;tag=callee\r\nFrom: <sip:+82101234567@switchboard.example>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314160 BYE\r\nContent-Length: 0\r\n\r\n";
    let bye = Message::parse(Bytes::from_static(bye_text.as_bytes())).unwrap();
    let mut seed = 0u64;
    let mut g = c.benchmark_group("proxy_call");
    g.throughput(Throughput::Elements(1));
    g.bench_function("proxy_call_invite_to_bye", |b| {
        b.iter(|| {
            seed += 1;
            let t = Instant::now();
            let mut ctx = ProxyContext::new(
                t,
                black_box(inv.clone()),
                Transport::Udp,
                None,
                local.clone(),
                Entropy::seeded(seed),
                ContextConfig::default(),
            );
            ctx.add_branch(
                t,
                BranchSpec {
                    request_uri: Some("sip:+82111234567@192.0.2.20:5060"),
                    transport: Transport::Udp,
                    remote: None,
                    record_route: true,
                    pop_route: false,
                    extra_headers: "",
                    no_response: None,
                    drop_history: false,
                    body: None,
                },
            );
            ctx.seal(t);
            let fwd = downstream(&mut ctx).unwrap();
            for code in [180, 200] {
                let r = ResponseBuilder::new(&fwd, code, "X")
                    .to_tag("callee")
                    .build();
                ctx.handle_response(t, Message::parse(r).unwrap());
                downstream(&mut ctx);
            }
            let mut bctx = ProxyContext::new(
                t,
                bye.clone(),
                Transport::Udp,
                None,
                local.clone(),
                Entropy::seeded(seed),
                ContextConfig::default(),
            );
            bctx.add_branch(
                t,
                BranchSpec {
                    request_uri: None,
                    transport: Transport::Udp,
                    remote: None,
                    record_route: false,
                    pop_route: true,
                    extra_headers: "",
                    no_response: None,
                    drop_history: false,
                    body: None,
                },
            );
            bctx.seal(t);
            let fb = downstream(&mut bctx).unwrap();
            let ok = ResponseBuilder::new(&fb, 200, "OK").build();
            bctx.handle_response(t, Message::parse(ok).unwrap());
            downstream(&mut bctx);
            (ctx.final_code(), bctx.final_code())
        })
    });
    g.finish();
}

criterion_group!(benches, call);
criterion_main!(benches);
