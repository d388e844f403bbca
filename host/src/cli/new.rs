//! `labrun new step NAME`: a starter step that runs, with cases that pass
//! ([`crate::author::new`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::author::new::{self, NewStep};
use crate::text::{help, string};

pub fn cli() -> Command {
    Command::new("new")
        .about(string(help::NewAbout))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(NewStep::augment_args(Command::new("step")).about(string(help::NewStepAbout)))
}

pub fn exec(matches: &ArgMatches) -> u8 {
    let Some(m) = matches.subcommand_matches("step") else {
        // clap requires a subcommand here, and `step` is the only one.
        let _ = cli().print_help();
        return crate::outcome::exit::BAD_INPUT;
    };
    match NewStep::from_arg_matches(m) {
        Ok(flags) => new::run(&flags),
        Err(e) => super::clap_error(&e, "labrun new step --help"),
    }
}
