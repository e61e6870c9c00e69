//! The control socket: a Unix socket in the data directory through which the CLI administers
//! a running switch (the store is locked by the switch, so the CLI cannot open it itself) and
//! reloads its routing plugins.
//!
//! One JSON request per line, one JSON answer per line. The socket is created with mode 0600:
//! whoever may read the data directory may administer the switch, nobody else.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tracing::{info, warn};

use crate::api::extension::ExtCommand;
use crate::shared::Shared;
use crate::store::api::{Admin, AdminReply};

/// Name of the socket file in the data directory.
pub const SOCKET_NAME: &str = "switchboard.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<AdminReply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Serves the control socket until the process ends.
pub async fn serve(path: PathBuf, shared: Arc<Shared>) {
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, path = %path.display(), "control socket unavailable");
            return;
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    info!(path = %path.display(), "control socket ready");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let store = shared.store.admin.clone();
        let shared = shared.clone();
        actix_rt::spawn(async move {
            let (rd, mut wr) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(rd).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let answer = match serde_json::from_str::<Admin>(&line) {
                    Err(e) => Answer {
                        ok: false,
                        reply: None,
                        error: Some(format!("bad request: {e}")),
                    },
                    Ok(Admin::PluginsReload) => {
                        let host = shared.plugins.clone();
                        match tokio::task::spawn_blocking(move || host.reload()).await {
                            Ok(Ok(report)) => Answer {
                                ok: true,
                                reply: Some(AdminReply::Plugins { report }),
                                error: None,
                            },
                            Ok(Err(e)) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(format!(
                                    "plugins rejected, version {} keeps running: {e}",
                                    shared.plugins.report().version
                                )),
                            },
                            Err(e) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e.to_string()),
                            },
                        }
                    }
                    Ok(Admin::BansList) => Answer {
                        ok: true,
                        reply: Some(AdminReply::Bans {
                            bans: shared.security.list(),
                        }),
                        error: None,
                    },
                    Ok(Admin::BanLift { ip }) => {
                        let lifted = ip
                            .parse::<std::net::IpAddr>()
                            .map_err(|_| format!("{ip:?} is not an IP address"))
                            .and_then(|a| {
                                shared
                                    .security
                                    .lift(a)
                                    .ok_or_else(|| format!("{a} is not banned"))
                            });
                        match lifted {
                            Ok(ban) => Answer {
                                ok: true,
                                reply: Some(AdminReply::Lifted { ban }),
                                error: None,
                            },
                            Err(e) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e),
                            },
                        }
                    }
                    Ok(
                        req @ (Admin::VoicemailList { .. }
                        | Admin::VoicemailSet { .. }
                        | Admin::VoicemailPin { .. }),
                    ) => {
                        // the mailbox store blocks on the disk: off the actor threads
                        let s = shared.clone();
                        let done = tokio::task::spawn_blocking(move || {
                            s.mailboxes
                                .administer(&s.plan, req, crate::clock::unix_now())
                        })
                        .await;
                        match done {
                            Ok(Ok(reply)) => Answer {
                                ok: true,
                                reply: Some(reply),
                                error: None,
                            },
                            Ok(Err(e)) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e),
                            },
                            Err(e) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e.to_string()),
                            },
                        }
                    }
                    Ok(req) => {
                        let removing = matches!(req, Admin::AccountRemove { .. });
                        match store.send(req).await {
                            Ok(Ok(reply)) => {
                                if let AdminReply::Account { number } = &reply {
                                    // let a running Extension pick up the new credentials
                                    let aor =
                                        switchboard_engine::numbering::Aor::from_canonical(number);
                                    if removing {
                                        shared.account_removed(aor);
                                    } else {
                                        shared.to_extension(aor, ExtCommand::AccountChanged);
                                    }
                                }
                                Answer {
                                    ok: true,
                                    reply: Some(reply),
                                    error: None,
                                }
                            }
                            Ok(Err(e)) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e),
                            },
                            Err(e) => Answer {
                                ok: false,
                                reply: None,
                                error: Some(e.to_string()),
                            },
                        }
                    }
                };
                let mut out = serde_json::to_string(&answer).unwrap_or_default();
                out.push('\n');
                if wr.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// How long the CLI waits for a switch that holds the data directory to open its control
/// socket (it locks the store first, then starts listening).
const STARTING: Duration = Duration::from_secs(5);

/// Connects to the control socket; a switch still starting (no socket yet, or not
/// listening yet) is given [`STARTING`].
fn connect(path: &Path) -> std::io::Result<std::os::unix::net::UnixStream> {
    let deadline = std::time::Instant::now() + STARTING;
    loop {
        match std::os::unix::net::UnixStream::connect(path) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            r => return r,
        }
    }
}

/// Sends one request to a running switch (blocking; used by the CLI).
pub fn request(path: &Path, req: &Admin) -> Result<AdminReply, String> {
    let mut stream = connect(path)
        .map_err(|e| format!("cannot reach the running switch at {}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    let a: Answer = serde_json::from_str(&answer).map_err(|e| format!("bad answer: {e}"))?;
    match (a.ok, a.reply, a.error) {
        (true, Some(r), _) => Ok(r),
        (_, _, Some(e)) => Err(e),
        _ => Err("empty answer".into()),
    }
}
