//! An RTP test phone: one UDP socket on a loopback address of its own, a tone sent every
//! 20 ms in real time, RFC 4733 digits, and everything received kept as a listener hears it
//! (decoded per SSRC with the payload type's codec, at the codec's rate).
//!
//! Drive it as a phone would: put [`RtpPhone::sdp`] in an offer or answer, read the other
//! side's SDP with [`remote_of`], then [`RtpPhone::start`] (or [`RtpPhone::start_towards`])
//! sends to where that SDP points, from the socket it receives on (symmetric RTP). Check what
//! it heard with [`RtpPhone::audio`] ([`Audio::dominant_hz`], [`Audio::level_at`],
//! [`Audio::has`]), the first 200 ms left out (a stream's start, a relay latching), and the
//! addresses packets came from with [`RtpPhone::sources`].
//!
//! Two threads per phone (plain std threads, so sync and async tests both use it): a sender
//! paced on the wall clock (a late tick catches up, as phones do; `rtp/sender.rs`), and a
//! receiver (`rtp/receiver.rs`). The phone sends no RTCP. With [`RtpPhone::use_srtp`] it
//! speaks SRTP (SDES keys): it protects what it sends with its own key and unprotects what it
//! receives with the other side's, keeping the first packets as they arrived
//! ([`RtpPhone::raw_received`]) and counting those that fail.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::dtmf::{Digit, DtmfReceiver, DtmfSender, DEFAULT_DURATION};
use switchboard_engine::media::rtp::{
    demux, write_header, Header, PacketKind, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc,
};
use switchboard_engine::media::srtp::{MasterKey, SrtpContext, Suite, SRTP_OVERHEAD};
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneGenerator};
use switchboard_engine::media::{Codec, FRAME};

pub use super::audio::{Audio, TONE_DBFS};
pub use sdp::{answer_codecs, remote_of, Remote};

mod receiver;
mod sdp;
mod sender;

use receiver::{receive, receiver_for};
use sender::{send, Out};

/// The audio left out at the start of what was received.
pub const SKIP: Duration = Duration::from_millis(200);

/// The telephone-event payload type a phone offers unless told otherwise.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// One stream received: the packets of one SSRC.
#[derive(Clone, Debug)]
pub struct Stream {
    pub ssrc: u32,
    /// The codec of its last audio packet.
    pub codec: Codec,
    /// RTP packets, audio and events.
    pub packets: u64,
    /// Where its last packet came from.
    pub from: SocketAddr,
    /// Everything it carried, decoded, in arrival order.
    pub audio: Audio,
}

struct RxStream {
    info: Stream,
    decoder: Decoder,
}

struct Received {
    /// How this phone reads payload types: from its own SDP.
    payload_types: Vec<(u8, Codec)>,
    telephone_event: u8,
    /// Its SDP lists telephone-event (a phone without RFC 4733 leaves it out).
    offers_telephone_event: bool,
    /// The version of the last SDP written (RFC 3264 §8: each new description raises it).
    sdp_version: u32,
    streams: Vec<RxStream>,
    packets: u64,
    /// Packets whose payload type this phone did not offer.
    unknown: u64,
    sources: Vec<SocketAddr>,
    dtmf: DtmfReceiver,
    digits: String,
    /// The other side's key, when the phone speaks SRTP.
    srtp: Option<SrtpContext>,
    /// SRTP packets that failed to unprotect.
    srtp_failed: u64,
    /// The first packets received as they arrived, when the phone speaks SRTP.
    raw: Vec<Vec<u8>>,
}

/// What the sender thread reads at every tick.
struct Control {
    remote: SocketAddr,
    sending: bool,
    telephone_event: u8,
    digits: VecDeque<(Digit, Duration)>,
}

struct Sender {
    stop: Arc<AtomicBool>,
    control: Arc<Mutex<Control>>,
    thread: JoinHandle<()>,
    sent: Arc<Mutex<u64>>,
}

/// A phone's media: see the module docs.
pub struct RtpPhone {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    receiver: Option<JoinHandle<()>>,
    sender: Option<Sender>,
    /// Its own key for what it sends, when it speaks SRTP.
    tx_srtp: Option<SrtpContext>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panicking test thread poisons nothing we cannot still read
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn static_payload_types() -> Vec<(u8, Codec)> {
    vec![(0, Codec::Pcmu), (8, Codec::Pcma), (9, Codec::G722)]
}

impl RtpPhone {
    /// A phone on a fresh loopback address, ephemeral port.
    pub fn new() -> RtpPhone {
        Self::bind(super::fresh_ip())
    }

