//! `integrations`: the Integrations Management API server and its tools.

use clap::Parser as _;

/// The process's allocator: a request allocates and frees many small JSON
/// nodes on several threads, which glibc's allocator serves markedly slower
/// (docs/performance.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match integrations_server::run(integrations_server::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("integrations: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
