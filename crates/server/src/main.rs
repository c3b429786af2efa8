//! `sightline` — the server binary. `sightline serve --demo` is all a new user needs.

use clap::Parser;
use sightline_server::config::Cli;

fn main() -> anyhow::Result<()> {
    // Before the runtime's threads fault in any memory (crate::allocator says why).
    let huge_pages = sightline_server::allocator::no_transparent_huge_pages();
    let cli = Cli::parse();
    sightline_server::telemetry::init(&cli.log);
    if let Err(e) = huge_pages {
        tracing::warn!(error = %e, "cannot turn transparent huge pages off for the process: memory use may be higher");
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(sightline_server::run(cli))
}
