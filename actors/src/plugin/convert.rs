//! Between the switch's types and a plugin's Lua values: the request table a plugin's
//! `route(req)` receives, and the decision it returns, checked field by field.
//!
//! ```lua
//! req = {
//!   method = "INVITE", dialed = "02-6200-6200-082", caller = "+82111234567" (or nil),
//!   time = 1764576000,                       -- seconds since the Unix epoch (UTC)
//!   clock = { hour = 8, minute = 0, weekday = 2 },   -- UTC; weekday 1 = Sunday
//!   dest = { kind = "personal", number = "+82262006200", country = 82, area = "02",
//!            ["local"] = "62006200" },
//!   callee = { number = "+82262006200", account = true, devices = 2,
//!              forwarding = { always = nil, busy = "1002", no_answer = "1003",
//!                             ring_secs = 20, unreachable = nil } },   -- our subscribers only
//!   history = { { number = "1001", reason = "user-busy" } },   -- forwarding so far
//! }
//! ```
//!
//! `dest.kind` is one of `subscriber` (`number`), `personal` (`number`, `country`, `area`,
//! `local`), `enterprise` (`local`, `country`, and `branch` or `trunk` when the plan maps it),
//! `pstn` (`number`), `provider` (`provider`, `number`, `dial`), `directory` (`address`; the
//! directory's owner, when it knows one, is routed as that number instead).
//!
//! The tables are built, and the returned decision taken apart, by trusted Lua (`PRELUDE`):
//! values cross between Rust and Lua as function arguments and results, which costs a
//! fraction of setting table fields one by one from Rust. The parts then become a `Decision`
//! through the engine's checks.

use mlua::{Function, Lua, Table, Value};
use switchboard_engine::forwarding::ForwardingRecord;
use switchboard_engine::numbering::{Branch, Classifier, Destination, NumberingPlan};
use switchboard_engine::routing::{
    ring_time, Decision, DecisionError, DiversionReason, Fallbacks, MediaHints, RouteRequest,
    Routed, Target,
};

/// The trusted part of every interpreter: builds `req`, calls `route`, checks the shape of
/// the decision and returns its parts. Plugins cannot reach these functions (their globals
/// are their own), so they cannot change how their answers are read.
pub const PRELUDE: &str = r#"
local callee_next = nil
function __switchboard_callee(number, account, devices, always, busy, no_answer, ring_secs, unreachable)
  callee_next = { number = number, account = account, devices = devices,
    forwarding = { always = always, busy = busy, no_answer = no_answer, ring_secs = ring_secs,
                   unreachable = unreachable } }
end
local function dest(kind, a, b, c, d)
  if kind == "personal" then return { kind = kind, number = a, country = b, area = c, ["local"] = d }
  elseif kind == "enterprise" then return { kind = kind, ["local"] = a, country = b, branch = c, trunk = d }
  elseif kind == "provider" then return { kind = kind, provider = a, number = b, dial = c }
  elseif kind == "directory" then return { kind = kind, address = a }
  end
  return { kind = kind, number = a }
end
local ALLOWED = {
  deliver = { number = "string", busy = "string", no_answer = "string", ring_secs = "number",
              unreachable = "string", anchor = "boolean", record = "boolean" },
  forward = { target = "string", reason = "string", anchor = "boolean", record = "boolean" },
  trunk = { name = "string", number = "string", anchor = "boolean", record = "boolean" },
  reject = { code = "number", reason = "string" },
  pass = {},
}
local function word(x) return string.sub(string.gsub(tostring(x), "%c", ""), 1, 24) end
local function parts(d)
  if d == nil then return nil end
  if type(d) ~= "table" then
    error("bad decision: the decision must be a table, not a " .. type(d), 0)
  end
  local a = d.action
  local allowed = ALLOWED[a]
  if allowed == nil then
    error("bad decision: unknown decision \"" .. word(a) .. "\"; expected deliver, forward, trunk or reject", 0)
  end
  for k, v in next, d do
    if k ~= "action" then
      local want = allowed[k]
      if want == nil then error("bad decision: decision field " .. word(k) .. ": unknown", 0) end
      local t = type(v)
      if t ~= want and not (want == "string" and t == "number") then
        error("bad decision: decision field " .. k .. ": must be a " .. want, 0)
      end
    end
  end
  if a == "deliver" then
    return a, d.number, d.busy, d.no_answer, d.ring_secs, d.unreachable, d.anchor, d.record
  elseif a == "forward" then return a, d.target, d.reason, nil, nil, nil, d.anchor, d.record
  elseif a == "trunk" then return a, d.name, d.number, nil, nil, nil, d.anchor, d.record
  elseif a == "reject" then return a, d.reason, nil, nil, d.code
  end
  return a
