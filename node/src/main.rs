//! The `parallax` binary.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the node allocates from many threads at once (RPC handlers, executor workers,
/// networking), where glibc's allocator spends its time on arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = parallax_node::cli::Cli::parse();
    parallax_node::cli::init_tracing(cli.log_format);
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `a: b: c`, leaving out a cause whose text the message before
/// it already contains (our error types name their source in their own message).
fn describe(err: &eyre::Report) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}
