//! The incremental walk over stored branch nodes, shared by the account trie and the storage
//! tries.

use super::{HashedPostState, HashedStorage, StateRootError, TrieReader};
use alloy_primitives::{B256, U256};
use alloy_rlp::Encodable;
use alloy_trie::{
    BranchNodeCompact, HashBuilder, Nibbles, TrieAccount,
    proof::{ProofNodes, ProofRetainer},
};
use parallax_storage::{Account, TrieNodeUpdates, TrieUpdates};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Instant,
};
use tracing::debug;

/// The result of [`state_root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRootOutput {
    /// The state root after the block.
    pub root: B256,
    /// The branch nodes the block changed: store them with the block (in the same commit as
    /// its state changes) so the next block can be computed incrementally.
    pub updates: TrieUpdates,
    /// What the computation read and hashed.
    pub stats: StateRootStats,
}

/// Counts of the work one [`state_root`] call did; they grow with the keys the block changed,
/// not with the size of the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateRootStats {
    /// Branch-node seeks, in the account trie and the storage tries.
    pub node_reads: u64,
    /// Hashed-leaf reads (cursor seeks and steps), accounts and storage.
    pub leaf_reads: u64,
    /// Leaves fed to a hash builder.
    pub leaves_fed: u64,
    /// Stored hashes reused in place of a whole subtree (including stored storage roots).
    pub hashes_reused: u64,
    /// Storage tries recomputed because the block changed their storage.
    pub storage_tries_updated: u64,
    /// Storage roots of unchanged storage tries looked up for re-hashed account leaves.
    pub storage_roots_read: u64,
}

impl StateRootStats {
    fn add(&mut self, other: &Self) {
        self.node_reads += other.node_reads;
        self.leaf_reads += other.leaf_reads;
        self.leaves_fed += other.leaves_fed;
        self.hashes_reused += other.hashes_reused;
        self.storage_tries_updated += other.storage_tries_updated;
        self.storage_roots_read += other.storage_roots_read;
    }
}

/// Computes the state root after a block from the pre-block tries that `reader` sees and the
/// block's hashed post-state, reading only what the changed keys lead to.
///
/// Returns the root and the branch-node updates to store with the block. The updates assume,
/// like `parallax_storage` does, that the storage-trie nodes of every account the block wipes
/// or destroys are deleted before they apply; for such accounts they hold the new storage
/// trie's nodes only.
pub fn state_root<R: TrieReader + ?Sized>(
    reader: &mut R,
    post_state: &HashedPostState,
) -> Result<StateRootOutput, StateRootError> {
    let started = Instant::now();
    let mut stats = StateRootStats::default();
    let mut updates = TrieUpdates::default();

    // The storage tries the block changed, and their new roots.
    let mut storage_roots = BTreeMap::new();
    for (hashed_address, result) in changed_storage_tries(&mut *reader, post_state, true)? {
        stats.add(&result.stats);
        stats.storage_tries_updated += 1;
        storage_roots.insert(hashed_address, result.root);
        if !result.nodes.is_empty() {
            updates.storage_nodes.insert(hashed_address, result.nodes);
        }
    }

    let account_changes = account_changes(&mut *reader, post_state, &storage_roots, &mut stats)?;
    let mut view = AccountView {
        reader,
        storage_roots: &storage_roots,
        nested: StateRootStats::default(),
    };
    let result = update_trie(&mut view, &account_changes, true)?;
    stats.add(&result.stats);
    stats.add(&view.nested);
    updates.account_nodes = result.nodes;

    debug!(
        root = %result.root,
        accounts_changed = account_changes.len(),
        storage_tries_changed = storage_roots.len(),
        account_nodes_updated = updates.account_nodes.len(),
        node_reads = stats.node_reads,
        leaf_reads = stats.leaf_reads,
        leaves_fed = stats.leaves_fed,
        hashes_reused = stats.hashes_reused,
        elapsed_us = started.elapsed().as_micros() as u64,
        "state root computed"
    );
    Ok(StateRootOutput {
        root: result.root,
        updates,
        stats,
    })
}

/// The changes of one account's storage as the walk takes them: `None` deletes a slot.
pub(super) fn storage_changes(storage: &HashedStorage) -> BTreeMap<B256, Option<U256>> {
    storage
        .slots
        .iter()
        .map(|(slot, value)| (*slot, (!value.is_zero()).then_some(*value)))
        .collect()
}

