//! The routing plugin host: operators' Lua 5.4 scripts deciding where calls and messages go,
//! reloaded while the switch carries traffic.
//!
//! - `PluginHost` owns the published version: the plugin files (every `*.lua` of the plugin
//!   directory in name order, or the embedded `default.lua` when there are none), a version
//!   number and a digest. `reload` reads the files again, compiles them in a fresh sandbox and
//!   runs every plugin's `tests` table; only a set that passes replaces the running one, so a
//!   broken file keeps the old version routing.
//! - Each signalling arbiter keeps its own interpreter of the published version (`router`):
//!   the first request after a reload compiles it on that thread. A call holds the `Rc` of the
//!   router it started with for its whole life, so calls in progress finish on their version.
//! - `LuaRouter` chains the plugins: the first `route(req)` that returns a decision wins;
//!   `nil` or `pass()` hands the request to the next plugin, and after the last one the
//!   built-in routing (`PlainRouter`) decides. `classify(dialed, req)` hooks rewrite the dialed
//!   string before the plan classifies it.
//!
//! See `plugins/README.md` for the API plugin authors write against.

mod check;
mod convert;
mod router;
mod sandbox;
mod set;
pub mod watch;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sha2::{Digest, Sha256};
use switchboard_engine::numbering::NumberingPlan;
use switchboard_engine::proxy::Local;
use switchboard_engine::routing::{PlainRouter, RouteError, Router};
use tracing::{error, info, warn};

pub use check::describe;
pub use router::LuaRouter;
pub use sandbox::Limits;
pub use set::{PluginError, PluginFile, PluginReport, PluginSet, RouterMode};

use crate::metrics::{Metrics, OutcomeLabel};

/// The plugin shipped with the switch, used when the plugin directory holds no `*.lua` file.
pub const DEFAULT_PLUGIN: &str = include_str!("../../../plugins/default.lua");
/// The name the embedded plugin goes by.
pub const DEFAULT_NAME: &str = "default.lua (embedded)";

static NEXT_HOST: AtomicUsize = AtomicUsize::new(1);

/// One thread's router of one host.
struct ThreadRouter {
    host: usize,
    version: u64,
    router: Rc<dyn Router>,
}

thread_local! {
    static ROUTERS: RefCell<Vec<ThreadRouter>> = const { RefCell::new(Vec::new()) };
}

pub struct PluginHost {
    id: usize,
    dir: Option<PathBuf>,
    plan: NumberingPlan,
    local: Arc<Local>,
    limits: Limits,
    mode: RouterMode,
    current: RwLock<Arc<PluginSet>>,
    version: AtomicU64,
    reloading: Mutex<()>,
    metrics: Arc<Metrics>,
}

impl PluginHost {
    /// Loads and checks the plugins of `dir` (or the embedded default); fails when they do
    /// not compile or pass their tests. The first version is 1.
    pub fn start(
        dir: Option<PathBuf>,
        plan: NumberingPlan,
        local: Arc<Local>,
        limits: Limits,
        mode: RouterMode,
        metrics: Arc<Metrics>,
    ) -> Result<PluginHost, PluginError> {
        let files = read_files(dir.as_deref())?;
        let tests = validate(&files, &plan, &local, limits)?;
        let set = Arc::new(PluginSet {
            version: 1,
            digest: digest(&files),
            files,
            tests,
        });
        metrics.plugin_version.set(1);
        info!(
            version = 1,
            digest = %set.digest,
            files = ?names(&set.files),
            tests,
            mode = ?mode,
            "routing plugins loaded"
        );
        Ok(PluginHost {
            id: NEXT_HOST.fetch_add(1, Ordering::Relaxed),
            dir,
            plan,
            local,
            limits,
            mode,
            current: RwLock::new(set),
            version: AtomicU64::new(1),
            reloading: Mutex::new(()),
            metrics,
        })
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The published set.
    pub fn current(&self) -> Arc<PluginSet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn report(&self) -> PluginReport {
        report(&self.current())
    }

    /// Reads, compiles and tests the plugins again; publishes them as the next version only
    /// if all of that succeeds. On failure the running version stays and the error says why.
    pub fn reload(&self) -> Result<PluginReport, PluginError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = read_files(self.dir.as_deref()).and_then(|files| {
            let tests = validate(&files, &self.plan, &self.local, self.limits)?;
            Ok((files, tests))
        });
        let (files, tests) = match outcome {
            Ok(x) => x,
            Err(e) => {
                self.metrics
                    .plugin_reloads
                    .get_or_create(&OutcomeLabel {
                        outcome: "rejected",
                    })
                    .inc();
                warn!(error = %e, running = self.version.load(Ordering::Acquire), "plugin reload rejected; the running version stays");
                return Err(e);
            }
        };
        let version = self.version.load(Ordering::Acquire) + 1;
        let set = Arc::new(PluginSet {
            version,
            digest: digest(&files),
            files,
            tests,
        });
        let rep = report(&set);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = set;
        self.version.store(version, Ordering::Release);
        self.metrics.plugin_version.set(version as i64);
        self.metrics
            .plugin_reloads
            .get_or_create(&OutcomeLabel {
                outcome: "accepted",
            })
            .inc();
        info!(version, digest = %rep.digest, files = ?rep.files, tests, "routing plugins reloaded");
        Ok(rep)
    }

