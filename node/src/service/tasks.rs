//! The node's long-running parts other than the driver thread, by name: each runs for as long
//! as the node does, so one that ends first (it panicked, or what it reads from went away) is
//! a failure the node reports ([`Node::failure`](super::Node::failure)) instead of running on
//! without it.

use std::future::Future;
use tokio::task::JoinHandle;

/// A part of the node: a task or a thread of its own.
enum Handle {
    Task(JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Handle {
    fn is_finished(&self) -> bool {
        match self {
            Self::Task(h) => h.is_finished(),
            Self::Thread(h) => h.is_finished(),
        }
    }
}

/// The parts a node started, each under its name.
#[derive(Default)]
pub(crate) struct Tasks(Vec<(&'static str, Handle)>);

impl Tasks {
    /// Runs `part` as task `name` on the current runtime.
    pub(crate) fn spawn(
        &mut self,
        name: &'static str,
        part: impl Future<Output = ()> + Send + 'static,
    ) {
        self.0.push((name, Handle::Task(tokio::spawn(part))));
    }

    /// Keeps thread `name`, started by the caller, among the parts.
    pub(crate) fn thread(&mut self, name: &'static str, thread: std::thread::JoinHandle<()>) {
        self.0.push((name, Handle::Thread(thread)));
    }

    /// The first part that is no longer running.
    pub(crate) fn ended(&self) -> Option<&'static str> {
        self.0
            .iter()
            .find(|(_, h)| h.is_finished())
            .map(|(name, _)| *name)
    }

    /// Stops every task (threads end when the queues they read close).
    pub(crate) fn abort(&self) {
        for (_, h) in &self.0 {
            if let Handle::Task(task) = h {
                task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What [`Tasks::ended`] says once something has ended (waiting at most 10 s for it).
    async fn first_ended(tasks: &Tasks) -> Option<&'static str> {
        for _ in 0..1_000 {
            if let Some(name) = tasks.ended() {
                return Some(name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// A part that panics, or a thread whose queue closed, is named; running ones are not.
    #[tokio::test]
    async fn a_part_that_ends_is_named_and_running_ones_are_not() {
        let mut tasks = Tasks::default();
        tasks.spawn("block sync", std::future::pending());
        let (queue, work) = std::sync::mpsc::channel::<()>();
        tasks.thread(
            "transaction admission",
            std::thread::spawn(move || while work.recv().is_ok() {}),
        );
        tokio::task::yield_now().await;
        assert_eq!(tasks.ended(), None);

        tasks.spawn("gossip ingress", async { panic!("a bug in a part") });
        assert_eq!(first_ended(&tasks).await, Some("gossip ingress"));

        let mut threads = Tasks::default();
        let (_, work) = std::sync::mpsc::channel::<()>();
        threads.thread(
            "transaction admission",
            std::thread::spawn(move || while work.recv().is_ok() {}),
        );
        assert_eq!(first_ended(&threads).await, Some("transaction admission"));
        tasks.abort();
        drop(queue);
    }
}
