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

use mlua::{Lua, Table, Value};
use switchboard_engine::forwarding::ForwardingRecord;
use switchboard_engine::numbering::{Branch, Destination, NumberingPlan};
use switchboard_engine::routing::{
    ring_time, Decision, DecisionError, DiversionReason, Fallbacks, RouteRequest, Target,
};

/// The `req` table for a request.
pub fn request(lua: &Lua, plan: &NumberingPlan, req: &RouteRequest<'_>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 9)?;
    t.raw_set("method", req.method.as_str())?;
    t.raw_set("dialed", req.dialed)?;
    if let Some(c) = req.caller {
        t.raw_set("caller", c.as_str())?;
    }
    t.raw_set("time", req.time)?;
    let clock = lua.create_table_with_capacity(0, 3)?;
    let day_secs = req.time % 86_400;
    clock.raw_set("hour", day_secs / 3600)?;
    clock.raw_set("minute", day_secs % 3600 / 60)?;
    // 1970-01-01 was a Thursday (weekday 5 with Sunday = 1)
    clock.raw_set("weekday", (req.time / 86_400 + 4) % 7 + 1)?;
    t.raw_set("clock", clock)?;
    t.raw_set("dest", destination(lua, plan, req.destination)?)?;
    if let Some(c) = req.callee {
        let ct = lua.create_table_with_capacity(0, 4)?;
        if let Some(a) = &c.aor {
            ct.raw_set("number", a.as_str())?;
        }
        ct.raw_set("account", c.account)?;
        ct.raw_set("devices", c.devices)?;
        ct.raw_set("forwarding", forwarding(lua, &c.forwarding)?)?;
        t.raw_set("callee", ct)?;
    }
    let history = lua.create_table_with_capacity(req.history.len(), 0)?;
    for (i, h) in req.history.iter().enumerate() {
        let e = lua.create_table_with_capacity(0, 2)?;
        e.raw_set("number", h.address.as_str())?;
        e.raw_set("reason", h.reason.as_str())?;
        history.raw_set(i + 1, e)?;
    }
    t.raw_set("history", history)?;
    Ok(t)
}

fn destination(lua: &Lua, plan: &NumberingPlan, d: &Destination) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 5)?;
    match d {
        Destination::Subscriber(a) => {
            t.raw_set("kind", "subscriber")?;
            t.raw_set("number", a.as_str())?;
        }
        Destination::Personal {
            country,
            area,
            local,
            e164,
        } => {
            t.raw_set("kind", "personal")?;
            t.raw_set("number", e164.as_str())?;
            t.raw_set("country", *country)?;
            t.raw_set("area", area.as_str())?;
            t.raw_set("local", local.as_str())?;
        }
        Destination::Enterprise { local, country } => {
            t.raw_set("kind", "enterprise")?;
            t.raw_set("local", local.as_str())?;
            t.raw_set("country", *country)?;
            match plan.branch(local, *country) {
                Some(Branch::Subscriber(a)) => t.raw_set("branch", a.as_str())?,
                Some(Branch::Trunk(name)) => t.raw_set("trunk", name.as_str())?,
                None => {}
            }
        }
        Destination::Pstn(a) => {
            t.raw_set("kind", "pstn")?;
            t.raw_set("number", a.as_str())?;
        }
        Destination::Provider {
            provider,
            e164,
            dial,
        } => {
            t.raw_set("kind", "provider")?;
            t.raw_set("provider", provider.as_str())?;
            t.raw_set("number", e164.as_str())?;
            t.raw_set("dial", dial.as_str())?;
        }
        Destination::Directory { user, domain } => {
            t.raw_set("kind", "directory")?;
            let address = match user {
                Some(u) => format!("{u}@{domain}"),
                None => domain.clone(),
            };
            t.raw_set("address", address)?;
        }
        Destination::Feature(_) => t.raw_set("kind", "feature")?,
    }
    Ok(t)
}

fn forwarding(lua: &Lua, f: &ForwardingRecord) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 5)?;
    if let Some(a) = &f.always {
        t.raw_set("always", a.as_str())?;
    }
    if let Some(b) = &f.busy {
        t.raw_set("busy", b.as_str())?;
    }
    if let Some(n) = &f.no_answer {
        t.raw_set("no_answer", n.target.as_str())?;
        t.raw_set("ring_secs", n.ring_secs)?;
    }
    if let Some(u) = &f.unreachable {
        t.raw_set("unreachable", u.as_str())?;
    }
    Ok(t)
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

