//! Decoding bytes from a peer: limits are enforced before parsing, structure after, and no
//! input makes a decoder panic.

use crate::common;

use common::*;
use parallax_proto::{
    MAX_BLOCK_BYTES, MAX_COMMITTED_BLOCK_BYTES, MAX_CONSENSUS_MESSAGE_BYTES, MAX_PAYLOAD_BYTES,
    MAX_SIGNATURES_PER_CERTIFICATE, MAX_SYNC_BLOCKS, MAX_TRANSACTION_BYTES,
    MAX_TRANSACTIONS_PER_BATCH, WireError, decode_block_payload, decode_committed_block,
    decode_consensus_message, decode_sync_request, decode_sync_response, decode_transaction_batch,
    decode_withdrawal_attestation, v1, v1::consensus_message::Body,
};
use proptest::prelude::*;
use prost::Message;

fn reason(r: Result<impl std::fmt::Debug, WireError>) -> &'static str {
    r.expect_err("must be rejected").reason()
}

#[test]
fn well_formed_messages_decode() {
    for body in [
        Body::Proposal(proposal()),
        Body::Vote(vote()),
        Body::Timeout(timeout()),
        Body::Timeout(v1::Timeout {
            tc: None,
            ..timeout()
        }),
        Body::Sync(sync_info()),
        Body::Sync(v1::SyncInfo {
            highest_tc: None,
            ..sync_info()
        }),
    ] {
        let msg = consensus(body);
        assert_eq!(decode_consensus_message(&msg.encode_to_vec()).unwrap(), msg);
        let addressed = v1::ConsensusMessage {
            recipient: Some(2),
            ..msg
        };
        assert_eq!(
            decode_consensus_message(&addressed.encode_to_vec()).unwrap(),
            addressed
        );
        // A re-send: the same message under another send number, other bytes.
        let resent = v1::ConsensusMessage {
            send_seq: u64::MAX,
            ..addressed.clone()
        };
        assert_ne!(resent.encode_to_vec(), addressed.encode_to_vec());
        assert_eq!(
            decode_consensus_message(&resent.encode_to_vec()).unwrap(),
            resent
        );
    }
    let payload = block_payload();
    assert_eq!(
        decode_block_payload(&payload.encode_to_vec()).unwrap(),
        payload
    );
    let committed = committed_head();
    assert_eq!(
        decode_committed_block(&committed.encode_to_vec()).unwrap(),
        committed
    );
    let batch = v1::TransactionBatch {
        transactions: vec![vec![1, 2, 3]],
    };
    assert_eq!(
        decode_transaction_batch(&batch.encode_to_vec()).unwrap(),
        batch
    );
    let req = v1::BlockSyncRequest {
        from_height: 10,
        max_blocks: MAX_SYNC_BLOCKS,
        block_id: Vec::new(),
    };
    assert_eq!(decode_sync_request(&req.encode_to_vec()).unwrap(), req);
    for resp in [synced(), sync_error()] {
        assert_eq!(decode_sync_response(&resp.encode_to_vec()).unwrap(), resp);
    }
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    let huge = vec![0u8; MAX_CONSENSUS_MESSAGE_BYTES + 1];
    let err = decode_consensus_message(&huge).unwrap_err();
    assert_eq!(err.reason(), "too_large");
    assert!(
        err.to_string()
            .contains(&MAX_CONSENSUS_MESSAGE_BYTES.to_string())
    );
    assert_eq!(reason(decode_sync_request(&[0u8; 65])), "too_large");
}

#[test]
fn malformed_bytes_are_errors() {
    // A length-delimited field claiming more bytes than follow.
    assert_eq!(
        reason(decode_consensus_message(&[0x12, 0x7f, 0x00])),
        "malformed"
    );
    assert_eq!(
        reason(decode_transaction_batch(&[0xff, 0xff, 0xff])),
        "malformed"
    );
    // Wire type 7 does not exist.
    assert_eq!(reason(decode_sync_response(&[0x0f])), "malformed");
}

