//! The message writer: threads that write the messages being left into the mailbox store, and
//! every other change a call makes to a mailbox, so no signalling or media thread ever waits
//! on the disk. Each mailbox belongs to one of [`Writer::spawn`]'s threads (by its number), so
//! its messages and changes keep their order: a message's file is made durable every second,
//! and one thread doing every message's fsync in turn falls behind at a few hundred messages
//! on a plain disk, where several threads keep several fsyncs in flight.
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
//! A greeting recorded by phone goes the same way ([`Writer::start_greeting`]) but into
//! memory: when it ends, the samples kept go back to the call ([`GreetingRecorded`]), which
//! holds them for review and stores them with a [`Change::Greeting`]. The subscriber's other
//! changes on the phone (heard, saved, deleted, the PIN's count, a new PIN) are
//! [`Writer::change`]s, carried out in the order given (`changes.rs`).
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
use switchboard_engine::media::{SampleRate, Side, MAX_FRAME_SAMPLES};
use switchboard_engine::numbering::Aor;
use tracing::{info, warn};

use super::changes::Change;
use super::{MailboxError, Mailboxes, PendingMessage};
use crate::api::notifications::VoicemailLeft;
use crate::api::voicemail::{DepositId, GreetingRecorded, VoiceHeard};
use crate::metrics::{Metrics, VoicemailMetrics};
use crate::recording::tap::TapReader;

/// How often every ring is drained (a ring holds two seconds of a wideband call, about four
/// of a G.711 one).
pub const POLL: Duration = Duration::from_millis(20);

/// The shortest time between two [`VoiceHeard`] notes of one message.
pub const HEARD_EVERY: Duration = Duration::from_millis(200);

/// How long a message whose tap was dropped waits for its `stop`.
pub const GRACE: Duration = Duration::from_secs(1);

/// The longest greeting held in memory (more is not recorded).
pub const MAX_GREETING: Duration = Duration::from_secs(300);
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

/// A greeting to record by phone (held in memory, handed back when it ends).
pub struct StartGreeting {
    /// The subscriber's frames.
    pub reader: TapReader,
    /// Who hears [`VoiceHeard`] notes.
    pub heard: Option<Recipient<VoiceHeard>>,
    /// Frames above this level are the subscriber speaking.
    pub silence_dbfs: f64,
    /// Who gets the recording when it ends.
    pub to: Recipient<GreetingRecorded>,
}

enum Command {
    Start(DepositId, Box<StartDeposit>),
    StartGreeting(DepositId, Box<StartGreeting>),
    Stop(DepositId, Option<Duration>),
    Change(Aor, Change),
    Shutdown(Sender<()>),
}

/// The handle of the writer threads (cheap to clone; held in `Shared`).
#[derive(Clone)]
pub struct Writer {
    /// One command channel per thread: a mailbox's messages and changes go to the one
    /// [`Writer::thread_for`] it, and a recording's id says its thread (`id % len`).
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

    /// The channel of the thread that writes recording `id`.
    fn thread_of(&self, id: DepositId) -> &Sender<Command> {
        &self.commands[(id.0 % self.commands.len() as u64) as usize]
    }

