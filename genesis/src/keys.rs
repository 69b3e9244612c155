//! Validator key files.
//!
//! A key file holds three secrets, each generated from the operating system's randomness:
//! the ed25519 consensus key (signs proposals, votes and timeouts), the ed25519 network key
//! (the node's libp2p identity, kept apart so it can be rotated without touching consensus),
//! and the secp256k1 bridge key (signs bridge attestations, verifiable by `ecrecover` on
//! Ethereum). It is written with mode 0600 and never overwritten; the secrets are never
//! printed or logged unless asked for, and `Debug` shows only public parts.

use crate::{GenesisError, ParallaxConfig, Validator, parallax::ConsensusKey};
use alloy_primitives::Address;
use ed25519_dalek::SigningKey;
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use std::{fmt, io::Write, path::Path};

/// Largest key file read.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Current key file format version.
pub const KEY_FILE_VERSION: u32 = 1;

/// A validator's keys.
#[derive(Clone)]
pub struct ValidatorKeys {
    consensus: SigningKey,
    network: libp2p_identity::ed25519::Keypair,
    bridge: k256::ecdsa::SigningKey,
}

impl fmt::Debug for ValidatorKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorKeys")
            .field("consensus_public_key", &self.consensus_public_key())
            .field("peer_id", &self.peer_id())
            .field("bridge_address", &self.bridge_address())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    version: u32,
    consensus: KeyEntry,
    network: KeyEntry,
    bridge: KeyEntry,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyEntry {
    #[serde(rename = "type")]
    kind: String,
    /// The public part: ed25519 public key, libp2p peer id, or Ethereum address.
    public: String,
    secret_key: String,
}

fn random_32() -> Result<[u8; 32], GenesisError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| GenesisError::io("<os randomness>", std::io::Error::other(e.to_string())))?;
    Ok(bytes)
}

impl ValidatorKeys {
    /// Generates fresh keys from the operating system's randomness.
    pub fn generate() -> Result<Self, GenesisError> {
        let consensus = SigningKey::from_bytes(&random_32()?);
        let network_secret = libp2p_identity::ed25519::SecretKey::try_from_bytes(random_32()?)
            .map_err(|e| {
                GenesisError::io("<os randomness>", std::io::Error::other(e.to_string()))
            })?;
        let network = libp2p_identity::ed25519::Keypair::from(network_secret);
        // A uniformly random 32-byte string is a valid secp256k1 scalar with overwhelming
        // probability; draw again in the rare case it is not.
        let bridge = loop {
            if let Ok(key) = k256::ecdsa::SigningKey::from_slice(&random_32()?) {
                break key;
            }
        };
        Ok(Self {
            consensus,
            network,
            bridge,
        })
    }

    /// The ed25519 consensus signing key.
    pub fn consensus_key(&self) -> &SigningKey {
        &self.consensus
    }

    /// The consensus public key as it appears in genesis.
    pub fn consensus_public_key(&self) -> ConsensusKey {
        ConsensusKey::from(self.consensus.verifying_key())
    }

    /// The libp2p identity keypair.
    pub fn network_keypair(&self) -> libp2p_identity::Keypair {
        libp2p_identity::Keypair::from(self.network.clone())
    }

