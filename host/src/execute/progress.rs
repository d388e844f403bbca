//! The progress line of a long one-shot class run: `labrun: 12/40 trainees checked`
//! (in the process language) on stderr, redrawn in place, erased when the run ends. Only made when stderr is a
//! terminal and the report is for people (see [`Progress::for_terminal`]).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Progress {
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    /// A progress line for `total` trainees, if stderr is a terminal, the format is
    /// human and there is more than one trainee; `None` otherwise.
    pub fn for_terminal(total: usize, human: bool) -> Option<Progress> {
        (human && total > 1 && std::io::stderr().is_terminal()).then(|| Progress::new(total))
    }

    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: AtomicUsize::new(0),
        }
    }

    /// The line after `done` trainees.
    pub fn line(&self, done: usize) -> String {
        let total = self.total;
        let text = crate::text::Text::from(crate::text::run::Progress { done, total });
        format!("\rlabrun: {text}\x1b[K")
    }

    /// One more trainee finished.
    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let mut err = std::io::stderr().lock();
        let _ = err
            .write_all(self.line(done).as_bytes())
            .and_then(|_| err.flush());
    }

    /// Erases the line.
    pub fn finish(&self) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(b"\r\x1b[K").and_then(|_| err.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_redrawn_in_place_in_the_process_language() {
        let p = Progress::new(40);
        let line = p.line(12);
        assert!(
            line.starts_with("\rlabrun: 12/40 ") && line.ends_with("\x1b[K"),
            "{line:?}"
        );
        let text = crate::text::Text::from(crate::text::run::Progress {
            done: 12,
            total: 40,
        });
        assert_eq!(text.render(crate::text::Lang::En), "12/40 trainees checked");
        assert_eq!(text.render(crate::text::Lang::Ja), "12/40 名を確認しました");
    }
}
