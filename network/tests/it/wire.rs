//! The wire conversions: every consensus message, the block payload, committed blocks, block
//! sync and transaction batches survive a round trip exactly, and bad bytes are refused with a
//! reason.

use alloy_consensus::{
    Header, SignableTransaction, TxEip1559, TxEnvelope, TxLegacy, transaction::SignerRecoverable,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bloom, Bytes, TxKind, U256, address, b256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::SigningKey;
use parallax_consensus::{
    Block, BlockInfo, Evidence, Hash, Message, Proposal, QuorumCertificate, SignedProposal,
    SignedTimeout, SyncInfo, Timeout, TimeoutCertificate, ValidatorIndex, ValidatorSet, Vote,
    crypto,
};
use parallax_network::wire::{self, CommittedBlock, SyncError, SyncErrorCode, SyncRequest};
use parallax_proto::v1;
use parallax_test_support::Signers;
use proptest::prelude::*;
use prost::Message as _;

const CHAIN: u64 = 7;

/// The four validators of the test chain.
fn signers() -> Signers {
    Signers::new(CHAIN, 4)
}

fn key(i: ValidatorIndex) -> SigningKey {
    signers().key(i).clone()
}

fn validators() -> ValidatorSet {
    signers().validator_set()
}

fn genesis() -> BlockInfo {
    BlockInfo::genesis(Hash([0xaa; 32]))
}

fn qc_for(block: BlockInfo, signers: &[ValidatorIndex]) -> QuorumCertificate {
    self::signers().qc(block, signers)
}

/// The leader of `round` (equal powers: `round % 4`) proposes on `qc` (and `tc`).
fn proposal(
    round: u64,
    qc: &QuorumCertificate,
    tc: Option<TimeoutCertificate>,
    payload: &[u8],
) -> Proposal {
    signers().proposal((round % 4) as ValidatorIndex, round, qc, tc, payload)
}

fn tc_for(
    round: u64,
    high_qc: &QuorumCertificate,
    signers: &[ValidatorIndex],
) -> TimeoutCertificate {
    self::signers().tc(round, high_qc, signers)
}

/// A short chain: block 1 on genesis, block 2 on block 1's QC, a timeout in round 3, block 4
/// on the TC.
struct Chain {
    b1: Proposal,
    qc1: QuorumCertificate,
    b2: Proposal,
    qc2: QuorumCertificate,
    tc3: TimeoutCertificate,
    b4: Proposal,
}

fn chain() -> Chain {
    let b1 = proposal(1, &QuorumCertificate::genesis(genesis()), None, b"one");
    let qc1 = qc_for(b1.block.info(), &[0, 1, 2]);
    let b2 = proposal(2, &qc1, None, b"two");
    let qc2 = qc_for(b2.block.info(), &[1, 2, 3]);
    let tc3 = tc_for(3, &qc2, &[0, 2, 3]);
    let b4 = proposal(4, &qc2, Some(tc3.clone()), b"four");
    Chain {
        b1,
        qc1,
        b2,
        qc2,
        tc3,
        b4,
    }
}

fn messages() -> Vec<Message> {
    let c = chain();
    let mut timeout_with_tc = Timeout::sign(CHAIN, 4, c.qc2.clone(), 1, &key(1));
    timeout_with_tc.tc = Some(c.tc3.clone());
    vec![
        Message::Proposal(Box::new(c.b1.clone())),
        Message::Proposal(Box::new(c.b2.clone())),
        Message::Proposal(Box::new(c.b4.clone())),
        Message::Vote(Vote::sign(CHAIN, c.b2.block.info(), 3, &key(3))),
        Message::Timeout(Timeout::sign(CHAIN, 3, c.qc2.clone(), 0, &key(0))),
        Message::Timeout(timeout_with_tc),
        Message::Timeout(Timeout::sign(
            CHAIN,
            1,
            QuorumCertificate::genesis(genesis()),
            2,
            &key(2),
        )),
        Message::Sync(Box::new(SyncInfo {
            highest_qc: c.qc2.clone(),
            highest_tc: Some(c.tc3.clone()),
        })),
        Message::Sync(Box::new(SyncInfo {
            highest_qc: c.qc1,
            highest_tc: None,
        })),
        Message::Evidence(Box::new(Evidence::DoubleVote {
            first: Vote::sign(CHAIN, c.b2.block.info(), 3, &key(3)),
            second: Vote::sign(
                CHAIN,
                BlockInfo {
                    height: c.b2.block.height() + 1,
                    ..c.b2.block.info()
                },
                3,
                &key(3),
            ),
        })),
        Message::Evidence(Box::new(Evidence::DoubleTimeout {
            first: signed_timeout(&Timeout::sign(CHAIN, 3, c.qc2.clone(), 1, &key(1))),
            second: signed_timeout(&Timeout::sign(
                CHAIN,
                3,
                QuorumCertificate::genesis(genesis()),
                1,
                &key(1),
            )),
        })),
        Message::Evidence(Box::new(Evidence::DoubleProposal {
            first: signed_proposal(&c.b1),
            second: signed_proposal(&Proposal::sign(
                CHAIN,
                Block::new(
                    c.b1.block.round(),
                    c.b1.block.height(),
                    c.b1.block.parent(),
                    c.b1.block.author(),
                    c.b1.block.participants().to_vec(),
                    b"another payload".to_vec(),
                ),
                c.b1.qc.clone(),
                None,
                &key(c.b1.block.author()),
            )),
        })),
    ]
}

fn signed_timeout(t: &Timeout) -> SignedTimeout {
    SignedTimeout {
        author: t.author,
        round: t.round,
        high_qc_round: t.high_qc.round,
        signature: t.signature,
    }
}

fn signed_proposal(p: &Proposal) -> SignedProposal {
    SignedProposal {
        author: p.block.author(),
        round: p.block.round(),
        block_id: p.block.id(),
        signature: p.signature,
    }
}

fn block_ids(m: &Message) -> Vec<Hash> {
    match m {
        Message::Proposal(p) => vec![p.block.id()],
        _ => vec![],
    }
}

#[test]
fn every_message_round_trips_exactly_and_its_signatures_still_verify() {
    let set = validators();
    for message in messages() {
        for recipient in [None, Some(1), Some(0)] {
            let bytes = wire::encode_message(CHAIN, &message, recipient, 0);
            let envelope = wire::decode_message(&bytes).unwrap();
            assert_eq!(envelope.chain_id, CHAIN);
            assert_eq!(envelope.recipient, recipient);
            assert_eq!(envelope.message, message);
            assert_eq!(block_ids(&envelope.message), block_ids(&message));
        }
        let decoded = wire::decode_message(&wire::encode_message(CHAIN, &message, None, 0))
            .unwrap()
            .message;
        match &decoded {
            Message::Proposal(p) => {
                let msg = crypto::proposal_message(CHAIN, p.block.round(), &p.block.id());
                let author = set.key(p.block.author()).unwrap();
                assert!(crypto::verify(author, &msg, &p.signature));
                if p.qc.round > 0 {
                    p.qc.verify(CHAIN, &set).unwrap();
                }
                if let Some(tc) = &p.tc {
                    tc.high_qc.verify(CHAIN, &set).unwrap();
                }
            }
            Message::Vote(v) => {
                let msg = crypto::vote_message(CHAIN, v.round, v.height, &v.block_id);
                assert!(crypto::verify(
                    set.key(v.voter).unwrap(),
                    &msg,
                    &v.signature
                ));
            }
            Message::Timeout(t) => {
                let msg = crypto::timeout_message(CHAIN, t.round, t.high_qc.round);
                assert!(crypto::verify(
                    set.key(t.author).unwrap(),
                    &msg,
                    &t.signature
                ));
            }
            Message::Sync(s) => s.highest_qc.verify(CHAIN, &set).unwrap(),
            Message::Evidence(e) => e.verify(CHAIN, &set).unwrap(),
        }
    }
}

/// Re-encodes a message after `edit` changes its protobuf form.
fn tamper(message: &Message, edit: impl FnOnce(&mut v1::ConsensusMessage)) -> Vec<u8> {
    let bytes = wire::encode_message(CHAIN, message, None, 0);
    let mut proto = v1::ConsensusMessage::decode(bytes.as_slice()).unwrap();
    edit(&mut proto);
    proto.encode_to_vec()
}

fn proto_block(m: &mut v1::ConsensusMessage) -> &mut v1::Block {
    match m.body.as_mut() {
        Some(v1::consensus_message::Body::Proposal(p)) => p.block.as_mut().unwrap(),
        _ => panic!("not a proposal"),
    }
}

#[test]
fn an_altered_block_gets_another_id_and_its_signature_fails() {
    let original = chain().b2;
    let message = Message::Proposal(Box::new(original.clone()));
    type Edit = Box<dyn Fn(&mut v1::Block)>;
    let edits: Vec<Edit> = vec![
        Box::new(|b| b.payload[0] ^= 1),
        Box::new(|b| b.payload.push(0)),
        Box::new(|b| b.round += 1),
        Box::new(|b| b.height += 1),
        Box::new(|b| b.parent_id[31] ^= 1),
        Box::new(|b| {
            b.participants.pop();
        }),
    ];
    let set = validators();
    for edit in edits {
        let bytes = tamper(&message, |m| edit(proto_block(m)));
        let Message::Proposal(p) = wire::decode_message(&bytes).unwrap().message else {
            panic!("not a proposal");
        };
        assert_ne!(p.block.id(), original.block.id());
        let msg = crypto::proposal_message(CHAIN, p.block.round(), &p.block.id());
        let author = set.key(p.block.author()).unwrap();
        assert!(!crypto::verify(author, &msg, &p.signature));
    }
}

#[test]
fn participants_out_of_order_or_repeated_are_rejected() {
    let message = Message::Proposal(Box::new(chain().b2));
    for participants in [vec![2, 1, 3], vec![1, 1, 2], vec![3, 2]] {
        let bytes = tamper(&message, |m| proto_block(m).participants = participants);
        let err = wire::decode_message(&bytes).unwrap_err();
        assert_eq!(err.reason(), "participants_not_canonical", "{err}");
        assert!(
            err.to_string().contains("proposal.block.participants"),
            "{err}"
        );
    }
}

#[test]
fn structural_errors_carry_a_reason() {
    let vote = Message::Vote(Vote::sign(CHAIN, chain().b1.block.info(), 0, &key(0)));
    let bytes = tamper(&vote, |m| {
        if let Some(v1::consensus_message::Body::Vote(v)) = m.body.as_mut() {
            v.signature.truncate(10);
        }
    });
    assert_eq!(
        wire::decode_message(&bytes).unwrap_err().reason(),
        "bad_signature_length"
    );
    let bytes = tamper(&vote, |m| m.body = None);
    assert_eq!(
        wire::decode_message(&bytes).unwrap_err().reason(),
        "missing_field"
    );
    assert_eq!(
        wire::decode_message(&[0x1a, 0x7f]).unwrap_err().reason(),
        "malformed"
    );
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    // 0xff bytes are not protobuf: only a size check that comes first reports `too_large`.
    let junk = |n: usize| vec![0xff; n + 1];
    let cases: Vec<(&str, wire::WireError)> = vec![
        (
            "message",
            wire::decode_message(&junk(parallax_proto::MAX_CONSENSUS_MESSAGE_BYTES)).unwrap_err(),
        ),
        (
            "payload",
            wire::decode_payload(&junk(parallax_proto::MAX_PAYLOAD_BYTES)).unwrap_err(),
        ),
        (
            "committed",
            wire::decode_committed(&junk(parallax_proto::MAX_COMMITTED_BLOCK_BYTES)).unwrap_err(),
        ),
        (
            "sync request",
            wire::decode_sync_request(&junk(parallax_proto::MAX_SYNC_REQUEST_BYTES)).unwrap_err(),
        ),
        (
            "sync response",
            wire::decode_sync_response(&junk(parallax_proto::MAX_SYNC_RESPONSE_BYTES)).unwrap_err(),
        ),
        (
            "tx batch",
            wire::decode_tx_batch(&junk(parallax_proto::MAX_TRANSACTION_BATCH_BYTES)).unwrap_err(),
        ),
    ];
    for (what, err) in cases {
        assert_eq!(err.reason(), "too_large", "{what}: {err}");
    }
    // At the limit the same bytes are parsed, and fail as malformed.
    assert_eq!(
        wire::decode_sync_request(&[0xff; parallax_proto::MAX_SYNC_REQUEST_BYTES])
            .unwrap_err()
            .reason(),
        "malformed"
    );
}

fn header() -> Header {
    Header {
        parent_hash: b256!("0x1111111111111111111111111111111111111111111111111111111111111111"),
        beneficiary: address!("0x2222222222222222222222222222222222222222"),
        state_root: B256::repeat_byte(3),
        transactions_root: B256::repeat_byte(4),
        receipts_root: B256::repeat_byte(5),
        logs_bloom: Bloom::repeat_byte(6),
        number: 42,
        gas_limit: 30_000_000,
        gas_used: 42_000,
        timestamp: 1_700_000_000,
        extra_data: Bytes::from_static(b"parallax"),
        base_fee_per_gas: Some(7),
        withdrawals_root: Some(B256::repeat_byte(8)),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::repeat_byte(9)),
        requests_hash: Some(B256::repeat_byte(10)),
        ..Default::default()
    }
}

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
}

