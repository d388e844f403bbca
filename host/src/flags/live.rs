//! The flags of a live class (issue 12), kept in their own group so the rest of
//! [`super::Flags`] can change without touching them: the roster (`--trainees`), the
//! watch loop (`--watch`, `--until`, `--for`, `--state`), the dashboard (`--serve`,
//! `--serve-token`) and the AWS request rate (`--aws-rps`). Raw text only;
//! [`crate::plan`] checks it.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Trainees by range or roster file (repeatable, combinable with --trainee):
    /// `user01..user40` keeps the zero padding; `@roster.txt` reads one id (or range)
    /// per line, `#` starts a comment.
    #[arg(id = "roster", long = "trainees", value_name = "FROM..TO|@FILE")]
    pub roster: Vec<String>,

    /// The class as a CSV file with a header row: `trainee` and optional `name`,
    /// `email`, `idnumber`, `ssh_key`, `aws_profile` or `aws_role_arn` (+
    /// `aws_external_id`), `region`. Every trainee in it is checked (or those
    /// --trainee/--trainees pick).
    #[arg(id = "roster_file", long = "roster", value_name = "FILE")]
    pub roster_file: Option<PathBuf>,

    /// Re-run the whole class every SECONDS (at least 5) until Ctrl-C, --until or
    /// --for; then print the final report in --format and exit with its code.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = |t: &str| super::in_range(t, 5, 86_400))]
    pub watch: Option<u64>,

    /// With --watch: stop when every trainee is `done` (the exit code would be 0), or
    /// at the local time HH:MM.
    #[arg(
        long,
        value_name = "done|HH:MM",
        requires = "watch",
        allow_hyphen_values = true
    )]
    pub until: Option<String>,

    /// With --watch: stop after DURATION, e.g. 90m, 2h, 1h30m, 45s.
    #[arg(
        long = "for",
        value_name = "DURATION",
        requires = "watch",
        allow_hyphen_values = true
    )]
    pub for_duration: Option<String>,

    /// With --watch: keep every trainee's history (first pass, last change,
    /// regressions) in FILE, written atomically after each cycle and resumed on restart.
    #[arg(long, value_name = "FILE", requires = "watch")]
    pub state: Option<PathBuf>,

    /// With --watch: serve the live dashboard on ADDR, e.g. 127.0.0.1:8080. A
    /// non-loopback address needs --serve-token (or one is generated and printed).
    #[arg(long, value_name = "ADDR", requires = "watch")]
    pub serve: Option<String>,

    /// The token a browser must give (`?token=…`) to read the dashboard.
    #[arg(long, value_name = "TOKEN", requires = "serve")]
    pub serve_token: Option<String>,

    /// With --serve: write FILE, a CSV `trainee,url` with one secret link per trainee
    /// to a page of their own checklist and a Check now button (the tokens are kept in
    /// --state, so a restarted watch keeps the links).
    #[arg(long, value_name = "FILE", requires = "serve")]
    pub trainee_links: Option<PathBuf>,

    /// With --watch: a trainee whose first outcome not done has failed unchanged for
    /// this long is stuck, e.g. 10m (default), 90s.
    #[arg(long, value_name = "DURATION", requires = "watch")]
    pub stuck_after: Option<String>,

    /// Pace every AWS API at N requests per second (bursts of N) instead of the token
    /// buckets AWS documents for it; shared by every trainee and cycle.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = |t: &str| super::in_range(t, 1, 1000).map(|n| n as u32))]
    pub aws_rps: Option<u32>,
}
