//! The raw command line of `labrun STEP …` (clap): what the operator typed, before
//! any of it is checked against files, steps or policies ([`crate::plan`] does that).

pub mod live;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "labrun",
    version,
    about = "Checks whether a trainee really finished a hands-on AWS lab step",
    after_help = "Other commands:\n  labrun inspect STEP    what a step imports and declares, without running it\n  labrun test STEP CASE… run a step against its regression cases (cassette + expected statuses)\n  labrun new step NAME   write a starter step with cases that pass\n  labrun iam-policy STEP the least-privilege IAM policy for what a step or course calls\n  labrun preflight STEP  check a class before it starts (same flags as a run)\n  labrun plugin …        share steps through OCI registries (publish, pull, lock, keygen, sign; see labrun plugin --help)\n\nExit codes: 0 all passed · 1 some fail/pending · 2 some error (could not check) · 64 bad input"
)]
pub struct Flags {
    /// The step to run: a Rhai script (.rhai), a WebAssembly component (.wasm), or a
    /// published step by reference, REGISTRY/REPO:VERSION or REGISTRY/REPO@sha256:….
    pub step: PathBuf,

    /// A step param, KEY=VALUE (repeatable), e.g. --param user=user05.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// Check this trainee (repeatable): one report row block per trainee, run
    /// concurrently; sets the step's `user` param.
    #[arg(long = "trainee", value_name = "ID")]
    pub trainees: Vec<String>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Report language (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,

    /// Colour in the human report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Record every capability call and its answer to this cassette (secrets redacted).
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,

    /// Answer every capability call from this cassette; no network, no credentials.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,

    /// AWS region, e.g. ap-northeast-1 (default: the standard AWS configuration, e.g.
    /// AWS_REGION).
    #[arg(long, value_parser = parse_region)]
    pub region: Option<String>,

    /// DNS server for the dns probe and for resolving probe targets, IP or IP:PORT
    /// (default: the system resolver).
    #[arg(long, value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    pub dns_server: Option<std::net::SocketAddr>,

    /// Where a probe for HOST:PORT really connects, curl's HOST:PORT:HOST2:PORT2
    /// (repeatable), e.g. through an `ssh -L` tunnel to Aurora in a private subnet.
    #[arg(long = "connect-to", value_name = "HOST:PORT:HOST2:PORT2")]
    pub connect_to: Vec<crate::caps::net::ConnectTo>,

    /// File holding a MySQL password (first line), repeatable: `FILE` is the Aurora
    /// master password (also LABRUN_MYSQL_PASSWORD); `NAME=FILE` a named credential
    /// that a check picks with `credential: "NAME"` (also `LABRUN_MYSQL_PASSWORD_<NAME>`),
    /// e.g. `local=FILE` for the web server's own MySQL (Step 1 C3).
    // Raw text, parsed while planning ([`parse_password_file`]): clap would echo a
    // value it refuses, and the value may be the password typed in the wrong place.
    #[arg(long, value_name = "[NAME=]FILE")]
    pub mysql_password_file: Vec<String>,

    /// Ask for the MySQL password on the terminal (not echoed).
    #[arg(long)]
    pub ask_mysql_password: bool,

    /// Time limit for one network probe, in seconds (1–600).
    #[arg(long, value_name = "SECONDS", default_value_t = 5, allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 600))]
    pub probe_timeout: u64,

    /// The trainee's SSH private key for probes `via` a web server and the `server`
    /// capability; `{trainee}` is replaced by the trainee id, e.g. 'keys/1day-{trainee}.pem'.
    #[arg(long, value_name = "TEMPLATE")]
    pub ssh_key: Option<String>,

    /// The SSH login user on the trainee's servers.
    #[arg(long, value_name = "USER", default_value = "ec2-user")]
    pub ssh_user: String,

    /// SSH host keys: trusted on first use and recorded in FILE (OpenSSH's
    /// accept-new); a changed key is an error naming both fingerprints.
    #[arg(long, value_name = "FILE")]
    pub ssh_known_hosts: Option<PathBuf>,

    /// Refuse SSH hosts that --ssh-known-hosts does not list.
    #[arg(long)]
    pub ssh_strict: bool,

    /// How labrun logs in to the trainees' servers: `key`, the trainees' key files
    /// (--ssh-key, the roster's ssh_key); or `instance-connect`, a one-run key made in
    /// memory per server whose public half EC2 Instance Connect pushes
    /// (SendSSHPublicKey, the one AWS call labrun makes that is not a describe).
    #[arg(long, value_enum, value_name = "HOW")]
    pub ssh_via: Option<SshVia>,

    /// Capabilities a WebAssembly step may use, CAP[,CAP…] (repeatable; default: all
    /// of aws, dns, mysql, http, tcp, server). A step importing another is refused before it runs.
    #[arg(long = "grant", value_name = "CAP[,CAP…]")]
    pub grants: Vec<String>,

    /// Steps given by reference: lockfile, trusted keys, --insecure, --offline.
    #[command(flatten)]
    pub fetch: crate::publish::FetchArgs,

    /// How many trainees to check (and class submissions to load) at once (1–256).
    #[arg(long, value_name = "N", default_value_t = 8, allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 256).map(|n| n as u16))]
    pub jobs: u16,

    /// Wall-clock limit for one trainee's run, in seconds (1–86400; default: the
    /// policy's, 300 for instructor steps, 60 for untrusted ones).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = |t: &str| in_range(t, 1, 86_400))]
    pub timeout: Option<u64>,

    /// How far the step is trusted: `untrusted` for trainee-submitted steps (their own
    /// resources only, hosts derived from them only, tight limits). Default: instructor
    /// for a step, untrusted for a class file (its submissions are the trainees').
    #[arg(long, value_enum, conflicts_with = "policy")]
    pub trust: Option<crate::policy::Trust>,

    /// A policy file (TOML): `trust = "untrusted"` plus the grants and limits it changes.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Write every capability call (allowed or denied) as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,

    /// A live class: roster, watch loop, dashboard, AWS request rate.
    #[command(flatten)]
    pub live: live::LiveArgs,
}

/// clap's help and version are printed to stdout (`None`: exit 0); an error becomes
/// one line without clap's "For more information" footer, for `labrun: … (see …)`.
pub fn clap_failure(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return None;
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(line.trim_start_matches("error: ").to_string())
}

/// A whole number within `lo..=hi`; the error names the range (also for `-1`, which
/// clap alone would take for a flag and answer with a tip about `--`).
fn in_range(text: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match text.trim().parse::<i128>() {
        Ok(n) if (i128::from(lo)..=i128::from(hi)).contains(&n) => Ok(n as u64),
        Ok(_) => Err(format!("{text} is not in {lo}..={hi}")),
        Err(_) => Err(format!("`{text}` is not a whole number in {lo}..={hi}")),
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
pub fn parse_password_file(text: &str) -> Result<PasswordFile, String> {
    if text.is_empty() {
        return Err(
            "the file is empty: give FILE or NAME=FILE, e.g. local=/run/local-db.pw".into(),
        );
    }
    if let Some((name, path)) = text.split_once('=') {
        if !name.contains('/') {
            if name.is_empty() {
                return Err(
                    "the credential name before `=` is empty: give NAME=FILE, e.g. local=/run/local-db.pw"
                        .into(),
                );
            }
            if !crate::caps::mysql::credential_name(name) {
                return Err(
                    "the part before `=` is not a credential name (lower-case letters, digits and _; the value is not shown): give FILE or NAME=FILE, e.g. local=/run/local-db.pw"
                        .into(),
                );
            }
            if path.is_empty() {
                return Err(format!("no file after `{name}=`: give {name}=FILE"));
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

fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    let addr = match text.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => text
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .map(|ip| std::net::SocketAddr::new(ip, 53))
            .map_err(|_| format!("`{text}` is not IP[:PORT], e.g. 10.0.0.2 or 127.0.0.1:5353"))?,
    };
    if addr.port() == 0 {
        return Err(format!(
            "port 0 is no DNS server's port: give 1–65535, e.g. {}:53",
            addr.ip()
        ));
    }
    Ok(addr)
}

/// An AWS region name: lowercase letters, digits and dashes, e.g. ap-northeast-1.
/// Anything else would reach the SDK and come back as interceptor text in every row.
pub fn parse_region(text: &str) -> Result<String, String> {
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
        Err(format!(
            "`{}` is not an AWS region: lowercase letters, digits and dashes, e.g. ap-northeast-1",
            text.escape_debug()
        ))
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
