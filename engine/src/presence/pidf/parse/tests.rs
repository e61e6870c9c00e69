use super::*;

/// A Linphone-style PUBLISH: RPID activities and a note in a data model person.
const LINPHONE: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com">
  <tuple id="qmdrrk">
    <status>
      <basic>open</basic>
    </status>
    <contact priority="0.8">sip:alice@192.0.2.10:5060;transport=udp</contact>
    <timestamp>2024-03-05T10:21:03Z</timestamp>
  </tuple>
  <dm:person id="ikzecu">
    <rpid:activities>
      <rpid:away/>
    </rpid:activities>
    <dm:note>Gone for lunch</dm:note>
  </dm:person>
</presence>
"#;

/// The plain RFC 3863 document (section 6 style): one tuple, nothing else.
const RFC3863: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    entity="pres:someone@example.com">
  <tuple id="sg89ae">
    <status>
      <basic>open</basic>
    </status>
    <contact priority="0.8">tel:+09012345678</contact>
  </tuple>
</presence>
"#;

/// An IMS-style client: every element prefixed (`pidf:`, short RPID and data model prefixes),
/// OMA extensions, servcaps with methods, a device element.
const PREFIXED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<pidf:presence xmlns:pidf="urn:ietf:params:xml:ns:pidf"
    xmlns:op="urn:oma:xml:prs:pidf:oma-pres"
    xmlns:caps="urn:ietf:params:xml:ns:pidf:caps"
    xmlns:r="urn:ietf:params:xml:ns:pidf:rpid"
    xmlns:d="urn:ietf:params:xml:ns:pidf:data-model"
    entity="sip:+15551230000@ims.example.net">
  <pidf:tuple id="a1">
    <pidf:status><pidf:basic>open</pidf:basic></pidf:status>
    <op:service-description>
      <op:service-id>org.openmobilealliance:IM-session</op:service-id>
      <op:version>1.0</op:version>
    </op:service-description>
    <caps:servcaps>
      <caps:audio>true</caps:audio>
      <caps:video>false</caps:video>
      <caps:methods><caps:supported><caps:INVITE/><caps:MESSAGE/></caps:supported></caps:methods>
    </caps:servcaps>
    <pidf:contact>sip:+15551230000@ims.example.net</pidf:contact>
    <pidf:note xml:lang="en">Mobile</pidf:note>
    <pidf:note>a second tuple note</pidf:note>
  </pidf:tuple>
  <d:person id="p0">
    <r:activities><r:on-the-phone/><r:other> Driving to Busan </r:other></r:activities>
    <op:overriding-willingness><op:basic>open</op:basic></op:overriding-willingness>
  </d:person>
  <d:device id="d1"><d:deviceID>urn:uuid:0b1e</d:deviceID><d:note>device</d:note></d:device>
</pidf:presence>
"#;

/// Default namespaces switched per element, activities inside a tuple, notes in several
/// languages, an extension holding a PIDF-looking note.
const DEFAULT_NS: &str = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:bob@example.org">
  <tuple id="bs35r9">
    <status><basic>closed</basic></status>
    <activities xmlns="urn:ietf:params:xml:ns:pidf:rpid"><busy/></activities>
    <note/>
  </tuple>
  <note xml:lang="en">Don't Disturb Please!</note>
  <note xml:lang="fr">Ne d&#233;rangez pas, s&apos;il vous pla&#xEE;t</note>
  <person xmlns="urn:ietf:params:xml:ns:pidf:data-model" id="x">
    <activities xmlns="urn:ietf:params:xml:ns:pidf:rpid"><meeting/><made-up/><travel/></activities>
    <note><![CDATA[Quarterly <review>]]></note>
  </person>
  <x:thing xmlns:x="urn:example:ext"><note>not a presence note</note></x:thing>
</presence>"#;

fn p(body: &str) -> Result<PresenceDoc, PidfError> {
    parse(body.as_bytes())
}

fn wrap(inner: &str) -> String {
    format!(
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' \
         xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' \
         xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:a@b'>{inner}</presence>"
    )
}