end
__switchboard_parts = parts
function __switchboard_route(route, method, dialed, caller, time, kind, a, b, c, d, history, with_callee)
  local callee = nil
  if with_callee then callee = callee_next end
  callee_next = nil
  local req = { method = method, dialed = dialed, caller = caller, time = time,
    clock = { hour = time // 3600 % 24, minute = time // 60 % 60, weekday = (time // 86400 + 4) % 7 + 1 },
    dest = dest(kind, a, b, c, d), callee = callee, history = history or {} }
  return parts(route(req))
end
"#;

/// An absent field.
const NIL: Option<&str> = None;

/// The message prefix of shape errors raised by `PRELUDE`.
pub const BAD_DECISION: &str = "bad decision: ";

/// A decision taken apart: `(action, s1, s2, s3, n, s4, anchor, record)`, see `PRELUDE`.
pub type Parts = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<bool>,
);

/// The prelude's entry points in one interpreter.
pub struct Entry {
    route: Function,
    callee: Function,
    parts: Function,
}

impl Entry {
    pub fn new(lua: &Lua) -> mlua::Result<Entry> {
        let g = lua.globals();
        Ok(Entry {
            route: g.get("__switchboard_route")?,
            callee: g.get("__switchboard_callee")?,
            parts: g.get("__switchboard_parts")?,
        })
    }

    /// Calls a plugin's `route` with the request; returns the parts of its decision.
    pub fn route(
        &self,
        lua: &Lua,
        plan: &NumberingPlan,
        f: &Function,
        req: &RouteRequest<'_>,
    ) -> mlua::Result<Parts> {
        let history = if req.history.is_empty() {
            Value::Nil
        } else {
            let h = lua.create_table_with_capacity(req.history.len(), 0)?;
            for (i, hop) in req.history.iter().enumerate() {
                let e = lua.create_table_with_capacity(0, 2)?;
                e.raw_set("number", hop.address.as_str())?;
                e.raw_set("reason", hop.reason.as_str())?;
                h.raw_set(i + 1, e)?;
            }
            Value::Table(h)
        };
        // the callee last before the call: nothing can fail between it and the route call,
        // which takes it, so it never lingers into another request
        if let Some(c) = req.callee {
            let fw = &c.forwarding;
            self.callee.call::<()>((
                c.aor.as_ref().map(|a| a.as_str()),
                c.account,
                c.devices,
                fw.always.as_deref(),
                fw.busy.as_deref(),
                fw.no_answer.as_ref().map(|n| n.target.as_str()),
                fw.no_answer.as_ref().map(|n| n.ring_secs),
                fw.unreachable.as_deref(),
            ))?;
        }
        let caller = req.caller.map(|c| c.as_str());
        let head = (
            f,
            req.method.as_str(),
            req.dialed,
            caller,
            req.time,
            req.callee.is_some(),
        );
        match req.destination {
            Destination::Subscriber(a) | Destination::Pstn(a) => {
                let kind = if matches!(req.destination, Destination::Pstn(_)) {
                    "pstn"
                } else {
                    "subscriber"
                };
                self.call(head, (kind, a.as_str(), NIL, NIL, NIL), history)
            }
            Destination::Personal {
                country,
                area,
                local,
                e164,
            } => self.call(
                head,
                (
                    "personal",
                    e164.as_str(),
                    *country,
                    area.as_str(),
                    local.as_str(),
                ),
                history,
            ),
            Destination::Enterprise { local, country } => {
                let (branch, trunk) = match plan.branch(local, *country) {
                    Some(Branch::Subscriber(a)) => (Some(a.as_str()), None),
                    Some(Branch::Trunk(t)) => (None, Some(t.as_str())),
                    None => (None, None),
                };
                self.call(
                    head,
                    ("enterprise", local.as_str(), *country, branch, trunk),
                    history,
                )
            }
            Destination::Provider {
                provider,
                e164,
                dial,
            } => self.call(
                head,
                (
                    "provider",
                    provider.as_str(),
                    e164.as_str(),
                    dial.as_str(),
                    NIL,
                ),
                history,
            ),
            Destination::Directory { user, domain } => {
                let address = match user {
                    Some(u) => format!("{u}@{domain}"),
                    None => domain.clone(),
                };
                self.call(
                    head,
                    ("directory", address.as_str(), NIL, NIL, NIL),
                    history,
                )
            }
            Destination::Feature(_) => self.call(head, ("feature", NIL, NIL, NIL, NIL), history),
        }
    }

