//! `labrun new step NAME --component`: a Rust crate that builds the starter step as a
//! WebAssembly component (wasm32-wasip2), with the same catalog (`NAME.messages.toml`,
//! embedded: its `[step]` is the component's `describe()`) and the same two cases as
//! the Rhai starter.
//!
//! How the crate finds the SDK: by default labrun writes the copy of the step SDK
//! (`plugins/sdk`) and of the WIT (`wit/`) it was built with into the crate, under
//! `vendor/labrun/` in the repository's own layout, so the crate builds anywhere, for
//! exactly the `labrun:host` world this labrun serves, without a labrun checkout.
//! `--sdk PATH` names a `labrun-step-sdk` crate instead (a labrun checkout's
//! `plugins/sdk`), to track that checkout. The crate's `Cargo.lock` is the one labrun's
//! own plugins are built and tested with, so its dependencies are versions known to
//! build (and, once fetched, build offline).

use std::path::{Path, PathBuf};

use super::refusal::NewError;

// `SDK_FILES`: every file of the step SDK (`plugins/sdk`, with its `Cargo.toml`),
// `STEP_CATALOG_FILES`: every file of the catalog crate it reads catalogs with
// (`plugins/catalog`), `WIT_FILES`: every file of `wit/`, as (relative path, text);
// listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/vendored.rs"));

const PLUGINS_MANIFEST: &str = include_str!("../../../plugins/Cargo.toml");
const PLUGINS_LOCK: &str = include_str!("../../../plugins/Cargo.lock");
const PLUGINS_TOOLCHAIN: &str = include_str!("../../../plugins/rust-toolchain.toml");

/// Where the vendored SDK goes in the crate. The SDK finds the WIT at `../../wit` and
/// its catalog crate at `../catalog` from its own directory, as in the repository.
const VENDORED_SDK: &str = "vendor/labrun/plugins/sdk";
const VENDORED_STEP_CATALOG: &str = "vendor/labrun/plugins/catalog";
const VENDORED_WIT: &str = "vendor/labrun/wit";

/// Names cargo or rustc refuse for a package or its library: Rust keywords, the
/// standard crates, and the crates the step depends on.
const RESERVED: &str = "std core alloc proc_macro proc-macro test labrun-step-sdk \
    labrun_step_sdk labrun-step-catalog labrun_step_catalog serde_json serde-json wit-bindgen wit_bindgen \
    as async await box break const continue crate do dyn else enum extern false fn for \
    gen if impl in let loop match mod move mut priv pub ref return self static struct \
    super trait true try type unsafe use where while yield";

/// The library (and .wasm) name of step `name`.
pub fn lib_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Checks `--sdk PATH`: a directory holding the `labrun-step-sdk` crate. Returns it
/// absolute, so the crate's manifest works from anywhere.
pub fn check_sdk(path: &Path) -> Result<PathBuf, NewError> {
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|why| NewError::SdkUnreadable {
        sdk: path.to_path_buf(),
        manifest: manifest.clone(),
        why,
    })?;
    let name = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(String::from));
    if name.as_deref() != Some("labrun-step-sdk") {
        return Err(NewError::NotTheSdk {
            sdk: path.to_path_buf(),
            manifest,
        });
    }
    std::fs::canonicalize(path).map_err(|why| NewError::SdkPath {
        sdk: path.to_path_buf(),
        why,
    })
}

