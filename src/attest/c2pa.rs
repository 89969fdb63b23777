//! Content Credentials (C2PA): clipguard's manifest embedded in a clip it allowed, and the
//! manifest of any clip read back and validated against the trust anchors.
//!
//! The manifest records that the clip is AI-generated (`c2pa.created`, IPTC
//! `trainedAlgorithmicMedia`, the generator named by the caller) and clipguard's decision with
//! its ed25519 attestation. It is signed with an X.509 chain: clipguard makes its own (root,
//! intermediate, signing certificate) in the data folder on first use, or uses one the
//! operator names. Only the manifest is added: the media samples are untouched, and C2PA's
//! hard binding makes any later change to them show as invalid.

use super::{write_private, AttestError};
use crate::config::C2paConfig;
use crate::vocab::{Attestation, ErrorCode, Failure};
use crate::vocab::{Provenance, ProvenanceIngredient, ProvenanceState};
use c2pa::{Builder, BuilderIntent, DigitalSourceType, Reader, SigningAlg};
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The label of clipguard's own assertion (reverse domain, as C2PA asks of private labels).
pub const ASSERTION: &str = "org.clipguard.decision";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "{0}: this container cannot carry Content Credentials (only MP4/MOV and AVI clips can)"
    )]
    Unsupported(String),
    #[error("signing Content Credentials: {0}")]
    Sign(String),
}

impl Failure for CredentialError {
    fn code(&self) -> ErrorCode {
        match self {
            CredentialError::Unsupported(_) => ErrorCode::UnsupportedContentType,
            CredentialError::Read { .. } => ErrorCode::Unreadable,
            _ => ErrorCode::Attestation,
        }
    }
}

/// clipguard's assertion: the decision that let the clip be published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionAssertion {
    pub decision_id: String,
    pub policy_name: String,
    pub policy_version: String,
    /// `allow`, or `review` for a clip a reviewer approved.
    pub action: String,
    /// Set when a reviewer approved a clip the policy sent to review.
    #[serde(default)]
    pub approved_by: Option<String>,
    pub coverage: CoverageSummary,
    /// The ed25519 attestation of the decision, over the sha256 of the clip as it was
    /// checked (before this manifest was added).
    pub attestation: Attestation,
}

/// How much of the clip was seen when it was checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoverageSummary {
    pub complete: bool,
    pub covered_share: f64,
    pub analysed_frames: u64,
    pub duration_s: f64,
}

/// What goes into a manifest besides the signature: the decision, and who generated the clip.
pub struct Credential {
    pub decision: DecisionAssertion,
    /// The generator named in the request (the model or product that made the clip).
    pub generator: Option<String>,
    pub title: String,
}

/// The files of the chain clipguard makes for itself.
pub fn chain_paths(data_dir: &Path) -> ChainPaths {
    ChainPaths {
        root: data_dir.join("c2pa-root.pem"),
        chain: data_dir.join("c2pa-chain.pem"),
        key: data_dir.join("c2pa-signer.key"),
    }
}

pub struct ChainPaths {
    /// The root certificate: the trust anchor verifiers need.
    pub root: PathBuf,
    /// The signing certificate, then the intermediate.
    pub chain: PathBuf,
    /// The signing certificate's private key (PKCS#8 PEM).
    pub key: PathBuf,
}

/// The signing certificate and key, and the C2PA settings (trust anchors, no network) that
/// signing and reading share.
pub struct Credentials {
    signer: c2pa::BoxedSigner,
    context: Arc<c2pa::Context>,
}

