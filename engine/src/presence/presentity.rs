//! A presentity's state: what its registrations, its publications (RFC 3903) and its calls
//! say, merged into the one document its watchers get.
//!
//! - Each live binding is a tuple: `open`, with the device's contact and the capabilities
//!   its REGISTER declared (RFC 3840 feature tags).
//! - Without a live binding or a publication there is one `closed` tuple.
//! - Each publication adds its tuples, notes and activities (a note such as "in a meeting",
//!   activities such as busy or away). A publication lives until its expiry; its entity tag
//!   (`SIP-ETag`) refreshes, modifies or removes it (RFC 3903 §4).
//! - While a call is up, the person is `on-the-phone` (RFC 4480).
//!
//! `version` counts the changes; the owner bumps it on each one, so a document's version
//! tells a watcher which of two NOTIFYs is newer.

use super::caps::Caps;
use super::pidf::{self, Activity, Basic, PresenceDoc, Tuple};
use crate::store::BindingRecord;

/// A publication of the presentity (RFC 3903 event state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub etag: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    pub doc: PresenceDoc,
}

/// Limits of publications.
#[derive(Debug, Clone, Copy)]
pub struct PublishPolicy {
    pub min_expires: u32,
    pub default_expires: u32,
    pub max_expires: u32,
    /// Publications kept per presentity (one per device that publishes, in practice).
    pub max_publications: usize,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            min_expires: 60,
            default_expires: 3600,
            max_expires: 7200,
            max_publications: 8,
        }
    }
}

/// A PUBLISH as the presentity sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishRequest<'a> {
    /// `SIP-If-Match`: the entity tag of the publication this one refreshes, modifies or
    /// removes.
    pub if_match: Option<&'a str>,
    pub expires: Option<u32>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Why a PUBLISH is refused, with its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Invalid(String),
    #[error("Unsupported Media Type")]
    UnsupportedMedia,
    #[error("Interval Too Brief")]
    TooBrief { min: u32 },
    #[error("Conditional Request Failed")]
    UnknownEtag,
    #[error("Too Many Publications")]
    TooMany,
}

impl PublishError {
    pub fn status(&self) -> u16 {
        match self {
            PublishError::Invalid(_) => 400,
            PublishError::UnsupportedMedia => 415,
            PublishError::TooBrief { .. } => 423,
            PublishError::UnknownEtag => 412,
            PublishError::TooMany => 503,
        }
    }
}

/// The answer to an accepted PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The entity tag of the publication (`SIP-ETag`); `None` when it was removed.
    pub etag: Option<String>,
    pub expires: u32,
    /// Whether what watchers see changed.
    pub changed: bool,
}

/// The merged view of a presentity, for web clients and summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub basic: Basic,
    pub notes: Vec<String>,
    pub activities: Vec<Activity>,
    pub caps: Caps,
    pub devices: usize,
}

/// A presentity's publications and calls (its bindings are its owner's).
#[derive(Debug, Clone, Default)]
pub struct Presentity {
    publications: Vec<Publication>,
    /// Each call up, with the note it adds (a conference names its room).
    calls: Vec<(u64, Option<String>)>,
    version: u64,
}

