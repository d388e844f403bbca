//! Two things generated at build time:
//! - the step SDK's, its catalog crate's and the WIT's files for `labrun new step
//!   --component`, which writes a copy of them into the crate it makes
//!   (`src/author/component.rs`): every file, so a module added to the SDK is carried
//!   without touching the host;
//! - the host's message catalog (`src/text/catalog/*.toml`), checked here so that a
//!   missing language or placeholder is a compile error, and turned into one struct
//!   per key (`src/text/mod.rs` says how to use them).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

// The `{name}` template syntax is the step catalogs', word for word.
use labrun_step_catalog::template;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            // Editor and OS droppings (.swp, .DS_Store) are not the SDK's.
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `const NAME: &[(&str, &str)]`: (path relative to `dir`, its text) for every file.
fn table(name: &str, dir: &Path) -> String {
    let mut out = format!("pub const {name}: &[(&str, &str)] = &[\n");
    for path in files(dir) {
        let rel = path.strip_prefix(dir).expect("under dir");
        let rel = rel.to_str().expect("a UTF-8 path").replace('\\', "/");
        let abs = path.to_str().expect("a UTF-8 path");
        out.push_str(&format!("    ({rel:?}, include_str!({abs:?})),\n"));
    }
    out.push_str("];\n");
    out
}

/// This crate's directory in the checkout being built, read when the script runs. Not
/// `env!`: that is the checkout the script was compiled in, and cargo reuses a build
/// script across checkouts sharing one target dir (CI's persistent one), so a fresh
/// clone elsewhere would read another checkout's catalog and SDK.
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
}

fn main() {
    let root = manifest_dir()
        .parent()
        .expect("host/ is in the repository")
        .to_path_buf();
    let sdk = root.join("plugins/sdk");
    let step_catalog = root.join("plugins/catalog");
    let wit = root.join("wit");
    // Directories: cargo reruns this when any file under them changes (or appears).
    println!("cargo::rerun-if-changed={}", sdk.display());
    println!("cargo::rerun-if-changed={}", step_catalog.display());
    println!("cargo::rerun-if-changed={}", wit.display());
    let text = table("SDK_FILES", &sdk)
        + &table("STEP_CATALOG_FILES", &step_catalog)
        + &table("WIT_FILES", &wit);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("vendored.rs"), text).expect("OUT_DIR is writable");

    let catalog = manifest_dir().join("src/text/catalog");
    println!("cargo::rerun-if-changed={}", catalog.display());
    match text_catalog(&catalog) {
        Ok(code) => std::fs::write(out.join("text.rs"), code).expect("OUT_DIR is writable"),
        Err(e) => {
            // One line per problem, each naming the file and key.
            for line in e.lines() {
                println!("cargo::error={line}");
            }
            std::process::exit(1);
        }
    }
}

/// Names the generated code already uses in `src/text/mod.rs` (a section of that name
/// would shadow them).
const RESERVED_SECTIONS: &[&str] = &["inert", "tests", "self", "super", "crate", "std"];

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

fn snake(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !KEYWORDS.contains(&name)
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn japanese(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{30ff}' | '\u{3400}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
}

/// A template's parts in order: (is a placeholder, its name or the literal text).
type Pieces = Vec<(bool, String)>;

/// A template as pieces, with the template syntax's own reader (`render` with a marker
/// around each name), and its placeholder names.
fn pieces(template: &str) -> Result<(Pieces, BTreeSet<String>), String> {
    if template.contains('\u{0}') {
        return Err("holds a NUL character".to_string());
    }
    let names = template::placeholders(template).map_err(|e| e.to_string())?;
    let marked = template::render(template, |name| format!("\u{0}{name}\u{0}"));
    let pieces = marked
        .split('\u{0}')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| (i % 2 == 1, s.to_string()))
        .collect();
    Ok((pieces, names))
}

/// Whether an English template says something in words (outside its placeholders):
/// then its Japanese must not be the same text.
fn has_words(pieces: &[(bool, String)]) -> bool {
    pieces.iter().filter(|(arg, _)| !arg).any(|(_, s)| {
        s.split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() >= 2)
            .count()
            >= 2
    })
}

fn pieces_code(pieces: &[(bool, String)]) -> String {
    let parts: Vec<String> = pieces
        .iter()
        .map(|(arg, s)| {
            if *arg {
                format!("Piece::Arg({s:?})")
            } else {
                format!("Piece::Lit({s:?})")
            }
        })
        .collect();
    format!("&[{}]", parts.join(", "))
}

