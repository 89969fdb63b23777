//! Signed publish attestations: an ed25519 signature over a canonical JSON statement that binds
//! a decision to the exact bytes of the clip that was checked. Anyone with the public key can
//! verify offline; changing any byte of the clip or of the statement breaks it.

pub mod c2pa;

use crate::vocab::Action;
use crate::vocab::{Attestation, Statement};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("{path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error("attestation is malformed: {0}")]
    Malformed(String),
    #[error("the signature does not verify: the statement was changed or signed by another key")]
    BadSignature,
    #[error("the clip does not match: its sha256 is {actual}, the attestation is for {attested}")]
    ClipMismatch { attested: String, actual: String },
    #[error("the attestation is for a {0} decision; only allowed clips may be published")]
    NotAllowed(Action),
    #[error("the clip's Content Credentials do not verify: {0}")]
    Credentials(String),
}

impl crate::vocab::Failure for AttestError {
    fn code(&self) -> crate::vocab::ErrorCode {
        crate::vocab::ErrorCode::Attestation
    }
}

pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The service's signing key, kept in the data folder (created on first use, mode 0600).
pub struct Signer {
    key: SigningKey,
}

pub fn key_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    (
        data_dir.join("attestation.key"),
        data_dir.join("attestation.pub"),
    )
}

fn key_error(path: &Path, reason: String) -> AttestError {
    AttestError::Key {
        path: path.display().to_string(),
        reason,
    }
}

impl Signer {
    /// The key `key_file` holds; without one, the data folder's (created on first use), unless
    /// the store is `shared` by replicas: each would make its own key, so that is refused.
    pub fn configured(
        key_file: Option<&Path>,
        data_dir: &Path,
        shared: bool,
    ) -> Result<Self, AttestError> {
        match key_file {
            Some(path) => Self::load(path),
            None if shared => Err(AttestError::Key {
                path: "attestation.key_file".into(),
                reason: "a PostgreSQL store is shared by replicas, which must sign with one key: \
                         name a file of 64 hex digits (`openssl rand -hex 32`) in config \
                         (attestation.key_file, env CLIPGUARD_ATTESTATION__KEY_FILE)"
                    .into(),
            }),
            None => Self::load_or_create(data_dir),
        }
    }

    /// Reads a hex ed25519 seed from `path`.
    pub fn load(path: &Path) -> Result<Self, AttestError> {
        let text = std::fs::read_to_string(path).map_err(|e| key_error(path, e.to_string()))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| key_error(path, "not a hex ed25519 seed".into()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn load_or_create(data_dir: &Path) -> Result<Self, AttestError> {
        let (secret, public) = key_paths(data_dir);
        let err = key_error;
        if secret.exists() {
            return Self::load(&secret);
        }
        std::fs::create_dir_all(data_dir).map_err(|e| err(data_dir, e.to_string()))?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| err(&secret, format!("no randomness: {e}")))?;
        let key = SigningKey::from_bytes(&seed);
        write_private(&secret, &hex::encode(seed)).map_err(|e| err(&secret, e.to_string()))?;
        std::fs::write(&public, hex::encode(key.verifying_key().as_bytes()))
            .map_err(|e| err(&public, e.to_string()))?;
        Ok(Self { key })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn sign(&self, statement: Statement) -> Attestation {
        let signature: Signature = self.key.sign(&statement.canonical());
        Attestation {
            algorithm: "ed25519".into(),
            key_id: key_id(&self.public_key()),
            signature: hex::encode(signature.to_bytes()),
            statement,
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Reads a hex public key file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, AttestError> {
    let err = |reason: String| AttestError::Key {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| err("not a hex ed25519 public key".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| err(e.to_string()))
}

/// sha256 of a clip file.
pub fn sha256_file(path: &Path) -> Result<String, AttestError> {
    crate::digest::sha256_file(path).map_err(|e| AttestError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Checks the signature, that it is for these clip bytes, and that the clip was allowed.
pub fn verify(
    key: &VerifyingKey,
    attestation: &Attestation,
    clip_sha256: &str,
) -> Result<(), AttestError> {
    if attestation.algorithm != "ed25519" {
        return Err(AttestError::Malformed(format!(
            "unknown algorithm {:?}",
            attestation.algorithm
        )));
    }
    let bytes: [u8; 64] = hex::decode(&attestation.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AttestError::Malformed("signature is not 64 hex bytes".into()))?;
    key.verify_strict(
        &attestation.statement.canonical(),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| AttestError::BadSignature)?;
    if attestation.statement.clip_sha256 != clip_sha256 {
        return Err(AttestError::ClipMismatch {
            attested: attestation.statement.clip_sha256.clone(),
            actual: clip_sha256.to_string(),
        });
    }
    if attestation.statement.action != Action::Allow {
        return Err(AttestError::NotAllowed(attestation.statement.action));
    }
    Ok(())
}

/// A statement for an allowed decision made now.
pub fn statement(clip_sha256: String, decision_id: String, policy_version: String) -> Statement {
    Statement {
        action: Action::Allow,
        clip_sha256,
        decision_id,
        issued_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        policy_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> (tempfile::TempDir, Signer, Attestation) {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let att = signer.sign(statement("ab".repeat(32), "d-1".into(), "v1".into()));
        (dir, signer, att)
    }

    #[test]
    fn verifies_and_fails_on_any_change() {
        let (_dir, signer, att) = signed();
        let key = signer.public_key();
        let clip = "ab".repeat(32);
        verify(&key, &att, &clip).unwrap();
        assert!(matches!(
            verify(&key, &att, &"ac".repeat(32)),
            Err(AttestError::ClipMismatch { .. })
        ));
        let mut changed = att.clone();
        changed.statement.policy_version = "v2".into();
        assert!(matches!(
            verify(&key, &changed, &clip),
            Err(AttestError::BadSignature)
        ));
        let mut changed = att.clone();
        changed.statement.action = Action::Block;
        assert!(matches!(
            verify(&key, &changed, &clip),
            Err(AttestError::BadSignature)
        ));
        let other = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        assert!(matches!(
            verify(&other, &att, &clip),
            Err(AttestError::BadSignature)
        ));
        // One bit of the signature flipped (overwriting it with "00" left it unchanged when it
        // began so: 1 run in 256 failed).
        let mut broken = att;
        let first = u8::from_str_radix(&broken.signature[..2], 16).unwrap() ^ 1;
        broken
            .signature
            .replace_range(0..2, &format!("{first:02x}"));
        assert!(verify(&key, &broken, &clip).is_err());
    }

    #[test]
    fn the_key_is_private_and_persists() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, signer, _) = signed();
        let (secret, public) = key_paths(dir.path());
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        assert_eq!(read_public_key(&public).unwrap(), signer.public_key());
    }

    #[test]
    fn the_statement_is_canonical_json() {
        let s = Statement {
            action: Action::Allow,
            clip_sha256: "c".into(),
            decision_id: "d".into(),
            issued_at: "t".into(),
            policy_version: "v".into(),
        };
        assert_eq!(
            String::from_utf8(s.canonical()).unwrap(),
            r#"{"action":"allow","clip_sha256":"c","decision_id":"d","issued_at":"t","policy_version":"v"}"#
        );
    }
}
