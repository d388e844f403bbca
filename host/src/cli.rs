//! The command line, top to bottom: `labrun inspect`, `labrun describe`, `labrun test`,
//! `labrun new`, `labrun plugin …`, or
//! `labrun STEP …`, which is parsed ([`crate::flags`]), planned ([`crate::plan`]),
//! executed ([`crate::execute`]) and reported. This module only dispatches and turns
//! errors into one line and an exit code.

use std::path::Path;

use clap::{CommandFactory, Parser};

use crate::execute::{deliver, execute};
use crate::flags::Flags;
use crate::outcome::exit;
use crate::plan::plan;
use crate::text::{self, Lang, Text};

/// The command line a first-time operator most likely wants.
const EXAMPLE: &str = "labrun scripts/step3.rhai --param user=user05";

/// [`main`], told whether standard output was closed when the process started
/// (`>&-`; the binary looks before Rust's runtime hides it behind /dev/null): then
/// no report could reach anyone, and nothing runs.
pub async fn main_checked(args: Vec<std::ffi::OsString>, stdout_closed: bool) -> u8 {
    if stdout_closed {
        eprintln!("labrun: standard output is closed, so no report could be read: send it somewhere (e.g. > report.txt, or > /dev/null to keep only the exit code)");
        return exit::ERROR;
    }
    exit_when_stdout_is_gone();
    main(args).await
}

/// `println!` panics when standard output is gone (`labrun describe … | head -1`):
/// that is one line and exit 2, as for a report, never a panic and its backtrace.
fn exit_when_stdout_is_gone() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.payload_as_str().unwrap_or("");
        if let Some(why) = text.strip_prefix("failed printing to stdout: ") {
            eprintln!("labrun: standard output was closed before everything was written ({why})");
            std::process::exit(i32::from(exit::ERROR));
        }
        default(info)
    }));
}

/// Parses the command line and runs; returns the process exit code.
pub async fn main(args: Vec<std::ffi::OsString>) -> u8 {
    // Every line from here on, the flags' own errors included, in the run's language.
    text::set_lang(Lang::from_args(&args).unwrap_or_else(Lang::from_env));
    // `labrun inspect STEP` is the one subcommand; anything else is `labrun STEP …`.
    if args.get(1).is_some_and(|a| a == "inspect") {
        return inspect(&args[2..]).await;
    }
    // `labrun test STEP CASE…` and `labrun new step NAME`: the step authors' kit.
    if args.get(1).is_some_and(|a| a == "test") {
        return crate::author::cases::main(args[1..].to_vec()).await;
    }
    if args.get(1).is_some_and(|a| a == "new") {
        return crate::author::new::main(args[1..].to_vec());
    }
    // `labrun iam-policy STEP|COURSE` and `labrun preflight STEP|COURSE …`: a real
    // class's preparation (prepare/).
    if args.get(1).is_some_and(|a| a == "iam-policy") {
        use clap::Parser;
        return match crate::prepare::iam::IamArgs::try_parse_from(
            std::iter::once("labrun iam-policy".into()).chain(args.into_iter().skip(2)),
        ) {
            Ok(parsed) => crate::prepare::iam::run(&parsed).await,
            Err(e) => match crate::flags::clap_failure(&e) {
                None => exit::PASS,
                Some(line) => {
                    eprintln!("labrun: iam-policy: {line} (see labrun iam-policy --help)");
                    exit::BAD_INPUT
                }
            },
        };
    }
    if args.get(1).is_some_and(|a| a == "preflight") {
        return crate::prepare::preflight::main(args).await;
    }
    // `labrun describe STEP [--format human|json]`: params, checks, capabilities.
    if args.get(1).is_some_and(|a| a == "describe") {
        return describe(&args[2..]).await;
    }
    // `labrun plugin publish|pull|lock|keygen|sign`: sharing steps through registries.
    if args.get(1).is_some_and(|a| a == "plugin") {
        // `plugin lock COURSE.toml` locks every step reference the course names.
        let args = match crate::plan::course::expand_lock_args(args) {
            Ok(args) => args,
            Err(e) => {
                eprintln!("labrun: {}", crate::outcome::inert(&e.to_string()));
                return e.exit_code();
            }
        };
        return crate::publish::main(args).await;
    }
    // `labrun` alone: what to type, in one line.
    if args.len() <= 1 {
        eprintln!(
            "labrun: {}",
            Text::from(text::cli::NoStep { example: EXAMPLE })
        );
        return exit::BAD_INPUT;
    }
    // `labrun help [plugin|inspect]` is the help, not a step named `help`.
    if args[1] == "help" {
        return help(&args[2..]).await;
    }
    let flags = match Flags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(e) => return clap_error(e),
    };
    let plan = match plan(&flags).await {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("labrun: {}", crate::outcome::inert(&e.to_string()));
            return e.exit_code();
        }
    };
    for warning in &plan.warnings {
        eprintln!("labrun: {warning}");
    }
    let watch = match crate::plan::live::watch(&flags, &plan) {
        Ok(watch) => watch,
        Err(e) => {
            eprintln!("labrun: {e}");
            return e.exit_code();
        }
    };
    // Named once, before the first check runs: what these settings cannot decide.
    for undecided in crate::execute::undecided::undecided(&plan) {
        eprintln!("labrun: {}", undecided.message.get(plan.outputs.style.lang));
    }
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

