//! The traits over the database: any MDBX transaction of `parallax_storage` (a
//! [`Reader`](parallax_storage::Reader) or a read-write `Tx`) answers them with its own
//! queries; nothing is decided here.

use crate::{BlockReader, MetadataReader, SafetyReader, StateReader, WithdrawalSignatureReader};
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::BlockNumHash;
use alloy_primitives::{Address, B256, Bytes, Log, U256};
use parallax_storage::{
    Account, BlockNumber, LocatedTransaction, StorageResult, StoredBody, TransactionKind, Tx,
};

impl<K: TransactionKind> BlockReader for Tx<'_, K> {
    fn head_number(&self) -> StorageResult<Option<BlockNumber>> {
        Tx::head_number(self)
    }

    fn head(&self) -> StorageResult<Option<BlockNumHash>> {
        Tx::head(self)
    }

    fn canonical_hash(&self, number: BlockNumber) -> StorageResult<Option<B256>> {
        Tx::canonical_hash(self, number)
    }

    fn block_number(&self, hash: B256) -> StorageResult<Option<BlockNumber>> {
        Tx::block_number(self, hash)
    }

    fn header(&self, number: BlockNumber) -> StorageResult<Option<Header>> {
        Tx::header(self, number)
    }

    fn header_by_hash(&self, hash: B256) -> StorageResult<Option<Header>> {
        Tx::header_by_hash(self, hash)
    }

    fn body(&self, number: BlockNumber) -> StorageResult<Option<StoredBody>> {
        Tx::body(self, number)
    }

    fn transactions(&self, number: BlockNumber) -> StorageResult<Option<Vec<TxEnvelope>>> {
        Tx::transactions(self, number)
    }

    fn transaction(&self, number: BlockNumber, index: u32) -> StorageResult<Option<TxEnvelope>> {
        Tx::transaction(self, number, index)
    }

    fn transaction_by_hash(&self, hash: B256) -> StorageResult<Option<LocatedTransaction>> {
        Tx::transaction_by_hash(self, hash)
    }

    fn receipts(&self, number: BlockNumber) -> StorageResult<Option<Vec<ReceiptEnvelope>>> {
        Tx::receipts(self, number)
    }

    fn receipt(&self, number: BlockNumber, index: u32) -> StorageResult<Option<ReceiptEnvelope>> {
        Tx::receipt(self, number, index)
    }

    fn system_logs(&self, number: BlockNumber) -> StorageResult<Vec<Log>> {
        Tx::system_logs(self, number)
    }

    fn certificate(&self, number: BlockNumber) -> StorageResult<Option<Bytes>> {
        Tx::certificate(self, number)
    }
}

impl<K: TransactionKind> StateReader for Tx<'_, K> {
    fn account(&self, address: Address) -> StorageResult<Option<Account>> {
        Tx::account(self, address)
    }

    fn storage(&self, address: Address, slot: B256) -> StorageResult<U256> {
        Tx::storage(self, address, slot)
    }

    fn storage_of(&self, address: Address) -> StorageResult<Vec<(B256, U256)>> {
        Tx::storage_of(self, address)
    }

    fn bytecode(&self, code_hash: B256) -> StorageResult<Option<Bytes>> {
        Tx::bytecode(self, code_hash)
    }

    fn account_at(&self, address: Address, block: BlockNumber) -> StorageResult<Option<Account>> {
        Tx::account_at(self, address, block)
    }

    fn storage_at(&self, address: Address, slot: B256, block: BlockNumber) -> StorageResult<U256> {
        Tx::storage_at(self, address, slot, block)
    }
}

impl<K: TransactionKind> WithdrawalSignatureReader for Tx<'_, K> {
    fn withdrawal_signatures(
        &self,
        number: BlockNumber,
    ) -> StorageResult<Vec<(u32, B256, [u8; 65])>> {
        Tx::withdrawal_signatures(self, number)
    }
}

impl<K: TransactionKind> MetadataReader for Tx<'_, K> {
    fn metadata(&self, key: &str) -> StorageResult<Option<Bytes>> {
        Tx::metadata(self, key)
    }

    fn chain_id(&self) -> StorageResult<Option<u64>> {
        Tx::chain_id(self)
    }

    fn genesis_hash(&self) -> StorageResult<Option<B256>> {
        Tx::genesis_hash(self)
    }
}

impl<K: TransactionKind> SafetyReader for Tx<'_, K> {
    fn safety(&self, key: &str) -> StorageResult<Option<Bytes>> {
        Tx::safety(self, key)
    }
}