fn signed_1559(nonce: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 20,
        max_priority_fee_per_gas: 2,
        to: TxKind::Call(Address::repeat_byte(0x33)),
        value: U256::from(1_000u64),
        access_list: Default::default(),
        input: Bytes::from_static(&[0xde, 0xad]),
    };
    let signature = signer().sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

fn signed_legacy(nonce: u64) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: Some(CHAIN),
        nonce,
        gas_price: 10,
        gas_limit: 53_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: Bytes::from_static(&[0x60, 0x00]),
    };
    let signature = signer().sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(signature).into()
}

#[test]
fn a_payload_with_real_signed_transactions_round_trips() {
    let txs = vec![signed_1559(0), signed_legacy(1), signed_1559(2)];
    let raw: Vec<Bytes> = txs.iter().map(|t| t.encoded_2718().into()).collect();
    let bytes = wire::encode_payload(&header(), &raw, &[]);

    let (h, decoded, _) = wire::decode_payload(&bytes).unwrap();
    assert_eq!(h, header());
    assert_eq!(h.hash_slow(), header().hash_slow());
    assert_eq!(decoded, txs);
    for tx in &decoded {
        assert_eq!(tx.recover_signer().unwrap(), signer().address());
    }
    let (h, decoded_raw, _) = wire::decode_payload_raw(&bytes).unwrap();
    assert_eq!(h, header());
    assert_eq!(decoded_raw, raw);

    // A payload goes in a block and out again unchanged.
    let qc = QuorumCertificate::genesis(genesis());
    let p = proposal(1, &qc, None, &bytes);
    let m = Message::Proposal(Box::new(p));
    let Message::Proposal(back) = wire::decode_message(&wire::encode_message(CHAIN, &m, None, 0))
        .unwrap()
        .message
    else {
        panic!("not a proposal");
    };
    assert_eq!(wire::decode_payload(back.block.payload()).unwrap().1, txs);

    // An empty block is a header alone.
    let empty: [Bytes; 0] = [];
    let (h, none, _) = wire::decode_payload(&wire::encode_payload(&header(), &empty, &[])).unwrap();
    assert_eq!((h, none.len()), (header(), 0));
}

