//! The root of an ordered trie (receipts, transactions: keys `rlp(index)`, values the
//! items' EIP-2718 encodings) computed with the subtries of large branches hashed in parallel
//! on the executor's pool. Equal to alloy's `ordered_trie_root` for every input (tested).
//!
//! The keys' order is known without sorting (`rlp(1..=127)`, `rlp(0)`, then the rest in
//! numeric order), keys live inline, values are encoded straight into a per-thread buffer
//! where their leaf is built, and branch and extension nodes are built on the stack: the
//! only work that grows with the trie is encoding and hashing.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Encodable, Header};
use rayon::prelude::*;
use std::cell::RefCell;

/// Subtries with fewer leaves than this are hashed on the current thread.
const PARALLEL_MIN: usize = 64;

/// The most nibbles an `rlp(index)` key has (a `u64` index: nine bytes).
const MAX_NIBBLES: usize = 18;

/// A leaf's key as nibbles, and the index of its item.
#[derive(Clone, Copy)]
struct Key {
    nibbles: [u8; MAX_NIBBLES],
    len: u8,
    index: usize,
}

impl Key {
    fn new(index: usize) -> Self {
        let mut bytes = [0u8; 9];
        let mut rlp = &mut bytes[..];
        index.encode(&mut rlp);
        let len = 9 - rlp.len();
        let mut nibbles = [0u8; MAX_NIBBLES];
        for (i, b) in bytes[..len].iter().enumerate() {
            nibbles[2 * i] = b >> 4;
            nibbles[2 * i + 1] = b & 0x0f;
        }
        Self {
            nibbles,
            len: (2 * len) as u8,
            index,
        }
    }

    fn nibbles(&self) -> &[u8] {
        &self.nibbles[..usize::from(self.len)]
    }
}

/// How a parent refers to a child node: its RLP when shorter than 32 bytes, otherwise the
/// RLP string of its hash.
#[derive(Clone, Copy)]
struct Ref {
    bytes: [u8; 33],
    len: u8,
}

