//! The live dashboard (`--serve ADDR`): a web server on axum with two audiences.
//! The instructor's board: `/` (the page of [`crate::report::html`], every asset
//! inline), `/api/report` (the JSON contract of the latest cycle, with its history
//! and class fields) and `/api/events` (Server-Sent Events: one `report` event per
//! cycle, the current one on connect). Each trainee's own page ([`trainee`]): `/me`,
//! `GET /api/trainee` and `POST /api/check` (Check now). And `/healthz`.
//!
//! [`bind`] runs while planning, so a port in use or a non-loopback address without
//! a token is bad input before anything runs. With a token, every route but
//! `/healthz` needs `?token=…` or `Authorization: Bearer …` ([`access`]): the board
//! the instructor's, a trainee page that trainee's (or the instructor's). Handing out
//! trainee links always puts the board behind a token (one is generated if none was
//! given): trainees on the classroom network must not read each other's evidence.

pub mod access;
pub mod trainee;

use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

pub use access::{Access, Viewer};
pub use trainee::CheckNow;

use crate::outcome::Lang;
use crate::report::html;
use crate::text::{self, Text};

/// The value of `--serve-token` that asks labrun to make one up and print it.
pub const GENERATE: &str = "generate";

/// A bound, not yet serving, dashboard socket.
pub struct ServePlan {
    listener: std::net::TcpListener,
    pub addr: SocketAddr,
    pub token: Option<String>,
    /// The token was generated: print it.
    pub generated: bool,
}

/// Binds ADDR now (a port in use is an error now, not mid-class). A non-loopback
/// address needs a token; `generate` makes a random one, and so do trainee links
/// (`links`) without one: the board is then never open to a trainee's browser.
pub fn bind(text: &str, token: Option<&str>, links: bool) -> Result<ServePlan, Text> {
    use crate::text::{quoted, serve as s};
    let addr = text
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Text::from(s::NotAnAddress { value: text }))?;
    let (token, generated) = match token {
        Some(GENERATE) => (Some(random_token()), true),
        Some("") => return Err(s::EmptyToken.into()),
        Some(t) => (Some(check_token(t)?.to_string()), false),
        None if links => (Some(random_token()), true),
        None => (None, false),
    };
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(s::NeedsToken {
            value: text,
            generate: GENERATE,
        }
        .into());
    }
    let cannot = |e: std::io::Error| {
        Text::from(s::CannotServe {
            value: text,
            why: quoted(e),
        })
    };
    let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    let addr = listener.local_addr().unwrap_or(addr);
    Ok(ServePlan {
        listener,
        addr,
        token,
        generated,
    })
}

/// The most characters a `--serve-token` may have.
const MAX_TOKEN_CHARS: usize = 256;

/// A token travels in a URL (`?token=`) and a header: URL-safe characters only. The
/// error never repeats the token.
fn check_token(token: &str) -> Result<&str, Text> {
    use crate::text::serve as s;
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
    if let Some(bad) = token.chars().find(|c| !fits(*c)) {
        return Err(s::TokenChar {
            bad: crate::outcome::inert::describe_char(bad),
            generate: GENERATE,
        }
        .into());
    }
    if token.len() > MAX_TOKEN_CHARS {
        return Err(s::TokenLong {
            chars: token.len(),
            max: MAX_TOKEN_CHARS,
        }
        .into());
    }
    Ok(token)
}

fn random_token() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the OS gives random bytes");
    hex::encode(bytes)
}

/// One cycle as the dashboard shows it: its JSON, parsed and as text.
pub(crate) struct Snapshot {
    value: Value,
    text: String,
}

#[derive(Clone)]
struct AppState {
    latest: watch::Receiver<Option<Arc<Snapshot>>>,
    access: Arc<Access>,
    lang: Lang,
    checks: Arc<trainee::Checks>,
}

/// A serving dashboard; [`Dashboard::publish`] shows a new cycle to every viewer.
pub struct Dashboard {
    tx: watch::Sender<Option<Arc<Snapshot>>>,
    /// The board's address, with a generated token, or `?token=…` for a given one.
    pub url: String,
    /// The operator gave the token (`--serve-token`): the URL hides it.
    pub token_given: bool,
    base: String,
}

