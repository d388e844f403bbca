//! A small OCI distribution client: manifests, blobs, referrers, over HTTP/1.1 with
//! rustls (the system's roots). Auth: anonymous, then whatever the registry's
//! `WWW-Authenticate` challenge asks for — Basic with the configured credentials, or
//! the Bearer token flow (realm/service/scope, the token fetched with those
//! credentials when there are any). Credentials never appear in an error.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

use super::auth::{self, Challenge, Credentials};
use super::reference::Reference;
use super::Failure;
use crate::text::{plain, publish as t, quoted, Arg, Text};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// No manifest, token or step is larger than this.
const MAX_BODY: usize = 256 << 20;
const MAX_REDIRECTS: usize = 5;

pub const MANIFEST_ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One repository on one registry, with the auth it has negotiated so far.
pub struct Registry {
    base: Url,
    registry: String,
    repository: String,
    scope: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

impl Registry {
    /// `push`: ask for push rights too. `insecure`: plain HTTP, loopback only.
    pub fn new(reference: &Reference, push: bool, insecure: bool) -> Result<Registry, Failure> {
        if insecure && !reference.is_loopback() {
            return Err(Failure::refused(t::InsecureRemote {
                registry: &reference.registry,
            }));
        }
        let scheme = if insecure { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", reference.registry)).map_err(|e| {
            Failure::refused(t::BadAddress {
                registry: &reference.registry,
                why: quoted(e),
            })
        })?;
        let credentials = auth::lookup(&reference.registry).map_err(Failure::refused)?;
        Ok(Registry {
            base,
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            scope: format!(
                "repository:{}:{}",
                reference.repository,
                if push { "pull,push" } else { "pull" }
            ),
            credentials,
            authorization: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{path}", self.repository))
            .expect("registry paths are valid URLs")
    }

    /// The manifest at `target` (tag or digest): its bytes and media type, or `None`
    /// when the registry has none there.
    pub async fn get_manifest(&self, target: &str) -> Result<Option<(Bytes, String)>, Failure> {
        let url = self.url(&format!("manifests/{target}"));
        let r = self
            .send(
                Method::GET,
                url,
                &[("accept", MANIFEST_ACCEPT)],
                Bytes::new(),
            )
            .await?;
        match r.status {
            StatusCode::OK => {
                let media = r
                    .header("content-type")
                    .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                    .to_string();
                Ok(Some((r.body, media)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.unexpected(t::ReadManifest.into(), target, &r)),
        }
    }

    /// Stores a manifest at `target`; returns the response headers (`OCI-Subject`).
    pub async fn put_manifest(
        &self,
        target: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<HeaderMap, Failure> {
        let url = self.url(&format!("manifests/{target}"));
        let r = self
            .send(Method::PUT, url, &[("content-type", media_type)], body)
            .await?;
        if r.status.is_success() {
            Ok(r.headers)
        } else {
            Err(self.unexpected(t::StoreManifest.into(), target, &r))
        }
    }

    pub async fn has_blob(&self, digest: &str) -> Result<bool, Failure> {
        let url = self.url(&format!("blobs/{digest}"));
        let r = self.send(Method::HEAD, url, &[], Bytes::new()).await?;
        match r.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(t::CheckBlob.into(), digest, &r)),
        }
    }

    /// Uploads a blob (monolithic: POST then PUT) unless the registry has it.
    pub async fn put_blob(&self, digest: &str, body: Bytes) -> Result<(), Failure> {
        if self.has_blob(digest).await? {
            return Ok(());
        }
        let r = self
            .send(Method::POST, self.url("blobs/uploads/"), &[], Bytes::new())
            .await?;
        if r.status != StatusCode::ACCEPTED {
            return Err(self.unexpected(t::StartUpload.into(), digest, &r));
        }
        let location = r.header("location").ok_or_else(|| {
            Failure::unavailable(t::NoLocation {
                registry: &self.registry,
            })
        })?;
        let mut url = self.base.join(location).map_err(|e| {
            Failure::unavailable(t::BadLocation {
                registry: &self.registry,
                why: quoted(e),
            })
        })?;
        url.query_pairs_mut().append_pair("digest", digest);
        let r = self
            .send(
                Method::PUT,
                url,
                &[("content-type", "application/octet-stream")],
                body,
            )
            .await?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(self.unexpected(t::Upload.into(), digest, &r))
        }
    }

    /// A blob's bytes (following redirects to blob storage). Not verified here.
    pub async fn get_blob(&self, digest: &str) -> Result<Bytes, Failure> {
        let mut url = self.url(&format!("blobs/{digest}"));
        let mut r = self
            .send(Method::GET, url.clone(), &[], Bytes::new())
            .await?;
        for _ in 0..MAX_REDIRECTS {
            if !r.status.is_redirection() {
                break;
            }
            let Some(location) = r.header("location") else {
                break;
            };
            url = url.join(location).map_err(|e| {
                Failure::unavailable(t::BadRedirect {
                    registry: &self.registry,
                    why: quoted(e),
                })
            })?;
            // Blob storage elsewhere gets no registry credentials.
            let auth = (url.host_str() == self.base.host_str()
                && url.port_or_known_default() == self.base.port_or_known_default())
            .then(|| self.authorization.lock().expect("auth lock").clone())
            .flatten();
            r = raw(
                &self.registry,
                Method::GET,
                &url,
                &[],
                Bytes::new(),
                auth.as_deref(),
            )
            .await?;
        }
        if r.status == StatusCode::OK {
            Ok(r.body)
        } else if r.status == StatusCode::NOT_FOUND {
            Err(Failure::refused(t::NoBlob {
                repository: format!("{}/{}", self.registry, self.repository),
                digest,
            }))
        } else {
            Err(self.unexpected(t::ReadBlob.into(), digest, &r))
        }
    }

    /// The referrers index of `digest` filtered by artifact type, or `None` when the
    /// registry has no referrers API (distribution 2.x answers 404).
    pub async fn referrers(
        &self,
        digest: &str,
        artifact_type: &str,
    ) -> Result<Option<serde_json::Value>, Failure> {
        let mut url = self.url(&format!("referrers/{digest}"));
        url.query_pairs_mut()
            .append_pair("artifactType", artifact_type);
        let r = self
            .send(
                Method::GET,
                url,
                &[("accept", "application/vnd.oci.image.index.v1+json")],
                Bytes::new(),
            )
            .await?;
        if r.status != StatusCode::OK {
            return Ok(None);
        }
        let is_index = r
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/vnd.oci.image.index.v1+json"));
        if !is_index {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&r.body).ok())
    }

