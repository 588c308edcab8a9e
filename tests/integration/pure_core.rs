//! The boundary of the pure core (docs/ARCHITECTURE.md, "Invariants"), checked on the
//! source: the domain types, scoring, matching, rendering and the pure part of the daily
//! run name no I/O crate and read neither the clock nor the disk.
//!
//! The check is textual, on the code with its comments and string literals blanked out:
//! every path as written, and every path a grouped `use` expands to (`use std::{fs, io}`
//! names `std::fs`), is compared with [`FORBIDDEN_IN_PURE_CORE`].

use std::path::{Path, PathBuf};

/// The directories of the pure core, under `src/`, with every `.rs` file below them.
const PURE_CORE_DIRS: &[&str] = &["domain", "scoring", "matching", "render", "bounces"];

/// Single files of the pure core, under `src/`.
const PURE_CORE_FILES: &[&str] = &["pipeline/compute.rs", "service/stats/compute.rs"];

/// What a file of the pure core may not name, and why. A name matches as a whole path
/// segment sequence (`tokio` matches `tokio::spawn`, not `tokio_util` or `RedbStore`).
pub const FORBIDDEN_IN_PURE_CORE: &[(&str, &str)] = &[
    ("tokio", "the async runtime belongs to the shell"),
    ("redb", "only store/ knows the database"),
    (
        "crate::store",
        "the core takes its data as values, not from a store",
    ),
    (
        "zstd",
        "how rows are compressed for storage is the store's choice (store/redb/codec.rs)",
    ),
    ("clap", "only cli.rs knows the command line"),
    ("ureq", "HTTP calls belong to the shell (subject_llm.rs)"),
    ("poem", "only the HTTP layer knows poem"),
    ("std::fs", "the pure core reads no disk"),
    ("std::net", "the pure core opens no connection"),
    ("std::env", "settings come in as values"),
    ("std::process", "the pure core starts and ends no process"),
    ("std::time::Instant", "timings are taken by the caller"),
    ("Instant::now", "timings are taken by the caller"),
    ("SystemTime::now", "the time comes in as a value"),
    ("Timestamp::now", "the time comes in as a value"),
    ("Zoned::now", "the time comes in as a value"),
    ("std::thread::sleep", "the pure core never waits"),
];

/// The source files of the pure core, sorted.
fn pure_core_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = PURE_CORE_FILES.iter().map(|f| src.join(f)).collect();
    for dir in PURE_CORE_DIRS {
        files.extend(rs_files_under(&src.join(dir)));
    }
    files.sort();
    files
}