impl Ref {
    fn of(rlp: &[u8]) -> Self {
        let mut bytes = [0u8; 33];
        if rlp.len() < 32 {
            bytes[..rlp.len()].copy_from_slice(rlp);
            Self {
                bytes,
                len: rlp.len() as u8,
            }
        } else {
            bytes[0] = alloy_rlp::EMPTY_STRING_CODE + 32;
            bytes[1..].copy_from_slice(keccak256(rlp).as_slice());
            Self { bytes, len: 33 }
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

thread_local! {
    /// Scratch buffers for a leaf: its value's encoding and its RLP.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The root of the trie mapping `rlp(i)` to `values[i]`.
#[cfg(test)]
fn ordered_root(values: Vec<Vec<u8>>) -> B256 {
    ordered_root_with(values.len(), |i, out| out.extend_from_slice(&values[i]))
}

/// The root of the trie mapping `rlp(i)` to the bytes `encode(i, buffer)` appends, for
/// `i < len`. Items are encoded where their leaf is hashed, on the pool's threads.
pub(super) fn ordered_root_with(len: usize, encode: impl Fn(usize, &mut Vec<u8>) + Sync) -> B256 {
    if len == 0 {
        return alloy_trie::EMPTY_ROOT_HASH;
    }
    // Lexicographic order of rlp(i): single bytes 0x01..=0x7f (i = 1..=127), then 0x80
    // (i = 0), then longer encodings, whose order is numeric.
    let order = (1..len.min(128)).chain(0..1).chain(128..len);
    let keys: Vec<Key> = order.map(Key::new).collect();
    let mut root = Vec::new();
    node(&keys, 0, &encode, &mut root);
    keccak256(&root)
}

/// Writes into `out` the RLP of the node holding `keys` (sorted, sharing their first
/// `depth` nibbles).
fn node(
    keys: &[Key],
    depth: usize,
    encode: &(impl Fn(usize, &mut Vec<u8>) + Sync),
    out: &mut Vec<u8>,
) {
    if let [key] = keys {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let (value, _) = &mut *scratch;
            value.clear();
            encode(key.index, value);
            let path = hex_prefix(&key.nibbles()[depth..], true);
            let payload = path.rlp_len() + value.as_slice().length();
            Header {
                list: true,
                payload_length: payload,
            }
            .encode(out);
            path.encode(out);
            value.as_slice().encode(out);
        });
        return;
    }
    let first = keys[0].nibbles();
    let last = keys[keys.len() - 1].nibbles();
    let common = first[depth..]
        .iter()
        .zip(&last[depth..])
        .take_while(|(a, b)| a == b)
        .count();
    if common > 0 {
        let child = child_ref(keys, depth + common, encode);
        let path = hex_prefix(&first[depth..depth + common], false);
        Header {
            list: true,
            payload_length: path.rlp_len() + child.as_slice().len(),
        }
        .encode(out);
        path.encode(out);
        out.extend_from_slice(child.as_slice());
        return;
    }
    // A branch: group by the nibble at `depth` (RLP keys are prefix-free, so no key ends
    // here and the branch's value is empty).
    let mut groups: Vec<(u8, &[Key])> = Vec::with_capacity(16);
    let mut start = 0;
    while start < keys.len() {
        let nibble = keys[start].nibbles()[depth];
        let end = start + keys[start..].partition_point(|k| k.nibbles()[depth] == nibble);
        groups.push((nibble, &keys[start..end]));
        start = end;
    }
    let children: Vec<Ref> = if keys.len() >= PARALLEL_MIN {
        groups
            .par_iter()
            .map(|(_, group)| child_ref(group, depth + 1, encode))
            .collect()
    } else {
        groups
            .iter()
            .map(|(_, group)| child_ref(group, depth + 1, encode))
            .collect()
    };
    let mut items: [&[u8]; 16] = [&[alloy_rlp::EMPTY_STRING_CODE]; 16];
    for ((nibble, _), child) in groups.iter().zip(&children) {
        items[usize::from(*nibble)] = child.as_slice();
    }
    let payload = items.iter().map(|i| i.len()).sum::<usize>() + 1;
    Header {
        list: true,
        payload_length: payload,
    }
    .encode(out);
    for item in items {
        out.extend_from_slice(item);
    }
    out.push(alloy_rlp::EMPTY_STRING_CODE);
}

/// The reference to the node holding `keys`, built in a buffer of its own.
fn child_ref(keys: &[Key], depth: usize, encode: &(impl Fn(usize, &mut Vec<u8>) + Sync)) -> Ref {
    if keys.len() == 1 {
        // Leaves are built in the thread's scratch buffer.
        let mut rlp = SCRATCH.with(|scratch| std::mem::take(&mut scratch.borrow_mut().1));
        rlp.clear();
        node(keys, depth, encode, &mut rlp);
        let r = Ref::of(&rlp);
        SCRATCH.with(|scratch| scratch.borrow_mut().1 = rlp);
        r
    } else {
        let mut rlp = Vec::with_capacity(560);
        node(keys, depth, encode, &mut rlp);
        Ref::of(&rlp)
    }
}

/// The compact (hex-prefix) encoding of a nibble path, as a byte string.
fn hex_prefix(nibbles: &[u8], leaf: bool) -> HexPrefix {
    let flag = if leaf { 2 } else { 0 };
    let mut bytes = [0u8; MAX_NIBBLES / 2 + 1];
    let mut len = 0;
    let rest = if nibbles.len() % 2 == 1 {
        bytes[0] = ((flag + 1) << 4) | nibbles[0];
        &nibbles[1..]
    } else {
        bytes[0] = flag << 4;
        nibbles
    };
    len += 1;
    for pair in rest.chunks(2) {
        bytes[len] = (pair[0] << 4) | pair[1];
        len += 1;
    }
    HexPrefix { bytes, len }
}

/// A hex-prefix encoded path.
struct HexPrefix {
    bytes: [u8; MAX_NIBBLES / 2 + 1],
    len: usize,
}

impl HexPrefix {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn rlp_len(&self) -> usize {
        self.as_slice().length()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_root(values: &[Vec<u8>]) -> B256 {
        alloy_trie::root::ordered_trie_root_with_encoder(values, |v, buf| buf.extend_from_slice(v))
    }

    proptest! {
        #[test]
        fn equals_alloys_ordered_root(
            values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..700)
        ) {
            prop_assert_eq!(ordered_root(values.clone()), reference_root(&values));
        }
    }

    #[test]
    fn equals_alloys_ordered_root_on_large_tries() {
        for n in [1, 2, 127, 128, 129, 255, 256, 257, 4_000, 70_000] {
            let values: Vec<Vec<u8>> = (0..n)
                .map(|i: usize| (i as u64).to_be_bytes().repeat(1 + i % 40))
                .collect();
            assert_eq!(
                ordered_root(values.clone()),
                reference_root(&values),
                "n = {n}"
            );
        }
    }
}