fn raw_payload(header: Vec<u8>, transactions: Vec<Vec<u8>>) -> Vec<u8> {
    v1::BlockPayload {
        header,
        transactions,
        deposits: vec![],
    }
    .encode_to_vec()
}

fn deposit(nonce: u64) -> parallax_bridge::deposit::Deposit {
    parallax_bridge::deposit::Deposit {
        nonce,
        l1_token: Address::repeat_byte(0x11),
        recipient: Address::repeat_byte(0x22),
        amount: U256::from(10).pow(U256::from(18)) + U256::from(nonce),
        l1_tx_hash: B256::repeat_byte(0x33),
        l1_block: 40 + nonce,
        l1_from: Address::repeat_byte(0x44),
        metadata: alloy_primitives::Bytes::from(vec![nonce as u8; 96]),
    }
}

#[test]
fn bridge_deposits_ride_in_the_payload_exactly_and_malformed_ones_are_refused() {
    let deposits = [deposit(0), deposit(1)];
    let tx = signed_1559(0).encoded_2718();
    let bytes = wire::encode_payload(&header(), &[tx], &deposits);
    let (h, txs, back) = wire::decode_payload(&bytes).unwrap();
    assert_eq!(
        (h, txs.len(), back.as_slice()),
        (header(), 1, &deposits[..])
    );

    let good = |d: &parallax_bridge::deposit::Deposit| v1::BridgeDeposit {
        nonce: d.nonce,
        l1_token: d.l1_token.to_vec(),
        recipient: d.recipient.to_vec(),
        amount: d.amount.to_be_bytes::<32>().to_vec(),
        l1_tx_hash: d.l1_tx_hash.to_vec(),
        l1_block: d.l1_block,
        l1_from: d.l1_from.to_vec(),
        metadata: d.metadata.to_vec(),
    };
    let with = |deposits: Vec<v1::BridgeDeposit>| {
        v1::BlockPayload {
            header: alloy_rlp::encode(header()),
            transactions: vec![],
            deposits,
        }
        .encode_to_vec()
    };
    let short_token = v1::BridgeDeposit {
        l1_token: vec![0x11; 19],
        ..good(&deposit(0))
    };
    let long_amount = v1::BridgeDeposit {
        amount: vec![0x01; 33],
        ..good(&deposit(0))
    };
    let no_hash = v1::BridgeDeposit {
        l1_tx_hash: vec![],
        ..good(&deposit(0))
    };
    let no_depositor = v1::BridgeDeposit {
        l1_from: vec![],
        ..good(&deposit(0))
    };
    let huge_metadata = v1::BridgeDeposit {
        metadata: vec![0x41; parallax_proto::MAX_DEPOSIT_METADATA_BYTES + 1],
        ..good(&deposit(0))
    };
    let cases = [
        (
            "short token",
            with(vec![good(&deposit(0)), short_token]),
            "bad_length",
            "deposits[1].l1_token",
        ),
        (
            "long amount",
            with(vec![long_amount]),
            "bad_length",
            "deposits[0].amount",
        ),
        (
            "no tx hash",
            with(vec![no_hash]),
            "bad_hash_length",
            "deposits[0].l1_tx_hash",
        ),
        (
            "no depositor",
            with(vec![no_depositor]),
            "bad_length",
            "deposits[0].l1_from",
        ),
        (
            "huge metadata",
            with(vec![huge_metadata]),
            "oversized_field",
            "deposits[0].metadata",
        ),
        (
            "too many",
            with(vec![
                good(&deposit(0));
                parallax_proto::MAX_BLOCK_DEPOSITS + 1
            ]),
            "too_many",
            "deposits",
        ),
    ];
    for (what, bytes, reason, field) in cases {
        let err = wire::decode_payload(&bytes).unwrap_err();
        assert_eq!(err.reason(), reason, "{what}: {err}");
        assert!(
            err.to_string().contains(field),
            "{what}: {field} not in {err}"
        );
    }
}

