//! Whose AWS account a call goes to: the operator's own configuration, or a trainee's
//! own (`--roster`: a profile of the operator's configuration, or a role in the
//! trainee's account assumed with the session name `labrun-<trainee>`, so the
//! account's CloudTrail says whose check it was), each in its region.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::caps::settings::AwsIdentity;

/// The SDK configuration of `identity` (`None`: the operator's), starting from
/// `loader`'s retry and timeout settings; `region` when the identity names none.
pub async fn config(
    loader: aws_config::ConfigLoader,
    region: Option<String>,
    identity: Option<&AwsIdentity>,
    trainee: &str,
) -> SdkConfig {
    let mut loader = loader;
    let region = identity
        .and_then(|i| i.region.clone())
        .or(region)
        .filter(|r| !r.trim().is_empty());
    if let Some(profile) = identity.and_then(|i| i.profile.as_ref()) {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.trim().to_string()));
    }
    let base = loader.load().await;
    let Some((arn, external_id)) =
        identity.and_then(|i| Some((i.role_arn.as_ref()?, i.external_id.as_ref())))
    else {
        return base;
    };
    let mut role = AssumeRoleProvider::builder(arn)
        .session_name(session_name(trainee))
        .configure(&base);
    if let Some(id) = external_id {
        role = role.external_id(id);
    }
    let provider = role.build().await;
    base.into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// `labrun-<trainee>` as a role session name allows it: 2–64 characters of
/// `[A-Za-z0-9+=,.@_-]`, anything else a `-`.
pub fn session_name(trainee: &str) -> String {
    let name: String = format!("labrun-{trainee}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

/// The default configuration loader: every client labrun makes starts here.
pub fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_name_names_the_trainee_as_sts_allows() {
        assert_eq!(session_name("user05"), "labrun-user05");
        assert_eq!(session_name("山田 太郎"), "labrun------");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
