//! The `log` gateway: every SMS is appended, one JSON object per line, to `sms.log` in the data
//! directory. It is the embedded default, so a switch without any provider still tells its
//! operator (and the test suite) exactly what would have been sent.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::gateway::{Gateway, GatewayError, Sms};

/// Name of the file in the data directory.
pub const FILE_NAME: &str = "sms.log";

pub struct LogGateway {
    path: PathBuf,
    file: File,
}

impl LogGateway {
    pub fn open(path: &Path) -> Result<LogGateway, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("notify.gateway log: cannot open {}: {e}", path.display()))?;
        Ok(LogGateway {
            path: path.to_owned(),
            file,
        })
    }
}

impl Gateway for LogGateway {
    fn kind(&self) -> &'static str {
        "log"
    }

    fn send(&mut self, sms: &Sms) -> Result<(), GatewayError> {
        let line = serde_json::json!({
            "at": crate::clock::unix_now(),
            "to": sms.to,
            "text": sms.text,
        });
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        // one write per line, so concurrent readers never see half a record
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| GatewayError::Io(format!("{}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sms_is_one_json_line() {
        let dir = std::env::temp_dir().join(format!("sb-smslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        let _ = std::fs::remove_file(&path);
        let mut g = LogGateway::open(&path).unwrap();
        for text in ["first", "second \"quoted\"\nline"] {
            g.send(&Sms {
                to: "+821012345678".into(),
                text: text.into(),
            })
            .unwrap();
        }
        let read = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = read
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["text"], "second \"quoted\"\nline");
        assert_eq!(lines[0]["to"], "+821012345678");
    }
}