/// A plugin's answer: `Ok(None)` for `nil` or `pass()` (the next plugin decides).
pub fn decision(
    plan: &NumberingPlan,
    ours: &dyn Fn(&str) -> bool,
    v: Value,
) -> Result<Option<Decision>, DecisionError> {
    let t = match v {
        Value::Nil => return Ok(None),
        Value::Table(t) => t,
        _ => return Err(DecisionError::Field("the decision (a table)")),
    };
    let action = string(&t, "action")?;
    let allowed: &[&str] = match action.as_str() {
        "deliver" => &["number", "busy", "no_answer", "ring_secs", "unreachable"],
        "forward" => &["target", "reason"],
        "trunk" => &["name", "number"],
        "reject" => &["code", "reason"],
        "pass" => &[],
        _ => return Err(DecisionError::Action(short(&action))),
    };
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|_| DecisionError::Field("the decision (a table)"))?;
        let known = match &k {
            Value::String(s) => {
                let s = s.to_string_lossy();
                s == "action" || allowed.contains(&s.as_str())
            }
            _ => false,
        };
        if !known {
            let name = match &k {
                Value::String(s) => short(&s.to_string_lossy()),
                other => other.type_name().to_owned(),
            };
            return Err(DecisionError::UnknownField(name));
        }
    }
    let target = |field: &'static str| -> Result<Option<Target>, DecisionError> {
        match optional_string(&t, field)? {
            None => Ok(None),
            Some(s) => Target::parse(plan, &s, ours, field).map(Some),
        }
    };
    let d = match action.as_str() {
        "deliver" => {
            let Decision::Deliver { aor, .. } = Decision::deliver(plan, &string(&t, "number")?)?
            else {
                unreachable!("deliver builds a delivery")
            };
            let ring = match t.raw_get::<Value>("ring_secs") {
                Ok(Value::Nil) => {
                    ring_time(u64::from(switchboard_engine::forwarding::DEFAULT_RING_SECS))?
                }
                Ok(Value::Integer(n)) => ring_time(u64::try_from(n).unwrap_or(0))?,
                _ => return Err(DecisionError::Field("ring_secs")),
            };
            Decision::Deliver {
                aor,
                otherwise: Fallbacks {
                    busy: target("busy")?,
                    no_answer: target("no_answer")?.map(|t| (t, ring)),
                    unreachable: target("unreachable")?,
                },
            }
        }
        "forward" => Decision::Forward {
            target: target("target")?.ok_or(DecisionError::Field("target"))?,
            reason: match optional_string(&t, "reason")? {
                None => DiversionReason::Unconditional,
                Some(r) => DiversionReason::parse(&r)?,
            },
        },
        "trunk" => Decision::trunk(&string(&t, "name")?, &string(&t, "number")?)?,
        "reject" => {
            let code = match t.raw_get::<Value>("code") {
                Ok(Value::Integer(c)) => u16::try_from(c).map_err(|_| DecisionError::Code)?,
                _ => return Err(DecisionError::Field("code")),
            };
            let reason = optional_string(&t, "reason")?
                .unwrap_or_else(|| switchboard_engine::sip::reason_phrase(code).to_owned());
            Decision::reject(code, &reason)?
        }
        _ => return Ok(None), // pass
    };
    Ok(Some(d))
}

fn string(t: &Table, field: &'static str) -> Result<String, DecisionError> {
    optional_string(t, field)?.ok_or(DecisionError::Field(field))
}

fn optional_string(t: &Table, field: &'static str) -> Result<Option<String>, DecisionError> {
    match t.raw_get::<Value>(field) {
        Ok(Value::Nil) => Ok(None),
        Ok(Value::String(s)) => Ok(Some(
            s.to_str()
                .map_err(|_| DecisionError::Field(field))?
                .to_owned(),
        )),
        Ok(Value::Integer(n)) => Ok(Some(n.to_string())),
        _ => Err(DecisionError::Field(field)),
    }
}

/// A plugin-chosen word, cut short for an error message.
fn short(s: &str) -> String {
    s.chars().take(24).filter(|c| !c.is_control()).collect()
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

    fn eval(lua: &Lua, src: &str) -> Value {
        lua.load(PRELUDE).exec().unwrap();
        lua.load(src).eval().unwrap()
    }

    const PRELUDE: &str = r#"
function deliver(number, opts) local d = { action = "deliver", number = number } if opts then for k, v in pairs(opts) do d[k] = v end end return d end
function forward(target, reason) return { action = "forward", target = target, reason = reason } end
function trunk(name, number) return { action = "trunk", name = name, number = number } end
function reject(code, reason) return { action = "reject", code = code, reason = reason } end
"#;

    fn decide(src: &str) -> Result<Option<Decision>, DecisionError> {
        let lua = Lua::new();
        decision(&plan(), &|h| h == "sb.example", eval(&lua, src))
    }

    #[test]
    fn the_request_table_carries_every_field() {
        let lua = Lua::new();
        let p = plan();
        let dest = p.classify("6200-6200#082").unwrap();
        let caller = Aor::from_canonical("+82111234567");
        let callee = CalleeState {
            aor: Some(Aor::from_canonical("1001")),
            account: true,
            devices: 2,
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
        let t = request(&lua, &p, &req).unwrap();
        lua.globals().set("req", t).unwrap();
        let got: String = lua
            .load(
                "return table.concat({req.method, req.dest.kind, req.dest['local'], req.dest.country, \
                 req.dest.branch, req.caller, req.callee.devices, req.callee.forwarding.busy, \
                 req.history[1].number, req.history[1].reason, req.clock.hour, req.clock.minute, \
                 req.clock.weekday}, ' ')",
            )
            .eval()
            .unwrap();
        // 2025-12-01 was a Monday
        assert_eq!(
            got,
            "INVITE enterprise 62006200 82 1001 +82111234567 2 1002 1009 user-busy 8 30 2"
        );
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
        let e = |src: &str| decide(src).unwrap_err().to_string();
        assert!(e("return 42").contains("decision"));
        assert!(e("return {action = 'explode'}").contains("unknown decision"));
        assert!(e("return deliver('1001', {bussy = '1002'})").contains("bussy"));
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
}
