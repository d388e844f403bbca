//! `labrun help [COMMAND…]` (and `labrun plugin help …`), and every command's help in
//! the process language: the texts come from the catalog's `help` section
//! ([`crate::text`]); [`localize`] gives clap's own words (the usage heading, section
//! headings, the help and version flags, defaults, possible values, aliases) from it
//! too, so `labrun --help --lang ja` is Japanese throughout.
//!
//! clap's built-in help flag, version flag and help subcommand carry English texts
//! that cannot be changed after the tree is built, so labrun declares its own.

use clap::builder::PossibleValue;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::outcome::exit;
use crate::text::{help, list, string, Text};

/// The `help` subcommand of a command that has subcommands.
pub fn cli() -> Command {
    Command::new("help").about(string(help::HelpCommand)).arg(
        Arg::new("command")
            .num_args(0..)
            .value_name("COMMAND")
            .help(string(help::HelpCommandWords)),
    )
}

/// The command a `help` subcommand anywhere in the parsed line asks about, as words
/// from the root: `labrun plugin help lock` → `["plugin", "lock"]`.
pub fn asked(matches: &ArgMatches) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut at = matches;
    while let Some((name, sub)) = at.subcommand() {
        if name == "help" {
            words.extend(
                sub.get_many::<String>("command")
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            return Some(words);
        }
        words.push(name.to_string());
        at = sub;
    }
    None
}

/// Prints the help of the command `words` name: what `labrun WORDS --help` prints,
/// because it is that.
pub fn exec(words: &[String]) -> u8 {
    let mut at = super::command();
    at.build();
    for word in words {
        let Some(sub) = at.find_subcommand(word).filter(|s| s.get_name() != "help") else {
            eprintln!(
                "labrun: {}",
                Text::from(help::HelpUnknown {
                    words: words.join(" "),
                })
            );
            return exit::BAD_INPUT;
        };
        at = sub.clone();
    }
    let asked = std::iter::once("labrun")
        .chain(words.iter().map(String::as_str))
        .chain(["--help"]);
    match super::command().try_get_matches_from(asked) {
        Err(e) => super::clap_error(&e, "labrun --help"),
        Ok(_) => exit::PASS,
    }
}

/// `cmd` and every command under it with clap's own words from the catalog. Run
/// before the tree is built (clap adds its English built-ins while building).
pub fn localize(cmd: Command) -> Command {
    let options = string(help::Options);
    let arguments = string(help::Arguments);
    let has_subcommands = cmd.has_subcommands();
    let mut cmd = cmd
        .help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
            string(help::Usage)
        ))
        .subcommand_help_heading(string(help::Commands))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .mut_args(|arg| {
            let heading = if arg.is_positional() {
                &arguments
            } else {
                &options
            };
            with_values_said(arg).help_heading(heading.clone())
        });
    if has_subcommands {
        cmd = cmd.subcommand(cli());
    }
    if cmd.get_version().is_some() {
        cmd = cmd.arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(string(help::VersionFlag))
                .help_heading(options.clone()),
        );
    }
    let aliases: Vec<String> = cmd.get_all_aliases().map(str::to_string).collect();
    if !aliases.is_empty() {
        let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
        cmd = cmd.about(format!(
            "{about} {}",
            string(help::Aliases {
                names: list(aliases),
            })
        ));
    }
    cmd.arg(
        Arg::new("help")
            .short('h')
            .long("help")
            .action(ArgAction::Help)
            .help(string(help::HelpFlag))
            .help_heading(options),
    )
    .mut_subcommands(localize)
}

/// An argument's default and possible values said in the catalog's words, after its
/// help, instead of clap's `[default: …]` and `[possible values: …]`.
fn with_values_said(arg: Arg) -> Arg {
    if !arg.get_action().takes_values() {
        return arg;
    }
    let mut said = Vec::new();
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && !arg.is_hide_default_value_set() {
        said.push(string(help::Default {
            value: defaults.join(","),
        }));
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(PossibleValue::get_name)
        .map(str::to_string)
        .collect();
    if !values.is_empty() && !arg.is_hide_possible_values_set() {
        said.push(string(help::Values {
            values: list(values),
        }));
    }
    if said.is_empty() {
        return arg;
    }
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    arg.hide_default_value(true)
        .hide_possible_values(true)
        .help(format!("{help} {}", said.join(" ")))
}
