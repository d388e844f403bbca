//! The one error type every capability returns, so scripts, plugins, reports and
//! cassettes all see the same shape (kind, code, message) whatever failed.

use serde::{Deserialize, Serialize};

use crate::text::{self, Arg, Lang, Text};

/// Why a capability call did not produce an answer. A step maps most of these to the
/// `error` status ("labrun could not check"); `NotFound` is usually an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No usable credentials, or the service rejected them (expired, invalid).
    Credentials,
    /// The caller is authenticated but not allowed (IAM deny, policy gate).
    Denied,
    /// The service throttled us even after retries.
    Throttling,
    /// Connection refused, DNS failure, TLS failure, reset.
    Network,
    /// No answer within the time limit.
    Timeout,
    /// The request itself is malformed (bad filter, unknown field, bad value).
    InvalidRequest,
    /// The named resource does not exist (e.g. DBClusterNotFoundFault).
    NotFound,
    /// Any other error the remote service returned.
    Service,
    /// The operation or capability is not supported by this labrun.
    Unsupported,
    /// Replay mode: the cassette holds no answer for this call.
    NotRecorded,
}

impl ErrorKind {
    /// labrun could not read the world (credentials, throttling, network, a timeout,
    /// a service fault): a fact about that moment, not about the trainee's work.
    pub fn is_outage(self) -> bool {
        matches!(
            self,
            ErrorKind::Credentials
                | ErrorKind::Throttling
                | ErrorKind::Network
                | ErrorKind::Timeout
                | ErrorKind::Service
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Credentials => "credentials",
            ErrorKind::Denied => "denied",
            ErrorKind::Throttling => "throttling",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Service => "service",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::NotRecorded => "not_recorded",
        }
    }
}

/// A failed capability call. `code` keeps the remote error code (AWS error code such
/// as `DBClusterNotFoundFault`, MySQL error number such as `1045`) so steps can tell
/// failures apart without parsing text.
///
/// The message is made from a host catalog text and crosses the step boundary (Rhai,
/// WIT, cassettes) already rendered: `message` in English, what every step and
/// cassette has always seen, and `message_ja` in Japanese, which a Rhai step's error
/// rows use (absent from cassettes recorded before it, and from WIT's `cap-error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{capability}.{operation}: {}", self.message_in(text::lang()))]
pub struct CapError {
    pub capability: String,
    pub operation: String,
    pub kind: ErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ja: Option<Box<str>>,
}

impl CapError {
    pub fn new(
        capability: &str,
        operation: &str,
        kind: ErrorKind,
        message: impl Into<Text>,
    ) -> Self {
        let message = message.into();
        CapError {
            capability: capability.to_string(),
            operation: operation.to_string(),
            kind,
            code: None,
            message: message.render(Lang::En),
            message_ja: Some(message.render(Lang::Ja).into()),
        }
    }

    /// The message in `lang` (English where no Japanese was recorded).
    pub fn message_in(&self, lang: Lang) -> &str {
        match (lang, &self.message_ja) {
            (Lang::Ja, Some(ja)) => ja,
            _ => &self.message,
        }
    }

    /// The message as a value of another text, in that text's language.
    pub fn message_arg(&self) -> Arg {
        Arg::Each {
            en: self.message.clone(),
            ja: self.message_in(Lang::Ja).to_string(),
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}
