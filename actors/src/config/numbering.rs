//! `[numbering]`: the default country, our ranges, other providers, the directory and the
//! enterprise branches, built into the engine's `NumberingPlan`.

use std::collections::BTreeMap;

use serde::Deserialize;
use switchboard_engine::numbering::{Branch, NumberFormat, NumberingPlan, Provider};

use super::error::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numbering {
    pub default_country: String,
    /// E.164 prefixes of our own number ranges; empty: every number is ours.
    #[serde(default)]
    pub own_ranges: Vec<String>,
    /// Other providers' number ranges.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Domain names and e-mail addresses, and the numbers they reach.
    #[serde(default)]
    pub directory: BTreeMap<String, String>,
    /// Which subscriber or trunk answers an enterprise number in each country.
    #[serde(default)]
    pub branches: Vec<BranchConfig>,
}

/// `[[numbering.branches]]`: the branch answering `local#country`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchConfig {
    pub local: String,
    pub country: u16,
    #[serde(default)]
    pub subscriber: Option<String>,
    #[serde(default)]
    pub trunk: Option<String>,
}

/// `[[numbering.providers]]`: another provider's ranges and how it wants numbers written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub prefixes: Vec<String>,
    #[serde(default)]
    pub national: bool,
    #[serde(default)]
    pub strip_plus: bool,
    #[serde(default)]
    pub prefix: String,
}

