//! `sightline` — the server binary. `sightline serve --demo` is all a new user needs.

use clap::Parser;
use sightline_server::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    sightline_server::telemetry::init(&cli.log);
    sightline_server::run(cli).await
}
