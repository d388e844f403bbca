//! The registry: every capability this labrun provides, in WIT order. Adding a
//! capability is one line here plus its own module.

use super::capability::{Capability, Operation};
use super::{aws, dns, http, mysql, server, tcp};

/// Every capability, in the order of `wit/labrun-host.wit`.
pub const ALL: &[&Capability] = &[
    &aws::SPEC,
    &dns::SPEC,
    &mysql::SPEC,
    &http::SPEC,
    &tcp::SPEC,
    &server::SPEC,
];

/// The capability named `name`.
pub fn get(name: &str) -> Option<&'static Capability> {
    ALL.iter().copied().find(|c| c.name == name)
}

/// The operation `capability.operation`, if both exist.
pub fn operation(capability: &str, operation: &str) -> Option<&'static Operation> {
    get(capability)?.operation(operation)
}

/// Every capability name, in order.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::capability::Scope;

    #[test]
    fn names_and_operations_are_unique() {
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for cap in ALL {
            let mut ops = cap.operation_names();
            assert!(!ops.is_empty(), "{} has no operations", cap.name);
            ops.sort();
            ops.dedup();
            assert_eq!(ops.len(), (cap.operations)().len(), "{}", cap.name);
        }
    }

    #[test]
    fn every_aws_operation_names_its_iam_action_and_no_probe_does() {
        for cap in ALL {
            for op in (cap.operations)() {
                match op.iam {
                    Some(action) => {
                        assert_eq!(cap.name, "aws", "{}.{} is no AWS call", cap.name, op.name);
                        let (service, name) = action.split_once(':').expect("service:Action");
                        assert!(
                            !service.is_empty()
                                && service.chars().all(|c| c.is_ascii_lowercase()
                                    || c.is_ascii_digit()
                                    || c == '-')
                                && name.starts_with(|c: char| c.is_ascii_uppercase())
                                && name.chars().all(|c| c.is_ascii_alphanumeric()),
                            "{}.{}: `{action}` is not service:Action",
                            cap.name,
                            op.name
                        );
                    }
                    None => assert_ne!(cap.name, "aws", "aws.{} has no IAM action", op.name),
                }
            }
        }
    }

    #[test]
    fn every_shipped_operation_has_a_scope_rule() {
        for cap in ALL {
            for op in (cap.operations)() {
                assert!(
                    !matches!(op.scope, Scope::Refused),
                    "{}.{} has no scope rule for untrusted steps",
                    cap.name,
                    op.name
                );
            }
        }
    }
}