impl Credentials {
    /// The configured chain, or clipguard's own (made on first use); the trust anchors are
    /// clipguard's root (when it made the chain) and those configured.
    pub fn load_or_create(data_dir: &Path, cfg: &C2paConfig) -> Result<Self, CredentialError> {
        let key_err = |path: &Path, reason: String| CredentialError::Key {
            path: path.display().to_string(),
            reason,
        };
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| key_err(path, format!("cannot read: {e}")))
        };
        let (chain, key, mut anchors) = match (&cfg.cert_chain, &cfg.private_key) {
            (Some(chain), Some(key)) => (read(chain)?, read(key)?, String::new()),
            (None, None) => {
                let paths = chain_paths(data_dir);
                if !paths.key.exists() {
                    make_chain(data_dir, &paths)?;
                }
                (read(&paths.chain)?, read(&paths.key)?, read(&paths.root)?)
            }
            _ => {
                return Err(key_err(
                    Path::new("[c2pa]"),
                    "cert_chain and private_key must be given together".into(),
                ))
            }
        };
        for path in &cfg.trust_anchors {
            anchors.push_str(&read(path)?);
            anchors.push('\n');
        }
        let alg = match cfg.cert_chain {
            None => SigningAlg::Es256,
            Some(_) => cfg.alg.parse::<SigningAlg>().map_err(|_| {
                key_err(
                    Path::new("[c2pa]"),
                    format!(
                        "alg {:?} is not es256, es384, es512, ps256, ps384, ps512 or ed25519",
                        cfg.alg
                    ),
                )
            })?,
        };
        let chain_path = cfg
            .cert_chain
            .clone()
            .unwrap_or_else(|| chain_paths(data_dir).chain);
        let signer = c2pa::create_signer::from_keys(chain.as_bytes(), key.as_bytes(), alg, None)
            .map_err(|e| key_err(&chain_path, format!("not a usable signing chain: {e}")))?;
        let settings = serde_json::json!({
            "trust": {"user_anchors": (!anchors.trim().is_empty()).then_some(anchors)},
            "verify": {
                "verify_trust": true,
                "ocsp_fetch": false,
                "remote_manifest_fetch": false,
            },
            "builder": {
                "claim_generator_info": {"name": "clipguard", "version": env!("CARGO_PKG_VERSION")},
                // A still of the clip would be a second copy of what was screened, and is
                // not built in (c2pa's `add_thumbnails`).
                "thumbnail": {"enabled": false},
            },
        });
        let context = c2pa::Context::new()
            .with_settings(settings.to_string())
            .map_err(|e| key_err(Path::new("[c2pa]"), format!("settings: {e}")))?
            .into_shared();
        Ok(Self { signer, context })
    }

    /// Writes `src` to `dest` with a signed manifest for `credential` embedded. An existing
    /// manifest in `src` becomes the parent ingredient, so its history is kept.
    pub fn sign_clip(
        &self,
        src: &Path,
        dest: &Path,
        credential: &Credential,
    ) -> Result<(), CredentialError> {
        let format = format_of(src)?;
        if std::fs::canonicalize(dest).ok() == Some(src.canonicalize().unwrap_or_default()) {
            return Err(CredentialError::Sign(format!(
                "{} would overwrite the clip itself",
                dest.display()
            )));
        }
        let sign = |e: c2pa::Error| CredentialError::Sign(e.to_string());
        let mut builder = Builder::from_shared_context(&self.context)
            .with_definition(serde_json::json!({"title": credential.title}).to_string())
            .map_err(sign)?;
        let had_manifest = matches!(
            self.read(src).state,
            ProvenanceState::Valid | ProvenanceState::Trusted | ProvenanceState::Invalid
        );
        if had_manifest {
            builder.set_intent(BuilderIntent::Edit);
        } else {
            builder.set_intent(BuilderIntent::Create(
                DigitalSourceType::TrainedAlgorithmicMedia,
            ));
            let mut created = serde_json::json!({
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            });
            if let Some(g) = &credential.generator {
                created["softwareAgent"] = serde_json::json!({ "name": g });
            }
            builder.add_action(created).map_err(sign)?;
        }
        builder
            .add_assertion(ASSERTION, &credential.decision)
            .map_err(sign)?;
        let open_err = |path: &Path, e: std::io::Error| CredentialError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut input = std::fs::File::open(src).map_err(|e| open_err(src, e))?;
        let mut output = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dest)
            .map_err(|e| open_err(dest, e))?;
        builder
            .sign(self.signer.as_ref(), format, &mut input, &mut output)
            .map_err(sign)?;
        Ok(())
    }

    /// The clip's manifest, validated. Never fails: a manifest that cannot be read is
    /// `invalid` with the reason, so a broken one cannot pass for none.
    pub fn read(&self, clip: &Path) -> Provenance {
        match self.open(clip) {
            Ok(reader) => provenance_of(&reader),
            Err(none) => *none,
        }
    }

    /// The clip's manifest as `read` gives it, and clipguard's assertion in it if any.
    pub fn decision_in(&self, clip: &Path) -> (Provenance, Option<DecisionAssertion>) {
        match self.open(clip) {
            Ok(reader) => (
                provenance_of(&reader),
                reader
                    .active_manifest()
                    .and_then(|m| m.find_assertion::<DecisionAssertion>(ASSERTION).ok()),
            ),
            Err(none) => (*none, None),
        }
    }

    /// Verifies clipguard's Content Credentials embedded in a clip: the manifest holds for
    /// these bytes and chains to a trust anchor, and the decision in it carries an attestation
    /// by `key` for an allowed clip. Ok(None) when the clip has no manifest at all; the
    /// manifest as read either way.
    pub fn verify_embedded(
        &self,
        key: &ed25519_dalek::VerifyingKey,
        clip: &Path,
    ) -> (Provenance, Result<Option<DecisionAssertion>, AttestError>) {
        let (p, decision) = self.decision_in(clip);
        let verified = match p.state {
            ProvenanceState::Absent | ProvenanceState::Unsupported => Ok(None),
            ProvenanceState::Invalid => Err(AttestError::Credentials(p.problems.join("; "))),
            ProvenanceState::Valid => Err(AttestError::Credentials(format!(
                "signed by {:?} ({}), whom no trust anchor vouches for",
                p.common_name, p.issuer
            ))),
            ProvenanceState::Trusted => match decision {
                None => Err(AttestError::Credentials(format!(
                    "they are {:?}'s, with no clipguard decision in them",
                    p.generator
                ))),
                Some(d) => super::verify(key, &d.attestation, &d.attestation.statement.clip_sha256)
                    .map(|()| Some(d)),
            },
        };
        (p, verified)
    }

    /// The validated manifest store, or what to report instead of one.
    fn open(&self, clip: &Path) -> Result<Reader, Box<Provenance>> {
        let state = |state, problems| {
            Box::new(Provenance {
                state,
                problems,
                ..Default::default()
            })
        };
        let invalid = |problem: String| state(ProvenanceState::Invalid, vec![problem]);
        let format = match format_of(clip) {
            Ok(f) => f,
            Err(CredentialError::Unsupported(_)) => {
                return Err(state(ProvenanceState::Unsupported, Vec::new()))
            }
            Err(e) => return Err(invalid(e.to_string())),
        };
        let file =
            std::fs::File::open(clip).map_err(|e| invalid(format!("cannot read the clip: {e}")))?;
        Reader::from_shared_context(&self.context)
            .with_stream(format, file)
            .map_err(|e| match e {
                c2pa::Error::JumbfNotFound | c2pa::Error::ProvenanceMissing => {
                    state(ProvenanceState::Absent, Vec::new())
                }
                e => invalid(format!("the manifest cannot be read: {e}")),
            })
    }
}

const TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

/// The media type of a clip that can carry Content Credentials, from its first bytes.
pub fn media_type(clip: &Path) -> Option<&'static str> {
    format_of(clip).ok()
}

/// The C2PA format of a clip, from its first bytes (uploads have no file name to go by).
fn format_of(clip: &Path) -> Result<&'static str, CredentialError> {
    let mut head = [0u8; 12];
    let mut f = std::fs::File::open(clip).map_err(|e| CredentialError::Read {
        path: clip.display().to_string(),
        reason: e.to_string(),
    })?;
    let n = f.read(&mut head).map_err(|e| CredentialError::Read {
        path: clip.display().to_string(),
        reason: e.to_string(),
    })?;
    match &head[..n] {
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Ok("video/mp4"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'A', b'V', b'I', b' '] => Ok("video/avi"),
        _ => Err(CredentialError::Unsupported(clip.display().to_string())),
    }
}

fn provenance_of(reader: &Reader) -> Provenance {
    let mut p = Provenance {
        state: match reader.validation_state() {
            c2pa::ValidationState::Trusted => ProvenanceState::Trusted,
            c2pa::ValidationState::Valid => ProvenanceState::Valid,
            c2pa::ValidationState::Invalid => ProvenanceState::Invalid,
        },
        ..Default::default()
    };
    if p.state == ProvenanceState::Invalid {
        let failures = reader
            .validation_results()
            .and_then(|r| r.active_manifest())
            .map(|m| m.failure().clone())
            .or_else(|| reader.validation_status().map(|s| s.to_vec()))
            .unwrap_or_default();
        p.problems = failures
            .iter()
            .filter(|s| s.code() != c2pa::validation_status::SIGNING_CREDENTIAL_UNTRUSTED)
            .map(|s| match s.explanation() {
                Some(why) => format!("{}: {why}", s.code()),
                None => s.code().to_string(),
            })
            .collect();
        if p.problems.is_empty() {
            p.problems
                .push("the manifest or one of its ingredients does not validate".into());
        }
    }
    let Some(m) = reader.active_manifest() else {
        p.state = ProvenanceState::Invalid;
        p.problems
            .push("the manifest store has no active manifest".into());
        return p;
    };
    if let Some(g) = m.claim_generator_info.as_ref().and_then(|g| g.first()) {
        p.generator = g.name.clone();
        p.generator_version = g.version.clone().unwrap_or_default();
    } else if let Some(g) = m.claim_generator() {
        p.generator = g.to_string();
    }
    if let Some(sig) = m.signature_info() {
        p.issuer = sig.issuer.clone().unwrap_or_default();
        p.common_name = sig.common_name.clone().unwrap_or_default();
    }
    // The active manifest's actions; the source types and agents of its ingredients' manifests
    // too, so a clip re-signed as an edit still says how it was first made.
    let earlier = reader.iter_manifests().filter(|x| x.label() != m.label());
    for (n, manifest) in std::iter::once(m).chain(earlier).enumerate() {
        for a in manifest.assertions() {
            if !a.label().starts_with("c2pa.actions") {
                continue;
            }
            let Ok(v) = a.value() else { continue };
            for action in v["actions"].as_array().into_iter().flatten() {
                if let (0, Some(name)) = (n, action["action"].as_str()) {
                    p.actions.push(name.to_string());
                }
                if let Some(t) = action["digitalSourceType"].as_str() {
                    if !p.digital_source_types.iter().any(|x| x == t) {
                        p.digital_source_types.push(t.to_string());
                    }
                }
                let agent = &action["softwareAgent"];
                if let Some(name) = agent["name"].as_str().or(agent.as_str()) {
                    if !p.software_agents.iter().any(|x| x == name) {
                        p.software_agents.push(name.to_string());
                    }
                }
            }
        }
    }
    p.ingredients = m
        .ingredients()
        .iter()
        .map(|i| ProvenanceIngredient {
            title: i.title().unwrap_or_default().to_string(),
            format: i.format().unwrap_or_default().to_string(),
            relationship: i.relationship().as_str().to_string(),
        })
        .collect();
    p.clipguard_decision = m
        .find_assertion::<DecisionAssertion>(ASSERTION)
        .map(|d| d.decision_id)
        .unwrap_or_default();
    p
}

