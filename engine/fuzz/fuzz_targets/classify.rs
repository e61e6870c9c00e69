//! The numbering plan's classifier on arbitrary input: it must answer (a destination or an
//! error) without panicking, and every text in a destination must be made of the grammar's
//! characters only, so no URI syntax (`;`, `?`, `<`, `@` in a number, line breaks) can pass
//! through into routing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::numbering::{Destination, Feature, NumberFormat, NumberingPlan, Provider};

fn texts(d: &Destination) -> Vec<&str> {
    match d {
        Destination::Subscriber(a) | Destination::Pstn(a) => vec![a.as_str()],
        Destination::Personal {
            area, local, e164, ..
        } => vec![area, local, e164.as_str()],
        Destination::Enterprise { local, .. } => vec![local],
        Destination::Provider {
            provider: _,
            e164,
            dial,
        } => vec![e164.as_str(), dial],
        Destination::Directory { user, domain } => {
            let mut v = vec![domain.as_str()];
            v.extend(user.as_deref());
            v
        }
        Destination::Feature(Feature::SetForward { target, .. }) => texts(target),
        Destination::Feature(_) => vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let plan = NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()])
        .with_provider(Provider {
            name: "kt".into(),
            prefixes: vec!["+8270".into()],
            format: NumberFormat::default(),
        });
    if let Ok(d) = plan.classify(s) {
        for t in texts(&d) {
            assert!(
                !t.is_empty()
                    && t.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"+._-".contains(&c)),
                "{t:?} in {d:?}"
            );
        }
    }
});
