//! The node's long-running parts by name (the consensus driver's thread, the engine's tasks and
//! threads, the bridge's watcher and relayer) and their health. Each runs for as long as the
//! node does, so one that ends first (it panicked, stopped on an error, or what it reads from
//! went away) is a failure: [`Node::failure`](super::Node::failure) reports it and
//! `parallax run` exits on it; `Parts::health` says how every part is doing, for
//! [`Node::health`](crate::service::Node::health), the admin service's `GetStatus` and the
//! `parallax_node_part_up` metric ([`PartsCollector`]).

use parallax_engine::metrics::gauges;
use prometheus_client::{collector::Collector, encoding::DescriptorEncoder};
use std::{
    fmt,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
};
use tokio::task::JoinHandle;

/// How one part of a running node is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHealth {
    /// The part ("consensus driver", "block sync", …).
    pub part: &'static str,
    /// Whether it still runs.
    pub running: bool,
    /// The error it stopped on, when it reported one.
    pub error: Option<String>,
}

/// A part: a task or a thread of its own.
enum Handle {
    Task(JoinHandle<()>),
    /// `None` once taken to be joined.
    Thread(Option<std::thread::JoinHandle<()>>),
}

struct Part {
    name: &'static str,
    handle: Handle,
    /// Where the part records the error it stopped on, if it records one.
    error: Option<Arc<Mutex<Option<String>>>>,
}

impl Part {
    fn health(&self) -> PartHealth {
        let running = match &self.handle {
            Handle::Task(h) => !h.is_finished(),
            Handle::Thread(h) => h.as_ref().is_some_and(|h| !h.is_finished()),
        };
        PartHealth {
            part: self.name,
            running,
            error: self
                .error
                .as_ref()
                .and_then(|e| e.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        }
    }
}

/// The parts a node started, each under its name; clones share them (the metrics and the admin
/// service read their health).
#[derive(Clone, Default)]
pub(crate) struct Parts(Arc<Mutex<Vec<Part>>>);

impl Parts {
    fn lock(&self) -> MutexGuard<'_, Vec<Part>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, name: &'static str, handle: Handle, error: Option<Arc<Mutex<Option<String>>>>) {
        self.lock().push(Part {
            name,
            handle,
            error,
        });
    }

    /// Runs `part` as task `name` on the current runtime.
    pub(crate) fn spawn(
        &self,
        name: &'static str,
        part: impl Future<Output = ()> + Send + 'static,
    ) {
        self.add(name, Handle::Task(tokio::spawn(part)), None);
    }

    /// Keeps thread `name`, started by the caller, among the parts.
    pub(crate) fn thread(&self, name: &'static str, thread: std::thread::JoinHandle<()>) {
        self.add(name, Handle::Thread(Some(thread)), None);
    }

    /// Keeps thread `name` among the parts, with the slot where it records the error it stops
    /// on.
    pub(crate) fn thread_reporting(
        &self,
        name: &'static str,
        thread: std::thread::JoinHandle<()>,
        error: Arc<Mutex<Option<String>>>,
    ) {
        self.add(name, Handle::Thread(Some(thread)), Some(error));
    }

    /// Every part's health, in the order they started.
    pub(crate) fn health(&self) -> Vec<PartHealth> {
        self.lock().iter().map(Part::health).collect()
    }

    /// The first part that is no longer running.
    pub(crate) fn ended(&self) -> Option<PartHealth> {
        self.lock().iter().map(Part::health).find(|h| !h.running)
    }

    /// Takes thread `name` out to join it (it then counts as stopped).
    pub(crate) fn take_thread(&self, name: &'static str) -> Option<std::thread::JoinHandle<()>> {
        self.lock().iter_mut().find_map(|p| match &mut p.handle {
            Handle::Thread(h) if p.name == name => h.take(),
            _ => None,
        })
    }

    /// Stops every task (threads end when the queues they read close).
    pub(crate) fn abort(&self) {
        for part in self.lock().iter() {
            if let Handle::Task(task) = &part.handle {
                task.abort();
            }
        }
    }
}

/// `parallax_node_part_up{part}`: 1 while a part runs, 0 once it has stopped.
pub(crate) struct PartsCollector(pub(crate) Parts);

impl fmt::Debug for PartsCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartsCollector").finish_non_exhaustive()
    }
}

impl Collector for PartsCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let health = self.0.health();
        gauges(
            &mut e,
            "parallax_node_part_up",
            "Whether each long-running part of the node (consensus driver, gossip ingress, block \
             sync, transaction admission and gossip, the bridge's watcher and relayer) still runs: \
             1 running, 0 stopped (the node reports it and `parallax run` exits).",
            "part",
            health.iter().map(|h| (h.part, u64::from(h.running))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What [`Parts::ended`] says once something has ended (waiting at most 10 s for it).
    async fn first_ended(parts: &Parts) -> Option<PartHealth> {
        for _ in 0..1_000 {
            if let Some(health) = parts.ended() {
                return Some(health);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// A part that panics, or a thread whose queue closed, is named; running ones are not.
    #[tokio::test]
    async fn a_part_that_ends_is_named_and_running_ones_are_not() {
        let parts = Parts::default();
        parts.spawn("block sync", std::future::pending());
        let (queue, work) = std::sync::mpsc::channel::<()>();
        parts.thread(
            "transaction admission",
            std::thread::spawn(move || while work.recv().is_ok() {}),
        );
        tokio::task::yield_now().await;
        assert_eq!(parts.ended(), None);
        assert!(parts.health().iter().all(|h| h.running));

        parts.spawn("gossip ingress", async { panic!("a bug in a part") });
        let ended = first_ended(&parts).await.unwrap();
        assert_eq!((ended.part, ended.error), ("gossip ingress", None));
        let running: Vec<_> = parts
            .health()
            .into_iter()
            .map(|h| (h.part, h.running))
            .collect();
        assert_eq!(
            running,
            [
                ("block sync", true),
                ("transaction admission", true),
                ("gossip ingress", false)
            ]
        );

        let threads = Parts::default();
        let (_, work) = std::sync::mpsc::channel::<()>();
        threads.thread(
            "transaction admission",
            std::thread::spawn(move || while work.recv().is_ok() {}),
        );
        assert_eq!(
            first_ended(&threads).await.map(|h| h.part),
            Some("transaction admission")
        );
        parts.abort();
        drop(queue);
    }

    /// A thread that records why it stopped reports it; a thread taken to be joined counts
    /// as stopped.
    #[tokio::test]
    async fn a_reporting_thread_says_why_it_stopped() {
        let parts = Parts::default();
        let error = Arc::new(Mutex::new(None));
        let slot = error.clone();
        parts.thread_reporting(
            "consensus driver",
            std::thread::spawn(move || *slot.lock().unwrap() = Some("disk full".to_owned())),
            error,
        );
        let ended = first_ended(&parts).await.unwrap();
        assert_eq!(ended.error.as_deref(), Some("disk full"));

        let (_stop, work) = std::sync::mpsc::channel::<()>();
        let more = Parts::default();
        more.thread(
            "transaction admission",
            std::thread::spawn(move || while work.recv().is_ok() {}),
        );
        assert!(more.take_thread("transaction admission").is_some());
        assert!(more.take_thread("transaction admission").is_none());
        assert_eq!(more.ended().map(|h| h.part), Some("transaction admission"));
    }
}
