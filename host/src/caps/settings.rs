//! The operator's settings for live answers: what the command line says about the
//! world (region, probe routing, the MySQL passwords). Steps never see them.

use super::net::NetConfig;

/// Everything a capability may need to answer live, given by the operator.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// AWS region (`--region`); `None` uses the standard AWS configuration.
    pub region: Option<String>,
    /// Probe settings: `--connect-to`, `--dns-server`, the MySQL password, the timeout.
    pub net: NetConfig,
    /// `--aws-rps`: every AWS API paced at N requests per second instead of the
    /// bucket AWS documents for it (`None`: the documented buckets; see
    /// [`super::aws::rate`]).
    pub aws_rps: Option<u32>,
    /// Files `server.read_file` may read besides its defaults (the policy's
    /// `[server] readable`).
    pub server_readable: Vec<String>,
}

impl Settings {
    /// Secret values that must never reach an answer, an error or a cassette.
    pub fn secrets(&self) -> Vec<String> {
        self.net
            .mysql_password
            .iter()
            .chain(self.net.mysql_credentials.values())
            .map(|p| p.expose().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}
