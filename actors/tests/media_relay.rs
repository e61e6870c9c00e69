//! The media plane on loopback with real RTP: two sockets play the phones, a media session
//! relays or transcodes between them, and what each phone receives is checked by frequency.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use switchboard_actors::api::media::MediaNote;
use switchboard_actors::config::{Config, Media};
use switchboard_actors::media::{MediaError, MediaPlane, MediaSession};
use switchboard_actors::metrics::{Metrics, ThreadLabel};
use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::rtp::{
    write_header, Header, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::session::{Event, StreamConfig};
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};
use switchboard_engine::media::{Codec, SampleRate, Side};

#[path = "media_relay/icmp.rs"]
mod icmp;
#[path = "media_relay/re_invite.rs"]
mod re_invite;
#[path = "media_relay/realtime.rs"]
mod realtime;
#[path = "media_relay/relay.rs"]
mod relay;
#[path = "media_relay/sessions.rs"]
mod sessions;

/// Keeps the notes of a session.
#[derive(Default, Clone)]
struct Owner(Arc<Mutex<Vec<MediaNote>>>);

impl Actor for Owner {
    type Context = Context<Self>;
}

impl Handler<MediaNote> for Owner {
    type Result = ();
    fn handle(&mut self, m: MediaNote, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(m);
    }
}

fn media(ports: &str) -> Media {
    let mut m = Config::load(None).unwrap().media;
    m.ports = ports.into();
    m.threads = 1;
    m
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

fn side(remote: SocketAddr, codec: Codec, pt: u8) -> StreamConfig {
    StreamConfig {
        remote,
        remote_rtcp: SocketAddr::new(remote.ip(), remote.port() + 1),
        rtcp_mux: false,
        codec,
        payload_type: pt,
        incoming_payload_type: pt,
        telephone_event: None,
        incoming_telephone_event: None,
        sends: true,
        receives: true,
        srtp: None,
    }
}

/// Waits until the session's thread has taken every command sent to it so far (it takes them
/// in order, and answers `stats` after them): a packet sent after this finds the session set
/// up, where one sent before could meet a session not yet configured and be dropped.
async fn settled(s: &MediaSession) {
    s.stats().await.expect("the session is open");
}

/// A call through `plane` between two phones: a session of both sides, each pointed at its
/// own phone with its (codec, payload type), settled. (session, caller's phone, callee's phone)
async fn call(
    plane: &MediaPlane,
    owner: actix::Recipient<MediaNote>,
    caller_codec: (Codec, u8),
    callee_codec: (Codec, u8),
) -> (MediaSession, UdpSocket, UdpSocket) {
    let session = plane.open(&[Side::Caller, Side::Callee], owner).unwrap();
    let (caller, callee) = (phone(), phone());
    let (cc, cpt) = caller_codec;
    session.configure(Side::Caller, side(caller.local_addr().unwrap(), cc, cpt));
    let (dc, dpt) = callee_codec;
    session.configure(Side::Callee, side(callee.local_addr().unwrap(), dc, dpt));
    settled(&session).await;
    (session, caller, callee)
}

/// A phone's outgoing stream of a tone.
struct Talker {
    codec: Codec,
    pt: u8,
    seq: u16,
    tone: ToneGenerator,
    enc: Encoder,
}

impl Talker {
    fn new(codec: Codec, pt: u8, freq: f32) -> Talker {
        let tone = Tone::continuous(Sound::Single(freq), Level::dbfs(-10.0));
        Talker {
            codec,
            pt,
            seq: 0,
            tone: ToneGenerator::new(tone, codec.sample_rate()),
            enc: Encoder::new(codec),
        }
    }

    fn send(&mut self, from: &UdpSocket, to: SocketAddr) {
        let mut pcm = vec![0i16; self.codec.sample_rate().frame_samples()];
        self.tone.generate(&mut pcm);
        let ts = RtpTimestamp(u32::from(self.seq) * self.codec.frame_timestamp_units());
        let h = Header::new(
            PayloadType::new(self.pt).unwrap(),
            Seq(self.seq),
            ts,
            Ssrc(0xabc),
        );
        let mut buf = [0u8; 400];
        let n = write_header(&mut buf, &h).unwrap();
        let m = self.enc.encode(&pcm, &mut buf[n..]);
        from.send_to(&buf[..n + m], to).unwrap();
        self.seq += 1;
    }
}

/// Every packet `s` receives until it is quiet for `quiet`: (source, bytes).
fn receive_all(s: &UdpSocket, quiet: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = s.recv_from(&mut buf) {
        got.push((from, buf[..n].to_vec()));
    }
    got
}

fn decode(packets: &[(SocketAddr, Vec<u8>)], codec: Codec) -> Vec<i16> {
    let mut dec = Decoder::new(codec);
    let mut pcm = Vec::new();
    let mut frame = vec![0i16; codec.sample_rate().frame_samples()];
    for (_, p) in packets {
        let p = RtpPacket::parse(p).unwrap();
        let n = dec.decode(p.payload(), &mut frame);
        pcm.extend_from_slice(&frame[..n]);
    }
    pcm
}

fn hears(pcm: &[i16], rate: SampleRate, freq: f32) -> bool {
    let block = &pcm[pcm.len() / 3..];
    ToneDetector::new(rate, &[440.0, 1000.0, 2000.0])
        .analyze(block)
        .is(&[freq])
}

/// Sends `n` packets of each talker, one pair every 20 ms.
fn talk(
    a: &mut Talker,
    from_a: &UdpSocket,
    to_a: SocketAddr,
    b: &mut Talker,
    from_b: &UdpSocket,
    to_b: SocketAddr,
    n: u32,
) {
    let start = Instant::now();
    for k in 0..n {
        a.send(from_a, to_a);
        b.send(from_b, to_b);
        let next = start + Duration::from_millis(20) * (k + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}
