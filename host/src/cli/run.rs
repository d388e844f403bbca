//! `labrun STEP …`, the root of the tree: the run's flags ([`crate::flags`]) are
//! planned ([`crate::plan`]), then the run is executed and reported
//! ([`crate::execute`]), or, with `--watch`, repeated ([`crate::watch`]).

use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::execute::{deliver, execute};
use crate::flags::Flags;
use crate::outcome::inert;
use crate::plan::plan;

/// The command line a first-time operator most likely wants.
pub const EXAMPLE: &str = "labrun scripts/step3.rhai --param user=user05";

pub fn cli() -> Command {
    Flags::command()
        .version(env!("CARGO_PKG_VERSION"))
        .about("Checks whether a trainee really finished a hands-on AWS lab step")
        .after_help(
            "Exit codes: 0 all passed · 1 some fail/pending · 2 some error (could not check) · 64 bad input",
        )
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
        eprintln!("labrun: {warning}");
    }
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
