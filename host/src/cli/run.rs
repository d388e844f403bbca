//! `labrun STEP …`, the root of the tree: the run's flags ([`crate::flags`]) are
//! planned ([`crate::plan`]), then the run is executed and reported
//! ([`crate::execute`]), or, with `--watch`, repeated ([`crate::watch`]).

use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::execute::{deliver, execute};
use crate::flags::Flags;
use crate::outcome::inert;
use crate::plan::plan;
use crate::text::{self, help, string, Text};

/// The command line a first-time operator most likely wants.
pub const EXAMPLE: &str = "labrun scripts/step3.rhai --param user=user05";

pub fn cli() -> Command {
    Flags::command()
        .version(env!("CARGO_PKG_VERSION"))
        .about(string(help::RunAbout))
        .after_help(string(help::RunAfter))
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    let flags = match Flags::from_arg_matches(matches) {
        Ok(flags) => flags,
        Err(e) => return super::clap_error(&e, "labrun --help"),
    };
    let plan = match plan(&flags).await {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("labrun: {}", inert(&e.to_string()));
            return e.exit_code();
        }
    };
    for warning in &plan.warnings {
        eprintln!(
            "labrun: {}",
            Text::from(text::cli::Warning { what: warning })
        );
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
