//! `labrun test STEP CASE…`: a step against its own regression cases
//! ([`crate::author::cases`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::author::cases::{self, TestFlags};
use crate::text::{help, string};

pub fn cli() -> Command {
    // The about text after the flags: a doc comment on the struct would replace it.
    TestFlags::augment_args(Command::new("test"))
        .about(string(help::TestAbout))
        .after_help(string(help::TestAfter))
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    match TestFlags::from_arg_matches(matches) {
        Ok(flags) => cases::run(&flags).await,
        Err(e) => super::clap_error(&e, "labrun test --help"),
    }
}
