//! Embeds the prompt set: every clip listed in `prompts/en/clips.txt` (`id<TAB>text` lines)
//! becomes an entry `(id, include_bytes!("prompts/en/<id>.wav"))` of the table
//! `$OUT_DIR/prompt_clips.rs`, which `src/prompts` includes. A listed clip without its WAV is
//! a compile error naming the file; `prompts/render.sh` renders the WAVs. The list is the
//! engine's clip table written out (`switchboard_engine::prompt::script()`); a test of
//! `src/prompts` fails while the two differ.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // read at run time, not compiled in: a build script built for one checkout and reused
    // by another (a shared or copied target directory) reads the checkout that runs it
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("prompts/en");
    let list = dir.join("clips.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let text = std::fs::read_to_string(&list)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", list.display()));
    let mut table = String::from("&[\n");
    let mut seen = std::collections::BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, _text)) = line.split_once('\t') else {
            panic!("{}:{}: not id<TAB>text", list.display(), n + 1);
        };
        let kebab = id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        assert!(
            kebab,
            "{}:{}: clip id {id:?} is not kebab-case",
            list.display(),
            n + 1
        );
        assert!(
            seen.insert(id),
            "{}:{}: clip {id} listed twice",
            list.display(),
            n + 1
        );
        let wav = dir.join(format!("{id}.wav"));
        let _ = writeln!(
            table,
            "    ({id:?}, include_bytes!({:?})),",
            wav.display().to_string()
        );
    }
    table.push_str("]\n");
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("prompt_clips.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
