//! The plugin host: decisions, chaining, the tests table, reload (accepted and rejected),
//! versions per thread and per call.

use super::*;
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::routing::{CalleeState, DiversionReason, Fallbacks, Target};
use switchboard_engine::routing::{Decision, RouteErrorKind, RouteRequest};
use switchboard_engine::sip::Method;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("sb-plugins-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plan() -> NumberingPlan {
    NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()])
}

fn local() -> Arc<Local> {
    Arc::new(Local::new("127.0.0.1", 5060, "sb.example"))
}

fn host(dir: Option<&Dir>) -> Result<PluginHost, PluginError> {
    PluginHost::start(
        dir.map(|d| d.0.clone()),
        plan(),
        local(),
        Limits {
            max_instructions: 200_000,
            max_memory: 8 << 20,
        },
        RouterMode::Lua,
        Arc::new(Metrics::new()),
    )
}

fn route(
    r: &dyn Router,
    dialed: &str,
    callee: Option<&CalleeState>,
) -> Result<Decision, RouteError> {
    let p = plan();
    let dialed = r
        .rewrite(dialed, None)?
        .unwrap_or_else(|| dialed.to_owned());
    let d = p.resolve(p.classify(&dialed).unwrap());
    r.route(&RouteRequest {
        method: Method::Invite,
        dialed: &dialed,
        destination: &d,
        caller: None,
        time: 0,
        callee,
        history: &[],
    })
    .map(|r| r.decision)
}

fn deliver(a: &str) -> Decision {
    Decision::Deliver {
        aor: Aor::from_canonical(a),
        otherwise: Fallbacks::default(),
    }
}

const VERSION_A: &str = r#"
function route(req) if req.dest.number == "1099" then return reject(480, "Version A") end end
tests = { { dialed = "1099", expect = reject(480, "Version A") }, { dialed = "1001", expect = pass() } }
"#;
const VERSION_B: &str = r#"
function route(req) if req.dest.number == "1099" then return reject(480, "Version B") end end
tests = { { dialed = "1099", expect = reject(480, "Version B") } }
"#;

#[test]
fn the_embedded_default_routes_when_the_directory_is_empty_and_passes_its_tests() {
    let d = Dir::new("empty");
    let h = host(Some(&d)).unwrap();
    let rep = h.report();
    assert_eq!(rep.files, [DEFAULT_NAME]);
    assert_eq!(rep.version, 1);
    assert!(rep.tests >= 10, "default.lua has its tests: {}", rep.tests);
    let r = h.router();
    assert_eq!(route(&*r, "1001", None).unwrap(), deliver("1001"));
    assert_eq!(
        route(&*r, "+1 212 555 1234", None).unwrap(),
        Decision::Trunk {
            group: "pstn".into(),
            number: "+12125551234".into()
        }
    );
    let callee = CalleeState {
        aor: Some(Aor::from_canonical("1001")),
        account: true,
        devices: 1,
        voicemail: false,
        forwarding: switchboard_engine::forwarding::ForwardingRecord {
            always: Some("1002".into()),
            ..Default::default()
        },
    };
    assert_eq!(
        route(&*r, "1001", Some(&callee)).unwrap(),
        Decision::Forward {
            target: Target::Address(Destination::Subscriber(Aor::from_canonical("1002"))),
            reason: DiversionReason::Unconditional,
        }
    );
}

