//! NOTIFY bodies of resource list subscriptions (RFC 4662 section 5).
//!
//! One `multipart/related` body: first the list meta-information (application/rlmi+xml) with a
//! `<resource>` per list entry and an `<instance>` per subscription to it, then one
//! application/pidf+xml part per instance that has a document, found through the instance's
//! `cid`. Built by hand into one buffer; nothing is read back.
//!
//! Content-IDs are a function of the instance id and the boundary, so a NOTIFY is the same
//! bytes for the same inputs (the boundary itself comes from the caller's seeded entropy).

use std::fmt::Write;

use super::xml;

/// The state of one subscription to a list entry (RFC 4662 section 5.2, `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceState {
    /// Subscribed; its document, if any, is in the body.
    Active,
    /// Waiting for authorization.
    Pending,
    /// Ended, with an RFC 4662 / RFC 6665 reason (`rejected`, `noresource`, `deactivated`,
    /// `probation`, `timeout`, `giveup`).
    Terminated {
        /// The `reason` attribute.
        reason: &'static str,
    },
}

/// One list entry and the state of its subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The entry's URI.
    pub uri: &'a str,
    /// Its display name.
    pub name: Option<&'a str>,
    /// The id of its subscription instance, unique in the list.
    pub instance_id: &'a str,
    /// Active, pending or terminated.
    pub state: ResourceState,
    /// The resource's PIDF body when it has one (Active only).
    pub pidf: Option<&'a str>,
}

/// Renders a resource list NOTIFY body: returns the Content-Type header value
/// (`multipart/related;type="application/rlmi+xml";start="<...>";boundary="..."`) and the
/// body.
///
/// The first part is the `<list>` (`fullState` as given), with `<name>` and an `<instance>`
/// per resource: `cid` when it is active with a PIDF body, `reason` when terminated. Then one
/// part per such body, its Content-ID matching the `cid`. `boundary` must be a valid MIME
/// boundary (RFC 2046 section 5.1.1) that appears in none of the PIDF bodies.
pub fn render(
    list_uri: &str,
    version: u64,
    full_state: bool,
    resources: &[Resource<'_>],
    boundary: &str,
) -> (String, Vec<u8>) {
    debug_assert!(
        (1..=70).contains(&boundary.len()) && !boundary.contains(['"', '\r', '\n']),
        "not a MIME boundary: {boundary:?}"
    );
    let mut content_type = String::from("multipart/related;type=\"application/rlmi+xml\"");
    content_type.push_str(";start=\"<");
    list_cid(&mut content_type, boundary);
    content_type.push_str(">\";boundary=\"");
    content_type.push_str(boundary);
    content_type.push('"');

    let parts: usize = resources.iter().filter_map(body_of).map(str::len).sum();
    let mut out = String::with_capacity(512 + 256 * resources.len() + parts);
    part_head(&mut out, boundary, "application/rlmi+xml", |o| {
        list_cid(o, boundary)
    });
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"");
    xml::attr(&mut out, list_uri);
    // writing into a String cannot fail
    let _ = writeln!(out, "\" version=\"{version}\" fullState=\"{full_state}\">");
    for r in resources {
        out.push_str("  <resource uri=\"");
        xml::attr(&mut out, r.uri);
        out.push_str("\">\n");
        if let Some(name) = r.name {
            out.push_str("    <name>");
            xml::text(&mut out, name);
            out.push_str("</name>\n");
        }
        out.push_str("    <instance id=\"");
        xml::attr(&mut out, r.instance_id);
        match r.state {
            ResourceState::Active => {
                out.push_str("\" state=\"active");
                if body_of(r).is_some() {
                    out.push_str("\" cid=\"");
                    // cids are made of attribute-safe characters only
                    instance_cid(&mut out, r.instance_id, boundary);
                }
            }
            ResourceState::Pending => out.push_str("\" state=\"pending"),
            ResourceState::Terminated { reason } => {
                out.push_str("\" state=\"terminated\" reason=\"");
                xml::attr(&mut out, reason);
            }
        }
        out.push_str("\"/>\n  </resource>\n");
    }
    out.push_str("</list>\n");
    for r in resources {
        if let Some(pidf) = body_of(r) {
            out.push_str("\r\n");
            part_head(&mut out, boundary, "application/pidf+xml", |o| {
                instance_cid(o, r.instance_id, boundary)
            });
            out.push_str(pidf);
        }
    }
    out.push_str("\r\n--");
    out.push_str(boundary);
    out.push_str("--\r\n");
    (content_type, out.into_bytes())
}

