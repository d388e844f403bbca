//! `labrun test STEP CASE…`: a step against its own regression cases
//! ([`crate::author::cases`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::author::cases::{self, TestFlags};

pub fn cli() -> Command {
    TestFlags::augment_args(
        Command::new("test")
            .about("Runs a step against its regression cases: each a cassette plus the status every check id must get")
            .after_help("A case file (TOML):\n  about = \"…\"\n  cassette = \"finished.cassette.json\"   # relative to the case file\n  trainee = \"user05\"\n  [params]   # optional\n  [expect]\n  A1 = \"pass\"\n\nExit codes: 0 every case matched · 1 some case did not · 64 bad input"),
    )
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    match TestFlags::from_arg_matches(matches) {
        Ok(flags) => cases::run(&flags).await,
        Err(e) => super::clap_error(&e, "labrun test --help"),
    }
}
