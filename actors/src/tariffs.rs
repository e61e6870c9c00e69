//! The tariff tables in force, reloaded while the switch carries traffic.
//!
//! Every `*.csv` file of `[tariffs] dir` is one table, named after the file (`gold.csv` is the
//! table `gold`; a member plan names its table, and `[tariffs] default` names the one of
//! callers without a plan). [`TariffHost::reload`] reads and checks every file first
//! (`switchboard_engine::tariff::parse_csv`); only when all pass does the new set replace the
//! running one, so a bad line keeps the old tables rating calls (the error names the file,
//! the line and the field). Reloads: at start, on SIGHUP, and `POST /admin/tariffs/reload`.
//!
//! Readers take an `Arc` of the current set (a read lock held for a pointer copy), once per
//! rated call.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard_engine::tariff::{parse_csv, TariffError, TariffSet};
use tracing::{error, info};

/// Why a reload was refused (the running tables stay).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TariffLoadError {
    #[error("cannot read tariff directory {path}: {message}")]
    Dir { path: PathBuf, message: String },
    #[error("{file}: {source}")]
    Table { file: String, source: TariffError },
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
}

/// What the API shows of the loaded tables.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TariffReport {
    /// One more per successful reload (0: nothing loaded yet).
    pub version: u64,
    pub default: String,
    pub tables: Vec<TableReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableReport {
    pub name: String,
    pub prefixes: usize,
    /// The first 12 hex digits of the file's SHA-256: which file content is rating.
    pub digest: String,
}

struct Loaded {
    set: Arc<TariffSet>,
    report: TariffReport,
}

/// The tariff tables and their reloads.
pub struct TariffHost {
    dir: Option<PathBuf>,
    default: String,
    current: RwLock<Arc<Loaded>>,
}

impl TariffHost {
    /// Loads the tables of `dir` (none: no table, calls are not rated). A bad table at start
    /// is logged and leaves no table loaded; the next good reload fixes it.
    pub fn start(dir: Option<PathBuf>, default: &str) -> TariffHost {
        let host = TariffHost {
            dir,
            default: default.to_owned(),
            current: RwLock::new(Arc::new(Loaded {
                set: Arc::new(TariffSet::new(Vec::new(), default)),
                report: TariffReport {
                    version: 0,
                    default: default.to_owned(),
                    tables: Vec::new(),
                },
            })),
        };
        if host.dir.is_some() {
            if let Err(e) = host.reload() {
                error!(error = %e, "tariffs not loaded: calls are not rated until a reload");
            }
        }
        host
    }

    /// The tables rating calls now.
    pub fn current(&self) -> Arc<TariffSet> {
        self.read().set.clone()
    }

    pub fn report(&self) -> TariffReport {
        self.read().report.clone()
    }

    /// Reads every table again; the new set replaces the running one only if all are good.
    pub fn reload(&self) -> Result<TariffReport, TariffLoadError> {
        let Some(dir) = &self.dir else {
            return Ok(self.report());
        };
        let (tables, reports) = load_dir(dir)?;
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let report = TariffReport {
            version: cur.report.version + 1,
            default: self.default.clone(),
            tables: reports,
        };
        *cur = Arc::new(Loaded {
            set: Arc::new(TariffSet::new(tables, &self.default)),
            report: report.clone(),
        });
        info!(
            version = report.version,
            tables = report.tables.len(),
            "tariffs loaded"
        );
        Ok(report)
    }

    fn read(&self) -> Arc<Loaded> {
        // a panic while holding the lock leaves a whole Arc in place
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

type Tables = (
    Vec<switchboard_engine::tariff::TariffTable>,
    Vec<TableReport>,
);

fn load_dir(dir: &Path) -> Result<Tables, TariffLoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TariffLoadError::Dir {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    let mut tables = Vec::new();
    let mut reports = Vec::new();
    for p in paths {
        let file = p.display().to_string();
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&p).map_err(|e| TariffLoadError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let table = parse_csv(&name, &text).map_err(|source| TariffLoadError::Table {
            file: file.clone(),
            source,
        })?;
        let digest = Sha256::digest(text.as_bytes());
        reports.push(TableReport {
            name,
            prefixes: table.len(),
            digest: digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
        });
        tables.push(table);
    }
    Ok((tables, reports))
}

/// Reloads the tariffs on every SIGHUP (alongside the routing plugins' own reload).
pub fn reload_on_sighup(host: Arc<TariffHost>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading tariffs");
            let h = host.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || h.reload()).await {
                error!(error = %e, "tariffs not reloaded, keeping the old ones");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-tariffs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_bad_table_keeps_the_old_ones_rating() {
        let dir = tmp("reload");
        std::fs::write(dir.join("default.csv"), "44,10,0,60,60,EUR\n").unwrap();
        let host = TariffHost::start(Some(dir.clone()), "default");
        assert_eq!(host.report().version, 1);
        let rate = |h: &TariffHost| {
            h.current()
                .table_for(None)
                .and_then(|t| t.first_increment_cost("+4420"))
        };
        assert_eq!(rate(&host), Some(10));
        std::fs::write(dir.join("gold.csv"), "44,5,0,60,60,EUR\n45,x,0,60,60,EUR\n").unwrap();
        let e = host.reload().unwrap_err().to_string();
        assert!(e.contains("gold.csv: line 2: field per_minute"), "{e}");
        assert_eq!(host.report().version, 1, "the old tables stay");
        std::fs::write(dir.join("gold.csv"), "44,5,0,60,60,EUR\n").unwrap();
        std::fs::write(dir.join("default.csv"), "44,20,0,60,60,EUR\n").unwrap();
        let r = host.reload().unwrap();
        assert_eq!(r.version, 2);
        let names: Vec<&str> = r.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["default", "gold"]);
        assert_eq!(r.tables[0].digest.len(), 12);
        assert_eq!(rate(&host), Some(20));
        let gold = host
            .current()
            .table_for(Some("gold"))
            .unwrap()
            .name()
            .to_owned();
        assert_eq!(gold, "gold");
    }
}
