//! `LuaRouter`: the plugins of one version compiled in one interpreter, chained: the first
//! `route(req)` that returns a decision wins; `nil` or `pass()` hands the request to the next
//! plugin, and after the last one the built-in routing (`PlainRouter`) decides. `classify`
//! hooks rewrite the dialed string before the plan classifies it.
//!
//! When every plugin with a `route` says which request fields its decisions depend on
//! (`route_depends_on`), the router keeps its decisions (`DecisionMemo`, up to
//! `MEMO_CAPACITY`) and runs the plugins once per distinct request instead of once per call;
//! a reload builds a new router, so a new version starts with no decision kept. A plugin that
//! does not say is asked every time.

use std::cell::RefCell;
use std::sync::Arc;

use mlua::{Function, Value};
use switchboard_engine::numbering::{Aor, Classifier, NumberingPlan};
use switchboard_engine::proxy::Local;
use switchboard_engine::routing::{
    DecisionMemo, Depends, PlainRouter, RouteError, RouteErrorKind, RouteRequest, Routed, Router,
};

use super::convert;
use super::sandbox::{Limits, Sandbox};
use super::set::{PluginError, PluginSet};

/// Decisions one router keeps at most (a few hundred bytes each).
pub const MEMO_CAPACITY: usize = 16_384;

/// The plugins of one version, compiled in one interpreter.
pub struct LuaRouter {
    pub(super) sandbox: Sandbox,
    pub(super) plain: PlainRouter,
    pub(super) local: Arc<Local>,
    version: u64,
    /// The decisions made, when every plugin's decisions are reusable.
    memo: Option<RefCell<DecisionMemo>>,
}

impl LuaRouter {
    pub fn build(
        set: &PluginSet,
        plan: &NumberingPlan,
        local: &Arc<Local>,
        limits: Limits,
    ) -> Result<LuaRouter, PluginError> {
        let mut sandbox = Sandbox::new(limits).map_err(|e| PluginError::Compile(e.message))?;
        for f in &set.files {
            sandbox
                .load(&f.name, &f.source)
                .map_err(|e| PluginError::Compile(compile_message(&f.name, &e)))?;
        }
        let memo = reusable(&sandbox)
            .map(|depends| RefCell::new(DecisionMemo::new(depends, MEMO_CAPACITY)));
        Ok(LuaRouter {
            sandbox,
            plain: PlainRouter::new(plan.clone()),
            local: local.clone(),
            version: set.version,
            memo,
        })
    }

    /// Runs the chain: the first plugin's decision, else the built-in routing's.
    fn decide(&self, req: &RouteRequest<'_>) -> Result<Routed, RouteError> {
        for p in &self.sandbox.plugins {
            let Some(f) = &p.route else { continue };
            if let Some(d) = self.call_route(f, &p.name, req, self.plain.classifier())? {
                return Ok(d);
            }
        }
        Ok(self.plain.decide(req).into())
    }

    /// Decisions kept for reuse (none when the plugins' decisions are not reusable).
    pub fn memo_len(&self) -> usize {
        self.memo.as_ref().map_or(0, |m| m.borrow().len())
    }

    pub(super) fn call_route(
        &self,
        f: &Function,
        plugin: &str,
        req: &RouteRequest<'_>,
        plan: &dyn Classifier,
    ) -> Result<Option<Routed>, RouteError> {
        let lua = self.sandbox.lua();
        let parts = self
            .sandbox
            .enter(|| self.sandbox.entry.route(lua, plan.plan(), f, req))
            .map_err(|mut e| {
                if e.kind == RouteErrorKind::BadDecision {
                    e.message = format!("{plugin}: {}", e.message);
                }
                e
            })?;
        convert::decision(plan, &|h| self.local.names_us(h), parts)
            .map_err(|e| RouteError::new(RouteErrorKind::BadDecision, format!("{plugin}: {e}")))
    }

    pub(super) fn rewrite_with(
        &self,
        f: &Function,
        dialed: &str,
        caller: Option<&Aor>,
    ) -> Result<Option<String>, String> {
        let lua = self.sandbox.lua();
        let v: Value = self
            .sandbox
            .enter(|| {
                let req = lua.create_table()?;
                if let Some(c) = caller {
                    req.raw_set("caller", c.as_str())?;
                }
                f.call((dialed, req))
            })
            .map_err(|e| e.to_string())?;
        match v {
            Value::Nil => Ok(None),
            Value::String(s) => Ok(Some(
                s.to_str()
                    .map_err(|_| "classify returned text that is not UTF-8")?
                    .to_owned(),
            )),
            other => Err(format!(
                "classify must return a string or nil, not a {}",
                other.type_name()
            )),
        }
    }
}

impl Router for LuaRouter {
    fn rewrite(&self, dialed: &str, caller: Option<&Aor>) -> Result<Option<String>, RouteError> {
        let mut current: Option<String> = None;
        for p in &self.sandbox.plugins {
            let Some(f) = &p.classify else { continue };
            let input = current.as_deref().unwrap_or(dialed);
            match self.rewrite_with(f, input, caller) {
                Ok(Some(s)) => current = Some(s),
                Ok(None) => {}
                Err(e) => {
                    return Err(RouteError::new(
                        RouteErrorKind::BadDecision,
                        format!("{}: {e}", p.name),
                    ))
                }
            }
        }
        Ok(current)
    }

    fn rewrites(&self) -> bool {
        self.sandbox.plugins.iter().any(|p| p.classify.is_some())
    }

    fn route(&self, req: &RouteRequest<'_>) -> Result<Routed, RouteError> {
        let Some(memo) = &self.memo else {
            return self.decide(req);
        };
        if let Some(routed) = memo.borrow().get(req) {
            return Ok(routed.clone());
        }
        // a failure is not kept: the next request asks again
        let routed = self.decide(req)?;
        memo.borrow_mut().insert(req, routed.clone());
        Ok(routed)
    }

    fn version(&self) -> u64 {
        self.version
    }
}

/// What the decisions of the chain in `sandbox` depend on, when every plugin with a `route`
/// says (each plugin's fields, and those the built-in routing reads after a `pass`).
fn reusable(sandbox: &Sandbox) -> Option<Depends> {
    sandbox
        .plugins
        .iter()
        .filter(|p| p.route.is_some())
        .try_fold(Depends::default(), |all, p| p.depends.map(|d| all.union(d)))
}

/// A compile error's text, starting with the file it is in.
pub(super) fn compile_message(file: &str, e: &RouteError) -> String {
    if e.message.starts_with(file) {
        e.message.clone()
    } else {
        format!("{file}: {}", e.message)
    }
}
