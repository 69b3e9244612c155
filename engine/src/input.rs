//! What comes into the consensus driver's thread ([`Input`]), from gossip ingress, block
//! sync, transaction admission and the node's stop, through one bounded queue.

use libp2p::PeerId;
use parallax_consensus::Message;
use parallax_network::{self as network, wire};
use std::{
    sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    time::Duration,
};
use tokio::sync::oneshot;

/// Capacity of the driver's input queue.
pub const INPUT_CAPACITY: usize = 8_192;

/// What comes into the driver thread.
pub enum Input {
    /// A consensus message for this node.
    Consensus {
        /// The validator it is attributed to.
        from: u32,
        /// The gossip message to report a verdict for.
        gossip: Option<(network::MessageId, PeerId)>,
        /// The message.
        message: Box<Message>,
    },
    /// A transaction entered the mempool.
    TxArrived,
    /// Blocks answering a fetch.
    Fetched(Vec<parallax_consensus::Block>),
    /// Committed blocks block sync verified.
    Synced {
        /// The blocks, in height order.
        blocks: Vec<wire::CommittedBlock>,
        /// How many were new, or why importing failed.
        done: oneshot::Sender<Result<u64, String>>,
    },
    /// The network connected (or reconnected) to this validator.
    PeerConnected(u32),
    /// Stop.
    Shutdown,
}

/// The driver's input queue: the sending side every part holds, the receiving side the
/// driver runs on.
pub fn input_queue() -> (SyncSender<Input>, Receiver<Input>) {
    sync_channel(INPUT_CAPACITY)
}

/// Tells the driver to stop. A full input queue (a flood of gossip the driver is still
/// working through) delays the stop, never loses it: the driver drains its queue, so there is
/// room again soon. Returns whether the driver has it (or has already stopped); `false` only
/// when the queue stayed full for `deadline`.
pub async fn send_shutdown(inputs: &SyncSender<Input>, deadline: Duration) -> bool {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match inputs.try_send(Input::Shutdown) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => return true,
            Err(TrySendError::Full(_)) => {
                if tokio::time::Instant::now() >= until {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stop sent while the driver's queue is full waits for room instead of being lost.
    #[tokio::test]
    async fn a_stop_sent_to_a_full_queue_waits_for_room() {
        let (inputs, queue) = sync_channel(1);
        inputs.try_send(Input::TxArrived).unwrap();
        let driver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let mut seen = Vec::new();
            while let Ok(input) = queue.recv() {
                let stop = matches!(input, Input::Shutdown);
                seen.push(stop);
                if stop {
                    break;
                }
            }
            seen
        });
        assert!(send_shutdown(&inputs, Duration::from_secs(5)).await);
        assert_eq!(
            driver.join().unwrap(),
            [false, true],
            "the stop came after the backlog"
        );
    }

    /// A queue nobody drains: the stop gives up at its deadline rather than hang.
    #[tokio::test]
    async fn a_stop_to_a_queue_that_stays_full_gives_up_at_the_deadline() {
        let (inputs, _queue) = sync_channel(1);
        inputs.try_send(Input::TxArrived).unwrap();
        assert!(!send_shutdown(&inputs, Duration::from_millis(50)).await);
    }

    /// A driver that already stopped has nothing to be told.
    #[tokio::test]
    async fn a_stop_to_a_stopped_driver_is_done() {
        let (inputs, queue) = sync_channel::<Input>(1);
        drop(queue);
        assert!(send_shutdown(&inputs, Duration::from_millis(50)).await);
    }
}