    /// A phone on `ip`, ephemeral port.
    pub fn bind(ip: IpAddr) -> RtpPhone {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind an RTP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let local = socket.local_addr().unwrap();
        let socket = Arc::new(socket);
        let received = Arc::new(Mutex::new(Received {
            payload_types: static_payload_types(),
            telephone_event: TELEPHONE_EVENT_PT,
            offers_telephone_event: true,
            sdp_version: 0,
            streams: Vec::new(),
            packets: 0,
            unknown: 0,
            sources: Vec::new(),
            dtmf: receiver_for(TELEPHONE_EVENT_PT),
            digits: String::new(),
            srtp: None,
            srtp_failed: 0,
            raw: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let receiver = {
            let (socket, received, stop) = (socket.clone(), received.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("rtp-rx-{local}"))
                .spawn(move || receive(&socket, &received, &stop))
                .unwrap()
        };
        RtpPhone {
            socket,
            local,
            received,
            stop,
            receiver: Some(receiver),
            sender: None,
            tx_srtp: None,
        }
    }

    /// Speaks SRTP from now on (streams started after this): sends protected with `ours`,
    /// unprotects with `theirs`.
    pub fn use_srtp(&mut self, suite: Suite, ours: MasterKey, theirs: MasterKey) {
        self.tx_srtp = Some(SrtpContext::new(suite, &ours));
        lock(&self.received).srtp = Some(SrtpContext::new(suite, &theirs));
    }

    /// SRTP packets received that failed to unprotect.
    pub fn srtp_failures(&self) -> u64 {
        lock(&self.received).srtp_failed
    }

    /// The first (up to 100) packets received as they arrived, when the phone speaks SRTP.
    pub fn raw_received(&self) -> Vec<Vec<u8>> {
        lock(&self.received).raw.clone()
    }

    /// Sends `bytes` as they are to `to` from the phone's socket.
    pub fn send_raw(&self, bytes: &[u8], to: SocketAddr) {
        self.socket.send_to(bytes, to).expect("send a datagram");
    }

    /// The address the phone's socket is bound to (where it receives and sends from).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The payload type this phone offers for telephone-event (default 101).
    pub fn set_telephone_event(&self, pt: u8) {
        let mut r = lock(&self.received);
        r.telephone_event = pt;
        r.dtmf = receiver_for(pt);
    }

    /// Whether its SDP lists telephone-event (`false`: a phone that knows no RFC 4733 and
    /// must get digits some other way, SIP INFO).
    pub fn offer_telephone_event(&self, on: bool) {
        lock(&self.received).offers_telephone_event = on;
    }

    /// Its SDP (offer or answer) with `codecs` in this order, telephone-event and
    /// `a=ptime:20`, naming `address_in_sdp` and the bound port (an address other than the
    /// bound one plays a phone behind NAT).
    pub fn sdp(&self, codecs: &[Codec], address_in_sdp: IpAddr) -> Vec<u8> {
        self.sdp_full(
            codecs,
            SocketAddr::new(address_in_sdp, self.local.port()),
            "sendrecv",
        )
    }

    /// Its SDP naming `at` (address and port) with a direction attribute (`sendrecv`,
    /// `sendonly`, `recvonly`, `inactive`). Received packets are read with these payload
    /// types from now on. Each description written gets the next `o=` version, as a new
    /// offer must (hold, resume).
    pub fn sdp_full(&self, codecs: &[Codec], at: SocketAddr, direction: &str) -> Vec<u8> {
        let mut r = lock(&self.received);
        let te = r.offers_telephone_event.then_some(r.telephone_event);
        r.sdp_version += 1;
        let origin = (self.local.port(), r.sdp_version);
        let (body, pts) = sdp::write(codecs, te, at, direction, origin);
        r.payload_types = pts;
        body
    }

    /// Starts sending a continuous `tone_hz` sine at [`TONE_DBFS`] to `remote`, encoded with
    /// `codec` under payload type `pt`, one packet every 20 ms (digits go on this phone's
    /// telephone-event type). Starting again replaces the stream (new SSRC).
    pub fn start(&mut self, remote: SocketAddr, codec: Codec, pt: u8, tone_hz: f32) {
        let te = lock(&self.received).telephone_event;
        self.start_stream(remote, codec, pt, Some(te), tone_hz);
    }

    /// Starts sending to where the other side's SDP points, with its codec, payload type and
    /// telephone-event type.
    pub fn start_towards(&mut self, remote: &Remote, tone_hz: f32) {
        self.start_stream(
            remote.rtp,
            remote.codec,
            remote.payload_type,
            remote.telephone_event,
            tone_hz,
        );
    }

    fn start_stream(
        &mut self,
        remote: SocketAddr,
        codec: Codec,
        pt: u8,
        telephone_event: Option<u8>,
        tone_hz: f32,
    ) {
        self.stop_sending();
        let control = Arc::new(Mutex::new(Control {
            remote,
            sending: true,
            // without a negotiated type, digits go on this phone's own (a test may want to
            // see them dropped)
            telephone_event: telephone_event.unwrap_or(lock(&self.received).telephone_event),
            digits: VecDeque::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(0u64));
        let srtp = self.tx_srtp.clone();
        let thread = {
            let (socket, control, stop, sent) = (
                self.socket.clone(),
                control.clone(),
                stop.clone(),
                sent.clone(),
            );
            std::thread::Builder::new()
                .name(format!("rtp-tx-{}", self.local))
                .spawn(move || {
                    let mut out = Out {
                        socket: &socket,
                        srtp,
                    };
                    send(&mut out, codec, pt, tone_hz, &control, &stop, &sent)
                })
                .unwrap()
        };
        self.sender = Some(Sender {
            stop,
            control,
            thread,
            sent,
        });
    }

    /// Sends from now on to `remote` (a re-INVITE moved the other side), same stream.
    pub fn set_remote(&self, remote: SocketAddr) {
        if let Some(s) = &self.sender {
            lock(&s.control).remote = remote;
        }
    }

    /// Pauses (`false`) or resumes the tone; the stream's clock runs on (hold).
    pub fn set_sending(&self, on: bool) {
        if let Some(s) = &self.sender {
            lock(&s.control).sending = on;
        }
    }

    /// Sends `digit` (`0`-`9`, `*`, `#`, `A`-`D`) as RFC 4733 events, held 160 ms; the tone
    /// pauses while it is on. Queued after earlier digits.
    pub fn send_dtmf(&self, digit: char) {
        let d = Digit::from_char(digit).unwrap_or_else(|| panic!("{digit:?} is no DTMF digit"));
        let s = self.sender.as_ref().expect("send_dtmf on a started phone");
        lock(&s.control).digits.push_back((d, DEFAULT_DURATION));
    }

    /// Sends each digit of `digits` in turn.
    pub fn send_digits(&self, digits: &str) {
        for c in digits.chars() {
            self.send_dtmf(c);
        }
    }

    /// Packets sent so far by the current stream.
    pub fn sent_packets(&self) -> u64 {
        self.sender.as_ref().map_or(0, |s| *lock(&s.sent))
    }

    /// Stops sending (the socket still receives).
    pub fn stop_sending(&mut self) {
        if let Some(s) = self.sender.take() {
            s.stop.store(true, Ordering::Relaxed);
            let _ = s.thread.join();
        }
    }

    /// Stops sending and receiving; what was received stays for analysis.
    pub fn stop(&mut self) {
        self.stop_sending();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.receiver.take() {
            let _ = t.join();
        }
    }

    /// Forgets what was received so far (to look only at what comes after a change).
    pub fn clear_received(&self) {
        let mut r = lock(&self.received);
        r.streams.clear();
        r.packets = 0;
        r.unknown = 0;
        r.sources.clear();
        r.digits.clear();
    }

    /// RTP packets received (audio and events, every SSRC).
    pub fn received_packets(&self) -> u64 {
        lock(&self.received).packets
    }

    /// Received packets with a payload type this phone did not offer.
    pub fn unknown_packets(&self) -> u64 {
        lock(&self.received).unknown
    }

    /// The addresses packets came from, first seen first.
    pub fn sources(&self) -> Vec<SocketAddr> {
        lock(&self.received).sources.clone()
    }

    /// Every stream received, first started first.
    pub fn streams(&self) -> Vec<Stream> {
        lock(&self.received)
            .streams
            .iter()
            .map(|s| s.info.clone())
            .collect()
    }

    /// What the phone heard: the audio of the stream that carried most (the first 200 ms
    /// left out). Empty when nothing came.
    pub fn audio(&self) -> Audio {
        let r = lock(&self.received);
        r.streams
            .iter()
            .max_by_key(|s| s.info.audio.samples.len())
            .map(|s| s.info.audio.skip(SKIP))
            .unwrap_or_default()
    }

    /// How much [`audio`](Self::audio) holds now.
    pub fn heard(&self) -> Duration {
        let r = lock(&self.received);
        r.streams
            .iter()
            .map(|s| s.info.audio.duration())
            .max()
            .unwrap_or_default()
            .saturating_sub(SKIP)
    }

    /// The strongest frequency heard (see [`Audio::dominant_hz`]).
    pub fn dominant_hz(&self) -> Option<f32> {
        self.audio().dominant_hz()
    }

    /// The level heard at `hz`, dBFS.
    pub fn level_at(&self, hz: f32) -> f64 {
        self.audio().level_at(hz)
    }

    /// Whether `hz` is clearly in what was heard.
    pub fn has(&self, hz: f32) -> bool {
        self.audio().has(hz)
    }

    /// The digits received as RFC 4733 events, each once, in order.
    pub fn digits(&self) -> String {
        lock(&self.received).digits.clone()
    }

    /// Waits (on the wall clock, without blocking an async runtime) until at least `len` of
    /// audio was heard; false after `timeout`.
    pub async fn wait_heard(&self, len: Duration, timeout: Duration) -> bool {
        super::eventually_async(timeout, || self.heard() >= len).await
    }

    /// [`wait_heard`](Self::wait_heard) for sync tests.
    pub fn wait_heard_blocking(&self, len: Duration, timeout: Duration) -> bool {
        super::eventually(timeout, || self.heard() >= len)
    }
}

impl Default for RtpPhone {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RtpPhone {
    fn drop(&mut self) {
        self.stop();
    }
}