#[test]
fn junk_payloads_are_rejected_with_a_reason() {
    let good_header = alloy_rlp::encode(header());
    let good_tx = signed_1559(0).encoded_2718();
    let mut header_trailing = good_header.clone();
    header_trailing.push(0x80);
    let mut tx_trailing = good_tx.clone();
    tx_trailing.push(0x00);
    let mut tx_flipped = good_tx.clone();
    tx_flipped[1] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("garbage", vec![0xff, 0xff, 0xff], "malformed", ""),
        (
            "no header",
            raw_payload(vec![], vec![good_tx.clone()]),
            "bad_header",
            "header",
        ),
        (
            "junk header",
            raw_payload(vec![0x01, 0x02], vec![]),
            "bad_header",
            "header",
        ),
        (
            "an RLP list that is no header",
            raw_payload(vec![0xc2, 0x01, 0x02], vec![]),
            "bad_header",
            "header",
        ),
        (
            "header truncated",
            raw_payload(good_header[..good_header.len() - 1].to_vec(), vec![]),
            "bad_header",
            "header",
        ),
        (
            "header with trailing bytes",
            raw_payload(header_trailing, vec![]),
            "bad_header",
            "header",
        ),
        (
            "empty transaction",
            raw_payload(good_header.clone(), vec![good_tx.clone(), vec![]]),
            "empty_transaction",
            "transactions[1]",
        ),
        (
            "unknown transaction type",
            raw_payload(good_header.clone(), vec![vec![0x05, 0xc0]]),
            "bad_transaction",
            "transactions[0]",
        ),
        (
            "transaction with trailing bytes",
            raw_payload(good_header.clone(), vec![good_tx.clone(), tx_trailing]),
            "bad_transaction",
            "transactions[1]",
        ),
        (
            "transaction truncated",
            raw_payload(
                good_header.clone(),
                vec![good_tx[..good_tx.len() - 2].to_vec()],
            ),
            "bad_transaction",
            "transactions[0]",
        ),
        (
            "transaction body broken",
            raw_payload(good_header.clone(), vec![tx_flipped]),
            "bad_transaction",
            "transactions[0]",
        ),
        (
            "too many transactions",
            raw_payload(
                good_header.clone(),
                vec![vec![0x02]; parallax_proto::MAX_BLOCK_TRANSACTIONS + 1],
            ),
            "too_many",
            "transactions",
        ),
    ];
    for (what, bytes, reason, field) in cases {
        let err = wire::decode_payload(&bytes).unwrap_err();
        assert_eq!(err.reason(), reason, "{what}: {err}");
        assert!(
            err.to_string().contains(field),
            "{what}: {field} not in {err}"
        );
        assert_eq!(
            wire::decode_payload_raw(&bytes).unwrap_err(),
            err,
            "{what}: both decoders agree"
        );
    }
}

