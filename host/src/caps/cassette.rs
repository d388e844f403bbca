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
    /// The account the call went to ([`super::settings::AwsIdentity::label`]), when
    /// it was a trainee's own (`--roster`); absent: the operator's, as in every
    /// cassette recorded before accounts were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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

/// [`call_key`] of a call to `account` (`None`: the operator's, whose keys are
/// [`call_key`]'s own).
pub fn account_key(
    account: Option<&str>,
    capability: &str,
    operation: &str,
    request: &Value,
) -> String {
    match account {
        None => call_key(capability, operation, request),
        Some(account) => format!(
            "{account}\u{1e}{}",
            call_key(capability, operation, request)
        ),
    }
}

impl Call {
    /// Identifies the call: its account, capability, operation and request.
    pub fn key(&self) -> String {
        account_key(
            self.account.as_deref(),
            &self.capability,
            &self.operation,
            &self.request,
        )
    }
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
        let text =
            crate::files::read_to_string(path, crate::files::cap::CASSETTE).map_err(|e| {
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

    /// Reads a cassette's text; `name` names it in the error. Text that says two
    /// things where labrun would silently take one (a key twice in one object, a
    /// call with both a response and an error) is refused.
    pub fn parse(text: &str, name: &str) -> Result<Cassette, LoadError> {
        let not_one = |e: String| {
            LoadError::Cassette(
                text::cassette::NotACassette {
                    name,
                    why: quoted(e),
                }
                .into(),
            )
        };
        serde_json::from_str::<OneKeyEach>(text).map_err(|e| {
            let said = e.to_string();
            match said
                .strip_prefix(KEY_TWICE)
                .and_then(|rest| rest.split_once(KEY_TWICE))
            {
                Some((key, _)) => LoadError::Cassette(
                    text::cassette::KeyTwice {
                        name,
                        key,
                        line: e.line(),
                    }
                    .into(),
                ),
                None => not_one(said),
            }
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| not_one(e.to_string()))?;
        let calls = value.get("calls").and_then(Value::as_array);
        for (n, call) in calls.into_iter().flatten().enumerate() {
            if call.get("response").is_some() && call.get("error").is_some() {
                return Err(LoadError::Cassette(
                    text::cassette::TwoKinds { name, call: n + 1 }.into(),
                ));
            }
        }
        let cassette: Cassette =
            serde_json::from_value(value).map_err(|e| not_one(e.to_string()))?;
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
            let key = call.key();
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
            .map(|c| (c.key(), c.answer))
            .collect()
    }

    /// Writes the cassette next to its final name, then renames it into place, so a
    /// failed write never leaves half a cassette. A symlink is followed (the link
    /// stays); a path that is not a regular file is refused.
    pub fn save(&self, path: &Path) -> Result<(), OutputError> {
        let fail = |why: text::Arg| OutputError {
            what: crate::error::Output::Cassette,
            path: path.display().to_string(),
            why,
        };
        let mut content = serde_json::to_string_pretty(self).map_err(|e| fail(quoted(e)))?;
        content.push('\n');
        let target = crate::files::output_target(path).map_err(|why| fail(why.into()))?;
        crate::files::replace(&target, content.as_bytes()).map_err(|e| fail(quoted(e)))
    }
}

/// Any JSON document whose objects each name a key once (serde_json alone keeps the
/// last of two and says nothing).
struct OneKeyEach;

/// Brackets the key a [`OneKeyEach`] found twice in its error, so that
/// [`Cassette::parse`] says so through the catalog (serde's errors are strings).
const KEY_TWICE: char = '\u{0}';

impl<'de> Deserialize<'de> for OneKeyEach {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneKeyEach)
    }
}

impl<'de> serde::de::Visitor<'de> for OneKeyEach {
    type Value = OneKeyEach;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<OneKeyEach>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                let mut cut: String = key.chars().take(64).collect();
                if cut.len() < key.len() {
                    cut.push('…');
                }
                return Err(serde::de::Error::custom(format!(
                    "{KEY_TWICE}{cut}{KEY_TWICE}"
                )));
            }
            map.next_value::<OneKeyEach>()?;
        }
        Ok(self)
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
    fn a_call_names_its_account_and_one_without_is_the_operators() {
        let text = r#"{"labrun_cassette":1,"calls":[
            {"capability":"aws","operation":"ec2_describe_vpcs","request":{},"response":{"Vpcs":[]}},
            {"capability":"aws","operation":"ec2_describe_vpcs","account":"111111111111","request":{},"response":{"Vpcs":[{"VpcId":"vpc-1"}]}}
        ]}"#;
        let cassette = Cassette::parse(text, "c.json").unwrap();
        assert_eq!(cassette.calls[0].account, None);
        let index = cassette.clone().index();
        let own = account_key(Some("111111111111"), "aws", "ec2_describe_vpcs", &json!({}));
        let operator = account_key(None, "aws", "ec2_describe_vpcs", &json!({}));
        assert_eq!(operator, call_key("aws", "ec2_describe_vpcs", &json!({})));
        assert_eq!(index[&operator], Answer::Response(json!({"Vpcs": []})));
        assert_eq!(
            index[&own],
            Answer::Response(json!({"Vpcs": [{"VpcId": "vpc-1"}]}))
        );
        // Saved again, the operator's call stays as old cassettes have it.
        let saved = serde_json::to_value(&cassette).unwrap();
        assert!(saved["calls"][0].get("account").is_none());
        assert_eq!(saved["calls"][1]["account"], "111111111111");
    }

    #[test]
    fn a_cassette_saying_two_things_about_one_call_is_refused() {
        let call = |answer: &str| {
            format!(
                r#"{{"labrun_cassette":1,"calls":[{{"capability":"aws","operation":"ec2_describe_vpcs","request":{{}},{answer}}}]}}"#
            )
        };
        let both = call(
            r#""response":{"Vpcs":[]},"error":{"capability":"aws","operation":"ec2_describe_vpcs","kind":"network","message":"down"}"#,
        );
        let e = Cassette::parse(&both, "c.json").unwrap_err().to_string();
        assert!(
            e.to_string()
                .contains("call 1 holds both a response and an error"),
            "{e}"
        );
        let twice = call(r#""response":{"Vpcs":[{"VpcId":"vpc-1","VpcId":"vpc-2"}]}"#);
        let e = Cassette::parse(&twice, "c.json").unwrap_err().to_string();
        assert!(
            e.to_string()
                .contains("the key `VpcId` appears twice in one object")
                && e.to_string().contains("line 1"),
            "{e}"
        );
        assert!(Cassette::parse(&call(r#""response":{"Vpcs":[]}"#), "c.json").is_ok());
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
