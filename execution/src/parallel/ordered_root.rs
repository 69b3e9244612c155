//! The root of an ordered trie (receipts, transactions: keys `rlp(index)`, values the
//! items' EIP-2718 encodings) computed with the subtries of large branches hashed in parallel
//! on the executor's pool. Equal to alloy's `ordered_trie_root` for every input (tested).

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Encodable, Header};

/// Subtries with fewer leaves than this are hashed on the current thread.
const PARALLEL_MIN: usize = 64;

/// A leaf: its key as nibbles and its value.
struct Leaf {
    key: Vec<u8>,
    value: Vec<u8>,
}

/// The root of the trie mapping `rlp(i)` to `values[i]`.
pub(super) fn ordered_root(values: Vec<Vec<u8>>) -> B256 {
    if values.is_empty() {
        return alloy_trie::EMPTY_ROOT_HASH;
    }
    let mut leaves: Vec<Leaf> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let mut key = Vec::with_capacity(4);
            i.encode(&mut key);
            Leaf {
                key: key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect(),
                value,
            }
        })
        .collect();
    leaves.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    keccak256(node(&leaves, 0))
}

/// The RLP of the node holding `leaves` (sorted, sharing their first `depth` nibbles).
fn node(leaves: &[Leaf], depth: usize) -> Vec<u8> {
    if let [leaf] = leaves {
        return list(&[
            string(&hex_prefix(&leaf.key[depth..], true)),
            string(&leaf.value),
        ]);
    }
    let first = &leaves[0].key;
    let last = &leaves[leaves.len() - 1].key;
    let common = first[depth..]
        .iter()
        .zip(&last[depth..])
        .take_while(|(a, b)| a == b)
        .count();
    if common > 0 {
        let child = node(leaves, depth + common);
        return list(&[
            string(&hex_prefix(&first[depth..depth + common], false)),
            reference(child),
        ]);
    }
    // A branch: group by the nibble at `depth` (RLP keys are prefix-free, so no leaf ends
    // here and the branch's value is empty).
    let mut groups: Vec<(u8, &[Leaf])> = Vec::with_capacity(16);
    let mut start = 0;
    while start < leaves.len() {
        let nibble = leaves[start].key[depth];
        let end = start + leaves[start..].partition_point(|l| l.key[depth] == nibble);
        groups.push((nibble, &leaves[start..end]));
        start = end;
    }
    let children: Vec<Vec<u8>> = if leaves.len() >= PARALLEL_MIN {
        use rayon::prelude::*;
        groups
            .par_iter()
            .map(|(_, group)| reference(node(group, depth + 1)))
            .collect()
    } else {
        groups
            .iter()
            .map(|(_, group)| reference(node(group, depth + 1)))
            .collect()
    };
    let mut items: Vec<Vec<u8>> = vec![vec![alloy_rlp::EMPTY_STRING_CODE]; 17];
    for ((nibble, _), child) in groups.iter().zip(children) {
        items[usize::from(*nibble)] = child;
    }
    list(&items)
}

/// How a parent refers to a child node: embedded when its RLP is shorter than 32 bytes,
/// otherwise by hash.
fn reference(rlp: Vec<u8>) -> Vec<u8> {
    if rlp.len() < 32 {
        rlp
    } else {
        string(keccak256(&rlp).as_slice())
    }
}

/// The compact (hex-prefix) encoding of a nibble path.
fn hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 };
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    let rest = if nibbles.len() % 2 == 1 {
        out.push(((flag + 1) << 4) | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag << 4);
        nibbles
    };
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
}

/// An RLP string.
fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 5);
    bytes.encode(&mut out);
    out
}

/// An RLP list of already-encoded items.
fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload_length = items.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload_length + 5);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for item in items {
        out.extend_from_slice(item);
    }
    out
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