/// The document carried for `r`: only an active instance has one.
fn body_of<'a>(r: &Resource<'a>) -> Option<&'a str> {
    match r.state {
        ResourceState::Active => r.pidf,
        _ => None,
    }
}

/// A delimiter line and the headers of a part (RFC 2046 section 5.1.1: the CRLF before a
/// delimiter belongs to it, so the caller writes it between parts).
fn part_head(out: &mut String, boundary: &str, ty: &str, cid: impl FnOnce(&mut String)) {
    out.push_str("--");
    out.push_str(boundary);
    out.push_str("\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <");
    cid(out);
    out.push_str(">\r\nContent-Type: ");
    out.push_str(ty);
    out.push_str(";charset=\"UTF-8\"\r\n\r\n");
}

/// The Content-ID of the list part: `list@<boundary>`.
fn list_cid(out: &mut String, boundary: &str) {
    out.push_str("list@");
    cid_atom(out, boundary);
}

/// The Content-ID of an instance's part: `r.<instance id>@<boundary>`. The dot keeps it apart
/// from the list's, and the encoding is one-to-one, so distinct instances get distinct ids.
fn instance_cid(out: &mut String, instance_id: &str, boundary: &str) {
    out.push_str("r.");
    cid_atom(out, instance_id);
    out.push('@');
    cid_atom(out, boundary);
}