impl Presentity {
    /// A presentity whose versions continue after `version`: its owner seeds it from the
    /// clock, so one started again never repeats a version its watchers saw.
    pub fn starting_at(version: u64) -> Presentity {
        Presentity {
            version,
            ..Presentity::default()
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Marks a change watchers must hear of; returns the new version.
    pub fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    pub fn publications(&self) -> &[Publication] {
        &self.publications
    }

    /// Applies a PUBLISH (RFC 3903 §6): initial (a body, no entity tag), refresh (an entity
    /// tag, no body), modify (both) or remove (an entity tag and expires zero). `new_etag` is
    /// the tag the publication gets now (a refresh gets a new one too, §6 step 8).
    pub fn publish(
        &mut self,
        now: u64,
        req: &PublishRequest<'_>,
        policy: &PublishPolicy,
        new_etag: &str,
    ) -> Result<Published, PublishError> {
        self.expire(now);
        let expires = req.expires.unwrap_or(policy.default_expires);
        if expires != 0 && expires < policy.min_expires {
            return Err(PublishError::TooBrief {
                min: policy.min_expires,
            });
        }
        let expires = expires.min(policy.max_expires);
        let doc = if req.body.is_empty() {
            None
        } else {
            let ct = req.content_type.unwrap_or("");
            let ct = ct.split(';').next().unwrap_or("").trim();
            if !ct.eq_ignore_ascii_case(super::PIDF) {
                return Err(PublishError::UnsupportedMedia);
            }
            Some(pidf::parse(req.body).map_err(|e| PublishError::Invalid(e.to_string()))?)
        };
        let existing = match req.if_match {
            Some(tag) => Some(
                self.publications
                    .iter()
                    .position(|p| p.etag == tag)
                    .ok_or(PublishError::UnknownEtag)?,
            ),
            None => None,
        };
        match (existing, doc) {
            (None, None) => Err(PublishError::Invalid(
                "PUBLISH without a body or SIP-If-Match".into(),
            )),
            (Some(i), _) if expires == 0 => {
                self.publications.remove(i);
                Ok(Published {
                    etag: None,
                    expires: 0,
                    changed: true,
                })
            }
            (None, Some(_)) if expires == 0 => Err(PublishError::Invalid(
                "a new publication needs an expiry above zero".into(),
            )),
            (Some(i), doc) => {
                let p = &mut self.publications[i];
                p.etag = new_etag.to_owned();
                p.expires_at = now + u64::from(expires);
                let changed = match doc {
                    Some(d) if d != p.doc => {
                        p.doc = d;
                        true
                    }
                    _ => false,
                };
                Ok(Published {
                    etag: Some(new_etag.to_owned()),
                    expires,
                    changed,
                })
            }
            (None, Some(doc)) => {
                if self.publications.len() >= policy.max_publications {
                    return Err(PublishError::TooMany);
                }
                self.publications.push(Publication {
                    etag: new_etag.to_owned(),
                    expires_at: now + u64::from(expires),
                    doc,
                });
                Ok(Published {
                    etag: Some(new_etag.to_owned()),
                    expires,
                    changed: true,
                })
            }
        }
    }

    /// Drops expired publications; true when one went.
    pub fn expire(&mut self, now: u64) -> bool {
        let before = self.publications.len();
        self.publications.retain(|p| p.expires_at > now);
        self.publications.len() != before
    }

    /// The earliest publication expiry.
    pub fn next_expiry(&self) -> Option<u64> {
        self.publications.iter().map(|p| p.expires_at).min()
    }

    /// A call of this presentity is up (`call` identifies it); true when that changed the
    /// state (the first call).
    pub fn call_up(&mut self, call: u64) -> bool {
        self.call_up_with(call, None)
    }

    /// A call is up with a note for watchers (`in conference team`); true when that changed
    /// the state (the first call, or a new note).
    pub fn call_up_with(&mut self, call: u64, note: Option<String>) -> bool {
        if let Some(c) = self.calls.iter_mut().find(|c| c.0 == call) {
            if c.1 == note {
                return false;
            }
            c.1 = note;
            return true;
        }
        let noted = note.is_some();
        self.calls.push((call, note));
        self.calls.len() == 1 || noted
    }

    /// A call ended; true when it was the last, or its note goes with it.
    pub fn call_down(&mut self, call: u64) -> bool {
        let Some(i) = self.calls.iter().position(|c| c.0 == call) else {
            return false;
        };
        let (_, note) = self.calls.remove(i);
        self.calls.is_empty() || note.is_some()
    }

    pub fn on_the_phone(&self) -> bool {
        !self.calls.is_empty()
    }

    /// The document watchers get, for `entity` (`sip:number@domain`), with the live ones
    /// of `bindings`.
    pub fn view(&self, entity: &str, bindings: &[BindingRecord], now: u64) -> PresenceDoc {
        let mut doc = PresenceDoc {
            entity: entity.to_owned(),
            version: Some(self.version),
            ..PresenceDoc::default()
        };
        for b in bindings.iter().filter(|b| b.expires_at > now) {
            doc.tuples.push(Tuple {
                id: device_id(b),
                basic: Basic::Open,
                contact: Some(b.uri.clone()),
                caps: Some(b.caps),
                note: None,
            });
        }
        for p in &self.publications {
            for t in &p.doc.tuples {
                if !doc.tuples.iter().any(|x| x.id == t.id) {
                    doc.tuples.push(t.clone());
                }
            }
            for n in &p.doc.notes {
                if !doc.notes.contains(n) {
                    doc.notes.push(n.clone());
                }
            }
            for a in &p.doc.activities {
                if !doc.activities.contains(a) {
                    doc.activities.push(a.clone());
                }
            }
        }
        if doc.tuples.is_empty() {
            doc.tuples.push(Tuple {
                id: "reg".into(),
                basic: Basic::Closed,
                contact: None,
                caps: None,
                note: None,
            });
        }
        if self.on_the_phone() && !doc.activities.contains(&Activity::OnThePhone) {
            doc.activities.insert(0, Activity::OnThePhone);
        }
        for note in self.calls.iter().filter_map(|c| c.1.as_ref()) {
            if !doc.notes.contains(note) {
                doc.notes.push(note.clone());
            }
        }
        doc
    }

    /// The merged state: open when any tuple is, every note and activity, the union of the
    /// capabilities of every open tuple.
    pub fn summary(&self, bindings: &[BindingRecord], now: u64) -> Summary {
        let doc = self.view("", bindings, now);
        let open: Vec<&Tuple> = doc
            .tuples
            .iter()
            .filter(|t| t.basic == Basic::Open)
            .collect();
        Summary {
            basic: if open.is_empty() {
                Basic::Closed
            } else {
                Basic::Open
            },
            caps: open
                .iter()
                .filter_map(|t| t.caps)
                .fold(Caps::default(), Caps::union),
            devices: bindings.iter().filter(|b| b.expires_at > now).count(),
            notes: doc.notes,
            activities: doc.activities,
        }
    }
}

/// A device's tuple id: stable for its registration (instance id, else contact URI).
fn device_id(b: &BindingRecord) -> String {
    let key = b.instance.as_deref().unwrap_or(&b.uri);
    // FNV-1a: short, stable across releases, no secret in it
    let mut h: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("d{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Transport;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:1002@sb.test">
  <tuple id="pub1"><status><basic>open</basic></status></tuple>
  <dm:person id="p1"><rpid:activities><rpid:away/></rpid:activities><dm:note>in a meeting</dm:note></dm:person>
</presence>"#;

    fn binding(uri: &str, expires_at: u64, caps: Caps) -> BindingRecord {
        BindingRecord {
            uri: uri.into(),
            q: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            instance: None,
            reg_id: None,
            transport: Transport::Udp,
            source: "127.0.0.1:5070".parse().unwrap(),
            conn: None,
            caps,
        }
    }

    fn publish(
        p: &mut Presentity,
        now: u64,
        etag: Option<&str>,
        body: &str,
        expires: u32,
        new: &str,
    ) -> Result<Published, PublishError> {
        let req = PublishRequest {
            if_match: etag,
            expires: Some(expires),
            content_type: Some("application/pidf+xml"),
            body: body.as_bytes(),
        };
        p.publish(now, &req, &PublishPolicy::default(), new)
    }

    #[test]
    fn without_devices_or_publications_a_presentity_is_closed() {
        let p = Presentity::default();
        let d = p.view("sip:1002@sb.test", &[], 100);
        assert_eq!(d.tuples.len(), 1);
        assert_eq!(d.tuples[0].basic, Basic::Closed);
        assert_eq!(p.summary(&[], 100).basic, Basic::Closed);
    }

    #[test]
    fn each_live_device_is_an_open_tuple_with_its_capabilities() {
        let p = Presentity::default();
        let b = [
            binding("sip:a@127.0.0.1", 200, Caps::AUDIO.union(Caps::VIDEO)),
            binding("sip:b@127.0.0.1", 200, Caps::MESSAGE),
            binding("sip:gone@127.0.0.1", 50, Caps::TEXT),
        ];
        let d = p.view("sip:1002@sb.test", &b, 100);
        assert_eq!(d.tuples.len(), 2, "the expired binding is not a device");
        assert!(d.tuples.iter().all(|t| t.basic == Basic::Open));
        assert_ne!(d.tuples[0].id, d.tuples[1].id);
        let s = p.summary(&b, 100);
        assert_eq!(s.devices, 2);
        assert_eq!(
            s.caps.names().collect::<Vec<_>>(),
            ["audio", "video", "message"]
        );
    }

    #[test]
    fn a_publication_adds_its_note_and_activities_until_it_expires() {
        let mut p = Presentity::default();
        let r = publish(&mut p, 100, None, DOC, 60, "e1").unwrap();
        assert_eq!(
            r,
            Published {
                etag: Some("e1".into()),
                expires: 60,
                changed: true
            }
        );
        let d = p.view("sip:1002@sb.test", &[], 100);
        assert_eq!(d.notes, ["in a meeting"]);
        assert_eq!(d.activities, [Activity::Away]);
        assert_eq!(p.next_expiry(), Some(160));
        assert!(!p.expire(159));
        assert!(p.expire(160));
        assert!(p.view("sip:1002@sb.test", &[], 160).notes.is_empty());
    }

    #[test]
    fn an_entity_tag_refreshes_modifies_and_removes_its_publication() {
        let mut p = Presentity::default();
        publish(&mut p, 100, None, DOC, 60, "e1").unwrap();
        let r = p
            .publish(
                100,
                &PublishRequest {
                    if_match: Some("e1"),
                    expires: Some(120),
                    ..Default::default()
                },
                &PublishPolicy::default(),
                "e2",
            )
            .unwrap();
        assert_eq!(
            r,
            Published {
                etag: Some("e2".into()),
                expires: 120,
                changed: false
            }
        );
        assert_eq!(p.next_expiry(), Some(220));
        let stale = p.publish(
            100,
            &PublishRequest {
                if_match: Some("e1"),
                expires: Some(120),
                ..Default::default()
            },
            &PublishPolicy::default(),
            "e3",
        );
        assert_eq!(stale.unwrap_err().status(), 412);
        let busy = DOC.replace("<rpid:away/>", "<rpid:busy/>");
        let r = publish(&mut p, 101, Some("e2"), &busy, 60, "e4").unwrap();
        assert!(r.changed);
        assert_eq!(p.view("x", &[], 101).activities, [Activity::Busy]);
        let r = p
            .publish(
                102,
                &PublishRequest {
                    if_match: Some("e4"),
                    expires: Some(0),
                    ..Default::default()
                },
                &PublishPolicy::default(),
                "e5",
            )
            .unwrap();
        assert_eq!(r.etag, None);
        assert!(p.publications().is_empty());
    }

    #[test]
    fn bad_publications_get_their_status() {
        let mut p = Presentity::default();
        let policy = PublishPolicy::default();
        let e = publish(&mut p, 1, None, DOC, 10, "x").unwrap_err();
        assert_eq!((e.status(), e), (423, PublishError::TooBrief { min: 60 }));
        assert_eq!(
            publish(&mut p, 1, None, "<presence", 60, "x")
                .unwrap_err()
                .status(),
            400
        );
        let none = p
            .publish(1, &PublishRequest::default(), &policy, "x")
            .unwrap_err();
        assert_eq!(none.status(), 400);
        let xml = PublishRequest {
            content_type: Some("text/plain"),
            body: b"hi",
            expires: Some(60),
            ..Default::default()
        };
        assert_eq!(p.publish(1, &xml, &policy, "x").unwrap_err().status(), 415);
        for i in 0..policy.max_publications {
            publish(&mut p, 1, None, DOC, 60, &format!("t{i}")).unwrap();
        }
        assert_eq!(
            publish(&mut p, 1, None, DOC, 60, "over")
                .unwrap_err()
                .status(),
            503
        );
    }

    #[test]
    fn a_call_puts_the_presentity_on_the_phone_until_its_last_call_ends() {
        let mut p = Presentity::default();
        assert!(p.call_up(1));
        assert!(!p.call_up(2), "already on the phone");
        assert!(!p.call_up(1), "the same call twice changes nothing");
        assert_eq!(p.view("x", &[], 1).activities, [Activity::OnThePhone]);
        assert!(!p.call_down(1));
        assert!(p.call_down(2));
        assert!(p.view("x", &[], 1).activities.is_empty());
        assert!(!p.call_down(2), "a call ended twice changes nothing");
    }

    #[test]
    fn a_conference_call_adds_its_note_while_it_is_up() {
        let mut p = Presentity::default();
        assert!(p.call_up(1));
        assert!(
            p.call_up_with(2, Some("in conference team".into())),
            "a note is a change even on the phone already"
        );
        let v = p.view("x", &[], 1);
        assert_eq!(v.activities, [Activity::OnThePhone]);
        assert_eq!(v.notes, ["in conference team"]);
        assert!(!p.call_up_with(2, Some("in conference team".into())));
        assert!(p.call_down(2), "the note goes");
        let v = p.view("x", &[], 1);
        assert!(v.notes.is_empty());
        assert_eq!(
            v.activities,
            [Activity::OnThePhone],
            "the other call is still up"
        );
    }

    #[test]
    fn versions_count_changes_from_where_they_start() {
        let mut p = Presentity::default();
        assert_eq!(p.bump(), 1);
        assert_eq!(p.bump(), 2);
        assert_eq!(p.view("x", &[], 1).version, Some(2));
        let mut later = Presentity::starting_at(1_700_000_000_000);
        assert_eq!(later.bump(), 1_700_000_000_001);
    }
}
