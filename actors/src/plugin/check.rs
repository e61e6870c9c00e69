//! A plugin's own `tests` table: inputs and the decisions they must produce. A new version
//! replaces the running one only when every test of every plugin passes.
//!
//! ```lua
//! tests = {
//!   { name = "on-net", dialed = "1001", expect = deliver("1001") },
//!   { dialed = "1001", callee = { forwarding = { always = "1002" } },
//!     expect = forward("1002", "unconditional") },
//!   { dialed = "+1 212 555 1234", method = "MESSAGE", expect = trunk("pstn", "+12125551234") },
//! }
//! ```
//!
//! Fields of a test: `dialed` (required), `expect` (required: a decision, or `pass()` when the
//! plugin must leave the request to the next one), `rewritten` (what the plugin's `classify`
//! hook must turn `dialed` into), `name`, `method` (`INVITE`), `caller`,
//! `time` (0), `callee` (`{ account = true, devices = 1, forwarding = {...} }` by default when
//! the destination is one of our subscribers), `plan` (a numbering plan of the test's own, see
//! `plan_from`; without one the configured plan is used). The dialed string goes through the
//! plugin's own `classify` hook and the plan, as a live request would.

use mlua::{Table, Value};
use switchboard_engine::numbering::{
    Aor, Branch, Destination, NumberFormat, NumberingPlan, Provider,
};
use switchboard_engine::routing::{
    CalleeState, Decision, DecisionError, RouteRequest, Routed, Target,
};
use switchboard_engine::sip::Method;

use super::convert;
use super::router::LuaRouter;

/// Runs every plugin's tests; returns how many ran, or the first failure.
pub fn run(router: &LuaRouter) -> Result<usize, String> {
    let mut ran = 0;
    for (i, p) in router.sandbox.plugins.iter().enumerate() {
        let Some(tests) = &p.tests else { continue };
        for (n, case) in tests.sequence_values::<Value>().enumerate() {
            let label = |case: &Table| match case.raw_get::<Option<String>>("name") {
                Ok(Some(name)) => format!("{}: test {} ({name})", p.name, n + 1),
                _ => format!("{}: test {}", p.name, n + 1),
            };
            let case = match case {
                Ok(Value::Table(t)) => t,
                _ => return Err(format!("{}: test {} is not a table", p.name, n + 1)),
            };
            run_one(router, i, &case).map_err(|e| format!("{}: {e}", label(&case)))?;
            ran += 1;
        }
    }
    Ok(ran)
}

fn run_one(router: &LuaRouter, plugin: usize, case: &Table) -> Result<(), String> {
    let field = |e: DecisionError| e.to_string();
    let own_plan = match case.raw_get::<Value>("plan").map_err(|e| e.to_string())? {
        Value::Nil => None,
        Value::Table(t) => Some(plan_from(&t, router.plain.plan().country())?),
        _ => return Err("`plan` must be a table".into()),
    };
    let plan = own_plan.as_ref().unwrap_or(router.plain.plan());
    let get_str = |k: &'static str| -> Result<Option<String>, String> {
        match case.raw_get::<Value>(k).map_err(|e| e.to_string())? {
            Value::Nil => Ok(None),
            Value::String(s) => Ok(Some(s.to_string_lossy())),
            _ => Err(format!("`{k}` must be a string")),
        }
    };
    for pair in case.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let known = matches!(&k, Value::String(s) if matches!(
            s.to_string_lossy().as_str(),
            "name"
                | "dialed"
                | "expect"
                | "rewritten"
                | "method"
                | "caller"
                | "time"
                | "callee"
                | "plan"
        ));
        if !known {
            return Err(format!("unknown test field {}", describe_key(&k)));
        }
    }
    let dialed = get_str("dialed")?.ok_or("`dialed` is missing")?;
    let method = match get_str("method")? {
        None => Method::Invite,
        Some(m) => Method::parse(m.as_bytes()),
    };
    let caller = match get_str("caller")? {
        None => None,
        Some(c) => Some(
            plan.canonical(&c)
                .map_err(|_| "`caller` is not a number or name")?,
        ),
    };
    let time = match case.raw_get::<Value>("time").map_err(|e| e.to_string())? {
        Value::Nil => 0,
        Value::Integer(t) => u64::try_from(t).map_err(|_| "`time` must not be negative")?,
        _ => return Err("`time` must be an integer".into()),
    };
    let expect_value = case.raw_get::<Value>("expect").map_err(|e| e.to_string())?;
    if expect_value.is_nil() {
        return Err("`expect` is missing (use pass() for no decision)".into());
    }
    let expect_parts = router
        .sandbox
        .enter(|| router.sandbox.entry.parts(expect_value))
        .map_err(|e| format!("expect: {}", e.message))?;
    let expect = convert::decision(plan, &|h| router.local.names_us(h), expect_parts)
        .map_err(|e| format!("expect: {}", field(e)))?;

    let p = &router.sandbox.plugins[plugin];
    let rewritten = match &p.classify {
        Some(f) => router.rewrite_with(f, &dialed, caller.as_ref())?,
        None => None,
    };
    let dialed_now = rewritten.as_deref().unwrap_or(&dialed);
    if let Some(want) = get_str("rewritten")? {
        if dialed_now != want {
            return Err(format!(
                "expected classify to give {want:?}, got {dialed_now:?}"
            ));
        }
    }
    let dest = plan
        .classify(dialed_now)
        .map_err(|e| format!("dialed: {e}"))?;
    if matches!(dest, Destination::Feature(_)) {
        return Err("dialed: feature codes are handled by the switch, not routed".into());
    }
    let dest = plan.resolve(dest);
    let callee = match case.raw_get::<Value>("callee").map_err(|e| e.to_string())? {
        Value::Nil => plan.subscriber_of(&dest).map(|aor| CalleeState {
            aor: Some(aor),
            account: true,
            devices: 1,
            voicemail: false,
            forwarding: Default::default(),
        }),
        Value::Table(t) => Some(callee_from(&t, plan.subscriber_of(&dest))?),
        _ => return Err("`callee` must be a table".into()),
    };
    let req = RouteRequest {
        method,
        dialed: dialed_now,
        destination: &dest,
        caller: caller.as_ref(),
        time,
        callee: callee.as_ref(),
        history: &[],
    };
    let got = match &p.route {
        Some(f) => router
            .call_route(f, &p.name, &req, plan)
            .map_err(|e| e.to_string())?,
        None => None,
    };
    if got != expect {
        return Err(format!(
            "expected {}, got {}",
            describe(expect.as_ref()),
            describe(got.as_ref())
        ));
    }
    Ok(())
}

