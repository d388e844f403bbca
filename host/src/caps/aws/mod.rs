//! AWS capability: read-only describe and list calls over the official SDK (EC2, RDS,
//! ELBv2, S3).
//!
//! A step names an operation (`ec2_describe_instances`, …) and passes the AWS CLI
//! *input* shape as JSON; it gets back the AWS CLI *output* shape (PascalCase keys,
//! all pages merged, no pagination tokens). Each service file ([`ec2`], [`rds`],
//! [`elbv2`], [`s3`]) owns its operations (name, IAM action, scope) and writes the
//! mapping from its SDK types to JSON once per type; the fields each operation fills
//! are listed in `docs/aws-operations.md`.
//!
//! Around them: [`request`] reads the input shape strictly, `complete` refuses an
//! answer cut short, [`rate`] paces and retries, `error` maps SDK errors, [`view`]
//! answers a trainee's narrowed question from one account-wide call, [`scope`] says
//! which resources are an untrusted trainee's, [`identity`] whose account a call goes
//! to, and [`instance_connect`] pushes the one-run SSH key (`--ssh-via
//! instance-connect`).

/// Sends every page of a paginated describe call and collects them, each page paced by
/// the operation's token bucket ([`rate`]), mapping an SDK error to a [`CapError`] for
/// `$op` (one shape for every paginated operation).
macro_rules! all_pages {
    ($request:expr, $op:expr, $svc:expr) => {{
        let mut stream = $request.into_paginator().send();
        let mut pages = Vec::new();
        loop {
            $svc.pace.take($op).await;
            match stream.next().await {
                // No further page was asked for: the token goes back.
                None => {
                    $svc.pace.refund($op);
                    break;
                }
                Some(Ok(page)) => pages.push(page),
                Some(Err(e)) => return Err(from_sdk($op, &$svc.endpoint, e)),
            }
        }
        pages
    }};
}

/// Sends one (unpaginated) request, paced by the operation's token bucket.
macro_rules! send_one {
    ($request:expr, $op:expr, $svc:expr) => {{
        $svc.pace.take($op).await;
        $request
            .send()
            .await
            .map_err(|e| from_sdk($op, &$svc.endpoint, e))?
    }};
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore};

use super::capability::{self, Answer, Capability, Operation, Scope, Target};
use super::cassette;
use super::error::{CapError, ErrorKind};
use super::settings::Account;

mod complete;
pub mod ec2;
pub mod elbv2;
mod error;
pub mod identity;
pub mod instance_connect;
pub mod rate;
pub mod rds;
pub mod request;
pub mod s3;
pub mod scope;
pub mod view;

/// Capability name used in every [`CapError`] this module returns.
pub const CAPABILITY: &str = "aws";

/// Calls of one service in flight at once, per run: a bound on connections, not on
/// the rate (the token buckets of [`rate`] are that).
pub const PER_SERVICE_CONCURRENCY: usize = 8;

/// The account key of the standard AWS configuration's credentials (AWS keeps its
/// buckets per account and region; see [`rate::Pace`]).
pub const DEFAULT_ACCOUNT: &str = "default";

/// The `aws` capability: every operation of [`ec2`], [`rds`], [`elbv2`] and [`s3`].
pub const SPEC: Capability = Capability {
    name: CAPABILITY,
    about:
        "read-only AWS describe and list calls (EC2, RDS, ELBv2, S3) in the AWS CLI's JSON shape",
    operations,
    connect: |settings| {
        Arc::new(LiveAws {
            rps: settings.aws_rps,
            region: settings.region.clone(),
            account: settings.aws_account.clone(),
            clients: OnceCell::new(),
        })
    },
    target,
    reveals: capability::reveals_nothing,
    untrusted_guard: capability::no_guard,
    one_endpoint: true,
    views: Some(view::VIEWS),
};

