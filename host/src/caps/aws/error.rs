//! Mapping SDK errors to [`CapError`]: the kind an instructor can act on, the AWS
//! error code kept in `code`, and a one-line message that never carries secrets.

use std::error::Error;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::CAPABILITY;
use crate::caps::error::{CapError, ErrorKind};
use crate::text::{aws as t, quoted, Arg, Text};

/// Longest message we pass on (AWS sometimes appends long encoded blobs).
const MAX_MESSAGE: usize = 500;

/// The code of an answer that was not a whole document ([`super::complete`]).
pub(crate) const INCOMPLETE: &str = "incomplete_answer";

/// Converts an SDK error from `operation` (sent to `endpoint`) into a [`CapError`].
pub(crate) fn from_sdk<E>(
    operation: &str,
    endpoint: &str,
    err: SdkError<E, HttpResponse>,
) -> CapError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let (kind, code, message) = classify(operation, endpoint, &err);
    let mut e = CapError::new(CAPABILITY, operation, kind, message);
    if let Some(code) = code {
        e = e.with_code(code);
    }
    e
}

fn classify<E>(
    operation: &str,
    endpoint: &str,
    err: &SdkError<E, HttpResponse>,
) -> (ErrorKind, Option<String>, Text)
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        let status = service.raw().status().as_u16();
        let code = e.code().map(str::to_string);
        let detail = quoted(clean(&clip(e.message().unwrap_or("no message"), 250)));
        let kind = kind_of_code(code.as_deref(), status);
        let shown = code.clone().unwrap_or_else(|| format!("HTTP {status}"));
        let api = api_name(operation);
        let message: Text = match kind {
            ErrorKind::Credentials => t::Rejected {
                code: shown,
                detail,
            }
            .into(),
            ErrorKind::Denied => t::Denied {
                api,
                code: shown,
                detail,
            }
            .into(),
            ErrorKind::Throttling => t::Throttled {
                api,
                code: shown,
                detail,
            }
            .into(),
            ErrorKind::NotFound => t::NotFound {
                code: shown,
                detail,
            }
            .into(),
            ErrorKind::InvalidRequest => t::BadRequest {
                code: shown,
                detail,
            }
            .into(),
            _ => t::ServiceError {
                code: shown,
                status,
                detail,
            }
            .into(),
        };
        return (kind, code, message);
    }

    // Everything else happened on our side of the wire (or on it): first see whether
    // loading credentials is what failed, since that hides behind several variants.
    let chain = DisplayErrorContext(err).to_string();
    if is_credentials_problem(err) {
        let reason: Arg = if chain.contains("no credentials found in chain") {
            Text::from(t::NoneFound).into()
        } else {
            quoted(clean(&innermost(err)))
        };
        return (
            ErrorKind::Credentials,
            None,
            t::NoCredentials { reason }.into(),
        );
    }
    match err {
        SdkError::TimeoutError(_) => (ErrorKind::Timeout, None, t::NoAnswer { endpoint }.into()),
        SdkError::DispatchFailure(d) if d.is_timeout() => (
            ErrorKind::Timeout,
            None,
            t::ConnectTimeout {
                endpoint,
                why: quoted(clean(&innermost(err))),
            }
            .into(),
        ),
        SdkError::DispatchFailure(d) if d.is_user() => (
            ErrorKind::InvalidRequest,
            None,
            t::CannotSend {
                endpoint,
                why: quoted(clean(&clip(&chain, 250))),
            }
            .into(),
        ),
        SdkError::DispatchFailure(_) => (
            ErrorKind::Network,
            None,
            t::CannotConnect {
                endpoint,
                why: quoted(clean(&innermost(err))),
            }
            .into(),
        ),
        SdkError::ResponseError(_) if incomplete(err).is_some() => {
            let cut = incomplete(err).expect("checked");
            (
                ErrorKind::Service,
                Some(INCOMPLETE.to_string()),
                t::NotWhole {
                    api: api_name(operation),
                    endpoint,
                    why: &cut.why,
                    bytes: cut.bytes,
                }
                .into(),
            )
        }
        SdkError::ResponseError(r) => (
            ErrorKind::Service,
            None,
            t::Unreadable {
                endpoint,
                status: r.raw().status().as_u16(),
                why: quoted(clean(&innermost(err))),
            }
            .into(),
        ),
        SdkError::ConstructionFailure(_) => (
            ErrorKind::InvalidRequest,
            None,
            t::CannotBuild {
                why: quoted(clean(&clip(&chain, 250))),
            }
            .into(),
        ),
        _ => (
            ErrorKind::Service,
            None,
            t::Other {
                why: quoted(clean(&chain)),
            }
            .into(),
        ),
    }
}

