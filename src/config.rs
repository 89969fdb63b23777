//! One typed configuration: defaults that work from the repository root after `make setup`,
//! an optional TOML file, then environment overrides (`CLIPGUARD_*`).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value {value:?} for environment variable {var}: {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder for the service's own data: the database (persons, later decisions) and keys.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub runtime: RuntimeConfig,
    pub models: ModelsConfig,
    pub media: MediaConfig,
    pub nudity: NudityConfig,
    pub faces: FacesConfig,
    pub text: TextConfig,
    pub persons: PersonsConfig,
    pub policies: PoliciesConfig,
    pub c2pa: C2paConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: "data".into(),
            server: Default::default(),
            runtime: Default::default(),
            models: Default::default(),
            media: Default::default(),
            nudity: Default::default(),
            faces: Default::default(),
            text: Default::default(),
            persons: Default::default(),
            policies: Default::default(),
            c2pa: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonsConfig {
    /// A face closer than this (Euclidean, dlib embedding) to an enrolled face is a match.
    /// dlib's own operating point (99.38% on LFW); policies can set stricter bands on the
    /// reported distance.
    pub match_threshold: f32,
}

impl Default for PersonsConfig {
    fn default() -> Self {
        Self {
            match_threshold: 0.6,
        }
    }
}

/// Content Credentials (C2PA): the certificate clipguard signs with, and whom it trusts in the
/// manifests of clips it screens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct C2paConfig {
    /// PEM certificate chain to sign with: the end-entity certificate, then its
    /// intermediates (not the root). With `private_key`; when neither is set, clipguard makes
    /// its own root, intermediate and signing certificate in the data folder on first use.
    pub cert_chain: Option<PathBuf>,
    /// The PKCS#8 PEM private key of the chain's end-entity certificate.
    pub private_key: Option<PathBuf>,
    /// The signature algorithm of that key: es256 (clipguard's own chain), es384, es512,
    /// ps256, ps384, ps512 or ed25519.
    pub alg: String,
    /// PEM bundles of root certificates whose manifests count as trusted, besides the root
    /// of clipguard's own chain (for a chain given in `cert_chain`, list its root here).
    pub trust_anchors: Vec<PathBuf>,
}

impl Default for C2paConfig {
    fn default() -> Self {
        Self {
            cert_chain: None,
            private_key: None,
            alg: "es256".into(),
            trust_anchors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoliciesConfig {
    /// Policies folder; term lists are in its `lists/` subfolder, fixtures in `tests/`.
    pub dir: PathBuf,
    /// The policy in force: `<dir>/<name>.yaml`.
    pub name: String,
}

impl Default for PoliciesConfig {
    fn default() -> Self {
        Self {
            dir: "policies".into(),
            name: "default".into(),
        }
    }
}

impl PoliciesConfig {
    pub fn policy_file(&self) -> PathBuf {
        self.dir.join(format!("{}.yaml", self.name))
    }

    pub fn lists_dir(&self) -> PathBuf {
        self.dir.join("lists")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP server binds. Loopback by default; any other address needs API keys.
    pub bind: String,
    /// Clips screened at once. Each screening already overlaps decoding with two models, so
    /// one worker per two cores is a good start: measure with `cargo bench --bench service`.
    pub workers: usize,
    /// Clips that may wait for a worker; beyond that, 503 with Retry-After.
    pub queue: usize,
    /// A check not answered within this many seconds is answered 503 (never allow).
    pub deadline_s: u64,
    /// Screened clips remembered, so retries and repeated checks cost no screening (0: off).
    pub cache_clips: usize,
    /// Folders that `file://` URIs may name. None by default: only uploads are accepted.
    pub file_roots: Vec<PathBuf>,
    /// On SIGTERM, how long in-flight requests get to finish.
    pub shutdown_timeout_s: u64,
    /// An upload that sends nothing for this many seconds is answered 408 and its partial file
    /// removed, so a stalled client cannot hold a connection and disk space indefinitely.
    pub upload_timeout_s: u64,
    /// API keys, stored as sha256 (make one with `clipguard keys new`). None: open, which is
    /// only allowed on a loopback address.
    pub api_keys: Vec<ApiKey>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            workers: std::thread::available_parallelism()
                .map(|n| n.get().div_ceil(2))
                .unwrap_or(1),
            queue: 8,
            deadline_s: 30,
            cache_clips: 1024,
            file_roots: Vec::new(),
            shutdown_timeout_s: 60,
            upload_timeout_s: 30,
            api_keys: Vec::new(),
        }
    }
}

/// What a caller may do. Each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Check prompts and clips, read a decision by id.
    Checker,
    /// Also list decisions, clear the review queue, run audits, read persons.
    Auditor,
    /// Also manage persons and reload policies.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Checker => "checker",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Role::Checker, Role::Auditor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not checker, auditor or admin"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key (recorded as the reviewer of reviews made with it).
    pub name: String,
    pub role: Role,
    /// Lowercase hex sha256 of the key.
    pub sha256: String,
}

/// Where inference runs. Thread counts matter on small machines: measure before changing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// The ONNX Runtime shared library (`ORT_DYLIB_PATH` overrides).
    pub onnxruntime: PathBuf,
    /// Execution providers in order of preference: "cuda", "cpu". CPU is always the fallback.
    pub providers: Vec<String>,
    /// Intra-op threads per session.
    pub intra_threads: usize,
    /// Sessions per model, so concurrent screenings do not serialise on one session.
    pub sessions_per_model: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            onnxruntime: ".local/models/libonnxruntime.so.1.31.1".into(),
            providers: vec!["cpu".into()],
            intra_threads: 1,
            sessions_per_model: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// The manifest naming each model file and its sha256.
    pub manifest: PathBuf,
    /// The folder the set-up fetched the model files into.
    pub dir: PathBuf,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            manifest: "models/models.toml".into(),
            dir: ".local/models".into(),
        }
    }
}

