//! `integrations`: the Integrations Management API server and its tools.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    match integrations_server::run(integrations_server::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("integrations: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