/// Refuses a step name cargo would refuse as a package (a keyword, `std`, …).
pub fn check_crate_name(name: &str) -> Result<(), NewError> {
    if RESERVED.split_whitespace().any(|r| r == name) {
        return Err(NewError::ReservedCrateName {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// The crate's files, relative to its directory, in the order they are reported.
/// `sdk` is the `--sdk` directory (absolute), or `None` to vendor the SDK; `catalog` is
/// the step's catalog, written as `NAME.messages.toml` and embedded by `src/lib.rs`;
/// `cases` are the starter's case files (name, text), written to `cases/`.
pub fn files(
    name: &str,
    sdk: Option<&Path>,
    catalog: String,
    cases: Vec<(&str, String)>,
) -> Vec<(PathBuf, String)> {
    let lib = lib_name(name);
    let sdk_dep = match sdk {
        Some(path) => toml_string(&path.display().to_string()),
        None => toml_string(VENDORED_SDK),
    };
    let mut files: Vec<(PathBuf, String)> = vec![
        ("Cargo.toml".into(), manifest(name, &sdk_dep)),
        ("src/lib.rs".into(), starter_source(name)),
        (format!("{name}.messages.toml").into(), catalog),
    ];
    files.extend(
        cases
            .into_iter()
            .map(|(file, text)| (Path::new("cases").join(file), text)),
    );
    files.extend([
        ("README.md".into(), readme(name, &lib, sdk)),
        ("rust-toolchain.toml".into(), toolchain()),
        (".cargo/config.toml".into(), CARGO_CONFIG.into()),
        (".gitignore".into(), "/target\n".into()),
        // labrun's plugins are built and tested with these versions; cargo adds this
        // crate's own entry on the first build.
        ("Cargo.lock".into(), PLUGINS_LOCK.into()),
    ]);
    if sdk.is_none() {
        for (dir, table) in [
            (VENDORED_SDK, SDK_FILES),
            (VENDORED_STEP_CATALOG, STEP_CATALOG_FILES),
        ] {
            for (path, text) in table {
                // The manifest inherits from the plugins workspace: written out.
                let text = match *path {
                    "Cargo.toml" => vendored_manifest(text),
                    _ => (*text).to_string(),
                };
                files.push((Path::new(dir).join(path), text));
            }
        }
        for (path, text) in WIT_FILES {
            files.push((Path::new(VENDORED_WIT).join(path), (*text).into()));
        }
    }
    files
}

/// A TOML basic string (a JSON string is one, for the text labrun writes here).
fn toml_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The lines of `[section]` in a TOML text (up to the next header).
fn section<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .collect()
}

/// The value text of `key = …` (one line) in `[section]`.
fn value<'a>(text: &'a str, name: &str, key: &str) -> Option<&'a str> {
    section(text, name).into_iter().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// A vendored crate's manifest (the SDK's, its catalog crate's) with what it inherits
/// from the plugins workspace written out, so it builds in the step's own workspace.
fn vendored_manifest(original: &str) -> String {
    let mut out =
        String::from("# A copy of a crate of labrun's (plugins/), written by `labrun new`.\n");
    let mut current = String::new();
    for line in original.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = trimmed.trim_matches(['[', ']']).to_string();
        }
        let inherited = trimmed
            .strip_suffix(".workspace = true")
            .filter(|key| !key.contains([' ', '=']));
        let from = match current.as_str() {
            "package" => "workspace.package",
            "dependencies" | "build-dependencies" | "dev-dependencies" => "workspace.dependencies",
            _ => "",
        };
        match inherited.and_then(|key| Some((key, value(PLUGINS_MANIFEST, from, key)?))) {
            Some((key, v)) => out.push_str(&format!("{key} = {v}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn toolchain() -> String {
    let channel = value(PLUGINS_TOOLCHAIN, "toolchain", "channel").unwrap_or("\"stable\"");
    format!(
        "# The toolchain labrun's own plugins are built with; wit-bindgen needs at least it.\n[toolchain]\nchannel = {channel}\ncomponents = [\"clippy\", \"rustfmt\"]\ntargets = [\"wasm32-wasip2\"]\n"
    )
}

const CARGO_CONFIG: &str = "# A step is a WebAssembly component: `cargo build` builds one (no other tool needed).\n[build]\ntarget = \"wasm32-wasip2\"\n";

fn manifest(name: &str, sdk_dep: &str) -> String {
    let edition = value(PLUGINS_MANIFEST, "workspace.package", "edition").unwrap_or("\"2021\"");
    let rust_version =
        value(PLUGINS_MANIFEST, "workspace.package", "rust-version").unwrap_or("\"1.95\"");
    let serde_json =
        value(PLUGINS_MANIFEST, "workspace.dependencies", "serde_json").unwrap_or("\"1\"");
    let profile = section(PLUGINS_MANIFEST, "profile.release").join("\n");
    format!(
        r#"# {name}: a labrun step as a WebAssembly component (see README.md).
[package]
name = "{name}"
version = "0.1.0"
edition = {edition}
rust-version = {rust_version}
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
labrun-step-sdk = {{ path = {sdk_dep} }}
serde_json = {serde_json}

# Its own workspace, wherever it is written.
[workspace]

# Small components; a panic ends the step (labrun reports its checks as `error`).
[profile.release]
{profile}
"#
    )
    .trim_end()
    .to_string()
        + "\n"
}

fn readme(name: &str, lib: &str, sdk: Option<&Path>) -> String {
    let sdk_note = match sdk {
        None => "`vendor/labrun/` is a copy of the step SDK (`plugins/sdk`) and the WIT (`wit/`) of\nthe labrun that wrote this crate: the component is built for exactly the\n`labrun:host` world that labrun serves. To move to a newer labrun, replace\n`vendor/labrun/` with what its `labrun new step NAME --component` writes.".to_string(),
        Some(path) => format!(
            "The step SDK is the crate at `{}` (`--sdk`); the component is built for that\nlabrun's `labrun:host` world.",
            path.display()
        ),
    };
    format!(
        r#"# {name}

A labrun step as a WebAssembly component (`wasm32-wasip2`), written by
`labrun new step {name} --component`. `{name}.messages.toml` declares the step (its
`[step]`: name, params, checklist ids, prerequisites) and holds its titles and
messages in English and Japanese; `src/lib.rs` embeds it and has one function per
check id, in checklist order; `cases/` has a case for each way it can go.

    rustup target add wasm32-wasip2       # once (rust-toolchain.toml names it)
    cargo build --release                 # .cargo/config.toml sets the target
    labrun test target/wasm32-wasip2/release/{lib}.wasm cases/*.toml
    labrun describe target/wasm32-wasip2/release/{lib}.wasm
    labrun target/wasm32-wasip2/release/{lib}.wasm --trainee user05

    cargo clippy --release -- -D warnings

{sdk_note}
"#
    )
}

/// The step's Rust type: `vpc-check` → `VpcCheck`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn starter_source(name: &str) -> String {
    STARTER
        .replace("{{name}}", name)
        .replace("{{lib}}", &lib_name(name))
        .replace("{{Type}}", &type_name(name))
}

/// The component's source, `{{name}}`, `{{lib}}` and `{{Type}}` filled in.
const STARTER: &str = include_str!("../../starters/component-lib.rs.in");

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_file(path: &str) -> &'static str {
        SDK_FILES.iter().find(|(p, _)| *p == path).unwrap().1
    }

    #[test]
    fn the_vendored_sdk_and_wit_are_the_repositorys() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (table, dir) in [
            (SDK_FILES, "plugins/sdk"),
            (STEP_CATALOG_FILES, "plugins/catalog"),
            (WIT_FILES, "wit"),
        ] {
            assert!(!table.is_empty(), "{dir}");
            for (path, text) in table {
                let on_disk = std::fs::read_to_string(root.join(dir).join(path)).unwrap();
                assert_eq!(*text, on_disk, "{dir}/{path}");
            }
        }
        assert!(WIT_FILES.iter().any(|(p, _)| *p == "labrun-host.wit"));
        // The vendored layout relies on where the SDK looks for the WIT and its
        // catalog crate.
        assert!(sdk_file("src/lib.rs").contains(r#"path: "../../wit""#));
        assert!(sdk_file("Cargo.toml").contains(r#"labrun-step-catalog = { path = "../catalog" }"#));
    }

    #[test]
    fn the_vendored_manifests_inherit_nothing() {
        let catalog_manifest = STEP_CATALOG_FILES
            .iter()
            .find(|(p, _)| *p == "Cargo.toml")
            .unwrap()
            .1;
        for (name, manifest) in [
            ("labrun-step-sdk", sdk_file("Cargo.toml")),
            ("labrun-step-catalog", catalog_manifest),
        ] {
            let text = vendored_manifest(manifest);
            assert!(!text.contains("workspace"), "{text}");
            let parsed: toml::Table = toml::from_str(&text).unwrap();
            let original: toml::Table = toml::from_str(manifest).unwrap();
            let workspace: toml::Table = toml::from_str(PLUGINS_MANIFEST).unwrap();
            let deps = parsed["dependencies"].as_table().unwrap();
            for (key, own) in original["dependencies"].as_table().unwrap() {
                // An inherited dependency takes the workspace's spec; its own stays as
                // written.
                let inherited = own.get("workspace").and_then(toml::Value::as_bool) == Some(true);
                let expected = if inherited {
                    &workspace["workspace"]["dependencies"][key]
                } else {
                    own
                };
                assert_eq!(&deps[key], expected, "{name}: {key}");
            }
            assert_eq!(parsed["package"]["name"].as_str(), Some(name));
            assert_eq!(
                parsed["package"]["edition"],
                workspace["workspace"]["package"]["edition"]
            );
        }
    }

    #[test]
    fn the_crate_manifest_and_toolchain_parse() {
        for sdk in [None, Some(Path::new("/opt/labrun/plugins/sdk"))] {
            let files = files(
                "vpc-check",
                sdk,
                "[step]\n".into(),
                vec![("a.toml", String::new())],
            );
            assert_eq!(files[2].0, Path::new("vpc-check.messages.toml"));
            assert_eq!(files[3].0, Path::new("cases/a.toml"));
            let manifest: toml::Table = toml::from_str(&files[0].1).unwrap();
            assert_eq!(manifest["package"]["name"].as_str(), Some("vpc-check"));
            let dep = &manifest["dependencies"]["labrun-step-sdk"]["path"];
            assert_eq!(
                dep.as_str(),
                Some(sdk.map_or(VENDORED_SDK, |p| p.to_str().unwrap()))
            );
            assert_eq!(
                manifest["profile"]["release"]["panic"].as_str(),
                Some("abort")
            );
            assert!(manifest["workspace"].as_table().unwrap().is_empty());
            assert_eq!(
                files.iter().any(|(p, _)| p.starts_with("vendor")),
                sdk.is_none()
            );
        }
        let toolchain: toml::Table = toml::from_str(&toolchain()).unwrap();
        assert_eq!(
            toolchain["toolchain"]["channel"],
            toml::from_str::<toml::Table>(PLUGINS_TOOLCHAIN).unwrap()["toolchain"]["channel"]
        );
    }

    #[test]
    fn type_and_lib_names() {
        assert_eq!(type_name("vpc-check"), "VpcCheck");
        assert_eq!(type_name("step4"), "Step4");
        assert_eq!(type_name("a_b-c"), "ABC");
        assert_eq!(lib_name("vpc-check"), "vpc_check");
        assert!(check_crate_name("fn").is_err());
        assert!(check_crate_name("serde_json").is_err());
        assert!(check_crate_name("step4").is_ok());
    }
}
