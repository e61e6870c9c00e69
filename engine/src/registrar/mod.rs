//! Registrar processing of REGISTER (RFC 3261 §10.3, instance matching from RFC 5626).
//!
//! Pure functions over an address's bindings: `apply` validates a REGISTER completely before
//! changing anything (a request either applies in full or not at all) and says what kind of
//! change it made, `contact_values` renders the current bindings for the 200 OK. Time is
//! seconds since the Unix epoch, because bindings outlive the process.
//!
//! Applying the same REGISTER twice changes nothing the second time: a contact whose binding
//! already carries the request's Call-ID and CSeq was put there by this very request (every
//! new request of a Call-ID has a higher CSeq, §8.1.1.5), so it is left as it is. A
//! retransmission that reaches the registrar again is answered with the bindings as they are
//! rather than refused (see "Deviations" in ARCHITECTURE.md). `write_behind` decides when a
//! refresh reaches the store.

pub mod repeat;
pub mod write_behind;

use crate::flow::Flow;
use crate::presence::caps::Caps;
use crate::sip::message::parse_delta_seconds;
use crate::sip::{HeaderName, Message, NameAddr, Uri};
use crate::store::BindingRecord;

/// Registrar limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Shortest accepted registration (423 below it, with Min-Expires).
    pub min_expires: u32,
    /// Longer requests are shortened to this.
    pub max_expires: u32,
    /// Used when neither the contact nor the request says.
    pub default_expires: u32,
    /// Most bindings per address; the binding closest to expiry makes room for a new one.
    pub max_contacts: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts: 10,
        }
    }
}

/// Why a REGISTER was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    #[error("interval too brief, minimum {min}")]
    TooBrief { min: u32 },
    #[error("{0}")]
    Invalid(&'static str),
    #[error("cseq not higher than the stored binding's")]
    OutOfOrder,
}

impl RegisterError {
    /// Status code and reason phrase for the response.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegisterError::TooBrief { .. } => (423, "Interval Too Brief"),
            RegisterError::Invalid(reason) => (400, reason),
            RegisterError::OutOfOrder => (500, "Out Of Order CSeq"),
        }
    }
}

/// What applying a REGISTER did to an address's bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing changed (a query, a retransmission, a removal of what was not there).
    Unchanged,
    /// The same bindings with later expiries (and Call-IDs, CSeqs): a refresh from the same
    /// devices on the same flows. The store may take it later (`write_behind`).
    Refreshed,
    /// Bindings were added, removed, expired or changed in anything but their expiry.
    Changed,
}

impl Applied {
    /// Whether the stored copy differs from the bindings now.
    pub fn is_change(self) -> bool {
        self != Applied::Unchanged
    }
}

/// Applies a REGISTER to `bindings` and says what it changed. Expired bindings are dropped on
/// the way.
pub fn apply(
    req: &Message,
    bindings: &mut Vec<BindingRecord>,
    now: u64,
    policy: &Policy,
    source: &Flow,
) -> Result<Applied, RegisterError> {
    let before = bindings.len();
    bindings.retain(|b| b.expires_at > now);
    let dropped = bindings.len() != before;
    let unchanged = if dropped {
        Applied::Changed
    } else {
        Applied::Unchanged
    };
    let call_id = req
        .call_id()
        .ok_or(RegisterError::Invalid("Missing Call-ID"))?;
    let cseq = req
        .cseq()
        .ok_or(RegisterError::Invalid("Malformed CSeq"))?
        .seq;
    let header_expires = match req.header(HeaderName::Expires) {
        Some(v) => Some(parse_delta_seconds(v).ok_or(RegisterError::Invalid("Malformed Expires"))?),
        None => None,
    };
    let values: Vec<&str> = req.header_values(HeaderName::Contact).collect();
    if values.is_empty() {
        return Ok(unchanged); // a query: answer with the current bindings
    }
    if values.contains(&"*") {
        if values.len() != 1 || header_expires != Some(0) {
            return Err(RegisterError::Invalid(
                "Wildcard Contact needs Expires: 0 alone",
            ));
        }
        for b in bindings.iter() {
            if b.call_id == call_id && cseq <= b.cseq {
                return Err(RegisterError::OutOfOrder);
            }
        }
        let any = !bindings.is_empty();
        bindings.clear();
        return Ok(if any { Applied::Changed } else { unchanged });
    }

    let mut next = bindings.clone();
    for v in values {
        let na = NameAddr::parse(v).map_err(|_| RegisterError::Invalid("Malformed Contact"))?;
        let uri = na.uri();
        if !matches!(
            uri.scheme(),
            crate::sip::Scheme::Sip | crate::sip::Scheme::Sips
        ) {
            return Err(RegisterError::Invalid("Contact must be a SIP URI"));
        }
        // one pass over the contact's parameters
        let (mut expires_param, mut instance, mut reg_id, mut q) = (None, None, None, None);
        let _ = crate::sip::lex::parse_params(na.params(), |p| {
            let v = p.value.unwrap_or("");
            if p.name.eq_ignore_ascii_case("expires") {
                expires_param = Some(v);
            } else if p.name.eq_ignore_ascii_case("+sip.instance") {
                instance = Some(crate::sip::lex::unquote(v).to_owned());
            } else if p.name.eq_ignore_ascii_case("reg-id") {
                reg_id = v.parse().ok();
            } else if p.name.eq_ignore_ascii_case("q") {
                q = parse_q(v);
            }
        });
        let expires = match expires_param {
            Some(e) => parse_delta_seconds(e).ok_or(RegisterError::Invalid("Malformed expires"))?,
            None => header_expires.unwrap_or(policy.default_expires),
        };
        if expires != 0 && expires < policy.min_expires {
            return Err(RegisterError::TooBrief {
                min: policy.min_expires,
            });
        }
        let expires = expires.min(policy.max_expires);
        let existing = next.iter().position(|b| match (&b.instance, &instance) {
            (Some(a), Some(i)) => a == i && b.reg_id == reg_id,
            // the same text is the same URI; otherwise compare per §19.1.4
            _ => b.uri == uri.as_str() || Uri::parse(&b.uri).is_ok_and(|bu| uri_eq(&bu, uri)),
        });
        match existing {
            Some(i) => {
                if next[i].call_id == call_id && cseq == next[i].cseq {
                    // put there by this very request: a retransmission applies nothing
                    continue;
                }
                if next[i].call_id == call_id && cseq < next[i].cseq {
                    return Err(RegisterError::OutOfOrder);
                }
                if expires == 0 {
                    next.remove(i);
                } else {
                    let b = &mut next[i];
                    b.uri = uri.as_str().to_owned();
                    b.q = q;
                    b.expires_at = now + expires as u64;
                    b.call_id = call_id.to_owned();
                    b.cseq = cseq;
                    b.instance = instance;
                    b.reg_id = reg_id;
                    b.transport = source.transport;
                    b.source = source.remote;
                    b.conn = source.conn.map(|c| c.0);
                    b.caps = Caps::from_contact(v);
                }
            }
            None if expires == 0 => {}
            None => next.push(BindingRecord {
                uri: uri.as_str().to_owned(),
                q,
                expires_at: now + expires as u64,
                call_id: call_id.to_owned(),
                cseq,
                instance,
                reg_id,
                transport: source.transport,
                source: source.remote,
                conn: source.conn.map(|c| c.0),
                caps: Caps::from_contact(v),
            }),
        }
    }
    while next.len() > policy.max_contacts {
        // make room: the binding closest to expiry goes
        let i = next
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| b.expires_at)
            .map(|(i, _)| i)
            .unwrap_or(0);
        next.remove(i);
    }
    let applied = if dropped {
        Applied::Changed
    } else {
        compare(bindings, &next)
    };
    // a first binding pushed onto an empty list takes room for four (608 bytes for one),
    // held by the Extension as long as it runs: keep only what is used
    next.shrink_to_fit();
    *bindings = next;
    Ok(applied)
}

