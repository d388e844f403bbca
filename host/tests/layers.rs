//! The host's modules read top-down with no import cycles.
//!
//! Every `crate::…`, `super::…` and `self::…` path in `host/src` (comments left out)
//! is resolved to the deepest module it names, which gives the module graph. An edge
//! between a module and its own ancestor is the parent/child relation and ignored;
//! any other edge is an edge between two siblings under their common parent. Then:
//! - the top-level modules import only modules below them in [`LAYERS`];
//! - under every parent (e.g. inside `caps`), the siblings form no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules, top to bottom: each may import only those after it.
const LAYERS: &[&str] = &[
    "cli", "author", "prepare", "plan", "flags", "publish", "watch", "serve", "execute", "step",
    "gate", "policy", "caps", "report", "history", "outcome", "error", "files", "text",
];

type Module = Vec<String>;

/// One reference: from a module to a module, and where it was written.
struct Reference {
    from: Module,
    to: Module,
    at: String,
}

/// `host/src`, or another tree to check (`LABRUN_LAYERS_SRC`, e.g. an old checkout).
fn src() -> PathBuf {
    std::env::var_os("LABRUN_LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `caps/aws/mod.rs` → [caps, aws]; `lib.rs` → [].
fn module_of(file: &Path) -> Module {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text without `//` comments (doc links name modules without importing them).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path written after `crate::`, `super::` or `self::`, with `{…}` groups
/// expanded, as absolute segment lists.
fn paths(code: &str, here: &Module, is_mod_file: bool) -> Vec<(Vec<String>, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let start = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| rest.starts_with(p.as_bytes()))
            .copied();
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let (Some(prefix), true) = (start, boundary) else {
            i += 1;
            continue;
        };
        let line = code[..i].matches('\n').count() + 1;
        // `self::` in a mod.rs is the module itself; in a.rs too. `super::` in a.rs
        // is the parent, in a/mod.rs the grandparent.
        let mut base: Vec<String> = match prefix {
            "crate::" => Vec::new(),
            "self::" => here.clone(),
            _ => {
                let mut b = here.clone();
                b.pop();
                let _ = is_mod_file;
                b
            }
        };
        let mut j = i + prefix.len();
        // Further `super::` hops.
        while code[j..].starts_with("super::") {
            base.pop();
            j += "super::".len();
        }
        let (found, end) = parse_tree(code, j, &base);
        for p in found {
            out.push((p, line));
        }
        i = end.max(i + 1);
    }
    out
}

/// Parses `a::b::{c, d::e}` at `at`; returns the absolute paths and where it ended.
fn parse_tree(code: &str, mut at: usize, base: &[String]) -> (Vec<Vec<String>>, usize) {
    let bytes = code.as_bytes();
    let mut path = base.to_vec();
    loop {
        if at < bytes.len() && bytes[at] == b'{' {
            let mut found = Vec::new();
            at += 1;
            loop {
                while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b',') {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return (found, at + 1);
                }
                let (inner, end) = parse_tree(code, at, &path);
                found.extend(inner);
                at = end;
                // Skip `as Name` and anything else up to the next item.
                while at < bytes.len() && bytes[at] != b',' && bytes[at] != b'}' {
                    at += 1;
                }
            }
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if start == at {
            return (vec![path], at);
        }
        let ident = &code[start..at];
        if ident != "self" {
            path.push(ident.to_string());
        }
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            return (vec![path], at);
        }
    }
}

fn references() -> (BTreeSet<Module>, Vec<Reference>) {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(f)).collect();
    let mut refs = Vec::new();
    for file in &files {
        let here = module_of(file);
        let text = code(&std::fs::read_to_string(file).unwrap());
        let is_mod = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        for (path, line) in paths(&text, &here, is_mod) {
            // The deepest module the path names.
            let to = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
                .unwrap_or_default();
            refs.push(Reference {
                from: here.clone(),
                to,
                at: format!("{}:{line}", file.strip_prefix(src()).unwrap().display()),
            });
        }
    }
    (modules, refs)
}

/// The sibling edge a reference makes under the two modules' common parent, unless
/// one is the other's ancestor.
fn sibling_edge(from: &Module, to: &Module) -> Option<(Module, String, String)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((
        from[..common].to_vec(),
        from[common].clone(),
        to[common].clone(),
    ))
}