#[test]
fn structural_rules_are_enforced_with_a_reason_and_a_path() {
    let cases: Vec<(v1::ConsensusMessage, &str, &str)> = vec![
        (
            v1::ConsensusMessage {
                chain_id: 1,
                recipient: None,
                send_seq: 0,
                body: None,
            },
            "missing_field",
            "body",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                block: None,
                ..proposal()
            })),
            "missing_field",
            "proposal.block",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                parent_qc: None,
                ..proposal()
            })),
            "missing_field",
            "proposal.parent_qc",
        ),
        (
            consensus(Body::Vote(v1::Vote {
                block_id: hash(1)[..31].to_vec(),
                ..vote()
            })),
            "bad_hash_length",
            "vote.block_id",
        ),
        (
            consensus(Body::Vote(v1::Vote {
                signature: sig(1)[..63].to_vec(),
                ..vote()
            })),
            "bad_signature_length",
            "vote.signature",
        ),
        (
            consensus(Body::Timeout(v1::Timeout {
                high_qc: None,
                ..timeout()
            })),
            "missing_field",
            "timeout.high_qc",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                parent_qc: Some(v1::QuorumCertificate {
                    signatures: vec![],
                    ..qc(5)
                }),
                ..proposal()
            })),
            "missing_signatures",
            "proposal.parent_qc.signatures",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                block: Some(v1::Block {
                    participants: vec![0, 3, 3],
                    ..block()
                }),
                ..proposal()
            })),
            "participants_not_canonical",
            "proposal.block.participants[2]",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                block: Some(v1::Block {
                    participants: vec![3, 1],
                    ..block()
                }),
                ..proposal()
            })),
            "participants_not_canonical",
            "proposal.block.participants[1]",
        ),
        (
            consensus(Body::Proposal(v1::Proposal {
                block: Some(v1::Block {
                    parent_id: vec![],
                    ..block()
                }),
                ..proposal()
            })),
            "bad_hash_length",
            "proposal.block.parent_id",
        ),
        (
            consensus(Body::Timeout(v1::Timeout {
                tc: Some(v1::TimeoutCertificate {
                    signatures: vec![],
                    ..tc()
                }),
                ..timeout()
            })),
            "missing_signatures",
            "timeout.tc.signatures",
        ),
        (
            consensus(Body::Sync(v1::SyncInfo {
                highest_qc: None,
                ..sync_info()
            })),
            "missing_field",
            "sync.highest_qc",
        ),
        (
            consensus(Body::Sync(v1::SyncInfo {
                highest_tc: Some(v1::TimeoutCertificate {
                    high_qc: None,
                    ..tc()
                }),
                ..sync_info()
            })),
            "missing_field",
            "sync.highest_tc.high_qc",
        ),
    ];
    for (msg, expected_reason, field) in cases {
        let err = decode_consensus_message(&msg.encode_to_vec()).unwrap_err();
        assert_eq!(err.reason(), expected_reason, "{err}");
        assert!(err.to_string().contains(field), "{field} not in {err}");
    }
}

#[test]
fn withdrawal_attestations_need_a_hash_root_a_65_byte_signature_and_a_small_size() {
    let a = attestation();
    assert_eq!(
        decode_withdrawal_attestation(&a.encode_to_vec()).unwrap(),
        a
    );
    let cases = [
        (
            v1::WithdrawalAttestation {
                root: vec![0; 31],
                ..attestation()
            },
            "bad_hash_length",
            "root",
        ),
        (
            v1::WithdrawalAttestation {
                signature: vec![0; 64],
                ..attestation()
            },
            "bad_length",
            "signature",
        ),
        (
            v1::WithdrawalAttestation {
                signature: vec![],
                ..attestation()
            },
            "bad_length",
            "signature",
        ),
    ];
    for (bad, expected, field) in cases {
        let err = decode_withdrawal_attestation(&bad.encode_to_vec()).unwrap_err();
        assert_eq!(err.reason(), expected, "{err}");
        assert!(err.to_string().contains(field), "{field} not in {err}");
    }
    let padded = v1::WithdrawalAttestation {
        signature: vec![0; 1024],
        ..attestation()
    };
    assert_eq!(
        reason(decode_withdrawal_attestation(&padded.encode_to_vec())),
        "too_large"
    );
    assert_eq!(
        reason(decode_withdrawal_attestation(&[0xff, 0xff])),
        "malformed"
    );
}