/// Checks every `SECTION.toml` of the catalog and generates `ENTRIES` and a module per
/// section with a struct per key. The error lists every problem found.
fn text_catalog(dir: &Path) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut entries = String::new();
    let mut modules = String::new();
    let mut index = 0usize;
    let mut files: Vec<PathBuf> = files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for file in files {
        let shown = file
            .strip_prefix(manifest_dir())
            .unwrap_or(&file)
            .display()
            .to_string();
        let section = file.file_stem().unwrap().to_string_lossy().into_owned();
        if !snake(&section) || RESERVED_SECTIONS.contains(&section.as_str()) {
            problems.push(format!("{shown}: `{section}` cannot be a section name: use lowercase letters, digits and _, not a Rust keyword or one of {RESERVED_SECTIONS:?}"));
            continue;
        }
        let source = std::fs::read_to_string(&file).map_err(|e| format!("{shown}: {e}"))?;
        let table: toml::Table = match source.parse() {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!(
                    "{shown}: not TOML: {}",
                    e.to_string().replace('\n', " ")
                ));
                continue;
            }
        };
        let _ = writeln!(
            modules,
            "/// The `{section}` section of the catalog (`src/text/catalog/{section}.toml`)."
        );
        let _ = writeln!(
            modules,
            "pub mod {section} {{\n    #[allow(unused_imports)]\n    use super::{{Arg, Text}};"
        );
        for (key, value) in &table {
            let at = format!("{shown}: {key}");
            if !snake(key) {
                problems.push(format!(
                    "{at}: a key is lowercase letters, digits and _, and not a Rust keyword"
                ));
                continue;
            }
            let Some(langs) = value.as_table() else {
                problems.push(format!("{at}: give {{ en = \"…\", ja = \"…\" }}"));
                continue;
            };
            let unknown: Vec<&String> = langs.keys().filter(|k| *k != "en" && *k != "ja").collect();
            if !unknown.is_empty() {
                problems.push(format!("{at}: only en and ja, not {unknown:?}"));
            }
            let (Some(en), Some(ja)) = (
                langs.get("en").and_then(|v| v.as_str()),
                langs.get("ja").and_then(|v| v.as_str()),
            ) else {
                problems.push(format!("{at}: needs both en and ja, as strings"));
                continue;
            };
            let (en_pieces, en_names) = match pieces(en) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("{at}: en: {e}"));
                    continue;
                }
            };
            let (ja_pieces, ja_names) = match pieces(ja) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("{at}: ja: {e}"));
                    continue;
                }
            };
            if en_names != ja_names {
                problems.push(format!("{at}: en has the placeholders {en_names:?}, ja {ja_names:?}: give both the same"));
                continue;
            }
            if let Some(bad) = en_names.iter().find(|n| !snake(n)) {
                problems.push(format!(
                    "{at}: placeholder `{bad}` is not a lowercase name (or is a Rust keyword)"
                ));
                continue;
            }
            if en.chars().any(japanese) {
                problems.push(format!("{at}: en holds Japanese"));
            }
            if en == ja && has_words(&en_pieces) {
                problems.push(format!("{at}: ja is the English text: translate it"));
            }
            let _ = writeln!(
                entries,
                "    Entry {{ key: \"{section}.{key}\", en: {}, ja: {} }},",
                pieces_code(&en_pieces),
                pieces_code(&ja_pieces)
            );
            let name = camel(key);
            // A fenced text block: the catalog's texts are no Markdown (brackets,
            // <NAME>, indented lines would be links, HTML or doctests). The fence is
            // longer than any run of backticks inside, so a text cannot close it.
            let longest_run = |t: &str| t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(3.max(1 + longest_run(en).max(longest_run(ja))));
            let _ = writeln!(
                modules,
                "    #[doc = {:?}]",
                format!("{fence}text\nen: {en}\nja: {ja}\n{fence}")
            );
            let fields: Vec<&String> = en_names.iter().collect();
            if fields.is_empty() {
                let _ = writeln!(
                    modules,
                    "    #[derive(Debug, Clone, Copy)]\n    pub struct {name};"
                );
                let _ = writeln!(
                    modules,
                    "    impl From<{name}> for Text {{\n        fn from(_: {name}) -> Text {{\n            Text::new({index}, Vec::new())\n        }}\n    }}"
                );
            } else {
                let generics: Vec<String> = (1..=fields.len()).map(|i| format!("P{i}")).collect();
                let g = generics.join(", ");
                let bounds: Vec<String> =
                    generics.iter().map(|p| format!("{p}: Into<Arg>")).collect();
                let _ = writeln!(
                    modules,
                    "    #[derive(Debug, Clone)]\n    pub struct {name}<{g}> {{"
                );
                for (f, p) in fields.iter().zip(&generics) {
                    let _ = writeln!(modules, "        pub {f}: {p},");
                }
                let _ = writeln!(modules, "    }}");
                let args: Vec<String> = fields
                    .iter()
                    .map(|f| format!("({f:?}, v.{f}.into())"))
                    .collect();
                let _ = writeln!(
                    modules,
                    "    impl<{}> From<{name}<{g}>> for Text {{\n        fn from(v: {name}<{g}>) -> Text {{\n            Text::new({index}, vec![{}])\n        }}\n    }}",
                    bounds.join(", "),
                    args.join(", ")
                );
            }
            index += 1;
        }
        let _ = writeln!(modules, "}}\n");
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    Ok(format!(
        "/// Every entry of the catalog, in file and key order.\nstatic ENTRIES: &[Entry] = &[\n{entries}];\n\n{modules}"
    ))
}
