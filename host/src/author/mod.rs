//! The step authors' kit: `labrun test` runs a step against its own regression
//! cases ([`cases`]), `labrun new` writes a starter step with a case that passes
//! ([`new`]). Both run steps exactly as `labrun STEP …` does, through
//! [`crate::plan`] and [`crate::execute`].

pub mod cases;
pub mod new;

/// clap's help goes to stdout (exit 0); its errors become one line (exit 64).
fn clap_error(e: clap::Error, help: &str) -> u8 {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return crate::outcome::exit::PASS;
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!(
        "labrun: {} (see {help})",
        line.trim_start_matches("error: ")
    );
    crate::outcome::exit::BAD_INPUT
}