    fn call<A, B, C, D>(
        &self,
        head: (&Function, &str, &str, Option<&str>, u64, bool),
        dest: (&str, A, B, C, D),
        history: Value,
    ) -> mlua::Result<Parts>
    where
        A: mlua::IntoLua,
        B: mlua::IntoLua,
        C: mlua::IntoLua,
        D: mlua::IntoLua,
    {
        let (f, method, dialed, caller, time, with_callee) = head;
        let (kind, a, b, c, d) = dest;
        self.route.call((
            f,
            method,
            dialed,
            caller,
            time,
            kind,
            a,
            b,
            c,
            d,
            history,
            with_callee,
        ))
    }

    /// The parts of a decision value (a test's `expect`).
    pub fn parts(&self, v: Value) -> mlua::Result<Parts> {
        self.parts.call(v)
    }
}

/// Reads a forwarding record from a test's `callee.forwarding` table.
pub fn forwarding_from(t: &Table) -> Result<ForwardingRecord, DecisionError> {
    let s = |k: &'static str| -> Result<Option<String>, DecisionError> {
        match t.raw_get::<Value>(k).map_err(|_| DecisionError::Field(k))? {
            Value::Nil => Ok(None),
            Value::String(v) => Ok(Some(v.to_string_lossy())),
            _ => Err(DecisionError::Field(k)),
        }
    };
    let mut rec = ForwardingRecord {
        always: s("always")?,
        busy: s("busy")?,
        unreachable: s("unreachable")?,
        no_answer: None,
    };
    if let Some(target) = s("no_answer")? {
        let ring_secs = match t.raw_get::<Value>("ring_secs") {
            Ok(Value::Integer(n)) => u16::try_from(n).map_err(|_| DecisionError::RingTime)?,
            Ok(Value::Nil) => switchboard_engine::forwarding::DEFAULT_RING_SECS,
            _ => return Err(DecisionError::Field("ring_secs")),
        };
        rec.no_answer = Some(switchboard_engine::forwarding::NoAnswer { target, ring_secs });
    }
    Ok(rec)
}