/// Limits on accepted clips and how frames are sampled from them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    pub max_file_bytes: u64,
    pub max_duration_s: f64,
    pub max_width: u32,
    pub max_height: u32,
    /// Frames the container may hold (decoded frames are bounded by this too).
    pub max_frames: u64,
    /// Uniform sampling rate, frames per second of video.
    pub sample_fps: f64,
    /// At most this many frames are analysed by the models per clip.
    pub max_analysed_frames: usize,
    /// Mean absolute luma difference (0-255) between consecutive frames that counts as a cut.
    pub scene_cut_threshold: f32,
    /// A sampled frame whose every block differs by at most this much (0-255 luma) from the
    /// last analysed frame reuses that frame's detections.
    pub duplicate_max_diff: f32,
    /// Decoder threads (frame threading).
    pub decode_threads: usize,
    /// Skip decoding frames no other frame refers to (most B-frames): about half the decode
    /// cost. Samples and cuts then come from reference frames, still several per 0.5 s.
    pub skip_non_reference: bool,
    /// A stretch of the declared duration longer than this (seconds) with no decoded frame
    /// makes coverage incomplete. Frames skipped by `skip_non_reference` leave gaps of a few
    /// frames, far shorter.
    pub max_unseen_s: f64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 512 * 1024 * 1024,
            max_duration_s: 120.0,
            max_width: 3840,
            max_height: 2160,
            max_frames: 120 * 60,
            sample_fps: 2.0,
            max_analysed_frames: 64,
            scene_cut_threshold: 30.0,
            duplicate_max_diff: 6.0,
            decode_threads: 1,
            skip_non_reference: true,
            max_unseen_s: 0.5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NudityConfig {
    /// Run the nudity analyser.
    pub enabled: bool,
    /// Frames per inference batch.
    pub batch: usize,
}

impl Default for NudityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            batch: 4,
        }
    }
}