/// Recomputes the storage trie of every account whose storage `post_state` changes (destroyed
/// accounts excepted: they have no storage root), over the stored tries `reader` sees.
pub(super) fn changed_storage_tries<R: TrieReader + ?Sized>(
    reader: &mut R,
    post_state: &HashedPostState,
    keep_updates: bool,
) -> Result<BTreeMap<B256, TrieResult>, StateRootError> {
    let mut results = BTreeMap::new();
    for (hashed_address, storage) in &post_state.storages {
        if post_state.is_destroyed(hashed_address) {
            continue;
        }
        let mut view = StorageView {
            reader: &mut *reader,
            owner: *hashed_address,
            wiped: storage.wiped,
        };
        let result = update_trie(&mut view, &storage_changes(storage), keep_updates)?;
        results.insert(*hashed_address, result);
    }
    Ok(results)
}

/// The account-trie leaves `post_state` changes: its accounts, plus the accounts whose storage
/// root changed (those in `storage_roots`) with their stored info.
pub(super) fn account_changes<R: TrieReader + ?Sized>(
    reader: &mut R,
    post_state: &HashedPostState,
    storage_roots: &BTreeMap<B256, B256>,
    stats: &mut StateRootStats,
) -> Result<BTreeMap<B256, Option<Account>>, StateRootError> {
    let mut changes = post_state.accounts.clone();
    for hashed_address in storage_roots.keys() {
        if !changes.contains_key(hashed_address) {
            stats.leaf_reads += 1;
            let account = reader.account(*hashed_address)?;
            changes.insert(*hashed_address, account);
        }
    }
    Ok(changes)
}

/// One trie as the walk sees it: stored nodes, stored leaves and how a leaf value is encoded.
pub(super) trait TrieView {
    /// A leaf's value before encoding.
    type Value;

    /// The account whose storage trie this is; `None` for the account trie.
    fn owner(&self) -> Option<B256>;

    fn seek_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError>;

    fn seek_leaf(&mut self, key: B256) -> Result<Option<(B256, Self::Value)>, StateRootError>;

    fn next_leaf(&mut self) -> Result<Option<(B256, Self::Value)>, StateRootError>;

    /// Appends the RLP of the leaf value under `key` to `out`.
    fn encode_leaf(
        &mut self,
        key: B256,
        value: &Self::Value,
        out: &mut Vec<u8>,
    ) -> Result<(), StateRootError>;
}

/// The storage trie of one account. A wiped trie is seen as empty: its stored nodes and leaves
/// are about to be deleted.
pub(super) struct StorageView<'r, R: ?Sized> {
    pub(super) reader: &'r mut R,
    pub(super) owner: B256,
    pub(super) wiped: bool,
}

impl<R: TrieReader + ?Sized> TrieView for StorageView<'_, R> {
    type Value = U256;

    fn owner(&self) -> Option<B256> {
        Some(self.owner)
    }

    fn seek_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        if self.wiped {
            return Ok(None);
        }
        self.reader.seek_storage_node(self.owner, path)
    }

    fn seek_leaf(&mut self, key: B256) -> Result<Option<(B256, U256)>, StateRootError> {
        if self.wiped {
            return Ok(None);
        }
        self.reader.seek_storage(self.owner, key)
    }

    fn next_leaf(&mut self) -> Result<Option<(B256, U256)>, StateRootError> {
        if self.wiped {
            return Ok(None);
        }
        self.reader.next_storage()
    }

    fn encode_leaf(
        &mut self,
        key: B256,
        value: &U256,
        out: &mut Vec<u8>,
    ) -> Result<(), StateRootError> {
        if value.is_zero() {
            return Err(StateRootError::Inconsistent {
                owner: Some(self.owner),
                reason: format!("storage slot {key} is stored with the value zero"),
            });
        }
        value.encode(out);
        Ok(())
    }
}

/// The account trie. A leaf needs its account's storage root: the new one for accounts whose
/// storage the block changed, the stored one otherwise.
pub(super) struct AccountView<'r, R: ?Sized> {
    pub(super) reader: &'r mut R,
    pub(super) storage_roots: &'r BTreeMap<B256, B256>,
    /// Work done looking up stored storage roots.
    pub(super) nested: StateRootStats,
}