#[test]
fn committed_blocks_round_trip_and_must_fit_together() {
    let c = chain();
    let b3 = proposal(3, &c.qc2, None, b"three").block;
    let qc3 = qc_for(b3.info(), &[0, 1, 3]);
    let set = validators();

    // The head of the 2-chain, with its child, and an ancestor, certified by its own QC.
    for (block, qc, child) in [(&c.b2.block, &qc3, Some(&b3)), (&c.b1.block, &qc3, None)] {
        let bytes = wire::encode_committed(block, qc, child);
        let decoded = wire::decode_committed(&bytes).unwrap();
        assert_eq!(
            decoded,
            CommittedBlock {
                block: block.clone(),
                commit_qc: qc.clone(),
                child: child.cloned(),
            }
        );
        assert_eq!(decoded.block.id(), block.id());
        decoded.commit_qc.verify(CHAIN, &set).unwrap();
    }

    let other = proposal(3, &c.qc1, None, b"elsewhere").block;
    let skipped = proposal(4, &c.qc2, Some(c.tc3.clone()), b"late").block;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // The child does not extend the block.
        (
            wire::encode_committed(&c.b2.block, &qc_for(other.info(), &[0, 1, 2]), Some(&other)),
            "commit_child.parent_id",
        ),
        // The child is not in the next round.
        (
            wire::encode_committed(
                &c.b2.block,
                &qc_for(skipped.info(), &[0, 1, 2]),
                Some(&skipped),
            ),
            "commit_child.round",
        ),
        // The QC certifies the block, not the child.
        (
            wire::encode_committed(&c.b2.block, &c.qc2, Some(&b3)),
            "commit_qc",
        ),
        // Without a child (an ancestor committed by a later 2-chain), the QC must certify a
        // higher block: the block's own QC or an ancestor's proves nothing.
        (
            wire::encode_committed(&c.b2.block, &c.qc2, None),
            "commit_qc",
        ),
        (
            wire::encode_committed(&c.b2.block, &c.qc1, None),
            "commit_qc",
        ),
    ];
    for (bytes, field) in cases {
        let err = wire::decode_committed(&bytes).unwrap_err();
        assert_eq!(err.reason(), "commit_mismatch", "{err}");
        assert!(err.to_string().contains(field), "{field} not in {err}");
    }
}

