//! The message writer: threads that write the messages being left into the mailbox store, so
//! no signalling or media thread ever waits on the disk. Each message is written by one of
//! [`Writer::spawn`]'s threads (by its id): a file is made durable every second, and one
//! thread doing every message's fsync in turn falls behind at a few hundred messages on a
//! plain disk, where several threads keep several fsyncs in flight.
//!
//! How to drive it: [`Writer::start`] when the caller's recording starts, with the reading
//! end of a frame ring (`recording::tap::channel`; the call's media session gets the
//! [`RecordingTap`](crate::recording::RecordingTap) as its sink), then [`Writer::stop`] with
//! how much of the message to keep (`None`: nothing) when it ends. The thread begins the
//! message in the store (its pending record flushed), and every [`POLL`] drains each ring
//! into its message's file (the caller's side only), makes the file durable when due, and
//! tells the call when the caller's audio is above the silence level ([`VoiceHeard`], at most
//! every [`HEARD_EVERY`]). A message ends when `stop` names it and its ring is empty: it is
//! committed (or discarded), and a stored one is announced to the notifier
//! ([`VoicemailLeft`]). A ring whose tap was dropped without a `stop` (the call failed) is
//! committed whole after [`GRACE`].
//!
//! What it guarantees: a message is acknowledged (`VoicemailLeft` sent, the change feed told)
//! only once the store has committed it (see `mailbox/mod.rs`); at shutdown every message in
//! progress is committed with what it has.
//!
//! What it reports (`switchboard_voicemail_*`, [`VoicemailMetrics`], summed over the
//! threads): the messages in progress, every poll's cost and lateness (a poll is due [`POLL`] after the previous one
//! began, late when it begins more than [`LATE`] after that: the previous one took longer than
//! a frame, or the thread did not get to run), the deepest ring found at a poll, the frames
//! written, and those the rings dropped because the thread fell behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use actix::Recipient;
use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use switchboard_engine::media::tone::block_dbfs;
use switchboard_engine::media::{Side, MAX_FRAME_SAMPLES};
use switchboard_engine::numbering::Aor;
use tracing::{info, warn};

use super::{MailboxError, Mailboxes, PendingMessage};
use crate::api::notifications::VoicemailLeft;
use crate::api::voicemail::{DepositId, VoiceHeard};
use crate::metrics::{Metrics, VoicemailMetrics};
use crate::recording::tap::TapReader;

/// How often every ring is drained (a ring holds two seconds of a wideband call, about four
/// of a G.711 one).
pub const POLL: Duration = Duration::from_millis(20);

/// The shortest time between two [`VoiceHeard`] notes of one message.
pub const HEARD_EVERY: Duration = Duration::from_millis(200);

/// How long a message whose tap was dropped waits for its `stop`.
pub const GRACE: Duration = Duration::from_secs(1);

/// A poll that begins this long after it was due is late (a frame: the rings hold seconds,
/// so a late poll loses no audio, but many say the thread is falling behind: fsyncs, mostly).
pub const LATE: Duration = Duration::from_millis(20);

/// A message to write.
pub struct StartDeposit {
    pub mailbox: Aor,
    /// The caller as stored: a canonical number or `anonymous`.
    pub caller: String,
    pub received: SystemTime,
    /// The caller's frames.
    pub reader: TapReader,
    /// Who hears [`VoiceHeard`] notes.
    pub heard: Option<Recipient<VoiceHeard>>,
    /// Frames above this level are the caller speaking.
    pub silence_dbfs: f64,
}

enum Command {
    Start(DepositId, Box<StartDeposit>),
    Stop(DepositId, Option<Duration>),
    Shutdown(Sender<()>),
}

/// The handle of the writer threads (cheap to clone; held in `Shared`).
#[derive(Clone)]
pub struct Writer {
    /// One command channel per thread; a message's commands go to `id % len`.
    commands: Arc<[Sender<Command>]>,
    next: Arc<AtomicU64>,
    notices: Arc<OnceLock<Recipient<VoicemailLeft>>>,
}

