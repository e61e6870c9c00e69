//! One sandboxed Lua 5.4 interpreter holding a set of routing plugins.
//!
//! What a plugin can reach: `table`, `string` (without `dump`), `math`, `utf8`, the base
//! functions that only compute (`pairs`, `ipairs`, `select`, `type`, `tostring`,
//! `tonumber`, `error`, `assert`, `pcall`, `next`, `rawequal`, `rawget`, `rawlen`, `rawset`,
//! `setmetatable`, `getmetatable`), the decision helpers and `log`. Not there: `io`, `os`,
//! `debug`, `package`/`require`, `load`/`loadfile`/`dofile` (so no bytecode either: sources
//! are loaded as text only), `collectgarbage`, `print`, coroutines (a coroutine would run
//! outside the instruction budget). Each plugin file gets its own global table over private
//! copies of the libraries, so one plugin cannot change what another sees.
//!
//! Every entry into Lua (a file's top level, `route`, `classify`, a test) runs on a budget of
//! `max_instructions` VM instructions; the whole interpreter is capped at `max_memory` bytes.
//! Running out of either fails that one entry with a `RouteError` and leaves the interpreter
//! usable.

use std::cell::Cell;
use std::rc::Rc;

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use switchboard_engine::routing::{Depends, RouteError, RouteErrorKind};

/// Instructions between two budget checks.
const HOOK_EVERY: u32 = 1000;

/// Per-entry limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_instructions: u64,
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_instructions: 1_000_000,
            max_memory: 16 << 20,
        }
    }
}

/// One plugin file, compiled.
pub struct Loaded {
    pub name: String,
    pub route: Option<Function>,
    pub classify: Option<Function>,
    pub tests: Option<Table>,
    /// The request fields its `route` decisions depend on (`route_depends_on`), when it says:
    /// its decisions may then be reused for requests that agree on them.
    pub depends: Option<Depends>,
}

/// The decision helpers every plugin can call; they only build tables, which the host checks
/// when a decision comes back.
const PRELUDE: &str = r#"
function deliver(number, opts)
  local d = { action = "deliver", number = number }
  if opts ~= nil then
    if type(opts) ~= "table" then error("deliver: options must be a table", 2) end
    for k, v in pairs(opts) do d[k] = v end
  end
  return d
end
function forward(target, reason) return { action = "forward", target = target, reason = reason } end
function trunk(name, number) return { action = "trunk", name = name, number = number } end
function reject(code, reason) return { action = "reject", code = code, reason = reason } end
function pass() return { action = "pass" } end
-- pcall and xpcall that do not swallow the end of the instruction budget: a plugin may catch
-- its own errors, never the switch's decision to stop it
local raw_pcall, raw_xpcall, exhausted = pcall, xpcall, __switchboard_exhausted
__switchboard_exhausted = nil
local function rethrow(ok, ...)
  if not ok and exhausted() then error((...), 0) end
  return ok, ...
end
function __switchboard_pcall(f, ...) return rethrow(raw_pcall(f, ...)) end
function __switchboard_xpcall(f, h, ...) return rethrow(raw_xpcall(f, h, ...)) end
"#;

/// Base functions a plugin keeps.
const BASE: &[&str] = &[
    "assert",
    "error",
    "getmetatable",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawlen",
    "rawset",
    "select",
    "setmetatable",
    "tonumber",
    "tostring",
    "type",
    "xpcall",
    "_VERSION",
];

const HELPERS: &[&str] = &["deliver", "forward", "trunk", "reject", "pass"];
const LIBS: &[&str] = &["table", "string", "math", "utf8"];

pub struct Sandbox {
    lua: Lua,
    budget: Rc<Cell<u64>>,
    exhausted: Rc<Cell<bool>>,
    limits: Limits,
    /// The trusted functions that build requests and read decisions.
    pub entry: super::convert::Entry,
    pub plugins: Vec<Loaded>,
}