/// On-screen text (PP-OCRv4): read in every analysed frame, screened like prompts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// Run the on-screen text analyser.
    pub enabled: bool,
    /// Frames are scaled down so their longer side is at most this for text detection (then
    /// rounded to multiples of 32); lines are then read at full resolution. Measured on
    /// captions in DejaVu Sans Bold: at 384, capitals 24 px tall (and 17 px) are read in 720p
    /// and 1080p frames; at 320, 17 px capitals are lost. Detection time grows with the area.
    pub det_max_side: u32,
    /// Text is read in scene starts and otherwise in a changed frame once this many seconds
    /// have passed since the last one read. Below two sampling intervals (media.sample_fps
    /// 2: 1 s), so any text on screen for a second is read.
    pub interval_s: f64,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            det_max_side: 384,
            interval_s: 0.9,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FacesConfig {
    /// Run the faces and likeness analyser.
    pub enabled: bool,
    /// Frames are downscaled so their longer side is at most this before face detection: the
    /// detector's cost grows with its input area.
    pub max_side: u32,
    /// Heatmap threshold for a face.
    pub threshold: f32,
    /// Faces whose shorter box side (in frame pixels) is below this are reported as too small
    /// to embed reliably instead of being embedded.
    pub min_embed_px: f32,
    /// The first frame of each scene is searched again at the scale that finds faces this
    /// small (shorter side, frame pixels): a person standing in a wide shot, not a close-up.
    /// 0 turns the closer look off; then every frame is searched at `max_side` only.
    pub scene_min_face_px: f32,
}

impl Default for FacesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_side: 320,
            threshold: 0.5,
            min_embed_px: 40.0,
            scene_min_face_px: 40.0,
        }
    }
}

impl Config {
    /// Defaults, then the TOML file if given, then environment overrides.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.into(),
                    source,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(var: &'static str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                var,
                reason: e.to_string(),
                value,
            })
        }
        if let Some(v) = get("CLIPGUARD_BIND") {
            self.server.bind = v;
        }
        if let Some(v) = get("CLIPGUARD_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("ORT_DYLIB_PATH") {
            self.runtime.onnxruntime = v.into();
        }
        if let Some(v) = get("CLIPGUARD_PROVIDERS") {
            self.runtime.providers = v.split(',').map(|s| s.trim().to_string()).collect();
        }
        if let Some(v) = get("CLIPGUARD_INTRA_THREADS") {
            self.runtime.intra_threads = parse("CLIPGUARD_INTRA_THREADS", v)?;
        }
        if let Some(v) = get("CLIPGUARD_MODELS_DIR") {
            self.models.dir = v.into();
        }
        if let Some(v) = get("CLIPGUARD_POLICIES_DIR") {
            self.policies.dir = v.into();
        }
        if let Some(v) = get("CLIPGUARD_WORKERS") {
            self.server.workers = parse("CLIPGUARD_WORKERS", v)?;
        }
        if let Some(v) = get("CLIPGUARD_QUEUE") {
            self.server.queue = parse("CLIPGUARD_QUEUE", v)?;
        }
        if let Some(v) = get("CLIPGUARD_DEADLINE_S") {
            self.server.deadline_s = parse("CLIPGUARD_DEADLINE_S", v)?;
        }
        if let Some(v) = get("CLIPGUARD_CACHE_CLIPS") {
            self.server.cache_clips = parse("CLIPGUARD_CACHE_CLIPS", v)?;
        }
        if let Some(v) = get("CLIPGUARD_UPLOAD_TIMEOUT_S") {
            self.server.upload_timeout_s = parse("CLIPGUARD_UPLOAD_TIMEOUT_S", v)?;
        }
        if let Some(v) = get("CLIPGUARD_FILE_ROOTS") {
            self.server.file_roots = std::env::split_paths(&v).collect();
        }
        if let Some(v) = get("CLIPGUARD_MAX_FILE_BYTES") {
            self.media.max_file_bytes = parse("CLIPGUARD_MAX_FILE_BYTES", v)?;
        }
        if let Some(v) = get("CLIPGUARD_TEXT_ENABLED") {
            self.text.enabled = parse("CLIPGUARD_TEXT_ENABLED", v)?;
        }
        if let Some(v) = get("CLIPGUARD_FACES_MAX_SIDE") {
            self.faces.max_side = parse("CLIPGUARD_FACES_MAX_SIDE", v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_rejects_bad_numbers() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| (k == "CLIPGUARD_INTRA_THREADS").then(|| "3".to_string()))
            .unwrap();
        assert_eq!(cfg.runtime.intra_threads, 3);
        let err = cfg
            .apply_env(|k| (k == "CLIPGUARD_INTRA_THREADS").then(|| "many".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("CLIPGUARD_INTRA_THREADS"), "{err}");
    }

    #[test]
    fn unknown_keys_in_file_are_refused() {
        let err = toml::from_str::<Config>("[media]\nmax_duraton_s = 3\n").unwrap_err();
        assert!(err.to_string().contains("max_duraton_s"), "{err}");
    }
}