impl Writer {
    /// Starts `threads` threads (at least one) writing into `mailboxes`, reporting into
    /// `metrics.voicemail`.
    pub fn spawn(
        mailboxes: Mailboxes,
        metrics: Arc<Metrics>,
        threads: usize,
    ) -> std::io::Result<Writer> {
        let notices = Arc::new(OnceLock::new());
        let mut commands = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = crossbeam::channel::unbounded();
            let thread = WriterThread {
                mailboxes: mailboxes.clone(),
                notices: notices.clone(),
                active: Vec::new(),
                frame: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
                metrics: metrics.clone(),
                due: None,
            };
            std::thread::Builder::new()
                .name(format!("voicemail-{i}"))
                .spawn(move || thread.run(rx))?;
            commands.push(tx);
        }
        Ok(Writer {
            commands: commands.into(),
            next: Arc::new(AtomicU64::new(1)),
            notices,
        })
    }

    /// The channel of the thread that writes message `id`.
    fn thread_of(&self, id: DepositId) -> &Sender<Command> {
        &self.commands[(id.0 % self.commands.len() as u64) as usize]
    }

    /// Where stored messages are announced (the Notifications actor); set once, at start-up.
    pub fn notify_to(&self, to: Recipient<VoicemailLeft>) {
        let _ = self.notices.set(to);
    }

    /// Starts writing a message; its id for [`Writer::stop`] and the [`VoiceHeard`] notes.
    /// Returns at once (the store is written on the thread).
    pub fn start(&self, deposit: StartDeposit) -> DepositId {
        let id = DepositId(self.next.fetch_add(1, Ordering::Relaxed));
        let _ = self
            .thread_of(id)
            .send(Command::Start(id, Box::new(deposit)));
        id
    }

    /// Ends a message: keeps its first `keep` of audio (`None`: nothing) once the rest of its
    /// ring is written.
    pub fn stop(&self, id: DepositId, keep: Option<Duration>) {
        let _ = self.thread_of(id).send(Command::Stop(id, keep));
    }

    /// Commits every message in progress and stops the threads; `false` if that took longer
    /// than `wait`.
    pub fn shutdown(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let (reply, done) = crossbeam::channel::bounded(self.commands.len());
        let asked = self
            .commands
            .iter()
            .filter(|c| c.send(Command::Shutdown(reply.clone())).is_ok())
            .count();
        (0..asked).all(|_| done.recv_deadline(deadline).is_ok())
    }
}

struct WriterThread {
    mailboxes: Mailboxes,
    notices: Arc<OnceLock<Recipient<VoicemailLeft>>>,
    active: Vec<Active>,
    frame: Box<[i16]>,
    metrics: Arc<Metrics>,
    /// When the next poll is due (while messages are being written): a [`POLL`] after the
    /// last one began.
    due: Option<Instant>,
}

/// A message being written.
struct Active {
    id: DepositId,
    /// `None` when the store refused it (full, failed): its frames are read and dropped.
    message: Option<PendingMessage>,
    reader: TapReader,
    heard: Option<Recipient<VoiceHeard>>,
    silence_dbfs: f64,
    /// The loudest frame since the last note, and when the last note went.
    loudest: f64,
    last_heard: Option<Instant>,
    /// `Some` once `stop` came: what to keep.
    keep: Option<Option<Duration>>,
    /// When the tap was seen dropped without a `stop`.
    closed_at: Option<Instant>,
}