    /// This thread's router for the published version (compiled here on first use). Hold the
    /// returned `Rc` for the life of a call: it stays valid across reloads.
    pub fn router(&self) -> Rc<dyn Router> {
        let want = self.version.load(Ordering::Acquire);
        ROUTERS.with(|cell| {
            let mut routers = cell.borrow_mut();
            let slot = routers.iter().position(|r| r.host == self.id);
            if let Some(i) = slot {
                if routers[i].version == want {
                    return routers[i].router.clone();
                }
            }
            let set = self.current();
            let built: Result<Rc<dyn Router>, PluginError> = match self.mode {
                RouterMode::Plain => Ok(Rc::new(PlainRouter::new(self.plan.clone()))),
                RouterMode::Lua => LuaRouter::build(&set, &self.plan, &self.local, self.limits)
                    .map(|r| Rc::new(r) as Rc<dyn Router>),
            };
            match built {
                Ok(r) => {
                    let entry = ThreadRouter {
                        host: self.id,
                        version: set.version,
                        router: r.clone(),
                    };
                    match slot {
                        Some(i) => routers[i] = entry,
                        None => routers.push(entry),
                    }
                    r
                }
                Err(e) => {
                    // the set compiled when it was published; failing here means this thread
                    // could not get the memory for it: keep what it had
                    error!(error = %e, version = set.version, "routing plugins failed to compile on a signalling thread");
                    match slot {
                        Some(i) => routers[i].router.clone(),
                        None => Rc::new(PlainRouter::new(self.plan.clone())),
                    }
                }
            }
        })
    }

    /// Counts a routing failure (plugin error or timeout) for `/metrics`.
    pub fn count_failure(&self, e: &RouteError) {
        self.metrics
            .plugin_failures
            .get_or_create(&crate::metrics::KindLabel {
                kind: e.kind.as_str(),
            })
            .inc();
    }
}

/// Checks one plugin file offline: compiles it and runs its tests, as a reload would.
pub fn check_file(
    path: &Path,
    plan: &NumberingPlan,
    local: &Arc<Local>,
    limits: Limits,
) -> Result<PluginReport, PluginError> {
    let source = std::fs::read_to_string(path).map_err(|e| PluginError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let files = vec![PluginFile { name, source }];
    let tests = validate(&files, plan, local, limits)?;
    Ok(PluginReport {
        version: 0,
        digest: digest(&files),
        files: names(&files),
        tests,
    })
}

/// Compiles `files` and runs their tests; the number of tests that passed.
fn validate(
    files: &[PluginFile],
    plan: &NumberingPlan,
    local: &Arc<Local>,
    limits: Limits,
) -> Result<usize, PluginError> {
    let set = PluginSet {
        version: 0,
        digest: String::new(),
        files: files.to_vec(),
        tests: 0,
    };
    let router = LuaRouter::build(&set, plan, local, limits)?;
    check::run(&router).map_err(PluginError::Test)
}

/// The `*.lua` files of `dir` in name order; the embedded default when there are none (or
/// no directory).
fn read_files(dir: Option<&Path>) -> Result<Vec<PluginFile>, PluginError> {
    let embedded = || {
        vec![PluginFile {
            name: DEFAULT_NAME.into(),
            source: DEFAULT_PLUGIN.into(),
        }]
    };
    let Some(dir) = dir else {
        return Ok(embedded());
    };
    let err = |e: std::io::Error| PluginError::Read {
        path: dir.to_owned(),
        message: e.to_string(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(embedded()),
        Err(e) => return Err(err(e)),
    };
    let mut paths = Vec::new();
    for e in entries {
        let p = e.map_err(err)?.path();
        if p.extension().is_some_and(|x| x == "lua") && p.is_file() {
            paths.push(p);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Ok(embedded());
    }
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let source = std::fs::read_to_string(&p).map_err(|e| PluginError::Read {
            path: p.clone(),
            message: e.to_string(),
        })?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(PluginFile { name, source });
    }
    Ok(files)
}

fn digest(files: &[PluginFile]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.name.as_bytes());
        h.update([0]);
        h.update(f.source.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn names(files: &[PluginFile]) -> Vec<String> {
    files.iter().map(|f| f.name.clone()).collect()
}

fn report(set: &PluginSet) -> PluginReport {
    PluginReport {
        version: set.version,
        digest: set.digest.clone(),
        files: names(&set.files),
        tests: set.tests,
    }
}

#[cfg(test)]
mod tests;
