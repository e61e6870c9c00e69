//! The message writer driven by hand: rings of frames in, the store and notes out.

use super::*;
use crate::mailbox::{dir_in, MailboxLimits};
use crate::store::Store;
use switchboard_engine::media::FrameSink;
use switchboard_engine::voicemail::{Folder, Greeting, PinLockout};

/// A writer of three threads (so mailboxes land on different ones).
fn writer(name: &str) -> (Writer, Mailboxes, Arc<Metrics>) {
    let d = std::env::temp_dir().join(format!("sb-vm-writer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let db = Store::open(&d.join("data"), 100, 8).unwrap();
    let (m, _) = Mailboxes::open(db, dir_in(&d), MailboxLimits::default(), "h").unwrap();
    let metrics = Arc::new(Metrics::new());
    (
        Writer::spawn(m.clone(), metrics.clone(), 3).unwrap(),
        m,
        metrics,
    )
}

fn deposit(reader: TapReader) -> StartDeposit {
    deposit_to("1001", reader)
}

fn deposit_to(mailbox: &str, reader: TapReader) -> StartDeposit {
    StartDeposit {
        mailbox: Aor::from_canonical(mailbox),
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
    assert!(w.shutdown(Duration::from_secs(5)));
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
}

#[test]
fn messages_to_many_mailboxes_are_spread_over_the_threads_and_each_kept_in_its_own() {
    let (w, m, metrics) = writer("spread");
    let boxes: Vec<String> = (0..12).map(|i| format!("{}", 2000 + i)).collect();
    let threads: std::collections::HashSet<usize> = boxes
        .iter()
        .map(|b| w.thread_for(&Aor::from_canonical(b)))
        .collect();
    assert!(threads.len() > 1, "{threads:?}");
    let mut taps = Vec::new();
    for b in &boxes {
        let (tap, reader) = crate::recording::tap::channel();
        let id = w.start(deposit_to(b, reader));
        // a recording's id names its mailbox's thread
        assert_eq!(
            id.0 % 3,
            w.thread_for(&Aor::from_canonical(b)) as u64,
            "{b}"
        );
        taps.push((id, tap));
    }
    for (i, (id, tap)) in taps.iter_mut().enumerate() {
        for _ in 0..60 {
            tap.frame(
                Side::Caller,
                SampleRate::NARROW,
                &[100 * (i as i16 + 1); 160],
            );
        }
        w.stop(*id, Some(Duration::MAX));
    }
    drop(taps);
    assert!(w.shutdown(Duration::from_secs(10)));
    for (i, b) in boxes.iter().enumerate() {
        let mb = Aor::from_canonical(b);
        let all = m.messages(&mb).unwrap();
        assert_eq!(all.len(), 1, "{b}");
        let (_, samples) = m.samples(&mb, all[0].id).unwrap().unwrap();
        assert_eq!(samples.len(), 60 * 160, "{b}");
        assert!(samples.iter().all(|&s| s == 100 * (i as i16 + 1)), "{b}");
    }
    assert_eq!(metrics.voicemail.deposits_active.get(), 0);
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

struct Collect(crossbeam::channel::Sender<GreetingRecorded>);

impl actix::Actor for Collect {
    type Context = actix::Context<Self>;
}

impl actix::Handler<GreetingRecorded> for Collect {
    type Result = ();
    fn handle(&mut self, m: GreetingRecorded, _: &mut actix::Context<Self>) {
        let _ = self.0.send(m);
    }
}

#[test]
fn a_greeting_comes_back_up_to_the_length_kept_and_a_kept_one_is_stored_in_order() {
    use actix::Actor;
    let (w, m, _) = writer("greeting");
    let (tx, rx) = crossbeam::channel::unbounded();
    let mb = Aor::from_canonical("1001");
    let sys = actix::System::new();
    let kept = sys.block_on(async {
        let to = Collect(tx).start().recipient();
        let (mut tap, reader) = crate::recording::tap::channel();
        let id = w.start_greeting(StartGreeting {
            reader,
            heard: None,
            silence_dbfs: -45.0,
            to: to.clone(),
        });
        for _ in 0..100 {
            tap.frame(Side::Caller, SampleRate::NARROW, &[1200; 160]);
            tap.frame(Side::Callee, SampleRate::NARROW, &[0; 160]);
        }
        w.stop(id, Some(Duration::from_millis(1_500)));
        drop(tap);
        // one dropped: nothing comes back
        let (mut tap, reader) = crate::recording::tap::channel();
        let dropped = w.start_greeting(StartGreeting {
            reader,
            heard: None,
            silence_dbfs: -45.0,
            to,
        });
        tap.frame(Side::Caller, SampleRate::NARROW, &[1200; 160]);
        w.stop(dropped, None);
        drop(tap);
        let deadline = Instant::now() + Duration::from_secs(10);
        while rx.len() < 2 && Instant::now() < deadline {
            actix::clock::sleep(Duration::from_millis(10)).await;
        }
        id
    });
    let mut got: Vec<GreetingRecorded> = rx.try_iter().collect();
    assert_eq!(got.len(), 2);
    // two threads may finish them in either order
    got.sort_by_key(|g| g.recording != kept);
    let (rate, samples) = got[0].audio.clone().expect("the greeting kept");
    assert_eq!((rate, samples.len()), (SampleRate::NARROW, 12_000));
    assert!(
        samples.iter().all(|&s| s == 1200),
        "the subscriber's side only"
    );
    assert!(got[1].audio.is_none());

    // stored, then the message changes after it, in the order given
    w.change(mb.clone(), Change::Greeting(Greeting::Name, rate, samples));
    let (mut tap, reader) = crate::recording::tap::channel();
    let id = w.start(deposit(reader));
    for _ in 0..60 {
        tap.frame(Side::Caller, SampleRate::NARROW, &[3000; 160]);
    }
    w.stop(id, Some(Duration::MAX));
    drop(tap);
    let left = wait_for(&m, 1);
    w.change(mb.clone(), Change::Folder(left[0].id, Folder::Saved));
    w.change(
        mb.clone(),
        Change::PinFailed {
            now_unix: 1_700_000_000,
            rules: PinLockout::default(),
        },
    );
    assert!(w.shutdown(Duration::from_secs(5)));
    assert_eq!(
        m.message(&mb, left[0].id).unwrap().unwrap().folder,
        Folder::Saved
    );
    assert_eq!(m.settings(&mb).unwrap().pin_failures, 1);
    let (_, stored) = m.greeting(&mb, Greeting::Name).unwrap().unwrap();
    assert_eq!(stored.len(), 12_000);
}
