use super::*;
use crate::numbering::NumberingPlan;

fn closed() -> NumberingPlan {
    NumberingPlan::new("KR").unwrap()
}

/// A carrier plan: our range is +8211, provider "kt" owns +8270 and wants national digits
/// behind a 9, everything else valid goes to the PSTN.
fn carrier() -> NumberingPlan {
    closed()
        .with_own_ranges(vec!["+8211".into()])
        .with_provider(Provider {
            name: "kt".into(),
            prefixes: vec!["+8270".into()],
            format: NumberFormat {
                national: true,
                strip_plus: false,
                prefix: "9".into(),
            },
        })
}

fn sub(s: &str) -> Destination {
    Destination::Subscriber(Aor::from_canonical(s))
}

fn pstn(s: &str) -> Destination {
    Destination::Pstn(Aor::from_canonical(s))
}

#[test]
fn subscribers_in_every_spelling() {
    let plan = carrier();
    for input in [
        "011-123-4567",
        "0111234567",
        "+82 11 123 4567",
        "+82-11-123-4567",
        "(011) 123.4567",
        "tel:+82-11-123-4567",
        "tel:011-123-4567;phone-context=+82",
        "0082 11 123 4567",
        "00182111234567",
        "  0111234567  ",
    ] {
        assert_eq!(plan.classify(input), Ok(sub("+82111234567")), "{input}");
    }
    assert_eq!(plan.classify("1001"), Ok(sub("1001")));
    assert_eq!(plan.classify("Alice"), Ok(sub("alice")));
    assert_eq!(plan.classify("front-desk_2"), Ok(sub("front-desk_2")));
}

#[test]
fn pstn_providers_and_the_closed_plan() {
    let plan = carrier();
    assert_eq!(plan.classify("02-6200-6200"), Ok(pstn("+82262006200")));
    assert_eq!(plan.classify("+1 212 555 1234"), Ok(pstn("+12125551234")));
    assert_eq!(
        plan.classify("001 1 212 555 1234"),
        Ok(pstn("+12125551234"))
    );
    assert_eq!(plan.classify("010-1234-5678"), Ok(pstn("+821012345678")));
    assert_eq!(
        plan.classify("070-1234-5678"),
        Ok(Destination::Provider {
            provider: "kt".into(),
            e164: Aor::from_canonical("+827012345678"),
            dial: "907012345678".into(),
        })
    );
    // without ranges every number is on-net, and a number no country knows can still be an
    // account
    assert_eq!(closed().classify("02-6200-6200"), Ok(sub("+82262006200")));
    assert_eq!(carrier().classify("+82 99 1"), Err(ClassifyError::Invalid));
}

#[test]
fn provider_formats() {
    let f = |national, strip_plus, prefix: &str| NumberFormat {
        national,
        strip_plus,
        prefix: prefix.into(),
    };
    assert_eq!(f(false, false, "").apply("+827012345678"), "+827012345678");
    assert_eq!(f(false, true, "").apply("+827012345678"), "827012345678");
    assert_eq!(
        f(false, true, "00").apply("+827012345678"),
        "00827012345678"
    );
    assert_eq!(f(true, false, "").apply("+827012345678"), "07012345678");
}

#[test]
fn personal_numbers_carry_area_local_and_country() {
    let plan = carrier();
    assert_eq!(
        plan.classify("02-6200-6200-082"),
        Ok(Destination::Personal {
            country: 82,
            area: "02".into(),
            local: "62006200".into(),
            e164: Aor::from_canonical("+82262006200"),
        })
    );
    assert_eq!(
        plan.classify("02 6200 6200 082"),
        plan.classify("02.6200.6200.082")
    );
    // New York 0212? No trunk prefix there: an area without the 0 of its country is refused
    assert_eq!(
        plan.classify("212-555-1234-001"),
        Err(ClassifyError::Invalid)
    );
    // the country must exist and the area + local must be a number there
    assert_eq!(
        plan.classify("02-6200-6200-099"),
        Err(ClassifyError::Invalid)
    );
    assert_eq!(plan.classify("02-62-082"), Err(ClassifyError::Invalid));
    // a valid national number wins over the personal reading of its last group
    assert_eq!(plan.classify("010-1234-0886"), Ok(pstn("+821012340886")));
}

#[test]
fn enterprise_numbers() {
    let plan = carrier();
    let e = |local: &str, country| Destination::Enterprise {
        local: local.into(),
        country,
    };
    assert_eq!(plan.classify("6200-6200#082"), Ok(e("62006200", 82)));
    assert_eq!(plan.classify("6200 6200#001"), Ok(e("62006200", 1)));
    assert_eq!(plan.classify("62006200#0886"), Ok(e("62006200", 886)));
    for bad in [
        "6200-6200#82",
        "6200-6200#099",
        "62#082",
        "6200#082#082",
        "abcd#082",
        "#082",
    ] {
        assert_eq!(plan.classify(bad), Err(ClassifyError::Invalid), "{bad}");
    }
}

#[test]
fn domains_and_email_addresses_go_to_the_directory() {
    let plan = carrier();
    assert_eq!(
        plan.classify("Kim@Acme.Example"),
        Ok(Destination::Directory {
            user: Some("kim".into()),
            domain: "acme.example".into(),
        })
    );
    assert_eq!(
        plan.classify("acme.example"),
        Ok(Destination::Directory {
            user: None,
            domain: "acme.example".into(),
        })
    );
    assert_eq!(
        plan.classify("kim.lee+work@mail.acme.example").map(|_| ()),
        Ok(())
    );
    for bad in [
        "kim@acme",
        "kim@-acme.example",
        "kim@acme..example",
        "@acme.example",
        "kim@@acme.example",
        "kim@acme.123",
        "kim..lee@acme.example",
    ] {
        assert_eq!(plan.classify(bad), Err(ClassifyError::Invalid), "{bad}");
    }
}

