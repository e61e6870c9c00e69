//! The switch's calls, for the HTTP API (`GET /v1/calls`, `GET /v1/calls/{id}`): each
//! CallLeg files its call when the INVITE is routed, updates it when the call is answered or
//! its media changes, and ends it with the reason it ended (`hung up by the caller`, `media
//! timeout`, `busy (486)`...). The last [`ENDED_KEPT`] ended calls stay readable with their
//! reason until the next ones push them out. The live media statistics (packets, loss,
//! jitter) are not kept here: the API asks the media plane for them when it shows a call.
//!
//! Touched a few times per call, never per packet; one lock, held for a map operation.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::FxHashMap;
use serde::Serialize;

/// A call's id in the API.
pub type CallNo = u64;

/// Ended calls kept for the API.
pub const ENDED_KEPT: usize = 256;

/// What the API shows of one side of a call.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LegView {
    /// `caller` or `callee`.
    pub side: &'static str,
    /// Its number (canonical), when the switch knows it.
    pub number: Option<String>,
    /// The codec its media uses (`PCMU`, `G722`...), once negotiated.
    pub codec: Option<String>,
    /// Where its SDP says it receives media.
    pub sdp_address: Option<String>,
    /// Where its media really comes from (anchored calls, once learnt from its first packet).
    pub latched: Option<String>,
}

/// What the API shows of a call.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CallView {
    pub id: CallNo,
    pub call_id: String,
    /// `setup` until answered, then `answered`; `ended` once over.
    pub state: &'static str,
    pub started_unix_ms: u64,
    pub answered_unix_ms: Option<u64>,
    pub ended_unix_ms: Option<u64>,
    /// Why it ended: `hung up by the caller`, `media timeout`, `busy (486)`...
    pub end_reason: Option<String>,
    /// `direct` (the phones send media to each other) or `anchored` (through the switch).
    pub media: &'static str,
    /// Why the media is anchored: `nat: sdp 10.0.0.7 != source 198.51.100.4`, `policy`,
    /// `plugin`, `recording`, `transcoding`.
    pub reason: Option<String>,
    /// The two sides' codecs differ: the switch decodes and encodes.
    pub transcoding: bool,
    /// The recording of the call, when it is recorded.
    pub recording: Option<String>,
    pub legs: Vec<LegView>,
    /// The media plane's session of an anchored call (for its live statistics).
    #[serde(skip)]
    pub session: Option<u64>,
    /// The subscribers taking part (canonical numbers): who may see the call.
    #[serde(skip)]
    pub parties: Vec<String>,
}

impl CallView {
    /// Whether `number` (canonical) takes part in the call.
    pub fn is_party(&self, number: &str) -> bool {
        self.parties.iter().any(|p| p == number)
    }
}

/// The live calls.
#[derive(Default)]
pub struct Calls {
    calls: Mutex<Table>,
    next: AtomicU64,
}

#[derive(Default)]
struct Table {
    live: FxHashMap<CallNo, CallView>,
    /// Oldest first, at most `ENDED_KEPT`.
    ended: VecDeque<CallView>,
}

impl Calls {
    /// Files a new call (its `id` is set here) and returns its id.
    pub fn file(&self, mut view: CallView) -> CallNo {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        view.id = id;
        self.lock().live.insert(id, view);
        id
    }

    /// Changes what is known of call `id`.
    pub fn update(&self, id: CallNo, f: impl FnOnce(&mut CallView)) {
        if let Some(v) = self.lock().live.get_mut(&id) {
            f(v);
        }
    }

    /// Call `id` ended at `at_unix_ms` for `reason`: it leaves the live calls and is kept
    /// among the recently ended.
    pub fn end(&self, id: CallNo, at_unix_ms: u64, reason: String) {
        let mut t = self.lock();
        let Some(mut v) = t.live.remove(&id) else {
            return;
        };
        crate::ownership::shrink(&mut t.live);
        v.state = "ended";
        v.ended_unix_ms = Some(at_unix_ms);
        v.end_reason = Some(reason);
        v.session = None;
        if t.ended.len() == ENDED_KEPT {
            t.ended.pop_front();
        }
        t.ended.push_back(v);
    }

    /// Every live call, oldest first.
    pub fn list(&self) -> Vec<CallView> {
        let mut v: Vec<CallView> = self.lock().live.values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// The recently ended calls, oldest first.
    pub fn ended(&self) -> Vec<CallView> {
        self.lock().ended.iter().cloned().collect()
    }

    /// Call `id`, live or recently ended.
    pub fn get(&self, id: CallNo) -> Option<CallView> {
        let t = self.lock();
        t.live
            .get(&id)
            .or_else(|| t.ended.iter().find(|c| c.id == id))
            .cloned()
    }

    /// Live calls.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // a panic elsewhere while holding it leaves the map consistent (single operations)
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CallView {
    /// A call being set up now.
    pub fn new(call_id: &str, started_unix_ms: u64) -> CallView {
        CallView {
            id: 0,
            call_id: call_id.to_owned(),
            state: "setup",
            started_unix_ms,
            answered_unix_ms: None,
            ended_unix_ms: None,
            end_reason: None,
            media: "direct",
            reason: None,
            transcoding: false,
            recording: None,
            legs: Vec::new(),
            session: None,
            parties: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_filed_updated_listed_and_ended() {
        let calls = Calls::default();
        let a = calls.file(CallView::new("a@h", 1));
        let b = calls.file(CallView::new("b@h", 2));
        assert_ne!(a, b);
        calls.update(b, |v| {
            v.state = "answered";
            v.media = "anchored";
            v.reason = Some("policy".into());
        });
        let list = calls.list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].call_id, "a@h");
        assert_eq!(calls.get(b).unwrap().reason.as_deref(), Some("policy"));
        calls.end(a, 9, "hung up by the caller".into());
        assert_eq!(calls.len(), 1);
        assert_eq!(calls.list().len(), 1, "the ended call is not live");
        let ended = calls.get(a).expect("an ended call is kept");
        assert_eq!(ended.state, "ended");
        assert_eq!(ended.ended_unix_ms, Some(9));
        assert_eq!(ended.end_reason.as_deref(), Some("hung up by the caller"));
        calls.update(a, |v| v.state = "answered");
        assert_eq!(
            calls.get(a).unwrap().state,
            "ended",
            "an update after the end changes nothing"
        );
        calls.end(a, 10, "again".into());
        assert_eq!(calls.ended().len(), 1, "a call ends once");
    }

    #[test]
    fn only_the_last_ended_calls_are_kept() {
        let calls = Calls::default();
        let first = calls.file(CallView::new("first@h", 1));
        calls.end(first, 2, "bye".into());
        for n in 0..ENDED_KEPT {
            let id = calls.file(CallView::new(&format!("{n}@h"), 3));
            calls.end(id, 4, "bye".into());
        }
        let ended = calls.ended();
        assert_eq!(ended.len(), ENDED_KEPT);
        assert!(calls.get(first).is_none(), "the oldest was pushed out");
        assert!(ended.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    }
}