impl<R: TrieReader + ?Sized> TrieView for AccountView<'_, R> {
    type Value = Account;

    fn owner(&self) -> Option<B256> {
        None
    }

    fn seek_node(
        &mut self,
        path: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        self.reader.seek_account_node(path)
    }

    fn seek_leaf(&mut self, key: B256) -> Result<Option<(B256, Account)>, StateRootError> {
        self.reader.seek_account(key)
    }

    fn next_leaf(&mut self) -> Result<Option<(B256, Account)>, StateRootError> {
        self.reader.next_account()
    }

    fn encode_leaf(
        &mut self,
        key: B256,
        account: &Account,
        out: &mut Vec<u8>,
    ) -> Result<(), StateRootError> {
        let storage_root = match self.storage_roots.get(&key) {
            Some(root) => *root,
            None => {
                // The account's storage is unchanged: its stored trie gives the root, from
                // the root node's `root_hash` or from the few nodes below an extension root.
                let mut view = StorageView {
                    reader: &mut *self.reader,
                    owner: key,
                    wiped: false,
                };
                let result = update_trie(&mut view, &BTreeMap::new(), false)?;
                self.nested.add(&result.stats);
                self.nested.storage_roots_read += 1;
                result.root
            }
        };
        TrieAccount {
            nonce: account.nonce,
            balance: account.balance,
            storage_root,
            code_hash: account.code_hash,
        }
        .encode(out);
        Ok(())
    }
}

/// A trie's new root, its node updates and the work done.
pub(super) struct TrieResult {
    pub(super) root: B256,
    pub(super) nodes: TrieNodeUpdates,
    pub(super) stats: StateRootStats,
}

/// Updates one trie: `changes` maps changed keys to their new value (`None` deletes).
///
/// With `keep_updates` the result lists the branch nodes to set and delete; without, only the
/// root is wanted.
fn update_trie<V: TrieView>(
    view: &mut V,
    changes: &BTreeMap<B256, Option<V::Value>>,
    keep_updates: bool,
) -> Result<TrieResult, StateRootError> {
    walk_trie(view, changes, &BTreeSet::new(), keep_updates).map(|(result, _)| result)
}

/// The root of the trie with `changes` applied, and its proof nodes for `targets`: the nodes
/// on the path from the root to each target key (to where it would be, for an absent key),
/// in the changed trie.
///
/// The targets are walked like changed keys, so every stored node on their paths is opened
/// and re-hashed (which is what the hash builder's proof retainer needs) while the stored
/// hashes of the subtrees beside them and beside the changes are reused. With no changes it
/// proves the stored trie.
pub(super) fn trie_proof<V: TrieView>(
    view: &mut V,
    changes: &BTreeMap<B256, Option<V::Value>>,
    targets: &BTreeSet<B256>,
) -> Result<(TrieResult, ProofNodes), StateRootError> {
    walk_trie(view, changes, targets, false)
}

fn walk_trie<V: TrieView>(
    view: &mut V,
    changes: &BTreeMap<B256, Option<V::Value>>,
    targets: &BTreeSet<B256>,
    keep_updates: bool,
) -> Result<(TrieResult, ProofNodes), StateRootError> {
    let mut hb = HashBuilder::default().with_updates(keep_updates);
    if !targets.is_empty() {
        hb = hb.with_proof_retainer(ProofRetainer::new(
            targets.iter().map(|key| Nibbles::unpack(key)).collect(),
        ));
    }
    let mut walk = Walk {
        view,
        changes,
        targets,
        hb,
        visited: Vec::new(),
        stats: StateRootStats::default(),
        buf: Vec::with_capacity(128),
    };
    let empty = Nibbles::default();
    let top = walk.node_under(&empty)?;
    if changes.is_empty()
        && targets.is_empty()
        && let Some((path, node)) = &top
        && path.is_empty()
        && let Some(root) = node.root_hash
    {
        walk.stats.hashes_reused += 1;
        return Ok((
            TrieResult {
                root,
                nodes: TrieNodeUpdates::new(),
                stats: walk.stats,
            },
            ProofNodes::default(),
        ));
    }
    walk.subtree(&empty, top)?;
    let root = walk.hb.root();
    let proof = walk.hb.take_proof_nodes();
    let Walk {
        hb, visited, stats, ..
    } = walk;
    let mut nodes = TrieNodeUpdates::new();
    if keep_updates {
        let (_, updated) = hb.split();
        // Every stored node in a re-hashed region was visited; those the hash builder did not
        // produce again are gone.
        for path in visited {
            if !updated.contains_key(&path) {
                nodes.insert(path, None);
            }
        }
        nodes.extend(updated.into_iter().map(|(path, node)| (path, Some(node))));
    }
    Ok((TrieResult { root, nodes, stats }, proof))
}

