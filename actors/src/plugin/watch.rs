//! Reloading plugins when their files change.
//!
//! A `notify` watcher on the plugin directory feeds a thread that waits until the directory
//! has been quiet for a moment (an editor saving writes, renames and deletes in a burst), then
//! reloads once. A failed reload is logged and counted by the host; the running version stays.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tracing::{info, warn};

use super::PluginHost;

/// How long the directory must be quiet before a reload.
const SETTLE: Duration = Duration::from_millis(300);

/// Watches the host's plugin directory; keep the returned watcher alive for as long as
/// changes should reload. `None` when there is no directory to watch.
pub fn watch(host: Arc<PluginHost>) -> Option<notify::RecommendedWatcher> {
    let dir = host.dir()?.to_owned();
    if !dir.is_dir() {
        info!(dir = %dir.display(), "plugin directory absent; not watching it");
        return None;
    }
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = match notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        let relevant = !matches!(ev.kind, EventKind::Access(_))
            && ev
                .paths
                .iter()
                .any(|p| p.extension().is_some_and(|x| x == "lua"));
        if relevant {
            let _ = tx.send(());
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            warn!(error = %e, "cannot watch the plugin directory; reload by command instead");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        warn!(error = %e, dir = %dir.display(), "cannot watch the plugin directory; reload by command instead");
        return None;
    }
    let spawned = std::thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // wait for the burst to end
                while rx.recv_timeout(SETTLE).is_ok() {}
                let _ = host.reload();
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the plugin watcher thread");
        return None;
    }
    info!(dir = %dir.display(), "watching routing plugins for changes");
    Some(watcher)
}
