//! `parallax bench load`.

use eyre::WrapErr as _;
use parallax_loadgen::load::{self, Kind, LoadOptions};
use std::{io::Write, path::PathBuf, time::Duration};

/// The command's arguments.
pub(crate) struct LoadArgs {
    pub(crate) rpcs: Vec<String>,
    pub(crate) tps: u64,
    pub(crate) duration: Duration,
    pub(crate) kind: Kind,
    pub(crate) senders: usize,
    pub(crate) connections: usize,
    pub(crate) drain: Duration,
    pub(crate) record: Option<PathBuf>,
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
        // SIGINT or SIGTERM ends the load early; the drain and the report still follow.
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            // On stderr: the caller holds the stdout lock on another thread.
            eprintln!("signal received: ending the load, then draining");
            let _ = stop_tx.send(true);
        });
        load::run(LoadOptions {
            rpcs,
            tps: args.tps,
            duration: args.duration,
            kind: args.kind,
            senders: args.senders,
            connections: args.connections,
            drain: args.drain,
            stop,
        })
        .await
        .map_err(eyre::Report::from)
    })?;
    write!(out, "{report}")?;
    if let Some(path) = &args.record {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path).wrap_err_with(|| format!("creating {}", path.display()))?,
        );
        let committed = report.committed_transactions();
        for (hash, block) in &committed {
            writeln!(file, "{{\"hash\":\"{hash}\",\"block\":{block}}}")?;
        }
        file.flush()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        writeln!(
            out,
            "recorded {} committed transactions in {}",
            committed.len(),
            path.display()
        )?;
    }
    Ok(())
}
