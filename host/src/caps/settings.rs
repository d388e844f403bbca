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

impl AwsIdentity {
    /// The account this identity reads, as far as the roster tells: the account id
    /// of its role, `profile:NAME` for a profile, `default` for the operator's own
    /// configuration (a roster row that gives only a region). AWS keeps its token
    /// buckets per account (and region).
    pub fn account(&self) -> String {
        match (&self.role_arn, &self.profile) {
            // A checked role ARN: arn:PARTITION:iam::ACCOUNT:role/NAME.
            (Some(arn), _) => arn.split(':').nth(4).unwrap_or(arn).to_string(),
            (None, Some(profile)) => format!("profile:{profile}"),
            (None, None) => super::aws::DEFAULT_ACCOUNT.to_string(),
        }
    }

    /// Where this identity's calls go: [`AwsIdentity::account`], and `/REGION` when
    /// the identity names its region. Trainees with one label share that account's
    /// answers (an account-wide list is asked once for all of them); it is what a
    /// cassette records as a call's `account`.
    pub fn label(&self) -> String {
        match &self.region {
            Some(region) => format!("{}/{region}", self.account()),
            None => self.account(),
        }
    }
}

/// One account a run reads besides the operator's own: its label
/// ([`AwsIdentity::label`]), and the identity its calls are made with, the first of
/// its trainees' (by id) — the role session then names that trainee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub label: String,
    pub trainee: String,
    pub identity: AwsIdentity,
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
    /// The account the AWS answerer built from these settings reads (`None`: the
    /// operator's configuration); set by the hub, one answerer per [`Account`].
    pub aws_account: Option<std::sync::Arc<Account>>,
}

impl Settings {
    /// The accounts of the trainees in their own (`--roster`), one per label.
    pub fn accounts(&self) -> Vec<Account> {
        let mut accounts: std::collections::BTreeMap<String, Account> = Default::default();
        for (trainee, identity) in &self.aws_identities {
            accounts.entry(identity.label()).or_insert_with(|| Account {
                label: identity.label(),
                trainee: trainee.clone(),
                identity: identity.clone(),
            });
        }
        accounts.into_values().collect()
    }

    /// Where `trainee`'s AWS calls go: their account's label, or `None` for the
    /// operator's own configuration.
    pub fn account_of(&self, trainee: &str) -> Option<String> {
        self.aws_identities.get(trainee).map(AwsIdentity::label)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainees_of_one_account_and_region_share_one_label() {
        let role = |account: &str, region: Option<&str>| AwsIdentity {
            role_arn: Some(format!("arn:aws:iam::{account}:role/labrun")),
            region: region.map(str::to_string),
            ..AwsIdentity::default()
        };
        let mut settings = Settings::default();
        for (trainee, identity) in [
            ("user01", role("111111111111", None)),
            ("user02", role("111111111111", None)),
            ("user03", role("111111111111", Some("eu-west-1"))),
            (
                "user04",
                AwsIdentity {
                    profile: Some("ws".into()),
                    ..AwsIdentity::default()
                },
            ),
        ] {
            settings.aws_identities.insert(trainee.into(), identity);
        }
        assert_eq!(
            settings.account_of("user01").as_deref(),
            Some("111111111111")
        );
        assert_eq!(
            settings.account_of("user02").as_deref(),
            Some("111111111111")
        );
        assert_eq!(
            settings.account_of("user03").as_deref(),
            Some("111111111111/eu-west-1")
        );
        assert_eq!(settings.account_of("user04").as_deref(), Some("profile:ws"));
        assert_eq!(settings.account_of("user09"), None);
        let accounts: Vec<(String, String)> = settings
            .accounts()
            .into_iter()
            .map(|a| (a.label, a.trainee))
            .collect();
        assert_eq!(
            accounts,
            [
                ("111111111111".to_string(), "user01".to_string()),
                ("111111111111/eu-west-1".to_string(), "user03".to_string()),
                ("profile:ws".to_string(), "user04".to_string()),
            ]
        );
    }
}
