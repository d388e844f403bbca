//! The operator's settings for live answers: what the command line says about the
//! world (region and AWS pace, each roster trainee's own AWS account, probe routing,
//! the MySQL passwords, the files `server` may read besides its defaults). Steps never
//! see them.

use super::net::NetConfig;

/// Where one trainee's AWS answers come from when it is not the operator's own AWS
/// configuration (`--roster`'s `aws_profile` or `aws_role_arn`, and `region`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AwsIdentity {
    /// A profile of the operator's AWS configuration.
    pub profile: Option<String>,
    /// A role in the trainee's account, assumed with the session name `labrun-<trainee>`.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// The trainee's region, instead of `--region` or the configuration's.
    pub region: Option<String>,
}

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
    /// Trainees whose AWS answers come from an account, profile or region of their
    /// own (`--roster`); the others use the operator's configuration.
    pub aws_identities: std::collections::BTreeMap<String, AwsIdentity>,
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
