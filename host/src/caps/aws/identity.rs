//! Whose AWS account a call goes to: the operator's own configuration, or a trainee's
//! own (`--roster`: a profile of the operator's configuration, or a role in the
//! trainee's account assumed with the session name `labrun-<trainee>`, so the
//! account's CloudTrail says whose check it was), each in its region.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::caps::error::{CapError, ErrorKind};
use crate::caps::settings::{Account, AwsIdentity};

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

/// Gets `account`'s credentials now (its role assumed, its profile read), so a role
/// the operator may not assume is one error naming the role and the account, which
/// every call of that account's trainees then reports, instead of a credentials
/// error per call that points at the operator's own configuration.
pub async fn reach(config: &SdkConfig, account: &Account) -> Result<(), CapError> {
    let Some(provider) = config.credentials_provider() else {
        return Ok(());
    };
    let Err(e) = provider.provide_credentials().await else {
        return Ok(());
    };
    let why = crate::text::quoted(service_words(&e));
    let account_label = account.label.as_str();
    let how: crate::text::Text = match (&account.identity.role_arn, &account.identity.profile) {
        (Some(arn), _) => crate::text::aws::CannotAssume {
            account: account_label,
            role: arn.as_str(),
            session: session_name(&account.trainee),
            why,
            external: if account.identity.external_id.is_some() {
                crate::text::Arg::from(crate::text::Text::from(crate::text::aws::WithExternalId))
            } else {
                crate::text::Arg::from("")
            },
        }
        .into(),
        (None, Some(profile)) => crate::text::aws::CannotUseProfile {
            account: account_label,
            profile: crate::text::inert(profile),
            why,
        }
        .into(),
        (None, None) => crate::text::aws::CannotGetCredentials {
            account: account_label,
            why,
        }
        .into(),
    };
    Err(CapError::new(
        super::CAPABILITY,
        "config",
        ErrorKind::Credentials,
        how,
    ))
}

/// What AWS said (`AccessDenied: User is not authorized …`), found in an error's
/// chain of causes, else its innermost cause; at most 300 characters.
fn service_words(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = Some(error);
    let mut last = error;
    while let Some(e) = cause {
        let said = e
            .downcast_ref::<aws_smithy_types::error::ErrorMetadata>()
            .and_then(|meta| match (meta.code(), meta.message()) {
                (Some(code), Some(message)) => Some(format!("{code}: {message}")),
                (code, message) => code.or(message).map(str::to_string),
            });
        if let Some(words) = said {
            return words.chars().take(300).collect();
        }
        last = e;
        cause = e.source();
    }
    last.to_string().chars().take(300).collect()
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
