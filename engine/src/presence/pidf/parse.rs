//! Reading PUBLISH bodies into `PresenceDoc`s.
//!
//! Elements are matched by namespace and local name, so any prefix (or a default namespace)
//! works. Unknown elements and namespaces are passed over whole; limits are checked as the
//! document is read, so an oversized list stops at the first element over.

use super::{render, Activity, Basic, PidfError, PresenceDoc, Tuple};
use crate::presence::caps::Caps;
use crate::presence::xml::{Elem, Item, Malformed, Ns, Reader};

/// Largest body accepted, in bytes (and largest rendering of what it holds).
pub const MAX_BODY: usize = 16 * 1024;
/// Most tuples in a document.
pub const MAX_TUPLES: usize = 32;
/// Longest note (or `<rpid:other>` text), in characters, after trimming.
pub const MAX_NOTE_CHARS: usize = 1024;
/// Most activities in a document, wherever they appear.
pub const MAX_ACTIVITIES: usize = 16;

impl From<Malformed> for PidfError {
    fn from(m: Malformed) -> Self {
        PidfError::Malformed { at: m.0 }
    }
}

/// Parses a PUBLISH body (application/pidf+xml).
///
/// Namespace-aware and tolerant of unknown elements and namespaces; strict on limits:
/// `MAX_BODY` bytes, `MAX_TUPLES` tuples, `MAX_NOTE_CHARS` per note, `MAX_ACTIVITIES`
/// activities. `<presence>` needs an `entity`, each tuple an `id` (unique) and
/// `<status><basic>`. Activities are read from `<rpid:activities>` under the presence, a
/// person or a tuple. Presence-level `<note>`s and person `<dm:note>`s go to `notes`, a
/// tuple's first note to the tuple. Servcaps set `DECLARED` and the media found `true`
/// (MESSAGE also from `<caps:methods><caps:supported><caps:MESSAGE/>`). No entities beyond
/// the five predefined ones and character references.
pub fn parse(body: &[u8]) -> Result<PresenceDoc, PidfError> {
    if body.len() > MAX_BODY {
        return Err(PidfError::TooLarge { len: body.len() });
    }
    let text = std::str::from_utf8(body).map_err(|e| PidfError::Malformed {
        at: e.valid_up_to() as u64,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader::new(text);
    let root = loop {
        match r.next()? {
            Item::Start(e) if e.is(Ns::Pidf, "presence") => break e,
            Item::Start(_) | Item::Eof => return Err(PidfError::NotPidf),
            Item::Text(t) if t.trim().is_empty() => {}
            Item::Text(_) | Item::End => return Err(r.position().into()),
        }
    };
    let entity = attr(&r, &root, "entity")?.unwrap_or_default();
    if entity.is_empty() {
        return Err(PidfError::MissingEntity);
    }
    let mut doc = PresenceDoc {
        entity,
        ..PresenceDoc::default()
    };
    presence(&mut r, &mut doc)?;
    loop {
        match r.next()? {
            Item::Eof => break,
            Item::Text(t) if t.trim().is_empty() => {}
            _ => return Err(r.position().into()),
        }
    }
    // Keep the invariant that what is accepted renders within the limit (escaping can make a
    // document longer than the body it came from, CDATA for one).
    let mut out = String::with_capacity(body.len() * 2);
    render(&doc, &mut out);
    if out.len() > MAX_BODY {
        return Err(PidfError::TooLarge { len: out.len() });
    }
    Ok(doc)
}

fn attr(r: &Reader<'_>, e: &Elem<'_>, name: &str) -> Result<Option<String>, PidfError> {
    e.attr(name).map_err(|()| r.position().into())
}

/// The next child of the element being read: `None` at its end.
fn child<'i>(r: &mut Reader<'i>) -> Result<Option<Elem<'i>>, PidfError> {
    loop {
        match r.next()? {
            Item::Start(e) => return Ok(Some(e)),
            Item::End => return Ok(None),
            Item::Text(_) => {}
            Item::Eof => return Err(r.position().into()),
        }
    }
}

fn presence(r: &mut Reader<'_>, doc: &mut PresenceDoc) -> Result<(), PidfError> {
    while let Some(e) = child(r)? {
        match (e.ns, e.local()) {
            (Ns::Pidf, "tuple") => {
                if doc.tuples.len() == MAX_TUPLES {
                    return Err(PidfError::TooManyTuples);
                }
                let t = tuple(r, &e, &mut doc.activities)?;
                if doc.tuples.iter().any(|u| u.id == t.id) {
                    return Err(PidfError::DuplicateTupleId { id: t.id });
                }
                doc.tuples.push(t);
            }
            (Ns::Pidf, "note") => doc.notes.extend(note(r)?),
            (Ns::Dm, "person") => person(r, doc)?,
            (Ns::Rpid, "activities") => activities(r, &mut doc.activities)?,
            (Ns::Version, "version") => {
                let v = r.text()?;
                doc.version = Some(v.trim().parse().map_err(|_| PidfError::InvalidVersion)?);
            }
            _ => r.skip(&e)?,
        }
    }
    Ok(())
}