/// A plugin's answer from its parts: `Ok(None)` for `nil` or `pass()` (the next plugin
/// decides).
pub fn decision(
    plan: &dyn Classifier,
    ours: &dyn Fn(&str) -> bool,
    parts: Parts,
) -> Result<Option<Routed>, DecisionError> {
    let (action, s1, s2, s3, n, s4, anchor, record) = parts;
    let media = MediaHints {
        anchor,
        record: record.unwrap_or(false),
    };
    let target =
        |field: &'static str, v: Option<String>| -> Result<Option<Target>, DecisionError> {
            v.map(|s| Target::parse(plan, &s, ours, field)).transpose()
        };
    let d = match action.as_deref() {
        None | Some("pass") => return Ok(None),
        Some("deliver") => {
            let number = s1.ok_or(DecisionError::Field("number"))?;
            let Decision::Deliver { aor, .. } = Decision::deliver(plan, &number)? else {
                unreachable!("deliver builds a delivery")
            };
            let secs = match n {
                None => u64::from(switchboard_engine::forwarding::DEFAULT_RING_SECS),
                Some(s) => u64::try_from(s).unwrap_or(0),
            };
            let ring = ring_time(secs)?;
            Decision::Deliver {
                aor,
                otherwise: Fallbacks {
                    busy: target("busy", s2)?,
                    no_answer: target("no_answer", s3)?.map(|t| (t, ring)),
                    unreachable: target("unreachable", s4)?,
                },
            }
        }
        Some("forward") => Decision::Forward {
            target: target("target", s1)?.ok_or(DecisionError::Field("target"))?,
            reason: match s2 {
                None => DiversionReason::Unconditional,
                Some(r) => DiversionReason::parse(&r)?,
            },
        },
        Some("trunk") => Decision::trunk(
            &s1.ok_or(DecisionError::Field("name"))?,
            &s2.ok_or(DecisionError::Field("number"))?,
        )?,
        Some("reject") => {
            let code = n
                .and_then(|c| u16::try_from(c).ok())
                .ok_or(DecisionError::Code)?;
            let reason =
                s1.unwrap_or_else(|| switchboard_engine::sip::reason_phrase(code).to_owned());
            Decision::reject(code, &reason)?
        }
        Some(other) => return Err(DecisionError::Action(other.chars().take(24).collect())),
    };
    Ok(Some(Routed { decision: d, media }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_engine::numbering::Aor;
    use switchboard_engine::routing::{CalleeState, Hop};
    use switchboard_engine::sip::Method;

    fn plan() -> NumberingPlan {
        NumberingPlan::new("KR")
            .unwrap()
            .with_own_ranges(vec!["+8211".into()])
            .with_branch(
                "6200-6200",
                82,
                Branch::Subscriber(Aor::from_canonical("1001")),
            )
            .unwrap()
    }

    const HELPERS: &str = r#"
function deliver(number, opts) local d = { action = "deliver", number = number } if opts then for k, v in pairs(opts) do d[k] = v end end return d end
function forward(target, reason) return { action = "forward", target = target, reason = reason } end
function trunk(name, number) return { action = "trunk", name = name, number = number } end
function reject(code, reason) return { action = "reject", code = code, reason = reason } end
"#;

    fn lua() -> (Lua, Entry) {
        let lua = Lua::new();
        lua.load(PRELUDE).exec().unwrap();
        lua.load(HELPERS).exec().unwrap();
        let e = Entry::new(&lua).unwrap();
        (lua, e)
    }

    fn decide(src: &str) -> Result<Option<Decision>, String> {
        let (lua, e) = lua();
        let v: Value = lua.load(src).eval().unwrap();
        let parts = e.parts(v).map_err(|x| x.to_string())?;
        decision(&plan(), &|h| h == "sb.example", parts)
            .map(|r| r.map(|r| r.decision))
            .map_err(|x| x.to_string())
    }

    #[test]
    fn the_request_table_carries_every_field() {
        let (lua, e) = lua();
        let p = plan();
        let dest = p.classify("6200-6200#082").unwrap();
        let caller = Aor::from_canonical("+82111234567");
        let callee = CalleeState {
            aor: Some(Aor::from_canonical("1001")),
            account: true,
            devices: 2,
            voicemail: false,
            forwarding: ForwardingRecord {
                busy: Some("1002".into()),
                ..Default::default()
            },
        };
        let history = [Hop {
            address: "1009".into(),
            reason: DiversionReason::UserBusy,
        }];
        let req = RouteRequest {
            method: Method::Invite,
            dialed: "6200-6200#082",
            destination: &dest,
            caller: Some(&caller),
            time: 1_764_547_200 + 8 * 3600 + 30 * 60,
            callee: Some(&callee),
            history: &history,
        };
        let route: Function = lua
            .load(
                "return function(req) return reject(480, table.concat({req.method, req.dest.kind, \
                 req.dest['local'], req.dest.country, req.dest.branch, req.callee.devices, \
                 req.callee.forwarding.busy, req.history[1].reason, req.clock.hour, \
                 req.clock.minute, req.clock.weekday}, ' ')) end",
            )
            .eval()
            .unwrap();
        let parts = e.route(&lua, &p, &route, &req).unwrap();
        // 2025-12-01 was a Monday
        assert_eq!(
            parts.1.as_deref(),
            Some("INVITE enterprise 62006200 82 1001 2 1002 user-busy 8 30 2")
        );
        // the callee does not leak into the next request
        let bare = RouteRequest {
            callee: None,
            history: &[],
            ..req
        };
        let probe: Function = lua
            .load("return function(req) return reject(480, tostring(req.callee) .. ' ' .. #req.history) end")
            .eval()
            .unwrap();
        let parts = e.route(&lua, &p, &probe, &bare).unwrap();
        assert_eq!(parts.1.as_deref(), Some("nil 0"));
    }

    #[test]
    fn decisions_are_read_and_checked() {
        assert_eq!(decide("return nil"), Ok(None));
        assert_eq!(decide("return {action = 'pass'}"), Ok(None));
        let d = decide(
            "return deliver('011-123-4567', {busy = '1002', no_answer = '1003', ring_secs = 12})",
        )
        .unwrap()
        .unwrap();
        let Decision::Deliver { aor, otherwise } = d else {
            panic!("{d:?}")
        };
        assert_eq!(aor.as_str(), "+82111234567");
        assert_eq!(otherwise.no_answer.unwrap().1.as_secs(), 12);
        assert!(otherwise.busy.is_some() && otherwise.unreachable.is_none());
        assert_eq!(
            decide("return trunk('pstn', '+12125551234')"),
            Ok(Some(Decision::Trunk {
                group: "pstn".into(),
                number: "+12125551234".into()
            }))
        );
        assert_eq!(
            decide("return deliver(1001)"),
            Ok(Some(Decision::Deliver {
                aor: Aor::from_canonical("1001"),
                otherwise: Fallbacks::default()
            })),
            "a number may be written as a Lua number"
        );
        assert_eq!(
            decide("return reject(403)"),
            Ok(Some(Decision::Reject {
                code: 403,
                reason: "Forbidden".into()
            }))
        );
        assert!(matches!(
            decide("return forward('sip:bob@other.example', 'deflection')"),
            Ok(Some(Decision::Forward {
                reason: DiversionReason::Deflection,
                ..
            }))
        ));
    }

    #[test]
    fn bad_decisions_name_what_is_wrong() {
        let e = |src: &str| decide(src).unwrap_err();
        assert!(e("return 42").contains("must be a table"));
        assert!(e("return {action = 'explode'}").contains("unknown decision \"explode\""));
        assert!(e("return deliver('1001', {bussy = '1002'})").contains("bussy: unknown"));
        assert!(e("return deliver('1001', {busy = {}})").contains("busy: must be a string"));
        assert!(e("return deliver()").contains("number"));
        assert!(e("return deliver('+12125551234')").contains("subscribers"));
        assert!(e("return forward('sip:x@h.example?Route=<sip:evil>')").contains("target"));
        assert!(e("return trunk('pstn', '123;lr')").contains("trunk number"));
        assert!(e("return reject(200, 'OK')").contains("reject code"));
        assert!(e("return reject(486, 'Busy\\r\\nX: y')").contains("reject reason"));
        assert!(
            e("return deliver('1001', {no_answer = '1002', ring_secs = 1})").contains("ring time")
        );
        assert!(e("return forward('1002', 'whim')").contains("diversion reason"));
    }

    #[test]
    fn a_decision_carries_what_it_asks_of_the_media() {
        let (lua, e) = lua();
        let read = |src: &str| {
            let v: Value = lua.load(src).eval().unwrap();
            let parts = e.parts(v).map_err(|x| x.to_string())?;
            decision(&plan(), &|h| h == "sb.example", parts).map_err(|x| x.to_string())
        };
        let r = read("return deliver('1001', {anchor = true, record = true})")
            .unwrap()
            .unwrap();
        assert_eq!(r.media.anchor, Some(true));
        assert!(r.media.record);
        let mut t = read("local d = trunk('pstn', '+12125551234') d.anchor = false return d")
            .unwrap()
            .unwrap();
        assert_eq!(t.media.anchor, Some(false));
        assert!(!t.media.record);
        t = read("return trunk('pstn', '+12125551234')")
            .unwrap()
            .unwrap();
        assert_eq!(t.media, MediaHints::default(), "the policy decides");
        let bad = read("return deliver('1001', {anchor = 'yes'})").unwrap_err();
        assert!(bad.contains("anchor: must be a boolean"), "{bad}");
        let bad = read("local d = reject(486) d.record = true return d").unwrap_err();
        assert!(bad.contains("record: unknown"), "{bad}");
    }
}
