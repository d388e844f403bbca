use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    ExitCode::from(labrun::run::main_with_args(std::env::args_os().collect()).await)
}