fn tuple(r: &mut Reader<'_>, e: &Elem<'_>, acts: &mut Vec<Activity>) -> Result<Tuple, PidfError> {
    let id = attr(r, e, "id")?.unwrap_or_default();
    if id.is_empty() {
        return Err(PidfError::TupleWithoutId);
    }
    let mut basic = None;
    let mut contact = None;
    let mut caps: Option<Caps> = None;
    let mut tuple_note = None;
    while let Some(e) = child(r)? {
        match (e.ns, e.local()) {
            (Ns::Pidf, "status") => {
                let b = status(r)?;
                basic = basic.or(b);
            }
            (Ns::Pidf, "contact") => {
                let c = r.text()?;
                let c = c.trim();
                if contact.is_none() && !c.is_empty() {
                    contact = Some(c.to_owned());
                }
            }
            (Ns::Pidf, "note") => {
                let n = note(r)?;
                tuple_note = tuple_note.or(n);
            }
            (Ns::Caps, "servcaps") => {
                let c = servcaps(r)?;
                caps = Some(caps.unwrap_or(Caps::DECLARED).union(c));
            }
            (Ns::Rpid, "activities") => activities(r, acts)?,
            _ => r.skip(&e)?,
        }
    }
    let Some(basic) = basic else {
        return Err(PidfError::TupleWithoutStatus { id });
    };
    Ok(Tuple {
        id,
        basic,
        contact,
        caps,
        note: tuple_note,
    })
}

fn status(r: &mut Reader<'_>) -> Result<Option<Basic>, PidfError> {
    let mut basic = None;
    while let Some(e) = child(r)? {
        if e.is(Ns::Pidf, "basic") {
            let b = match r.text()?.trim() {
                "open" => Basic::Open,
                "closed" => Basic::Closed,
                _ => return Err(PidfError::InvalidBasic),
            };
            basic = basic.or(Some(b));
        } else {
            r.skip(&e)?;
        }
    }
    Ok(basic)
}

/// The media of one `<caps:servcaps>`.
fn servcaps(r: &mut Reader<'_>) -> Result<Caps, PidfError> {
    let mut caps = Caps::DECLARED;
    while let Some(e) = child(r)? {
        let flag = match (e.ns, e.local()) {
            (Ns::Caps, "audio") => Caps::AUDIO,
            (Ns::Caps, "video") => Caps::VIDEO,
            (Ns::Caps, "text") => Caps::TEXT,
            (Ns::Caps, "message") => Caps::MESSAGE,
            (Ns::Caps, "methods") => {
                if supports_message(r)? {
                    caps = caps.union(Caps::MESSAGE);
                }
                continue;
            }
            _ => {
                r.skip(&e)?;
                continue;
            }
        };
        // xs:boolean (RFC 5196 section 3.2)
        if matches!(r.text()?.trim(), "true" | "1") {
            caps = caps.union(flag);
        }
    }
    Ok(caps)
}

/// Whether `<caps:methods>` lists MESSAGE as supported.
fn supports_message(r: &mut Reader<'_>) -> Result<bool, PidfError> {
    let mut found = false;
    while let Some(e) = child(r)? {
        if e.is(Ns::Caps, "supported") {
            while let Some(m) = child(r)? {
                found |= m.is(Ns::Caps, "MESSAGE");
                r.skip(&m)?;
            }
        } else {
            r.skip(&e)?;
        }
    }
    Ok(found)
}

fn person(r: &mut Reader<'_>, doc: &mut PresenceDoc) -> Result<(), PidfError> {
    while let Some(e) = child(r)? {
        match (e.ns, e.local()) {
            (Ns::Rpid, "activities") => activities(r, &mut doc.activities)?,
            (Ns::Dm, "note") => doc.notes.extend(note(r)?),
            _ => r.skip(&e)?,
        }
    }
    Ok(())
}

fn activities(r: &mut Reader<'_>, acts: &mut Vec<Activity>) -> Result<(), PidfError> {
    while let Some(e) = child(r)? {
        let a = match (e.ns, e.local()) {
            (Ns::Rpid, "other") => match limited(r.text()?)? {
                Some(text) => Activity::from_name(&text),
                None => continue,
            },
            (Ns::Rpid, name) if Activity::is_rpid_element(name) => {
                let a = Activity::from_name(name);
                r.skip(&e)?;
                a
            }
            _ => {
                r.skip(&e)?;
                continue;
            }
        };
        if acts.len() == MAX_ACTIVITIES {
            return Err(PidfError::TooManyActivities);
        }
        acts.push(a);
    }
    Ok(())
}

/// A note's text, trimmed; `None` when empty.
fn note(r: &mut Reader<'_>) -> Result<Option<String>, PidfError> {
    limited(r.text()?)
}

fn limited(text: String) -> Result<Option<String>, PidfError> {
    let t = text.trim();
    let chars = t.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(PidfError::NoteTooLong { chars });
    }
    Ok((chars > 0).then(|| t.to_owned()))
}

#[cfg(test)]
mod tests;
