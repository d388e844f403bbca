//! The SDK's `aws` module from the WIT: `aws::OPERATIONS` and the arms of `aws::call`
//! are generated from the functions of `interface aws` in `wit/labrun-host.wit`, so a
//! new AWS operation is spelled in the WIT (and the host's registry) and nowhere here.
//! The WIT is at `../../wit` from this crate, in the repository as in the copy
//! `labrun new step --component` vendors.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/labrun-host.wit");
    println!("cargo::rerun-if-changed={}", wit.display());
    let text = std::fs::read_to_string(&wit).unwrap_or_else(|e| panic!("{}: {e}", wit.display()));
    let names = match aws_functions(&text) {
        Ok(names) => names,
        Err(e) => {
            println!("cargo::error={}: {e}", wit.display());
            std::process::exit(1);
        }
    };
    let mut code = String::from(
        "/// The operations this SDK knows: the WIT `aws` interface's functions, snake_case.\n\
         pub const OPERATIONS: &[&str] = &[\n",
    );
    for name in &names {
        let _ = writeln!(code, "    {name:?},");
    }
    code.push_str(
        "];\n\n\
         /// The WIT function `operation` names, called with `request`; `None` for a name\n\
         /// the WIT does not declare.\n\
         fn forward(operation: &str, request: &str) -> Option<Result<String, wit::types::CapError>> {\n\
         \x20   use wit::aws as a;\n\
         \x20   Some(match operation {\n",
    );
    for name in &names {
        let _ = writeln!(code, "        {name:?} => a::{name}(request),");
    }
    code.push_str("        _ => return None,\n    })\n}\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("aws_operations.rs"), code).expect("OUT_DIR is writable");
}

/// The snake_case names of the functions declared in `interface aws { … }`, in order.
/// Each is one line `kebab-name: func(…`, as the rest of the WIT writes them.
fn aws_functions(wit: &str) -> Result<Vec<String>, String> {
    let start = wit.find("interface aws {").ok_or("no `interface aws {`")?;
    let body = &wit[start..];
    let end = body.find("\n}").ok_or("`interface aws` is not closed")?;
    let names: Vec<String> = body[..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| l.split_once(": func(").map(|(name, _)| name.trim()))
        .map(|name| name.replace('-', "_"))
        .collect();
    if let Some(bad) = names.iter().find(|n| {
        n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }) {
        return Err(format!(
            "`{bad}` in interface aws is not a kebab-case function name"
        ));
    }
    if names.is_empty() {
        return Err("interface aws declares no function".into());
    }
    Ok(names)
}
