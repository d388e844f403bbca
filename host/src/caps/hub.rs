//! The hub: every capability call of a run goes through [`Hub::call`]. It answers
//! live (each capability's own answerer), from a cassette (replay), or live while
//! recording; identical calls within a run are made once and shared, so a class of
//! forty trainees that each list the account's DB clusters costs one
//! DescribeDBClusters.
//!
//! A capability with one endpoint for the class (AWS) answers per account: the
//! operator's, and each account of trainees in their own (`--roster`), one answerer
//! each ([`Settings::accounts`]). Calls are shared within an account, never across
//! two, a cassette records each call's account, and one account found unusable (a
//! role that cannot be assumed) fails only its own trainees' calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::capability::{self, Indexed, Views};
use super::cassette::{self, Answer, Call, Cassette};
use super::error::{CapError, ErrorKind};
use super::registry;
use super::settings::Settings;
use super::ssh::SshPool;

enum Backend {
    Live {
        /// Each capability's live answerer, by name.
        answerers: HashMap<&'static str, Arc<dyn capability::Answer>>,
        /// The one-endpoint capabilities' answerers for each trainee account, by
        /// capability and account label.
        accounts: HashMap<(&'static str, String), Arc<dyn capability::Answer>>,
        /// The operator's secrets, scrubbed from every answer and error.
        secrets: Vec<String>,
        /// The run's SSH connections, closed by [`Hub::close`].
        ssh: Option<Arc<SshPool>>,
    },
    Replay(HashMap<String, Answer>),
}

struct Entry {
    capability: String,
    /// A trainee account's label; `None`: the operator's (and every probe).
    account: Option<String>,
    operation: String,
    request: Value,
    answer: OnceCell<Answer>,
    /// The answer indexed for the narrowed requests it answers ([`Views`]).
    index: OnceLock<Arc<dyn Indexed>>,
}

pub struct Hub {
    backend: Backend,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    /// Per capability and account: the first error that says the capability itself
    /// is unusable there (no credentials, unreachable endpoint). Later calls fail fast
    /// with it instead of each waiting out its own retries.
    broken: Mutex<HashMap<(String, Option<String>), CapError>>,
    live_calls: AtomicU64,
    replayed_calls: AtomicU64,
}

impl Hub {
    /// Answers from the real world, each capability as its module says (AWS loads
    /// its configuration on first use, so a step that never calls AWS never needs
    /// credentials).
    pub fn live(settings: Settings) -> Hub {
        let accounts = registry::ALL
            .iter()
            .filter(|cap| cap.one_endpoint)
            .flat_map(|cap| {
                settings.accounts().into_iter().map(|account| {
                    let own = Settings {
                        aws_account: Some(Arc::new(account.clone())),
                        ..settings.clone()
                    };
                    ((cap.name, account.label), (cap.connect)(&own))
                })
            })
            .collect();
        Hub::with_backend(Backend::Live {
            answerers: registry::ALL
                .iter()
                .map(|cap| (cap.name, (cap.connect)(&settings)))
                .collect(),
            accounts,
            secrets: settings.secrets(),
            ssh: settings.net.ssh.clone(),
        })
    }

    /// Answers only from a cassette; no network.
    pub fn replay(cassette: Cassette) -> Hub {
        Hub::with_backend(Backend::Replay(cassette.index()))
    }

    fn with_backend(backend: Backend) -> Hub {
        Hub {
            backend,
            entries: Mutex::new(HashMap::new()),
            broken: Mutex::new(HashMap::new()),
            live_calls: AtomicU64::new(0),
            replayed_calls: AtomicU64::new(0),
        }
    }

    /// One capability call, in the operator's account: [`Hub::call_in`].
    pub async fn call(
        &self,
        capability: &str,
        operation: &str,
        request: Value,
    ) -> Result<Value, CapError> {
        self.call_in(None, capability, operation, request).await
    }

    /// One capability call, in `account` (a trainee account's label, `None`: the
    /// operator's; probes have no account and ignore it). Identical calls (same
    /// account, capability, operation and request) are made once per run and share
    /// the answer, errors included. A request that narrows a wider one ([`Views`]: a
    /// trainee's resources of an account-wide list) is answered from the wider call,
    /// made once and indexed.
    pub async fn call_in(
        &self,
        account: Option<&str>,
        capability: &str,
        operation: &str,
        request: Value,
    ) -> Result<Value, CapError> {
        let account = account.filter(|_| registry::get(capability).is_some_and(|c| c.one_endpoint));
        if let Some((base, views)) = self.view_of(account, capability, operation, &request) {
            let entry = self.entry(account, capability, operation, &base);
            let answer = entry
                .answer
                .get_or_init(|| self.dispatch(account, capability, operation, &base))
                .await;
            return match answer {
                Answer::Error(e) => Err(e.clone()),
                Answer::Response(wide) => entry
                    .index
                    .get_or_init(|| (views.index)(operation, wide.clone()))
                    .select(&request),
            };
        }
        let entry = self.entry(account, capability, operation, &request);
        let answer = entry
            .answer
            .get_or_init(|| self.dispatch(account, capability, operation, &request))
            .await;
        answer.clone().into_result()
    }

