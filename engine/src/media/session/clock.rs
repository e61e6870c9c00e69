//! The frame clock of a session: what each side hears (its `Route`) after every command,
//! the frame-path parts that needs (built here, so never on a packet or a tick), the 20 ms
//! tick, and the packets it makes (audio frames and DTMF in the switch's own stream).

use std::time::Instant;

use super::pipeline::{Decode, Encode};
use super::{Event, Route, Session, Transmit, MAX_TICK_LAG, SIDES, SILENCE};
use crate::media::rtp::{write_header, Header};
use crate::media::{Side, FRAME};

impl Session {
    /// Whether the side's audio goes through its decoder (for the other side or the sink).
    pub(super) fn decodes(&self, side: Side) -> bool {
        self.streams[side.index()].is_some()
            && (self.sink.is_some() || self.routes[side.other().index()] == Route::Transcode)
    }

    /// Recomputes both routes after a command and builds what the frame path now needs.
    pub(super) fn refresh(&mut self, now: Instant) {
        let before = self.routes;
        for side in SIDES {
            let (i, o) = (side.index(), side.other().index());
            self.routes[i] = Route::of(
                self.streams[i].as_ref(),
                self.streams[o].as_ref(),
                self.sources[i].is_some(),
                self.feeds[i].is_some(),
                self.sink.is_some(),
            );
        }
        for side in SIDES {
            let (i, o) = (side.index(), side.other().index());
            let decodes = self.decodes(side);
            let was = std::mem::replace(&mut self.decoding[i], decodes);
            let codec = self.streams[i].as_ref().map(|s| s.cfg.codec);
            let low = self.mixer_clock.is_some();
            match (decodes, &mut self.decode[i], codec) {
                // back on the frame path after a while: a fresh stream
                (true, Some(d), Some(c)) if d.codec() == c && d.low_latency() == low && !was => {
                    d.reset()
                }
                (true, Some(d), Some(c)) if d.codec() == c && d.low_latency() == low => {}
                (true, slot, Some(c)) => *slot = Some(Box::new(Decode::new(c, low))),
                _ => {}
            }
            let route = self.routes[i];
            if route == Route::Feed && before[i] != Route::Feed {
                if let Some(f) = &mut self.feeds[i] {
                    f.restart();
                }
            }
            if route.encodes() {
                let Some(codec) = self.streams[i].as_ref().map(|s| s.cfg.codec) else {
                    continue;
                };
                let enc = match &mut self.encode[i] {
                    Some(e) if e.codec() == codec => e,
                    slot => slot.insert(Box::new(Encode::new(codec))),
                };
                if route != before[i] {
                    enc.restart();
                }
                if let (Route::Transcode, Some(from)) = (route, &self.streams[o]) {
                    enc.set_input(from.cfg.codec.sample_rate());
                }
            }
        }
        let ticking = self.sink.is_some() || self.routes.iter().any(|r| r.ticks());
        self.next_tick = match (ticking, self.next_tick) {
            (true, Some(t)) => Some(t),
            (true, None) => Some(self.first_tick(now)),
            (false, _) => None,
        };
    }

    /// The first frame tick of a clock that starts at `now`: at once, or the next one of
    /// the mixer's clock the session follows.
    pub(super) fn first_tick(&self, now: Instant) -> Instant {
        match &self.mixer_clock {
            Some(c) => c.frame_tick_at_or_after(now),
            None => now,
        }
    }

    /// One 20 ms tick of the frame path at `at`.
    pub(super) fn tick(&mut self, at: Instant) {
        let mut spoke = [false; 2];
        for side in SIDES {
            let i = side.index();
            if !self.decodes(side) {
                continue;
            }
            let Some(d) = &mut self.decode[i] else {
                continue;
            };
            spoke[i] = d.pull(at);
            if let Some(sink) = &mut self.sink {
                let rate = d.rate();
                let pcm = if spoke[i] {
                    d.pcm()
                } else {
                    &SILENCE[..rate.frame_samples()]
                };
                sink.frame(side, rate, pcm);
            }
        }
        let mut finished = false;
        for side in SIDES {
            let (i, o) = (side.index(), side.other().index());
            let Some(enc) = &mut self.encode[i] else {
                continue;
            };
            match self.routes[i] {
                Route::Source => {
                    let Some(p) = &mut self.sources[i] else {
                        continue;
                    };
                    if p.fill(enc.frame_for(at)) {
                        if !p.repeats() {
                            self.events.push(Event::PlayFinished { side });
                        }
                        self.sources[i] = None;
                        finished = true;
                    }
                }
                Route::Transcode if spoke[o] => {
                    if let Some(d) = &self.decode[o] {
                        enc.feed(at, d.pcm());
                    }
                }
                _ => {}
            }
        }
        if finished {
            self.refresh(at);
        }
    }

