//! The raw flags of `labrun STEP …` (clap): what the operator typed, before any of it
//! is checked against files, steps or policies ([`crate::plan`] does that). The
//! command tree they are the root of is [`crate::cli`]'s.

pub mod live;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::report::Format;
use crate::text::{flags as t, help, string, Text};

// The run's flags. `labrun STEP …` is the root of the command tree: `cli::run` gives
// it its about text and `cli` the subcommands (a doc comment here would become the
// help's about text).
#[derive(Debug, Parser)]
#[command(name = "labrun")]
pub struct Flags {
    #[arg(help = string(help::RunStep))]
    pub step: PathBuf,

    #[arg(long = "param", value_name = "KEY=VALUE", help = string(help::RunParam))]
    pub params: Vec<String>,

    #[arg(long = "trainee", value_name = "ID", help = string(help::RunTrainee))]
    pub trainees: Vec<String>,

    #[arg(long, value_enum, default_value_t = Format::Human, help = string(help::RunFormat))]
    pub format: Format,

    #[arg(long, value_enum, global = true, help = string(help::RunLang))]
    pub lang: Option<LangArg>,

    #[arg(long, value_enum, default_value_t = ColorArg::Auto, help = string(help::RunColor))]
    pub color: ColorArg,

    #[arg(long, value_name = "FILE", conflicts_with = "replay", help = string(help::RunRecord))]
    pub record: Option<PathBuf>,

    #[arg(long, value_name = "FILE", help = string(help::RunReplay))]
    pub replay: Option<PathBuf>,

    #[arg(long, value_parser = parse_region, help = string(help::RunRegion))]
    pub region: Option<String>,

    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_dns_server, help = string(help::RunDnsServer))]
    pub dns_server: Option<std::net::SocketAddr>,

    #[arg(long = "connect-to", value_name = "HOST:PORT:HOST2:PORT2", help = string(help::RunConnectTo))]
    pub connect_to: Vec<crate::caps::net::ConnectTo>,

    // Raw text, parsed while planning ([`parse_password_file`]): clap would echo a
    // value it refuses, and the value may be the password typed in the wrong place.
    #[arg(long, value_name = "[NAME=]FILE", help = string(help::RunMysqlPasswordFile))]
    pub mysql_password_file: Vec<String>,

    #[arg(long, help = string(help::RunAskMysqlPassword))]
    pub ask_mysql_password: bool,

    #[arg(long, value_name = "SECONDS", default_value_t = 5, allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 600), help = string(help::RunProbeTimeout))]
    pub probe_timeout: u64,

    #[arg(long, value_name = "TEMPLATE", help = string(help::RunSshKey))]
    pub ssh_key: Option<String>,

    #[arg(long, value_name = "USER", default_value = "ec2-user", help = string(help::RunSshUser))]
    pub ssh_user: String,

    #[arg(long, value_name = "FILE", help = string(help::RunSshKnownHosts))]
    pub ssh_known_hosts: Option<PathBuf>,

    #[arg(long, help = string(help::RunSshStrict))]
    pub ssh_strict: bool,

    #[arg(long, value_enum, value_name = "HOW", help = string(help::RunSshVia))]
    pub ssh_via: Option<SshVia>,

    #[arg(long = "grant", value_name = "CAP[,CAP…]", help = string(help::RunGrant))]
    pub grants: Vec<String>,

    // Steps given by reference: lockfile, trusted keys, --insecure, --offline.
    #[command(flatten)]
    pub fetch: crate::publish::FetchArgs,

    #[arg(long, value_name = "N", default_value_t = 8, allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 256).map(|n| n as u16), help = string(help::RunJobs))]
    pub jobs: u16,

    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 86_400), help = string(help::RunTimeout))]
    pub timeout: Option<u64>,

    #[arg(long, value_enum, conflicts_with = "policy", help = string(help::RunTrust))]
    pub trust: Option<crate::policy::Trust>,

    #[arg(long, value_name = "FILE", help = string(help::RunPolicy))]
    pub policy: Option<PathBuf>,

    #[arg(long, value_name = "FILE", help = string(help::RunAudit))]
    pub audit: Option<PathBuf>,

    // A live class: roster, watch loop, dashboard, AWS request rate.
    #[command(flatten)]
    pub live: live::LiveArgs,
}