/// A numbering plan a test brings along, so its expectations hold whatever the switch is
/// configured with:
///
/// ```lua
/// plan = { country = "KR", own_ranges = { "+8211" },
///          providers = { { name = "kt", prefixes = { "+8270" }, national = true } },
///          directory = { ["kim@acme.example"] = "011-123-4567" },
///          branches = { { ["local"] = "6200-6200", country = 82, subscriber = "1001" },
///                       { ["local"] = "6200-6200", country = 1, trunk = "us-branch" } } }
/// ```
fn plan_from(t: &Table, default_country: &str) -> Result<NumberingPlan, String> {
    let e = |m: &str| format!("plan.{m}");
    let strings = |v: Value, what: &str| -> Result<Vec<String>, String> {
        match v {
            Value::Nil => Ok(Vec::new()),
            Value::Table(list) => list
                .sequence_values::<String>()
                .collect::<mlua::Result<Vec<String>>>()
                .map_err(|_| e(&format!("{what} must be a list of strings"))),
            _ => Err(e(&format!("{what} must be a list of strings"))),
        }
    };
    let country: Option<String> = t
        .raw_get("country")
        .map_err(|_| e("country must be a string"))?;
    let country = country.unwrap_or_else(|| default_country.to_owned());
    let mut plan = NumberingPlan::new(&country).map_err(|_| e("country: unknown"))?;
    let own = strings(
        t.raw_get("own_ranges").map_err(|x| x.to_string())?,
        "own_ranges",
    )?;
    plan = plan.with_own_ranges(own);
    if let Value::Table(ps) = t.raw_get::<Value>("providers").map_err(|x| x.to_string())? {
        for p in ps.sequence_values::<Table>() {
            let p = p.map_err(|_| e("providers must be a list of tables"))?;
            let name: String = p.raw_get("name").map_err(|_| e("providers: name"))?;
            let prefixes = strings(
                p.raw_get("prefixes").map_err(|x| x.to_string())?,
                "providers.prefixes",
            )?;
            let flag = |k: &str| -> Result<bool, String> {
                p.raw_get::<Option<bool>>(k)
                    .map(|b| b.unwrap_or(false))
                    .map_err(|_| e(&format!("providers.{k} must be a boolean")))
            };
            let prefix: Option<String> = p.raw_get("prefix").map_err(|_| e("providers.prefix"))?;
            plan = plan.with_provider(Provider {
                name,
                prefixes,
                format: NumberFormat {
                    national: flag("national")?,
                    strip_plus: flag("strip_plus")?,
                    prefix: prefix.unwrap_or_default(),
                },
            });
        }
    }
    if let Value::Table(dir) = t.raw_get::<Value>("directory").map_err(|x| x.to_string())? {
        for pair in dir.pairs::<String, String>() {
            let (addr, number) = pair.map_err(|_| e("directory maps addresses to numbers"))?;
            plan = plan
                .with_directory_entry(&addr, &number)
                .map_err(|x| e(&format!("directory: {x}")))?;
        }
    }
    if let Value::Table(bs) = t.raw_get::<Value>("branches").map_err(|x| x.to_string())? {
        for b in bs.sequence_values::<Table>() {
            let b = b.map_err(|_| e("branches must be a list of tables"))?;
            let local: String = b.raw_get("local").map_err(|_| e("branches: local"))?;
            let country: u16 = b.raw_get("country").map_err(|_| e("branches: country"))?;
            let sub: Option<String> = b
                .raw_get("subscriber")
                .map_err(|_| e("branches: subscriber"))?;
            let trunk: Option<String> = b.raw_get("trunk").map_err(|_| e("branches: trunk"))?;
            let branch = match (sub, trunk) {
                (Some(s), None) => {
                    Branch::Subscriber(plan.canonical(&s).map_err(|_| e("branches: subscriber"))?)
                }
                (None, Some(t)) => Branch::Trunk(t),
                _ => return Err(e("branches: one of subscriber or trunk")),
            };
            plan = plan
                .with_branch(&local, country, branch)
                .map_err(|x| e(&format!("branches: {x}")))?;
        }
    }
    Ok(plan)
}

