//! Capabilities: everything a step can ask of the world goes through [`Hub::call`].
//!
//! The hub is the one door: it answers live (AWS SDK), from a cassette (replay), or
//! live while recording; identical calls within a run are made once and shared, so
//! a class of forty trainees that each list the account's DB clusters costs one
//! DescribeDBClusters.

pub mod aws;
pub mod cassette;
pub mod dns;
pub mod error;
pub mod http;
pub mod mysql;
pub mod net;
pub mod tcp;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

pub use cassette::{Answer, Call, Cassette};
pub use error::{CapError, ErrorKind};

/// The capability names a step can import (mirrors the interfaces of `wit/labrun-host.wit`).
pub const CAPABILITIES: &[&str] = &["aws", "dns", "mysql", "http", "tcp"];

/// The operations of one capability, or None for an unknown capability.
pub fn operations(capability: &str) -> Option<&'static [&'static str]> {
    match capability {
        "aws" => Some(aws::OPERATIONS),
        "dns" => Some(dns::OPERATIONS),
        "mysql" => Some(mysql::OPERATIONS),
        "http" => Some(http::OPERATIONS),
        "tcp" => Some(tcp::OPERATIONS),
        _ => None,
    }
}

enum Backend {
    Live {
        region: Option<String>,
        aws: OnceCell<Result<aws::AwsClients, CapError>>,
        net: Box<net::NetConfig>,
    },
    Replay(HashMap<String, Answer>),
}

struct Entry {
    capability: String,
    operation: String,
    request: Value,
    answer: OnceCell<Answer>,
}

pub struct Hub {
    backend: Backend,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    /// Per capability: the first error that says the capability itself is unusable
    /// (no credentials, unreachable endpoint). Later calls fail fast with it instead
    /// of each waiting out its own retries.
    broken: Mutex<HashMap<String, CapError>>,
    live_calls: AtomicU64,
    replayed_calls: AtomicU64,
}

impl Hub {
    /// Answers from the real world. AWS configuration is loaded on first use, so a
    /// step that never calls AWS never needs credentials.
    pub fn live(region: Option<String>, net: net::NetConfig) -> Hub {
        Hub::with_backend(Backend::Live {
            region,
            aws: OnceCell::new(),
            net: Box::new(net),
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

    /// One capability call. Identical calls (same capability, operation and request)
    /// are made once per run and share the answer, errors included.
    pub async fn call(
        &self,
        capability: &str,
        operation: &str,
        request: Value,
    ) -> Result<Value, CapError> {
        let key = cassette::call_key(capability, operation, &request);
        let entry = {
            let mut entries = self.entries.lock().expect("hub lock poisoned");
            entries
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        capability: capability.to_string(),
                        operation: operation.to_string(),
                        request: request.clone(),
                        answer: OnceCell::new(),
                    })
                })
                .clone()
        };
        let answer = entry
            .answer
            .get_or_init(|| self.dispatch(&key, capability, operation, &request))
            .await;
        answer.clone().into_result()
    }

    async fn dispatch(
        &self,
        key: &str,
        capability: &str,
        operation: &str,
        request: &Value,
    ) -> Answer {
        if let Some(err) = self
            .broken
            .lock()
            .expect("hub lock poisoned")
            .get(capability)
        {
            return Answer::Error(CapError {
                operation: operation.to_string(),
                ..err.clone()
            });
        }
        let result = match &self.backend {
            Backend::Replay(index) => {
                self.replayed_calls.fetch_add(1, Ordering::Relaxed);
                return index.get(key).cloned().unwrap_or_else(|| {
                    Answer::Error(CapError::new(
                        capability,
                        operation,
                        ErrorKind::NotRecorded,
                        format!(
                            "the cassette has no answer for {capability}.{operation} {}; \
                             record it again with --record against the live environment",
                            cassette::canonical(request)
                        ),
                    ))
                });
            }
            Backend::Live { region, aws, net } => match capability {
                "aws" => {
                    let clients = aws
                        .get_or_init(|| aws::AwsClients::from_env(region.clone()))
                        .await;
                    match clients {
                        Ok(clients) => {
                            self.live_calls.fetch_add(1, Ordering::Relaxed);
                            aws::call(clients, operation, request).await
                        }
                        Err(e) => Err(CapError {
                            operation: operation.to_string(),
                            ..e.clone()
                        }),
                    }
                }
                "dns" => dns::call(net, operation, request).await,
                "http" => http::call(net, operation, request).await,
                "tcp" => tcp::call(net, operation, request).await,
                "mysql" if net.mysql_password.is_none() => Err(CapError::new(
                    "mysql",
                    operation,
                    ErrorKind::Credentials,
                    "no MySQL password given: pass --mysql-password-file FILE or set \
                     LABRUN_MYSQL_PASSWORD (the password set when the Aurora cluster was created)",
                )
                .with_code("no-password")),
                "mysql" => mysql::call(net, operation, request).await,
                other => Err(CapError::new(
                    other,
                    operation,
                    ErrorKind::Unsupported,
                    format!(
                        "unknown capability `{other}`; this labrun has: {}",
                        CAPABILITIES.join(", ")
                    ),
                )),
            },
        };
        // Probes fail per target (one trainee's closed port says nothing about the
        // next trainee's), so only AWS, one endpoint for the whole class, trips.
        if let Err(err) = &result {
            if capability == "aws"
                && matches!(
                    err.kind,
                    ErrorKind::Credentials | ErrorKind::Network | ErrorKind::Timeout
                )
                && matches!(self.backend, Backend::Live { .. })
            {
                self.broken
                    .lock()
                    .expect("hub lock poisoned")
                    .entry(capability.to_string())
                    .or_insert_with(|| err.clone());
            }
        }
        let secret = match &self.backend {
            Backend::Live { net, .. } => net.mysql_password.as_ref().map(|p| p.expose()),
            Backend::Replay(_) => None,
        };
        match result {
            Ok(mut value) => {
                cassette::redact(&mut value);
                if let Some(secret) = secret {
                    cassette::scrub(&mut value, secret);
                }
                Answer::Response(value)
            }
            Err(mut e) => {
                if let Some(secret) = secret.filter(|s| !s.is_empty()) {
                    e.message = e.message.replace(secret, "[redacted]");
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

    /// Capabilities found unusable during the run, with the error that said so.
    pub fn broken(&self) -> Vec<CapError> {
        let broken = self.broken.lock().expect("hub lock poisoned");
        let mut list: Vec<CapError> = broken.values().cloned().collect();
        list.sort_by(|a, b| a.capability.cmp(&b.capability));
        list
    }

    pub fn live_calls(&self) -> u64 {
        self.live_calls.load(Ordering::Relaxed)
    }

    pub fn replayed_calls(&self) -> u64 {
        self.replayed_calls.load(Ordering::Relaxed)
    }
}