impl WriterThread {
    fn run(mut self, rx: Receiver<Command>) {
        loop {
            match rx.recv_timeout(POLL) {
                Ok(cmd) => {
                    if !self.handle(cmd) {
                        return;
                    }
                    while let Ok(cmd) = rx.try_recv() {
                        if !self.handle(cmd) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish_all();
                    return;
                }
            }
            self.poll();
        }
    }

    /// One poll: every ring drained ([`WriterThread::pump`]), timed while messages are being
    /// written: two clock reads and a few atomic updates.
    fn poll(&mut self) {
        let now = Instant::now();
        if self.active.is_empty() {
            self.due = None;
            return self.pump(now);
        }
        let m = &self.metrics.voicemail;
        if self.due.is_some_and(|due| now > due + LATE) {
            m.late_polls.inc();
        }
        self.pump(now);
        let busy = now.elapsed().as_secs_f64();
        let m = &self.metrics.voicemail;
        m.polls.inc();
        m.poll_busy.inc_by(busy);
        if busy > m.poll_max.get() {
            // two threads racing here may keep the lesser of two new maxima: a gauge
            m.poll_max.set(busy);
        }
        self.due = Some(now + POLL);
    }

    /// Carries out one command; `false` to stop the thread.
    fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Start(id, d) => self.start(id, *d),
            Command::Stop(id, keep) => {
                if let Some(a) = self.active.iter_mut().find(|a| a.id == id) {
                    a.keep = Some(keep);
                }
            }
            Command::Shutdown(reply) => {
                self.finish_all();
                let _ = reply.send(());
                return false;
            }
        }
        true
    }

    fn start(&mut self, id: DepositId, d: StartDeposit) {
        let message = match self
            .mailboxes
            .begin(&d.mailbox, &d.caller, d.received, Instant::now())
        {
            Ok(m) => Some(m),
            Err(MailboxError::Full) => {
                info!(mailbox = %d.mailbox.redacted(), deposit = %id, "mailbox full: message not kept");
                None
            }
            Err(e) => {
                warn!(mailbox = %d.mailbox.redacted(), deposit = %id, error = %e, "message not started");
                None
            }
        };
        self.metrics.voicemail.deposits_active.inc();
        self.active.push(Active {
            id,
            message,
            reader: d.reader,
            heard: d.heard,
            silence_dbfs: d.silence_dbfs,
            loudest: f64::NEG_INFINITY,
            last_heard: None,
            keep: None,
            closed_at: None,
        });
    }

    /// Drains every ring, makes files durable when due, ends what is over.
    fn pump(&mut self, now: Instant) {
        let (mut frames, mut deepest) = (0u64, 0u64);
        let mut i = 0;
        while i < self.active.len() {
            let a = &mut self.active[i];
            // read before draining: a tap dropped by now pushed everything it will
            let closed = a.reader.is_closed();
            let mut failed = None;
            let mut drained = 0u64;
            while let Some((side, rate, n)) = a.reader.next_frame(&mut self.frame) {
                if side != Side::Caller {
                    continue;
                }
                drained += 1;
                let pcm = &self.frame[..n];
                let level = block_dbfs(pcm);
                if level > a.silence_dbfs {
                    a.loudest = a.loudest.max(level);
                }
                if let Some(m) = a.message.as_mut() {
                    if let Err(e) = m.push(rate, pcm) {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if failed.is_none() {
                if let Some(m) = a.message.as_mut() {
                    if let Err(e) = m.flush_if_due(now) {
                        failed = Some(e);
                    }
                }
            }
            if let Some(e) = failed {
                warn!(deposit = %a.id, error = %e, "message write failed; keeping what it has");
                // what reached the file is kept; the rest of the call is not recorded
                a.keep.get_or_insert(Some(Duration::MAX));
            }
            frames += drained;
            deepest = deepest.max(drained);
            a.tell_heard(now);
            if closed && a.keep.is_none() {
                a.closed_at.get_or_insert(now);
            }
            let over = a.keep.is_some() && (closed || a.reader.is_empty())
                || a.closed_at.is_some_and(|t| now >= t + GRACE);
            if over {
                let a = self.active.swap_remove(i);
                self.finish(a);
            } else {
                i += 1;
            }
        }
        note_frames(&self.metrics.voicemail, frames, deepest);
    }

    /// Commits (or discards) a message and announces a stored one.
    fn finish(&mut self, a: Active) {
        let m = &self.metrics.voicemail;
        m.deposits_active.dec();
        m.frames_dropped.inc_by(a.reader.dropped());
        let Some(message) = a.message else {
            return;
        };
        let mailbox = message.mailbox().clone();
        let result = match a.keep {
            Some(None) => self.mailboxes.discard(message).map(|()| None),
            // stopped with a length, or its call went without saying: what it has
            Some(Some(keep)) => self.mailboxes.commit(message, keep),
            None => self.mailboxes.commit(message, Duration::MAX),
        };
        match result {
            Ok(Some(rec)) => {
                if let Some(n) = self.notices.get() {
                    n.do_send(VoicemailLeft {
                        mailbox,
                        caller: rec.caller,
                        received_unix: rec.received_unix,
                        duration_ms: rec.duration_ms,
                    });
                }
            }
            Ok(None) => info!(deposit = %a.id, "message too short: not kept"),
            Err(e) => warn!(deposit = %a.id, error = %e, "message not stored"),
        }
    }

    fn finish_all(&mut self) {
        let now = Instant::now();
        self.pump(now);
        for a in std::mem::take(&mut self.active) {
            self.finish(a);
        }
    }
}

/// Counts the caller frames one pump wrote and raises the backlog high-water mark.
fn note_frames(m: &VoicemailMetrics, frames: u64, deepest: u64) {
    if frames > 0 {
        m.frames.inc_by(frames);
    }
    let deepest = i64::try_from(deepest).unwrap_or(i64::MAX);
    if deepest > m.backlog_max_frames.get() {
        // two threads racing here may keep the lesser of two new maxima: a gauge
        m.backlog_max_frames.set(deepest);
    }
}

impl Active {
    /// Tells the call its caller spoke, at most every [`HEARD_EVERY`].
    fn tell_heard(&mut self, now: Instant) {
        if self.loudest == f64::NEG_INFINITY {
            return;
        }
        if self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) < HEARD_EVERY)
        {
            return;
        }
        if let Some(h) = &self.heard {
            h.do_send(VoiceHeard {
                deposit: self.id,
                dbfs: self.loudest,
            });
        }
        self.loudest = f64::NEG_INFINITY;
        self.last_heard = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::{dir_in, MailboxLimits};
    use crate::store::Store;
    use switchboard_engine::media::{FrameSink, SampleRate};

    fn writer(name: &str) -> (Writer, Mailboxes, Arc<Metrics>) {
        let d = std::env::temp_dir().join(format!("sb-vm-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let db = Store::open(&d.join("data"), 100, 8).unwrap();
        let (m, _) = Mailboxes::open(db, dir_in(&d), MailboxLimits::default(), "h").unwrap();
        let metrics = Arc::new(Metrics::new());
        (
            Writer::spawn(m.clone(), metrics.clone(), 2).unwrap(),
            m,
            metrics,
        )
    }

    fn deposit(reader: TapReader) -> StartDeposit {
        StartDeposit {
            mailbox: Aor::from_canonical("1001"),
            caller: "1002".into(),
            received: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            reader,
            heard: None,
            silence_dbfs: -45.0,
        }
    }

    fn wait_for(m: &Mailboxes, n: usize) -> Vec<switchboard_engine::voicemail::VoicemailRecord> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = m.messages(&Aor::from_canonical("1001")).unwrap();
            if all.len() >= n || Instant::now() > deadline {
                return all;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_stopped_message_keeps_the_callers_side_up_to_the_length_asked() {
        let (w, m, metrics) = writer("stop");
        let (mut tap, reader) = crate::recording::tap::channel();
        let id = w.start(deposit(reader));
        for _ in 0..100 {
            tap.frame(Side::Caller, SampleRate::NARROW, &[3000; 160]);
            // the other side is only the switch's silence: not written
            tap.frame(Side::Callee, SampleRate::NARROW, &[0; 160]);
        }
        w.stop(id, Some(Duration::from_millis(1_500)));
        drop(tap);
        let all = wait_for(&m, 1);
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].duration_ms, all[0].caller.as_str()),
            (1_500, "1002")
        );
        let (_, samples) = m
            .samples(&Aor::from_canonical("1001"), all[0].id)
            .unwrap()
            .unwrap();
        assert!(samples.iter().all(|&s| s == 3000));
        // the thread reported the message: written whole, none left in progress
        let vm = &metrics.voicemail;
        assert_eq!(
            (
                vm.frames.get(),
                vm.frames_dropped.get(),
                vm.deposits_active.get()
            ),
            (100, 0, 0)
        );
        assert!(vm.polls.get() >= 1 && vm.backlog_max_frames.get() >= 1);
        assert!(w.shutdown(Duration::from_secs(5)));
    }

    #[test]
    fn a_message_stopped_with_nothing_to_keep_or_cut_off_keeps_accordingly() {
        let (w, m, _) = writer("discard");
        let (mut tap, reader) = crate::recording::tap::channel();
        let id = w.start(deposit(reader));
        for _ in 0..60 {
            tap.frame(Side::Caller, SampleRate::NARROW, &[3000; 160]);
        }
        w.stop(id, None);
        drop(tap);
        // a second one whose call went without a stop: kept whole after the grace time
        let (mut tap, reader) = crate::recording::tap::channel();
        w.start(deposit(reader));
        for _ in 0..75 {
            tap.frame(Side::Caller, SampleRate::WIDE, &[-2000; 320]);
        }
        drop(tap);
        let all = wait_for(&m, 1);
        assert_eq!(all.len(), 1, "the discarded one is not there");
        assert_eq!(all[0].duration_ms, 1_500);
        assert!(w.shutdown(Duration::from_secs(5)));
    }
}
