//! From TOML text to a validated [`Scenario`]: each section is read, range-checked where it is
//! read, then checked against the others (users needed, phase names, closed loops).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::read::{Doc, Res, Tbl};
use super::*;

const LOAD_KEYS: [&str; 3] = ["rate", "concurrency", "ramp_secs"];
/// Ten days: longer durations are typing mistakes.
pub(super) const MAX_SECS: f64 = 864_000.0;

pub(super) fn scenario(
    text: &str,
    read_csv: impl FnOnce(&Path) -> Result<String, String>,
) -> Res<Scenario> {
    let doc = Doc::new(text);
    let parsed = doc.parse()?;
    let root = Tbl::root(
        &doc,
        parsed.as_table(),
        &[
            "name",
            "description",
            "seed",
            "target",
            "domain",
            "population",
            "behaviours",
            "phases",
            "thresholds",
        ],
    )?;
    let name = root.required("name", root.str("name")?)?;
    if name.trim().is_empty() {
        return Err(root.err("name", "must not be empty"));
    }
    let seed = root.required("seed", root.int_in("seed", 0, i64::MAX)?)? as u64;
    let target = root.str("target")?;
    if let Some(t) = &target {
        check_target(t).map_err(|m| root.err("target", m))?;
    }
    let population = population(&root, read_csv)?;
    let phases = phases(&root)?;
    let behaviours = behaviours(&root, &population, &phases)?;
    let thresholds = thresholds(&root, &behaviours)?;
    Ok(Scenario {
        name,
        description: root.str("description")?.unwrap_or_default(),
        seed,
        target,
        domain: root.str("domain")?,
        population,
        behaviours,
        phases,
        thresholds,
    })
}

fn check_target(t: &str) -> Result<(), String> {
    let bad = || format!("expected host:port, found `{t}`");
    let (host, port) = t.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || !matches!(port.parse::<u16>(), Ok(p) if p != 0) {
        return Err(bad());
    }
    Ok(())
}

pub(super) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn population(
    root: &Tbl<'_>,
    read_csv: impl FnOnce(&Path) -> Result<String, String>,
) -> Res<Population> {
    let p = root.table(
        "population",
        &[
            "count",
            "first",
            "csv",
            "password",
            "devices",
            "register_expires_secs",
            "refresh",
            "register_first",
            "register_first_rate",
            "offline_users",
        ],
    )?;
    let p = root.required("population", p)?;
    let csv = p.str("csv")?;
    let mut count = p.u32_in("count", 1, 10_000_000)?;
    let (mut first, mut password, mut accounts) = (String::new(), String::new(), Vec::new());
    if let Some(csv) = &csv {
        for key in ["first", "password"] {
            if p.keys().contains(&key) {
                return Err(p.err(key, "not allowed with `csv` (the CSV gives them)"));
            }
        }
        let text = read_csv(Path::new(csv)).map_err(|m| p.err("csv", m))?;
        accounts = csv_accounts(&text).map_err(|(n, m)| p.err("csv", format!("{csv}:{n}: {m}")))?;
        if accounts.is_empty() {
            return Err(p.err("csv", format!("{csv} has no accounts")));
        }
        match count {
            Some(c) if c as usize > accounts.len() => {
                let n = accounts.len();
                return Err(p.err("count", format!("{c} users but {csv} has {n} accounts")));
            }
            Some(c) => accounts.truncate(c as usize),
            None => count = Some(accounts.len().min(10_000_000) as u32),
        }
    } else {
        first = p.required("first", p.str("first")?)?;
        password = p.required("password", p.str("password")?)?;
    }
    let count = p.required("count", count)?;
    if csv.is_none() {
        check_first(&first, count).map_err(|m| p.err("first", m))?;
    }
    let devices = p.u32_in("devices", 1, 1000)?.unwrap_or(1);
    let expires = p
        .u32_in("register_expires_secs", 1, 86_400 * 7)?
        .unwrap_or(3600);
    let refresh = p.f64_in("refresh", 0.0, 1.0)?.unwrap_or(0.5);
    if refresh == 0.0 {
        return Err(p.err("refresh", "must be above 0 (a share of the expiry)"));
    }
    let offline_users = p.u32_in("offline_users", 0, u32::MAX)?.unwrap_or(0);
    if offline_users >= count {
        let m = format!("{offline_users} offline users leave none online of {count}");
        return Err(p.err("offline_users", m));
    }
    Ok(Population {
        count,
        first,
        csv: csv.map(PathBuf::from),
        accounts,
        password,
        devices,
        register_expires: Duration::from_secs(expires.into()),
        refresh,
        register_first: p.bool("register_first")?.unwrap_or(true),
        register_first_rate: p
            .u32_in("register_first_rate", 200, 100_000)?
            .unwrap_or(2_000),
        offline_users,
    })
}

