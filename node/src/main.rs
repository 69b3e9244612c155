//! The `parallax` binary.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = parallax_node::cli::Cli::parse();
    parallax_node::cli::init_tracing();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
