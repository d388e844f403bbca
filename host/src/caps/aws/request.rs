//! Reading the AWS CLI *input* shape (`--cli-input-json`, PascalCase) strictly:
//! every field is checked against the list the operation accepts, and a wrong
//! type names the field and the type expected.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{Map, Value};

use super::CAPABILITY;
use crate::caps::error::{CapError, ErrorKind};
use crate::text::{self, request as t, Arg, Text};

/// One filter: its `Name` and its `Values`.
pub type NamedValues = (String, Vec<String>);

/// A request object (or a nested object inside one) whose fields have all been
/// checked against the accepted list.
#[derive(Debug)]
pub struct Req<'a> {
    operation: &'a str,
    /// Where this object sits in the request, e.g. `Filters[0]`; empty at the top.
    path: String,
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Req<'a> {
    /// Checks `request` (`null` or an object) against `accepted` field names.
    pub fn new(
        operation: &'a str,
        request: &'a Value,
        accepted: &[&str],
    ) -> Result<Self, CapError> {
        Self::at(operation, String::new(), request, accepted)
    }

    fn at(
        operation: &'a str,
        path: String,
        value: &'a Value,
        accepted: &[&str],
    ) -> Result<Self, CapError> {
        let map = match value {
            Value::Null if path.is_empty() => None,
            Value::Object(map) => Some(map),
            other => {
                let what: Text = if path.is_empty() {
                    t::TheRequest.into()
                } else {
                    t::Field { path: &path }.into()
                };
                return Err(invalid(
                    operation,
                    t::NotAnObject {
                        what,
                        got: type_name(other),
                        accepted: list(accepted),
                    },
                ));
            }
        };
        if let Some(map) = map {
            if let Some(unknown) = map.keys().find(|k| !accepted.contains(&k.as_str())) {
                let field = join(&path, unknown);
                let accepted = list(accepted);
                let hint = accepted_name(unknown, &accepted);
                let message: Text = match (hint, path.is_empty()) {
                    (Some(hint), true) => t::UnknownFieldHint {
                        field,
                        hint,
                        accepted,
                    }
                    .into(),
                    (Some(hint), false) => t::UnknownFieldHintIn {
                        field,
                        hint,
                        path: &path,
                        accepted,
                    }
                    .into(),
                    (None, true) => t::UnknownField { field, accepted }.into(),
                    (None, false) => t::UnknownFieldIn {
                        field,
                        path: &path,
                        accepted,
                    }
                    .into(),
                };
                return Err(invalid(operation, message));
            }
        }
        Ok(Req {
            operation,
            path,
            map,
        })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map?.get(name).filter(|v| !v.is_null())
    }

    fn wrong(&self, name: &str, expected: impl Into<Text>, got: &Value) -> CapError {
        invalid(
            self.operation,
            t::WrongType {
                field: join(&self.path, name),
                expected: expected.into(),
                got: type_name(got),
            },
        )
    }

    fn missing(&self, name: &str) -> CapError {
        invalid(
            self.operation,
            t::Required {
                field: join(&self.path, name),
            },
        )
    }

    /// An optional string.
    pub fn str(&self, name: &str) -> Result<Option<String>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong(name, t::AString, v)),
        }
    }

    /// A string that must be present.
    pub fn required_str(&self, name: &str) -> Result<String, CapError> {
        self.str(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional string that must be one of `allowed` (an SDK enum's values).
    pub fn enum_str(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, CapError> {
        match self.str(name)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(invalid(
                self.operation,
                t::NotAllowed {
                    field: join(&self.path, name),
                    value: format!("{s:?}"),
                    allowed: text::list(allowed.iter().copied()),
                },
            )),
            other => Ok(other),
        }
    }

    /// An optional array of strings.
    pub fn strs(&self, name: &str) -> Result<Option<Vec<String>>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(&format!("{name}[{i}]"), t::AString, other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.wrong(name, t::Strings, v)),
        }
    }

    /// An optional array of strings, each one of `allowed`.
    pub fn enum_strs(&self, name: &str, allowed: &[&str]) -> Result<Option<Vec<String>>, CapError> {
        let values = self.strs(name)?;
        if let Some(bad) = values
            .iter()
            .flatten()
            .find(|s| !allowed.contains(&s.as_str()))
        {
            return Err(invalid(
                self.operation,
                t::ContainsNotAllowed {
                    field: join(&self.path, name),
                    value: format!("{bad:?}"),
                    allowed: text::list(allowed.iter().copied()),
                },
            ));
        }
        Ok(values)
    }

    /// An optional 32-bit integer.
    pub fn int(&self, name: &str) -> Result<Option<i32>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .map(Some)
                .ok_or_else(|| self.wrong(name, t::Int32, v)),
            Some(v) => Err(self.wrong(name, t::Integer, v)),
        }
    }

    /// An optional boolean.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(name, t::TrueOrFalse, v)),
        }
    }

    /// An optional timestamp, given as RFC 3339 text (`2024-05-01T09:30:00Z`).
    pub fn time(&self, name: &str) -> Result<Option<DateTime>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                DateTime::from_str(s, Format::DateTime)
                    .map(Some)
                    .map_err(|_| {
                        invalid(
                            self.operation,
                            t::NotATimestamp {
                                field: join(&self.path, name),
                                value: format!("{s:?}"),
                            },
                        )
                    })
            }
            Some(v) => Err(self.wrong(name, t::Timestamp, v)),
        }
    }

    /// An optional array of objects, each checked against `accepted`.
    pub fn objects(&self, name: &str, accepted: &[&str]) -> Result<Option<Vec<Req<'a>>>, CapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Req::at(
                        self.operation,
                        join(&self.path, &format!("{name}[{i}]")),
                        v,
                        accepted,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.wrong(name, t::Objects, v)),
        }
    }

    /// `Filters: [{"Name": .., "Values": [..]}]` as (name, values) pairs; both required.
    pub fn filters(&self) -> Result<Option<Vec<NamedValues>>, CapError> {
        let Some(filters) = self.objects("Filters", &["Name", "Values"])? else {
            return Ok(None);
        };
        filters
            .iter()
            .map(|f| {
                let name = f.required_str("Name")?;
                let values = f.strs("Values")?.ok_or_else(|| f.missing("Values"))?;
                Ok((name, values))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// An `InvalidRequest` error of the AWS capability.
pub(crate) fn invalid(operation: &str, message: impl Into<Text>) -> CapError {
    CapError::new(CAPABILITY, operation, ErrorKind::InvalidRequest, message)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The accepted field names, or that there are none.
fn list(accepted: &[&str]) -> Arg {
    if accepted.is_empty() {
        Text::from(t::NoFields).into()
    } else {
        text::list(accepted.iter().copied())
    }
}

/// The accepted field a wrongly cased one meant.
fn accepted_name(unknown: &str, accepted: &Arg) -> Option<String> {
    let Arg::List(items) = accepted else {
        return None;
    };
    items.iter().find_map(|a| match a {
        Arg::Plain(a) if a.eq_ignore_ascii_case(unknown) => Some(a.clone()),
        _ => None,
    })
}

fn type_name(v: &Value) -> Text {
    match v {
        Value::Null => t::Null.into(),
        Value::Bool(_) => t::ABoolean.into(),
        Value::Number(_) => t::ANumber.into(),
        Value::String(_) => t::AString.into(),
        Value::Array(_) => t::AnArray.into(),
        Value::Object(_) => t::AnObject.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCEPTED: &[&str] = &["Filters", "InstanceIds", "DryFlag", "Count", "Start"];

    #[test]
    fn good_request_is_read() {
        let v = json!({
            "Filters": [{"Name": "tag:Name", "Values": ["web-1", "web-2"]}],
            "InstanceIds": ["i-1"],
            "DryFlag": false,
            "Count": 3,
            "Start": "2024-05-01T09:30:00Z"
        });
        let r = Req::new("op", &v, ACCEPTED).unwrap();
        assert_eq!(
            r.filters().unwrap(),
            Some(vec![(
                "tag:Name".to_string(),
                vec!["web-1".to_string(), "web-2".to_string()]
            )])
        );
        assert_eq!(
            r.strs("InstanceIds").unwrap(),
            Some(vec!["i-1".to_string()])
        );
        assert_eq!(r.bool("DryFlag").unwrap(), Some(false));
        assert_eq!(r.int("Count").unwrap(), Some(3));
        assert_eq!(r.time("Start").unwrap().unwrap().secs(), 1_714_555_800);
    }

    #[test]
    fn empty_and_null_mean_no_parameters() {
        for v in [json!({}), Value::Null] {
            let r = Req::new("op", &v, ACCEPTED).unwrap();
            assert_eq!(r.filters().unwrap(), None);
            assert_eq!(r.strs("InstanceIds").unwrap(), None);
        }
        // A null field is the same as an absent one.
        let v = json!({"InstanceIds": null});
        assert_eq!(
            Req::new("op", &v, ACCEPTED)
                .unwrap()
                .strs("InstanceIds")
                .unwrap(),
            None
        );
    }

    #[test]
    fn unknown_field_is_named_with_accepted_list() {
        let v = json!({"InstanceId": ["i-1"]});
        let e = Req::new("ec2_describe_instances", &v, ACCEPTED).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.capability, "aws");
        assert_eq!(e.operation, "ec2_describe_instances");
        assert!(
            e.message.contains("unknown field `InstanceId`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("Filters, InstanceIds"), "{}", e.message);

        let v = json!({"instanceIds": ["i-1"]});
        let e = Req::new("op", &v, ACCEPTED).unwrap_err();
        assert!(
            e.message.contains("did you mean `InstanceIds`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_nested_field_names_its_path() {
        let v = json!({"Filters": [{"Name": "x", "Values": ["y"]}, {"Name": "a", "Value": ["b"]}]});
        let r = Req::new("op", &v, ACCEPTED).unwrap();
        let e = r.filters().unwrap_err();
        assert!(e.message.contains("`Filters[1].Value`"), "{}", e.message);
        assert!(e.message.contains("Name, Values"), "{}", e.message);
    }

    #[test]
    fn wrong_types_name_field_and_expectation() {
        let cases = [
            (
                json!({"InstanceIds": "i-1"}),
                "`InstanceIds` must be an array of strings, got a string",
            ),
            (
                json!({"InstanceIds": ["i-1", 2]}),
                "`InstanceIds[1]` must be a string, got a number",
            ),
            (
                json!({"Count": "3"}),
                "`Count` must be an integer, got a string",
            ),
            (json!({"Count": 1.5}), "`Count` must be a 32-bit integer"),
            (json!({"DryFlag": "yes"}), "`DryFlag` must be true or false"),
            (
                json!({"Start": "yesterday"}),
                "`Start` must be an RFC 3339 timestamp",
            ),
            (
                json!({"Filters": {"Name": "x"}}),
                "`Filters` must be an array of objects",
            ),
            (
                json!({"Filters": [{"Name": "x"}]}),
                "`Filters[0].Values` is required",
            ),
            (
                json!({"Filters": ["x"]}),
                "`Filters[0]` must be a JSON object",
            ),
        ];
        for (v, want) in cases {
            let r = Req::new("op", &v, ACCEPTED).unwrap();
            let e = r
                .strs("InstanceIds")
                .and(r.int("Count"))
                .and(r.bool("DryFlag"))
                .and(r.time("Start"))
                .and(r.filters())
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert!(e.message.contains(want), "{v}: {}", e.message);
        }
        let e = Req::new("op", &json!([1]), ACCEPTED).unwrap_err();
        assert!(
            e.message
                .contains("the request must be a JSON object, got an array"),
            "{}",
            e.message
        );
    }

    #[test]
    fn enum_values_are_checked() {
        let v = json!({"SourceType": "db-clustr", "Include": ["All", "x"]});
        let r = Req::new("op", &v, &["SourceType", "Include"]).unwrap();
        let e = r
            .enum_str("SourceType", &["db-cluster", "db-instance"])
            .unwrap_err();
        assert!(
            e.message
                .contains("allowed values: db-cluster, db-instance"),
            "{}",
            e.message
        );
        let e = r
            .enum_strs("Include", &["All", "AnomalyDetection"])
            .unwrap_err();
        assert!(e.message.contains("contains \"x\""), "{}", e.message);
    }
}
