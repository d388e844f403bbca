//! The command line: one clap tree, one file per subcommand, as in cargo's
//! `src/bin/cargo/commands/`. Each file's `cli()` says what its subcommand takes and
//! `exec()` does it. The root of the tree is the run itself ([`run`]): a step path, a
//! class or course file, or an OCI reference runs without a subcommand.
//!
//! A new subcommand is a new file here with `cli()` and `exec()`, plus one line in
//! [`command`] and one in [`main`]'s dispatch. Its about and help texts come from the
//! catalog's `help` section in both languages ([`help`] says clap's own words there
//! too). `labrun help X` prints what `labrun X --help` prints; `host/tests/cli.rs`
//! asks every command in the tree for its help in both languages.
//!
//! This module only parses, dispatches and turns a parse error into one line and an
//! exit code.

pub mod describe;
pub mod help;
pub mod iam_policy;
pub mod new;
pub mod plugin;
pub mod preflight;
pub mod run;
pub mod test;

use std::ffi::OsString;

use clap::Command;

use crate::outcome::exit;
use crate::text::{self, Lang, Text};

/// The whole tree in the process language: the run's flags at the root, every
/// subcommand under it.
pub fn command() -> Command {
    help::localize(
        run::cli()
            .subcommands([
                describe::cli(),
                test::cli(),
                new::cli(),
                iam_policy::cli(),
                preflight::cli(),
                plugin::cli(),
            ])
            // `labrun STEP …` or `labrun SUBCOMMAND …`, never both: a step named like
            // a subcommand is run as `labrun ./test`.
            .args_conflicts_with_subcommands(true)
            .subcommand_negates_reqs(true),
    )
}

/// [`main`], told whether standard output was closed when the process started
/// (`>&-`; the binary looks before Rust's runtime hides it behind /dev/null): then
/// no report could reach anyone, and nothing runs.
pub async fn main_checked(args: Vec<OsString>, stdout_closed: bool) -> u8 {
    if stdout_closed {
        eprintln!("labrun: {}", Text::from(text::cli::StdoutClosed));
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
            eprintln!(
                "labrun: {}",
                Text::from(text::cli::StdoutGone {
                    why: text::quoted(why)
                })
            );
            std::process::exit(i32::from(exit::ERROR));
        }
        default(info)
    }));
}

/// Parses the command line and runs it; returns the process exit code.
pub async fn main(args: Vec<OsString>) -> u8 {
    // Every line from here on, the flags' own errors included, in the run's language.
    text::set_lang(Lang::from_args(&args).unwrap_or_else(Lang::from_env));
    // `labrun` alone: what to type, in one line.
    if args.len() <= 1 {
        eprintln!(
            "labrun: {}",
            Text::from(text::cli::NoStep {
                example: run::EXAMPLE
            })
        );
        return exit::BAD_INPUT;
    }
    let matches = match command().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(e) => return clap_error(&e, &help_of(&args)),
    };
    if let Some(words) = help::asked(&matches) {
        return help::exec(&words);
    }
    match matches.subcommand() {
        None => run::exec(&matches).await,
        Some(("describe", m)) => describe::exec(m).await,
        Some(("test", m)) => test::exec(m).await,
        Some(("new", m)) => new::exec(m),
        Some(("iam-policy", m)) => iam_policy::exec(m).await,
        Some(("preflight", m)) => preflight::exec(m).await,
        Some(("plugin", m)) => plugin::exec(m).await,
        Some((name, _)) => {
            // A subcommand added to `command()` but not here: the author's slip.
            eprintln!("labrun: {}", Text::from(text::cli::NoExec { name }));
            exit::ERROR
        }
    }
}

/// Where the help for these arguments is: `labrun plugin lock --help` for
/// `labrun plugin lock …`, `labrun --help` for a run.
fn help_of(args: &[OsString]) -> String {
    let mut at = command();
    let mut path = vec!["labrun".to_string()];
    for arg in args.iter().skip(1) {
        let Some(sub) = arg.to_str().and_then(|a| at.find_subcommand(a)).cloned() else {
            break;
        };
        path.push(sub.get_name().to_string());
        at = sub;
    }
    format!("{} --help", path.join(" "))
}

/// A clap outcome as labrun prints it: help and version on stdout (exit 0); help
/// asked for by giving too little (`labrun plugin`) on stderr (exit 64); an error as
/// one line in the run's language, `labrun: … (see HELP)` (exit 64).
pub fn clap_error(e: &clap::Error, help: &str) -> u8 {
    use clap::error::{ContextKind, ContextValue, ErrorKind as K};
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion => {
            let _ = e.print();
            return exit::PASS;
        }
        K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return exit::BAD_INPUT;
        }
        _ => {}
    }
    // `labrun a.rhai b.rhai` or `labrun a.rhai describe`: clap calls the second word
    // a subcommand in conflict with the step; it is one word too many.
    let what: Text = match (
        e.kind(),
        e.get(ContextKind::InvalidSubcommand),
        e.get(ContextKind::PriorArg),
    ) {
        (K::ArgumentConflict, Some(ContextValue::String(word)), Some(_)) => {
            text::cli::OneStep { word }.into()
        }
        _ => crate::flags::clap_text(e),
    };
    let what = if help == "labrun --help" && crate::flags::missing_argument(e, "<STEP>") {
        text::cli::WithExample {
            what,
            example: run::EXAMPLE,
        }
        .into()
    } else {
        what
    };
    eprintln!("labrun: {}", Text::from(text::cli::SeeHelp { what, help }));
    exit::BAD_INPUT
}