#[test]
fn feature_codes() {
    let plan = carrier();
    let set = |kind, target| {
        Ok(Destination::Feature(Feature::SetForward {
            kind,
            target: Box::new(target),
        }))
    };
    assert_eq!(
        plan.classify("*720111234567"),
        set(ForwardKind::Always, sub("+82111234567"))
    );
    assert_eq!(
        plan.classify("*72 1001"),
        set(ForwardKind::Always, sub("1001"))
    );
    assert_eq!(
        plan.classify("*9002-6200-6200"),
        set(ForwardKind::Busy, pstn("+82262006200"))
    );
    assert_eq!(
        plan.classify("*92alice"),
        set(ForwardKind::NoAnswer, sub("alice"))
    );
    assert_eq!(
        plan.classify("*73"),
        Ok(Destination::Feature(Feature::ClearForward(
            ForwardKind::Always
        )))
    );
    assert_eq!(
        plan.classify("*91"),
        Ok(Destination::Feature(Feature::ClearForward(
            ForwardKind::Busy
        )))
    );
    assert_eq!(
        plan.classify("*93"),
        Ok(Destination::Feature(Feature::ClearForward(
            ForwardKind::NoAnswer
        )))
    );
    assert_eq!(
        plan.classify("*97"),
        Ok(Destination::Feature(Feature::Voicemail))
    );
    // the mailbox as a target: busy and unanswered calls (or all of them) to voicemail
    let mailbox = Destination::Feature(Feature::Voicemail);
    assert_eq!(
        plan.classify("*90*97"),
        set(ForwardKind::Busy, mailbox.clone())
    );
    assert_eq!(
        plan.classify("*92 *97"),
        set(ForwardKind::NoAnswer, mailbox.clone())
    );
    assert_eq!(plan.classify("*72*97"), set(ForwardKind::Always, mailbox));
    assert_eq!(plan.classify("*91*97"), Err(ClassifyError::UnknownFeature));
    assert_eq!(plan.classify("*72"), Err(ClassifyError::FeatureTarget));
    assert_eq!(plan.classify("*72*73"), Err(ClassifyError::FeatureTarget));
    assert_eq!(
        plan.classify("*72 not a number!"),
        Err(ClassifyError::BadCharacter)
    );
    assert_eq!(plan.classify("*731001"), Err(ClassifyError::UnknownFeature));
    assert_eq!(plan.classify("*55"), Err(ClassifyError::UnknownFeature));
    assert_eq!(plan.classify("*"), Err(ClassifyError::UnknownFeature));
}

#[test]
fn the_grammar_is_closed() {
    let plan = carrier();
    assert_eq!(plan.classify(""), Err(ClassifyError::Empty));
    assert_eq!(plan.classify("   "), Err(ClassifyError::Empty));
    assert_eq!(plan.classify(&"1".repeat(65)), Err(ClassifyError::TooLong));
    assert_eq!(
        plan.classify("012345678901234567"),
        Err(ClassifyError::TooLong)
    );
    for injection in [
        "1001;transport=tcp",
        "1001?Route=<sip:evil.example>",
        "1001@evil.example;lr",
        "alice\r\nVia: SIP/2.0/UDP evil",
        "alice<sip:evil.example>",
        "1001%40evil.example",
        "alice,bob",
        "al\u{0}ice",
        "ąlice",
        "'; DROP TABLE accounts; --",
        "tel:+82111234567;ext=1?x=y",
    ] {
        assert_eq!(
            plan.classify(injection),
            Err(ClassifyError::BadCharacter),
            "{injection:?}"
        );
    }
    for invalid in [
        "+",
        "++82111234567",
        "0111234567+",
        "1-800-FLOWERS",
        "x1234.5",
    ] {
        assert!(plan.classify(invalid).is_err(), "{invalid}");
    }
    // errors never echo what was dialed
    assert!(!ClassifyError::Invalid.to_string().contains("0111234567"));
}

#[test]
fn request_uris() {
    let plan = carrier();
    let ours = |h: &str| h == "sb.test" || h == "127.0.0.1";
    let c = |u: &str| plan.classify_uri(&Uri::parse(u).unwrap(), ours);
    assert_eq!(c("sip:011-123-4567@sb.test"), Ok(sub("+82111234567")));
    assert_eq!(
        c("sip:%2B82%2011%20123%204567@127.0.0.1;user=phone"),
        Ok(sub("+82111234567"))
    );
    assert_eq!(c("tel:+82-11-123-4567"), Ok(sub("+82111234567")));
    assert!(
        Uri::parse("sip:*72 1001@sb.test").is_err(),
        "no unescaped space in a URI"
    );
    assert_eq!(
        c("sip:%2A721001@sb.test"),
        Ok(Destination::Feature(Feature::SetForward {
            kind: ForwardKind::Always,
            target: Box::new(sub("1001")),
        }))
    );
    assert_eq!(
        c("sip:Kim@Acme.Example"),
        Ok(Destination::Directory {
            user: Some("kim".into()),
            domain: "acme.example".into(),
        })
    );
    assert_eq!(
        c("sip:acme.example"),
        Ok(Destination::Directory {
            user: None,
            domain: "acme.example".into(),
        })
    );
    assert_eq!(c("sip:sb.test"), Err(ClassifyError::Empty));
    assert_eq!(c("sip:kim@10.0.0.1"), Err(ClassifyError::Invalid));
    assert_eq!(
        c("sip:1001%3Btransport=tcp@sb.test"),
        Err(ClassifyError::BadCharacter)
    );
}