    /// The thread that writes `mailbox`'s messages and changes.
    fn thread_for(&self, mailbox: &Aor) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        mailbox.as_str().hash(&mut h);
        (h.finish() % self.commands.len() as u64) as usize
    }

    /// A new recording's id, on thread `thread`.
    fn next_id(&self, thread: usize) -> DepositId {
        let n = self.commands.len() as u64;
        DepositId(self.next.fetch_add(1, Ordering::Relaxed) * n + thread as u64)
    }

    /// Where stored messages are announced (the Notifications actor); set once, at start-up.
    pub fn notify_to(&self, to: Recipient<VoicemailLeft>) {
        let _ = self.notices.set(to);
    }

    /// Starts writing a message; its id for [`Writer::stop`] and the [`VoiceHeard`] notes.
    /// Returns at once (the store is written on the thread).
    pub fn start(&self, deposit: StartDeposit) -> DepositId {
        let id = self.next_id(self.thread_for(&deposit.mailbox));
        let _ = self
            .thread_of(id)
            .send(Command::Start(id, Box::new(deposit)));
        id
    }

    /// Starts recording a greeting; its id for [`Writer::stop`], the [`VoiceHeard`] notes and
    /// the [`GreetingRecorded`] that ends it.
    pub fn start_greeting(&self, greeting: StartGreeting) -> DepositId {
        // held in memory, stored later by a change: any thread will do
        let seq = self.next.load(Ordering::Relaxed);
        let id = self.next_id((seq % self.commands.len() as u64) as usize);
        let _ = self
            .thread_of(id)
            .send(Command::StartGreeting(id, Box::new(greeting)));
        id
    }

    /// Ends a message (or a greeting): keeps its first `keep` of audio (`None`: nothing) once
    /// the rest of its ring is written.
    pub fn stop(&self, id: DepositId, keep: Option<Duration>) {
        let _ = self.thread_of(id).send(Command::Stop(id, keep));
    }

    /// Changes `mailbox` (after every message and change asked before).
    pub fn change(&self, mailbox: Aor, change: Change) {
        let _ = self.commands[self.thread_for(&mailbox)].send(Command::Change(mailbox, change));
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
    target: Target,
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

/// Where a recording's frames go.
enum Target {
    /// A message; `None` when the store refused it (full, failed): its frames are read and
    /// dropped.
    Message(Option<Box<PendingMessage>>),
    /// A greeting, in memory.
    Greeting(Held),
}

/// A greeting's samples so far.
struct Held {
    rate: Option<SampleRate>,
    samples: Vec<i16>,
    to: Recipient<GreetingRecorded>,
}

impl Held {
    /// Appends a frame (of the greeting's first rate; others are dropped).
    fn push(&mut self, rate: SampleRate, pcm: &[i16]) {
        let first = *self.rate.get_or_insert(rate);
        let room = samples_in(first, MAX_GREETING).saturating_sub(self.samples.len());
        if first == rate {
            self.samples.extend_from_slice(&pcm[..pcm.len().min(room)]);
        }
    }

    /// Hands the first `keep` of the greeting to the call (`None`: nothing kept).
    fn finish(mut self, id: DepositId, keep: Option<Duration>) {
        let audio = match (keep, self.rate) {
            (Some(keep), Some(rate)) if !self.samples.is_empty() => {
                self.samples.truncate(samples_in(rate, keep));
                Some((rate, self.samples.into()))
            }
            _ => None,
        };
        self.to.do_send(GreetingRecorded {
            recording: id,
            audio,
        });
    }
}

/// How many samples `d` holds at `rate`.
fn samples_in(rate: SampleRate, d: Duration) -> usize {
    let n = d.as_millis().saturating_mul(u128::from(rate.hz())) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl WriterThread {
    fn run(mut self, rx: Receiver<Command>) {
        loop {
            // idle (nothing being written): sleep until a command comes, no polling
            let next = if self.active.is_empty() {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                rx.recv_timeout(POLL)
            };
            match next {
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
            Command::StartGreeting(id, g) => {
                let g = *g;
                self.active.push(Active::new(
                    id,
                    Target::Greeting(Held {
                        rate: None,
                        samples: Vec::new(),
                        to: g.to,
                    }),
                    g.reader,
                    g.heard,
                    g.silence_dbfs,
                ));
            }
            Command::Change(mailbox, change) => change.apply(&self.mailboxes, &mailbox),
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
        self.active.push(Active::new(
            id,
            Target::Message(message.map(Box::new)),
            d.reader,
            d.heard,
            d.silence_dbfs,
        ));
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
                match &mut a.target {
                    Target::Message(Some(m)) => {
                        if let Err(e) = m.push(rate, pcm) {
                            failed = Some(e);
                            break;
                        }
                    }
                    Target::Message(None) => {}
                    Target::Greeting(g) => g.push(rate, pcm),
                }
            }
            if failed.is_none() {
                if let Target::Message(Some(m)) = &mut a.target {
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

    /// Commits (or discards) a message and announces a stored one; hands a greeting back.
    fn finish(&mut self, a: Active) {
        let m = &self.metrics.voicemail;
        m.frames_dropped.inc_by(a.reader.dropped());
        if matches!(a.target, Target::Message(_)) {
            m.deposits_active.dec();
        }
        let message = match a.target {
            Target::Message(Some(m)) => *m,
            Target::Message(None) => return,
            // a greeting goes back to its call (nothing of one whose call went without a stop)
            Target::Greeting(g) => return g.finish(a.id, a.keep.flatten()),
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
    fn new(
        id: DepositId,
        target: Target,
        reader: TapReader,
        heard: Option<Recipient<VoiceHeard>>,
        silence_dbfs: f64,
    ) -> Active {
        Active {
            id,
            target,
            reader,
            heard,
            silence_dbfs,
            loudest: f64::NEG_INFINITY,
            last_heard: None,
            keep: None,
            closed_at: None,
        }
    }

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
mod tests;