/// Every operation, service by service (each service file owns its list).
fn operations() -> &'static [Operation] {
    static ALL: LazyLock<Vec<Operation>> = LazyLock::new(|| {
        ec2::OPERATIONS
            .iter()
            .chain(rds::OPERATIONS)
            .chain(elbv2::OPERATIONS)
            .chain(s3::OPERATIONS)
            .copied()
            .collect()
    });
    &ALL
}

/// An operation that names resources (its scope lists the fields) targets them;
/// any other lists the account.
fn target(operation: &str, request: &Value) -> Target {
    match SPEC.operation(operation).map(|op| op.scope) {
        Some(Scope::OwnResources(fields) | Scope::OwnNames(fields)) => Target::Resources(
            fields
                .iter()
                .flat_map(|f| match &request[*f] {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
        ),
        _ => Target::Account(cassette::canonical(request)),
    }
}

/// The live side: SDK clients, loaded on first use so a step that never calls AWS
/// never needs credentials.
struct LiveAws {
    /// `--aws-rps`: see [`rate`].
    rps: Option<u32>,
    region: Option<String>,
    /// A trainee's own account (`--roster`); `None`: the operator's configuration.
    account: Option<Arc<Account>>,
    clients: OnceCell<Result<AwsClients, CapError>>,
}

impl Answer for LiveAws {
    fn call<'a>(
        &'a self,
        operation: &'a str,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<Value, CapError>> {
        async move {
            let clients = self
                .clients
                .get_or_init(|| {
                    AwsClients::load(self.region.clone(), self.account.as_deref(), self.rps)
                })
                .await;
            match clients {
                Ok(clients) => call(clients, operation, request).await,
                Err(e) => Err(CapError {
                    operation: operation.to_string(),
                    ..e.clone()
                }),
            }
        }
        .boxed()
    }

    fn throttled(&self) -> u64 {
        match self.clients.get() {
            Some(Ok(clients)) => clients.throttled(),
            _ => 0,
        }
    }
}

/// One SDK client per service, sharing one loaded configuration, each with a
/// semaphore bounding how many of its calls run at once. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub(crate) ec2: Service<aws_sdk_ec2::Client>,
    pub(crate) rds: Service<aws_sdk_rds::Client>,
    pub(crate) elbv2: Service<aws_sdk_elasticloadbalancingv2::Client>,
    pub(crate) s3: Service<aws_sdk_s3::Client>,
    region: String,
    /// The account's token buckets.
    pace: rate::Pace,
    /// Throttling answers these clients got (each retried attempt counts).
    throttled: Arc<AtomicU64>,
}

/// A client, its concurrency bound, its account's pacing, and where it sends requests
/// (for messages).
#[derive(Clone, Debug)]
pub(crate) struct Service<C> {
    pub(crate) client: C,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) pace: rate::Pace,
    /// Endpoint as a human would name it, e.g. `https://ec2.ap-northeast-1.amazonaws.com`.
    pub(crate) endpoint: String,
}

impl<C> Service<C> {
    fn new(client: C, endpoint: String, pace: &rate::Pace) -> Self {
        Service {
            client,
            permits: Arc::new(Semaphore::new(PER_SERVICE_CONCURRENCY)),
            pace: pace.clone(),
            endpoint,
        }
    }
}

impl AwsClients {
    /// Loads the standard AWS configuration (profiles, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, SSO, IMDS). `region` overrides the configured region.
    /// Calls are paced by AWS's documented buckets and retried by [`rate::RETRY`];
    /// timeouts: connect 5 s, each attempt 20 s.
    pub async fn from_env(region: Option<String>) -> Result<AwsClients, CapError> {
        AwsClients::load(region, None, None).await
    }