/// The smallest 32-byte key under `prefix`.
fn lower_key(prefix: &Nibbles) -> B256 {
    padded_key(prefix, 0)
}

/// The largest 32-byte key under `prefix`.
fn upper_key(prefix: &Nibbles) -> B256 {
    padded_key(prefix, 0x0f)
}

fn padded_key(prefix: &Nibbles, fill: u8) -> B256 {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let nibble = |j: usize| prefix.get(j).unwrap_or(fill);
        *byte = (nibble(2 * i) << 4) | nibble(2 * i + 1);
    }
    B256::from(out)
}

fn key_before(key: B256) -> Option<B256> {
    U256::from_be_bytes(key.0)
        .checked_sub(U256::from(1))
        .map(|k| B256::from(k.to_be_bytes::<32>()))
}

fn key_after(key: B256) -> Option<B256> {
    U256::from_be_bytes(key.0)
        .checked_add(U256::from(1))
        .map(|k| B256::from(k.to_be_bytes::<32>()))
}

/// What the merge of stored and changed leaves takes next.
enum Take {
    Stored,
    Changed,
    /// The same key: the change replaces the stored leaf.
    Both,
}

struct Walk<'v, 'c, V: TrieView> {
    view: &'v mut V,
    changes: &'c BTreeMap<B256, Option<V::Value>>,
    /// Keys whose proofs are wanted: walked like changed keys, without a change.
    targets: &'c BTreeSet<B256>,
    hb: HashBuilder,
    /// Paths of the stored nodes whose subtrees were re-hashed.
    visited: Vec<Nibbles>,
    stats: StateRootStats,
    buf: Vec<u8>,
}

impl<V: TrieView> Walk<'_, '_, V> {
    fn inconsistent(&self, reason: String) -> StateRootError {
        StateRootError::Inconsistent {
            owner: self.view.owner(),
            reason,
        }
    }

    fn malformed(&self, path: Nibbles, reason: &'static str) -> StateRootError {
        StateRootError::MalformedNode {
            owner: self.view.owner(),
            path,
            reason,
        }
    }

    /// Whether the block changes a key under `prefix`, or a proof target is under it.
    fn changed_under(&self, prefix: &Nibbles) -> bool {
        let range = lower_key(prefix)..=upper_key(prefix);
        self.changes.range(range.clone()).next().is_some()
            || self.targets.range(range).next().is_some()
    }

    /// The topmost stored node under `prefix` (at it or below it), checked.
    fn node_under(
        &mut self,
        prefix: &Nibbles,
    ) -> Result<Option<(Nibbles, BranchNodeCompact)>, StateRootError> {
        self.stats.node_reads += 1;
        let Some((path, node)) = self.view.seek_node(prefix)? else {
            return Ok(None);
        };
        if path < *prefix {
            return Err(self.inconsistent(format!(
                "a node seek from {prefix:?} returned the earlier path {path:?}"
            )));
        }
        if !path.starts_with(prefix) {
            return Ok(None);
        }
        self.check_node(&path, &node)?;
        Ok(Some((path, node)))
    }

    /// Rejects nodes the hash builder could not have produced, before they are relied on.
    fn check_node(&self, path: &Nibbles, node: &BranchNodeCompact) -> Result<(), StateRootError> {
        if path.len() >= 64 {
            return Err(self.malformed(*path, "a branch node's path is shorter than 64 nibbles"));
        }
        if node.state_mask.count_ones() < 2 {
            return Err(self.malformed(*path, "a branch node has at least two children"));
        }
        if !node.tree_mask.is_subset_of(node.state_mask)
            || !node.hash_mask.is_subset_of(node.state_mask)
        {
            return Err(self.malformed(*path, "tree and hash masks are subsets of the state mask"));
        }
        if node.hashes.len() != node.hash_mask.count_ones() as usize {
            return Err(self.malformed(*path, "one hash per bit of the hash mask"));
        }
        if node.root_hash.is_some() && !path.is_empty() {
            return Err(self.malformed(*path, "only the root node carries a root hash"));
        }
        Ok(())
    }

