//! Test support for labrun: isolated moto accounts, Step-3 worlds, and a runner for the
//! `labrun` binary.
//!
//! Every test talks to the one moto server started by `tests/run` (`LABRUN_MOTO_URL`).
//! Each [`TestAccount`] is a fresh, random moto account: moto maps the temporary
//! credentials returned by STS `AssumeRole` on `arn:aws:iam::<account>:role/...` to that
//! account, so both the test's own SDK clients and the `labrun` process (which only gets
//! environment variables) land in the same private account. Tests can therefore run in
//! parallel against one server without seeing each other's resources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};

pub mod class;
pub mod course;
pub mod faults;
pub mod http1;
pub mod layers;
pub mod live;
pub mod mariadb;
pub mod probe_env;
pub mod pushed_keys;
pub mod report;
pub mod servers;
pub mod ssh_env;
pub mod world;

/// The shipped steps' catalogs (`scripts/stepN.messages.toml`), parsed once.
static STEP_CATALOGS: std::sync::LazyLock<[labrun_step_catalog::Catalog; 3]> =
    std::sync::LazyLock::new(|| {
        [
            include_str!("../../scripts/step1.messages.toml"),
            include_str!("../../scripts/step2.messages.toml"),
            include_str!("../../scripts/step3.messages.toml"),
        ]
        .map(|text| labrun_step_catalog::Catalog::parse(text).expect("a shipped catalog parses"))
    });

/// Step `step`'s (1 to 3) checklist ids in checklist order, as its catalog's `[step]`
/// declares them for the script and the component: the tests keep no copy, so a new
/// id is its function, its catalog entry and a case.
pub fn declared_ids(step: usize) -> Vec<&'static str> {
    STEP_CATALOGS[step - 1]
        .manifest()
        .checks
        .as_ref()
        .expect("a shipped step declares its checks in [step]")
        .iter()
        .map(String::as_str)
        .collect()
}

/// Step `step`'s ids that declare what the operator must give (`[step.requires]`),
/// in checklist order; with `need`, only those that name it (`"ssh"`).
pub fn requiring_ids(step: usize, need: Option<&str>) -> Vec<&'static str> {
    let requires = STEP_CATALOGS[step - 1]
        .manifest()
        .requires
        .as_ref()
        .expect("a shipped step declares what it requires in [step]");
    declared_ids(step)
        .into_iter()
        .filter(|id| {
            requires
                .get(*id)
                .is_some_and(|needs| need.is_none_or(|n| needs.iter().any(|x| x == n)))
        })
        .collect()
}

pub use mariadb::{MariaDb, MariaDbSpec};
pub use probe_env::{ProbeBroken, ProbeEnv};
pub use report::{run_labrun, LabrunRun, Report};
pub use world::{Broken, World};

/// The region every Step-3 world lives in.
pub const REGION: &str = "ap-northeast-1";

/// The moto server every test uses; set by `tests/run`.
pub fn moto_url() -> String {
    match std::env::var("LABRUN_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "LABRUN_MOTO_URL is not set: run the tests via `tests/run`, which starts a moto \
             server on 127.0.0.1 and exports it"
        ),
    }
}

/// The workspace root (where `scripts/` lives): the parent of the running test's
/// package, as cargo and nextest tell it at run time. Not the compile-time value only:
/// checkouts that share a target dir reuse each other's unchanged test binaries, and a
/// baked-in path then reads (and `LABRUN_UPDATE_SCREENSHOT` writes) another checkout.
/// Every package of the workspace is one level below the root.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("a workspace package has a parent")
        .to_path_buf()
}

/// The `labrun` executable under test: `$LABRUN_BIN`, else `labrun` in the target
/// profile directory that holds this test binary (`target/debug/deps/..` → `target/debug`).
pub fn labrun_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LABRUN_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "LABRUN_BIN={} does not exist (run tests via tests/run)",
            bin.display()
        );
        return bin;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("labrun{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "labrun binary not found at {} — run tests via tests/run (it builds the binaries \
         first), or set LABRUN_BIN",
        bin.display()
    );
    bin
}

/// Temporary credentials of one moto account.
#[derive(Clone, Debug)]
pub struct AccountCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// A private moto account with SDK clients bound to it.
pub struct TestAccount {
    pub account_id: String,
    pub credentials: AccountCredentials,
    pub endpoint: String,
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Path-style, as moto serves S3 on its one endpoint.
    pub s3: aws_sdk_s3::Client,
    /// The course AMI, made on first use ([`layers::course_ami`]).
    pub(crate) course_ami: tokio::sync::OnceCell<String>,
    home: PathBuf,
}