impl Sandbox {
    pub fn new(limits: Limits) -> Result<Sandbox, RouteError> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8;
        let lua = Lua::new_with(libs, LuaOptions::default()).map_err(failed)?;
        let budget = Rc::new(Cell::new(0u64));
        let exhausted = Rc::new(Cell::new(false));
        {
            let (b, e) = (budget.clone(), exhausted.clone());
            lua.set_hook(
                HookTriggers::new().every_nth_instruction(HOOK_EVERY),
                move |_, _| {
                    let left = b.get();
                    if left == 0 {
                        e.set(true);
                        return Err(mlua::Error::runtime("instruction budget exhausted"));
                    }
                    b.set(left - 1);
                    Ok(VmState::Continue)
                },
            )
            .map_err(failed)?;
        }
        let g = lua.globals();
        // the string metatable stays out of reach: `getmetatable("")` would hand every plugin
        // the one shared `string` table
        let string_mt: Table = lua.load("return getmetatable('')").eval().map_err(failed)?;
        string_mt.raw_set("__metatable", false).map_err(failed)?;
        if let Ok(s) = g.get::<Table>("string") {
            s.raw_set("dump", Value::Nil).map_err(failed)?;
        }
        {
            let e = exhausted.clone();
            let f = lua
                .create_function(move |_, ()| Ok(e.get()))
                .map_err(failed)?;
            g.raw_set("__switchboard_exhausted", f).map_err(failed)?;
        }
        lua.load(PRELUDE)
            .set_name("prelude")
            .exec()
            .map_err(failed)?;
        lua.load(super::convert::PRELUDE)
            .set_name("prelude")
            .exec()
            .map_err(failed)?;
        let entry = super::convert::Entry::new(&lua).map_err(failed)?;
        let mut sb = Sandbox {
            lua,
            budget,
            exhausted,
            limits,
            entry,
            plugins: Vec::new(),
        };
        // limits apply from here: the prelude is ours
        sb.lua.set_memory_limit(limits.max_memory).map_err(failed)?;
        sb.plugins.reserve(4);
        Ok(sb)
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Compiles and runs one plugin file in a fresh environment; keeps its `route`,
    /// `classify` and `tests`.
    pub fn load(&mut self, name: &str, source: &str) -> Result<(), RouteError> {
        let env = self.environment(name).map_err(failed)?;
        let chunk = self
            .lua
            .load(source)
            .set_name(format!("={name}"))
            .set_mode(ChunkMode::Text)
            .set_environment(env.clone());
        self.enter(|| chunk.exec())?;
        let func = |key: &str| -> Result<Option<Function>, RouteError> {
            match env.raw_get::<Value>(key).map_err(failed)? {
                Value::Nil => Ok(None),
                Value::Function(f) => Ok(Some(f)),
                _ => Err(RouteError::new(
                    RouteErrorKind::Failed,
                    format!("{name}: `{key}` must be a function"),
                )),
            }
        };
        let route = func("route")?;
        let classify = func("classify")?;
        if route.is_none() && classify.is_none() {
            return Err(RouteError::new(
                RouteErrorKind::Failed,
                format!("{name}: defines neither route(req) nor classify(dialed, req)"),
            ));
        }
        let tests = match env.raw_get::<Value>("tests").map_err(failed)? {
            Value::Nil => None,
            Value::Table(t) => Some(t),
            _ => {
                return Err(RouteError::new(
                    RouteErrorKind::Failed,
                    format!("{name}: `tests` must be a table"),
                ))
            }
        };
        let depends = match env.raw_get::<Value>("route_depends_on").map_err(failed)? {
            Value::Nil => None,
            Value::Table(t) => {
                let names = t
                    .sequence_values::<String>()
                    .collect::<mlua::Result<Vec<String>>>()
                    .map_err(|_| depends_error(name, "must be a list of field names"))?;
                let d = Depends::parse(names.iter().map(String::as_str))
                    .map_err(|e| depends_error(name, &e.to_string()))?;
                Some(d)
            }
            _ => return Err(depends_error(name, "must be a list of field names")),
        };
        self.plugins.push(Loaded {
            name: name.to_owned(),
            route,
            classify,
            tests,
            depends,
        });
        Ok(())
    }

