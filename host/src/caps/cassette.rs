//! Cassettes: every capability call and its answer, as JSON, secrets redacted.
//! Recorded with `--record`, answered from with `--replay` (no network at all).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::CapError;
use crate::error::{LoadError, OutputError};
use crate::text::{self, quoted};

pub const CASSETTE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cassette {
    /// Format version of this file.
    pub labrun_cassette: u32,
    /// What was recorded (step, trainees, region), for humans.
    #[serde(default)]
    pub recorded: Value,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub capability: String,
    pub operation: String,
    pub request: Value,
    #[serde(flatten)]
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Response(Value),
    Error(CapError),
}

impl Answer {
    pub fn into_result(self) -> Result<Value, CapError> {
        match self {
            Answer::Response(v) => Ok(v),
            Answer::Error(e) => Err(e),
        }
    }
}

/// Identifies a call independently of key order in the request.
pub fn call_key(capability: &str, operation: &str, request: &Value) -> String {
    format!("{capability}\u{1f}{operation}\u{1f}{}", canonical(request))
}

/// JSON text with object keys sorted at every level.
pub fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sort(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

impl Cassette {
    pub fn load(path: &Path) -> Result<Cassette, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            LoadError::Cassette(
                text::cassette::CannotRead {
                    path,
                    why: quoted(e),
                }
                .into(),
            )
        })?;
        Cassette::parse(&text, &path.display().to_string())
    }

    /// Reads a cassette's text; `name` names it in the error.
    pub fn parse(text: &str, name: &str) -> Result<Cassette, LoadError> {
        let cassette: Cassette = serde_json::from_str(text).map_err(|e| {
            LoadError::Cassette(
                text::cassette::NotACassette {
                    name,
                    why: quoted(e),
                }
                .into(),
            )
        })?;
        if cassette.labrun_cassette != CASSETTE_VERSION {
            return Err(LoadError::Cassette(
                text::cassette::Format {
                    name,
                    found: cassette.labrun_cassette,
                    reads: CASSETTE_VERSION,
                }
                .into(),
            ));
        }
        cassette.check(name)?;
        Ok(cassette)
    }

    /// One request has one answer: a cassette that says two things about a call is
    /// refused, never answered from whichever came last. (Whether each call names a
    /// capability of this labrun is checked by the planner, above the registry.)
    fn check(&self, name: &str) -> Result<(), LoadError> {
        let mut seen: HashMap<String, (usize, &Answer)> = HashMap::new();
        for (n, call) in self.calls.iter().enumerate() {
            let key = call_key(&call.capability, &call.operation, &call.request);
            if let Some((first, answer)) = seen.insert(key, (n, &call.answer)) {
                if *answer != call.answer {
                    return Err(LoadError::Cassette(
                        text::cassette::TwoAnswers {
                            name,
                            first: first + 1,
                            second: n + 1,
                            capability: call.capability.escape_debug().to_string(),
                            operation: call.operation.escape_debug().to_string(),
                        }
                        .into(),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn index(self) -> HashMap<String, Answer> {
        self.calls
            .into_iter()
            .map(|c| (call_key(&c.capability, &c.operation, &c.request), c.answer))
            .collect()
    }

    /// Writes the cassette next to its final name, then renames it into place, so a
    /// failed write never leaves half a cassette.
    pub fn save(&self, path: &Path) -> Result<(), OutputError> {
        let fail = |why: String| OutputError {
            what: crate::error::Output::Cassette,
            path: path.display().to_string(),
            why,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| fail(e.to_string()))?;
        text.push('\n');
        let tmp = path.with_file_name(format!(
            ".{}.labrun-tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(|e| fail(e.to_string()))
    }
}

const REDACTED: &str = "[redacted]";

/// Replaces the value of every key that names a secret, at any depth. Capabilities
/// never return credentials on purpose; this is the second lock on the door.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if is_secret_key(key) && !item.is_null() {
                    *item = Value::String(REDACTED.into());
                } else {
                    redact(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Replaces every occurrence of `secret` inside string values (a server may echo
/// what it was sent; the operator's password must never reach a report or cassette).
pub fn scrub(value: &mut Value, secret: &str) {
    if secret.is_empty() {
        return;
    }
    match value {
        Value::String(text) if text.contains(secret) => {
            *text = text.replace(secret, REDACTED);
        }
        Value::Object(map) => map.values_mut().for_each(|v| scrub(v, secret)),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, secret)),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "sessiontoken",
        "session_token",
        "accesskey",
        "access_key",
        "credential",
    ]
    .iter()
    .any(|s| key.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_object_order() {
        let a = json!({"Filters": [{"Name": "x", "Values": ["1"]}], "MaxRecords": 20});
        let b = json!({"MaxRecords": 20, "Filters": [{"Values": ["1"], "Name": "x"}]});
        assert_eq!(call_key("aws", "op", &a), call_key("aws", "op", &b));
        assert_ne!(call_key("aws", "op", &a), call_key("aws", "op2", &a));
    }

    #[test]
    fn redacts_secret_keys_at_any_depth() {
        let mut v = json!({"DBClusters": [{"MasterUserPassword": "hunter2",
            "MasterUserSecret": {"SecretArn": "arn"}, "Endpoint": "e"}]});
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("arn\""), "{text}");
        assert!(text.contains("\"Endpoint\":\"e\""), "{text}");
    }

    /// Any JSON value, a few levels deep, for the fuzzing below.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            Just(json!("aws")),
            Just(json!("ec2_describe_vpcs")),
            Just(json!(CASSETTE_VERSION)),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        any::<String>(),
                        Just("labrun_cassette".to_string()),
                        Just("calls".to_string()),
                        Just("capability".to_string()),
                        Just("operation".to_string()),
                        Just("request".to_string()),
                        Just("response".to_string()),
                        Just("error".to_string()),
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A cassette file, whatever it holds, loads or is refused in one line: it
        /// never panics, and a loaded one can be indexed for replay.
        #[test]
        fn any_text_loads_or_is_refused(text in ".{0,400}") {
            if let Ok(c) = Cassette::parse(&text, "c.json") {
                let _ = c.index();
            }
        }

        #[test]
        fn any_json_loads_or_is_refused_in_one_line(value in any_json()) {
            match Cassette::parse(&value.to_string(), "c.json") {
                Ok(c) => { let _ = c.index(); }
                Err(e) => proptest::prop_assert!(!e.to_string().contains('\n'), "{e}"),
            }
        }
    }
}
