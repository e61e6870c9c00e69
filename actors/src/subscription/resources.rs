//! The resources of a buddy-list subscription (RFC 4662): each buddy's state as its
//! Extension reports it, and the RLMI body of a NOTIFY (full state, or only what changed).

use std::sync::Arc;

use switchboard_engine::numbering::Aor;
use switchboard_engine::presence::rlmi::{self, ResourceState};

use crate::api::extension::{PresenceNote, Snapshot, WatchReply};

/// One buddy of the list and what its watcher may know of it.
pub struct Resource {
    pub aor: Aor,
    pub name: Option<String>,
    pub uri: String,
    pub instance: String,
    pub state: ResourceState,
    pub snapshot: Option<Arc<Snapshot>>,
    /// Changed since the last NOTIFY.
    pub dirty: bool,
    /// The buddy's Extension sent a note: it is newer than the answer to the watch, which
    /// then changes nothing.
    pub noted: bool,
}

impl Resource {
    pub(super) fn new(aor: Aor, name: Option<String>, domain: &str) -> Resource {
        let uri = format!("sip:{aor}@{domain}");
        let mut h: u32 = 0x811c_9dc5;
        for b in aor.as_str().bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        Resource {
            aor,
            name,
            uri,
            instance: format!("i{h:08x}"),
            state: ResourceState::Pending,
            snapshot: None,
            dirty: true,
            noted: false,
        }
    }

    pub(super) fn answer(&mut self, r: Option<WatchReply>) {
        if self.noted {
            return;
        }
        self.dirty = true;
        match r {
            Some(WatchReply::Allowed(s)) => {
                self.state = ResourceState::Active;
                self.snapshot = Some(s);
            }
            Some(WatchReply::Pending) => self.state = ResourceState::Pending,
            Some(WatchReply::Denied) => {
                self.state = ResourceState::Terminated { reason: "rejected" }
            }
            Some(WatchReply::Full) | None => {
                self.state = ResourceState::Terminated {
                    reason: "noresource",
                }
            }
        }
    }
}

/// The NOTIFY body: every resource (`full`) or the changed ones.
pub(super) fn render(
    list_uri: &str,
    version: u64,
    full: bool,
    resources: &mut [Resource],
    boundary: &str,
) -> (String, Vec<u8>) {
    let picked: Vec<rlmi::Resource<'_>> = resources
        .iter()
        .filter(|r| full || r.dirty)
        .map(|r| rlmi::Resource {
            uri: &r.uri,
            name: r.name.as_deref(),
            instance_id: &r.instance,
            state: r.state,
            pidf: match r.state {
                ResourceState::Active => r.snapshot.as_ref().map(|s| s.pidf.as_str()),
                _ => None,
            },
        })
        .collect();
    let out = rlmi::render(list_uri, version, full, &picked, boundary);
    for r in resources.iter_mut() {
        r.dirty = false;
    }
    out
}

/// Applies what a buddy's Extension said; true when a NOTIFY is due.
pub(super) fn apply(resources: &mut [Resource], note: &PresenceNote) -> bool {
    let (entity, f): (&Aor, &dyn Fn(&mut Resource) -> bool) = match note {
        PresenceNote::State(s) => (&s.entity, &|r: &mut Resource| {
            let newer = r.snapshot.as_ref().is_none_or(|o| s.version > o.version);
            if r.state == ResourceState::Active && newer {
                r.snapshot = Some(s.clone());
                return true;
            }
            false
        }),
        PresenceNote::Allowed(s) => (&s.entity, &|r: &mut Resource| {
            r.state = ResourceState::Active;
            r.snapshot = Some(s.clone());
            true
        }),
        PresenceNote::Withdrawn { entity } => (entity, &|r: &mut Resource| {
            r.state = ResourceState::Terminated { reason: "rejected" };
            r.snapshot = None;
            true
        }),
        PresenceNote::ListChanged | PresenceNote::Deactivated { .. } => return false,
    };
    let mut changed = false;
    for r in resources.iter_mut().filter(|r| &r.aor == entity) {
        r.noted = true;
        if f(r) {
            r.dirty = true;
            changed = true;
        }
    }
    changed
}