    /// Feeds everything under `prefix`, whose topmost stored node is `top`.
    fn subtree(
        &mut self,
        prefix: &Nibbles,
        top: Option<(Nibbles, BranchNodeCompact)>,
    ) -> Result<(), StateRootError> {
        let Some((path, node)) = top else {
            return self.feed_prefix(prefix);
        };
        // Between `prefix` and `path` the old trie has an extension; new keys may split it.
        if let Some(before) = key_before(lower_key(&path)) {
            self.feed_range(lower_key(prefix), before)?;
        }
        self.branch(path, node)?;
        if let Some(after) = key_after(upper_key(&path)) {
            self.feed_range(after, upper_key(prefix))?;
        }
        Ok(())
    }

    /// Feeds the subtree of the stored branch node at `path`, reusing the stored hashes of
    /// unchanged children where that is sound.
    fn branch(&mut self, path: Nibbles, node: BranchNodeCompact) -> Result<(), StateRootError> {
        self.visited.push(path);
        let collapses = self.collapses(&path, &node)?;
        let mut hashes = node.hashes.iter();
        for nibble in 0u8..16 {
            let mut child = path;
            child.push(nibble);
            let hash = if node.hash_mask.is_bit_set(nibble) {
                hashes.next().copied()
            } else {
                None
            };
            if !node.state_mask.is_bit_set(nibble) {
                // No child before the block; there is one now if a key was added here.
                if self.changed_under(&child) {
                    self.feed_prefix(&child)?;
                }
                continue;
            }
            let stored_below = node.tree_mask.is_bit_set(nibble);
            match hash {
                // The stored hash is a branch node's at exactly `child`. It stays right while
                // this node stays a branch; were it to collapse, the child would have to merge
                // with the path above it, so then it is opened instead.
                Some(hash) if !collapses && !self.changed_under(&child) => {
                    self.add_branch(child, hash, stored_below)?;
                }
                _ if stored_below => {
                    let top = self.node_under(&child)?;
                    self.subtree(&child, top)?;
                }
                // No stored node below: a leaf, or a branch of leaves (possibly under an
                // extension). Few leaves either way.
                _ => self.feed_prefix(&child)?,
            }
        }
        Ok(())
    }

    /// Whether the branch at `path` is left with fewer than two children by the block.
    fn collapses(
        &mut self,
        path: &Nibbles,
        node: &BranchNodeCompact,
    ) -> Result<bool, StateRootError> {
        let mut survivors = 0;
        let mut changed = Vec::new();
        for nibble in 0u8..16 {
            let mut child = *path;
            child.push(nibble);
            if self.changed_under(&child) {
                changed.push(child);
            } else if node.state_mask.is_bit_set(nibble) {
                survivors += 1;
            }
        }
        for child in changed {
            if survivors >= 2 {
                break;
            }
            if self.has_leaves(&child)? {
                survivors += 1;
            }
        }
        Ok(survivors < 2)
    }

    /// Whether any key under `prefix` has a value after the block.
    fn has_leaves(&mut self, prefix: &Nibbles) -> Result<bool, StateRootError> {
        let (lo, hi) = (lower_key(prefix), upper_key(prefix));
        if self
            .changes
            .range(lo..=hi)
            .any(|(_, value)| value.is_some())
        {
            return Ok(true);
        }
        // Only deletions here: is any stored key left?
        let mut entry = self.seek_leaf(lo)?;
        while let Some((key, _)) = entry {
            if key > hi {
                break;
            }
            if !self.changes.contains_key(&key) {
                return Ok(true);
            }
            entry = self.next_leaf(key)?;
        }
        Ok(false)
    }

    fn feed_prefix(&mut self, prefix: &Nibbles) -> Result<(), StateRootError> {
        self.feed_range(lower_key(prefix), upper_key(prefix))
    }