    /// [`AwsClients::from_env`], or the credentials of a trainee's own `account`
    /// (its role assumed, its profile, its region: [`identity::config`]); paced by
    /// the account's token buckets, or by `--aws-rps` when given.
    pub async fn load(
        region: Option<String>,
        account: Option<&Account>,
        rps: Option<u32>,
    ) -> Result<AwsClients, CapError> {
        let loader = identity::loader()
            // One retry policy, labrun's (rate::RETRY): the SDK's would stack on it.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            );
        let config = identity::config(
            loader,
            region,
            account.map(|a| &a.identity),
            account.map_or("", |a| a.trainee.as_str()),
        )
        .await;
        let Some(region) = config.region().map(|r| r.as_ref().to_string()) else {
            return Err(CapError::new(
                CAPABILITY,
                "config",
                ErrorKind::InvalidRequest,
                crate::text::aws::NoRegion,
            )
            .with_code("config"));
        };
        if let Some(account) = account {
            identity::reach(&config, account).await?;
        }
        let endpoint = |env_suffix: &str, host_prefix: &str| {
            std::env::var(format!("AWS_ENDPOINT_URL_{env_suffix}"))
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| config.endpoint_url().map(str::to_string))
                .unwrap_or_else(|| format!("https://{host_prefix}.{region}.amazonaws.com"))
        };
        let pace = rate::Pace::new(
            &account.map_or(DEFAULT_ACCOUNT.to_string(), |a| a.identity.account()),
            &region,
            rps,
        );
        Ok(AwsClients {
            ec2: Service::new(
                aws_sdk_ec2::Client::from_conf(
                    aws_sdk_ec2::config::Builder::from(&config)
                        .interceptor(complete::WholeAnswers)
                        .build(),
                ),
                endpoint("EC2", "ec2"),
                &pace,
            ),
            rds: Service::new(
                aws_sdk_rds::Client::from_conf(
                    aws_sdk_rds::config::Builder::from(&config)
                        .interceptor(complete::WholeAnswers)
                        .build(),
                ),
                endpoint("RDS", "rds"),
                &pace,
            ),
            elbv2: Service::new(
                aws_sdk_elasticloadbalancingv2::Client::from_conf(
                    aws_sdk_elasticloadbalancingv2::config::Builder::from(&config)
                        .interceptor(complete::WholeAnswers)
                        .build(),
                ),
                endpoint("ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing"),
                &pace,
            ),
            // A local endpoint (moto) has no bucket subdomains: address buckets by path.
            s3: Service::new(
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&config)
                        .interceptor(complete::WholeAnswers)
                        .force_path_style(
                            config.endpoint_url().is_some()
                                || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
                        )
                        .build(),
                ),
                endpoint("S3", "s3"),
                &pace,
            ),
            region,
            pace,
            throttled: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The region every call goes to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Throttling answers so far (every attempt that AWS throttled).
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// Runs one read-only operation (see [`SPEC`]). `request` is the AWS CLI input
/// shape (`{}` or `null` for no parameters); the answer is the AWS CLI output shape
/// with every page merged. Paced by the account's token buckets and retried by the
/// one policy of [`rate::RETRY`]: an error comes back only when the call finally
/// failed.
pub async fn call(
    clients: &AwsClients,
    operation: &str,
    request: &Value,
) -> Result<Value, CapError> {
    if SPEC.operation(operation).is_none() {
        return Err(unsupported(operation));
    }
    let (_, limit) = clients.pace.bucket(operation);
    let started = tokio::time::Instant::now();
    let mut attempt = 1;
    loop {
        let result = attempt_once(clients, operation, request).await;
        let Err(error) = &result else {
            return result;
        };
        if error.kind == ErrorKind::Throttling {
            clients.throttled.fetch_add(1, Ordering::Relaxed);
        }
        match rate::RETRY.delay(error, attempt, started.elapsed(), limit) {
            Some(wait) => {
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            None if attempt > 1 => {
                return result.map_err(|mut e| {
                    e.message = format!("{} (tried {attempt} times)", e.message);
                    e
                })
            }
            None => return result,
        }
    }
}

/// One attempt of an operation this capability has.
async fn attempt_once(
    clients: &AwsClients,
    operation: &str,
    request: &Value,
) -> Result<Value, CapError> {
    match operation.split_once('_') {
        Some(("ec2", _)) => {
            let _permit = acquire(&clients.ec2, operation).await?;
            ec2::call(&clients.ec2, operation, request).await
        }
        Some(("rds", _)) => {
            let _permit = acquire(&clients.rds, operation).await?;
            rds::call(&clients.rds, operation, request).await
        }
        Some(("elbv2", _)) => {
            let _permit = acquire(&clients.elbv2, operation).await?;
            elbv2::call(&clients.elbv2, operation, request).await
        }
        Some(("s3", _)) => {
            let _permit = acquire(&clients.s3, operation).await?;
            s3::call(&clients.s3, operation, request).await
        }
        _ => Err(unsupported(operation)),
    }
}

fn unsupported(operation: &str) -> CapError {
    CapError::new(
        CAPABILITY,
        operation,
        ErrorKind::Unsupported,
        crate::text::aws::UnknownOperation {
            operation,
            supported: crate::text::list(SPEC.operation_names()),
        },
    )
}

async fn acquire<'a, C>(
    service: &'a Service<C>,
    operation: &str,
) -> Result<tokio::sync::SemaphorePermit<'a>, CapError> {
    service.permits.acquire().await.map_err(|_| {
        CapError::new(
            CAPABILITY,
            operation,
            ErrorKind::Service,
            crate::text::aws::ShuttingDown,
        )
    })
}

