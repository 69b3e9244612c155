//! Fully populated sample messages shared by the tests.

#![allow(dead_code)]

use parallax_proto::v1;

pub(crate) fn hash(b: u8) -> Vec<u8> {
    vec![b; 32]
}

pub(crate) fn sig(b: u8) -> Vec<u8> {
    vec![b; 64]
}

pub(crate) fn block() -> v1::Block {
    v1::Block {
        round: 7,
        height: 42,
        parent_id: hash(0x11),
        author: 2,
        participants: vec![0, 1, 3],
        payload: vec![0x0a, 0x02, 0xc0, 0xc0, 0x12, 0x01, 0x02],
    }
}

pub(crate) fn block_payload() -> v1::BlockPayload {
    v1::BlockPayload {
        header: vec![0xf9, 0x02, 0x00, 0xaa],
        transactions: vec![vec![0x02, 0xf8, 0x70], vec![0xf8, 0x6b]],
        deposits: vec![],
    }
}

pub(crate) fn attestation() -> v1::WithdrawalAttestation {
    v1::WithdrawalAttestation {
        chain_id: 424_242,
        l2_block: 9,
        root: hash(0x33),
        validator: 1,
        signature: vec![0x1b; 65],
    }
}

pub(crate) fn qc(round: u64) -> v1::QuorumCertificate {
    v1::QuorumCertificate {
        round,
        height: 41,
        block_id: hash(0x22),
        signatures: vec![
            v1::ValidatorSignature {
                validator_index: 0,
                signature: sig(0xa0),
            },
            v1::ValidatorSignature {
                validator_index: 3,
                signature: sig(0xa3),
            },
        ],
    }
}

pub(crate) fn tc() -> v1::TimeoutCertificate {
    v1::TimeoutCertificate {
        round: 6,
        signatures: vec![
            v1::TimeoutSignature {
                validator_index: 1,
                high_qc_round: 5,
                signature: sig(0xb1),
            },
            v1::TimeoutSignature {
                validator_index: 2,
                high_qc_round: 4,
                signature: sig(0xb2),
            },
        ],
        high_qc: Some(qc(5)),
    }
}

pub(crate) fn proposal() -> v1::Proposal {
    v1::Proposal {
        block: Some(block()),
        parent_qc: Some(qc(5)),
        tc: Some(tc()),
        signature: sig(0xc0),
    }
}

pub(crate) fn vote() -> v1::Vote {
    v1::Vote {
        round: 7,
        height: 42,
        block_id: hash(0x33),
        voter: 1,
        signature: sig(0xd1),
    }
}

pub(crate) fn timeout() -> v1::Timeout {
    v1::Timeout {
        round: 8,
        high_qc: Some(qc(5)),
        tc: Some(tc()),
        author: 3,
        signature: sig(0xe3),
    }
}

pub(crate) fn sync_info() -> v1::SyncInfo {
    v1::SyncInfo {
        highest_qc: Some(qc(5)),
        highest_tc: Some(tc()),
    }
}

pub(crate) fn consensus(body: v1::consensus_message::Body) -> v1::ConsensusMessage {
    v1::ConsensusMessage {
        chain_id: 424_242,
        recipient: None,
        send_seq: 0,
        body: Some(body),
    }
}

pub(crate) fn committed_head() -> v1::CommittedBlock {
    v1::CommittedBlock {
        block: Some(block()),
        commit_qc: Some(qc(8)),
        commit_child: Some(v1::Block {
            round: 8,
            height: 43,
            parent_id: hash(0x22),
            participants: vec![0, 1, 2],
            ..block()
        }),
    }
}

pub(crate) fn synced() -> v1::BlockSyncResponse {
    v1::BlockSyncResponse {
        result: Some(v1::block_sync_response::Result::Blocks(v1::SyncedBlocks {
            blocks: vec![
                v1::CommittedBlock {
                    block: Some(block()),
                    commit_qc: Some(qc(7)),
                    commit_child: None,
                },
                committed_head(),
            ],
        })),
    }
}

pub(crate) fn sync_error() -> v1::BlockSyncResponse {
    v1::BlockSyncResponse {
        result: Some(v1::block_sync_response::Result::Error(v1::SyncError {
            code: v1::sync_error::Code::RangeUnavailable as i32,
            message: "pruned".into(),
        })),
    }
}