    /// Sends with the current auth; on a 401 answers the challenge once and retries.
    async fn send(
        &self,
        method: Method,
        url: Url,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, Failure> {
        let current = self.authorization.lock().expect("auth lock").clone();
        let r = raw(
            &self.registry,
            method.clone(),
            &url,
            headers,
            body.clone(),
            current.as_deref(),
        )
        .await?;
        if r.status != StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        let challenge = r.header("www-authenticate").and_then(auth::parse_challenge);
        let authorization = match challenge {
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => c.basic_header(),
                None => return Err(self.needs_credentials()),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                self.bearer_token(&realm, service.as_deref()).await?
            }
            None => return Err(self.needs_credentials()),
        };
        if current.as_deref() == Some(authorization.as_str()) {
            return Err(self.rejected(&r));
        }
        *self.authorization.lock().expect("auth lock") = Some(authorization.clone());
        let r = raw(
            &self.registry,
            method,
            &url,
            headers,
            body,
            Some(&authorization),
        )
        .await?;
        if r.status == StatusCode::UNAUTHORIZED {
            return Err(self.rejected(&r));
        }
        Ok(r)
    }

    async fn bearer_token(&self, realm: &str, service: Option<&str>) -> Result<String, Failure> {
        let mut url = Url::parse(realm).map_err(|e| {
            Failure::unavailable(t::BadRealm {
                registry: &self.registry,
                realm,
                why: quoted(e),
            })
        })?;
        if url.scheme() != "https" && !url.host_str().is_some_and(is_loopback_host) {
            return Err(Failure::refused(t::PlainRealm {
                registry: &self.registry,
                realm,
            }));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &self.scope);
        }
        let basic = self.credentials.as_ref().map(Credentials::basic_header);
        let r = raw(
            &self.registry,
            Method::GET,
            &url,
            &[],
            Bytes::new(),
            basic.as_deref(),
        )
        .await?;
        if r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN {
            return Err(self.rejected(&r));
        }
        if r.status != StatusCode::OK {
            return Err(Failure::unavailable(t::TokenStatus {
                registry: &self.registry,
                status: plain(r.status),
            }));
        }
        let json: serde_json::Value = serde_json::from_slice(&r.body).map_err(|_| {
            Failure::unavailable(t::TokenNotJson {
                registry: &self.registry,
            })
        })?;
        let token = json
            .get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| {
                Failure::unavailable(t::TokenMissing {
                    registry: &self.registry,
                })
            })?;
        Ok(format!("Bearer {token}"))
    }

    fn needs_credentials(&self) -> Failure {
        Failure::unavailable(t::NeedsCredentials {
            registry: &self.registry,
        })
    }

    fn rejected(&self, r: &Response) -> Failure {
        match &self.credentials {
            Some(c) => Failure::unavailable(t::Rejected {
                registry: &self.registry,
                who: c.describe(),
                status: r.status.as_u16(),
                said: registry_said(&r.body),
            }),
            None => self.needs_credentials(),
        }
    }

    fn unexpected(&self, what: Text, target: &str, r: &Response) -> Failure {
        let sep = if target.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        let text = t::Unexpected {
            registry: &self.registry,
            what,
            artifact: format!("{}/{}{sep}{target}", self.registry, self.repository),
            status: r.status.as_u16(),
            said: registry_said(&r.body),
        };
        if r.status == StatusCode::FORBIDDEN || r.status.is_client_error() {
            Failure::refused(text)
        } else {
            Failure::unavailable(text)
        }
    }
}

