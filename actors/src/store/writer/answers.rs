//! Where the queue writer's answers go: each message's own channel, or a sink shared by many
//! (a signalling worker's), which gets the answers of one group commit in one call.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::EnqueueResult;

/// Takes the answers of one group commit for one receiver, each with the token its
/// `Enqueue` carried: called once per commit and receiver, on the writer's thread (so it
/// must only hand them over, e.g. as one actor message).
pub type AckSink = Arc<dyn Fn(Vec<(u64, EnqueueResult)>) + Send + Sync>;

/// Where the writer's answer to an `Enqueue` goes.
pub enum Reply {
    /// Its own channel: one wake-up of the receiver per message.
    Once(oneshot::Sender<EnqueueResult>),
    /// A sink shared by many messages (a signalling worker's): the answers of one commit for
    /// it go in one call, so a busy receiver is woken once per commit, not once per message.
    Sink(AckSink, u64),
}

impl From<oneshot::Sender<EnqueueResult>> for Reply {
    fn from(tx: oneshot::Sender<EnqueueResult>) -> Reply {
        Reply::Once(tx)
    }
}

impl Reply {
    /// Answers now, alone.
    pub(super) fn send(self, r: EnqueueResult) {
        match self {
            Reply::Once(tx) => {
                let _ = tx.send(r);
            }
            Reply::Sink(sink, token) => sink(vec![(token, r)]),
        }
    }
}

/// The answers of one group commit, gathered per sink.
#[derive(Default)]
pub(super) struct Answers {
    by_sink: Vec<(AckSink, Vec<(u64, EnqueueResult)>)>,
}

