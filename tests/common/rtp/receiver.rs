//! The receiving thread of a test phone: every packet kept as a listener hears it (SRTP
//! unprotected first), decoded per SSRC with its payload type's codec; RFC 4733 digits.

use super::*;

pub(super) fn receiver_for(pt: u8) -> DtmfReceiver {
    DtmfReceiver::new(
        PayloadType::new(pt).expect("a payload type below 128"),
        8_000,
        Duration::from_millis(500),
    )
}

pub(super) fn receive(socket: &UdpSocket, received: &Mutex<Received>, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    let mut pcm = vec![0i16; 8192];
    while !stop.load(Ordering::Relaxed) {
        let got = socket.recv_from(&mut buf);
        let now = Instant::now();
        let mut r = lock(received);
        if let Ok((mut n, from)) = got {
            let r = &mut *r;
            let plain = match &mut r.srtp {
                Some(ctx) => {
                    if r.raw.len() < 100 {
                        r.raw.push(buf[..n].to_vec());
                    }
                    match ctx.unprotect(&mut buf, n) {
                        Ok(len) => {
                            n = len;
                            true
                        }
                        Err(_) => false,
                    }
                }
                None => true,
            };
            if plain {
                handle_packet(r, now, &buf[..n], from, &mut pcm);
            } else {
                r.srtp_failed += 1;
            }
        }
        if r.dtmf.poll_timeout().is_some_and(|at| at <= now) {
            r.dtmf.handle_timeout(now);
        }
        while let Some(e) = r.dtmf.poll_event() {
            r.digits.push(e.digit.as_char());
        }
    }
}

fn handle_packet(r: &mut Received, now: Instant, b: &[u8], from: SocketAddr, pcm: &mut [i16]) {
    if demux(b) != PacketKind::Rtp {
        return;
    }
    let Ok(p) = RtpPacket::parse(b) else {
        return;
    };
    r.packets += 1;
    if !r.sources.contains(&from) {
        r.sources.push(from);
    }
    let pt = p.payload_type().value();
    let ssrc = p.ssrc().0;
    let codec = r.payload_types.iter().find(|(t, _)| *t == pt).map(|x| x.1);
    let i = match r.streams.iter().position(|s| s.info.ssrc == ssrc) {
        Some(i) => i,
        None => {
            let c = codec.unwrap_or(Codec::Pcmu);
            r.streams.push(RxStream {
                info: Stream {
                    ssrc,
                    codec: c,
                    packets: 0,
                    from,
                    audio: Audio::new(c.sample_rate(), Vec::new()),
                },
                decoder: Decoder::new(c),
            });
            r.streams.len() - 1
        }
    };
    {
        let s = &mut r.streams[i];
        s.info.packets += 1;
        s.info.from = from;
    }
    if pt == r.telephone_event {
        r.dtmf.handle_packet(now, &p);
        return;
    }
    let Some(codec) = codec else {
        r.unknown += 1;
        return;
    };
    let s = &mut r.streams[i];
    if s.decoder.codec() != codec {
        // the stream changed codec: what a listener hears from now on
        s.decoder = Decoder::new(codec);
        s.info.codec = codec;
        s.info.audio = Audio::new(codec.sample_rate(), Vec::new());
    }
    let n = s.decoder.decode(p.payload(), pcm);
    s.info.audio.samples.extend_from_slice(&pcm[..n]);
}
