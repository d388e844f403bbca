//! `labrun new step NAME`: a starter step that runs, with cases that pass
//! ([`crate::author::new`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::author::new::{self, NewStep};

pub fn cli() -> Command {
    Command::new("new")
        .about("Writes a starter step, ready to edit, with labrun test cases that pass")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(NewStep::augment_args(
            Command::new("step").about(
                "Writes NAME.rhai and NAME.cases/ with two labrun test cases that pass (with --component: a Rust crate DIR/NAME/ for the same step)",
            ),
        ))
}

pub fn exec(matches: &ArgMatches) -> u8 {
    let Some(("step", m)) = matches.subcommand() else {
        eprintln!("labrun: labrun new makes a step: labrun new step NAME (see labrun new --help)");
        return crate::outcome::exit::BAD_INPUT;
    };
    match NewStep::from_arg_matches(m) {
        Ok(flags) => new::run(&flags),
        Err(e) => super::clap_error(&e, "labrun new step --help"),
    }
}