impl Dashboard {
    /// Starts serving on the runtime; the server stops with the process. `trainees`
    /// maps each trainee link's token to its trainee; `checks` takes their Check now
    /// requests (none: the button answers that checks are not taken).
    pub fn start(
        plan: ServePlan,
        lang: Lang,
        trainees: std::collections::BTreeMap<String, String>,
        checks: Option<tokio::sync::mpsc::Sender<CheckNow>>,
    ) -> std::io::Result<Dashboard> {
        let listener = tokio::net::TcpListener::from_std(plan.listener)?;
        let (tx, rx) = watch::channel(None);
        let state = AppState {
            latest: rx,
            access: Arc::new(Access {
                instructor: plan.token.clone(),
                trainees,
            }),
            lang,
            checks: Arc::new(trainee::Checks::new(checks)),
        };
        let app = router(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        // A generated token is printed: only labrun knows it. One the operator gave
        // is a secret they already hold, never echoed to a shared terminal or log.
        let base = base_url(plan.addr);
        let url = match &plan.token {
            Some(t) if plan.generated => format!("{base}/?token={t}"),
            Some(_) => format!("{base}/?token=…"),
            None => format!("{base}/"),
        };
        let token_given = plan.token.is_some() && !plan.generated;
        Ok(Dashboard {
            tx,
            url,
            token_given,
            base,
        })
    }

    /// A trainee's own page, opened by their link's token.
    pub fn trainee_url(&self, token: &str) -> String {
        format!("{}/me?token={token}", self.base)
    }

    /// The latest cycle (a report JSON with history and `watch` fields).
    pub fn publish(&self, snapshot: Value) {
        let text = serde_json::to_string(&snapshot).expect("JSON always serializes");
        self.tx.send_replace(Some(Arc::new(Snapshot {
            value: snapshot,
            text,
        })));
    }
}

/// `http://ADDR:PORT` as a browser elsewhere reaches it: an address bound to every
/// interface (`0.0.0.0`, `::`) is named by this machine's host name instead.
fn base_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
        let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
        let end = buf.iter().position(|b| *b == 0).unwrap_or(0);
        if let (true, Ok(host)) = (ok && end > 0, std::str::from_utf8(&buf[..end])) {
            return format!("http://{host}:{}", addr.port());
        }
    }
    format!("http://{addr}")
}

fn router(state: AppState) -> Router {
    let board = Router::new()
        .route("/", get(page))
        .route("/api/report", get(report))
        .route("/api/events", get(events))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            instructor_only,
        ));
    let trainees = Router::new()
        .route("/me", get(trainee::page))
        .route("/api/trainee", get(trainee::view))
        .route("/api/check", post(trainee::check));
    board
        .merge(trainees)
        .route("/healthz", get(|| async { "ok\n" }))
        // Browsers ask for it; an empty answer keeps their console free of a 404.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn page(State(state): State<AppState>) -> Response {
    let latest = state.latest.borrow().clone();
    let body = html::page(latest.as_ref().map(|s| &s.value), state.lang, true);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn report(State(state): State<AppState>) -> Response {
    match state.latest.borrow().clone() {
        Some(s) => ([(header::CONTENT_TYPE, "application/json")], s.text.clone()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"error\":\"the first cycle has not finished yet\"}",
        )
            .into_response(),
    }
}

async fn events(State(state): State<AppState>) -> impl IntoResponse {
    let rx = state.latest.clone();
    // The current cycle at once, then one event per new cycle.
    let stream = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let snapshot = rx.borrow_and_update().clone();
        Some((snapshot, (rx, false)))
    })
    .filter_map(|s| async move {
        s.map(|s| Ok::<_, Infallible>(Event::default().event("report").data(s.text.as_str())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The board and its data are the instructor's: a trainee's token opens none of it.
async fn instructor_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.access.viewer(request.uri(), request.headers()) {
        Viewer::Instructor => next.run(request).await,
        Viewer::Trainee(_) => both(
            StatusCode::FORBIDDEN,
            text::class::BoardIsInstructors.into(),
        ),
        Viewer::Nobody => both(StatusCode::UNAUTHORIZED, text::class::TokenNeeded.into()),
    }
}

/// A refusal as plain text, in both languages (a browser's language is not known).
fn both(code: StatusCode, text: crate::text::Text) -> Response {
    let body = format!("{}\n{}\n", text.render(Lang::En), text.render(Lang::Ja));
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_and_an_open_address_without_token_are_refused() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = bind(&addr, None, false).err().unwrap().to_string();
        assert!(e.starts_with(&format!("cannot serve on {addr}:")), "{e}");
        let e = bind("0.0.0.0:0", None, false).err().unwrap().to_string();
        assert!(e.contains("--serve-token"), "{e}");
        let ok = bind("127.0.0.1:0", Some(GENERATE), false).unwrap();
        assert!(ok.generated && ok.token.as_ref().unwrap().len() == 36);
        assert!(bind("nonsense", None, false)
            .err()
            .unwrap()
            .to_string()
            .contains("ADDRESS:PORT"));
        let links = bind("127.0.0.1:0", None, true).unwrap();
        assert!(
            links.generated && links.token.is_some(),
            "trainee links put the board behind a token"
        );
    }
}