#[test]
fn top_level_modules_import_only_lower_layers() {
    let (modules, refs) = references();
    let top: BTreeSet<&str> = modules
        .iter()
        .filter(|m| m.len() == 1)
        .map(|m| m[0].as_str())
        .collect();
    let listed: BTreeSet<&str> = LAYERS.iter().copied().collect();
    assert_eq!(top, listed, "every top-level module has a place in LAYERS");
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name).unwrap();
    let mut wrong = Vec::new();
    for r in &refs {
        if let Some((parent, a, b)) = sibling_edge(&r.from, &r.to) {
            if parent.is_empty() && rank(&a) >= rank(&b) {
                wrong.push(format!("{} imports {b} from {a}, a layer above it", r.at));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_docs_show_the_layers_as_they_are() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/adding-a-capability.md");
    let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = LAYERS.join(" → ");
    assert!(
        docs.lines().any(|l| l.trim() == line),
        "docs/adding-a-capability.md shows the layers as\n    {line}"
    );
    // lib.rs's doc, the map of the program, names every one of them.
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("host/src/lib.rs");
    let map: String = lib.lines().filter(|l| l.starts_with("//!")).collect();
    for layer in LAYERS {
        assert!(
            map.contains(&format!("[`{layer}`]")),
            "lib.rs's doc does not name {layer}"
        );
    }
}

#[test]
fn no_module_cycles() {
    let (_, refs) = references();
    // parent → (sibling → (sibling it imports → where))
    let mut graphs: BTreeMap<Module, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    for r in &refs {
        if let Some((parent, a, b)) = sibling_edge(&r.from, &r.to) {
            graphs
                .entry(parent)
                .or_default()
                .entry(a)
                .or_default()
                .entry(b)
                .or_insert_with(|| r.at.clone());
        }
    }
    let mut cycles = Vec::new();
    for (parent, graph) in &graphs {
        // Depth-first search from every node; a back edge is a cycle.
        fn visit(
            node: &str,
            graph: &BTreeMap<String, BTreeMap<String, String>>,
            stack: &mut Vec<String>,
            done: &mut BTreeSet<String>,
            cycles: &mut Vec<String>,
        ) {
            if done.contains(node) {
                return;
            }
            if let Some(i) = stack.iter().position(|n| n == node) {
                let mut cycle = stack[i..].to_vec();
                cycle.push(node.to_string());
                let at: Vec<String> = cycle
                    .windows(2)
                    .map(|w| graph[&w[0]][&w[1]].clone())
                    .collect();
                cycles.push(format!("{} ({})", cycle.join(" → "), at.join(", ")));
                return;
            }
            stack.push(node.to_string());
            for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
                visit(next, graph, stack, done, cycles);
            }
            stack.pop();
            done.insert(node.to_string());
        }
        let mut done = BTreeSet::new();
        for node in graph.keys() {
            let before = cycles.len();
            visit(node, graph, &mut Vec::new(), &mut done, &mut cycles);
            for c in &mut cycles[before..] {
                *c = format!("in crate::{}: {c}", parent.join("::"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_sees_references_and_cycles() {
    // The parser itself: groups, nesting, `super` hops and `self`.
    let here: Module = vec!["caps".into(), "dns".into()];
    let found: Vec<Vec<String>> = paths(
        "use super::net::{Fields, NetConfig};\nuse crate::caps::{self, hub::Hub};\nlet x = super::super::gate::Gate::new();",
        &here,
        false,
    )
    .into_iter()
    .map(|(p, _)| p)
    .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(found.contains(&s(&["caps", "net", "Fields"])), "{found:?}");
    assert!(found.contains(&s(&["caps"])), "{found:?}");
    assert!(found.contains(&s(&["caps", "hub", "Hub"])), "{found:?}");
    assert!(found.contains(&s(&["gate", "Gate", "new"])), "{found:?}");
    assert_eq!(
        sibling_edge(&s(&["caps", "dns"]), &s(&["caps", "net"])),
        Some((s(&["caps"]), "dns".into(), "net".into()))
    );
    assert_eq!(sibling_edge(&s(&["caps", "dns"]), &s(&["caps"])), None);
    // The real tree has references across layers, so the checks above are not vacuous.
    let (_, refs) = references();
    assert!(refs
        .iter()
        .any(|r| r.from == s(&["gate"]) && r.to == s(&["caps", "hub"])
            || r.from == s(&["gate"]) && r.to.first().is_some_and(|m| m == "caps")));
}
