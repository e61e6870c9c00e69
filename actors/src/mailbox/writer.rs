//! The message writer: a thread that writes the messages being left into the mailbox store,
//! so no signalling or media thread ever waits on the disk.
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
use crate::recording::tap::TapReader;

/// How often every ring is drained (a ring holds two seconds).
pub const POLL: Duration = Duration::from_millis(20);

/// The shortest time between two [`VoiceHeard`] notes of one message.
pub const HEARD_EVERY: Duration = Duration::from_millis(200);

/// How long a message whose tap was dropped waits for its `stop`.
pub const GRACE: Duration = Duration::from_secs(1);

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

/// The handle of the writer thread (cheap to clone; held in `Shared`).
#[derive(Clone)]
pub struct Writer {
    commands: Sender<Command>,
    next: Arc<AtomicU64>,
    notices: Arc<OnceLock<Recipient<VoicemailLeft>>>,
}

impl Writer {
    /// Starts the thread writing into `mailboxes`.
    pub fn spawn(mailboxes: Mailboxes) -> std::io::Result<Writer> {
        let (tx, rx) = crossbeam::channel::unbounded();
        let notices = Arc::new(OnceLock::new());
        let thread = WriterThread {
            mailboxes,
            notices: notices.clone(),
            active: Vec::new(),
            frame: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
        };
        std::thread::Builder::new()
            .name("voicemail".into())
            .spawn(move || thread.run(rx))?;
        Ok(Writer {
            commands: tx,
            next: Arc::new(AtomicU64::new(1)),
            notices,
        })
    }

    /// Where stored messages are announced (the Notifications actor); set once, at start-up.
    pub fn notify_to(&self, to: Recipient<VoicemailLeft>) {
        let _ = self.notices.set(to);
    }

    /// Starts writing a message; its id for [`Writer::stop`] and the [`VoiceHeard`] notes.
    /// Returns at once (the store is written on the thread).
    pub fn start(&self, deposit: StartDeposit) -> DepositId {
        let id = DepositId(self.next.fetch_add(1, Ordering::Relaxed));
        let _ = self.commands.send(Command::Start(id, Box::new(deposit)));
        id
    }

    /// Ends a message: keeps its first `keep` of audio (`None`: nothing) once the rest of its
    /// ring is written.
    pub fn stop(&self, id: DepositId, keep: Option<Duration>) {
        let _ = self.commands.send(Command::Stop(id, keep));
    }

    /// Commits every message in progress and stops the thread; `false` if that took longer
    /// than `wait`.
    pub fn shutdown(&self, wait: Duration) -> bool {
        let (reply, done) = crossbeam::channel::bounded(1);
        if self.commands.send(Command::Shutdown(reply)).is_err() {
            return true;
        }
        done.recv_timeout(wait).is_ok()
    }
}

struct WriterThread {
    mailboxes: Mailboxes,
    notices: Arc<OnceLock<Recipient<VoicemailLeft>>>,
    active: Vec<Active>,
    frame: Box<[i16]>,
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
            self.pump(Instant::now());
        }
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
        let mut i = 0;
        while i < self.active.len() {
            let a = &mut self.active[i];
            // read before draining: a tap dropped by now pushed everything it will
            let closed = a.reader.is_closed();
            let mut failed = None;
            while let Some((side, rate, n)) = a.reader.next_frame(&mut self.frame) {
                if side != Side::Caller {
                    continue;
                }
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
    }

    /// Commits (or discards) a message and announces a stored one.
    fn finish(&mut self, a: Active) {
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

    fn writer(name: &str) -> (Writer, Mailboxes) {
        let d = std::env::temp_dir().join(format!("sb-vm-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let db = Store::open(&d.join("data"), 100, 8).unwrap();
        let (m, _) = Mailboxes::open(db, dir_in(&d), MailboxLimits::default(), "h").unwrap();
        (Writer::spawn(m.clone()).unwrap(), m)
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
        let (w, m) = writer("stop");
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
        assert!(w.shutdown(Duration::from_secs(5)));
    }

    #[test]
    fn a_message_stopped_with_nothing_to_keep_or_cut_off_keeps_accordingly() {
        let (w, m) = writer("discard");
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
