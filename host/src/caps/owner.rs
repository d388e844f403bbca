//! Whose resources an untrusted step may see: the trainee, and what the account says
//! belongs to them. Scope rules of AWS operations ask an [`Owner`].

use std::collections::HashSet;

use serde_json::Value;

/// The trainee an untrusted step runs for, and their own VPCs.
#[derive(Debug, Clone, Default)]
pub struct Owner {
    pub trainee: String,
    /// VPCs named for the trainee: resources inside them are the trainee's too.
    pub vpcs: HashSet<String>,
}

impl Owner {
    /// `name` (a resource name or Name tag) is the trainee's.
    pub fn owns(&self, name: &str) -> bool {
        owns(name, &self.trainee)
    }

    /// The resource lives in one of the trainee's VPCs.
    pub fn in_vpc(&self, resource: &Value) -> bool {
        resource["VpcId"]
            .as_str()
            .is_some_and(|v| self.vpcs.contains(v))
    }

    /// The resource's Name tag is the trainee's.
    pub fn owns_tagged(&self, resource: &Value) -> bool {
        self.owns(&tag_name(resource))
    }

    /// An ARN names one of the trainee's resources (`…:targetgroup/NAME/id`,
    /// `…:loadbalancer/app/NAME/id`).
    pub fn owns_arn(&self, arn: &str) -> bool {
        arn.rsplit(':')
            .next()
            .unwrap_or("")
            .split('/')
            .any(|part| self.owns(part))
    }

    /// Keeps only the items of `answer[list]` that `keep` accepts.
    pub fn keep(&self, answer: &mut Value, list: &str, keep: impl Fn(&Value) -> bool) {
        if let Some(items) = answer[list].as_array_mut() {
            items.retain(|item| keep(item));
        }
    }
}

/// The value of a resource's `Name` tag, or "".
pub fn tag_name(resource: &Value) -> String {
    resource["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["Key"] == "Name")
        .and_then(|t| t["Value"].as_str())
        .unwrap_or("")
        .to_string()
}

/// `name` belongs to `trainee` when it contains the trainee id as a whole token:
/// `wp-user05-cluster` is user05's, `wp-user050-cluster` is not.
pub fn owns(name: &str, trainee: &str) -> bool {
    if trainee.is_empty() {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let trainee = trainee.to_ascii_lowercase();
    let bytes = name.as_bytes();
    let mut from = 0;
    while let Some(i) = name[from..].find(&trainee) {
        let start = from + i;
        let end = start + trainee.len();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = start + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_a_whole_token() {
        assert!(owns("wp-user05-cluster", "user05"));
        assert!(owns("webserver#2-user05", "user05"));
        assert!(owns("wordpress user05", "user05"));
        assert!(owns(
            "elb-user05-1.ap-northeast-1.elb.amazonaws.com",
            "user05"
        ));
        assert!(!owns("wp-user050-cluster", "user05"));
        assert!(!owns("wp-user06-cluster", "user05"));
        assert!(!owns("anything", ""));
    }
}