#[test]
fn sync_requests_and_responses_round_trip() {
    let request = SyncRequest {
        from_height: 1,
        max_blocks: parallax_proto::MAX_SYNC_BLOCKS,
    };
    assert_eq!(
        wire::decode_sync_request(&wire::encode_sync_request(&request)).unwrap(),
        request
    );
    for max_blocks in [0, parallax_proto::MAX_SYNC_BLOCKS + 1] {
        let bad = SyncRequest {
            from_height: 1,
            max_blocks,
        };
        assert_eq!(
            wire::decode_sync_request(&wire::encode_sync_request(&bad))
                .unwrap_err()
                .reason(),
            "bad_block_count"
        );
    }

    let c = chain();
    let b3 = proposal(3, &c.qc2, None, b"three").block;
    let qc3 = qc_for(b3.info(), &[0, 1, 3]);
    let blocks = vec![
        CommittedBlock {
            block: c.b1.block.clone(),
            commit_qc: qc3.clone(),
            child: None,
        },
        CommittedBlock {
            block: c.b2.block.clone(),
            commit_qc: qc3,
            child: Some(b3),
        },
    ];
    let ok = Ok(blocks.clone());
    assert_eq!(
        wire::decode_sync_response(&wire::encode_sync_response(&ok)).unwrap(),
        ok
    );
    for code in [
        SyncErrorCode::Unspecified,
        SyncErrorCode::RangeUnavailable,
        SyncErrorCode::TooMany,
        SyncErrorCode::Internal,
    ] {
        let err = Err(SyncError {
            code,
            message: "pruned below 100".into(),
        });
        assert_eq!(
            wire::decode_sync_response(&wire::encode_sync_response(&err)).unwrap(),
            err
        );
    }

    // Blocks that do not follow one another are refused.
    let gap = Ok(vec![blocks[1].clone(), blocks[0].clone()]);
    let err = wire::decode_sync_response(&wire::encode_sync_response(&gap)).unwrap_err();
    assert_eq!(err.reason(), "not_a_chain", "{err}");
    assert!(err.to_string().contains("blocks.blocks[1].block"), "{err}");
    // An empty answer must be an error instead.
    let empty = Ok(vec![]);
    assert_eq!(
        wire::decode_sync_response(&wire::encode_sync_response(&empty))
            .unwrap_err()
            .reason(),
        "empty_response"
    );
    // A mismatched committed block inside a response is caught with its path.
    let mut bad = blocks;
    bad[1].commit_qc = c.qc1.clone();
    let err = wire::decode_sync_response(&wire::encode_sync_response(&Ok(bad))).unwrap_err();
    assert_eq!(err.reason(), "commit_mismatch");
    assert!(
        err.to_string().contains("blocks.blocks[1].commit_qc"),
        "{err}"
    );
}

