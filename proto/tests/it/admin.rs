//! The admin service's generated server and client talk over a real HTTP/2 connection on
//! 127.0.0.1.

use parallax_proto::v1::{
    self,
    admin_client::AdminClient,
    admin_server::{Admin, AdminServer},
};
use std::time::Duration;
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

/// A fixed-answer admin service: the node implements the real one.
struct Fixed;

#[tonic::async_trait]
impl Admin for Fixed {
    async fn get_status(
        &self,
        _: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::NodeStatus>, Status> {
        Ok(Response::new(v1::NodeStatus {
            chain_id: 424_242,
            head_height: 9,
            validator_index: Some(1),
            ..Default::default()
        }))
    }

    async fn get_peers(
        &self,
        _: Request<v1::PeersRequest>,
    ) -> Result<Response<v1::PeersResponse>, Status> {
        Ok(Response::new(v1::PeersResponse {
            peers: vec![
                v1::Peer {
                    peer_id: "p1".into(),
                    ..Default::default()
                },
                v1::Peer {
                    peer_id: "p2".into(),
                    ..Default::default()
                },
            ],
        }))
    }

    async fn get_validators(
        &self,
        _: Request<v1::ValidatorsRequest>,
    ) -> Result<Response<v1::ValidatorSet>, Status> {
        Ok(Response::new(v1::ValidatorSet {
            validators: vec![],
            total_voting_power: 4,
        }))
    }

    async fn get_evidence(
        &self,
        _: Request<v1::EvidenceRequest>,
    ) -> Result<Response<v1::EvidenceList>, Status> {
        Ok(Response::new(v1::EvidenceList { evidence: vec![] }))
    }

    async fn get_consensus_state(
        &self,
        _: Request<v1::ConsensusStateRequest>,
    ) -> Result<Response<v1::ConsensusState>, Status> {
        Err(Status::unavailable("consensus not started"))
    }
}

#[tokio::test]
async fn admin_rpcs_round_trip_over_grpc() {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AdminServer::new(Fixed))
            .serve_with_incoming(incoming),
    );

    let calls = async {
        let mut client = AdminClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let status = client
            .get_status(v1::StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (status.chain_id, status.head_height, status.validator_index),
            (424_242, 9, Some(1))
        );
        let peers = client
            .get_peers(v1::PeersRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            peers
                .peers
                .iter()
                .map(|p| p.peer_id.as_str())
                .collect::<Vec<_>>(),
            ["p1", "p2"]
        );
        let set = client
            .get_validators(v1::ValidatorsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(set.total_voting_power, 4);
        let err = client
            .get_consensus_state(v1::ConsensusStateRequest {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert_eq!(err.message(), "consensus not started");
    };
    tokio::time::timeout(Duration::from_secs(20), calls)
        .await
        .expect("admin calls finished in time");
    server.abort();
}
