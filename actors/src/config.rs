//! Configuration: embedded defaults, an optional TOML file over them, flags over both.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use switchboard_engine::numbering::{NumberFormat, NumberingPlan, Provider};

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sip: Sip,
    pub http: Http,
    pub data: Data,
    pub auth: Auth,
    pub numbering: Numbering,
    pub registrar: Registrar,
    pub calls: Calls,
    pub tcp: Tcp,
    pub limits: Limits,
    pub extension: Extension,
    pub store: Store,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    pub listen: SocketAddr,
    pub domain: String,
    pub workers: usize,
    pub receive_batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub enabled: bool,
    pub nonce_lifetime_secs: u64,
    pub algorithms: Vec<String>,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registrar {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    pub ring_timeout_secs: u64,
    pub max_idle_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    pub max_connections: usize,
    pub max_per_source: usize,
    pub idle_timeout_secs: u64,
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub per_source_rate: u32,
    pub per_source_burst: u32,
    pub exempt: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub idle_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub flush_every_ms: u64,
    pub cache_capacity_mb: u64,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("invalid config value {key}: {message}")]
    Value { key: &'static str, message: String },
}

impl Config {
    /// The numbering plan the `[numbering]` section describes.
    pub fn numbering_plan(&self) -> Result<NumberingPlan, ConfigError> {
        let n = &self.numbering;
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
        Ok(plan)
    }

    /// The embedded defaults, optionally overlaid with a TOML file.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut base: toml::Table =
            DEFAULT_TOML
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: "embedded defaults".into(),
                    message: e.to_string(),
                })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let over: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        origin: path.display().to_string(),
                        message: e.to_string(),
                    })?;
            merge(&mut base, over);
        }
        let origin = file.map_or("embedded defaults".to_owned(), |p| p.display().to_string());
        let config: Config =
            toml::Value::Table(base)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin,
                    message: e.to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let r = &self.registrar;
        if r.min_expires == 0 || r.min_expires > r.max_expires {
            return Err(ConfigError::Value {
                key: "registrar.min_expires",
                message: "must be at least 1 and at most max_expires".into(),
            });
        }
        if r.max_contacts == 0 {
            return Err(ConfigError::Value {
                key: "registrar.max_contacts",
                message: "must be at least 1".into(),
            });
        }
        self.numbering_plan()?;
        if self.sip.domain.is_empty() || self.sip.domain.contains(['"', ' ', '<', '>']) {
            return Err(ConfigError::Value {
                key: "sip.domain",
                message: "must be a host name".into(),
            });
        }
        if self.algorithms().is_empty() || self.algorithms().len() != self.auth.algorithms.len() {
            return Err(ConfigError::Value {
                key: "auth.algorithms",
                message: "must list \"SHA-256\" and/or \"MD5\"".into(),
            });
        }
        for net in &self.limits.exempt {
            parse_cidr(net).ok_or_else(|| ConfigError::Value {
                key: "limits.exempt",
                message: format!("{net:?} is not an address/prefix"),
            })?;
        }
        Ok(())
    }

    /// Signalling workers to run.
    pub fn worker_count(&self) -> usize {
        if self.sip.workers > 0 {
            self.sip.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// The configured digest algorithms, in order of preference.
    pub fn algorithms(&self) -> Vec<switchboard_engine::sip::digest::Algorithm> {
        self.auth
            .algorithms
            .iter()
            .filter_map(|a| switchboard_engine::sip::digest::Algorithm::parse(Some(a)))
            .collect()
    }

    pub fn nonce_lifetime(&self) -> Duration {
        Duration::from_secs(self.auth.nonce_lifetime_secs)
    }

    pub fn policy(&self) -> switchboard_engine::registrar::Policy {
        switchboard_engine::registrar::Policy {
            min_expires: self.registrar.min_expires,
            max_expires: self.registrar.max_expires,
            default_expires: self.registrar.default_expires,
            max_contacts: self.registrar.max_contacts,
        }
    }
}

/// Overlays `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `a.b.c.d/n` or `x::y/n` (a bare address is a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.trim().parse::<u8>().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((ip, len))
}

/// Whether `ip` is inside `net`.
pub fn cidr_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    match (net.0, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u32::MAX << (32 - net.1)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if net.1 == 0 {
                0
            } else {
                u128::MAX << (128 - net.1)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_and_validate() {
        let c = Config::load(None).unwrap();
        assert_eq!(c.sip.listen, "127.0.0.1:5060".parse().unwrap());
        assert!(c.auth.enabled);
        assert!(c.worker_count() >= 1);
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[sip]\nlisten = \"127.0.0.1:5999\"\n[registrar]\nmin_expires = 30\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.sip.listen.port(), 5999);
        assert_eq!(c.sip.domain, "switchboard.local");
        assert_eq!(c.registrar.min_expires, 30);
        assert_eq!(c.registrar.max_expires, 7200);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let dir = std::env::temp_dir().join(format!("sb-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, "[sip]\nlisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        std::fs::write(&f, "[numbering]\ndefault_country = \"ZZ\"\n").unwrap();
        let e = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(e.contains("numbering.default_country"), "{e}");
        let e = Config::load(Some(&dir.join("missing.toml")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read config file"), "{e}");
    }

    #[test]
    fn cidr_matching() {
        let net = parse_cidr("127.0.0.0/8").unwrap();
        assert!(cidr_contains(net, "127.1.2.3".parse().unwrap()));
        assert!(!cidr_contains(net, "10.0.0.1".parse().unwrap()));
        assert!(cidr_contains(
            parse_cidr("::1").unwrap(),
            "::1".parse().unwrap()
        ));
        assert!(parse_cidr("1.2.3.4/33").is_none());
    }

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
        ] {
            std::fs::write(&f, text).unwrap();
            let e = Config::load(Some(&f)).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