impl Answers {
    pub(super) fn push(&mut self, reply: Reply, r: EnqueueResult) {
        match reply {
            Reply::Once(tx) => {
                let _ = tx.send(r);
            }
            Reply::Sink(sink, token) => {
                match self.by_sink.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &sink)) {
                    Some((_, v)) => v.push((token, r)),
                    None => self.by_sink.push((sink, vec![(token, r)])),
                }
            }
        }
    }

    /// Hands every sink its answers, in one call each.
    pub(super) fn deliver(self) {
        for (sink, v) in self.by_sink {
            sink(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use switchboard_engine::messaging::Refusal;

    use super::*;

    type Calls = Arc<Mutex<Vec<Vec<(u64, bool)>>>>;

    fn recording() -> (AckSink, Calls) {
        let calls: Calls = Arc::default();
        let c = calls.clone();
        let sink: AckSink = Arc::new(move |v: Vec<(u64, EnqueueResult)>| {
            c.lock()
                .unwrap()
                .push(v.into_iter().map(|(t, r)| (t, r.is_ok())).collect());
        });
        (sink, calls)
    }

    fn ok(seq: u64) -> EnqueueResult {
        Ok(super::super::Accepted {
            aor: switchboard_engine::numbering::Aor::from_canonical("+821012345678"),
            seq,
            id: format!("{seq}"),
            dynamic_created: false,
        })
    }

    fn refused() -> EnqueueResult {
        Err(Refusal {
            code: 486,
            reason: "Mailbox Full",
        })
    }

    #[test]
    fn a_sink_hears_a_commits_answers_in_one_call_in_order_and_only_on_delivery() {
        let (a, calls_a) = recording();
        let (b, calls_b) = recording();
        let (tx, mut rx) = oneshot::channel();
        let mut answers = Answers::default();
        answers.push(Reply::Sink(a.clone(), 7), ok(1));
        answers.push(Reply::Sink(b.clone(), 1), ok(2));
        answers.push(Reply::Sink(a.clone(), 3), refused());
        answers.push(Reply::Once(tx), ok(3));
        answers.push(Reply::Sink(a, 5), ok(4));
        // a channel of its own is answered at once; the sinks wait for the delivery
        assert!(rx.try_recv().unwrap().is_ok());
        assert!(calls_a.lock().unwrap().is_empty());
        assert!(calls_b.lock().unwrap().is_empty());
        answers.deliver();
        assert_eq!(
            *calls_a.lock().unwrap(),
            vec![vec![(7, true), (3, false), (5, true)]]
        );
        assert_eq!(*calls_b.lock().unwrap(), vec![vec![(1, true)]]);
    }

    #[test]
    fn a_lone_answer_to_a_sink_is_one_call() {
        let (a, calls) = recording();
        Reply::Sink(a, 9).send(refused());
        assert_eq!(*calls.lock().unwrap(), vec![vec![(9, false)]]);
    }

    fn message(text: &str) -> switchboard_engine::messaging::StoredMessage {
        switchboard_engine::messaging::StoredMessage {
            id: String::new(),
            from: "<sip:1001@h>".into(),
            sender: "1001".into(),
            content_type: "text/plain".into(),
            body: text.as_bytes().to_vec(),
            accepted_unix_ms: 1_796_118_524_000,
            expires_unix: 0,
        }
    }

    /// A message queue on a fresh store in the temp directory `name`, with the tests' limits.
    fn start_queue(
        name: &str,
        commit_interval: std::time::Duration,
    ) -> (
        std::path::PathBuf,
        crate::store::Store,
        super::super::MessageQueue,
    ) {
        use switchboard_engine::messaging::QueueLimits;

        use super::super::{MessageQueue, WriterConfig};
        use crate::metrics::Metrics;
        use crate::store::Store;

        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 100, 8).unwrap();
        let q = MessageQueue::start(
            store.clone(),
            WriterConfig {
                limits: QueueLimits {
                    max_messages: 100,
                    max_bytes: 1 << 20,
                },
                ttl_secs: 60,
                batch: 16,
                commit_interval,
                domain: "h".into(),
                seed: 1,
            },
            Arc::new(Metrics::new()),
        );
        (dir, store, q)
    }

    /// Through the writer: a sink hears each message once it is in the store, and while the
    /// answers of a commit are not handed over, messages past `max_pending` are refused at
    /// once (503) without being written.
    #[test]
    fn past_max_pending_a_message_is_refused_at_once_and_a_sink_hears_after_the_write() {
        use std::sync::mpsc;

        use switchboard_engine::numbering::Aor;

        use super::super::Enqueue;

        let (dir, store, q) = start_queue("sb-writer-answers", std::time::Duration::ZERO);
        let q = q.with_max_pending(1);
        let aor = Aor::from_canonical("1002");
        // the sink reports what the store holds when it is called, then blocks the writer
        // until released
        let (heard_tx, heard) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        let (s, a) = (store.clone(), aor.clone());
        let sink: AckSink = Arc::new(move |v: Vec<(u64, EnqueueResult)>| {
            let stored = s.messages(&a, None, 10).unwrap().len();
            heard_tx
                .send((v.len(), v[0].0, v[0].1.is_ok(), stored))
                .unwrap();
            released.lock().unwrap().recv().unwrap();
        });
        let enqueue = |text: &str, reply: Reply| {
            q.enqueue(Enqueue {
                aor: aor.clone(),
                message: message(text),
                dynamic: None,
                reply,
            })
        };
        enqueue("first", Reply::Sink(sink.clone(), 41));
        let first = heard
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        assert_eq!(first, (1, 41, true, 1), "answered once written");
        assert_eq!(q.pending(), 1, "not answered until the sink returns");
        let (tx, mut rx) = oneshot::channel();
        enqueue("second", tx.into());
        let busy = rx.try_recv().expect("refused at once").unwrap_err();
        assert_eq!((busy.code, busy.reason), (503, "Message Store Busy"));
        release.send(()).unwrap();
        while q.pending() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        enqueue("third", Reply::Sink(sink, 43));
        let third = heard
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        release.send(()).unwrap();
        assert_eq!(third, (1, 43, true, 2), "the refused one was never written");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Under load (the last commit carried several messages) the next commit waits for
    /// `commit_interval` after the last one began.
    #[test]
    fn after_a_commit_of_several_messages_the_next_waits_for_the_commit_interval() {
        use std::sync::mpsc;
        use std::time::{Duration, Instant};

        use switchboard_engine::numbering::Aor;

        use super::super::Enqueue;

        let interval = Duration::from_millis(300);
        let (dir, _store, q) = start_queue("sb-writer-interval", interval);
        let (heard_tx, heard) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        let sink: AckSink = Arc::new(move |v: Vec<(u64, EnqueueResult)>| {
            heard_tx.send((Instant::now(), v.len())).unwrap();
            if v[0].0 == 0 {
                released.lock().unwrap().recv().unwrap();
            }
        });
        let enqueue = |token: u64| {
            q.enqueue(Enqueue {
                aor: Aor::from_canonical("1002"),
                message: message("hi"),
                dynamic: None,
                reply: Reply::Sink(sink.clone(), token),
            })
        };
        let wait = |heard: &mpsc::Receiver<(Instant, usize)>| {
            heard.recv_timeout(Duration::from_secs(10)).unwrap()
        };
        // a lone message: committed at once; its answer holds the writer while two more
        // arrive, which then make one commit together
        enqueue(0);
        assert_eq!(wait(&heard).1, 1);
        enqueue(1);
        enqueue(2);
        let t0 = Instant::now();
        release.send(()).unwrap();
        assert_eq!(wait(&heard).1, 2, "the two waiting made one commit");
        enqueue(3);
        let (at, n) = wait(&heard);
        assert_eq!(n, 1);
        assert!(
            at >= t0 + interval,
            "the commit after a busy one waited: {:?}",
            at - t0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
