//! The switch's live calls, for the HTTP API (`GET /v1/calls`, `GET /v1/calls/{id}`): each
//! CallLeg files its call when the INVITE is routed, updates it when the call is answered or
//! its media changes, and removes it when the call ends. The live media statistics (packets,
//! loss, jitter) are not kept here: the API asks the media plane for them when it shows a
//! call.
//!
//! Touched a few times per call, never per packet; one lock, held for a map operation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rustc_hash::FxHashMap;
use serde::Serialize;

/// A call's id in the API.
pub type CallNo = u64;

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
    /// `setup` until answered, then `answered`.
    pub state: &'static str,
    pub started_unix_ms: u64,
    pub answered_unix_ms: Option<u64>,
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
}

/// The live calls.
#[derive(Default)]
pub struct Calls {
    calls: Mutex<FxHashMap<CallNo, CallView>>,
    next: AtomicU64,
}

impl Calls {
    /// Files a new call (its `id` is set here) and returns its id.
    pub fn file(&self, mut view: CallView) -> CallNo {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        view.id = id;
        self.lock().insert(id, view);
        id
    }

    /// Changes what is known of call `id`.
    pub fn update(&self, id: CallNo, f: impl FnOnce(&mut CallView)) {
        if let Some(v) = self.lock().get_mut(&id) {
            f(v);
        }
    }

    /// The call ended.
    pub fn remove(&self, id: CallNo) {
        let mut m = self.lock();
        m.remove(&id);
        crate::ownership::shrink(&mut m);
    }

    /// Every live call, oldest first.
    pub fn list(&self) -> Vec<CallView> {
        let mut v: Vec<CallView> = self.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn get(&self, id: CallNo) -> Option<CallView> {
        self.lock().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<CallNo, CallView>> {
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
            media: "direct",
            reason: None,
            transcoding: false,
            recording: None,
            legs: Vec::new(),
            session: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_filed_updated_listed_and_removed() {
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
        calls.remove(a);
        assert!(calls.get(a).is_none());
        assert_eq!(calls.len(), 1);
        calls.update(a, |v| v.state = "answered");
        assert!(
            calls.get(a).is_none(),
            "an update after the end changes nothing"
        );
    }
}