fn tuple_xml(id: &str) -> String {
    format!("<tuple id='{id}'><status><basic>open</basic></status></tuple>")
}

fn round_trips(doc: &PresenceDoc) {
    let mut out = String::new();
    render(doc, &mut out);
    assert_eq!(parse(out.as_bytes()).as_ref(), Ok(doc), "{out}");
}

#[test]
fn a_linphone_publish_gives_its_activity_and_person_note() {
    let doc = p(LINPHONE).unwrap();
    assert_eq!(doc.entity, "sip:alice@example.com");
    assert_eq!(doc.tuples.len(), 1);
    let t = &doc.tuples[0];
    assert_eq!((t.id.as_str(), t.basic), ("qmdrrk", Basic::Open));
    assert_eq!(
        t.contact.as_deref(),
        Some("sip:alice@192.0.2.10:5060;transport=udp")
    );
    assert_eq!((t.caps, t.note.as_deref()), (None, None));
    assert_eq!(doc.activities, [Activity::Away]);
    assert_eq!(doc.notes, ["Gone for lunch"]);
    assert_eq!(doc.version, None);
    round_trips(&doc);
}

#[test]
fn a_minimal_rfc_3863_document_has_one_open_tuple_and_nothing_else() {
    let doc = p(RFC3863).unwrap();
    assert_eq!(doc.entity, "pres:someone@example.com");
    assert_eq!(doc.tuples[0].contact.as_deref(), Some("tel:+09012345678"));
    assert!(doc.notes.is_empty() && doc.activities.is_empty());
    round_trips(&doc);
}

#[test]
fn prefixes_do_not_matter_only_namespaces() {
    let doc = p(PREFIXED).unwrap();
    assert_eq!(doc.entity, "sip:+15551230000@ims.example.net");
    let t = &doc.tuples[0];
    assert_eq!(
        t.caps,
        Some(Caps::DECLARED.union(Caps::AUDIO).union(Caps::MESSAGE)),
        "video false, MESSAGE from the supported methods"
    );
    assert_eq!(
        t.note.as_deref(),
        Some("Mobile"),
        "the first tuple note is kept"
    );
    assert_eq!(
        doc.activities,
        [
            Activity::OnThePhone,
            Activity::Other("Driving to Busan".into())
        ]
    );
    assert!(doc.notes.is_empty(), "device notes are not the person's");
    round_trips(&doc);
}

#[test]
fn default_namespaces_and_references_are_resolved() {
    let doc = p(DEFAULT_NS).unwrap();
    assert_eq!(doc.tuples[0].basic, Basic::Closed);
    assert_eq!(doc.tuples[0].note, None, "an empty note is no note");
    assert_eq!(
        doc.notes,
        [
            "Don't Disturb Please!",
            "Ne d\u{e9}rangez pas, s'il vous pla\u{ee}t",
            "Quarterly <review>",
        ]
    );
    assert_eq!(
        doc.activities,
        [
            Activity::Busy,
            Activity::Meeting,
            Activity::Other("travel".into())
        ],
        "tuple activities count, unknown activity elements do not"
    );
    round_trips(&doc);
}

#[test]
fn a_byte_order_mark_and_comments_are_passed_over() {
    let body = format!(
        "\u{feff}<!-- hi -->{}<?pi x?><!-- bye -->",
        wrap(&tuple_xml("a"))
    );
    assert_eq!(p(&body).unwrap().tuples.len(), 1);
}

#[test]
fn the_version_element_is_read_and_checked() {
    let sv = "xmlns:sv='urn:switchboard:params:xml:ns:pidf-version'";
    let body = format!("<presence xmlns='urn:ietf:params:xml:ns:pidf' {sv} entity='e'><sv:version> 7 </sv:version></presence>");
    assert_eq!(p(&body).unwrap().version, Some(7));
    let bad = body.replace(" 7 ", "seven");
    assert_eq!(p(&bad), Err(PidfError::InvalidVersion));
    let other_ns = body.replace("pidf-version'", "other'");
    assert_eq!(p(&other_ns).unwrap().version, None);
}