    /// Runs `f` (which enters Lua) on a fresh instruction budget, turning budget and memory
    /// exhaustion into their own error kinds.
    pub fn enter<R>(&self, f: impl FnOnce() -> mlua::Result<R>) -> Result<R, RouteError> {
        self.budget
            .set(self.limits.max_instructions.div_ceil(u64::from(HOOK_EVERY)));
        self.exhausted.set(false);
        let r = f();
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let err = if self.exhausted.get() {
                    RouteError::new(
                        RouteErrorKind::Timeout,
                        format!(
                            "ran past its budget of {} instructions",
                            self.limits.max_instructions
                        ),
                    )
                } else if is_memory(&e) {
                    RouteError::new(
                        RouteErrorKind::Memory,
                        format!(
                            "ran past its memory limit of {} bytes",
                            self.limits.max_memory
                        ),
                    )
                } else {
                    let m = message(&e);
                    match m.strip_prefix(super::convert::BAD_DECISION) {
                        Some(rest) => RouteError::new(RouteErrorKind::BadDecision, rest),
                        None => RouteError::new(RouteErrorKind::Failed, m),
                    }
                };
                if err.kind == RouteErrorKind::Memory {
                    // give the memory back so the next request starts clean
                    let _ = self.lua.gc_collect();
                }
                Err(err)
            }
        }
    }

    /// A global table for one plugin: the allowed base functions, private copies of the
    /// libraries, the helpers and `log`.
    fn environment(&self, plugin: &str) -> mlua::Result<Table> {
        let g = self.lua.globals();
        let env = self.lua.create_table()?;
        for k in BASE.iter().chain(HELPERS) {
            env.raw_set(*k, g.raw_get::<Value>(*k)?)?;
        }
        env.raw_set("pcall", g.raw_get::<Value>("__switchboard_pcall")?)?;
        env.raw_set("xpcall", g.raw_get::<Value>("__switchboard_xpcall")?)?;
        for lib in LIBS {
            let src: Table = g.raw_get(*lib)?;
            let copy = self.lua.create_table()?;
            for pair in src.pairs::<Value, Value>() {
                let (k, v) = pair?;
                copy.raw_set(k, v)?;
            }
            env.raw_set(*lib, copy)?;
        }
        let name = plugin.to_owned();
        let log = self.lua.create_function(move |_, msg: mlua::LuaString| {
            tracing::debug!(plugin = %name, message = %msg.to_string_lossy(), "plugin log");
            Ok(())
        })?;
        env.raw_set("log", log)?;
        env.raw_set("_G", env.clone())?;
        Ok(env)
    }
}

fn is_memory(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory(cause),
        _ => false,
    }
}

/// The first line of a Lua error, without the traceback.
fn message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::CallbackError { cause, .. } => return message(cause),
        mlua::Error::RuntimeError(m) | mlua::Error::SyntaxError { message: m, .. } => m.clone(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or("").to_owned()
}

fn depends_error(plugin: &str, what: &str) -> RouteError {
    RouteError::new(
        RouteErrorKind::Failed,
        format!("{plugin}: `route_depends_on`: {what}"),
    )
}