static HOME_COUNTER: AtomicU32 = AtomicU32::new(0);

fn timeouts() -> aws_sdk_sts::config::timeout::TimeoutConfig {
    aws_sdk_sts::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(120))
        .build()
}

impl TestAccount {
    /// A fresh random account (12 digits, never moto's default 123456789012).
    pub async fn new() -> Self {
        let account_id = loop {
            let id = fastrand::u64(100_000_000_000..=999_999_999_999).to_string();
            if id != "123456789012" {
                break id;
            }
        };
        Self::with_id(&account_id)
            .await
            .unwrap_or_else(|e| panic!("creating moto account {account_id}: {e:#}"))
    }

    /// An account with a chosen id (two `TestAccount`s with one id share resources).
    pub async fn with_id(account_id: &str) -> Result<Self> {
        let endpoint = moto_url();
        // Any static key works for the bootstrap call: moto maps unknown keys to its
        // default account, which may assume a role in any other account.
        let sts_conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new(
                "AKIALABRUNBOOTSTRAP0",
                "bootstrap",
                None,
                None,
                "labrun-tests",
            ))
            .timeout_config(timeouts())
            .build();
        let sts = aws_sdk_sts::Client::from_conf(sts_conf);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account_id}:role/labrun-test"))
            .role_session_name("labrun-test")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))
            .with_context(|| format!("STS AssumeRole at {endpoint}"))?;
        let c = out
            .credentials()
            .context("AssumeRole returned no credentials")?;
        let credentials = AccountCredentials {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
        };

        // Check that moto really maps these credentials to the account.
        let me = Self::sts_with(&endpoint, &credentials)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sts::error::DisplayErrorContext(e)))
            .context("STS GetCallerIdentity")?;
        anyhow::ensure!(
            me.account() == Some(account_id),
            "moto mapped the assumed-role credentials to account {:?}, not {account_id}",
            me.account()
        );

        let sdk_creds = Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.clone(),
            Some(credentials.session_token.clone()),
            None,
            "labrun-tests",
        );
        // One shared configuration for the clients of this account.
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                sdk_creds,
            ))
            .timeout_config(timeouts())
            .build();
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let rds = aws_sdk_rds::Client::new(&config);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );

        let home = std::env::temp_dir().join(format!(
            "labrun-test-home-{account_id}-{}-{}",
            std::process::id(),
            HOME_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&home).with_context(|| format!("mkdir {}", home.display()))?;

        Ok(Self {
            account_id: account_id.to_owned(),
            credentials,
            endpoint,
            ec2,
            rds,
            elb,
            s3,
            course_ami: tokio::sync::OnceCell::new(),
            home,
        })
    }

    fn sts_with(endpoint: &str, c: &AccountCredentials) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .endpoint_url(endpoint)
                .credentials_provider(Credentials::new(
                    c.access_key_id.clone(),
                    c.secret_access_key.clone(),
                    Some(c.session_token.clone()),
                    None,
                    "labrun-tests",
                ))
                .timeout_config(timeouts())
                .build(),
        )
    }

    /// The empty HOME given to `labrun` (so no real `~/.aws` is read).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The environment `labrun` gets to reach this account (and nothing else).
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.credentials.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key.clone(),
            ),
            ("AWS_SESSION_TOKEN", self.credentials.session_token.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            // Never reach for instance metadata (169.254.169.254) from a test.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            (
                "AWS_CONFIG_FILE",
                self.home.join(".aws/config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.join(".aws/credentials").display().to_string(),
            ),
        ]
    }

    /// The `labrun` binary, run from the workspace root, with a clean environment that
    /// points it at this account: only `PATH` (and `RUST_BACKTRACE`/`RUST_LOG`/`LANG` if
    /// set) survive from the test's own environment.
    pub fn labrun(&self) -> Command {
        let mut cmd = Command::new(labrun_bin());
        cmd.env_clear();
        for keep in [
            "PATH",
            "RUST_BACKTRACE",
            "RUST_LOG",
            "LANG",
            "LC_ALL",
            "TMPDIR",
        ] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.env("HOME", &self.home);
        cmd.envs(self.aws_env());
        cmd.current_dir(workspace_root());
        cmd
    }
}

impl Drop for TestAccount {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
