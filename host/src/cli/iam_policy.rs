//! `labrun iam-policy STEP|COURSE`: the least-privilege IAM policy for exactly what a
//! step or course can call ([`crate::prepare::iam`]).

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::prepare::iam::{self, IamArgs};
use crate::text::{help, string};

pub fn cli() -> Command {
    IamArgs::augment_args(Command::new("iam-policy"))
        .about(string(help::IamPolicyAbout))
        .after_help(string(help::IamPolicyAfter))
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    match IamArgs::from_arg_matches(matches) {
        Ok(args) => iam::run(&args).await,
        Err(e) => super::clap_error(&e, "labrun iam-policy --help"),
    }
}
