//! The command line, top to bottom: `labrun inspect`, `labrun plugin …`, or
//! `labrun STEP …`, which is parsed ([`crate::flags`]), planned ([`crate::plan`]),
//! executed ([`crate::execute`]) and reported. This module only dispatches and turns
//! errors into one line and an exit code.

use std::path::Path;

use clap::Parser;

use crate::execute::{deliver, execute};
use crate::flags::Flags;
use crate::outcome::exit;
use crate::plan::plan;

/// Parses the command line and runs; returns the process exit code.
pub async fn main(args: Vec<std::ffi::OsString>) -> u8 {
    // `labrun inspect STEP` is the one subcommand; anything else is `labrun STEP …`.
    if args.get(1).is_some_and(|a| a == "inspect") {
        return inspect(&args[2..]).await;
    }
    // `labrun plugin publish|pull|lock|keygen|sign`: sharing steps through registries.
    if args.get(1).is_some_and(|a| a == "plugin") {
        return crate::publish::main(args).await;
    }
    let flags = match Flags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(e) => return clap_error(e),
    };
    let plan = match plan(&flags).await {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("labrun: {e}");
            return e.exit_code();
        }
    };
    let watch = match crate::plan::live::watch(&flags, &plan) {
        Ok(watch) => watch,
        Err(e) => {
            eprintln!("labrun: {e}");
            return e.exit_code();
        }
    };
    if let Some(watch) = watch {
        return crate::watch::run(plan, watch).await;
    }
    let mut plan = plan;
    plan.outputs.progress = crate::execute::progress::Progress::for_terminal(
        plan.runs.len(),
        plan.outputs.format == crate::report::Format::Human,
    )
    .map(std::sync::Arc::new);
    let (executed, outputs) = execute(plan).await;
    deliver(&executed, &outputs)
}

/// clap's help and version go to stdout (exit 0); its errors become one line.
fn clap_error(e: clap::Error) -> u8 {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return exit::PASS;
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!(
        "labrun: {} (see labrun --help)",
        line.trim_start_matches("error: ")
    );
    exit::BAD_INPUT
}

/// `labrun inspect STEP`: prints what the step imports and declares.
async fn inspect(args: &[std::ffi::OsString]) -> u8 {
    let [path] = args else {
        eprintln!("labrun: usage: labrun inspect STEP (a .rhai script or a .wasm component)");
        return exit::BAD_INPUT;
    };
    let (text, error) = crate::step::inspect(Path::new(path)).await;
    print!("{text}");
    match error {
        None => exit::PASS,
        Some(e) => {
            eprintln!("labrun: {e}");
            exit::BAD_INPUT
        }
    }
}
