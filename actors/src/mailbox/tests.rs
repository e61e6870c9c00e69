use std::time::{Duration, Instant, SystemTime};

use actix::{Actor, Context, Handler};
use switchboard_engine::media::tone::{Level, Sound, Tone, ToneDetector, ToneGenerator};
use switchboard_engine::media::SampleRate;
use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{
    Folder, Greeting, MailboxSettings, MessageClass, VoicemailId, VoicemailRecord,
};

use super::*;
use crate::api::voicemail::MailboxChanged;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sb-mailbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open_with(name: &str, limits: MailboxLimits) -> (Mailboxes, Store, PathBuf) {
    let d = tmp(name);
    let db = Store::open(&d.join("data"), 100, 8).unwrap();
    let dir = dir_in(&d);
    let (m, report) = Mailboxes::open(db.clone(), dir.clone(), limits, "example.com").unwrap();
    assert_eq!(report, RecoveryReport::default());
    (m, db, dir)
}

fn open(name: &str) -> (Mailboxes, Store, PathBuf) {
    open_with(name, MailboxLimits::default())
}

fn mailbox() -> Aor {
    Aor::from_canonical("1001")
}

fn when() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Feeds `ms` of a 440 Hz tone at -12 dBFS in 20 ms frames.
fn speak(m: &mut PendingMessage, rate: SampleRate, ms: u64) {
    let mut g = ToneGenerator::new(
        Tone::continuous(Sound::Single(440.0), Level::dbfs(-12.0)),
        rate,
    );
    let mut frame = vec![0i16; rate.frame_samples()];
    for _ in 0..ms / 20 {
        g.generate(&mut frame);
        m.push(rate, &frame).unwrap();
    }
}

