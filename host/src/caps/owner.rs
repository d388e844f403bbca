//! Whose resources an untrusted step may see: the trainee, and what the account says
//! belongs to them. Scope rules of AWS operations ask an [`Owner`].

use std::collections::HashSet;

use serde_json::Value;

/// The trainee an untrusted step runs for, and their own resource graph: the VPCs
/// named for them and the ARNs of their own load balancers and target groups.
#[derive(Debug, Clone, Default)]
pub struct Owner {
    pub trainee: String,
    /// VPCs named for the trainee: resources inside them are the trainee's too.
    pub vpcs: HashSet<String>,
    /// ARNs of the trainee's own load balancers and target groups.
    pub arns: HashSet<String>,
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

    /// An ARN is one of the trainee's own resources: exactly one of their load
    /// balancers or target groups, or a listener of one of their load balancers
    /// (`…:listener/app/NAME/LB-ID/ID` belongs to `…:loadbalancer/app/NAME/LB-ID`).
    /// Anything appended (`/user05`, `:user05`) makes it another ARN.
    pub fn owns_arn(&self, arn: &str) -> bool {
        if self.arns.contains(arn) {
            return true;
        }
        let Some((head, resource)) = arn.split_once(":listener/") else {
            return false;
        };
        let parts: Vec<&str> = resource.split('/').collect();
        match parts.as_slice() {
            [kind, name, lb_id, _listener_id] => self
                .arns
                .contains(&format!("{head}:loadbalancer/{kind}/{name}/{lb_id}")),
            _ => false,
        }
    }

    /// Keeps only the items of `answer[list]` that `keep` accepts.
    pub fn keep(&self, answer: &mut Value, list: &str, keep: impl Fn(&Value) -> bool) {
        if let Some(items) = answer[list].as_array_mut() {
            items.retain(|item| keep(item));
        }
    }
}

/// Whether any text in `answer` (a name, a Name tag, an identifier) belongs to
/// `trainee` as [`owns`] says: a roster id that nothing in the account mentions is
/// most likely a typo.
pub fn mentioned(answer: &Value, trainee: &str) -> bool {
    match answer {
        Value::String(s) => owns(s, trainee),
        Value::Array(items) => items.iter().any(|v| mentioned(v, trainee)),
        Value::Object(fields) => fields.values().any(|v| mentioned(v, trainee)),
        _ => false,
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

/// `name` belongs to `trainee` when it holds the trainee id as a whole token and
/// no other trainee's: `wp-user05-cluster` is user05's; `wp-user050-cluster` is not,
/// and `tg-elb-user06-user05` (two trainee ids) belongs to neither.
pub fn owns(name: &str, trainee: &str) -> bool {
    let trainee = trainee.to_ascii_lowercase();
    if trainee.is_empty() {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let tokens: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    tokens.contains(&trainee.as_str())
        && !tokens
            .iter()
            .any(|t| *t != trainee && same_shape(t, &trainee))
}

/// Another trainee id of the same shape: `user06` beside `user05` (letters, then
/// digits). A trainee id without digits has no shape to share.
fn same_shape(token: &str, trainee: &str) -> bool {
    let prefix = trainee.trim_end_matches(|c: char| c.is_ascii_digit());
    if prefix.len() == trainee.len() || prefix.is_empty() {
        return false;
    }
    token
        .strip_prefix(prefix)
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_id_is_mentioned_only_by_a_whole_token() {
        let answer = serde_json::json!({ "Vpcs": [
            { "VpcId": "vpc-1", "Tags": [{ "Key": "Name", "Value": "vpc-user01" }] },
            { "VpcId": "vpc-2", "Tags": [] },
        ]});
        assert!(mentioned(&answer, "user01"));
        assert!(!mentioned(&answer, "user1"));
        assert!(!mentioned(&answer, "user02"));
    }

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

    #[test]
    fn a_name_with_two_trainee_ids_belongs_to_neither() {
        assert!(!owns("tg-elb-user06-user05", "user05"));
        assert!(!owns("tg-elb-user06-user05", "user06"));
        assert!(
            owns("webserver#2-user05", "user05"),
            "a number alone is no trainee id"
        );
        assert!(
            owns("alice-web-bob", "alice"),
            "ids without digits have no shape"
        );
    }

    #[test]
    fn arns_are_owned_exactly() {
        let tg = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg-elb-user05/0123456789abcdef";
        let lb = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/elb-user05/50dc6c495c0c9188";
        let owner = Owner {
            trainee: "user05".into(),
            arns: [tg.to_string(), lb.to_string()].into(),
            ..Owner::default()
        };
        assert!(owner.owns_arn(tg));
        assert!(owner.owns_arn(lb));
        assert!(owner.owns_arn(&format!(
            "{}/f2f7dc8efc522ab2",
            lb.replace(":loadbalancer/", ":listener/")
        )));
        let other = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg-elb-user06/fedcba9876543210";
        assert!(!owner.owns_arn(other));
        assert!(!owner.owns_arn(&format!("{other}/user05")));
        assert!(!owner.owns_arn(&format!("{other}:user05")));
        assert!(!owner.owns_arn(&format!("{tg}/x")));
    }
}
