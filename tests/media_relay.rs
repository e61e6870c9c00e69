//! `switchboard media relay`: the media plane alone on the benchmark's port layout (call `i`
//! on relay ports BASE+4i and BASE+4i+2, towards the generator's legs PEER+4i and PEER+4i+2),
//! driven by plain UDP sockets standing in for the generator's legs.
//!
//! Relayed G.711 leaves the other side with its payload, sequence numbers and timestamps
//! intact and from the relay port of that side, and goes to no other call; with
//! `--transcode` a tone sent as PCMU is heard as G.722 on the other side and the other way
//! round. The process's exit line counts what it relayed.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::audio::{assert_tone, encode, tone, Audio, TONE_DBFS};
use switchboard_engine::media::codec::Decoder;
use switchboard_engine::media::rtp::{
    write_header, Header, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::{Codec, SampleRate, FRAME};

const RELAY_BASE: u16 = 20_000;
const PEER_BASE: u16 = 10_000;

/// A running `switchboard media relay`; killed on drop if not stopped.
struct Relay {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Relay {
    /// Starts it for `calls` calls on `ip` and waits for its `ready` line.
    fn start(ip: IpAddr, calls: u16, extra: &[&str]) -> Relay {
        let mut child = Command::new(common::BIN)
            .args(["media", "relay", "--threads", "1", "--calls"])
            .arg(calls.to_string())
            .args(["--address", &ip.to_string()])
            .args(["--relay-base", &RELAY_BASE.to_string()])
            .args(["--peer-base", &PEER_BASE.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start switchboard media relay");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "media relay exited before it was ready");
            if line.starts_with("ready") {
                break;
            }
        }
        Relay { child, stdout }
    }

    /// Stops it with SIGTERM: the counts it printed (`sessions 2 received 50 ...`) as pairs.
    fn stop(mut self) -> Vec<(String, u64)> {
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        assert!(self.child.wait().unwrap().success(), "media relay failed");
        let line = rest
            .lines()
            .find(|l| l.starts_with("sessions "))
            .unwrap_or_else(|| panic!("no counts printed: {rest:?}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        words
            .chunks(2)
            .map(|kv| (kv[0].to_owned(), kv[1].parse().unwrap()))
            .collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(counts: &[(String, u64)], name: &str) -> u64 {
    counts
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {counts:?}"))
        .1
}

/// The generator's leg of call `call`: caller (`callee == false`) or callee.
fn leg(ip: IpAddr, call: u16, callee: bool) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(ip, port(PEER_BASE, call, callee))).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn port(base: u16, call: u16, callee: bool) -> u16 {
    base + 4 * call + if callee { 2 } else { 0 }
}

/// An RTP packet with payload type 0.
fn packet(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    let h = Header::new(
        PayloadType::new(0).unwrap(),
        Seq(seq),
        RtpTimestamp(u32::from(seq) * 160),
        Ssrc(ssrc),
    );
    let n = write_header(&mut buf, &h).unwrap();
    buf[n..].copy_from_slice(payload);
    buf
}

/// What arrives on `socket` until it has been quiet for its read timeout: (source, bytes).
fn receive_all(socket: &UdpSocket) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => out.push((from, buf[..n].to_vec())),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("receive: {e}"),
        }
    }
    out
}

/// Checks that `got` is `sent`, packet by packet: payload, sequence number, timestamp and
/// payload type intact, each from `relay_port`.
fn assert_relayed(what: &str, sent: &[Vec<u8>], got: &[(SocketAddr, Vec<u8>)], relay: SocketAddr) {
    assert_eq!(got.len(), sent.len(), "{what}: packets out of the relay");
    for (i, (s, (from, g))) in sent.iter().zip(got).enumerate() {
        assert_eq!(
            *from, relay,
            "{what}: packet {i} from the relay port of its side"
        );
        let (s, g) = (RtpPacket::parse(s).unwrap(), RtpPacket::parse(g).unwrap());
        assert_eq!(g.payload(), s.payload(), "{what}: packet {i}'s payload");
        assert_eq!(g.seq(), s.seq(), "{what}: packet {i}'s sequence number");
        assert_eq!(
            g.timestamp(),
            s.timestamp(),
            "{what}: packet {i}'s timestamp"
        );
        assert_eq!(
            g.payload_type().value(),
            0,
            "{what}: packet {i}'s payload type"
        );
    }
}

#[test]
fn relayed_pcmu_leaves_the_other_side_of_its_call_with_the_payload_intact() {
    let ip = common::fresh_ip();
    let relay = Relay::start(ip, 2, &[]);
    let legs = [0, 1].map(|call| [leg(ip, call, false), leg(ip, call, true)]);
    let relay_port = |callee| SocketAddr::new(ip, port(RELAY_BASE, 1, callee));
    // a 1 kHz tone as µ-law, 25 packets each way through call 1
    let payload = encode(
        Codec::Pcmu,
        &tone(1000.0, TONE_DBFS, SampleRate::NARROW, 25 * FRAME),
    );
    let frames: Vec<&[u8]> = payload.chunks(160).collect();
    let forward: Vec<Vec<u8>> = (0..25)
        .map(|i| packet(1000 + i, 0xA, frames[usize::from(i)]))
        .collect();
    let backward: Vec<Vec<u8>> = (0..25)
        .map(|i| packet(7000 + i, 0xB, frames[usize::from(24 - i)]))
        .collect();
    for (a, b) in forward.iter().zip(&backward) {
        legs[1][0].send_to(a, relay_port(false)).unwrap();
        legs[1][1].send_to(b, relay_port(true)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let at_callee = receive_all(&legs[1][1]);
    let at_caller = receive_all(&legs[1][0]);
    assert_relayed("caller to callee", &forward, &at_callee, relay_port(true));
    assert_relayed("callee to caller", &backward, &at_caller, relay_port(false));
    for (side, s) in legs[0].iter().enumerate() {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        assert!(
            receive_all(s).is_empty(),
            "call 0's side {side} got another call's packets"
        );
    }
    let counts = relay.stop();
    assert_eq!(count(&counts, "sessions"), 2);
    assert_eq!(count(&counts, "received"), 50);
    assert_eq!(count(&counts, "relayed"), 50);
    assert_eq!(count(&counts, "dropped"), 0);
}

/// The packets of `got` decoded in arrival order as `codec`.
fn decode(codec: Codec, got: &[(SocketAddr, Vec<u8>)]) -> Audio {
    let mut d = Decoder::new(codec);
    let mut pcm = vec![0i16; codec.sample_rate().frame_samples()];
    let mut samples = Vec::new();
    for (_, bytes) in got {
        let p = RtpPacket::parse(bytes).unwrap();
        assert_eq!(p.payload_type().value(), 0, "the payload type of the side");
        let n = d.decode(p.payload(), &mut pcm);
        samples.extend_from_slice(&pcm[..n]);
    }
    Audio::new(codec.sample_rate(), samples)
}

#[test]
fn a_transcoded_call_carries_a_tone_each_way_between_pcmu_and_g722() {
    let ip = common::fresh_ip();
    let relay = Relay::start(ip, 1, &["--transcode"]);
    let (caller, callee) = (leg(ip, 0, false), leg(ip, 0, true));
    for s in [&caller, &callee] {
        s.set_nonblocking(true).unwrap();
    }
    let frames = 60u16;
    let pcmu = encode(
        Codec::Pcmu,
        &tone(
            1000.0,
            TONE_DBFS,
            SampleRate::NARROW,
            FRAME * u32::from(frames),
        ),
    );
    let g722 = encode(
        Codec::G722,
        &tone(
            700.0,
            TONE_DBFS,
            SampleRate::WIDE,
            FRAME * u32::from(frames),
        ),
    );
    // both legs send in real time (the frame path plays out at 20 ms ticks), reading as they go
    let (mut at_caller, mut at_callee) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut buf = [0u8; 2048];
    let mut drain = |s: &UdpSocket, into: &mut Vec<(SocketAddr, Vec<u8>)>| {
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            into.push((from, buf[..n].to_vec()));
        }
    };
    for i in 0..frames {
        let k = usize::from(i);
        let to_caller_side = SocketAddr::new(ip, port(RELAY_BASE, 0, false));
        let to_callee_side = SocketAddr::new(ip, port(RELAY_BASE, 0, true));
        caller
            .send_to(&packet(i, 0xA, &pcmu[k * 160..][..160]), to_caller_side)
            .unwrap();
        callee
            .send_to(&packet(i, 0xB, &g722[k * 160..][..160]), to_callee_side)
            .unwrap();
        drain(&caller, &mut at_caller);
        drain(&callee, &mut at_callee);
        if let Some(wait) =
            (start + FRAME * u32::from(i + 1)).checked_duration_since(Instant::now())
        {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    drain(&caller, &mut at_caller);
    drain(&callee, &mut at_callee);

    let skip = Duration::from_millis(200);
    let heard_by_callee = decode(Codec::G722, &at_callee).skip(skip);
    let heard_by_caller = decode(Codec::Pcmu, &at_caller).skip(skip);
    assert_tone(
        "the callee (G.722)",
        &heard_by_callee,
        1000.0,
        700.0,
        SampleRate::WIDE,
    );
    assert_tone(
        "the caller (PCMU)",
        &heard_by_caller,
        700.0,
        1000.0,
        SampleRate::NARROW,
    );
    let counts = relay.stop();
    assert_eq!(
        count(&counts, "relayed"),
        0,
        "nothing relayed as is: {counts:?}"
    );
    assert_eq!(
        count(&counts, "sent"),
        (at_caller.len() + at_callee.len()) as u64,
        "every packet the legs got came from the frame path"
    );
}