/// `first` is `+`? digits, and `first + count - 1` keeps its width.
fn check_first(first: &str, count: u32) -> Result<(), String> {
    let digits = first.strip_prefix('+').unwrap_or(first);
    if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected digits with an optional leading +, found `{first}`"
        ));
    }
    // at most 30 digits: fits u128
    let base: u128 = digits
        .parse()
        .map_err(|_| format!("bad number `{first}`"))?;
    let last = base + u128::from(count) - 1;
    if last.to_string().len() > digits.len() {
        return Err(format!(
            "{count} users from {first} run past {} digits (last would be {last})",
            digits.len()
        ));
    }
    Ok(())
}

/// `number,password` lines; blank lines, `#` comments and a `number,password` header skipped.
/// Errors carry the 1-based CSV line.
fn csv_accounts(text: &str) -> Result<Vec<Account>, (usize, String)> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line == "number,password") {
            continue;
        }
        let bad = || (i + 1, format!("expected `number,password`, found `{line}`"));
        let (number, password) = line.split_once(',').ok_or_else(bad)?;
        let (number, password) = (number.trim(), password.trim());
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || password.is_empty() {
            return Err(bad());
        }
        if !seen.insert(number.to_string()) {
            return Err((i + 1, format!("number {number} listed twice")));
        }
        out.push(Account {
            number: number.into(),
            password: password.into(),
        });
    }
    Ok(out)
}

fn phases(root: &Tbl<'_>) -> Res<Vec<Phase>> {
    let known = ["name", "duration_secs", "factor", "ramp_to", "behaviours"];
    let tables = root.tables("phases", &known)?;
    if tables.is_empty() {
        return Err(root.err("phases", "at least one phase is needed ([[phases]])"));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for t in &tables {
        let name = t.required("name", t.str("name")?)?;
        if name.is_empty() || !names.insert(name.clone()) {
            return Err(t.err(
                "name",
                format!("phase names must be unique and not empty: `{name}`"),
            ));
        }
        let duration = t.required("duration_secs", t.f64_in("duration_secs", 0.0, MAX_SECS)?)?;
        if duration == 0.0 {
            return Err(t.err("duration_secs", "must be above 0"));
        }
        let behaviours = match t.strs("behaviours")? {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|s| {
                        Behaviour::from_name(s).ok_or_else(|| {
                            t.err(
                                "behaviours",
                                format!("unknown behaviour `{s}`, expected {}", behaviour_names()),
                            )
                        })
                    })
                    .collect::<Res<Vec<_>>>()?,
            ),
        };
        out.push(Phase {
            name,
            duration: secs(duration),
            factor: t.f64_in("factor", 0.0, 1e6)?.unwrap_or(1.0),
            ramp_to: t.f64_in("ramp_to", 0.0, 1e6)?,
            behaviours,
        });
    }
    Ok(out)
}

fn behaviour_names() -> String {
    let names: Vec<&str> = Behaviour::ALL.iter().map(|b| b.name()).collect();
    names.join(", ")
}

