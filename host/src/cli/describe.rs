//! `labrun describe STEP` (also spelled `labrun inspect STEP`, its name until the two
//! merged): what a step is, declares and may call, without running it
//! ([`crate::step::describe`]).

use std::path::PathBuf;

use clap::{ArgMatches, Args, Command, FromArgMatches, ValueEnum};

use crate::outcome::{exit, inert};

#[derive(Debug, Args)]
struct DescribeArgs {
    /// The step: a Rhai script (.rhai) or a WebAssembly component (.wasm).
    step: PathBuf,

    /// human: one fact a line; json: one JSON object.
    #[arg(long, value_enum, default_value_t = Form::Human)]
    format: Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Form {
    Human,
    Json,
}

pub fn cli() -> Command {
    DescribeArgs::augment_args(
        Command::new("describe")
            .visible_alias("inspect")
            .about("What a step is, declares and may call, without running it: its title, params (with defaults), checks (with titles), capabilities and operations; for a component also the labrun:host version, size and sha256"),
    )
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
            print!("{}", d.human());
            exit::PASS
        }
        Err(e) => {
            eprintln!("labrun: {}", inert(&e));
            exit::BAD_INPUT
        }
    }
}