/// Every `.rs` file under `dir`, at any depth, sorted.
fn rs_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `source` with every comment and the contents of every string and character literal
/// replaced by spaces; line breaks are kept, so positions keep their line.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && !after_ident
            && matches!(next, Some('"') | Some('#'))
            && chars[i + 1..]
                .iter()
                .find(|&&c| c != '#')
                .is_some_and(|&c| c == '"')
        {
            // A raw string: r"…", r#"…"#, ends at a quote followed by as many hashes.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            out.push('r');
            i += 1;
            for _ in 0..hashes + 1 {
                out.push(chars[i]);
                i += 1;
            }
            while i < chars.len() {
                let closes = chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&c| c == '#')
                        .count()
                        == hashes;
                if closes {
                    for _ in 0..hashes + 1 {
                        out.push(chars[i]);
                        i += 1;
                    }
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\''); a lifetime ('a) has no closing quote.
            out.push('\'');
            i += 1;
            if chars[i] == '\\' {
                out.push(' ');
                i += 1;
            }
            while i < chars.len() && chars[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `text` names `path` as whole segments.
fn names(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + path.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The paths a `use` tree names: `std::{fs, io::{self, Read}}` gives `std::fs`, `std::io`
/// and `std::io::Read`.
fn expand_use(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = match tree {
            "self" => prefix.trim_end_matches("::").to_owned(),
            _ => format!("{prefix}{tree}"),
        };
        out.push(path);
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start) = (0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand_use(&head, &inner[start..at], out);
                start = at + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].trim().is_empty() {
        expand_use(&head, &inner[start..], out);
    }
}

/// What only `src/api/` may name: the HTTP framework and the metrics exporter
/// (docs/ARCHITECTURE.md, "Boundaries").
pub const ONLY_IN_API: &[(&str, &str)] = &[
    ("poem", "only api/ knows HTTP and poem"),
    ("poem_openapi", "only api/ knows HTTP and poem"),
    (
        "metrics_exporter_prometheus",
        "metrics are declared and exported in api/metrics.rs",
    ),
];

/// Every forbidden name in `source`, as `(line, name, why)`, once per line and name.
fn violations(source: &str) -> Vec<(usize, &'static str, &'static str)> {
    violations_of(source, FORBIDDEN_IN_PURE_CORE)
}

/// Every name of `forbidden` in `source`, as `(line, name, why)`, once per line and name.
fn violations_of(
    source: &str,
    forbidden: &[(&'static str, &'static str)],
) -> Vec<(usize, &'static str, &'static str)> {
    let code = code_only(source);
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (index, line) in code.lines().enumerate() {
        for &(name, why) in forbidden {
            if names(line, name) {
                found.push((index + 1, name, why));
            }
        }
    }
    for (at, _) in code.match_indices("use ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let Some(length) = code[at..].find(';') else {
            continue;
        };
        // Whitespace is dropped, and renames (`fs as f`) with it.
        let mut tokens = code[at + 4..at + length].split_whitespace();
        let mut statement = String::new();
        while let Some(token) = tokens.next() {
            if token == "as" {
                let renamed = tokens.next().unwrap_or("");
                statement.push_str(renamed.trim_start_matches(is_ident));
            } else {
                statement.push_str(token);
            }
        }
        let mut paths = Vec::new();
        expand_use("", &statement, &mut paths);
        for path in paths {
            for &(name, why) in forbidden {
                if names(&path, name) {
                    found.push((line_of(at), name, why));
                }
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

#[test]
fn the_pure_core_names_no_io_crate_and_reads_neither_clock_nor_disk() {
    let files = pure_core_files();
    assert!(
        files.iter().any(|f| f.ends_with("pipeline/compute.rs")) && files.len() > 10,
        "the pure core's files were not found under src/: {files:?}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (line, name, why) in violations(&source) {
            problems.push(format!(
                "{}:{line}: names `{name}` ({why})",
                file.strip_prefix(root).unwrap_or(file).display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the pure core must do no I/O (docs/ARCHITECTURE.md, \"Invariants\"); move this to \
         the shell (pipeline/mod.rs, cli.rs, store/, subject_llm.rs, templates.rs) and pass \
         the value in:\n{}",
        problems.join("\n")
    );
}

#[test]
fn only_the_api_module_names_poem() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let api = root.join("src/api");
    let files = rs_files_under(&root.join("src"));
    assert!(
        files.iter().any(|f| f.starts_with(&api)),
        "src/api/ was not found"
    );
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&api)) {
        let source = std::fs::read_to_string(file).unwrap();
        for (line, name, why) in violations_of(&source, ONLY_IN_API) {
            problems.push(format!(
                "{}:{line}: names `{name}` ({why})",
                file.strip_prefix(root).unwrap_or(file).display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "HTTP stays in src/api/: call a service from there instead:\n{}",
        problems.join("\n")
    );
}

/// What only `src/cache/` may name (docs/ARCHITECTURE.md, "Boundaries").
pub const ONLY_IN_CACHE: &[(&str, &str)] = &[(
    "moka",
    "only cache/ knows moka: use the crate::cache::Cache trait",
)];

#[test]
fn only_the_cache_module_names_moka() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = root.join("src/cache");
    let files = rs_files_under(&root.join("src"));
    assert!(
        files.iter().any(|f| f.starts_with(&cache)),
        "src/cache/ was not found"
    );
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&cache)) {
        let source = std::fs::read_to_string(file).unwrap();
        for (line, name, why) in violations_of(&source, ONLY_IN_CACHE) {
            problems.push(format!(
                "{}:{line}: names `{name}` ({why})",
                file.strip_prefix(root).unwrap_or(file).display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_code_and_not_comments_or_strings() {
    let names_of = |source: &str| -> Vec<(usize, &str)> {
        violations(source)
            .into_iter()
            .map(|(line, name, _)| (line, name))
            .collect()
    };
    let table: &[(&str, &[(usize, &str)])] = &[
        ("use tokio::sync::Mutex;", &[(1, "tokio")]),
        ("let t = jiff::Timestamp::now();", &[(1, "Timestamp::now")]),
        ("use std::{\n    fs,\n    io::Read,\n};", &[(1, "std::fs")]),
        (
            "use std::time::{Duration, Instant};",
            &[(1, "std::time::Instant")],
        ),
        (
            "let a = 1;\nstd::thread::sleep(d);",
            &[(2, "std::thread::sleep")],
        ),
        ("// tokio would be wrong here\nlet a = 1;", &[]),
        ("/* use redb; /* nested */ still a comment */", &[]),
        ("/// Reads no std::fs.\nfn f() {}", &[]),
        ("let url = \"http://x\"; use clap::Parser;", &[(1, "clap")]),
        ("let s = \"std::fs and tokio\";", &[]),
        ("let s = r#\"a \"quoted\" ureq\"#;", &[]),
        ("fn f<'a>(x: &'a str) -> char { 'q' }", &[]),
        ("struct RedbStore; let tokio_like = 1;", &[]),
        ("use std::{fs as files, io};", &[(1, "std::fs")]),
    ];
    for (source, expected) in table {
        assert_eq!(&names_of(source), expected, "{source}");
    }
}
