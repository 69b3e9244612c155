//! Golden bytes: the exact encoding of a fully populated instance of every message. A change
//! here is a wire-format change: every node must agree on it, so it must be deliberate.

use crate::common;

use common::*;
use parallax_proto::v1::{self, consensus_message::Body};
use prost::Message;

fn check<M: Message + Default + PartialEq + std::fmt::Debug>(name: &str, msg: &M, golden: &str) {
    let bytes = msg.encode_to_vec();
    assert_eq!(hex::encode(&bytes), golden, "{name}: encoding changed");
    assert_eq!(
        &M::decode(bytes.as_slice()).unwrap(),
        msg,
        "{name}: round trip"
    );
}

#[test]
fn gossip_messages() {
    check(
        "TransactionBatch",
        &v1::TransactionBatch {
            transactions: vec![vec![0x02, 0x01], vec![0xf8]],
        },
        "0a0202010a01f8",
    );
    check("Vote", &vote(), GOLDEN_VOTE);
    check("Block", &block(), GOLDEN_BLOCK);
    check("QuorumCertificate", &qc(5), GOLDEN_QC);
    check("TimeoutCertificate", &tc(), GOLDEN_TC);
    check("Timeout", &timeout(), GOLDEN_TIMEOUT);
    check("Proposal", &proposal(), GOLDEN_PROPOSAL);
    check("SyncInfo", &sync_info(), GOLDEN_SYNC_INFO);
    check("BlockPayload", &block_payload(), GOLDEN_BLOCK_PAYLOAD);
    check(
        "ConsensusMessage(vote)",
        &consensus(Body::Vote(vote())),
        GOLDEN_CONSENSUS_VOTE,
    );
    check(
        "ConsensusMessage(vote to 2)",
        &v1::ConsensusMessage {
            recipient: Some(2),
            ..consensus(Body::Vote(vote()))
        },
        GOLDEN_CONSENSUS_ADDRESSED_VOTE,
    );
}

#[test]
fn sync_messages() {
    check(
        "BlockSyncRequest",
        &v1::BlockSyncRequest {
            from_height: 300,
            max_blocks: 64,
            block_id: Vec::new(),
        },
        "08ac021040",
    );
    check("CommittedBlock", &committed_head(), GOLDEN_COMMITTED);
    check("BlockSyncResponse(blocks)", &synced(), GOLDEN_SYNCED);
    check("BlockSyncResponse(error)", &sync_error(), GOLDEN_SYNC_ERROR);
}

#[test]
fn admin_messages() {
    let status = v1::NodeStatus {
        chain_id: 424_242,
        node_name: "node0".into(),
        peer_id: "12D3KooW".into(),
        validator_index: Some(0),
        head_height: 42,
        head_hash: hash(0x44),
        committed_round: 50,
        current_round: 52,
        peers: 3,
        mempool_size: 17,
        syncing: false,
        version: "0.1.0".into(),
        parts: Vec::new(),
    };
    check("NodeStatus", &status, GOLDEN_STATUS);
    let peers = v1::PeersResponse {
        peers: vec![v1::Peer {
            peer_id: "12D3KooW".into(),
            addresses: vec!["/ip4/127.0.0.1/tcp/26010".into()],
            validator_index: Some(1),
            direction: v1::peer::Direction::Outbound as i32,
            connected_seconds: 90,
        }],
    };
    check("PeersResponse", &peers, GOLDEN_PEERS);
    let validators = v1::ValidatorSet {
        validators: vec![v1::ValidatorInfo {
            name: "node0".into(),
            consensus_key: hash(0x55),
            bridge_address: vec![0x66; 20],
            voting_power: 1,
            peer_id: "12D3KooW".into(),
        }],
        total_voting_power: 1,
    };
    check("ValidatorSet", &validators, GOLDEN_VALIDATORS);
    let state = v1::ConsensusState {
        current_round: 52,
        highest_qc_round: 51,
        locked_round: 50,
        last_voted_round: 51,
        highest_tc_round: 49,
        current_leader: 2,
        round_timeout_ms: 2_000,
        signing_floor: 0,
    };
    check("ConsensusState", &state, "08341033183220332831300238d00f");
    check("StatusRequest", &v1::StatusRequest {}, "");
}

const GOLDEN_VOTE: &str = "0807102a1a20333333333333333333333333333333333333333333333333333333333333333320012a40d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
const GOLDEN_BLOCK: &str = "0807102a1a20111111111111111111111111111111111111111111111111111111111111111120022a0300010332070a02c0c0120102";
const GOLDEN_QC: &str = "080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
const GOLDEN_TC: &str = "08061246080110051a40b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b11246080210041a40b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b21ab001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
const GOLDEN_TIMEOUT: &str = "080812b001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a31ac50208061246080110051a40b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b11246080210041a40b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b21ab001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a320032a40e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3";
const GOLDEN_PROPOSAL: &str = "0a360807102a1a20111111111111111111111111111111111111111111111111111111111111111120022a0300010332070a02c0c012010212b001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a31ac50208061246080110051a40b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b11246080210041a40b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b21ab001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a32240c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
const GOLDEN_CONSENSUS_VOTE: &str = "08b2f219226a0807102a1a20333333333333333333333333333333333333333333333333333333333333333320012a40d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
const GOLDEN_SYNCED: &str = "0a94040aeb010a360807102a1a20111111111111111111111111111111111111111111111111111111111111111120022a0300010332070a02c0c012010212b001080710291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a30aa3020a360807102a1a20111111111111111111111111111111111111111111111111111111111111111120022a0300010332070a02c0c012010212b001080810291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a31a360808102b1a20222222222222222222222222222222222222222222222222222222222222222220022a0300010232070a02c0c0120102";
const GOLDEN_SYNC_ERROR: &str = "120a080112067072756e6564";
const GOLDEN_STATUS: &str = "08b2f21912056e6f6465301a08313244334b6f6f572000282a3220444444444444444444444444444444444444444444444444444444444444444438324034480350116205302e312e30";
const GOLDEN_PEERS: &str =
    "0a2a0a08313244334b6f6f5712182f6970342f3132372e302e302e312f7463702f323630313018012002285a";
const GOLDEN_VALIDATORS: &str = "0a4b0a056e6f646530122055555555555555555555555555555555555555555555555555555555555555551a14666666666666666666666666666666666666666620012a08313244334b6f6f571001";
const GOLDEN_SYNC_INFO: &str = "0ab001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a312c50208061246080110051a40b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b11246080210041a40b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b21ab001080510291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
const GOLDEN_BLOCK_PAYLOAD: &str = "0a04f90200aa120302f8701202f86b";
const GOLDEN_CONSENSUS_ADDRESSED_VOTE: &str = "08b2f2191002226a0807102a1a20333333333333333333333333333333333333333333333333333333333333333320012a40d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
const GOLDEN_COMMITTED: &str = "0a360807102a1a20111111111111111111111111111111111111111111111111111111111111111120022a0300010332070a02c0c012010212b001080810291a20222222222222222222222222222222222222222222222222222222222222222222421240a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0224408031240a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a31a360808102b1a20222222222222222222222222222222222222222222222222222222222222222220022a0300010232070a02c0c0120102";