#[test]
fn plugins_chain_in_name_order_and_fall_back_to_the_built_in_routing() {
    let d = Dir::new("chain");
    d.write(
        "10-vip.lua",
        r#"
function route(req)
  if req.caller == "1001" then return deliver("1003") end
  return pass()
end
"#,
    );
    d.write(
        "20-speed.lua",
        r#"
function classify(dialed, req) if dialed == "*1" then return "1002" end end
function route(req) if req.dest.number == "1002" then return forward("1004", "follow-me") end end
tests = { { dialed = "*1", expect = forward("1004", "follow-me") } }
"#,
    );
    d.write("notes.txt", "not a plugin");
    let h = host(Some(&d)).unwrap();
    assert_eq!(h.report().files, ["10-vip.lua", "20-speed.lua"]);
    let r = h.router();
    // speed dial rewritten by the classify hook, then routed by the second plugin
    assert!(matches!(
        route(&*r, "*1", None).unwrap(),
        Decision::Forward {
            reason: DiversionReason::FollowMe,
            ..
        }
    ));
    // neither plugin decides: the built-in routing does
    assert_eq!(route(&*r, "1007", None).unwrap(), deliver("1007"));
    let p = plan();
    let dest = p.classify("1007").unwrap();
    let caller = Aor::from_canonical("1001");
    let vip = r
        .route(&RouteRequest {
            method: Method::Invite,
            dialed: "1007",
            destination: &dest,
            caller: Some(&caller),
            time: 0,
            callee: None,
            history: &[],
        })
        .unwrap();
    assert_eq!(vip.decision, deliver("1003"));
}