/// Builds one JSON object of the CLI output shape, leaving out what the SDK
/// returned as `None` (as the AWS CLI does). Keys keep insertion order.
#[derive(Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj(Map::new())
    }

    /// A string or an SDK enum (written as its AWS string value).
    pub(crate) fn s(mut self, key: &str, value: Option<impl AsRef<str>>) -> Self {
        if let Some(v) = value {
            self.0
                .insert(key.to_string(), Value::String(v.as_ref().to_string()));
        }
        self
    }

    /// A number or a boolean.
    pub(crate) fn n(mut self, key: &str, value: Option<impl Into<Value>>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }

    /// A timestamp, as an RFC 3339 string.
    pub(crate) fn t(mut self, key: &str, value: Option<&DateTime>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), timestamp(v));
        }
        self
    }

    /// A nested object (already mapped).
    pub(crate) fn o<T>(mut self, key: &str, value: Option<&T>, map: impl Fn(&T) -> Value) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), map(v));
        }
        self
    }

    /// A list of objects, each mapped by `map`.
    pub(crate) fn list<T>(
        mut self,
        key: &str,
        value: Option<&Vec<T>>,
        map: impl Fn(&T) -> Value,
    ) -> Self {
        if let Some(v) = value {
            self.0
                .insert(key.to_string(), Value::Array(v.iter().map(map).collect()));
        }
        self
    }

    /// A list of strings or SDK enums.
    pub(crate) fn strs<T: AsRef<str>>(mut self, key: &str, value: Option<&Vec<T>>) -> Self {
        if let Some(v) = value {
            self.0.insert(
                key.to_string(),
                Value::Array(
                    v.iter()
                        .map(|s| Value::String(s.as_ref().to_string()))
                        .collect(),
                ),
            );
        }
        self
    }

    pub(crate) fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// RFC 3339 text of an SDK timestamp (`2024-05-01T09:30:00Z`).
pub(crate) fn timestamp(t: &DateTime) -> Value {
    match t.fmt(Format::DateTime) {
        Ok(s) => Value::String(s),
        // Out of RFC 3339's range: keep the epoch seconds rather than lose the value.
        Err(_) => Value::from(t.secs()),
    }
}

/// `{"<key>": [items…]}`: the merged output of a paginated operation.
pub(crate) fn merged<P, T>(
    key: &str,
    pages: &[P],
    items: impl for<'a> Fn(&'a P) -> &'a [T],
    map: impl Fn(&T) -> Value,
) -> Value {
    let mut out = Map::new();
    out.insert(
        key.to_string(),
        Value::Array(pages.iter().flat_map(&items).map(map).collect()),
    );
    Value::Object(out)
}