#[test]
fn a_body_over_16_kib_is_refused_and_one_at_the_limit_is_not() {
    let doc = wrap(&tuple_xml("a"));
    let at_limit = format!("{doc}{}", " ".repeat(MAX_BODY - doc.len()));
    assert_eq!(at_limit.len(), MAX_BODY);
    assert!(p(&at_limit).is_ok());
    let over = format!("{at_limit} ");
    assert_eq!(p(&over), Err(PidfError::TooLarge { len: MAX_BODY + 1 }));
}

#[test]
fn a_body_whose_rendering_would_be_over_the_limit_is_refused() {
    let note = format!("<note><![CDATA[{}]]></note>", "<".repeat(1000));
    let body = wrap(&note.repeat(15));
    assert!(body.len() < MAX_BODY);
    assert!(matches!(p(&body), Err(PidfError::TooLarge { len }) if len > MAX_BODY));
}

#[test]
fn thirty_two_tuples_pass_and_thirty_three_do_not() {
    let tuples: Vec<String> = (0..33).map(|i| tuple_xml(&format!("t{i}"))).collect();
    assert_eq!(p(&wrap(&tuples[..32].concat())).unwrap().tuples.len(), 32);
    assert_eq!(p(&wrap(&tuples.concat())), Err(PidfError::TooManyTuples));
}

#[test]
fn notes_are_limited_in_characters_not_bytes() {
    let ok = "\u{e9}".repeat(MAX_NOTE_CHARS);
    let long = "\u{e9}".repeat(MAX_NOTE_CHARS + 1);
    let too_long = Err(PidfError::NoteTooLong {
        chars: MAX_NOTE_CHARS + 1,
    });
    assert_eq!(
        p(&wrap(&format!("<note>  {ok}  </note>"))).unwrap().notes,
        [ok]
    );
    assert_eq!(p(&wrap(&format!("<note>{long}</note>"))), too_long);
    let person = format!("<dm:person id='p'><dm:note>{long}</dm:note></dm:person>");
    assert_eq!(p(&wrap(&person)), too_long);
    let tuple = tuple_xml("a").replace("</tuple>", &format!("<note>{long}</note></tuple>"));
    assert_eq!(p(&wrap(&tuple)), too_long);
    let other = format!("<rpid:activities><rpid:other>{long}</rpid:other></rpid:activities>");
    assert_eq!(p(&wrap(&other)), too_long);
}

#[test]
fn sixteen_activities_pass_and_seventeen_do_not_wherever_they_are() {
    let acts = |n: usize| {
        format!(
            "<rpid:activities>{}</rpid:activities>",
            "<rpid:busy/>".repeat(n)
        )
    };
    let in_tuple = tuple_xml("a").replace("</tuple>", &format!("{}</tuple>", acts(8)));
    let person = |n| format!("<dm:person id='p'>{}</dm:person>", acts(n));
    let ok = p(&wrap(&format!("{in_tuple}{}", person(8)))).unwrap();
    assert_eq!(ok.activities.len(), MAX_ACTIVITIES);
    assert_eq!(
        p(&wrap(&format!("{in_tuple}{}", person(9)))),
        Err(PidfError::TooManyActivities)
    );
}

#[test]
fn a_document_that_is_not_pidf_is_refused() {
    for body in [
        "",
        "   ",
        "<foo xmlns='urn:ietf:params:xml:ns:pidf' entity='e'/>",
        "<presence entity='sip:a@b'/>",
        "<presence xmlns='urn:ietf:params:xml:ns:cpim-pidf' entity='sip:a@b'/>",
        "<x:presence xmlns:x='urn:ietf:params:xml:ns:pidf:rpid' entity='e'/>",
    ] {
        assert_eq!(p(body), Err(PidfError::NotPidf), "{body:?}");
    }
}

#[test]
fn presence_needs_a_non_empty_entity() {
    let body = "<presence xmlns='urn:ietf:params:xml:ns:pidf'/>";
    assert_eq!(p(body), Err(PidfError::MissingEntity));
    let empty = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity=''/>";
    assert_eq!(p(empty), Err(PidfError::MissingEntity));
}