#[test]
fn a_failing_plugin_fails_the_request_with_a_kind() {
    let d = Dir::new("fail");
    d.write("f.lua", r#"
function route(req)
  if req.dest.number == "1666" then error("no route for the beast") end
  if req.dest.number == "1777" then while true do end end
  if req.dest.number == "1888" then return { action = "deliver", number = "1001", colour = "red" } end
end
"#);
    let h = host(Some(&d)).unwrap();
    let r = h.router();
    let e = route(&*r, "1666", None).unwrap_err();
    assert_eq!(e.kind, RouteErrorKind::Failed);
    assert!(
        e.message.contains("f.lua") && e.message.contains("beast"),
        "{}",
        e.message
    );
    assert_eq!(e.status(), (500, "Routing Plugin Error"));
    let e = route(&*r, "1777", None).unwrap_err();
    assert_eq!(e.kind, RouteErrorKind::Timeout);
    assert_eq!(e.status().0, 503);
    let e = route(&*r, "1888", None).unwrap_err();
    assert_eq!(e.kind, RouteErrorKind::BadDecision);
    assert!(e.message.contains("colour"), "{}", e.message);
    // the interpreter is fine afterwards
    assert_eq!(route(&*r, "1001", None).unwrap(), deliver("1001"));
}

#[test]
fn a_version_failing_its_tests_or_compile_is_rejected_and_the_old_one_keeps_routing() {
    let d = Dir::new("reload");
    d.write("route.lua", VERSION_A);
    let h = host(Some(&d)).unwrap();
    let a = h.router();
    assert_eq!(
        route(&*a, "1099", None).unwrap(),
        Decision::Reject {
            code: 480,
            reason: "Version A".into()
        }
    );

    // a test that does not hold
    d.write(
        "route.lua",
        &VERSION_B.replace(
            "reject(480, \"Version B\") } }",
            "reject(486, \"Nope\") } }",
        ),
    );
    let e = h.reload().unwrap_err();
    assert!(e.to_string().contains("route.lua: test 1"), "{e}");
    assert!(e.to_string().contains("expected reject(486"), "{e}");
    // a syntax error
    d.write("route.lua", "function route(req) return deliver('1001' end");
    let e = h.reload().unwrap_err();
    assert!(e.to_string().starts_with("route.lua:"), "{e}");
    assert_eq!(h.report().version, 1, "still the first version");
    assert!(Rc::ptr_eq(&a, &h.router()), "the thread keeps its router");

    d.write("route.lua", VERSION_B);
    let rep = h.reload().unwrap();
    assert_eq!(rep.version, 2);
    let b = h.router();
    assert_eq!(b.version(), 2);
    assert_eq!(
        route(&*b, "1099", None).unwrap(),
        Decision::Reject {
            code: 480,
            reason: "Version B".into()
        }
    );
    // a call that started on version 1 still has it
    assert_eq!(a.version(), 1);
    assert_eq!(
        route(&*a, "1099", None).unwrap(),
        Decision::Reject {
            code: 480,
            reason: "Version A".into()
        }
    );
    let m = h.metrics.encode();
    assert!(
        m.contains("switchboard_plugin_reloads_total{outcome=\"rejected\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("switchboard_plugin_reloads_total{outcome=\"accepted\"} 1"),
        "{m}"
    );
    assert!(m.contains("switchboard_plugin_version 2"), "{m}");
}

#[test]
fn every_thread_compiles_the_published_version_for_itself() {
    let d = Dir::new("threads");
    d.write("route.lua", VERSION_A);
    let h = Arc::new(host(Some(&d)).unwrap());
    d.write("route.lua", VERSION_B);
    h.reload().unwrap();
    let h2 = h.clone();
    let other = std::thread::spawn(move || {
        let r = h2.router();
        (r.version(), route(&*r, "1099", None).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(
        other,
        (
            2,
            Decision::Reject {
                code: 480,
                reason: "Version B".into()
            }
        )
    );
}

#[test]
fn a_broken_plugin_at_start_is_an_error() {
    let d = Dir::new("broken");
    d.write("x.lua", "route = 42");
    let e = host(Some(&d)).err().expect("refused");
    assert!(e.to_string().contains("`route` must be a function"), "{e}");
}

#[test]
fn check_file_runs_the_same_validation() {
    let d = Dir::new("check");
    let path = d.0.join("default.lua");
    std::fs::write(&path, DEFAULT_PLUGIN).unwrap();
    let rep = check_file(&path, &plan(), &local(), Limits::default()).unwrap();
    assert_eq!(rep.files, ["default.lua"]);
    assert!(rep.tests >= 10);
    std::fs::write(&path, "function route(req) return trunk('pstn', 'not digits') end\ntests = { { dialed = '1001', expect = pass() } }").unwrap();
    let e = check_file(&path, &plan(), &local(), Limits::default()).unwrap_err();
    assert!(e.to_string().contains("trunk number"), "{e}");
    let e = check_file(
        &d.0.join("missing.lua"),
        &plan(),
        &local(),
        Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PluginError::Read { .. }));
}

#[test]
fn tests_tables_are_checked_strictly() {
    let d = Dir::new("strict");
    d.write(
        "t.lua",
        "function route(req) end\ntests = { { dialed = '1001', expct = pass() } }",
    );
    let e = host(Some(&d)).err().unwrap();
    assert!(
        e.to_string().contains("unknown test field \"expct\""),
        "{e}"
    );
    d.write(
        "t.lua",
        "function route(req) end\ntests = { { dialed = '1001' } }",
    );
    let e = host(Some(&d)).err().unwrap();
    assert!(e.to_string().contains("`expect` is missing"), "{e}");
    d.write(
        "t.lua",
        "function route(req) end\ntests = { { dialed = '*73', expect = pass() } }",
    );
    let e = host(Some(&d)).err().unwrap();
    assert!(e.to_string().contains("feature codes"), "{e}");
}

#[test]
fn the_plain_mode_needs_no_interpreter() {
    let h = PluginHost::start(
        None,
        plan(),
        local(),
        Limits::default(),
        RouterMode::Plain,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let r = h.router();
    assert_eq!(r.version(), 0);
    assert_eq!(route(&*r, "1001", None).unwrap(), deliver("1001"));
}

#[test]
fn the_example_plugins_pass_their_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/examples");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "lua") {
            let rep = check_file(&path, &plan(), &local(), Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(rep.tests >= 2, "{}: has tests", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 4, "examples found: {checked}");
    // and together with the default plugin, in one directory, they still load
    let d = Dir::new("examples");
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = format!("50-{}", path.file_name().unwrap().to_string_lossy());
        std::fs::copy(&path, d.0.join(name)).unwrap();
    }
    std::fs::write(d.0.join("90-default.lua"), DEFAULT_PLUGIN).unwrap();
    let h = host(Some(&d)).unwrap();
    let r = h.router();
    let speed = r.rewrite("*1", None).unwrap();
    assert_eq!(speed.as_deref(), Some("1001"));
}

/// A router of the plugin files `files` (name, text), version 1.
fn lua_router(files: &[(&str, &str)]) -> Result<LuaRouter, PluginError> {
    let set = PluginSet {
        version: 1,
        digest: String::new(),
        files: files
            .iter()
            .map(|(name, source)| PluginFile {
                name: (*name).into(),
                source: (*source).into(),
            })
            .collect(),
        tests: 0,
    };
    LuaRouter::build(&set, &plan(), &local(), Limits::default())
}

/// Routes "1001" at Unix time `time` and gives the reject code the plugin chose.
fn code_at(r: &LuaRouter, time: u64) -> u16 {
    let p = plan();
    let d = p.resolve(p.classify("1001").unwrap());
    let req = RouteRequest {
        method: Method::Invite,
        dialed: "1001",
        destination: &d,
        caller: None,
        time,
        callee: None,
        history: &[],
    };
    match r.route(&req).unwrap().decision {
        Decision::Reject { code, .. } => code,
        other => panic!("expected a reject, got {other:?}"),
    }
}

/// A plugin whose decision changes with the time (480 before 1000, 486 after).
const BY_TIME: &str = r#"
function route(req) if req.time < 1000 then return reject(480, "Early") end return reject(486, "Late") end
"#;

#[test]
fn a_plugin_that_declares_its_dependencies_decides_once_per_distinct_request() {
    let declared = format!("route_depends_on = {{ \"method\", \"dest\", \"callee\" }}\n{BY_TIME}");
    let r = lua_router(&[("by-time.lua", &declared)]).unwrap();
    assert_eq!(code_at(&r, 0), 480);
    assert_eq!(
        code_at(&r, 5000),
        480,
        "the time is not a declared dependency: the first decision is reused"
    );
    assert_eq!(r.memo_len(), 1);
}

#[test]
fn a_plugin_that_does_not_declare_is_asked_every_time() {
    let undeclared = lua_router(&[("by-time.lua", BY_TIME)]).unwrap();
    assert_eq!(code_at(&undeclared, 0), 480);
    assert_eq!(code_at(&undeclared, 5000), 486);
    assert_eq!(undeclared.memo_len(), 0);
    // one plugin in the chain that does not say is enough: an earlier one's pass may depend
    // on anything
    let declared = format!("route_depends_on = {{ \"callee\" }}\n{BY_TIME}");
    let chain = lua_router(&[
        ("10-first.lua", "function route(req) return pass() end"),
        ("20-by-time.lua", &declared),
    ])
    .unwrap();
    assert_eq!(code_at(&chain, 0), 480);
    assert_eq!(code_at(&chain, 5000), 486);
}

#[test]
fn a_dependency_on_the_time_or_an_unknown_field_is_refused_at_load() {
    let on_time = format!("route_depends_on = {{ \"callee\", \"clock\" }}\n{BY_TIME}");
    let err = lua_router(&[("t.lua", &on_time)]).err().expect("refused");
    assert!(err.to_string().contains("route_depends_on"), "{err}");
    assert!(err.to_string().contains("clock"), "{err}");
    let unknown = format!("route_depends_on = {{ \"callee\", \"weather\" }}\n{BY_TIME}");
    assert!(lua_router(&[("u.lua", &unknown)]).is_err());
    let not_a_list = format!("route_depends_on = \"callee\"\n{BY_TIME}");
    assert!(lua_router(&[("n.lua", &not_a_list)]).is_err());
}

#[test]
fn the_default_plugin_declares_what_it_reads() {
    let r = lua_router(&[(DEFAULT_NAME, DEFAULT_PLUGIN)]).unwrap();
    let p = plan();
    let d = p.resolve(p.classify("1001").unwrap());
    for time in [0, 86_400] {
        let req = RouteRequest {
            method: Method::Invite,
            dialed: "1001",
            destination: &d,
            caller: None,
            time,
            callee: None,
            history: &[],
        };
        assert_eq!(r.route(&req).unwrap().decision, deliver("1001"));
    }
    assert_eq!(
        r.memo_len(),
        1,
        "the second request reused the first decision"
    );
}