    /// The run's one entry for this call.
    fn entry(
        &self,
        account: Option<&str>,
        capability: &str,
        operation: &str,
        request: &Value,
    ) -> Arc<Entry> {
        let key = cassette::account_key(account, capability, operation, request);
        let mut entries = self.entries.lock().expect("hub lock poisoned");
        entries
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Entry {
                    capability: capability.to_string(),
                    account: account.map(str::to_string),
                    operation: operation.to_string(),
                    request: request.clone(),
                    answer: OnceCell::new(),
                    index: OnceLock::new(),
                })
            })
            .clone()
    }

    /// The wider request `request` narrows, when the capability answers it so. A
    /// cassette that holds this very request (recorded before views, or by hand)
    /// answers it itself.
    fn view_of(
        &self,
        account: Option<&str>,
        capability: &str,
        operation: &str,
        request: &Value,
    ) -> Option<(Value, Views)> {
        let views = registry::get(capability)?.views?;
        let base = (views.base)(operation, request)?;
        if let Backend::Replay(index) = &self.backend {
            let mut saved = request.clone();
            cassette::redact(&mut saved);
            if index.contains_key(&cassette::account_key(
                account, capability, operation, &saved,
            )) {
                return None;
            }
        }
        Some((base, views))
    }

    async fn dispatch(
        &self,
        account: Option<&str>,
        capability: &str,
        operation: &str,
        request: &Value,
    ) -> Answer {
        let broken_key = (capability.to_string(), account.map(str::to_string));
        if let Some(err) = self
            .broken
            .lock()
            .expect("hub lock poisoned")
            .get(&broken_key)
        {
            return Answer::Error(CapError {
                operation: operation.to_string(),
                ..err.clone()
            });
        }
        let Some(spec) = registry::get(capability) else {
            return Answer::Error(CapError::new(
                capability,
                operation,
                ErrorKind::Unsupported,
                crate::text::caps::UnknownCapability {
                    capability: crate::text::inert(capability),
                    known: crate::text::list(registry::names()),
                },
            ));
        };
        if spec.operation(operation).is_none() {
            return Answer::Error(CapError::new(
                capability,
                operation,
                ErrorKind::Unsupported,
                crate::text::probe::UnknownOperation {
                    capability,
                    operation: crate::text::inert(operation),
                    known: crate::text::list(spec.operation_names()),
                },
            ));
        }
        let (answerers, accounts, secrets) = match &self.backend {
            Backend::Replay(index) => {
                self.replayed_calls.fetch_add(1, Ordering::Relaxed);
                // A cassette holds its requests redacted (a credential's name too):
                // look a request up the way it was saved.
                let mut saved = request.clone();
                cassette::redact(&mut saved);
                let key = cassette::account_key(account, capability, operation, &saved);
                return index.get(&key).cloned().unwrap_or_else(|| {
                    Answer::Error(CapError::new(
                        capability,
                        operation,
                        ErrorKind::NotRecorded,
                        match account {
                            None => crate::text::Text::from(crate::text::caps::NotRecorded {
                                capability,
                                operation,
                                request: cassette::canonical(request),
                            }),
                            Some(account) => crate::text::caps::NotRecordedInAccount {
                                capability,
                                operation,
                                request: cassette::canonical(request),
                                account,
                            }
                            .into(),
                        },
                    ))
                });
            }
            Backend::Live {
                answerers,
                accounts,
                secrets,
                ..
            } => (answerers, accounts, secrets),
        };
        if spec.one_endpoint {
            self.live_calls.fetch_add(1, Ordering::Relaxed);
        }
        let answerer = match account {
            None => answerers.get(capability),
            Some(account) => accounts.get(&(spec.name, account.to_string())),
        };
        let result = match answerer {
            Some(answerer) => answerer.call(operation, request).await,
            None => Err(CapError::new(
                capability,
                operation,
                ErrorKind::Unsupported,
                crate::text::caps::NoLiveAnswer,
            )),
        };
        // Probes fail per target (one trainee's closed port says nothing about the
        // next trainee's); only a capability with one endpoint for the class trips,
        // also on its own configuration (code "config", e.g. no AWS region).
        if let Err(err) = &result {
            if spec.one_endpoint
                && (matches!(
                    err.kind,
                    ErrorKind::Credentials | ErrorKind::Network | ErrorKind::Timeout
                ) || err.code.as_deref() == Some("config"))
            {
                self.broken
                    .lock()
                    .expect("hub lock poisoned")
                    .entry(broken_key)
                    .or_insert_with(|| err.clone());
            }
        }
        match result {
            Ok(mut value) => {
                cassette::redact(&mut value);
                for secret in secrets {
                    cassette::scrub(&mut value, secret);
                }
                Answer::Response(value)
            }
            Err(mut e) => {
                for secret in secrets {
                    e.message = e.message.replace(secret.as_str(), "[redacted]");
                }
                Answer::Error(e)
            }
        }
    }

    /// Every call made so far, in a stable order, ready to save as a cassette.
    pub fn cassette(&self, recorded: Value) -> Cassette {
        let entries = self.entries.lock().expect("hub lock poisoned");
        let mut calls: Vec<(String, Call)> = entries
            .iter()
            .filter_map(|(key, e)| {
                let answer = e.answer.get()?.clone();
                // A timeout or throttle is a fact about that moment, not about the
                // trainee's environment: never replay one as if it were recorded truth.
                if let Answer::Error(err) = &answer {
                    if matches!(err.kind, ErrorKind::Timeout | ErrorKind::Throttling) {
                        return None;
                    }
                }
                let mut request = e.request.clone();
                cassette::redact(&mut request);
                Some((
                    key.clone(),
                    Call {
                        capability: e.capability.clone(),
                        operation: e.operation.clone(),
                        account: e.account.clone(),
                        request,
                        answer,
                    },
                ))
            })
            .collect();
        calls.sort_by(|a, b| a.0.cmp(&b.0));
        Cassette {
            labrun_cassette: cassette::CASSETTE_VERSION,
            recorded,
            calls: calls.into_iter().map(|(_, c)| c).collect(),
        }
    }

    /// The answers `capability` gave in this run (errors left out), e.g. every AWS
    /// list: what the account holds, as far as the run looked.
    pub fn responses(&self, capability: &str) -> Vec<Value> {
        let entries = self.entries.lock().expect("hub lock poisoned");
        entries
            .values()
            .filter(|e| e.capability == capability)
            .filter_map(|e| match e.answer.get()? {
                Answer::Response(v) => Some(v.clone()),
                Answer::Error(_) => None,
            })
            .collect()
    }

    /// Ends what lives for the run only: the SSH connections, unless a watch keeps
    /// them for its next cycle ([`SshPool::end_run`]).
    pub async fn close(&self) {
        if let Backend::Live {
            ssh: Some(pool), ..
        } = &self.backend
        {
            pool.end_run().await;
        }
    }

    /// SSH connections opened by the run's pool (over every cycle of a watch).
    pub fn ssh_connections(&self) -> u64 {
        match &self.backend {
            Backend::Live {
                ssh: Some(pool), ..
            } => pool.opened(),
            _ => 0,
        }
    }

    /// Capabilities found unusable during the run, with the error that said so; in
    /// a trainee account, the capability is named with it: `aws (111111111111)`.
    pub fn broken(&self) -> Vec<CapError> {
        let broken = self.broken.lock().expect("hub lock poisoned");
        let mut list: Vec<CapError> = broken
            .iter()
            .map(|((_, account), err)| match account {
                None => err.clone(),
                Some(account) => CapError {
                    capability: format!("{} ({account})", err.capability),
                    ..err.clone()
                },
            })
            .collect();
        list.sort_by(|a, b| a.capability.cmp(&b.capability));
        list
    }

    /// The calls of the run that could not read the world (a capability unusable,
    /// throttled, unreachable, timed out, a service fault), in a stable order: a
    /// recording that holds them is a recording of an outage, not of the trainee's
    /// environment.
    pub fn failed(&self) -> Vec<CapError> {
        let entries = self.entries.lock().expect("hub lock poisoned");
        let mut failed: Vec<CapError> = entries
            .values()
            .filter_map(|e| match e.answer.get()? {
                Answer::Error(err) if err.kind.is_outage() => Some(err.clone()),
                _ => None,
            })
            .collect();
        failed.sort_by(|a, b| {
            (&a.capability, &a.operation, &a.message).cmp(&(
                &b.capability,
                &b.operation,
                &b.message,
            ))
        });
        failed
    }

    /// Throttling answers of the run, every capability together.
    pub fn throttled(&self) -> u64 {
        match &self.backend {
            Backend::Live { answerers, .. } => answerers.values().map(|a| a.throttled()).sum(),
            Backend::Replay(_) => 0,
        }
    }

    pub fn live_calls(&self) -> u64 {
        self.live_calls.load(Ordering::Relaxed)
    }

    pub fn replayed_calls(&self) -> u64 {
        self.replayed_calls.load(Ordering::Relaxed)
    }
}
