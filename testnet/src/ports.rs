//! Which 127.0.0.1 ports are free, and a base port under which every node's ports are.
//!
//! A generated testnet gives node `i` the ports `base + 10 i` (p2p), `+ 1` (JSON-RPC),
//! `+ 2` (gRPC) and `+ 3` (metrics).

use crate::TestnetError;
use std::net::TcpListener;

/// Ports between two nodes' first ports.
pub const PORTS_PER_NODE: u16 = 10;

/// The offsets of a node's ports from its first port, and what each is for.
pub const NODE_PORTS: [(u16, &str); 4] = [(0, "p2p"), (1, "JSON-RPC"), (2, "gRPC"), (3, "metrics")];

/// Whether a TCP listener can bind `127.0.0.1:port` right now.
pub fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The ports `nodes` nodes take from `base`.
pub fn node_ports(base: u16, nodes: usize) -> impl Iterator<Item = u16> {
    (0..nodes).flat_map(move |i| {
        NODE_PORTS
            .iter()
            .map(move |(offset, _)| base + PORTS_PER_NODE * i as u16 + offset)
    })
}

/// The first base port from `from` on (in steps of 100) whose `nodes` nodes' ports can all be
/// bound on 127.0.0.1. Each is checked by binding it; all are held until the range is known
/// good, so one range is never reported free because of its own listeners.
pub fn find_base(from: u16, nodes: usize) -> Result<u16, TestnetError> {
    let span = u32::from(PORTS_PER_NODE) * nodes as u32;
    let mut base = u32::from(from.max(1024));
    while base + span <= u32::from(u16::MAX) {
        let b = base as u16;
        let held: Result<Vec<TcpListener>, _> = node_ports(b, nodes)
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.is_ok() {
            return Ok(b);
        }
        base += 100;
    }
    Err(TestnetError::NoFreePorts { from, needed: span })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_moves_the_base_on() {
        let base = find_base(40_000, 2).unwrap();
        assert!(node_ports(base, 2).all(is_free));
        // Take node 1's RPC port: that base no longer fits.
        let _taken = TcpListener::bind(("127.0.0.1", base + 11)).unwrap();
        assert!(!is_free(base + 11));
        let next = find_base(base, 2).unwrap();
        assert!(next > base);
        assert!(node_ports(next, 2).all(|p| p != base + 11));
    }

    #[test]
    fn node_ports_follow_the_generated_layout() {
        let ports: Vec<u16> = node_ports(26_000, 2).collect();
        assert_eq!(
            ports,
            [
                26_000, 26_001, 26_002, 26_003, 26_010, 26_011, 26_012, 26_013
            ]
        );
    }
}