#[test]
fn each_tuple_needs_an_id_of_its_own_and_a_basic_status() {
    let no_id = "<tuple><status><basic>open</basic></status></tuple>";
    assert_eq!(p(&wrap(no_id)), Err(PidfError::TupleWithoutId));
    let no_status = "<tuple id='a'><contact>sip:a@b</contact></tuple>";
    let without = Err(PidfError::TupleWithoutStatus { id: "a".into() });
    assert_eq!(p(&wrap(no_status)), without);
    let no_basic = "<tuple id='a'><status><rpid:x/></status></tuple>";
    assert_eq!(p(&wrap(no_basic)), without);
    let bad_basic = "<tuple id='a'><status><basic>opened</basic></status></tuple>";
    assert_eq!(p(&wrap(bad_basic)), Err(PidfError::InvalidBasic));
    let twice = format!("{}{}", tuple_xml("a"), tuple_xml("a"));
    assert_eq!(
        p(&wrap(&twice)),
        Err(PidfError::DuplicateTupleId { id: "a".into() })
    );
}

#[test]
fn malformed_xml_is_refused_with_a_position() {
    for body in [
        wrap("<tuple id='a'>"),
        wrap("<note>x</nope>"),
        format!("{}<presence/>", wrap("")),
        format!("{} trailing", wrap("")),
        wrap("<note>&nbsp;</note>"),
        wrap("<note>&#1;</note>"),
        wrap("<note>a & b</note>"),
        wrap("<note>\u{1}</note>"),
        wrap("<!-- a -- b -->"),
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='&bogus;'/>".into(),
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a' entity='b'/>".into(),
        "<!DOCTYPE p [<!ENTITY x 'boom'>]><presence xmlns='urn:ietf:params:xml:ns:pidf' \
         entity='e'><note>&x;</note></presence>"
            .into(),
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='e'".into(),
    ] {
        let got = p(&body);
        assert!(
            matches!(got, Err(PidfError::Malformed { .. })),
            "{body:?}: {got:?}"
        );
    }
}

#[test]
fn a_body_that_is_not_utf8_is_malformed_where_it_stops_being_utf8() {
    let mut body = wrap("<note>caf").into_bytes();
    let at = body.len() as u64;
    body.extend_from_slice(b"\xe9</note>");
    assert_eq!(parse(&body), Err(PidfError::Malformed { at }));
}

#[test]
fn unknown_elements_and_wrong_namespaces_are_passed_over() {
    let body = wrap(
        "<tuple id='a'><status><basic>open</basic><x:y xmlns:x='urn:x'><basic>closed</basic>\
         </x:y></status><dm:note>not a tuple note</dm:note><contact/></tuple>\
         <rpid:note>no</rpid:note><dm:person id='q'><note>pidf note in a person</note>\
         <rpid:activities><dm:busy/><rpid:away><rpid:busy/></rpid:away>text</rpid:activities>\
         </dm:person><deep><a><b><c><note>x</note></c></b></a></deep>",
    );
    let doc = p(&body).unwrap();
    assert_eq!(doc.tuples[0].basic, Basic::Open);
    assert_eq!(
        (doc.tuples[0].note.as_ref(), doc.tuples[0].contact.as_ref()),
        (None, None)
    );
    assert!(doc.notes.is_empty(), "{:?}", doc.notes);
    assert_eq!(doc.activities, [Activity::Away]);
}

#[test]
fn error_texts_are_short_reason_phrases() {
    assert_eq!(PidfError::NotPidf.to_string(), "not a PIDF document");
    assert_eq!(
        PidfError::TupleWithoutStatus { id: "x".into() }.to_string(),
        "tuple without status"
    );
    assert_eq!(PidfError::TooManyTuples.to_string(), "too many tuples");
    assert_eq!(
        PidfError::NoteTooLong { chars: 2000 }.to_string(),
        "note too long"
    );
    assert_eq!(
        PidfError::Malformed { at: 17 }.to_string(),
        "malformed XML at byte 17"
    );
}