fn failed(e: mlua::Error) -> RouteError {
    RouteError::new(RouteErrorKind::Failed, message(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> Sandbox {
        Sandbox::new(Limits {
            max_instructions: 100_000,
            max_memory: 4 << 20,
        })
        .unwrap()
    }

    fn run(sb: &mut Sandbox, src: &str) -> Result<Value, RouteError> {
        let name = format!("t{}.lua", sb.plugins.len());
        sb.load(&name, &format!("{src}\nfunction route(req) return nil end"))?;
        Ok(Value::Nil)
    }

    #[test]
    fn the_dangerous_libraries_are_not_there() {
        let mut sb = sandbox();
        for escape in [
            "io.open('/etc/passwd')",
            "os.execute('true')",
            "debug.getinfo(1)",
            "require('os')",
            "load('return 1')()",
            "loadfile('/etc/passwd')",
            "dofile('/etc/passwd')",
            "string.dump(function() end)",
            "collectgarbage()",
            "coroutine.create(function() end)",
            "package.loadlib('x', 'y')",
            "print('x')",
        ] {
            let e = run(&mut sb, escape).unwrap_err();
            assert_eq!(e.kind, RouteErrorKind::Failed, "{escape}");
            assert!(e.message.contains("nil"), "{escape}: {}", e.message);
        }
    }

    #[test]
    fn bytecode_is_refused() {
        let mut sb = sandbox();
        let e = sb.load("bin.lua", "\x1bLua\x54\x00").unwrap_err();
        assert!(
            e.message.contains("binary") || e.message.contains("text"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_string_metatable_is_out_of_reach_and_libraries_are_private() {
        let mut sb = sandbox();
        sb.load(
            "a.lua",
            "string.upper = nil; function route(req) return getmetatable('') end",
        )
        .unwrap();
        sb.load("b.lua", "function route(req) return string.upper('x') end")
            .unwrap();
        let a: Value = sb
            .enter(|| sb.plugins[0].route.as_ref().unwrap().call(()))
            .unwrap();
        assert_eq!(a, Value::Boolean(false));
        let b: String = sb
            .enter(|| sb.plugins[1].route.as_ref().unwrap().call(()))
            .unwrap();
        assert_eq!(b, "X", "plugin a changed only its own copy of string");
    }

    #[test]
    fn a_runaway_loop_is_cut_off_and_the_interpreter_keeps_working() {
        let mut sb = sandbox();
        sb.load(
            "spin.lua",
            "function route(req) if req then while true do end end return 1 end",
        )
        .unwrap();
        let f = sb.plugins[0].route.clone().unwrap();
        let e = sb.enter(|| f.call::<Value>(true)).unwrap_err();
        assert_eq!(e.kind, RouteErrorKind::Timeout);
        let v: i64 = sb.enter(|| f.call(Value::Nil)).unwrap();
        assert_eq!(v, 1);
    }

    #[test]
    fn pcall_cannot_catch_the_end_of_the_budget() {
        let mut sb = sandbox();
        sb.load(
            "catch.lua",
            "function route(req)\n\
               if req == 1 then while true do pcall(function() while true do end end) end end\n\
               if req == 2 then while true do xpcall(function() while true do end end, function(e) return e end) end end\n\
               local ok, e = pcall(error, 'mine')\n\
               return (not ok) and e == 'mine'\n\
             end",
        )
        .unwrap();
        let f = sb.plugins[0].route.clone().unwrap();
        for which in [1, 2] {
            let e = sb.enter(|| f.call::<Value>(which)).unwrap_err();
            assert_eq!(e.kind, RouteErrorKind::Timeout, "{which}: {}", e.message);
        }
        let own: bool = sb.enter(|| f.call(3)).unwrap();
        assert!(own, "a plugin still catches its own errors");
    }

    #[test]
    fn a_memory_bomb_is_cut_off_and_the_memory_comes_back() {
        let mut sb = sandbox();
        sb.load(
            "bomb.lua",
            "function route(req) if req then local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end end return 2 end",
        )
        .unwrap();
        let f = sb.plugins[0].route.clone().unwrap();
        let e = sb.enter(|| f.call::<Value>(true)).unwrap_err();
        assert_eq!(e.kind, RouteErrorKind::Memory, "{}", e.message);
        assert!(sb.lua().used_memory() < 1 << 20);
        let v: i64 = sb.enter(|| f.call(Value::Nil)).unwrap();
        assert_eq!(v, 2);
    }

    #[test]
    fn top_level_code_runs_on_the_budget_too() {
        let mut sb = sandbox();
        let e = sb.load("top.lua", "while true do end").unwrap_err();
        assert_eq!(e.kind, RouteErrorKind::Timeout);
        let e = sb.load("none.lua", "x = 1").unwrap_err();
        assert!(e.message.contains("neither route"), "{}", e.message);
        let e = sb.load("syntax.lua", "function route(").unwrap_err();
        assert!(e.message.contains("syntax.lua"), "{}", e.message);
    }
}