/// What changed from `old` to `new` (same devices in the same order, or not). A binding's
/// Call-ID and CSeq only order the requests that touch it (§10.3 step 7), so a refresh that
/// changes them and the expiry alone is `Refreshed`: routing needs nothing else of it.
fn compare(old: &[BindingRecord], new: &[BindingRecord]) -> Applied {
    if old.len() != new.len() {
        return Applied::Changed;
    }
    let mut applied = Applied::Unchanged;
    for (a, b) in old.iter().zip(new) {
        let same_device = a.uri == b.uri
            && a.q == b.q
            && a.instance == b.instance
            && a.reg_id == b.reg_id
            && a.transport == b.transport
            && a.source == b.source
            && a.conn == b.conn
            && a.caps == b.caps;
        if !same_device {
            return Applied::Changed;
        }
        if a.expires_at != b.expires_at || a.cseq != b.cseq || a.call_id != b.call_id {
            applied = Applied::Refreshed;
        }
    }
    applied
}

/// Contact header values for a 200 OK: every live binding with its remaining time.
pub fn contact_values(bindings: &[BindingRecord], now: u64) -> Vec<String> {
    bindings
        .iter()
        .filter(|b| b.expires_at > now)
        .map(|b| {
            let mut v = format!("<{}>;expires={}", b.uri, b.expires_at - now);
            if let Some(q) = b.q {
                v.push_str(&format!(";q={}.{:03}", q / 1000, q % 1000));
            }
            if let Some(i) = &b.instance {
                v.push_str(&format!(";+sip.instance=\"{i}\""));
            }
            if let Some(r) = b.reg_id {
                v.push_str(&format!(";reg-id={r}"));
            }
            v
        })
        .collect()
}

/// Live bindings ordered for forking: highest q first, then most recently refreshed.
pub fn targets(bindings: &[BindingRecord], now: u64) -> Vec<&BindingRecord> {
    let mut live: Vec<&BindingRecord> = bindings.iter().filter(|b| b.expires_at > now).collect();
    live.sort_by(|a, b| {
        b.q.unwrap_or(1000)
            .cmp(&a.q.unwrap_or(1000))
            .then(b.expires_at.cmp(&a.expires_at))
    });
    live
}

/// q-value `0.5` → 500 (RFC 3261 §20.10: 0 to 1 with up to three decimals).
fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let i: u16 = int.parse().ok()?;
    let mut f: u16 = 0;
    for (k, c) in frac.bytes().enumerate() {
        f += (c - b'0') as u16 * [100, 10, 1][k];
    }
    let q = i * 1000 + f;
    (q <= 1000).then_some(q)
}

/// URI equality for bindings (RFC 3261 §19.1.4, the parts that matter for contacts).
pub fn uri_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    a.scheme() == b.scheme()
        && a.user_unescaped() == b.user_unescaped()
        && a.password() == b.password()
        && a.host().eq_ignore_ascii_case(b.host())
        && a.port() == b.port()
        && eq_ci(a.transport(), b.transport())
        && eq_ci(a.param("maddr"), b.param("maddr"))
}

fn eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