/// `rate` xor `concurrency`, and `ramp_secs`; `None` when neither is given. `open_only`: a
/// closed loop is refused (its draws cannot follow offline users coming online).
fn load(t: &Tbl<'_>, open_only: bool) -> Res<Option<Load>> {
    let rate = t.f64("rate")?;
    let concurrency = t.u32_in("concurrency", 1, 1_000_000)?;
    let ramp = secs(t.f64_in("ramp_secs", 0.0, MAX_SECS)?.unwrap_or(0.0));
    let drive = match (rate, concurrency) {
        (Some(_), Some(_)) => {
            return Err(t.err("concurrency", "give `rate` or `concurrency`, not both"));
        }
        (Some(r), None) if r <= 0.0 || r > 1e6 => {
            return Err(t.err(
                "rate",
                format!("must be above 0 and at most 1000000 per second, found {r}"),
            ));
        }
        (Some(r), None) => Drive::Rate(r),
        (None, Some(_)) if open_only => {
            let m = "closed loops cannot be combined with include_offline_from_phase: use `rate`";
            return Err(t.err("concurrency", m));
        }
        (None, Some(c)) => Drive::Concurrency(c),
        (None, None) => return Ok(None),
    };
    Ok(Some(Load { drive, ramp }))
}

/// A load that must be there.
fn driven(t: &Tbl<'_>, open_only: bool) -> Res<Load> {
    let l = load(t, open_only)?;
    l.ok_or_else(|| t.err("rate", "missing: give `rate` (per second) or `concurrency`"))
}

fn keys<'k>(extra: &[&'k str]) -> Vec<&'k str> {
    LOAD_KEYS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

pub(super) fn between_ms(t: &Tbl<'_>, key: &str, default: [u64; 2]) -> Res<Between> {
    let [lo, hi] = t
        .pair(key)?
        .unwrap_or([default[0] as f64, default[1] as f64]);
    if hi > MAX_SECS * 1000.0 {
        return Err(t.err(key, format!("{hi} ms is too long")));
    }
    Ok(Between {
        min: secs(lo / 1000.0),
        max: secs(hi / 1000.0),
    })
}

/// `n` distinct online users are needed for `what`.
/// `key` `None`: the error names the behaviour's table.
pub(super) fn need_users(
    t: &Tbl<'_>,
    key: Option<&str>,
    pop: &Population,
    n: u64,
    what: &str,
) -> Res<()> {
    let online = u64::from(pop.online_users());
    if n > online {
        let m = format!("{what} needs {n} online users, the population has {online}");
        return Err(match key {
            Some(k) => t.err(k, m),
            None => ScenarioError {
                line: t.line,
                field: t.path.clone(),
                message: m,
            },
        });
    }
    Ok(())
}

