//! A shard's RTP: call legs and conference participants start when their call comes up
//! (`Out::MediaStart`) and stop when it ends, and their counts come back to the shard's
//! recorder. Conference participants' and voicemail callers' calls are dialled here too.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{Flow, Shard};
use crate::core::agent::{Audio, Caller, Out};
use crate::core::conference::{room_user, Participant};
use crate::core::stats::{LegCounts, ParticipantCounts};
use crate::core::{CallMedia, User};
use crate::runner::{conference, media};

/// What a leg counted when it ended.
pub(super) enum LegReport {
    Call(LegCounts),
    Conference(Box<ParticipantCounts>),
}

impl Shard {
    /// A conference participant dials its room.
    pub(super) fn dial_conference(
        &mut self,
        now: Instant,
        p: Participant,
        record: bool,
        out: &mut Vec<Out>,
    ) -> Option<(Box<str>, Flow)> {
        if record {
            self.recorder.conference_dialled(p.room);
        }
        let socket = self.media_socket()?;
        let audio = Audio {
            socket: socket.local_addr().ok()?,
            media: CallMedia::Direct,
        };
        let c = Caller::conference(
            now,
            self.identity(p.user, 0),
            &room_user(p.room),
            p.hold,
            audio,
            p.codec,
            self.ep.clone(),
            &mut self.e,
            out,
        );
        let call_id: Box<str> = c.call_id().into();
        self.media_sockets.insert(call_id.clone(), socket);
        self.participants.insert(call_id.clone(), p);
        Some((call_id, Flow::Caller(Box::new(c))))
    }

    /// A voicemail caller calls its mailbox; its audio is a call leg's (a tone out, the
    /// switch's greeting and beep counted in).
    pub(super) fn dial_voicemail(
        &mut self,
        now: Instant,
        caller: User,
        mailbox: User,
        hold: Duration,
        out: &mut Vec<Out>,
    ) -> Option<(Box<str>, Flow)> {
        let socket = self.media_socket()?;
        let audio = Audio {
            socket: socket.local_addr().ok()?,
            media: CallMedia::Direct,
        };
        let c = Caller::voicemail(
            now,
            self.identity(caller, 0),
            &self.people.number(mailbox),
            hold,
            audio,
            self.ep.clone(),
            &mut self.e,
            out,
        );
        let call_id: Box<str> = c.call_id().into();
        self.media_sockets.insert(call_id.clone(), socket);
        Some((call_id, Flow::Caller(Box::new(c))))
    }

    pub(super) fn leg_report(&mut self, r: &LegReport) {
        match r {
            LegReport::Call(c) => self.recorder.rtp(c),
            LegReport::Conference(c) => self.recorder.conference(c),
        }
    }

    /// Stops the call's RTP leg, if it has one running; its counts come back on `rtp`.
    pub(super) fn stop_legs(&mut self, call_id: &str) {
        if let Some(rx) = self.legs.remove(call_id).and_then(media::Leg::stop) {
            self.rtp_pending += 1;
            let tx = self.rtp.0.clone();
            tokio::spawn(async move {
                if let Ok(c) = rx.await {
                    let _ = tx.send(LegReport::Call(c));
                }
            });
        }
        if let Some(rx) = self
            .conference_legs
            .remove(call_id)
            .and_then(conference::Leg::stop)
        {
            self.rtp_pending += 1;
            let tx = self.rtp.0.clone();
            tokio::spawn(async move {
                if let Ok(c) = rx.await {
                    let _ = tx.send(LegReport::Conference(Box::new(c)));
                }
            });
        }
    }

    /// Starts the RTP of a call that came up: a conference participant's, or a call leg's.
    pub(super) fn start_media(
        &mut self,
        call_id: &str,
        remote: SocketAddr,
        peer: Option<SocketAddr>,
    ) {
        let Some(sock) = self.media_sockets.remove(call_id) else {
            return;
        };
        let Ok(sock) = UdpSocket::from_std(sock) else {
            return;
        };
        let ssrc = self.e.next_u64() as u32;
        if let Some(p) = self.participants.remove(call_id) {
            let voice = self
                .voices
                .entry((p.voice, p.codec))
                .or_insert_with(|| p.voice().into())
                .clone();
            let leg = conference::start(sock, remote, &p, voice, ssrc, self.probes.clone());
            self.conference_legs.insert(call_id.into(), leg);
        } else {
            let leg = media::start(sock, remote, peer, ssrc);
            self.legs.insert(call_id.into(), leg);
        }
    }
}
