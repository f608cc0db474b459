//! `glyph-server`: parse the configuration, open storage, serve.

use std::process::ExitCode;

use clap::Parser;
use glyph_server::config::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_env("GLYPH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match glyph_server::app::run(config, |_| {}).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "glyph-server failed");
            eprintln!("glyph-server: {err}");
            ExitCode::FAILURE
        }
    }
}