fn behaviours(root: &Tbl<'_>, pop: &Population, phases: &[Phase]) -> Res<Behaviours> {
    let names: Vec<&str> = Behaviour::ALL.iter().map(|b| b.name()).collect();
    let b = root.required("behaviours", root.table("behaviours", &names)?)?;
    let mut out = Behaviours::default();
    let mut open_only = false;
    if let Some(t) = b.table(
        "register",
        &keys(&["include_offline_from_phase", "include_offline_secs"]),
    )? {
        let from = match t.str("include_offline_from_phase")? {
            None => None,
            Some(name) => {
                let Some(i) = phases.iter().position(|p| p.name == name) else {
                    return Err(t.err(
                        "include_offline_from_phase",
                        format!("no phase named `{name}`"),
                    ));
                };
                if pop.offline_users == 0 {
                    return Err(t.err(
                        "include_offline_from_phase",
                        "population.offline_users is 0: nobody to bring online",
                    ));
                }
                Some(i)
            }
        };
        open_only = from.is_some();
        out.register = Some(RegisterB {
            load: load(&t, from.is_some())?,
            include_offline_from_phase: from,
            include_offline_spread: secs(
                t.f64_in("include_offline_secs", 0.0, MAX_SECS)?
                    .unwrap_or(1.0),
            ),
        });
    }
    if let Some(t) = b.table(
        "call",
        &keys(&[
            "answer",
            "busy",
            "no_answer",
            "ring_ms",
            "hold_ms",
            "callee_hangs_up",
            "rtp",
            "media",
            "nat_address",
        ]),
    )? {
        let answer = t.f64_in("answer", 0.0, 1.0)?.unwrap_or(1.0);
        let busy = t.f64_in("busy", 0.0, 1.0)?.unwrap_or(0.0);
        let no_answer = match t.f64_in("no_answer", 0.0, 1.0)? {
            Some(n) if (answer + busy + n - 1.0).abs() > 1e-6 => {
                let m = format!(
                    "answer + busy + no_answer must be 1, found {}",
                    answer + busy + n
                );
                return Err(t.err("no_answer", m));
            }
            Some(n) => n,
            None if answer + busy > 1.0 + 1e-6 => {
                let m = format!("answer + busy must be at most 1, found {}", answer + busy);
                return Err(t.err("busy", m));
            }
            None => (1.0 - answer - busy).max(0.0),
        };
        need_users(&t, None, pop, 2, "a call")?;
        let rtp = t.bool("rtp")?.unwrap_or(false);
        out.call = Some(CallB {
            load: driven(&t, open_only)?,
            answer,
            busy,
            no_answer,
            ring: between_ms(&t, "ring_ms", [500, 2000])?,
            hold: between_ms(&t, "hold_ms", [2000, 10_000])?,
            callee_hangs_up: t.f64_in("callee_hangs_up", 0.0, 1.0)?.unwrap_or(0.5),
            rtp,
            media: call_media(&t, rtp)?,
        });
    }
    if let Some(t) = b.table("message", &keys(&["offline_share", "body_bytes"]))? {
        let offline_share = t.f64_in("offline_share", 0.0, 1.0)?.unwrap_or(0.0);
        if offline_share > 0.0 && pop.offline_users == 0 {
            return Err(t.err("offline_share", "needs population.offline_users above 0"));
        }
        if offline_share < 1.0 {
            need_users(&t, None, pop, 2, "a message to an online user")?;
        }
        out.message = Some(MessageB {
            load: driven(&t, open_only)?,
            offline_share,
            body_bytes: t.u32_in("body_bytes", 1, 60_000)?.unwrap_or(160),
        });
    }
    if let Some(t) = b.table(
        "presence",
        &keys(&["subscriptions", "expires_secs", "publish_rate"]),
    )? {
        let subscriptions = t.u32_in("subscriptions", 1, 10_000)?.unwrap_or(1);
        need_users(
            &t,
            Some("subscriptions"),
            pop,
            u64::from(subscriptions) + 1,
            "each watcher's subscriptions",
        )?;
        let publish_rate = t.f64_in("publish_rate", 0.0, 1e6)?.unwrap_or(0.0);
        out.presence = Some(PresenceB {
            load: driven(&t, open_only)?,
            subscriptions,
            expires: Duration::from_secs(
                t.u32_in("expires_secs", 1, 86_400)?.unwrap_or(3600).into(),
            ),
            publish_rate,
        });
    }
    if let Some(t) = b.table("room", &keys(&["rooms", "members_per_room"]))? {
        let rooms = t.u32_in("rooms", 1, 100_000)?.unwrap_or(1);
        let members = t.u32_in("members_per_room", 1, 100_000)?.unwrap_or(2);
        need_users(&t, Some("members_per_room"), pop, members.into(), "a room")?;
        out.room = Some(RoomB {
            load: driven(&t, open_only)?,
            rooms,
            members_per_room: members,
        });
    }
    out.conferences = super::conference::behaviour(&b, pop)?;
    out.voicemail = super::voicemail::behaviour(&b, pop, open_only)?;
    if Behaviour::ALL.iter().all(|&x| !out.has(x)) {
        return Err(b.err(
            "register",
            format!("no behaviour: give at least one of {}", behaviour_names()),
        ));
    }
    cross_checks(root, &out, phases)?;
    Ok(out)
}

/// `media = "direct" | "nat"` and `nat_address` (an IP that is neither unspecified nor
/// multicast: SDP gives those other meanings), given only with `media = "nat"`; `nat` needs
/// audio (`rtp = true`).
fn call_media(t: &Tbl<'_>, rtp: bool) -> Res<CallMedia> {
    let address = match t.str("nat_address")? {
        None => None,
        Some(a) => match a.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() || ip.is_multicast() => {
                let m = format!("{ip} cannot be a phone's address (unspecified or multicast)");
                return Err(t.err("nat_address", m));
            }
            Ok(ip) => Some(ip),
            Err(_) => {
                let m = format!("expected an IP address, found `{a}`");
                return Err(t.err("nat_address", m));
            }
        },
    };
    match t.str("media")?.as_deref() {
        None | Some("direct") if address.is_some() => {
            Err(t.err("nat_address", "only with media = \"nat\""))
        }
        None | Some("direct") => Ok(CallMedia::Direct),
        Some("nat") if !rtp => Err(t.err(
            "media",
            "\"nat\" needs rtp = true: without audio there is no media to anchor",
        )),
        Some("nat") => Ok(CallMedia::Nat(
            address.unwrap_or(CallMedia::DEFAULT_NAT_ADDRESS),
        )),
        Some(other) => Err(t.err(
            "media",
            format!("expected \"direct\" or \"nat\", found \"{other}\""),
        )),
    }
}