impl Numbering {
    /// The numbering plan this section describes.
    pub fn plan(&self) -> Result<NumberingPlan, ConfigError> {
        let n = self;
        let plan = NumberingPlan::new(&n.default_country).map_err(|_| ConfigError::Value {
            key: "numbering.default_country",
            message: format!("unknown country {:?}", n.default_country),
        })?;
        let e164_prefix = |p: &String| {
            p.strip_prefix('+').is_some_and(|d| {
                (1..=15).contains(&d.len()) && d.bytes().all(|c| c.is_ascii_digit())
            })
        };
        if let Some(bad) = n.own_ranges.iter().find(|p| !e164_prefix(p)) {
            return Err(ConfigError::Value {
                key: "numbering.own_ranges",
                message: format!("{bad:?} is not an E.164 prefix such as \"+8211\""),
            });
        }
        let mut plan = plan.with_own_ranges(n.own_ranges.clone());
        for p in &n.providers {
            let name_ok = !p.name.is_empty()
                && p.name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'));
            if !name_ok {
                return Err(ConfigError::Value {
                    key: "numbering.providers.name",
                    message: format!("{:?} must be letters, digits, - and _", p.name),
                });
            }
            if p.prefixes.is_empty() || !p.prefixes.iter().all(e164_prefix) {
                return Err(ConfigError::Value {
                    key: "numbering.providers.prefixes",
                    message: format!("provider {}: E.164 prefixes such as \"+8270\"", p.name),
                });
            }
            if !p.prefix.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::Value {
                    key: "numbering.providers.prefix",
                    message: format!("provider {}: digits only", p.name),
                });
            }
            plan = plan.with_provider(Provider {
                name: p.name.clone(),
                prefixes: p.prefixes.clone(),
                format: NumberFormat {
                    national: p.national,
                    strip_plus: p.strip_plus,
                    prefix: p.prefix.clone(),
                },
            });
        }
        for (address, number) in &n.directory {
            plan = plan
                .with_directory_entry(address, number)
                .map_err(|e| ConfigError::Value {
                    key: "numbering.directory",
                    message: format!("{address:?}: {e}"),
                })?;
        }
        for b in &n.branches {
            let bad = |message: String| ConfigError::Value {
                key: "numbering.branches",
                message,
            };
            let local_ok = b.local.chars().filter(char::is_ascii_digit).count() >= 4
                && b.local
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '.'));
            if !local_ok {
                return Err(bad(format!("local {:?}: four or more digits", b.local)));
            }
            let branch = match (&b.subscriber, &b.trunk) {
                (Some(s), None) => Branch::Subscriber(
                    plan.canonical(s)
                        .map_err(|_| bad(format!("subscriber {s:?} is not a number or name")))?,
                ),
                (None, Some(t)) => Branch::Trunk(t.clone()),
                _ => return Err(bad(format!("{}: give subscriber or trunk", b.local))),
            };
            plan = plan
                .with_branch(&b.local, b.country, branch)
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_numbering_plan_reads_own_ranges_and_providers() {
        use switchboard_engine::numbering::{Aor, Destination};
        let dir = std::env::temp_dir().join(format!("sb-config-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("plan.toml");
        std::fs::write(
            &f,
            "[numbering]\nown_ranges = [\"+8211\"]\n\
             [[numbering.providers]]\nname = \"kt\"\nprefixes = [\"+8270\"]\nstrip_plus = true\nprefix = \"9\"\n",
        )
        .unwrap();
        let plan = Config::load(Some(&f)).unwrap().numbering_plan().unwrap();
        assert_eq!(
            plan.classify("011-123-4567"),
            Ok(Destination::Subscriber(Aor::from_canonical("+82111234567")))
        );
        assert_eq!(
            plan.classify("02-6200-6200"),
            Ok(Destination::Pstn(Aor::from_canonical("+82262006200")))
        );
        assert!(matches!(
            plan.classify("070-1234-5678"),
            Ok(Destination::Provider { dial, .. }) if dial == "9827012345678"
        ));

        for (text, key) in [
            (
                "[numbering]\nown_ranges = [\"8211\"]\n",
                "numbering.own_ranges",
            ),
            (
                "[[numbering.providers]]\nname = \"k t\"\nprefixes = [\"+8270\"]\n",
                "numbering.providers.name",
            ),
            (
                "[[numbering.providers]]\nname = \"kt\"\nprefixes = []\n",
                "numbering.providers.prefixes",
            ),
            (
                "[[numbering.providers]]\nname = \"kt\"\nprefixes = [\"+8270\"]\nprefix = \"#9\"\n",
                "numbering.providers.prefix",
            ),
            (
                "[numbering.directory]\n\"kim@acme.example\" = \"sip:x@y\"\n",
                "numbering.directory",
            ),
            (
                "[[numbering.branches]]\nlocal = \"62\"\ncountry = 82\nsubscriber = \"1001\"\n",
                "numbering.branches",
            ),
            (
                "[[numbering.branches]]\nlocal = \"6200-6200\"\ncountry = 82\n",
                "numbering.branches",
            ),
        ] {
            std::fs::write(&f, text).unwrap();
            let e = Config::load(Some(&f)).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn the_directory_and_branches_are_read() {
        use switchboard_engine::numbering::{Aor, Destination};
        let dir = std::env::temp_dir().join(format!("sb-config-tables-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("tables.toml");
        std::fs::write(
            &f,
            "[numbering.directory]\n\"kim@acme.example\" = \"011-123-4567\"\n\
             [[numbering.branches]]\nlocal = \"6200-6200\"\ncountry = 82\nsubscriber = \"1001\"\n\
             [[numbering.branches]]\nlocal = \"6200-6200\"\ncountry = 1\ntrunk = \"us-branch\"\n",
        )
        .unwrap();
        let plan = Config::load(Some(&f)).unwrap().numbering_plan().unwrap();
        assert_eq!(
            plan.resolve(plan.classify("kim@acme.example").unwrap()),
            Destination::Subscriber(Aor::from_canonical("+82111234567"))
        );
        assert_eq!(
            plan.branch("62006200", 1),
            Some(&Branch::Trunk("us-branch".into()))
        );
        assert_eq!(
            plan.subscriber_of(&plan.classify("6200-6200#082").unwrap()),
            Some(Aor::from_canonical("1001"))
        );
    }
}
