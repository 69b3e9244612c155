//! The L1 client over `https://` and `wss://`, as validators reach hosted Ethereum providers:
//! a TLS endpoint (a certificate for `localhost` from a test authority) in front of a real
//! Ethereum node (`hardhat node`). The client trusts the system's authorities, here extended
//! through `SSL_CERT_FILE`; a server whose certificate no trusted authority issued is refused.

use crate::common;

use alloy_primitives::{Address, U256};
use common::eth;
use parallax_bridge::{contracts::IParallaxBridge, l1::L1Client};
use parallax_test_support::l1::{Hardhat, dev_key};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, rustls};

/// A TLS terminator on a free 127.0.0.1 port forwarding every connection to `upstream`.
async fn tls_proxy(upstream: String, cert: rcgen::Certificate, key: &rcgen::KeyPair) -> u16 {
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

/// A certificate authority and a `localhost` certificate it issued.
fn authority(name: &str) -> (rcgen::Certificate, rcgen::Certificate, rcgen::KeyPair) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_owned());
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    (ca_cert, leaf, leaf_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_reach_ethereum_over_https_and_wss() {
    let hardhat = Hardhat::start().await;
    let upstream = hardhat.url.trim_start_matches("http://").to_owned();
    let (ca, leaf, leaf_key) = authority("Parallax test authority");
    let (_, stranger_leaf, stranger_key) = authority("An authority no one trusts");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    // SAFETY: set before any client exists, in a test binary whose only test this is.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &ca_file);
    }
    let trusted = tls_proxy(upstream.clone(), leaf, &leaf_key).await;
    let untrusted = tls_proxy(upstream, stranger_leaf, &stranger_key).await;

    let deployer = hardhat.account(0).await;
    let bridge = deployer
        .deploy_bridge(7_777, &[(Address::with_last_byte(1), 1)])
        .await
        .unwrap();
    for scheme in ["https", "wss"] {
        let url = format!("{scheme}://localhost:{trusted}");
        let client = L1Client::connect(&url, Some(dev_key(3)))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(client.chain_id().await.unwrap(), 31_337, "{url}");
        // Reads, and transactions signed and sent, through TLS.
        client
            .send_call(
                bridge,
                IParallaxBridge::depositETHCall {
                    l2Recipient: Address::with_last_byte(0x22),
                },
                eth(1),
            )
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let count = client
            .view(bridge, IParallaxBridge::depositCountCall {})
            .await
            .unwrap();
        assert!(count >= U256::from(1), "{url}");

        let url = format!("{scheme}://localhost:{untrusted}");
        let refused = match L1Client::connect(&url, None).await {
            Err(_) => true,
            Ok(client) => client.chain_id().await.is_err(),
        };
        assert!(
            refused,
            "{url}: a certificate no trusted authority issued must be refused"
        );
    }
    assert_eq!(
        deployer
            .view(bridge, IParallaxBridge::depositCountCall {})
            .await
            .unwrap(),
        U256::from(2)
    );
}
