//! `replay`: executes real Ethereum blocks (fixture files) with both executors and checks
//! them against what mainnet recorded and against each other.
//!
//! ```text
//! replay [--threads N] [--runs K] PATH...
//! ```
//!
//! Each PATH is a fixture file or a folder of them. One line per block:
//! `block <number> <spec> txs=<n> gas=<gas> seq_ms=<t> par_ms=<t> speedup=<x> ok`, or the
//! same line ending in `MISMATCH <field> expected=<v> got=<v>`. The parallel executor runs
//! K times (default 1) and every run must agree; `par_ms` is the median. Exits 1 if any
//! block mismatches or any file cannot be read, 2 on bad arguments.

use parallax_execution::{
    BlockExecutor, ParallelExecutor, SequentialExecutor,
    fixture::{self, check_equal, check_expected},
};
use std::{path::PathBuf, process::ExitCode, time::Instant};

const USAGE: &str = "usage: replay [--threads N] [--runs K] PATH...";

struct Args {
    threads: usize,
    runs: usize,
    paths: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = 1;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" | "-t" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--threads takes a positive number")?;
            }
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs takes a positive number")?;
            }
            "--help" | "-h" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path => paths.push(PathBuf::from(path)),
        }
    }
    if paths.is_empty() {
        return Err("no fixture path given".into());
    }
    Ok(Args {
        threads,
        runs,
        paths,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let mut failed = false;
    let mut files = Vec::new();
    for path in &args.paths {
        match fixture::collect(std::slice::from_ref(path)) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    let parallel = ParallelExecutor::new(args.threads);
    let (mut blocks, mut mismatched) = (0, 0);
    for file in files {
        let fixture = match fixture::load(&file, args.threads) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        blocks += 1;
        let head = format!(
            "block {} {} txs={}",
            fixture.block.env.number,
            fixture::spec_name(fixture.block.rules.spec),
            fixture.block.transactions.len()
        );
        let started = Instant::now();
        let sequential = SequentialExecutor.execute(&fixture.block, &fixture.state);
        let seq_ms = started.elapsed().as_secs_f64() * 1e3;
        let sequential = match sequential {
            Ok(out) => out,
            Err(e) => {
                println!("{head} MISMATCH execution expected=ok got=\"{e}\"");
                failed = true;
                mismatched += 1;
                continue;
            }
        };
        let mut problems = Vec::new();
        if let Some(expected) = &fixture.expected {
            problems.extend(
                check_expected(expected, &sequential)
                    .into_iter()
                    .map(|mut m| {
                        m.field = format!("sequential.{}", m.field);
                        m
                    }),
            );
        }
        let mut times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let started = Instant::now();
            let result = parallel.execute(&fixture.block, &fixture.state);
            times.push(started.elapsed().as_secs_f64() * 1e3);
            match result {
                Ok(out) => {
                    if let Some(expected) = &fixture.expected {
                        problems.extend(check_expected(expected, &out).into_iter().map(|mut m| {
                            m.field = format!("parallel.{}", m.field);
                            m
                        }));
                    }
                    problems.extend(check_equal(&sequential, &out));
                }
                Err(e) => problems.push(fixture::Mismatch {
                    field: "parallel.execution".into(),
                    expected: "ok".into(),
                    got: format!("\"{e}\""),
                }),
            }
            if !problems.is_empty() {
                break;
            }
        }
        times.sort_by(f64::total_cmp);
        let par_ms = times[times.len() / 2];
        let line = format!(
            "{head} gas={} seq_ms={seq_ms:.2} par_ms={par_ms:.2} speedup={:.2}",
            sequential.gas_used,
            seq_ms / par_ms
        );
        match problems.first() {
            None => println!("{line} ok"),
            Some(m) => {
                println!("{line} {m}");
                failed = true;
                mismatched += 1;
            }
        }
    }
    eprintln!(
        "{blocks} blocks, {mismatched} mismatched, threads={}, runs={}",
        args.threads, args.runs
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