#[test]
fn transaction_batches_round_trip() {
    let txs: Vec<Bytes> = vec![
        signed_1559(0).encoded_2718().into(),
        Bytes::from_static(&[0x02]),
    ];
    assert_eq!(
        wire::decode_tx_batch(&wire::encode_tx_batch(&txs)).unwrap(),
        txs
    );
    assert_eq!(
        wire::decode_tx_batch(&wire::encode_tx_batch(&[]))
            .unwrap_err()
            .reason(),
        "empty_batch"
    );
}

#[test]
fn the_proto_limits_equal_the_consensus_limits() {
    assert_eq!(
        parallax_proto::MAX_PAYLOAD_BYTES,
        parallax_consensus::types::MAX_PAYLOAD_BYTES
    );
    assert_eq!(
        parallax_proto::MAX_SIGNATURES_PER_CERTIFICATE,
        parallax_consensus::types::MAX_SIGNATURES
    );
    // A block with a full payload still fits a consensus message, and two of them a sync
    // response.
    const { assert!(parallax_proto::MAX_CONSENSUS_MESSAGE_BYTES > parallax_proto::MAX_PAYLOAD_BYTES) };
    const { assert!(parallax_proto::MAX_SYNC_RESPONSE_BYTES > 2 * parallax_proto::MAX_PAYLOAD_BYTES) };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = wire::decode_message(&bytes);
        let _ = wire::decode_payload(&bytes);
        let _ = wire::decode_committed(&bytes);
        let _ = wire::decode_sync_request(&bytes);
        let _ = wire::decode_sync_response(&bytes);
        let _ = wire::decode_tx_batch(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(which in 0usize..9, index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let message = &messages()[which];
        let mut bytes = wire::encode_message(CHAIN, message, Some(1), 0);
        let i = index.index(bytes.len());
        bytes[i] = byte;
        let _ = wire::decode_message(&bytes);
        let mut payload = wire::encode_payload(&header(), &[signed_1559(0).encoded_2718()], &[]);
        let i = index.index(payload.len());
        payload[i] = byte;
        let _ = wire::decode_payload(&payload);
    }
}

#[test]
fn fetch_requests_and_answers_round_trip() {
    use parallax_network::wire::{FetchRequest, Request};
    let c = chain();
    let fetch = FetchRequest {
        id: c.b2.block.id(),
        ancestors: 5,
    };
    assert_eq!(
        wire::decode_request(&wire::encode_fetch_request(&fetch)).unwrap(),
        Request::Fetch(fetch)
    );
    let by_height = SyncRequest {
        from_height: 9,
        max_blocks: 3,
    };
    assert_eq!(
        wire::decode_request(&wire::encode_sync_request(&by_height)).unwrap(),
        Request::Committed(by_height)
    );
    let blocks = vec![c.b2.block.clone(), c.b1.block.clone()];
    assert_eq!(
        wire::decode_fetch_response(&wire::encode_fetch_response(&blocks)).unwrap(),
        blocks
    );
    // Nothing found is a refusal, read as no blocks.
    assert!(
        wire::decode_fetch_response(&wire::encode_fetch_response(&[]))
            .unwrap()
            .is_empty()
    );
    // Committed blocks are not an answer to a fetch, nor fetched blocks to a sync request.
    let committed = wire::encode_sync_response(&Ok(vec![CommittedBlock {
        block: c.b1.block.clone(),
        commit_qc: c.qc2.clone(),
        child: Some(c.b2.block.clone()),
    }]));
    assert_eq!(
        wire::decode_fetch_response(&committed)
            .unwrap_err()
            .reason(),
        "unexpected_answer"
    );
    assert_eq!(
        wire::decode_sync_response(&wire::encode_fetch_response(&blocks))
            .unwrap_err()
            .reason(),
        "unexpected_answer"
    );
}
