//! The flags of a live class (issue 12), kept in their own group so the rest of
//! [`super::Flags`] can change without touching them: the roster (`--trainees`), the
//! watch loop (`--watch`, `--until`, `--for`, `--state`), the dashboard (`--serve`,
//! `--serve-token`) and the AWS request rate (`--aws-rps`). Raw text only;
//! [`crate::plan`] checks it.

use std::path::PathBuf;

use clap::Args;

use crate::text::{help, string};

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    #[arg(id = "roster", long = "trainees", value_name = "FROM..TO|@FILE", help = string(help::RunTrainees))]
    pub roster: Vec<String>,

    #[arg(id = "roster_file", long = "roster", value_name = "FILE", help = string(help::RunRoster))]
    pub roster_file: Option<PathBuf>,

    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = |t: &str| super::in_range(t, 5, 86_400), help = string(help::RunWatch))]
    pub watch: Option<u64>,

    #[arg(
        long,
        value_name = "done|HH:MM",
        requires = "watch",
        allow_hyphen_values = true,
        help = string(help::RunUntil)
    )]
    pub until: Option<String>,

    #[arg(
        long = "for",
        value_name = "DURATION",
        requires = "watch",
        allow_hyphen_values = true,
        help = string(help::RunFor)
    )]
    pub for_duration: Option<String>,

    #[arg(long, value_name = "FILE", requires = "watch", help = string(help::RunState))]
    pub state: Option<PathBuf>,

    #[arg(long, value_name = "ADDR", requires = "watch", help = string(help::RunServe))]
    pub serve: Option<String>,

    #[arg(long, value_name = "TOKEN", requires = "serve", help = string(help::RunServeToken))]
    pub serve_token: Option<String>,

    #[arg(long, value_name = "FILE", requires = "serve", help = string(help::RunTraineeLinks))]
    pub trainee_links: Option<PathBuf>,

    #[arg(long, value_name = "DURATION", requires = "watch", help = string(help::RunStuckAfter))]
    pub stuck_after: Option<String>,

    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = |t: &str| super::in_range(t, 1, 1000).map(|n| n as u32), help = string(help::RunAwsRps))]
    pub aws_rps: Option<u32>,
}