    /// The next frame waiting for `side`, as an RTP packet of the switch's stream: the frame
    /// its encoder made at the last tick (a prompt's last frame goes out even when the feed
    /// took over in that tick), then what its feed was pushed.
    pub(super) fn transmit_audio(
        &mut self,
        now: Instant,
        side: Side,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        if let Some(t) = self.transmit_encoded(now, side, buf) {
            return Some(t);
        }
        if self.routes[side.index()] == Route::Feed {
            return self.transmit_fed(side, buf);
        }
        None
    }

    /// The frame the side's encoder made at the last tick, unless it waited so long that it
    /// is stale (the route changed before it was sent): a stale frame never goes out.
    fn transmit_encoded(&mut self, now: Instant, side: Side, buf: &mut [u8]) -> Option<Transmit> {
        let i = side.index();
        let enc = self.encode[i].as_mut()?;
        let at = enc.take_pending()?;
        if now.saturating_duration_since(at) > FRAME * (MAX_TICK_LAG + 1) {
            return None;
        }
        let stream = self.streams[i].as_mut()?;
        let to = stream.rtp_target()?;
        let (ts, follows) = stream.frame_stamp(self.t0, at);
        let mut h = Header::new(stream.pt, stream.next_seq(), ts, stream.ssrc);
        // a talk spurt starts where the switch's stream resumes, not where what it carries
        // changes (RFC 3551 §4.1)
        h.marker = enc.take_marker() && !follows;
        let n = write_header(buf, &h).ok()?;
        if buf.len() < n + enc.codec().frame_payload_bytes() {
            return None;
        }
        let payload = enc.encode(&mut buf[n..]);
        stream.sent(payload);
        Some(Transmit {
            side,
            to,
            len: n + payload,
            rtcp: false,
        })
    }

    /// The payload a feed gave `side` this tick, as an RTP packet of the switch's stream.
    fn transmit_fed(&mut self, side: Side, buf: &mut [u8]) -> Option<Transmit> {
        let i = side.index();
        let feeding = self.feeds[i].as_mut()?;
        let stream = self.streams[i].as_mut()?;
        let (at, marker, payload) = feeding.take(self.mixer_clock.as_ref())?;
        let to = stream.rtp_target()?;
        let (ts, follows) = stream.frame_stamp(self.t0, at);
        let mut h = Header::new(stream.pt, stream.next_seq(), ts, stream.ssrc);
        h.marker = marker && !follows;
        let n = write_header(buf, &h).ok()?;
        let end = n + payload.len();
        if buf.len() < end {
            return None;
        }
        buf[n..end].copy_from_slice(payload);
        stream.sent(payload.len());
        Some(Transmit {
            side,
            to,
            len: end,
            rtcp: false,
        })
    }

    /// The DTMF packet due for `side`, if one is.
    pub(super) fn transmit_digit(
        &mut self,
        now: Instant,
        side: Side,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        let stream = self.streams[side.index()].as_mut()?;
        if !stream.cfg.sends {
            return None;
        }
        // checked before the clock is read: this runs after every packet, and a digit is rare
        if stream.dtmf_tx.as_ref()?.poll_timeout()? > now {
            return None;
        }
        let clock = stream.clock(self.t0, now);
        let tx = stream.dtmf_tx.as_mut()?;
        let packet = tx.poll(now, clock)?;
        let to = stream.rtp_target()?;
        let seq = stream.next_seq();
        let len = packet.write_rtp(buf, seq, stream.ssrc).ok()?;
        stream.sent(len.saturating_sub(12));
        Some(Transmit {
            side,
            to,
            len,
            rtcp: false,
        })
    }
}