/// Phases list only behaviours that exist.
fn cross_checks(root: &Tbl<'_>, b: &Behaviours, phases: &[Phase]) -> Res<()> {
    let tables = root.tables(
        "phases",
        &["name", "duration_secs", "factor", "ramp_to", "behaviours"],
    )?;
    for (p, t) in phases.iter().zip(&tables) {
        for &x in p.behaviours.iter().flatten() {
            if !b.has(x) {
                let m = format!("`{}` is not in [behaviours]", x.name());
                return Err(t.err("behaviours", m));
            }
        }
    }
    Ok(())
}

fn thresholds(root: &Tbl<'_>, b: &Behaviours) -> Res<Thresholds> {
    let known = [
        "success_ratio",
        "latency",
        "lost_messages",
        "rtp_loss_ratio",
        "rtp_late_ratio",
        "rtp_anchored_ratio",
        "conference_join_ratio",
        "conference_loss_ratio",
        "conference_late_ratio",
        "conference_heard_ratio",
        "conference_self_heard",
        "conference_delay_p99_ms",
    ];
    let mut out = Thresholds::default();
    if let Some(t) = root.table("thresholds", &known)? {
        out.success_ratio = t.f64_in("success_ratio", 0.0, 1.0)?;
        out.lost_messages = t.int_in("lost_messages", 0, i64::MAX)?.map(|n| n as u64);
        out.rtp_loss_ratio = t.f64_in("rtp_loss_ratio", 0.0, 1.0)?;
        out.rtp_late_ratio = t.f64_in("rtp_late_ratio", 0.0, 1.0)?;
        out.rtp_anchored_ratio = t.f64_in("rtp_anchored_ratio", 0.0, 1.0)?;
        if out.rtp_anchored_ratio.is_some() && !b.call.as_ref().is_some_and(|c| c.rtp) {
            let m = "needs calls with audio (behaviours.call.rtp = true)";
            return Err(t.err("rtp_anchored_ratio", m));
        }
        super::conference::thresholds(&t, b, &mut out)?;
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        if let Some(lat) = t.table("latency", &all).map_err(|mut e| {
            e.message = e.message.replace("unknown field", "unknown request type");
            e
        })? {
            let mut map = BTreeMap::new();
            for name in lat.keys() {
                // check_known let only Kind names through
                let kind = Kind::from_name(name).unwrap_or(Kind::Register);
                let p = lat.required(name, lat.table(name, &["p50_ms", "p95_ms", "p99_ms"])?)?;
                let ms = |key: &str| -> Res<Option<Duration>> {
                    Ok(p.f64_in(key, 0.0, MAX_SECS * 1000.0)?
                        .map(|x| secs(x / 1000.0)))
                };
                let pc = Percentiles {
                    p50: ms("p50_ms")?,
                    p95: ms("p95_ms")?,
                    p99: ms("p99_ms")?,
                };
                let ordered = [pc.p50, pc.p95, pc.p99];
                let given: Vec<Duration> = ordered.iter().flatten().copied().collect();
                if given.windows(2).any(|w| w[0] > w[1]) {
                    return Err(p.err(
                        "p99_ms",
                        "percentiles must not decrease (p50 <= p95 <= p99)",
                    ));
                }
                map.insert(kind, pc);
            }
            out.latency = map;
        }
    }
    if out.lost_messages.is_none() && b.message.is_some() {
        out.lost_messages = Some(0);
    }
    if out.conference_self_heard.is_none() && b.conferences.as_ref().is_some_and(|c| c.talkers > 0)
    {
        out.conference_self_heard = Some(0);
    }
    Ok(out)
}
