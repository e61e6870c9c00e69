//! The sending thread of a test phone: a tone every 20 ms paced on the wall clock (a late
//! tick catches up), RFC 4733 digits when asked, through SRTP when the phone speaks it.

use super::*;

/// Where the sender's packets go out: the socket, through SRTP when the phone speaks it.
pub(super) struct Out<'a> {
    pub(super) socket: &'a UdpSocket,
    pub(super) srtp: Option<SrtpContext>,
}

impl Out<'_> {
    /// Sends `packet[..n]` (protected in place first with SRTP); whether it went.
    fn send(&mut self, packet: &mut [u8], n: usize, to: SocketAddr) -> bool {
        let n = match &mut self.srtp {
            Some(ctx) => ctx.protect(packet, n).expect("room for the tag"),
            None => n,
        };
        self.socket.send_to(&packet[..n], to).is_ok()
    }
}

pub(super) fn send(
    socket: &mut Out<'_>,
    codec: Codec,
    pt: u8,
    tone_hz: f32,
    control: &Mutex<Control>,
    stop: &AtomicBool,
    sent: &Mutex<u64>,
) {
    let payload_type = PayloadType::new(pt).expect("a payload type below 128");
    let rate = codec.sample_rate();
    let mut tone = ToneGenerator::new(
        Tone::continuous(Sound::Single(tone_hz), Level::dbfs(TONE_DBFS)),
        rate,
    );
    let mut encoder = Encoder::new(codec);
    let mut frame = vec![0i16; rate.frame_samples()];
    let mut packet = [0u8; 1500 + SRTP_OVERHEAD];
    let ssrc = Ssrc(rand::random());
    let mut seq = Seq(rand::random());
    let mut ts = RtpTimestamp(rand::random());
    let mut dtmf: Option<(u8, DtmfSender)> = None;
    let mut first = true;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(5)));
            continue;
        }
        let (remote, sending) = {
            let mut c = lock(control);
            let te = c.telephone_event;
            if dtmf.as_ref().is_none_or(|(t, _)| *t != te) {
                dtmf = Some((te, dtmf_sender(te)));
            }
            let tx = &mut dtmf.as_mut().expect("set above").1;
            while let Some((d, len)) = c.digits.pop_front() {
                let _ = tx.send(now, d, len);
            }
            (c.remote, c.sending)
        };
        let tx = &mut dtmf.as_mut().expect("set above").1;
        let mut count = 0;
        while let Some(e) = tx.poll(now, ts) {
            let n = e.write_rtp(&mut packet, seq, ssrc).expect("an event fits");
            count += u64::from(socket.send(&mut packet, n, remote));
            seq = seq.next();
        }
        // RFC 4733 §2.5.1.2: no audio while an event is on
        if sending && !tx.is_active() {
            tone.generate(&mut frame);
            let mut h = Header::new(payload_type, seq, ts, ssrc);
            h.marker = first;
            first = false;
            let n = write_header(&mut packet, &h).expect("a header fits");
            let m = encoder.encode(&frame, &mut packet[n..]);
            count += u64::from(socket.send(&mut packet, n + m, remote));
            seq = seq.next();
        }
        *lock(sent) += count;
        ts = ts.wrapping_add(codec.frame_timestamp_units());
        next += FRAME;
        // far behind (a stalled machine): start afresh rather than burst a second of audio
        if now.saturating_duration_since(next) > Duration::from_secs(1) {
            next = now + FRAME;
        }
    }
}

fn dtmf_sender(pt: u8) -> DtmfSender {
    DtmfSender::new(
        PayloadType::new(pt).expect("a payload type below 128"),
        8_000,
    )
}
