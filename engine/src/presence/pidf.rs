//! Presence documents: PIDF (RFC 3863) with RPID activities (RFC 4480) in a data model person
//! (RFC 4479) and service capabilities per tuple (RFC 5196).
//!
//! `parse` reads the body of a PUBLISH into a `PresenceDoc`, keeping what Switchboard uses and
//! passing over everything else; `render` writes a document for a NOTIFY. Both are plain
//! functions over bytes and strings.
//!
//! Invariant: whatever `parse` accepts, `render` writes as a document that `parse` reads back
//! as the same `PresenceDoc` (parse normalizes: trimmed texts, empty notes dropped, the first
//! tuple note and contact kept, activities gathered from wherever they appear). The body
//! limit holds for the rendered document as well, so a document accepted from a publisher
//! also fits a NOTIFY.

mod parse;

use std::fmt::Write;

use super::caps::Caps;
use super::xml::{self, NS_CAPS, NS_DM, NS_PIDF, NS_RPID, NS_VERSION};

pub use parse::{parse, MAX_ACTIVITIES, MAX_BODY, MAX_NOTE_CHARS, MAX_TUPLES};

/// The basic status of a tuple (RFC 3863 section 4.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basic {
    /// Reachable through this tuple's contact.
    Open,
    /// Not reachable through it.
    Closed,
}

impl Basic {
    /// The element text: "open" or "closed".
    pub fn as_str(self) -> &'static str {
        match self {
            Basic::Open => "open",
            Basic::Closed => "closed",
        }
    }
}

/// What the person is doing (RFC 4480 section 3.2, `<rpid:activities>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// `on-the-phone`.
    OnThePhone,
    /// `busy`.
    Busy,
    /// `away`.
    Away,
    /// `meeting`.
    Meeting,
    /// `meal`.
    Meal,
    /// `vacation`.
    Vacation,
    /// `sleeping`.
    Sleeping,
    /// `appointment`.
    Appointment,
    /// Any other RPID activity by its element name (`travel`, `tv`, ...) or the free text of
    /// `<rpid:other>`.
    Other(String),
}

/// The activity elements RFC 4480 defines, besides `other`.
const RPID_ACTIVITIES: [&str; 26] = [
    "appointment",
    "away",
    "breakfast",
    "busy",
    "dinner",
    "holiday",
    "in-transit",
    "looking-for-work",
    "lunch",
    "meal",
    "meeting",
    "on-the-phone",
    "performance",
    "permanent-absence",
    "playing",
    "presentation",
    "shopping",
    "sleeping",
    "spectator",
    "steering",
    "travel",
    "tv",
    "unknown",
    "vacation",
    "working",
    "worship",
];

impl Activity {
    /// The RPID element name ("on-the-phone", "busy", ...) or the text of `Other`.
    pub fn name(&self) -> &str {
        match self {
            Activity::OnThePhone => "on-the-phone",
            Activity::Busy => "busy",
            Activity::Away => "away",
            Activity::Meeting => "meeting",
            Activity::Meal => "meal",
            Activity::Vacation => "vacation",
            Activity::Sleeping => "sleeping",
            Activity::Appointment => "appointment",
            Activity::Other(s) => s,
        }
    }

    /// The activity named `s`; a name without its own variant is `Other`.
    pub fn from_name(s: &str) -> Activity {
        match s {
            "on-the-phone" => Activity::OnThePhone,
            "busy" => Activity::Busy,
            "away" => Activity::Away,
            "meeting" => Activity::Meeting,
            "meal" => Activity::Meal,
            "vacation" => Activity::Vacation,
            "sleeping" => Activity::Sleeping,
            "appointment" => Activity::Appointment,
            other => Activity::Other(other.to_owned()),
        }
    }

    /// Whether RFC 4480 has an element of this name (otherwise it goes in `<rpid:other>`).
    fn is_rpid_element(name: &str) -> bool {
        RPID_ACTIVITIES.contains(&name)
    }
}

/// One way of reaching the presentity (RFC 3863 section 4.1.2): a device or service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// The tuple's id, unique in its document.
    pub id: String,
    /// Open or closed.
    pub basic: Basic,
    /// The URI to reach it at.
    pub contact: Option<String>,
    /// Its media capabilities; `None` when it published none (no `<caps:servcaps>`).
    pub caps: Option<Caps>,
    /// Its note.
    pub note: Option<String>,
}