/// `s` as an RFC 5322 dot-atom without dots: letters, digits and `-_~!*+$` stay, every other
/// byte (`%` and `.` included) becomes `%XX`; the empty string becomes a lone `%`, which no
/// encoding of another string produces.
fn cid_atom(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push('%');
    }
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_~!*+$".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::xml::{Item, Ns, Reader};

    const BOUNDARY: &str = "50UBfW7LSCVLtggUPe5z";
    const BOB: &str = "<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
                       entity=\"sip:bob@example.com\"/>\n";
    const DAVE: &str = "<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
                        entity=\"sip:dave@example.com\"/>\n";

    fn resources() -> Vec<Resource<'static>> {
        vec![
            Resource {
                uri: "sip:bob@example.com",
                name: Some("Bob Smith"),
                instance_id: "juwigmtboe",
                state: ResourceState::Active,
                pidf: Some(BOB),
            },
            Resource {
                uri: "sip:dave@example.com",
                name: None,
                instance_id: "hqzsuxtfyq",
                state: ResourceState::Active,
                pidf: Some(DAVE),
            },
            Resource {
                uri: "sip:ed@example.net",
                name: Some("Ed & <Co>"),
                instance_id: "ed.1",
                state: ResourceState::Pending,
                pidf: Some(BOB),
            },
            Resource {
                uri: "sip:fred@example.org",
                name: None,
                instance_id: "fr",
                state: ResourceState::Terminated { reason: "rejected" },
                pidf: None,
            },
            Resource {
                uri: "sip:gail@example.org",
                name: None,
                instance_id: "gl",
                state: ResourceState::Active,
                pidf: None,
            },
        ]
    }

    /// A part: its headers (name, value) and its content.
    type Part = (Vec<(String, String)>, String);

    fn parts(body: &[u8], boundary: &str) -> Vec<Part> {
        let body = std::str::from_utf8(body).unwrap();
        let close = format!("\r\n--{boundary}--\r\n");
        let body = body
            .strip_suffix(&close)
            .expect("closing delimiter at the end");
        let first = format!("--{boundary}\r\n");
        let body = body.strip_prefix(&first).expect("opening delimiter first");
        body.split(&format!("\r\n--{boundary}\r\n"))
            .map(|p| {
                let (head, content) = p.split_once("\r\n\r\n").unwrap();
                let headers = head
                    .split("\r\n")
                    .map(|h| {
                        let (n, v) = h.split_once(": ").unwrap();
                        (n.to_owned(), v.to_owned())
                    })
                    .collect();
                (headers, content.to_owned())
            })
            .collect()
    }

    fn header<'p>(part: &'p Part, name: &str) -> &'p str {
        &part.0.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// The `<instance>` elements of an RLMI document, as (id, state, cid, reason).
    fn instances(rlmi: &str) -> Vec<[Option<String>; 4]> {
        let mut r = Reader::new(rlmi);
        let mut out = Vec::new();
        loop {
            match r.next().unwrap() {
                Item::Start(e) if e.is(Ns::Rlmi, "instance") => {
                    out.push(["id", "state", "cid", "reason"].map(|a| e.attr(a).unwrap()))
                }
                Item::Eof => return out,
                _ => {}
            }
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.into())
    }

    #[test]
    fn the_start_parameter_names_the_rlmi_part() {
        let (ct, body) = render(
            "sip:adam-friends@example.com",
            1,
            true,
            &resources(),
            BOUNDARY,
        );
        let p = parts(&body, BOUNDARY);
        let cid = header(&p[0], "Content-ID");
        assert_eq!(
            ct,
            format!(
                "multipart/related;type=\"application/rlmi+xml\";start=\"{cid}\";\
                 boundary=\"{BOUNDARY}\""
            )
        );
        assert_eq!(
            header(&p[0], "Content-Type"),
            "application/rlmi+xml;charset=\"UTF-8\""
        );
    }

    #[test]
    fn each_active_instance_with_a_document_has_a_part_with_its_cid() {
        let (_, body) = render("sip:list@example.com", 3, true, &resources(), BOUNDARY);
        let p = parts(&body, BOUNDARY);
        assert_eq!(p.len(), 3, "the list, Bob and Dave");
        let inst = instances(&p[0].1);
        assert_eq!(inst.len(), 5);
        for (i, doc) in [(0, BOB), (1, DAVE)] {
            let cid = inst[i][2]
                .clone()
                .expect("an active instance with a body has a cid");
            let part = &p[i + 1];
            assert_eq!(header(part, "Content-ID"), format!("<{cid}>"));
            assert_eq!(
                header(part, "Content-Type"),
                "application/pidf+xml;charset=\"UTF-8\""
            );
            assert_eq!(part.1, doc);
        }
        assert_ne!(inst[0][2], inst[1][2]);
    }

    #[test]
    fn pending_and_terminated_instances_carry_no_part() {
        let (_, body) = render("sip:list@example.com", 3, true, &resources(), BOUNDARY);
        let inst = instances(&parts(&body, BOUNDARY)[0].1);
        assert_eq!(inst[2], [s("ed.1"), s("pending"), None, None]);
        assert_eq!(inst[3], [s("fr"), s("terminated"), None, s("rejected")]);
        assert_eq!(
            inst[4],
            [s("gl"), s("active"), None, None],
            "active, no document yet"
        );
    }

    #[test]
    fn the_list_element_carries_uri_version_and_full_state() {
        let (_, body) = render("sip:l@example.com;x=<&>", 17, false, &resources(), BOUNDARY);
        let rlmi = &parts(&body, BOUNDARY)[0].1;
        assert!(rlmi.contains(
            "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:l@example.com;x=&lt;&amp;&gt;\" \
             version=\"17\" fullState=\"false\">"
        ));
        assert!(rlmi.contains("<name>Ed &amp; &lt;Co&gt;</name>"));
        let (_, full) = render("sip:l@example.com", 1, true, &[], BOUNDARY);
        assert!(std::str::from_utf8(&full)
            .unwrap()
            .contains("fullState=\"true\""));
    }

    #[test]
    fn an_empty_list_is_one_part() {
        let (_, body) = render("sip:l@example.com", 0, true, &[], BOUNDARY);
        let p = parts(&body, BOUNDARY);
        assert_eq!(p.len(), 1);
        assert!(instances(&p[0].1).is_empty());
    }

    #[test]
    fn cids_are_deterministic_and_depend_on_the_boundary() {
        let a = render("sip:l@example.com", 1, true, &resources(), BOUNDARY);
        assert_eq!(
            a,
            render("sip:l@example.com", 1, true, &resources(), BOUNDARY)
        );
        let other = "xyz'()+_,-./:=? q";
        let (ct, body) = render("sip:l@example.com", 1, true, &resources(), other);
        assert!(ct.ends_with(&format!("boundary=\"{other}\"")));
        let p = parts(&body, other);
        let cid = instances(&p[0].1)[0][2].clone().unwrap();
        assert_ne!(
            Some(cid.clone()),
            instances(&parts(&a.1, BOUNDARY)[0].1)[0][2]
        );
        assert!(cid
            .split('@')
            .all(|side| !side.contains(['(', ')', ',', ':', ' ', '\''])));
    }

    #[test]
    fn cid_encoding_keeps_distinct_instance_ids_apart() {
        let cid = |id: &str| {
            let mut o = String::new();
            instance_cid(&mut o, id, "b");
            o
        };
        assert_eq!(cid("abc"), "r.abc@b");
        assert_eq!(cid("a.b"), "r.a%2Eb@b");
        assert_ne!(cid("a%2Eb"), cid("a.b"));
        assert_ne!(cid(""), cid("%"));
        let mut list = String::new();
        list_cid(&mut list, "b");
        assert_ne!(list, cid("list"));
    }
}
