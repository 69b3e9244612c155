//! `parallax bench load`.

use crate::loadgen::load::{self, Kind, LoadOptions};
use std::{io::Write, time::Duration};

/// The command's arguments.
pub(crate) struct LoadArgs {
    pub(crate) rpcs: Vec<String>,
    pub(crate) tps: u64,
    pub(crate) duration: Duration,
    pub(crate) kind: Kind,
    pub(crate) senders: usize,
    pub(crate) connections: usize,
    pub(crate) drain: Duration,
}

/// Runs the load and writes its report.
pub(crate) fn load(args: LoadArgs, out: &mut impl Write) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let mut rpcs = Vec::with_capacity(args.rpcs.len());
        for url in &args.rpcs {
            rpcs.push(load::resolve(url).await?);
        }
        load::run(LoadOptions {
            rpcs,
            tps: args.tps,
            duration: args.duration,
            kind: args.kind,
            senders: args.senders,
            connections: args.connections,
            drain: args.drain,
        })
        .await
    })?;
    write!(out, "{report}")?;
    Ok(())
}
