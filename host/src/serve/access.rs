//! Who is asking: the instructor (the `--serve-token`, or anyone on loopback when
//! there is none and no trainee links), one trainee (their own link's token), or
//! nobody. A trainee's token is an HMAC of their id under the class's link key, so
//! the same key (kept in `--state`) gives the same links after a restart, and one
//! token opens one trainee's page and API, never another's and never the board.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, Uri};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// A fresh link key: 32 random bytes, hex.
pub fn new_link_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS gives random bytes");
    hex::encode(bytes)
}

/// The token of `trainee`'s link under `key`: 128 bits of HMAC-SHA256, hex.
pub fn trainee_token(key: &str, trainee: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"labrun trainee link\0");
    mac.update(trainee.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Who a request speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Instructor,
    Trainee(String),
    Nobody,
}

/// The tokens a dashboard accepts.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `--serve-token` (generated when trainee links are handed out without one).
    pub instructor: Option<String>,
    /// Trainee token → trainee id (`--trainee-links`).
    pub trainees: BTreeMap<String, String>,
}

impl Access {
    /// Whoever the request's token (`?token=…` or `Authorization: Bearer …`) names.
    /// Without an instructor token and without trainee links, the board is open to
    /// whoever reaches the address (loopback only: checked when binding).
    pub fn viewer(&self, uri: &Uri, headers: &HeaderMap) -> Viewer {
        let given = token_of(uri, headers);
        if let (Some(expected), Some(given)) = (&self.instructor, &given) {
            if same(given.as_bytes(), expected.as_bytes()) {
                return Viewer::Instructor;
            }
        }
        if let Some(given) = &given {
            // Every entry is compared, so the time taken says nothing about which.
            let mut found = None;
            for (token, trainee) in &self.trainees {
                if same(given.as_bytes(), token.as_bytes()) {
                    found = Some(trainee.clone());
                }
            }
            if let Some(trainee) = found {
                return Viewer::Trainee(trainee);
            }
        }
        if self.instructor.is_none() && self.trainees.is_empty() {
            return Viewer::Instructor;
        }
        Viewer::Nobody
    }
}

/// The token a request carries, from the query or the Authorization header.
fn token_of(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let from_query = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("token=").map(str::to_string));
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    from_query.or(from_header).filter(|t| !t.is_empty())
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(access: &Access, query: &str) -> Viewer {
        let uri: Uri = format!("/x?{query}").parse().unwrap();
        access.viewer(&uri, &HeaderMap::new())
    }

    #[test]
    fn a_token_names_one_trainee_and_the_instructor_token_names_the_instructor() {
        let key = new_link_key();
        let (a, b) = (trainee_token(&key, "user01"), trainee_token(&key, "user02"));
        assert_ne!(a, b);
        assert_eq!(
            a,
            trainee_token(&key, "user01"),
            "the same key, the same link"
        );
        assert_ne!(a, trainee_token(&new_link_key(), "user01"));
        let access = Access {
            instructor: Some("boss".into()),
            trainees: [(a.clone(), "user01".into()), (b, "user02".into())].into(),
        };
        assert_eq!(
            ask(&access, &format!("token={a}")),
            Viewer::Trainee("user01".into())
        );
        assert_eq!(ask(&access, "token=boss"), Viewer::Instructor);
        assert_eq!(ask(&access, "token=nope"), Viewer::Nobody);
        assert_eq!(ask(&access, ""), Viewer::Nobody);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {a}").parse().unwrap(),
        );
        assert_eq!(
            access.viewer(&"/api/trainee".parse().unwrap(), &headers),
            Viewer::Trainee("user01".into())
        );
        assert_eq!(
            ask(&Access::default(), ""),
            Viewer::Instructor,
            "open on loopback"
        );
    }
}