/// A presence document: a presentity, its tuples, notes and activities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresenceDoc {
    /// The presentity's URI (`entity` attribute, `pres:` or `sip:`).
    pub entity: String,
    /// Its tuples, in document order.
    pub tuples: Vec<Tuple>,
    /// Presence-level notes and the person's notes.
    pub notes: Vec<String>,
    /// The person's activities.
    pub activities: Vec<Activity>,
    /// Switchboard's document version, for clients to drop stale duplicates.
    pub version: Option<u64>,
}

/// Why a PUBLISH body was refused. The text is short enough for a reason phrase or a
/// Warning.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PidfError {
    /// The body, or the document rendered from it, is over `MAX_BODY` bytes.
    #[error("body too large")]
    TooLarge { len: usize },
    /// Not well-formed XML, not UTF-8, or an entity other than the predefined five.
    #[error("malformed XML at byte {at}")]
    Malformed { at: u64 },
    /// The root is not a PIDF `<presence>`.
    #[error("not a PIDF document")]
    NotPidf,
    /// `<presence>` has no `entity`.
    #[error("presence without entity")]
    MissingEntity,
    /// A `<tuple>` has no `id`.
    #[error("tuple without id")]
    TupleWithoutId,
    /// Two tuples share an id.
    #[error("duplicate tuple id")]
    DuplicateTupleId { id: String },
    /// A tuple has no `<status><basic>`.
    #[error("tuple without status")]
    TupleWithoutStatus { id: String },
    /// `<basic>` is neither `open` nor `closed`.
    #[error("basic is neither open nor closed")]
    InvalidBasic,
    /// More than `MAX_TUPLES` tuples.
    #[error("too many tuples")]
    TooManyTuples,
    /// A note or an activity text is over `MAX_NOTE_CHARS` characters.
    #[error("note too long")]
    NoteTooLong { chars: usize },
    /// More than `MAX_ACTIVITIES` activities.
    #[error("too many activities")]
    TooManyActivities,
    /// The Switchboard version element is not a number.
    #[error("invalid version")]
    InvalidVersion,
}

/// Appends the application/pidf+xml document of `doc` to `out`.
///
/// Activities go in a `<dm:person>` with `<rpid:activities>`; caps in each tuple's
/// `<caps:servcaps>` (audio, video, text and message, each `true` or `false`); `version` as an
/// element in the Switchboard namespace `urn:switchboard:params:xml:ns:pidf-version` after the
/// notes (watchers pass over unknown namespaces). A tuple whose `caps` is `None` has no
/// servcaps. Namespaces are declared only when used. Characters XML cannot carry are
/// dropped.
pub fn render(doc: &PresenceDoc, out: &mut String) {
    let has_caps = doc.tuples.iter().any(|t| t.caps.is_some());
    let has_person = !doc.activities.is_empty();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"");
    out.push_str(NS_PIDF);
    if has_person {
        for (prefix, ns) in [("dm", NS_DM), ("rpid", NS_RPID)] {
            push_all(out, &["\"\n    xmlns:", prefix, "=\"", ns]);
        }
    }
    if has_caps {
        push_all(out, &["\"\n    xmlns:caps=\"", NS_CAPS]);
    }
    if doc.version.is_some() {
        push_all(out, &["\"\n    xmlns:sv=\"", NS_VERSION]);
    }
    out.push_str("\"\n    entity=\"");
    xml::attr(out, &doc.entity);
    out.push_str("\">\n");
    for t in &doc.tuples {
        render_tuple(t, out);
    }
    for note in &doc.notes {
        out.push_str("  <note>");
        xml::text(out, note);
        out.push_str("</note>\n");
    }
    if has_person {
        out.push_str("  <dm:person id=\"p");
        if let Some(n) = person_number(doc) {
            let _ = write!(out, "{n}");
        }
        out.push_str("\">\n    <rpid:activities>");
        for a in &doc.activities {
            let name = a.name();
            if Activity::is_rpid_element(name) {
                push_all(out, &["<rpid:", name, "/>"]);
            } else {
                out.push_str("<rpid:other>");
                xml::text(out, name);
                out.push_str("</rpid:other>");
            }
        }
        out.push_str("</rpid:activities>\n  </dm:person>\n");
    }
    if let Some(v) = doc.version {
        // writing into a String cannot fail
        let _ = writeln!(out, "  <sv:version>{v}</sv:version>");
    }
    out.push_str("</presence>\n");
}