    /// The node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        PeerId::from_public_key(&libp2p_identity::PublicKey::from(self.network.public()))
    }

    /// The secp256k1 bridge signing key.
    pub fn bridge_key(&self) -> &k256::ecdsa::SigningKey {
        &self.bridge
    }

    /// The Ethereum address of the bridge key.
    pub fn bridge_address(&self) -> Address {
        Address::from_private_key(&self.bridge)
    }

    /// The genesis entry of a validator holding these keys: its consensus key, bridge address
    /// and peer id, under `name` with `voting_power`.
    pub fn validator(&self, name: impl Into<String>, voting_power: u64) -> Validator {
        Validator {
            name: name.into(),
            consensus_key: self.consensus_public_key(),
            bridge_address: self.bridge_address(),
            voting_power,
            peer_id: self.peer_id(),
        }
    }

    /// The genesis entries of validators holding `keys`, in order, named `node0`, `node1`, …
    /// with equal voting power (1): the set a generated testnet has.
    pub fn equal_validators(keys: &[ValidatorKeys]) -> Vec<Validator> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| k.validator(format!("node{i}"), 1))
            .collect()
    }

    /// The index of these keys in a genesis validator set, if they are one of its validators.
    /// All three public parts must match the entry.
    pub fn validator_index(&self, parallax: &ParallaxConfig) -> Option<usize> {
        let key = self.consensus_public_key();
        parallax.validators.iter().position(|v| {
            v.consensus_key == key
                && v.peer_id == self.peer_id()
                && v.bridge_address == self.bridge_address()
        })
    }

    fn to_file(&self) -> KeyFile {
        KeyFile {
            version: KEY_FILE_VERSION,
            consensus: KeyEntry {
                kind: "ed25519".into(),
                public: self.consensus_public_key().to_string(),
                secret_key: format!("0x{}", hex::encode(self.consensus.to_bytes())),
            },
            network: KeyEntry {
                kind: "ed25519".into(),
                public: self.peer_id().to_string(),
                secret_key: format!("0x{}", hex::encode(self.network.secret().as_ref())),
            },
            bridge: KeyEntry {
                kind: "secp256k1".into(),
                public: self.bridge_address().to_checksum(None),
                secret_key: format!("0x{}", hex::encode(self.bridge.to_bytes())),
            },
        }
    }

    /// Writes the key file with mode 0600. Fails if `path` exists.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), GenesisError> {
        let path = path.as_ref();
        let json = serde_json::to_string_pretty(&self.to_file()).expect("key file serialises");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                GenesisError::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                GenesisError::io(path, e)
            }
        })?;
        file.write_all(json.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| GenesisError::io(path, e))
    }

    /// Reads a key file and checks every public part matches its secret.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, GenesisError> {
        let path = path.as_ref();
        let bytes = crate::error::read_bounded(path, MAX_KEY_FILE_BYTES)?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let file: KeyFile = serde_path_to_error::deserialize(de)
            .map_err(|e| GenesisError::parse(path, "key file", e))?;
        let bad = |field: &str, reason: String| GenesisError::InvalidKey {
            path: path.to_path_buf(),
            field: field.into(),
            reason,
        };
        if file.version != KEY_FILE_VERSION {
            return Err(bad(
                "version",
                format!(
                    "unsupported version {} (this build reads {KEY_FILE_VERSION})",
                    file.version
                ),
            ));
        }
        let secret =
            |field: &str, entry: &KeyEntry, kind: &str| -> Result<[u8; 32], GenesisError> {
                if entry.kind != kind {
                    return Err(bad(
                        &format!("{field}.type"),
                        format!("expected {kind:?}, got {:?}", entry.kind),
                    ));
                }
                let hex = entry
                    .secret_key
                    .strip_prefix("0x")
                    .unwrap_or(&entry.secret_key);
                let bytes = hex::decode(hex)
                    .map_err(|e| bad(&format!("{field}.secretKey"), format!("invalid hex: {e}")))?;
                bytes.try_into().map_err(|v: Vec<u8>| {
                    bad(
                        &format!("{field}.secretKey"),
                        format!("expected 32 bytes, got {}", v.len()),
                    )
                })
            };

        let consensus = SigningKey::from_bytes(&secret("consensus", &file.consensus, "ed25519")?);
        let network_secret = libp2p_identity::ed25519::SecretKey::try_from_bytes(secret(
            "network",
            &file.network,
            "ed25519",
        )?)
        .map_err(|e| bad("network.secretKey", e.to_string()))?;
        let network = libp2p_identity::ed25519::Keypair::from(network_secret);
        let bridge =
            k256::ecdsa::SigningKey::from_slice(&secret("bridge", &file.bridge, "secp256k1")?)
                .map_err(|_| {
                    bad(
                        "bridge.secretKey",
                        "not a valid secp256k1 secret key".into(),
                    )
                })?;
        let keys = Self {
            consensus,
            network,
            bridge,
        };

        let checks = [
            (
                "consensus.public",
                &file.consensus.public,
                keys.consensus_public_key().to_string(),
            ),
            (
                "network.public",
                &file.network.public,
                keys.peer_id().to_string(),
            ),
            (
                "bridge.public",
                &file.bridge.public,
                keys.bridge_address().to_checksum(None),
            ),
        ];
        for (field, given, derived) in checks {
            if !given.eq_ignore_ascii_case(&derived) {
                return Err(bad(
                    field,
                    format!("{given} does not match the secret key (which gives {derived})"),
                ));
            }
        }
        Ok(keys)
    }

    /// The key file's contents as JSON, secrets included; for `--show-secret`.
    pub fn to_json_with_secrets(&self) -> String {
        serde_json::to_string_pretty(&self.to_file()).expect("key file serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let keys = ValidatorKeys::generate().unwrap();
        keys.save(&path).unwrap();
        let loaded = ValidatorKeys::load(&path).unwrap();
        assert_eq!(loaded.consensus_public_key(), keys.consensus_public_key());
        assert_eq!(loaded.peer_id(), keys.peer_id());
        assert_eq!(loaded.bridge_address(), keys.bridge_address());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Never overwritten.
        let err = ValidatorKeys::generate().unwrap().save(&path).unwrap_err();
        assert!(matches!(err, GenesisError::AlreadyExists { .. }), "{err}");
        assert_eq!(
            ValidatorKeys::load(&path).unwrap().peer_id(),
            keys.peer_id()
        );
        // Debug shows no secret.
        let secret_hex = hex::encode(keys.consensus_key().to_bytes());
        assert!(!format!("{keys:?}").contains(&secret_hex));
    }

    #[test]
    fn fresh_keys_differ() {
        let a = ValidatorKeys::generate().unwrap();
        let b = ValidatorKeys::generate().unwrap();
        assert_ne!(a.consensus_public_key(), b.consensus_public_key());
        assert_ne!(a.peer_id(), b.peer_id());
        assert_ne!(a.bridge_address(), b.bridge_address());
    }

    #[test]
    fn tampered_key_files_are_rejected_with_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let keys = ValidatorKeys::generate().unwrap();
        let other = ValidatorKeys::generate().unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&keys.to_json_with_secrets()).unwrap();
        json["bridge"]["public"] = other.bridge_address().to_checksum(None).into();
        let path = dir.path().join("k1.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let err = ValidatorKeys::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("bridge.public") && err.contains("does not match"),
            "{err}"
        );

        let mut json: serde_json::Value =
            serde_json::from_str(&keys.to_json_with_secrets()).unwrap();
        json["consensus"]["secretKey"] = "0x1234".into();
        let path = dir.path().join("k2.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let err = ValidatorKeys::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("consensus.secretKey") && err.contains("expected 32 bytes"),
            "{err}"
        );

        let path = dir.path().join("k3.json");
        std::fs::write(&path, "{\"version\": 1}").unwrap();
        let err = ValidatorKeys::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("invalid key file") || err.contains("missing field"),
            "{err}"
        );
    }
}
