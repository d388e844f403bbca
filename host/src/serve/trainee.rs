//! Each trainee's own page: `/me` (the page), `GET /api/trainee` (their checklist:
//! titles, statuses, hints, evidence, when each outcome last changed) and
//! `POST /api/check` (Check now: the watch re-checks that trainee at once, and the
//! answer is the fresh checklist). Opened by the trainee's own token, which names the
//! trainee; the instructor's token opens any trainee's with `?trainee=ID`. Nothing
//! of another trainee's, nor of the class, is in a trainee's view.
//!
//! Check now is taken at most once per [`CHECK_EVERY`] per trainee (an early press is
//! told when to try again); the watch coalesces it with a running cycle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::{AppState, Viewer};
use crate::outcome::Message;
use crate::report::html;
use crate::text::{self, Text};

/// At most one Check now per trainee in this long.
pub const CHECK_EVERY: Duration = Duration::from_secs(15);

/// The longest a Check now waits for its answer (a trainee's run is bounded by the
/// policy's wall clock, 300 s for instructor steps).
const CHECK_WAIT: Duration = Duration::from_secs(600);

/// A Check now for one trainee; `done` is answered once the fresh result is published.
pub struct CheckNow {
    pub trainee: String,
    pub done: oneshot::Sender<()>,
}

/// The Check now requests' way to the watch, and when each trainee last pressed.
pub(super) struct Checks {
    tx: Option<mpsc::Sender<CheckNow>>,
    last: Mutex<HashMap<String, Instant>>,
}

impl Checks {
    pub(super) fn new(tx: Option<mpsc::Sender<CheckNow>>) -> Checks {
        Checks {
            tx,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `trainee` may press again (0: now).
    fn wait(&self, trainee: &str) -> u64 {
        let last = self.last.lock().expect("checks lock poisoned");
        match last.get(trainee) {
            Some(at) => CHECK_EVERY
                .saturating_sub(at.elapsed())
                .as_secs_f64()
                .ceil() as u64,
            None => 0,
        }
    }

    /// Takes a press now, or says how many seconds are left.
    fn take(&self, trainee: &str) -> Result<(), u64> {
        let mut last = self.last.lock().expect("checks lock poisoned");
        if let Some(at) = last.get(trainee) {
            let left = CHECK_EVERY.saturating_sub(at.elapsed());
            if !left.is_zero() {
                return Err(left.as_secs_f64().ceil() as u64);
            }
        }
        last.insert(trainee.to_string(), Instant::now());
        Ok(())
    }
}

/// A refusal in both languages, answered as JSON.
struct Refusal(StatusCode, Text);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json_response(self.0, &json!({ "error": Message::text(self.1) }))
    }
}

/// Which trainee a request may see, or the refusal.
fn whose(state: &AppState, request: &Request) -> Result<String, Refusal> {
    let asked = request
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("trainee="))
        .map(|t| {
            url::form_urlencoded::parse(format!("t={t}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        });
    match (state.access.viewer(request.uri(), request.headers()), asked) {
        (Viewer::Trainee(own), None) => Ok(own),
        (Viewer::Trainee(own), Some(asked)) if asked == own => Ok(own),
        (Viewer::Trainee(_), Some(_)) => {
            Err(refuse(StatusCode::FORBIDDEN, text::class::OwnPageOnly))
        }
        (Viewer::Instructor, Some(asked)) => Ok(asked),
        (Viewer::Instructor, None) => {
            Err(refuse(StatusCode::BAD_REQUEST, text::class::NameTheTrainee))
        }
        (Viewer::Nobody, _) => Err(refuse(StatusCode::UNAUTHORIZED, text::class::OwnLinkNeeded)),
    }
}

fn refuse(code: StatusCode, text: impl Into<Text>) -> Refusal {
    Refusal(code, text.into())
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("JSON always serializes"),
    )
        .into_response()
}

/// One trainee's view of the latest snapshot: their own entry and nothing of anyone
/// else's; `None` when the class has no such trainee (or no cycle finished yet).
pub fn trainee_view(snapshot: &Value, trainee: &str, wait_s: u64) -> Option<Value> {
    let own = snapshot["trainees"]
        .as_array()?
        .iter()
        .find(|t| t["trainee"] == trainee)?
        .clone();
    let ids: Vec<&str> = own["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let titles: serde_json::Map<String, Value> = snapshot["titles"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(id, _)| ids.contains(&id.as_str()))
        .map(|(id, t)| (id.clone(), t.clone()))
        .collect();
    // What labrun could not decide for this trainee (the lines name no one else).
    let undecided: Vec<Value> = snapshot["undecided"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| {
            u["trainees"]
                .as_array()
                .is_none_or(|ts| ts.is_empty() || ts.iter().any(|t| t == trainee))
        })
        .map(|u| json!({ "ids": u["ids"], "needs": u["needs"], "wanting": u["wanting"] }))
        .collect();
    let w = &snapshot["watch"];
    Some(json!({
        "step": snapshot["step"],
        "steps": snapshot.get("steps").cloned().unwrap_or(json!([])),
        "titles": titles,
        "trainee": own,
        "undecided": undecided,
        "watch": {
            "cycle": w["cycle"],
            "at": w["at"],
            "interval_s": w["interval_s"],
            "title": w["title"],
            "broken": w["broken"].as_array().into_iter().flatten()
                .map(|b| json!({ "capability": b["capability"], "since": b["since"] }))
                .collect::<Vec<_>>(),
        },
        "check": { "wait_s": wait_s },
    }))
}

fn current_view(state: &AppState, trainee: &str) -> Result<Value, Refusal> {
    let latest = state.latest.borrow().clone();
    let Some(latest) = latest else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            text::class::FirstCyclePending,
        ));
    };
    trainee_view(&latest.value, trainee, state.checks.wait(trainee))
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, text::class::NoSuchTrainee))
}

