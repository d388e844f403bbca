//! Shutdown (Ctrl-C or SIGTERM during a watch): every running step stops at its next
//! operation or capability call, and a call in flight is given up, so no step is left
//! calling into a runtime that is going away.

use crate::text::{self, Text};

/// Why a step stopped when labrun itself is stopping.
pub fn stopping_text() -> Text {
    text::run::Stopping.into()
}

static STOP_ASKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn stop_notify() -> &'static tokio::sync::Notify {
    static NOTIFY: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    NOTIFY.get_or_init(tokio::sync::Notify::new)
}

/// Stops every running step; their unreported checks are `error` rows naming
/// [`stopping_text`].
pub fn stop_all() {
    STOP_ASKED.store(true, std::sync::atomic::Ordering::SeqCst);
    stop_notify().notify_waiters();
}

/// [`stop_all`] was called.
pub fn stopping() -> bool {
    STOP_ASKED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Resolves once [`stop_all`] is called (at once if it was).
pub async fn stopped() {
    let notified = stop_notify().notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if stopping() {
        return;
    }
    notified.await;
}
