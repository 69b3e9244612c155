//! `simulate`: runs the consensus simulator over many seeds and checks its properties.
//!
//! For each seed it runs the configured faulty scenario, a fault-free run (where every
//! round must commit a block), and a run in which the next leader crashes (the next block
//! must be certified within two rounds and within the two timeouts the nodes waited plus
//! message delays: `parallax_consensus_sim::leader_crash_bar_ms`). It prints commits per round, rounds to
//! resume commits after the faults, rounds and milliseconds from a leader crash to the next
//! QC against that bar, and messages per committed block, and exits non-zero on any property
//! violation, naming the failing seeds and the command that reproduces the first.

use clap::Parser;
use eyre::{Result, bail};
use parallax_consensus::Reputation;
use parallax_consensus_sim::{Adversary, NetworkConfig, SimConfig, SimReport, run};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// The faulty run's defaults, read from [`SimConfig::sweep`] (the seed, validators and
/// adversary do not affect them).
fn defaults() -> SimConfig {
    SimConfig::sweep(0, 4, 1, Adversary::Crash)
}

#[derive(Parser, Debug)]
#[command(about = "Attack the Parallax consensus state machine in simulation")]
struct Args {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Number of Byzantine validators.
    #[arg(long, default_value_t = 1)]
    byzantine: usize,
    /// What they do: twins, garbage, crash; by default each seed picks one in turn.
    #[arg(long)]
    adversary: Option<Adversary>,
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Message loss probability (whole run).
    #[arg(long, default_value_t = defaults().network.loss)]
    loss: f64,
    /// Message duplication probability (whole run).
    #[arg(long, default_value_t = defaults().network.duplicate)]
    duplicate: f64,
    /// Smallest one-way latency, ms.
    #[arg(long, default_value_t = defaults().network.min_latency_ms)]
    min_latency: u64,
    /// Largest one-way latency, ms.
    #[arg(long, default_value_t = defaults().network.max_latency_ms)]
    max_latency: u64,
    /// Partitions (each starts and heals) during the fault phase.
    #[arg(long, default_value_t = defaults().partitions)]
    partitions: usize,
    /// Crash-and-restart of honest validators during the fault phase.
    #[arg(long, default_value_t = defaults().crashes)]
    crashes: usize,
    /// Length of the fault phase, ms of virtual time.
    #[arg(long, default_value_t = defaults().fault_phase_ms)]
    fault_ms: u64,
    /// Blocks every honest node must commit after the faults stop.
    #[arg(long, default_value_t = defaults().commits_after_faults)]
    commits: u64,
    /// Rounds after the faults within which commits must resume.
    #[arg(long, default_value_t = defaults().liveness_rounds)]
    liveness_rounds: u64,
    /// Voting power of each validator, comma-separated (default: 1 each).
    #[arg(long, value_delimiter = ',')]
    powers: Vec<u64>,
    /// One validator whose messages take longer during the faults: `VALIDATOR:MS`.
    #[arg(long, value_parser = parse_slow)]
    slow_validator: Option<(u32, u64)>,
    /// Honest validators' clocks run fast or slow by up to this percentage each.
    #[arg(long, default_value_t = 0)]
    clock_skew: u64,
    /// Leader reputation window in committed blocks (0: the plain weighted rotation).
    #[arg(long, default_value_t = Reputation::default().window)]
    reputation_window: usize,
    /// Skip the per-seed leader-crash measurement run.
    #[arg(long)]
    no_leader_crash: bool,
    /// Print the event log of each seed's runs (use with `--seeds 1`).
    #[arg(long)]
    log: bool,
    /// Worker threads (each seed's runs are independent and deterministic).
    #[arg(long, default_value_t = 2)]
    jobs: u64,
}

struct Stats {
    name: &'static str,
    runs: u64,
    commits_per_round: f64,
    messages_per_block: f64,
    recovery: Vec<u64>,
    evidence: u64,
}

impl Stats {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            runs: 0,
            commits_per_round: 0.0,
            messages_per_block: 0.0,
            recovery: Vec::new(),
            evidence: 0,
        }
    }

    fn add(&mut self, r: &SimReport, recovery: Option<u64>) {
        self.runs += 1;
        self.commits_per_round += r.commits_per_round();
        self.messages_per_block += r.messages_per_block();
        self.recovery.extend(recovery);
        self.evidence += r.evidence;
    }

    fn print(&self, what: &str) {
        let n = self.runs.max(1) as f64;
        let mut rec = self.recovery.clone();
        rec.sort_unstable();
        let pct = |p: f64| rec.get(((rec.len() as f64 - 1.0) * p) as usize).copied();
        if rec.is_empty() {
            println!(
                "{:<12} runs {:>6}  commits/round {:.3}  msgs/block {:>6.1}  {what}",
                self.name,
                self.runs,
                self.commits_per_round / n,
                self.messages_per_block / n,
            );
            return;
        }
        println!(
            "{:<12} runs {:>6}  commits/round {:.3}  msgs/block {:>6.1}  {what}: mean {:.2} p50 {:?} p99 {:?} max {:?}  evidence {}",
            self.name,
            self.runs,
            self.commits_per_round / n,
            self.messages_per_block / n,
            rec.iter().sum::<u64>() as f64 / rec.len().max(1) as f64,
            pct(0.5),
            pct(0.99),
            rec.last(),
            self.evidence,
        );
    }
}