/// The kind an AWS error code (or, without one, an HTTP status) stands for.
pub(crate) fn kind_of_code(code: Option<&str>, status: u16) -> ErrorKind {
    let Some(code) = code else {
        return match status {
            401 => ErrorKind::Credentials,
            403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::Throttling,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Service,
        };
    };
    match code {
        "AuthFailure"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "RequestExpired" => ErrorKind::Credentials,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "OptInRequired" => {
            ErrorKind::Denied
        }
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "SlowDown"
        | "EC2ThrottledException" => ErrorKind::Throttling,
        c if c.contains("NotFound") || c.starts_with("NoSuch") => ErrorKind::NotFound,
        c if c.starts_with("InvalidParameter")
            || c.contains("Validation")
            || c.ends_with(".Malformed")
            || c == "MissingParameter"
            || c == "InvalidFilter"
            || c == "InvalidTarget"
            || c == "InvalidAction" =>
        {
            ErrorKind::InvalidRequest
        }
        _ => ErrorKind::Service,
    }
}

/// The incomplete answer ([`super::complete`]) somewhere in the error's chain.
fn incomplete<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a super::complete::Incomplete> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(cut) = e.downcast_ref::<super::complete::Incomplete>() {
            return Some(cut);
        }
        next = e.source();
    }
    None
}

/// Whether any error in the chain comes from loading credentials or choosing how to
/// sign (the SDK reports both as dispatch or construction failures).
fn is_credentials_problem(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("credential")
            || text.contains("auth scheme")
            || text.contains("sso session")
            || text.contains("failed to load token")
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The deepest cause in the chain (e.g. `Connection refused (os error 111)`),
/// which is what a human needs to read.
fn innermost(err: &(dyn Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    if text.is_empty() {
        clip(&DisplayErrorContext(err).to_string(), 250)
    } else {
        clip(&text, 250)
    }
}

/// `ec2_describe_instances` → `ec2:DescribeInstances` (the IAM action name).
pub(crate) fn api_name(operation: &str) -> String {
    let Some((service, rest)) = operation.split_once('_') else {
        return operation.to_string();
    };
    let service = if service == "elbv2" {
        "elasticloadbalancing"
    } else {
        service
    };
    let action: String = rest
        .split('_')
        .map(|w| match w {
            "db" => "DB".to_string(),
            _ => {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        })
        .collect();
    format!("{service}:{action}")
}

/// At most `max` characters of `text`, marked with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

/// One line, bounded, and with anything that looks like an access key id masked.
pub(crate) fn clean(message: &str) -> String {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let masked = one_line
        .split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let looks_like_key = core.len() == 20
                && ["AKIA", "ASIA"].iter().any(|p| core.starts_with(p))
                && core
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if looks_like_key {
                word.replace(core, &format!("{}****", &core[..4]))
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    clip(&masked, MAX_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            ("AuthFailure", ErrorKind::Credentials),
            ("InvalidClientTokenId", ErrorKind::Credentials),
            ("ExpiredToken", ErrorKind::Credentials),
            ("UnauthorizedOperation", ErrorKind::Denied),
            ("AccessDenied", ErrorKind::Denied),
            ("RequestLimitExceeded", ErrorKind::Throttling),
            ("Throttling", ErrorKind::Throttling),
            ("InvalidInstanceID.NotFound", ErrorKind::NotFound),
            ("DBClusterNotFoundFault", ErrorKind::NotFound),
            ("LoadBalancerNotFound", ErrorKind::NotFound),
            ("InvalidInstanceID.Malformed", ErrorKind::InvalidRequest),
            ("InvalidParameterValue", ErrorKind::InvalidRequest),
            ("ValidationError", ErrorKind::InvalidRequest),
            ("InternalError", ErrorKind::Service),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of_code(Some(code), 400), kind, "{code}");
        }
        assert_eq!(kind_of_code(None, 403), ErrorKind::Denied);
        assert_eq!(kind_of_code(None, 503), ErrorKind::Service);
    }

    #[test]
    fn api_names_follow_iam() {
        assert_eq!(api_name("ec2_describe_instances"), "ec2:DescribeInstances");
        assert_eq!(
            api_name("rds_describe_db_clusters"),
            "rds:DescribeDBClusters"
        );
        assert_eq!(
            api_name("elbv2_describe_target_health"),
            "elasticloadbalancing:DescribeTargetHealth"
        );
    }

    #[test]
    fn messages_are_one_line_and_mask_key_ids() {
        let m = clean("key AKIAABCDEFGHIJKLMNOP\nwas (ASIAABCDEFGHIJKLMNOP) bad");
        assert_eq!(m, "key AKIA**** was (ASIA****) bad");
        assert!(clean(&"x".repeat(1000)).chars().count() <= MAX_MESSAGE + 1);
    }
}
