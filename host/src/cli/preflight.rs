//! `labrun preflight STEP|COURSE [RUN FLAGS]`: a class checked before it starts, with
//! the same flags as a run ([`crate::prepare::preflight`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::flags::Flags;
use crate::prepare::preflight;
use crate::text::{help, string};

pub fn cli() -> Command {
    Flags::augment_args(Command::new("preflight"))
        .about(string(help::PreflightAbout))
        .after_help(string(help::PreflightAfter))
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    match Flags::from_arg_matches(matches) {
        Ok(flags) => preflight::run(&flags).await,
        Err(e) => super::clap_error(&e, "labrun preflight --help"),
    }
}