/// Makes a root, an intermediate and a signing certificate (ECDSA P-256). Only the signing
/// key is kept: the root and intermediate keys are dropped once they have signed, so nothing
/// on disk can issue another certificate under this root.
fn make_chain(data_dir: &Path, paths: &ChainPaths) -> Result<(), CredentialError> {
    use chrono::Datelike as _;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let err = |path: &Path, reason: String| CredentialError::Key {
        path: path.display().to_string(),
        reason,
    };
    let gen = |e: rcgen::Error| err(&paths.chain, format!("making the certificate chain: {e}"));
    let year = chrono::Utc::now().year();
    let params = |cn: &str, ca: Option<u8>, years: i32| -> Result<CertificateParams, _> {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationName, "clipguard");
        p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
        p.not_after = rcgen::date_time_ymd(year + years, 1, 1);
        p.use_authority_key_identifier_extension = true;
        match ca {
            Some(depth) => {
                p.is_ca = IsCa::Ca(BasicConstraints::Constrained(depth));
                p.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
            }
            None => {
                p.is_ca = IsCa::ExplicitNoCa;
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                // id-kp-documentSigning (RFC 9336) and C2PA's own signing purpose: the
                // purposes C2PA validators accept for claim signers (a reader may list
                // either alone).
                p.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 36]),
                    ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 62558, 2, 1]),
                ];
            }
        }
        Ok(p)
    };
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let root_params = params("clipguard root", Some(1), 20).map_err(gen)?;
    let root = root_params.self_signed(&root_key).map_err(gen)?;
    let root_issuer = Issuer::new(root_params, root_key);
    let mid_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let mid_params = params("clipguard intermediate", Some(0), 15).map_err(gen)?;
    let mid = mid_params.signed_by(&mid_key, &root_issuer).map_err(gen)?;
    let mid_issuer = Issuer::new(mid_params, mid_key);
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen)?;
    let leaf = params("clipguard content credentials", None, 10)
        .map_err(gen)?
        .signed_by(&leaf_key, &mid_issuer)
        .map_err(gen)?;
    std::fs::create_dir_all(data_dir).map_err(|e| err(data_dir, e.to_string()))?;
    write_private(&paths.root, &root.pem()).map_err(|e| err(&paths.root, e.to_string()))?;
    write_private(&paths.chain, &format!("{}{}", leaf.pem(), mid.pem()))
        .map_err(|e| err(&paths.chain, e.to_string()))?;
    write_private(&paths.key, &leaf_key.serialize_pem())
        .map_err(|e| err(&paths.key, e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_chain_is_made_once_kept_private_and_has_a_root_apart() {
        let dir = tempfile::tempdir().unwrap();
        Credentials::load_or_create(dir.path(), &C2paConfig::default()).unwrap();
        let paths = chain_paths(dir.path());
        for p in [&paths.root, &paths.chain, &paths.key] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
        let chain = std::fs::read_to_string(&paths.chain).unwrap();
        let root = std::fs::read_to_string(&paths.root).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(
            !chain.contains(root.trim()),
            "the root is the anchor, not in the chain"
        );
        Credentials::load_or_create(dir.path(), &C2paConfig::default()).unwrap();
        assert_eq!(std::fs::read_to_string(&paths.root).unwrap(), root);
    }

    #[test]
    fn an_operator_chain_needs_its_key_and_a_known_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        Credentials::load_or_create(dir.path(), &C2paConfig::default()).unwrap();
        let paths = chain_paths(dir.path());
        let only_chain = C2paConfig {
            cert_chain: Some(paths.chain.clone()),
            ..Default::default()
        };
        let err = Credentials::load_or_create(dir.path(), &only_chain)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("must be given together"), "{err}");
        let given = C2paConfig {
            cert_chain: Some(paths.chain.clone()),
            private_key: Some(paths.key.clone()),
            trust_anchors: vec![paths.root.clone()],
            ..Default::default()
        };
        Credentials::load_or_create(dir.path(), &given).unwrap();
        let bad_alg = C2paConfig {
            alg: "md5".into(),
            ..given
        };
        let err = Credentials::load_or_create(dir.path(), &bad_alg)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("md5"), "{err}");
    }

    #[test]
    fn only_bmff_and_avi_can_carry_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, head: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, head).unwrap();
            p
        };
        let mp4 = file("a.mp4", b"\0\0\0\x18ftypisom\0\0\0\0");
        let avi = file("a.avi", b"RIFF\0\0\0\0AVI LIST");
        let mkv = file("a.mkv", b"\x1a\x45\xdf\xa3\0\0\0\0\0\0\0\0");
        assert_eq!(media_type(&mp4), Some("video/mp4"));
        assert_eq!(media_type(&avi), Some("video/avi"));
        assert_eq!(media_type(&mkv), None);
        let creds = Credentials::load_or_create(dir.path(), &C2paConfig::default()).unwrap();
        assert_eq!(creds.read(&mkv).state, ProvenanceState::Unsupported);
    }
}
