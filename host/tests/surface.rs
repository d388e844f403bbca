//! The capability surface cannot drift: the registry (what the host answers), the
//! WIT (what a component imports), the guest SDK (what a plugin calls) and the docs
//! name the same capabilities and operations.

use std::collections::BTreeSet;
use std::path::PathBuf;

use labrun::caps::registry;

fn repo_file(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The body of `<keyword> <name> {` … its closing brace, in `text`.
fn block<'a>(text: &'a str, keyword: &str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("{keyword} {name} {{"))?;
    let body = &text[start..];
    let mut depth = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&body[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Function names declared in a WIT interface body (`name: func(`).
fn wit_functions(body: &str) -> BTreeSet<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("///"))
        .filter_map(|l| l.split_once(": func(").map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn wit_declares_exactly_the_registry() {
    let wit = repo_file("wit/labrun-host.wit");
    let world = block(&wit, "world", "step").expect("world step");
    for cap in registry::ALL {
        let body = block(&wit, "interface", cap.name)
            .unwrap_or_else(|| panic!("wit has no interface {}", cap.name));
        let declared = wit_functions(body);
        let served: BTreeSet<String> = (cap.operations)().iter().map(|op| op.wit_name()).collect();
        assert_eq!(
            declared, served,
            "interface {} vs the host's registry",
            cap.name
        );
        assert!(
            world.contains(&format!("import {};", cap.name)),
            "world step imports {}",
            cap.name
        );
    }
}

#[test]
fn the_guest_sdk_knows_every_operation() {
    let sdk = repo_file("plugins/sdk/src/lib.rs");
    for cap in registry::ALL {
        let module = block(&sdk, "pub mod", cap.name)
            .unwrap_or_else(|| panic!("plugins/sdk has no `pub mod {}`", cap.name));
        if cap.name == "aws" {
            // AWS goes through one `call(operation, …)` whose names plugins/sdk/build.rs
            // generates from the WIT's `interface aws`, which the test above holds to
            // the registry.
            assert!(
                module.contains(r#"include!(concat!(env!("OUT_DIR"), "/aws_operations.rs"));"#),
                "the SDK's aws module is generated from the WIT"
            );
            let build = repo_file("plugins/sdk/build.rs");
            assert!(
                build.contains("interface aws {"),
                "plugins/sdk/build.rs reads the WIT"
            );
        } else {
            for op in cap.operation_names() {
                assert!(
                    module.contains(&format!("pub fn {op}(")),
                    "plugins/sdk {}::{op} exists",
                    cap.name
                );
            }
        }
    }
}

#[test]
fn every_aws_operation_is_documented() {
    let docs = repo_file("docs/aws-operations.md");
    let ops: BTreeSet<String> = registry::get("aws")
        .unwrap()
        .operation_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    // A section per operation, and none for an operation labrun does not have.
    let sections: BTreeSet<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("### `")?.strip_suffix('`'))
        .map(str::to_string)
        .collect();
    assert_eq!(
        sections, ops,
        "docs/aws-operations.md's sections vs the registry"
    );
    let count = format!("offers {} read-only operations", ops.len());
    assert!(
        docs.contains(&count),
        "docs/aws-operations.md says it {count}"
    );
}

#[test]
fn the_capability_guide_names_every_field_and_scope() {
    let guide = repo_file("docs/adding-a-capability.md");
    let code = repo_file("host/src/caps/capability.rs");
    let fields = block(&code, "pub struct", "Capability").expect("struct Capability");
    for field in fields
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub ")?.split_once(':'))
        .map(|(name, _)| name)
    {
        assert!(
            guide.contains(&format!("| `{field}` |")),
            "docs/adding-a-capability.md's table lacks Capability::{field}"
        );
    }
    let scopes = block(&code, "pub enum", "Scope").expect("enum Scope");
    for scope in scopes
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && l.ends_with(','))
        .map(|l| l.split(['(', ',']).next().unwrap())
    {
        assert!(
            guide.contains(&format!("`Scope::{scope}")),
            "docs/adding-a-capability.md does not explain Scope::{scope}"
        );
    }
}