/// `GET /me`: the trainee's page, their checklist inline.
pub(super) async fn page(State(state): State<AppState>, request: Request) -> Response {
    let trainee = match whose(&state, &request) {
        Ok(t) => t,
        Err(refused) => return refused.into_response(),
    };
    let view = current_view(&state, &trainee).ok();
    let body = html::trainee_page(&trainee, view.as_ref(), state.lang);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// `GET /api/trainee`: the trainee's checklist as JSON.
pub(super) async fn view(State(state): State<AppState>, request: Request) -> Response {
    let trainee = match whose(&state, &request) {
        Ok(t) => t,
        Err(refused) => return refused.into_response(),
    };
    match current_view(&state, &trainee) {
        Ok(view) => json_response(StatusCode::OK, &view),
        Err(refused) => refused.into_response(),
    }
}

/// `POST /api/check`: Check now; answers with the fresh checklist once it is in.
pub(super) async fn check(State(state): State<AppState>, request: Request) -> Response {
    let trainee = match whose(&state, &request) {
        Ok(t) => t,
        Err(refused) => return refused.into_response(),
    };
    if let Err(refused) = current_view(&state, &trainee) {
        return refused.into_response();
    }
    let Some(tx) = state.checks.tx.clone() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, text::class::NoChecks).into_response();
    };
    if let Err(wait) = state.checks.take(&trainee) {
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({
                "error": Message::text(text::class::CheckTooSoon { seconds: wait }),
                "retry_after_s": wait,
            }),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let (done, answered) = oneshot::channel();
    let gone = || refuse(StatusCode::SERVICE_UNAVAILABLE, text::class::WatchStopped);
    if tx
        .send(CheckNow {
            trainee: trainee.clone(),
            done,
        })
        .await
        .is_err()
    {
        return gone().into_response();
    }
    match tokio::time::timeout(CHECK_WAIT, answered).await {
        Ok(Ok(())) => match current_view(&state, &trainee) {
            Ok(view) => json_response(StatusCode::OK, &view),
            Err(refused) => refused.into_response(),
        },
        Ok(Err(_)) | Err(_) => gone().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trainee_view_holds_that_trainee_only() {
        let snapshot = json!({
            "step": "step3",
            "titles": { "A1": { "en": "reader", "ja": "リーダー" }, "S9": { "en": "x", "ja": "x" } },
            "trainees": [
                { "trainee": "user01", "results": [{ "id": "A1", "status": "pass" }] },
                { "trainee": "user02", "results": [{ "id": "A1", "status": "fail", "evidence": "secret of user02" }] },
            ],
            "undecided": [
                { "ids": ["F1"], "needs": ["--ssh-key"], "trainees": [], "message": { "en": "", "ja": "" } },
                { "ids": ["A5"], "needs": ["--ssh-key"], "trainees": ["user02"], "message": { "en": "user02", "ja": "" } },
            ],
            "watch": { "cycle": 3, "class": { "stuck": [{ "trainee": "user02" }] },
                       "broken": [{ "capability": "aws", "message": "endpoint x", "since": "t" }] },
        });
        let view = trainee_view(&snapshot, "user01", 7).unwrap();
        let text = view.to_string();
        assert!(!text.contains("user02"), "{text}");
        assert_eq!(view["trainee"]["trainee"], "user01");
        assert_eq!(view["titles"].as_object().unwrap().len(), 1);
        assert_eq!(view["undecided"].as_array().unwrap().len(), 1);
        assert_eq!(view["check"]["wait_s"], 7);
        assert!(trainee_view(&snapshot, "user03", 0).is_none());
    }

    #[test]
    fn check_now_is_taken_once_per_fifteen_seconds_per_trainee() {
        let checks = Checks::new(None);
        assert_eq!(checks.wait("user01"), 0);
        assert!(checks.take("user01").is_ok());
        let left = checks.take("user01").unwrap_err();
        assert!((14..=15).contains(&left), "{left}");
        assert!(checks.take("user02").is_ok(), "per trainee");
    }
}
