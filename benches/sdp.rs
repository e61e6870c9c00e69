//! The SDP work of one call setup on a Linphone-style offer (~1.2 KB: five codecs,
//! telephone-event on three clocks, ICE candidates):
//! - sdp_parse_offer: read the offer from its bytes;
//! - sdp_answer_offer: answer the parsed offer and write the answer;
//! - sdp_rewrite_offer: copy the parsed offer, point it at a relay port, write it.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::sdp::negotiate::{self, CodecPolicy, LocalEndpoint};
use switchboard_engine::sdp::rewrite::{self, RelayPort};
use switchboard_engine::sdp::{Origin, Sdp};

const OFFER: &str = "v=0\r\n\
o=alice 3047 1783 IN IP4 192.168.1.20\r\n\
s=Talk\r\n\
c=IN IP4 192.168.1.20\r\n\
t=0 0\r\n\
a=ice-pwd:3b9ed6a4c6f8f2b1f0b3a5c1\r\n\
a=ice-ufrag:9a7c5f3e\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 96 97 9 0 8 101 98 99\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 speex/16000\r\n\
a=fmtp:97 vbr=on\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:98 telephone-event/16000\r\n\
a=rtpmap:99 telephone-event/8000\r\n\
a=fmtp:99 0-16\r\n\
a=ptime:20\r\n\
a=rtcp:7079\r\n\
a=candidate:1 1 UDP 2130706431 192.168.1.20 7078 typ host\r\n\
a=candidate:1 2 UDP 2130706430 192.168.1.20 7079 typ host\r\n\
a=candidate:2 1 UDP 1694498815 203.0.113.5 40112 typ srflx raddr 192.168.1.20 rport 7078\r\n\
a=candidate:2 2 UDP 1694498814 203.0.113.5 40113 typ srflx raddr 192.168.1.20 rport 7079\r\n\
a=sendrecv\r\n";

fn sdp(c: &mut Criterion) {
    let mut g = c.benchmark_group("sdp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sdp_parse_offer", |b| {
        b.iter(|| Sdp::parse(black_box(OFFER.as_bytes())).unwrap())
    });

    let offer = Sdp::parse(OFFER.as_bytes()).unwrap();
    let relay = "203.0.113.1".parse().unwrap();
    let local = LocalEndpoint::new(relay, 30000);
    let policy = CodecPolicy::default();
    let mut out = String::with_capacity(2048);
    g.bench_function("sdp_answer_offer", |b| {
        b.iter(|| {
            let origin = Origin::new(1, 1, relay);
            let answer = negotiate::answer(black_box(&offer), &local, &policy, origin).unwrap();
            out.clear();
            answer.sdp.write_to(&mut out);
            out.len()
        })
    });
    g.bench_function("sdp_rewrite_offer", |b| {
        b.iter(|| {
            let mut sdp = black_box(&offer).clone();
            rewrite::rewrite_endpoints(&mut sdp, &[RelayPort::new(30000)], relay).unwrap();
            out.clear();
            sdp.write_to(&mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, sdp);
criterion_main!(benches);
