//! `labrun describe STEP` (also spelled `labrun inspect STEP`, its name until the two
//! merged): what a step is, declares and may call, without running it
//! ([`crate::step::describe`](mod@crate::step::describe)).

use std::path::PathBuf;

use clap::{ArgMatches, Args, Command, FromArgMatches, ValueEnum};

use crate::outcome::exit;
use crate::text::{help, string};

#[derive(Debug, Args)]
struct DescribeArgs {
    #[arg(help = string(help::DescribeStep))]
    step: PathBuf,

    #[arg(long, value_enum, default_value_t = Form::Human, help = string(help::DescribeFormat))]
    format: Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Form {
    Human,
    Json,
}

pub fn cli() -> Command {
    DescribeArgs::augment_args(Command::new("describe").alias("inspect"))
        .about(string(help::DescribeAbout))
}

pub async fn exec(matches: &ArgMatches) -> u8 {
    let args = match DescribeArgs::from_arg_matches(matches) {
        Ok(args) => args,
        Err(e) => return super::clap_error(&e, "labrun describe --help"),
    };
    match crate::step::describe(&args.step).await {
        Ok(d) if args.format == Form::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&d).expect("a description serializes")
            );
            exit::PASS
        }
        Ok(d) => {
            print!("{}", d.human(crate::text::lang()));
            exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {e}");
            exit::BAD_INPUT
        }
    }
}