#[test]
fn block_payloads_committed_blocks_and_sync_errors_are_checked() {
    let payloads: Vec<(v1::BlockPayload, &str, &str)> = vec![
        (
            v1::BlockPayload {
                header: vec![],
                ..block_payload()
            },
            "bad_header",
            "header",
        ),
        (
            v1::BlockPayload {
                header: vec![1; parallax_proto::MAX_HEADER_BYTES + 1],
                ..block_payload()
            },
            "bad_header",
            "header",
        ),
        (
            v1::BlockPayload {
                transactions: vec![vec![2, 1], vec![]],
                ..block_payload()
            },
            "empty_transaction",
            "transactions[1]",
        ),
        (
            v1::BlockPayload {
                transactions: vec![
                    vec![2; MAX_TRANSACTION_BYTES];
                    MAX_BLOCK_BYTES / MAX_TRANSACTION_BYTES
                ],
                ..block_payload()
            },
            "oversized_block",
            "transactions",
        ),
    ];
    for (payload, expected_reason, field) in payloads {
        let err = decode_block_payload(&payload.encode_to_vec()).unwrap_err();
        assert_eq!(err.reason(), expected_reason, "{err}");
        assert!(err.to_string().contains(field), "{field} not in {err}");
    }
    assert_eq!(
        reason(decode_block_payload(&vec![0; MAX_PAYLOAD_BYTES + 1])),
        "too_large"
    );

    let committed: Vec<(v1::CommittedBlock, &str, &str)> = vec![
        (
            v1::CommittedBlock {
                commit_qc: None,
                ..committed_head()
            },
            "missing_field",
            "committed_block.commit_qc",
        ),
        (
            v1::CommittedBlock {
                block: None,
                ..committed_head()
            },
            "missing_field",
            "committed_block.block",
        ),
        (
            v1::CommittedBlock {
                commit_child: Some(v1::Block {
                    participants: vec![2, 1],
                    ..block()
                }),
                ..committed_head()
            },
            "participants_not_canonical",
            "committed_block.commit_child.participants[1]",
        ),
    ];
    for (block, expected_reason, field) in committed {
        let err = decode_committed_block(&block.encode_to_vec()).unwrap_err();
        assert_eq!(err.reason(), expected_reason, "{err}");
        assert!(err.to_string().contains(field), "{field} not in {err}");
    }
    assert_eq!(
        reason(decode_committed_block(&vec![
            0;
            MAX_COMMITTED_BLOCK_BYTES + 1
        ])),
        "too_large"
    );

    let resp = v1::BlockSyncResponse {
        result: Some(v1::block_sync_response::Result::Blocks(v1::SyncedBlocks {
            blocks: vec![v1::CommittedBlock {
                commit_child: Some(v1::Block {
                    parent_id: hash(1)[..5].to_vec(),
                    ..block()
                }),
                ..committed_head()
            }],
        })),
    };
    let err = decode_sync_response(&resp.encode_to_vec()).unwrap_err();
    assert_eq!(err.reason(), "bad_hash_length");
    assert!(
        err.to_string()
            .contains("blocks.blocks[0].commit_child.parent_id"),
        "{err}"
    );
    let unknown = v1::BlockSyncResponse {
        result: Some(v1::block_sync_response::Result::Error(v1::SyncError {
            code: 99,
            message: String::new(),
        })),
    };
    assert_eq!(
        reason(decode_sync_response(&unknown.encode_to_vec())),
        "unknown_error_code"
    );
}

#[test]
fn a_signer_is_never_listed_twice() {
    let mut dup = qc(5);
    dup.signatures.push(v1::ValidatorSignature {
        validator_index: 3,
        signature: sig(9),
    });
    let msg = consensus(Body::Timeout(v1::Timeout {
        high_qc: Some(dup),
        ..timeout()
    }));
    let err = decode_consensus_message(&msg.encode_to_vec()).unwrap_err();
    assert_eq!(err.reason(), "duplicate_signer");
    assert!(
        err.to_string().contains("timeout.high_qc.signatures[2]"),
        "{err}"
    );

    let mut dup_tc = tc();
    dup_tc.signatures[1].validator_index = 1;
    let msg = consensus(Body::Proposal(v1::Proposal {
        tc: Some(dup_tc),
        ..proposal()
    }));
    assert_eq!(
        reason(decode_consensus_message(&msg.encode_to_vec())),
        "duplicate_signer"
    );
}