/// A clap error as one line in the run's language, from clap's error kind and the
/// context it gives (the argument, the value, the valid values, a similar name),
/// never from clap's rendered English; our own value parsers' refusals are texts.
pub fn clap_text(e: &clap::Error) -> Text {
    use crate::text::{clap as c, list, quoted};
    use clap::error::{ContextKind as C, ContextValue as V, ErrorKind as K};
    let many = |kind: C| -> Vec<String> {
        match e.get(kind) {
            Some(V::String(s)) => vec![s.clone()],
            Some(V::Strings(v)) => v.clone(),
            Some(V::StyledStr(s)) => vec![s.to_string()],
            Some(V::StyledStrs(v)) => v.iter().map(|s| s.to_string()).collect(),
            Some(V::Number(n)) => vec![n.to_string()],
            _ => Vec::new(),
        }
    };
    let one = |kind: C| many(kind).into_iter().next();
    let arg = one(C::InvalidArg).unwrap_or_default();
    match e.kind() {
        K::UnknownArgument => match one(C::SuggestedArg) {
            Some(tip) => c::UnknownArgumentTip { arg, tip }.into(),
            None => c::UnknownArgument { arg }.into(),
        },
        K::InvalidValue => match one(C::InvalidValue) {
            Some(value) if !value.is_empty() => {
                let valid = many(C::ValidValue);
                if valid.is_empty() {
                    c::InvalidValue { value, arg }.into()
                } else {
                    c::InvalidValuePossible {
                        value,
                        arg,
                        possible: list(valid),
                    }
                    .into()
                }
            }
            _ => c::NoValue { arg }.into(),
        },
        K::ValueValidation => {
            let value = one(C::InvalidValue).unwrap_or_default();
            let why = match std::error::Error::source(e) {
                Some(source) => match source.downcast_ref::<Text>() {
                    Some(text) => crate::text::Arg::Text(text.clone()),
                    None => quoted(source),
                },
                None => quoted(""),
            };
            c::BadValue { value, arg, why }.into()
        }
        K::MissingRequiredArgument => c::MissingRequired {
            args: list(many(C::InvalidArg)),
        }
        .into(),
        K::ArgumentConflict => match one(C::PriorArg) {
            Some(prior) => c::Conflict { arg, prior }.into(),
            None => c::ConflictAlone { arg }.into(),
        },
        K::NoEquals => c::NoEquals { arg }.into(),
        K::TooManyValues | K::TooFewValues | K::WrongNumberOfValues => {
            c::WrongNumber { arg }.into()
        }
        K::InvalidSubcommand => c::UnknownSubcommand {
            name: one(C::InvalidSubcommand).unwrap_or_default(),
        }
        .into(),
        K::MissingSubcommand => c::MissingSubcommand.into(),
        K::InvalidUtf8 => c::InvalidUtf8.into(),
        _ => {
            // A kind clap may add later: its own words, quoted, on one line.
            let line = e.render().to_string();
            let line = line
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            c::Other {
                why: quoted(line.trim_start_matches("error: ")),
            }
            .into()
        }
    }
}

/// Whether clap's error is a missing required argument named `name` (`<STEP>`).
pub fn missing_argument(e: &clap::Error, name: &str) -> bool {
    use clap::error::{ContextKind as C, ContextValue as V, ErrorKind as K};
    e.kind() == K::MissingRequiredArgument
        && match e.get(C::InvalidArg) {
            Some(V::Strings(v)) => v.iter().any(|a| a == name),
            Some(V::String(s)) => s == name,
            _ => false,
        }
}

/// A whole number within `lo..=hi`; the error names the range (also for `-1`, which
/// clap alone would take for a flag and answer with a tip about `--`).
pub fn in_range(text: &str, lo: u64, hi: u64) -> Result<u64, Text> {
    match text.trim().parse::<i128>() {
        Ok(n) if (i128::from(lo)..=i128::from(hi)).contains(&n) => Ok(n as u64),
        Ok(_) => Err(t::NotInRange {
            value: text,
            lo,
            hi,
        }
        .into()),
        Err(_) => Err(t::NotANumber {
            value: text,
            lo,
            hi,
        }
        .into()),
    }
}

/// One `--mysql-password-file`: the credential's name (`None`: the Aurora password)
/// and the file holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFile {
    pub name: Option<String>,
    pub path: PathBuf,
}

/// `FILE` or `NAME=FILE` (a `NAME=` prefix only when NAME is a credential name, so a
/// path with `=` further on stays a path). No error repeats the value: a password
/// typed in place of its file must not be echoed.
pub fn parse_password_file(text: &str) -> Result<PasswordFile, Text> {
    if text.is_empty() {
        return Err(t::PasswordFileEmpty.into());
    }
    if let Some((name, path)) = text.split_once('=') {
        if !name.contains('/') {
            if name.is_empty() {
                return Err(t::NoCredentialName.into());
            }
            if !crate::caps::mysql::credential_name(name) {
                return Err(t::BadCredentialName.into());
            }
            if path.is_empty() {
                return Err(t::NoFileAfter { name }.into());
            }
            return Ok(PasswordFile {
                name: Some(name.to_string()),
                path: PathBuf::from(path),
            });
        }
    }
    Ok(PasswordFile {
        name: None,
        path: PathBuf::from(text),
    })
}

fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, Text> {
    let addr = match text.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => text
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .map(|ip| std::net::SocketAddr::new(ip, 53))
            .map_err(|_| Text::from(t::NotIpPort { value: text }))?,
    };
    if addr.port() == 0 {
        return Err(t::PortZero {
            ip: addr.ip().to_string(),
        }
        .into());
    }
    Ok(addr)
}

/// An AWS region name: lowercase letters, digits and dashes, e.g. ap-northeast-1.
/// Anything else would reach the SDK and come back as interceptor text in every row.
pub fn parse_region(text: &str) -> Result<String, Text> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--");
    if ok {
        Ok(text.to_string())
    } else {
        Err(t::NotARegion {
            value: text.escape_debug().to_string(),
        }
        .into())
    }
}

/// `--ssh-via`: where the SSH login key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SshVia {
    /// The trainees' own key files.
    Key,
    /// A one-run key per server, pushed with EC2 Instance Connect.
    InstanceConnect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Ja,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}