fn render_tuple(t: &Tuple, out: &mut String) {
    out.push_str("  <tuple id=\"");
    xml::attr(out, &t.id);
    push_all(
        out,
        &[
            "\">\n    <status><basic>",
            t.basic.as_str(),
            "</basic></status>\n",
        ],
    );
    if let Some(caps) = t.caps {
        out.push_str("    <caps:servcaps>\n");
        for (flag, name) in Caps::MEDIA {
            let value = if caps.has(flag) { "true" } else { "false" };
            push_all(
                out,
                &["      <caps:", name, ">", value, "</caps:", name, ">\n"],
            );
        }
        out.push_str("    </caps:servcaps>\n");
    }
    if let Some(c) = &t.contact {
        out.push_str("    <contact>");
        xml::text(out, c);
        out.push_str("</contact>\n");
    }
    if let Some(n) = &t.note {
        out.push_str("    <note>");
        xml::text(out, n);
        out.push_str("</note>\n");
    }
    out.push_str("  </tuple>\n");
}

fn push_all(out: &mut String, parts: &[&str]) {
    for p in parts {
        out.push_str(p);
    }
}

/// The person element's id is `p` followed by this number, if any, chosen so that no tuple
/// has the same id (ids are unique in a document).
fn person_number(doc: &PresenceDoc) -> Option<u32> {
    let is = |id: &str, n: u32| match id.strip_prefix('p') {
        Some("") => n == 0,
        Some(d) => n != 0 && !d.starts_with(['0', '+']) && d.parse() == Ok(n),
        None => false,
    };
    // at most one number per tuple is taken, so this ends by `tuples.len()`
    let n = (0..).find(|&n| !doc.tuples.iter().any(|t| is(&t.id, n)))?;
    (n != 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(id: &str, basic: Basic) -> Tuple {
        Tuple {
            id: id.into(),
            basic,
            contact: None,
            caps: None,
            note: None,
        }
    }

    fn full_doc() -> PresenceDoc {
        PresenceDoc {
            entity: "pres:alice@example.com".into(),
            tuples: vec![
                Tuple {
                    contact: Some("sip:alice@192.0.2.10:5060".into()),
                    caps: Some(Caps::DECLARED.union(Caps::AUDIO).union(Caps::VIDEO)),
                    note: Some("desk phone".into()),
                    ..tuple("t1", Basic::Open)
                },
                Tuple {
                    caps: Some(Caps::DECLARED.union(Caps::MESSAGE)),
                    ..tuple("t2", Basic::Closed)
                },
                tuple("t3", Basic::Open),
            ],
            notes: vec!["In a meeting".into(), "back at 3".into()],
            activities: vec![
                Activity::Meeting,
                Activity::OnThePhone,
                Activity::Other("travel".into()),
                Activity::Other("Writing the quarterly report".into()),
            ],
            version: Some(42),
        }
    }

    fn rendered(doc: &PresenceDoc) -> String {
        let mut out = String::new();
        render(doc, &mut out);
        out
    }

    #[test]
    fn render_then_parse_gives_the_same_document() {
        let doc = full_doc();
        assert_eq!(parse(rendered(&doc).as_bytes()), Ok(doc));
    }

    #[test]
    fn a_bare_document_round_trips_without_optional_namespaces() {
        let doc = PresenceDoc {
            entity: "sip:bob@example.com".into(),
            tuples: vec![tuple("a", Basic::Closed)],
            ..PresenceDoc::default()
        };
        let xml = rendered(&doc);
        assert!(!xml.contains("xmlns:dm") && !xml.contains("xmlns:caps"));
        assert!(!xml.contains("xmlns:sv") && !xml.contains("servcaps"));
        assert_eq!(parse(xml.as_bytes()), Ok(doc));
    }

    #[test]
    fn the_version_comes_after_the_notes_in_its_own_namespace() {
        let xml = rendered(&full_doc());
        let note = xml.rfind("</note>").unwrap();
        let version = xml.find("<sv:version>42</sv:version>").unwrap();
        assert!(note < version);
        assert!(xml.contains("xmlns:sv=\"urn:switchboard:params:xml:ns:pidf-version\""));
    }

    #[test]
    fn servcaps_list_each_medium_as_a_boolean() {
        let xml = rendered(&full_doc());
        let t1 = &xml[xml.find("id=\"t1\"").unwrap()..xml.find("id=\"t2\"").unwrap()];
        assert!(t1.contains("<caps:audio>true</caps:audio>"));
        assert!(t1.contains("<caps:video>true</caps:video>"));
        assert!(t1.contains("<caps:text>false</caps:text>"));
        assert!(t1.contains("<caps:message>false</caps:message>"));
        let t3 = &xml[xml.find("id=\"t3\"").unwrap()..];
        assert!(!t3[..t3.find("</tuple>").unwrap()].contains("servcaps"));
    }

    #[test]
    fn activities_go_in_a_person_as_rpid_elements_or_other() {
        let xml = rendered(&full_doc());
        assert!(xml.contains(
            "<dm:person id=\"p\">\n    <rpid:activities><rpid:meeting/><rpid:on-the-phone/>\
             <rpid:travel/><rpid:other>Writing the quarterly report</rpid:other>"
        ));
    }

    #[test]
    fn the_person_id_avoids_the_tuple_ids() {
        let mut doc = full_doc();
        doc.tuples[0].id = "p".into();
        doc.tuples[1].id = "p1".into();
        let xml = rendered(&doc);
        assert!(xml.contains("<dm:person id=\"p2\">"));
        assert_eq!(parse(xml.as_bytes()), Ok(doc));
    }

    #[test]
    fn markup_in_notes_and_entity_is_escaped_and_read_back() {
        let doc = PresenceDoc {
            entity: "sip:o'neil\"&<x>@example.com".into(),
            tuples: vec![Tuple {
                note: Some("<b>&amp; \"quoted\" 'it'</b>".into()),
                contact: Some("sip:a@b;x=<&>".into()),
                ..tuple("t&1", Basic::Open)
            }],
            notes: vec!["]]> & <![CDATA[ x".into()],
            activities: vec![Activity::Other("a<b & c>d".into())],
            version: None,
        };
        let xml = rendered(&doc);
        assert!(xml.contains("entity=\"sip:o&apos;neil&quot;&amp;&lt;x&gt;@example.com\""));
        assert!(xml.contains("&lt;b&gt;&amp;amp; &quot;quoted&quot; &apos;it&apos;&lt;/b&gt;"));
        assert!(xml.contains("<tuple id=\"t&amp;1\">"));
        assert!(xml.contains("]]&gt; &amp; &lt;![CDATA[ x"));
        assert_eq!(parse(xml.as_bytes()), Ok(doc));
    }

    #[test]
    fn line_ends_and_tabs_survive_in_attributes_and_text() {
        let doc = PresenceDoc {
            entity: "a\tb\nc\rd".into(),
            notes: vec!["line one\r\nline two\rthree".into()],
            ..PresenceDoc::default()
        };
        assert_eq!(parse(rendered(&doc).as_bytes()), Ok(doc));
    }

    #[test]
    fn activity_names_map_both_ways() {
        for a in [
            Activity::OnThePhone,
            Activity::Busy,
            Activity::Away,
            Activity::Meeting,
            Activity::Meal,
            Activity::Vacation,
            Activity::Sleeping,
            Activity::Appointment,
            Activity::Other("tv".into()),
        ] {
            assert_eq!(Activity::from_name(a.name()), a);
        }
        assert_eq!(Activity::OnThePhone.name(), "on-the-phone");
        assert_eq!(
            Activity::from_name("Busy"),
            Activity::Other("Busy".into()),
            "element names are case-sensitive"
        );
    }

    #[test]
    fn render_appends_to_what_is_in_the_buffer() {
        let mut out = String::from("prefix");
        render(&full_doc(), &mut out);
        assert!(out.starts_with("prefix<?xml version=\"1.0\""));
        assert!(out.ends_with("</presence>\n"));
    }
}
