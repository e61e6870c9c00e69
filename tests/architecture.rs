//! The shape rules of ARCHITECTURE.md, checked on the source text on every test run:
//!
//! - no import circle among the files (modules) of `actors/src` or `engine/src`: a file's
//!   edges are the modules its `use crate::...`, `use super::...` and inline `crate::a::b`
//!   paths name, resolved to the deepest module file that exists; a circle is a strongly
//!   connected component of more than one file;
//! - the engine knows no sockets, clocks, threads, files, actix, tokio or sled outside its
//!   unit tests.
//!
//! Text-based (no type resolution), so it errs on the side of seeing an edge: a path in a
//! doc comment counts nothing (comments are stripped), a path in code counts even when only
//! a method of the module's type is called. Unit-test modules (`#[cfg(test)] mod ...` and
//! `tests.rs` / `tests/` files) are left out: tests may name anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `root` but unit tests.
fn sources(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "tests" {
                    dirs.push(p);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without comments and without its inline test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    // an inline `#[cfg(test)] mod name {` runs to the end of the file (the house style);
    // a `#[cfg(test)] mod name;` declaration is a file of its own, left out by `sources`
    let mut cut = text.len();
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        from = at + 1;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        if let Some(decl) = after.strip_prefix("mod ") {
            let head = decl.split(';').next().unwrap_or("");
            if head.contains('{') {
                cut = at;
                break;
            }
        }
    }
    let text = &text[..cut];
    text.lines()
        .map(|l| match l.find("//") {
            // a `//` inside a string ("http://...") cuts the line short: harmless here
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file under `root` (`call_leg/mod.rs` -> `[call_leg]`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The deepest module file that `parts` (a path from the crate root) reaches.
fn module_file(root: &Path, parts: &[String]) -> Option<PathBuf> {
    let mut best = None;
    for i in 1..=parts.len() {
        let p = parts[..i].iter().fold(root.to_path_buf(), |p, s| p.join(s));
        let file = p.with_extension("rs");
        let dir_mod = p.join("mod.rs");
        if file.is_file() {
            best = Some(file);
        } else if dir_mod.is_file() {
            best = Some(dir_mod);
        } else if !p.is_dir() {
            break;
        }
    }
    best
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or("").replace(' ', "");
        out.push(format!("{prefix}{path}"));
        return;
    };
    let head = tree[..open].replace(' ', "");
    let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&body[start..i], &format!("{prefix}{head}"), out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !body[start..].trim().is_empty() {
        expand(&body[start..], &format!("{prefix}{head}"), out);
    }
}

/// Identifier paths starting at `crate::` or `super::` anywhere in `code`.
fn inline_paths(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            if code[end..].starts_with('{') {
                // a group (`super::{a, b}`): the use statement's expansion names each part
                continue;
            }
            out.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

/// Each file's edges to the module files it names.
fn edges(root: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut graph = BTreeMap::new();
    for file in sources(root) {
        let code = code_of(&file);
        let here = module_of(root, &file);
        let mut paths = inline_paths(&code);
        let mut rest = code.as_str();
        while let Some(i) = rest.find("use ") {
            let stmt = &rest[i + 4..];
            let end = stmt.find(';').unwrap_or(stmt.len());
            let tree = stmt[..end].trim();
            if tree.starts_with("crate") || tree.starts_with("super") {
                expand(tree, "", &mut paths);
            }
            rest = &stmt[end..];
        }
        let mut to = BTreeSet::new();
        for path in paths {
            let mut parts: Vec<String> = path
                .split("::")
                .filter(|p| !p.is_empty() && *p != "self")
                .map(str::to_owned)
                .collect();
            let mut base = if parts.first().map(String::as_str) == Some("crate") {
                parts.remove(0);
                Vec::new()
            } else {
                // `super` of `a/b.rs` (module a::b) and of `a/b/mod.rs` (a::b) is `a`
                here.clone()
            };
            while parts.first().map(String::as_str) == Some("super") {
                parts.remove(0);
                base.pop();
            }
            base.extend(parts);
            if let Some(target) = module_file(root, &base) {
                if target != file {
                    to.insert(target);
                }
            }
        }
        graph.insert(file, to);
    }
    graph
}

/// Strongly connected components of more than one file (Tarjan).
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a PathBuf) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.found.push(comp);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name).join("src")
}

fn assert_no_circle(name: &str) {
    let root = crate_src(name);
    let graph = edges(&root);
    assert!(graph.len() > 10, "{name}: the sources were found");
    let found = circles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            c.iter()
                .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "{name}: import circles among files: {shown:#?}"
    );
}

#[test]
fn the_actors_crate_has_no_import_circle_among_its_files() {
    assert_no_circle("actors");
}

#[test]
fn the_engine_has_no_import_circle_among_its_files() {
    assert_no_circle("engine");
}

#[test]
fn the_engine_knows_no_sockets_clocks_threads_files_or_runtimes() {
    const FORBIDDEN: &[&str] = &[
        "actix",
        "tokio",
        "sled::",
        "std::net::UdpSocket",
        "std::net::TcpStream",
        "std::net::TcpListener",
        "Instant::now()",
        "SystemTime::now()",
        "std::thread",
        "std::fs",
        "File::open",
        "File::create",
    ];
    let root = crate_src("engine");
    let mut found = Vec::new();
    for file in sources(&root) {
        let code = code_of(&file);
        for word in FORBIDDEN {
            if code.contains(word) {
                found.push(format!(
                    "{}: {word}",
                    file.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(found.is_empty(), "the engine does I/O: {found:#?}");
}

#[test]
fn the_checker_sees_a_circle_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("sb-arch-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::{x::Thing, y};\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "mod x;\nmod y;\n").unwrap();
    std::fs::write(src.join("b/x.rs"), "fn f() { crate::c::g(); }\n").unwrap();
    std::fs::write(src.join("b/y.rs"), "// use crate::a;\n").unwrap();
    std::fs::write(src.join("c.rs"), "use super::a::Item;\n").unwrap();
    let found = circles(&edges(&src));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let names: Vec<String> = found[0]
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a.rs", "b/x.rs", "c.rs"]);
}
