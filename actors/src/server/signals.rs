//! The signals a running switch answers: SIGTERM and SIGINT stop it, SIGHUP reloads the
//! routing plugins and the TLS certificate.

use std::sync::Arc;

use tracing::{error, info};

use crate::plugin::PluginHost;
use crate::transport::tls::TlsContext;

/// Waits for SIGTERM or SIGINT; SIGHUP reloads the routing plugins and the TLS certificate
/// meanwhile.
pub(super) async fn wait_for_signal(plugins: Arc<PluginHost>, tls: Option<Arc<TlsContext>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => {
                    info!("SIGHUP: reloading routing plugins");
                    let p = plugins.clone();
                    // compiling and testing takes milliseconds: off the main thread
                    let _ = tokio::task::spawn_blocking(move || p.reload()).await;
                    if let Some(t) = &tls {
                        reload_tls(t);
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (plugins, tls);
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reads the TLS certificate and key again (SIGHUP): new connections get them; a file that
/// does not load keeps the old certificate, and the log says which file and why.
fn reload_tls(tls: &TlsContext) {
    let cert = tls.source().cert.display().to_string();
    match tls.reload() {
        Ok(()) => info!(cert, "SIGHUP: tls certificate reloaded"),
        Err(e) => error!(error = %e, "SIGHUP: tls certificate not reloaded, keeping the old one"),
    }
}