    /// Feeds the leaves with keys in `lo..=hi`: the stored ones, replaced or deleted by the
    /// block's changes, and the block's new ones, in key order.
    fn feed_range(&mut self, lo: B256, hi: B256) -> Result<(), StateRootError> {
        if lo > hi {
            return Ok(());
        }
        let changes = self.changes;
        let mut changed = changes.range(lo..=hi).peekable();
        let mut stored = self.seek_leaf(lo)?;
        loop {
            let take = match (&stored, changed.peek()) {
                (Some((key, _)), _) if *key > hi => {
                    stored = None;
                    continue;
                }
                (None, None) => break,
                (Some(_), None) => Take::Stored,
                (None, Some(_)) => Take::Changed,
                (Some((key, _)), Some((changed_key, _))) => match key.cmp(changed_key) {
                    std::cmp::Ordering::Less => Take::Stored,
                    std::cmp::Ordering::Equal => Take::Both,
                    std::cmp::Ordering::Greater => Take::Changed,
                },
            };
            if let Take::Stored | Take::Both = take
                && let Some((key, value)) = stored.take()
            {
                if let Take::Stored = take {
                    self.feed_leaf(key, &value)?;
                }
                stored = self.next_leaf(key)?;
            }
            if let Take::Changed | Take::Both = take
                && let Some((key, value)) = changed.next()
                && let Some(value) = value
            {
                self.feed_leaf(*key, value)?;
            }
        }
        Ok(())
    }

    fn seek_leaf(&mut self, key: B256) -> Result<Option<(B256, V::Value)>, StateRootError> {
        self.stats.leaf_reads += 1;
        let entry = self.view.seek_leaf(key)?;
        if let Some((found, _)) = &entry
            && *found < key
        {
            return Err(self.inconsistent(format!(
                "a leaf seek from {key} returned the earlier key {found}"
            )));
        }
        Ok(entry)
    }

    fn next_leaf(&mut self, previous: B256) -> Result<Option<(B256, V::Value)>, StateRootError> {
        self.stats.leaf_reads += 1;
        let entry = self.view.next_leaf()?;
        if let Some((found, _)) = &entry
            && *found <= previous
        {
            return Err(self.inconsistent(format!(
                "the leaf after {previous} is {found}, not a later key"
            )));
        }
        Ok(entry)
    }

    /// The hash builder panics on keys out of order or under an already added branch; the
    /// walk never produces them from consistent data, and this turns inconsistent data into an
    /// error instead.
    fn check_order(&self, key: &Nibbles) -> Result<(), StateRootError> {
        let last = &self.hb.key;
        if !last.is_empty() && (key <= last || key.starts_with(last)) {
            return Err(self.inconsistent(format!(
                "trie key {key:?} does not follow {last:?} (nodes and leaves disagree)"
            )));
        }
        Ok(())
    }

    fn feed_leaf(&mut self, key: B256, value: &V::Value) -> Result<(), StateRootError> {
        let path = Nibbles::unpack(key);
        self.check_order(&path)?;
        self.buf.clear();
        self.view.encode_leaf(key, value, &mut self.buf)?;
        self.hb.add_leaf(path, &self.buf);
        self.stats.leaves_fed += 1;
        Ok(())
    }

    fn add_branch(
        &mut self,
        path: Nibbles,
        hash: B256,
        stored_below: bool,
    ) -> Result<(), StateRootError> {
        self.check_order(&path)?;
        self.hb.add_branch(path, hash, stored_below);
        self.stats.hashes_reused += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bounds_cover_exactly_the_prefix() {
        let prefix = Nibbles::from_nibbles([0xa, 0x1, 0xf]);
        let lo = lower_key(&prefix);
        let hi = upper_key(&prefix);
        assert_eq!(lo.0[..2], [0xa1, 0xf0]);
        assert!(lo.0[2..].iter().all(|b| *b == 0));
        assert_eq!(hi.0[..2], [0xa1, 0xff]);
        assert!(hi.0[2..].iter().all(|b| *b == 0xff));
        assert_eq!(lower_key(&Nibbles::default()), B256::ZERO);
        assert_eq!(upper_key(&Nibbles::default()), B256::repeat_byte(0xff));
        assert_eq!(key_before(B256::ZERO), None);
        assert_eq!(key_after(B256::repeat_byte(0xff)), None);
        assert_eq!(key_after(lo).and_then(key_before), Some(lo));
        let full = Nibbles::unpack(B256::repeat_byte(0x5c));
        assert_eq!(lower_key(&full), upper_key(&full));
    }
}
