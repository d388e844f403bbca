//! Lists the step SDK's and the WIT's files for `labrun new step --component`, which
//! writes a copy of them into the crate it makes (`src/author/component.rs`): every
//! file, so a module added to the SDK is carried without touching the host.

use std::path::{Path, PathBuf};

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

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the repository")
        .to_path_buf();
    let sdk = root.join("plugins/sdk");
    let wit = root.join("wit");
    // Directories: cargo reruns this when any file under them changes (or appears).
    println!("cargo::rerun-if-changed={}", sdk.display());
    println!("cargo::rerun-if-changed={}", wit.display());
    let text = table("SDK_FILES", &sdk) + &table("WIT_FILES", &wit);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("vendored.rs"), text).expect("OUT_DIR is writable");
}