/// `: CODE message`, the registry's own words (quoted) after an HTTP status, or
/// nothing.
fn registry_said(body: &[u8]) -> Arg {
    match registry_message(body) {
        Some(said) => Text::from(t::RegistrySaid { said: quoted(said) }).into(),
        None => plain(""),
    }
}

/// The first `errors[].message` of a registry error body.
fn registry_message(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = json.get("errors")?.get(0)?;
    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let message = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
    Some(format!("{code} {message}").trim().to_string())
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One request on a fresh connection.
async fn raw(
    registry: &str,
    method: Method,
    url: &Url,
    headers: &[(&str, &str)],
    body: Bytes,
    authorization: Option<&str>,
) -> Result<Response, Failure> {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let down = |why: Arg| {
        Failure::unavailable(t::Unreachable {
            registry,
            origin: url.origin().ascii_serialization(),
            why,
        })
    };
    let exchange = async {
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((bare.as_str(), port)),
        )
        .await
        .map_err(|_| {
            down(
                Text::from(t::NoConnectionWithin {
                    seconds: CONNECT_TIMEOUT.as_secs(),
                })
                .into(),
            )
        })?
        .map_err(|e| down(io_reason(&e)))?;
        if url.scheme() == "https" {
            let config = crate::caps::net::tls_config().map_err(|why| down(why.into()))?;
            let name = rustls::pki_types::ServerName::try_from(bare.clone()).map_err(|e| {
                down(
                    Text::from(t::TlsName {
                        host: &host,
                        why: quoted(e),
                    })
                    .into(),
                )
            })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| down(Text::from(t::TlsHandshake { why: quoted(e) }).into()))?;
            request(tls, method, url, headers, body, authorization)
                .await
                .map_err(down)
        } else {
            request(stream, method, url, headers, body, authorization)
                .await
                .map_err(down)
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            down(
                Text::from(t::NoAnswerWithin {
                    seconds: REQUEST_TIMEOUT.as_secs(),
                })
                .into(),
            )
        })?
}

/// Why a connection failed: refused said in labrun's words, anything else the OS's.
fn io_reason(e: &std::io::Error) -> Arg {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Text::from(t::ConnectionRefused).into(),
        _ => quoted(e),
    }
}

async fn request<S>(
    stream: S,
    method: Method,
    url: &Url,
    headers: &[(&str, &str)],
    body: Bytes,
    authorization: Option<&str>,
) -> Result<Response, Arg>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(quoted)?;
    let _connection = crate::caps::net::drive_connection(conn);
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let host_header = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(target)
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::USER_AGENT,
            concat!("labrun/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONNECTION, "close");
    if let Some(h) = builder.headers_mut() {
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                h.insert(n, v);
            }
        }
        if let Some(a) = authorization {
            let mut v = HeaderValue::from_str(a)
                .map_err(|_| Arg::from(Text::from(t::UnsendableCredentials)))?;
            v.set_sensitive(true);
            h.insert(hyper::header::AUTHORIZATION, v);
        }
    }
    let request = builder.body(Full::new(body)).map_err(quoted)?;
    let response = sender.send_request(request).await.map_err(quoted)?;
    let (parts, body) = response.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let body = limited
        .collect()
        .await
        .map_err(|e| Arg::from(Text::from(t::ReadingFailed { why: quoted(e) })))?
        .to_bytes();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}