fn guarded(cfg: SimConfig) -> std::result::Result<SimReport, String> {
    catch_unwind(AssertUnwindSafe(|| run(cfg))).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// The three runs of one seed.
struct Outcome {
    seed: u64,
    adversary: Adversary,
    faulty: std::result::Result<SimReport, String>,
    clean: std::result::Result<SimReport, String>,
    leader_crash: Option<std::result::Result<SimReport, String>>,
}

fn run_seed(args: &Args, network: &NetworkConfig, seed: u64) -> Outcome {
    let adversaries = [Adversary::Twins, Adversary::Garbage, Adversary::Crash];
    let adversary = args
        .adversary
        .unwrap_or(adversaries[(seed % adversaries.len() as u64) as usize]);
    let reputation = Reputation {
        window: args.reputation_window,
        ..Reputation::default()
    };
    let quiet = NetworkConfig {
        loss: 0.0,
        duplicate: 0.0,
        ..network.clone()
    };
    let faulty = guarded(SimConfig {
        network: network.clone(),
        partitions: args.partitions,
        crashes: args.crashes,
        fault_phase_ms: args.fault_ms,
        commits_after_faults: args.commits,
        liveness_rounds: args.liveness_rounds,
        log: args.log,
        reputation,
        powers: args.powers.clone(),
        slow_validator: args.slow_validator,
        clock_skew_percent: args.clock_skew,
        ..SimConfig::sweep(seed, args.validators, args.byzantine, adversary)
    });
    // The no-fault bar: every round commits a block.
    let clean = guarded(SimConfig {
        validators: args.validators,
        network: quiet.clone(),
        log: args.log,
        reputation,
        ..SimConfig::fault_free(seed)
    });
    let leader_crash = (!args.no_leader_crash).then(|| {
        guarded(SimConfig {
            validators: args.validators,
            network: quiet,
            leader_crash: true,
            commits_after_faults: 10,
            expect_every_round_commits: false,
            log: args.log,
            reputation,
            ..SimConfig::fault_free(seed)
        })
    });
    Outcome {
        seed,
        adversary,
        faulty,
        clean,
        leader_crash,
    }
}

fn parse_slow(s: &str) -> std::result::Result<(u32, u64), String> {
    let (v, ms) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected VALIDATOR:MS"))?;
    Ok((
        v.parse().map_err(|e| format!("{v:?}: {e}"))?,
        ms.parse().map_err(|e| format!("{ms:?}: {e}"))?,
    ))
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.validators == 0 {
        bail!("--validators must be at least 1");
    }
    let f = (args.validators - 1) / 3;
    if args.byzantine > f {
        println!(
            "warning: {} Byzantine of {} exceeds f = {f}; liveness is not expected, safety still is",
            args.byzantine, args.validators
        );
    }
    let network = NetworkConfig {
        min_latency_ms: args.min_latency,
        max_latency_ms: args.max_latency,
        loss: args.loss,
        duplicate: args.duplicate,
    };
    let started = Instant::now();
    let mut faulty = Stats::new("faulty");
    let mut clean = Stats::new("fault-free");
    let mut crash = Stats::new("leader-crash");
    let mut crash_ms: Vec<u64> = Vec::new();
    let mut crash_margin: Vec<u64> = Vec::new();
    let mut crash_waited: Vec<u64> = Vec::new();
    let mut failures: Vec<(u64, String)> = Vec::new();
    let base = SimConfig::fault_free(0).timing.base_timeout;
    let jobs = args.jobs.max(1);
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|k| {
                let (args, network) = (&args, &network);
                scope.spawn(move || {
                    (args.first_seed + k..args.first_seed + args.seeds)
                        .step_by(jobs as usize)
                        .map(|seed| run_seed(args, network, seed))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Outcome> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|o| o.seed);
        all
    });
    if outcomes.len() as u64 != args.seeds {
        bail!("a worker thread died");
    }
    for o in outcomes {
        let seed = o.seed;
        let adversary = o.adversary;
        let runs = [
            ("faulty", Some(&o.faulty)),
            ("fault-free", Some(&o.clean)),
            ("leader-crash", o.leader_crash.as_ref()),
        ];
        for (name, run) in runs {
            if let Some(Ok(r)) = run {
                for line in &r.log {
                    println!("seed {seed} {name} {line}");
                }
            }
        }
        match o.faulty {
            Ok(r) if r.passed() => faulty.add(&r, r.recovery_rounds),
            Ok(r) => failures.push((seed, format!("{adversary:?}: {r}"))),
            Err(p) => failures.push((seed, format!("{adversary:?}: panic: {p}"))),
        }
        match o.clean {
            Ok(r) if r.passed() => clean.add(&r, None),
            Ok(r) => failures.push((seed, format!("fault-free: {r}"))),
            Err(p) => failures.push((seed, format!("fault-free: panic: {p}"))),
        }
        match o.leader_crash {
            None => {}
            Some(Ok(r)) if r.passed() => {
                // The run itself fails unless the next QC came within two rounds and within
                // the bar (its two timeouts plus message delays).
                let ms = r.leader_crash_ms.unwrap_or(u64::MAX);
                let bar = r.leader_crash_bar_ms.unwrap_or(0);
                let [a, b] = r.leader_crash_timeouts_ms.unwrap_or([0; 2]);
                crash_ms.push(ms);
                crash_margin.push(bar.saturating_sub(ms));
                crash_waited.push(a + b);
                crash.add(&r, r.leader_crash_rounds);
            }
            Some(Ok(r)) => failures.push((seed, format!("leader crash: {r}"))),
            Some(Err(p)) => failures.push((seed, format!("leader crash: panic: {p}"))),
        }
    }
    println!(
        "{} seeds, {} validators, {} Byzantine ({}), loss {}, duplicate {}, {} partitions, {} crashes, in {:.1?}",
        args.seeds,
        args.validators,
        args.byzantine,
        args.adversary
            .map_or("twins/garbage/crash by seed".to_string(), |a| format!(
                "{a:?}"
            )),
        args.loss,
        args.duplicate,
        args.partitions,
        args.crashes,
        started.elapsed()
    );
    clean.print("(every run: each round committed a block)");
    faulty.print("rounds to resume commits after faults");
    if !args.no_leader_crash && !crash_ms.is_empty() {
        crash.print("rounds from crash to next QC");
        let stats = |v: &mut Vec<u64>| {
            v.sort_unstable();
            let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
            let p99 = v
                .get((v.len().saturating_sub(1)) * 99 / 100)
                .copied()
                .unwrap_or(0);
            (
                mean,
                v.first().copied().unwrap_or(0),
                p99,
                v.last().copied().unwrap_or(0),
            )
        };
        let (mean, _, p99, max) = stats(&mut crash_ms);
        let (_, wmin, _, wmax) = stats(&mut crash_waited);
        let (_, margin, _, _) = stats(&mut crash_margin);
        println!(
            "leader-crash ms from crash to next QC: mean {mean:.0} p99 {p99} max {max}; the two \
             timeouts waited sum to {wmin}..{wmax} ms (base {base:?}); bar = those two timeouts \
             + 5 x {} ms delays + 15 ms: smallest margin under the bar {margin} ms",
            args.max_latency
        );
    }
    if failures.is_empty() {
        println!("all properties held");
        return Ok(());
    }
    for (seed, what) in failures.iter().take(20) {
        println!("FAILED seed {seed}: {what}");
    }
    let (seed, _) = &failures[0];
    let adversary = match args.adversary {
        Some(Adversary::Twins) => " --adversary twins",
        Some(Adversary::Garbage) => " --adversary garbage",
        Some(Adversary::Crash) => " --adversary crash",
        None => "",
    };
    let mut extra = String::new();
    if !args.powers.is_empty() {
        let powers: Vec<String> = args.powers.iter().map(u64::to_string).collect();
        extra += &format!(" --powers {}", powers.join(","));
    }
    if let Some((v, ms)) = args.slow_validator {
        extra += &format!(" --slow-validator {v}:{ms}");
    }
    if args.clock_skew > 0 {
        extra += &format!(" --clock-skew {}", args.clock_skew);
    }
    println!(
        "reproduce: cargo run --release -p parallax-consensus-sim --bin simulate -- --validators {} \
         --byzantine {}{adversary} --loss {} --duplicate {} --min-latency {} --max-latency {} \
         --partitions {} --crashes {} --fault-ms {} --commits {} --liveness-rounds {} \
         --reputation-window {}{extra} --first-seed {seed} --seeds 1 (add --log for the event log)",
        args.validators,
        args.byzantine,
        args.loss,
        args.duplicate,
        args.min_latency,
        args.max_latency,
        args.partitions,
        args.crashes,
        args.fault_ms,
        args.commits,
        args.liveness_rounds,
        args.reputation_window,
    );
    bail!("{} seeds violated a property", failures.len())
}