/// Leaves a message of `ms` of tone and commits it whole.
fn leave(m: &Mailboxes, mb: &Aor, ms: u64) -> Option<VoicemailRecord> {
    let mut p = m.begin(mb, "1002", when(), Instant::now()).unwrap();
    speak(&mut p, SampleRate::NARROW, ms);
    m.commit(p, Duration::from_secs(3600)).unwrap()
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_committed_message_has_its_record_and_a_readable_file_of_the_callers_audio() {
    let (m, db, dir) = open("commit");
    let mb = mailbox();
    let mut p = m
        .begin(&mb, "+82111234567", when(), Instant::now())
        .unwrap();
    assert_eq!(
        db.pending_voicemails().unwrap().len(),
        1,
        "pending from the start"
    );
    assert!(
        m.messages(&mb).unwrap().is_empty(),
        "not listed until commit"
    );
    speak(&mut p, SampleRate::WIDE, 3_000);
    assert_eq!(p.written(), Duration::from_secs(3));
    let rec = m.commit(p, Duration::from_secs(3600)).unwrap().unwrap();
    assert_eq!(
        (rec.caller.as_str(), rec.received_unix, rec.duration_ms),
        ("+82111234567", 1_700_000_000, 3_000)
    );
    assert_eq!((rec.folder, rec.bytes), (Folder::New, 44 + 2 * 48_000));
    assert!(db.pending_voicemails().unwrap().is_empty());
    assert_eq!(m.messages(&mb).unwrap(), std::slice::from_ref(&rec));
    assert_eq!(m.message(&mb, rec.id).unwrap(), Some(rec.clone()));
    let path = dir.join("1001").join(rec.id.file_name());
    assert_eq!(m.audio_path(&mb, rec.id).unwrap(), path);
    assert_eq!(
        m.audio(&mb, rec.id).unwrap().unwrap(),
        std::fs::read(&path).unwrap()
    );
    let (rate, samples) = m.samples(&mb, rec.id).unwrap().unwrap();
    assert_eq!((rate, samples.len()), (SampleRate::WIDE, 48_000));
    let report = ToneDetector::new(rate, &[440.0]).analyze(&samples);
    assert!(report.is(&[440.0]), "{report:?}");
    assert!((report.level_dbfs(440.0).unwrap() + 12.0).abs() < 1.0);
    assert_eq!(m.audio(&mb, VoicemailId(rec.id.0 + 1)).unwrap(), None);
}

#[test]
fn a_message_is_cut_to_the_length_kept_and_under_a_second_nothing_stays() {
    let (m, db, dir) = open("short");
    let mb = mailbox();
    let mut p = m.begin(&mb, "1002", when(), Instant::now()).unwrap();
    speak(&mut p, SampleRate::NARROW, 3_000);
    let rec = m.commit(p, Duration::from_millis(2_500)).unwrap().unwrap();
    assert_eq!((rec.duration_ms, rec.bytes), (2_500, 44 + 2 * 20_000));

    // 3 s spoken, but the caller's silence left only 0.9 s worth keeping
    let mut p = m.begin(&mb, "1002", when(), Instant::now()).unwrap();
    speak(&mut p, SampleRate::NARROW, 3_000);
    assert_eq!(m.commit(p, Duration::from_millis(900)).unwrap(), None);
    // 0.6 s spoken
    assert_eq!(leave(&m, &mb, 600), None);
    // discarded outright
    let mut p = m.begin(&mb, "1002", when(), Instant::now()).unwrap();
    speak(&mut p, SampleRate::NARROW, 2_000);
    m.discard(p).unwrap();

    assert_eq!(m.messages(&mb).unwrap(), std::slice::from_ref(&rec));
    assert!(db.pending_voicemails().unwrap().is_empty());
    assert_eq!(files_of(&dir.join("1001")), [rec.id.file_name()]);
}

#[test]
fn a_mailbox_is_full_at_its_count_or_its_minutes_and_the_minutes_left_cap_a_message() {
    let limits = MailboxLimits {
        max_messages: 3,
        max_total: Duration::from_secs(10),
        max_message: Duration::from_secs(6),
        min_message: Duration::from_secs(1),
    };
    let (m, _, _) = open_with("full", limits);
    let (a, b) = (mailbox(), Aor::from_canonical("1003"));
    assert_eq!(
        m.capacity(&a).unwrap(),
        Capacity::Room(Duration::from_secs(6))
    );
    leave(&m, &a, 5_000).unwrap();
    assert_eq!(
        m.capacity(&a).unwrap(),
        Capacity::Room(Duration::from_secs(5))
    );
    leave(&m, &a, 4_200).unwrap();
    // 0.8 s left: less than the shortest message
    assert_eq!(m.capacity(&a).unwrap(), Capacity::Full);
    assert!(matches!(
        m.begin(&a, "1002", when(), Instant::now()),
        Err(MailboxError::Full)
    ));
    for _ in 0..3 {
        leave(&m, &b, 1_000).unwrap();
    }
    assert_eq!(m.capacity(&b).unwrap(), Capacity::Full, "three messages");
    // a message is never kept longer than the longest
    let mut p = m.begin(&mailbox_of("1004"), "1002", when(), Instant::now());
    let p2 = p.as_mut().unwrap();
    speak(p2, SampleRate::NARROW, 7_000);
    let rec = m.commit(p.unwrap(), Duration::from_secs(60)).unwrap();
    assert_eq!(rec.unwrap().duration_ms, 6_000);
    // deleting makes room
    let first = m.messages(&b).unwrap()[0].id;
    m.delete(&b, first).unwrap();
    assert!(matches!(m.capacity(&b).unwrap(), Capacity::Room(_)));
}

fn mailbox_of(n: &str) -> Aor {
    Aor::from_canonical(n)
}

#[test]
fn heard_saved_and_deleted_messages_change_the_summary_and_delete_takes_the_file() {
    let (m, db, dir) = open("folders");
    let mb = mailbox();
    let (x, y) = (
        leave(&m, &mb, 1_000).unwrap(),
        leave(&m, &mb, 1_200).unwrap(),
    );
    let s = m.summary(&mb).unwrap();
    assert!(s.waiting);
    assert_eq!(s.account.as_deref(), Some("sip:1001@example.com"));
    let counts = s.counts(MessageClass::Voice).unwrap();
    assert_eq!((counts.new, counts.old), (2, 0));

    let heard = m.set_folder(&mb, x.id, Folder::Saved).unwrap().unwrap();
    assert_eq!(heard.folder, Folder::Saved);
    assert_eq!(
        m.folder(&mb, Folder::New).unwrap(),
        std::slice::from_ref(&y)
    );
    assert_eq!(m.folder(&mb, Folder::Saved).unwrap(), [heard]);
    let counts = m.summary(&mb).unwrap().counts(MessageClass::Voice).unwrap();
    assert_eq!((counts.new, counts.old), (1, 1));

    assert_eq!(m.delete(&mb, y.id).unwrap(), Some(y.clone()));
    assert_eq!(m.delete(&mb, y.id).unwrap(), None);
    assert_eq!(
        m.set_folder(&mb, y.id, Folder::Saved).unwrap(),
        None,
        "a deleted message is not brought back"
    );
    assert!(db.voicemail(&mb, y.id).unwrap().is_none());
    assert_eq!(files_of(&dir.join("1001")), [x.id.file_name()]);
    let s = m.summary(&mb).unwrap();
    assert!(!s.waiting, "nothing new: the lamp goes off");
}

/// Collects what the feed sends.
struct Collect(std::sync::mpsc::Sender<MailboxChanged>);

impl Actor for Collect {
    type Context = Context<Self>;
}

impl Handler<MailboxChanged> for Collect {
    type Result = ();
    fn handle(&mut self, msg: MailboxChanged, _: &mut Context<Self>) {
        let _ = self.0.send(msg);
    }
}

#[test]
fn every_committed_change_reaches_the_feed_with_the_mailboxs_summary() {
    let (m, _, _) = open("feed");
    let mb = mailbox();
    let (tx, rx) = std::sync::mpsc::channel();
    let sys = actix::System::new();
    sys.block_on(async {
        m.subscribe(Collect(tx).start().recipient());
        assert_eq!(m.feed.len(), 1);
        // changes that are not committed say nothing
        assert_eq!(leave(&m, &mb, 500), None);
        let x = leave(&m, &mb, 1_500).unwrap();
        m.set_folder(&mb, x.id, Folder::Saved).unwrap();
        m.delete(&mb, x.id).unwrap();
        actix::clock::sleep(Duration::from_millis(50)).await;
    });
    let got: Vec<(String, u32, u32)> = rx
        .try_iter()
        .map(|c| {
            let v = c.summary.counts(MessageClass::Voice).unwrap();
            (c.mailbox.as_str().to_owned(), v.new, v.old)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1001".to_owned(), 1, 0),
            ("1001".to_owned(), 0, 1),
            ("1001".to_owned(), 0, 0)
        ]
    );
}

#[test]
fn greetings_are_stored_read_and_deleted_with_their_settings_bit() {
    let (m, _, dir) = open("greetings");
    let mb = mailbox();
    assert_eq!(m.greeting(&mb, Greeting::Busy).unwrap(), None);
    m.put_greeting(&mb, Greeting::Busy, SampleRate::WIDE, &[9; 3_200])
        .unwrap();
    assert!(m.settings(&mb).unwrap().greetings.has(Greeting::Busy));
    assert_eq!(
        m.greeting(&mb, Greeting::Busy).unwrap(),
        Some((SampleRate::WIDE, vec![9; 3_200]))
    );
    // replaced whole
    m.put_greeting(&mb, Greeting::Busy, SampleRate::NARROW, &[3; 800])
        .unwrap();
    assert_eq!(
        m.greeting(&mb, Greeting::Busy).unwrap(),
        Some((SampleRate::NARROW, vec![3; 800]))
    );
    assert_eq!(files_of(&dir.join("1001")), ["greeting-busy.wav"]);
    assert!(m.delete_greeting(&mb, Greeting::Busy).unwrap());
    assert!(!m.delete_greeting(&mb, Greeting::Busy).unwrap());
    assert!(!m.settings(&mb).unwrap().greetings.has(Greeting::Busy));
    assert_eq!(m.greeting(&mb, Greeting::Busy).unwrap(), None);
}

#[test]
fn settings_default_to_on_and_keep_the_greetings_the_files_say() {
    let (m, _, _) = open("settings");
    let mb = mailbox();
    assert!(m.enabled(&mb).unwrap());
    m.put_greeting(&mb, Greeting::Name, SampleRate::NARROW, &[1; 80])
        .unwrap();
    let off = MailboxSettings {
        enabled: false,
        pin: Some("4711".into()),
        ..MailboxSettings::default()
    };
    m.put_settings(&mb, &off).unwrap();
    let s = m.settings(&mb).unwrap();
    assert!(!s.enabled && !m.enabled(&mb).unwrap());
    assert_eq!(s.pin.as_deref(), Some("4711"));
    assert!(
        s.greetings.has(Greeting::Name),
        "not cleared by a settings change"
    );
}

#[test]
fn an_address_that_cannot_name_a_directory_is_no_mailbox() {
    let (m, _, _) = open("names");
    for bad in ["../1001", "a/b", ".hidden", ""] {
        assert!(
            matches!(
                m.begin(&mailbox_of(bad), "1002", when(), Instant::now()),
                Err(MailboxError::BadMailbox(_))
            ),
            "{bad:?}"
        );
    }
    assert!(m.mailbox_dir(&mailbox_of("+82111234567")).is_ok());
    assert!(m.mailbox_dir(&mailbox_of("alice")).is_ok());
}

#[test]
fn start_up_keeps_interrupted_messages_from_their_flushed_audio_and_cleans_up_the_rest() {
    let (m, db, dir) = open("recover");
    let mb = mailbox();
    let mdir = dir.join("1001");
    // a stored message, untouched by the crash
    let stored = leave(&m, &mb, 1_000).unwrap();
    // interrupted after 2 s, flushed at 1.5 s: kept with at least what was flushed
    let t0 = Instant::now();
    let mut long = m.begin(&mb, "1002", when(), t0).unwrap();
    speak(&mut long, SampleRate::NARROW, 1_500);
    assert!(long.flush_if_due(t0 + FLUSH_EVERY).unwrap());
    speak(&mut long, SampleRate::NARROW, 500);
    let long_id = long.id();
    // interrupted after 0.5 s, flushed: too short
    let mut short = m.begin(&mb, "1002", when(), t0).unwrap();
    speak(&mut short, SampleRate::NARROW, 500);
    assert!(short.flush_if_due(t0 + FLUSH_EVERY).unwrap());
    let short_id = short.id();
    // interrupted before its first frame: no file at all
    let none = m.begin(&mb, "1002", when(), t0).unwrap();
    let none_id = none.id();
    // the process dies: hound would finalize the files on drop
    std::mem::forget((long, short, none));
    // a stored message whose file the disk lost, an interrupted delete, a half-written
    // greeting, a greeting bit without its file and a greeting file without its bit
    let lost = leave(&m, &mb, 1_000).unwrap();
    std::fs::remove_file(mdir.join(lost.id.file_name())).unwrap();
    std::fs::write(mdir.join("99999.wav"), b"left by a delete").unwrap();
    std::fs::write(mdir.join("greeting-busy.wav.tmp"), b"RIFF").unwrap();
    m.put_greeting(&mb, Greeting::Name, SampleRate::NARROW, &[1; 80])
        .unwrap();
    std::fs::remove_file(mdir.join("greeting-name.wav")).unwrap();
    let other = mailbox_of("1003");
    m.put_greeting(&other, Greeting::Unavailable, SampleRate::NARROW, &[1; 80])
        .unwrap();
    db.put_voicemail_settings(&other, &MailboxSettings::default())
        .unwrap();
    drop(m);

    let (m, report) =
        Mailboxes::open(db.clone(), dir.clone(), MailboxLimits::default(), "h").unwrap();
    assert_eq!(
        report,
        RecoveryReport {
            messages: 2,
            kept: 1,
            dropped: 2,
            repaired: 0,
            lost: 1,
            orphans_removed: 2,
            greetings_fixed: 2,
        }
    );
    assert!(report.to_string().contains("kept 1, dropped 2"), "{report}");
    let ids: Vec<_> = m.messages(&mb).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(ids, [stored.id, long_id]);
    let kept = m.message(&mb, long_id).unwrap().unwrap();
    assert!(
        (1_500..=2_000).contains(&kept.duration_ms),
        "at most the last second lost: {}",
        kept.duration_ms
    );
    assert_eq!(
        kept.bytes,
        std::fs::metadata(mdir.join(long_id.file_name()))
            .unwrap()
            .len()
    );
    let (_, samples) = m.samples(&mb, long_id).unwrap().unwrap();
    assert_eq!(samples.len() as u64, kept.duration_ms * 8);
    assert!(db.pending_voicemails().unwrap().is_empty());
    for gone in [short_id, none_id, lost.id] {
        assert!(m.message(&mb, gone).unwrap().is_none());
    }
    assert_eq!(
        files_of(&mdir),
        [stored.id.file_name(), long_id.file_name()]
    );
    assert!(!m.settings(&mb).unwrap().greetings.has(Greeting::Name));
    assert!(m
        .settings(&other)
        .unwrap()
        .greetings
        .has(Greeting::Unavailable));
    // and a second start finds nothing to do
    let (_, again) = Mailboxes::open(db, dir, MailboxLimits::default(), "h").unwrap();
    assert!(again.is_clean(), "{again}");
    assert_eq!(again.messages, 2);
}
