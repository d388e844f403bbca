use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::main]
async fn main() -> ExitCode {
    let closed = STDOUT_CLOSED.load(Ordering::Relaxed);
    ExitCode::from(labrun::cli::main_checked(std::env::args_os().collect(), closed).await)
}

/// Standard output was closed when labrun started (`labrun … >&-`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Looks at fd 1 before Rust's runtime starts: the runtime opens /dev/null on a
/// closed standard descriptor, after which every report would vanish with exit 0.
extern "C" fn note_closed_stdout() {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;