#[test]
fn counts_are_bounded() {
    let mut big = qc(5);
    big.signatures = (0..=MAX_SIGNATURES_PER_CERTIFICATE as u32)
        .map(|i| v1::ValidatorSignature {
            validator_index: i,
            signature: sig(1),
        })
        .collect();
    let msg = consensus(Body::Timeout(v1::Timeout {
        high_qc: Some(big),
        ..timeout()
    }));
    assert_eq!(
        reason(decode_consensus_message(&msg.encode_to_vec())),
        "too_many"
    );

    let batch = v1::TransactionBatch {
        transactions: vec![vec![1]; MAX_TRANSACTIONS_PER_BATCH + 1],
    };
    assert_eq!(
        reason(decode_transaction_batch(&batch.encode_to_vec())),
        "too_many"
    );
    let batch = v1::TransactionBatch {
        transactions: vec![vec![1; MAX_TRANSACTION_BYTES + 1]],
    };
    assert_eq!(
        reason(decode_transaction_batch(&batch.encode_to_vec())),
        "oversized_transaction"
    );
    assert_eq!(reason(decode_transaction_batch(&[])), "empty_batch");

    // A fetch by id names a 32-byte block id.
    let fetch = v1::BlockSyncRequest {
        from_height: 0,
        max_blocks: 4,
        block_id: vec![7; 31],
    };
    assert_eq!(
        reason(decode_sync_request(&fetch.encode_to_vec())),
        "bad_hash"
    );

    for max_blocks in [0, MAX_SYNC_BLOCKS + 1] {
        let req = v1::BlockSyncRequest {
            from_height: 1,
            max_blocks,
            block_id: Vec::new(),
        };
        assert_eq!(
            reason(decode_sync_request(&req.encode_to_vec())),
            "bad_block_count"
        );
    }
    let empty = v1::BlockSyncResponse {
        result: Some(v1::block_sync_response::Result::Blocks(v1::SyncedBlocks {
            blocks: vec![],
        })),
    };
    assert_eq!(
        reason(decode_sync_response(&empty.encode_to_vec())),
        "empty_response"
    );
    assert_eq!(reason(decode_sync_response(&[])), "missing_field");

    let crowded = v1::Block {
        participants: (0..=MAX_SIGNATURES_PER_CERTIFICATE as u32).collect(),
        ..block()
    };
    let msg = consensus(Body::Proposal(v1::Proposal {
        block: Some(crowded),
        ..proposal()
    }));
    assert_eq!(
        reason(decode_consensus_message(&msg.encode_to_vec())),
        "too_many"
    );
    // A payload one byte over the consensus limit still fits the message limit, so the
    // payload rule, not the size check, rejects it.
    let heavy = v1::Block {
        payload: vec![0; MAX_PAYLOAD_BYTES + 1],
        ..block()
    };
    let msg = consensus(Body::Proposal(v1::Proposal {
        block: Some(heavy),
        ..proposal()
    }));
    let err = decode_consensus_message(&msg.encode_to_vec()).unwrap_err();
    assert_eq!(err.reason(), "oversized_payload", "{err}");
    assert!(err.to_string().contains("proposal.block.payload"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_consensus_message(&bytes);
        let _ = decode_transaction_batch(&bytes);
        let _ = decode_sync_request(&bytes);
        let _ = decode_sync_response(&bytes);
        let _ = decode_block_payload(&bytes);
        let _ = decode_committed_block(&bytes);
    }

    #[test]
    fn mutated_valid_messages_never_panic(index in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        for mut bytes in [
            consensus(Body::Proposal(proposal())).encode_to_vec(),
            consensus(Body::Sync(sync_info())).encode_to_vec(),
            synced().encode_to_vec(),
            committed_head().encode_to_vec(),
            block_payload().encode_to_vec(),
        ] {
            let i = index.index(bytes.len());
            bytes[i] = byte;
            let _ = decode_consensus_message(&bytes);
            let _ = decode_sync_response(&bytes);
            let _ = decode_committed_block(&bytes);
            let _ = decode_block_payload(&bytes);
            bytes.truncate(cut.index(bytes.len()));
            let _ = decode_consensus_message(&bytes);
            let _ = decode_sync_response(&bytes);
            let _ = decode_committed_block(&bytes);
            let _ = decode_block_payload(&bytes);
        }
    }
}
