//! `parallax admin status|peers|validators|consensus|evidence --grpc ADDR`: asks a running node's
//! gRPC admin service and prints the answer as `key: value` lines.

use crate::{admin::endpoint_url, cli::AdminQuery};
use eyre::{WrapErr, eyre};
use parallax_proto::v1::{self, admin_client::AdminClient};
use std::{io::Write, time::Duration};
use tonic::transport::{Channel, Endpoint};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer accepted (a validator set of thousands fits).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

pub(crate) fn query(what: AdminQuery, grpc: &str, out: &mut impl Write) -> eyre::Result<()> {
    let url = endpoint_url(grpc).map_err(|e| eyre!(e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let lines = runtime.block_on(ask(what, &url))?;
    for (key, value) in lines {
        writeln!(out, "{key}: {value}")?;
    }
    out.flush()?;
    Ok(())
}

fn status_error(url: &str, status: tonic::Status) -> eyre::Report {
    if status.code() == tonic::Code::Unavailable {
        eyre!(
            "the admin service at {url} is unavailable: {}",
            status.message()
        )
    } else {
        eyre!(
            "the admin service at {url} answered {:?}: {}",
            status.code(),
            status.message()
        )
    }
}

async fn ask(what: AdminQuery, url: &str) -> eyre::Result<Vec<(String, String)>> {
    let channel: Channel = Endpoint::from_shared(url.to_string())
        .wrap_err_with(|| format!("{url} is not a valid address"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect()
        .await
        .map_err(|e| {
            // tonic's transport error hides its cause (connection refused, ...) in the chain.
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !why.contains(&text) {
                    why = format!("{why}: {text}");
                }
                source = s.source();
            }
            eyre!("cannot connect to the admin service at {url}: {why}")
        })?;
    let mut client = AdminClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES);
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| lines.push((k.to_string(), v));
    match what {
        AdminQuery::Status => {
            let s = client
                .get_status(v1::StatusRequest {})
                .await
                .map_err(|e| status_error(url, e))?
                .into_inner();
            put("chain_id", s.chain_id.to_string());
            put("node_name", s.node_name);
            put("peer_id", s.peer_id);
            put("validator_index", opt(s.validator_index));
            put("head_height", s.head_height.to_string());
            put("head_hash", hex0x(&s.head_hash));
            put("committed_round", s.committed_round.to_string());
            put("current_round", s.current_round.to_string());
            put("peers", s.peers.to_string());
            put("mempool_size", s.mempool_size.to_string());
            put("syncing", s.syncing.to_string());
            put("version", s.version);
            for part in s.parts {
                let state = match (part.running, part.error) {
                    (true, _) => "running".to_owned(),
                    (false, Some(e)) => format!("stopped: {e}"),
                    (false, None) => "stopped".to_owned(),
                };
                put(&format!("part.{}", part.name.replace(' ', "_")), state);
            }
        }
        AdminQuery::Peers => {
            let peers = client
                .get_peers(v1::PeersRequest {})
                .await
                .map_err(|e| status_error(url, e))?
                .into_inner()
                .peers;
            put("peers", peers.len().to_string());
            for (i, p) in peers.into_iter().enumerate() {
                let direction = match v1::peer::Direction::try_from(p.direction) {
                    Ok(v1::peer::Direction::Inbound) => "inbound",
                    Ok(v1::peer::Direction::Outbound) => "outbound",
                    _ => "unknown",
                };
                put(&format!("peer.{i}.peer_id"), p.peer_id);
                put(&format!("peer.{i}.validator_index"), opt(p.validator_index));
                put(&format!("peer.{i}.direction"), direction.into());
                put(
                    &format!("peer.{i}.connected_seconds"),
                    p.connected_seconds.to_string(),
                );
                put(&format!("peer.{i}.addresses"), p.addresses.join(","));
            }
        }
        AdminQuery::Validators => {
            let set = client
                .get_validators(v1::ValidatorsRequest {})
                .await
                .map_err(|e| status_error(url, e))?
                .into_inner();
            put("validators", set.validators.len().to_string());
            put("total_voting_power", set.total_voting_power.to_string());
            for (i, v) in set.validators.into_iter().enumerate() {
                put(&format!("validator.{i}.name"), v.name);
                put(
                    &format!("validator.{i}.consensus_key"),
                    hex0x(&v.consensus_key),
                );
                put(
                    &format!("validator.{i}.bridge_address"),
                    hex0x(&v.bridge_address),
                );
                put(
                    &format!("validator.{i}.voting_power"),
                    v.voting_power.to_string(),
                );
                put(&format!("validator.{i}.peer_id"), v.peer_id);
            }
        }
        AdminQuery::Consensus => {
            let c = client
                .get_consensus_state(v1::ConsensusStateRequest {})
                .await
                .map_err(|e| status_error(url, e))?
                .into_inner();
            put("current_round", c.current_round.to_string());
            put("highest_qc_round", c.highest_qc_round.to_string());
            put("locked_round", c.locked_round.to_string());
            put("last_voted_round", c.last_voted_round.to_string());
            put("highest_tc_round", c.highest_tc_round.to_string());
            put("current_leader", c.current_leader.to_string());
            put("round_timeout_ms", c.round_timeout_ms.to_string());
            put("signing_floor", c.signing_floor.to_string());
        }
        AdminQuery::Evidence { validator } => {
            let list = client
                .get_evidence(v1::EvidenceRequest { validator })
                .await
                .map_err(|e| status_error(url, e))?
                .into_inner()
                .evidence;
            put("evidence", list.len().to_string());
            for (i, record) in list.into_iter().enumerate() {
                put(&format!("evidence.{i}.id"), hex0x(&record.id));
                match parallax_consensus::Evidence::decode(&record.encoded) {
                    Ok(e) => {
                        put(&format!("evidence.{i}.kind"), e.kind().as_str().into());
                        put(&format!("evidence.{i}.validator"), e.culprit().to_string());
                        put(&format!("evidence.{i}.round"), e.round().to_string());
                    }
                    Err(e) => put(&format!("evidence.{i}.error"), e.to_string()),
                }
                put(&format!("evidence.{i}.encoded"), hex0x(&record.encoded));
            }
        }
    }
    Ok(lines)
}
