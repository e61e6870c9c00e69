//! Reading a scenario from disk: the file's text, and the population's CSV relative to the
//! file's directory, handed to the pure parser (`crate::core::scenario::parse_with`). The
//! only place the load generator reads input files.

use std::path::Path;

use crate::core::scenario::{self, Scenario, ScenarioError};

/// Reads and parses a scenario file, and its `population.csv` relative to the file's
/// directory. An unreadable file is an error of the whole file (no line, no field); an
/// unreadable CSV is an error of `population.csv` at its line.
pub fn read(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        line: None,
        field: String::new(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    scenario::parse_with(&text, |csv| {
        let full = dir.join(csv);
        std::fs::read_to_string(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const SMOKE: &str = include_str!("../../smoke.toml");
    const NUMBERED: &str = "count = 20\nfirst = \"100000\"\npassword = \"pw-{n}\"\n";

    /// A directory of its own under the system's temporary directory, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir()
                .join(format!("switchboard-load-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(d.join("sub")).unwrap();
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_file_reads_as_its_text_parses() {
        let dir = Dir::new("plain");
        let path = dir.0.join("smoke.toml");
        std::fs::write(&path, SMOKE).unwrap();
        assert_eq!(read(&path).unwrap(), scenario::parse(SMOKE).unwrap());
    }

    #[test]
    fn the_csv_is_read_beside_the_scenario_file() {
        assert!(SMOKE.contains(NUMBERED), "smoke.toml's population changed");
        let dir = Dir::new("csv");
        let path = dir.0.join("sub/smoke.toml");
        std::fs::write(&path, SMOKE.replace(NUMBERED, "csv = \"users.csv\"\n")).unwrap();
        let csv: String = (0..20).map(|i| format!("+4930{i:03},pw{i}\n")).collect();
        std::fs::write(dir.0.join("sub/users.csv"), csv).unwrap();
        let sc = read(&path).unwrap();
        assert_eq!(sc.population.count, 20);
        assert_eq!(sc.population.number(3), "+4930003");
        assert_eq!(sc.population.password(3), "pw3");
    }

    #[test]
    fn a_missing_file_or_csv_is_named_in_the_error() {
        let dir = Dir::new("missing");
        let path = dir.0.join("nothing.toml");
        let e = read(&path).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (None, ""));
        assert!(e.message.starts_with("cannot read "), "{e}");
        assert!(e.message.contains("nothing.toml"), "{e}");

        std::fs::write(&path, SMOKE.replace(NUMBERED, "csv = \"absent.csv\"\n")).unwrap();
        let e = read(&path).unwrap_err();
        assert_eq!(e.field, "population.csv", "{e}");
        assert!(e.message.contains("absent.csv"), "{e}");
    }
}
