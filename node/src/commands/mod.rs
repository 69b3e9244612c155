//! The commands' implementations. Each writes its report to the given writer so tests and
//! the binary share them.

pub(crate) mod admin;
pub(crate) mod bench;
pub(crate) mod genesis;
pub(crate) mod init;
pub(crate) mod keys;
pub(crate) mod run;

use crate::cli::{BenchCommand, Cli, Command, GenesisCommand, KeysCommand, LoadKind};

impl Cli {
    /// Runs the command.
    pub fn run(self) -> eyre::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.command {
            Command::Keys(KeysCommand::Generate {
                out: path,
                show_secret,
            }) => keys::generate(&path, show_secret, &mut out),
            Command::Keys(KeysCommand::Inspect { file, show_secret }) => {
                keys::inspect(&file, show_secret, &mut out)
            }
            Command::Genesis(GenesisCommand::Testnet {
                validators,
                full_nodes,
                out: dir,
                chain_id,
                base_port,
            }) => {
                let nodes = (validators, full_nodes);
                genesis::testnet(&dir, nodes, chain_id, base_port, &mut out)
            }
            Command::Genesis(GenesisCommand::Inspect { file }) => genesis::inspect(&file, &mut out),
            Command::Init { genesis, datadir } => init::init(&genesis, &datadir, &mut out),
            Command::Run(args) => {
                let a = *args;
                run::run(
                    &a.config,
                    run::Overrides {
                        name: a.name,
                        genesis: a.genesis,
                        datadir: a.datadir,
                        key_file: a.key_file,
                        listen_addr: a.listen_addr,
                        bootnodes: a.bootnodes,
                        rpc_addr: a.rpc_addr,
                        grpc_addr: a.grpc_addr,
                        metrics_addr: a.metrics_addr,
                        max_transactions: a.max_transactions,
                        max_per_sender: a.max_per_sender,
                        mempool_max_bytes: a.mempool_max_bytes,
                        executor_threads: a.executor_threads,
                    },
                )
            }
            Command::Dev {
                datadir,
                rpc_addr,
                grpc_addr,
                metrics_addr,
            } => run::dev(
                datadir,
                run::DevAddrs {
                    rpc: rpc_addr,
                    grpc: grpc_addr,
                    metrics: metrics_addr,
                },
                &mut out,
            ),
            Command::Admin { query, grpc } => admin::query(query, &grpc, &mut out),
            Command::Bench(BenchCommand::Load {
                rpcs,
                tps,
                duration,
                kind,
                senders,
                connections,
                drain,
                record,
            }) => bench::load(
                bench::LoadArgs {
                    rpcs,
                    tps,
                    duration: std::time::Duration::from_secs(duration),
                    kind: match kind {
                        LoadKind::Transfer => parallax_loadgen::load::Kind::Transfer,
                        LoadKind::Erc20 => parallax_loadgen::load::Kind::Erc20,
                    },
                    senders,
                    connections,
                    drain: std::time::Duration::from_secs(drain),
                    record,
                },
                &mut out,
            ),
        }
    }
}
