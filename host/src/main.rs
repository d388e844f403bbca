use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    ExitCode::from(labrun::cli::main(std::env::args_os().collect()).await)
}