fn callee_from(t: &Table, aor: Option<Aor>) -> Result<CalleeState, String> {
    let account = match t.raw_get::<Value>("account").map_err(|e| e.to_string())? {
        Value::Nil => true,
        Value::Boolean(b) => b,
        _ => return Err("`callee.account` must be a boolean".into()),
    };
    let devices = match t.raw_get::<Value>("devices").map_err(|e| e.to_string())? {
        Value::Nil => 1,
        Value::Integer(n) => usize::try_from(n).map_err(|_| "`callee.devices` must be >= 0")?,
        _ => return Err("`callee.devices` must be an integer".into()),
    };
    let forwarding = match t
        .raw_get::<Value>("forwarding")
        .map_err(|e| e.to_string())?
    {
        Value::Nil => Default::default(),
        Value::Table(f) => {
            convert::forwarding_from(&f).map_err(|e| format!("callee.forwarding: {e}"))?
        }
        _ => return Err("`callee.forwarding` must be a table".into()),
    };
    Ok(CalleeState {
        aor,
        account,
        devices,
        voicemail: false,
        forwarding,
    })
}

fn describe_key(k: &Value) -> String {
    match k {
        Value::String(s) => format!("{:?}", s.to_string_lossy()),
        other => other.type_name().to_owned(),
    }
}

/// A decision as a plugin author wrote it: `deliver("1001", {busy = "1002"})`, with its media
/// fields (`anchor`, `record`) when it has any.
pub fn describe(r: Option<&Routed>) -> String {
    let text = describe_decision(r.map(|r| &r.decision));
    let Some(r) = r else { return text };
    let mut media = Vec::new();
    if let Some(a) = r.media.anchor {
        media.push(format!("anchor = {a}"));
    }
    if r.media.record {
        media.push("record = true".to_owned());
    }
    if media.is_empty() {
        text
    } else {
        format!("{text} with {{{}}}", media.join(", "))
    }
}

fn describe_decision(d: Option<&Decision>) -> String {
    let target = |t: &Target| match t {
        Target::Address(d) => switchboard_engine::routing::destination_key(d),
        Target::Uri(u) => u.clone(),
        Target::Voicemail => switchboard_engine::routing::VOICEMAIL.to_owned(),
    };
    match d {
        None => "pass()".into(),
        Some(Decision::Deliver { aor, otherwise }) => {
            let mut opts = Vec::new();
            if let Some(t) = &otherwise.busy {
                opts.push(format!("busy = {:?}", target(t)));
            }
            if let Some((t, ring)) = &otherwise.no_answer {
                opts.push(format!(
                    "no_answer = {:?}, ring_secs = {}",
                    target(t),
                    ring.as_secs()
                ));
            }
            if let Some(t) = &otherwise.unreachable {
                opts.push(format!("unreachable = {:?}", target(t)));
            }
            if opts.is_empty() {
                format!("deliver({:?})", aor.as_str())
            } else {
                format!("deliver({:?}, {{{}}})", aor.as_str(), opts.join(", "))
            }
        }
        Some(Decision::Forward { target: t, reason }) => {
            format!("forward({:?}, {:?})", target(t), reason.as_str())
        }
        Some(Decision::Trunk { group, number }) => format!("trunk({group:?}, {number:?})"),
        Some(Decision::Reject { code, reason }) => format!("reject({code}, {reason:?})"),
    }
}