/// `labrun help`: the help of `labrun STEP …`, or of the subcommand named.
async fn help(topic: &[std::ffi::OsString]) -> u8 {
    match topic.first().and_then(|t| t.to_str()) {
        None => {
            let _ = Flags::command().print_long_help();
            exit::PASS
        }
        Some("plugin") => {
            crate::publish::main(vec!["labrun".into(), "plugin".into(), "--help".into()]).await
        }
        Some("inspect") => {
            println!("{INSPECT_USAGE}");
            exit::PASS
        }
        Some("test") => {
            crate::author::cases::main(vec!["labrun test".into(), "--help".into()]).await
        }
        Some("new") => crate::author::new::main(vec!["labrun new".into(), "--help".into()]),
        Some("describe") => {
            println!("{DESCRIBE_USAGE}");
            exit::PASS
        }
        Some(other) => {
            eprintln!("labrun: no help on `{}`: try labrun help, labrun help plugin, labrun help inspect, labrun help test or labrun help new", other.escape_debug());
            exit::BAD_INPUT
        }
    }
}

/// clap's help and version go to stdout (exit 0); its errors become one line.
fn clap_error(e: clap::Error) -> u8 {
    let Some(line) = crate::flags::clap_failure(&e) else {
        return exit::PASS;
    };
    let missing = e.kind() == clap::error::ErrorKind::MissingRequiredArgument;
    let example = if missing && line.contains("<STEP>") {
        format!(", e.g. {EXAMPLE}")
    } else {
        String::new()
    };
    eprintln!("labrun: {line}{example} (see labrun --help)");
    exit::BAD_INPUT
}

const DESCRIBE_USAGE: &str = "labrun describe STEP [--format human|json]: its title, params (with defaults), checks (with titles) and the capabilities and operations it uses";

/// `labrun describe STEP`: prints what the step declares and may call.
async fn describe(args: &[std::ffi::OsString]) -> u8 {
    let mut path = None;
    let mut json = false;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let format = match arg.as_str() {
            "--format" => it.next(),
            a if a.starts_with("--format=") => Some(a["--format=".len()..].to_string()),
            a if a.starts_with('-') => {
                eprintln!(
                    "labrun: describe: unknown flag `{}`; usage: {DESCRIBE_USAGE}",
                    a.escape_debug()
                );
                return exit::BAD_INPUT;
            }
            _ if path.is_some() => {
                eprintln!("labrun: describe takes one step; usage: {DESCRIBE_USAGE}");
                return exit::BAD_INPUT;
            }
            _ => {
                path = Some(arg);
                continue;
            }
        };
        match format.as_deref() {
            Some("json") => json = true,
            Some("human") => json = false,
            other => {
                eprintln!(
                    "labrun: describe: --format {}: use human or json",
                    other.unwrap_or("(missing)").escape_debug()
                );
                return exit::BAD_INPUT;
            }
        }
    }
    let Some(path) = path else {
        eprintln!("labrun: usage: {DESCRIBE_USAGE}");
        return exit::BAD_INPUT;
    };
    match crate::step::describe(Path::new(&path)).await {
        Ok(d) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&d).expect("a description serializes")
            );
            exit::PASS
        }
        Ok(d) => {
            print!("{}", d.human());
            exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {}", crate::outcome::inert(&e));
            exit::BAD_INPUT
        }
    }
}

const INSPECT_USAGE: &str =
    "labrun inspect STEP (a .rhai script or a .wasm component): what it imports and declares";

/// `labrun inspect STEP`: prints what the step imports and declares.
async fn inspect(args: &[std::ffi::OsString]) -> u8 {
    let [path] = args else {
        eprintln!("labrun: usage: {INSPECT_USAGE}");
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
