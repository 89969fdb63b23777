//! One typed configuration: defaults (paths relative to the install prefix), an optional TOML
//! file (paths relative to its folder), then environment overrides: every key is also a
//! `CLIPGUARD_<SECTION>__<KEY>` variable, derived from the structure.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each message is complete on its own: the cause is part of it, not a `source` that error
/// chains would print a second time.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid config file {}: {error}", path.display())]
    Parse {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("invalid value in environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("environment variable {var} names no setting ({key}): {reason}")]
    UnknownEnv {
        var: String,
        key: String,
        reason: String,
    },
}

/// The service's own sections are fields here; each analyser's section (`[faces]`, `[speech]`...)
/// is declared in the analyser's module ([`Settings`]) and kept in `analysers`, so adding an
/// analyser does not touch this file. Unknown sections and keys are still refused:
/// [`AnalyserSettings`] checks each against the section its analyser declared.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Folder for the service's own data: the database (persons, later decisions) and keys.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub runtime: RuntimeConfig,
    pub models: ModelsConfig,
    pub media: MediaConfig,
    pub persons: PersonsConfig,
    pub policies: PoliciesConfig,
    pub c2pa: C2paConfig,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub attestation: AttestationConfig,
    pub callbacks: CallbacksConfig,
    pub traces: TracesConfig,
    /// The analysers' sections, under their names.
    #[serde(flatten)]
    pub analysers: AnalyserSettings,
}

/// Where decisions, reviews, the registry and audit jobs live.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/db` for a PostgreSQL server shared by several
    /// replicas (env `CLIPGUARD_DATABASE_URL` or `CLIPGUARD_STORE__URL`); none: SQLite in the
    /// data folder.
    pub url: Option<String>,
}

/// The attestation signing key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttestationConfig {
    /// A file holding the hex ed25519 seed (a Kubernetes Secret, mode 0600). Required with a
    /// PostgreSQL store, where replicas must sign with one key; without one the embedded
    /// default creates `attestation.key` in the data folder.
    pub key_file: Option<PathBuf>,
}

/// Callbacks: where decisions may be pushed, and how they are signed and retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksConfig {
    /// The hosts a callback URL may name (`hooks.example.com`, `10.0.0.7`, or with a port,
    /// `127.0.0.1:9000`, which then allows only that port). A request naming any other host
    /// is refused: clipguard never calls a URL an operator did not allow. Empty: callbacks
    /// are refused.
    pub allowed_hosts: Vec<String>,
    /// The shared secret each callback is signed with (HMAC-SHA256; `Clipguard-Signature`),
    /// the same on every replica (env `CLIPGUARD_CALLBACKS__SECRET`). Empty: callbacks are
    /// refused.
    pub secret: String,
    /// Attempts per callback before it is recorded as failed.
    pub max_attempts: u32,
    /// The first retry comes this many milliseconds after a failed attempt; each later one
    /// twice as long after the one before, up to `retry_max_s`.
    pub retry_base_ms: u64,
    pub retry_max_s: u64,
    /// Seconds an attempt may take, connection and answer included.
    pub timeout_s: u64,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            secret: String::new(),
            max_attempts: 10,
            retry_base_ms: 1000,
            retry_max_s: 600,
            timeout_s: 10,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: "data".into(),
            server: Default::default(),
            runtime: Default::default(),
            models: Default::default(),
            media: Default::default(),
            persons: Default::default(),
            policies: Default::default(),
            c2pa: Default::default(),
            log: Default::default(),
            store: Default::default(),
            attestation: Default::default(),
            callbacks: Default::default(),
            traces: Default::default(),
            analysers: Default::default(),
        }
    }
}

impl Config {
    /// An analyser's section: as configured, its defaults where it says nothing.
    pub fn settings<T: Settings>(&self) -> T {
        self.analysers.get()
    }

    /// Changes an analyser's section (tests, benchmarks, the CLI's flags).
    pub fn update_settings<T: Settings>(&mut self, change: impl FnOnce(&mut T)) {
        let mut s = self.settings::<T>();
        change(&mut s);
        self.analysers.set(s);
    }
}

/// An analyser's section of the configuration, declared in the analyser's own module with
/// `inventory::submit! { SettingsSpec::of::<ItsConfig>() }`: loading, defaults, environment
/// variables, `config show` and the refusal of unknown keys follow from that one line.
pub trait Settings: Serialize + serde::de::DeserializeOwned + Default {
    /// The section's name: `[NAME]` in the file, `CLIPGUARD_NAME__KEY` in the environment.
    const NAME: &'static str;
}

/// A declared section, as configuration loading sees it without knowing its type.
pub struct SettingsSpec {
    name: &'static str,
    defaults: fn() -> toml::Table,
    /// The section as given, read as its type and written back: every key present, each
    /// value of its type (`1` for a float setting reads `1.0`).
    normalise: fn(toml::Table) -> Result<toml::Table, String>,
    /// The section read straight from a file's text, so an error keeps its line.
    check_in_file: fn(&str) -> Result<(), toml::de::Error>,
}

impl SettingsSpec {
    pub const fn of<T: Settings>() -> Self {
        Self {
            name: T::NAME,
            defaults: defaults_of::<T>,
            normalise: normalise_as::<T>,
            check_in_file: check_in_file::<T>,
        }
    }
}

inventory::collect!(SettingsSpec);

fn defaults_of<T: Settings>() -> toml::Table {
    table_of(T::default())
}

fn normalise_as<T: Settings>(table: toml::Table) -> Result<toml::Table, String> {
    let value: T = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    Ok(table_of(value))
}

fn table_of<T: Serialize>(value: T) -> toml::Table {
    match toml::Value::try_from(value) {
        Ok(toml::Value::Table(t)) => t,
        // Every section serialises to a table (a test checks it).
        _ => toml::Table::new(),
    }
}

fn check_in_file<T: Settings>(text: &str) -> Result<(), toml::de::Error> {
    toml::from_str::<SectionOf<T>>(text).map(drop)
}

/// One section of a document, deserialised in place: the rest is skipped unread.
struct SectionOf<T>(std::marker::PhantomData<T>);

impl<'de, T: Settings> Deserialize<'de> for SectionOf<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Settings> serde::de::Visitor<'de> for Visit<T> {
            type Value = SectionOf<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a configuration table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                while let Some(key) = map.next_key::<String>()? {
                    if key == T::NAME {
                        map.next_value::<T>()?;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(SectionOf(std::marker::PhantomData))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

fn declared() -> impl Iterator<Item = &'static SettingsSpec> {
    inventory::iter::<SettingsSpec>.into_iter()
}

/// The analysers' sections as TOML tables, each checked against its declaration when read,
/// so a typo in `[faces]` is refused as one in `[server]` is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyserSettings(BTreeMap<String, toml::Table>);

impl Default for AnalyserSettings {
    /// Every declared section at its defaults, so `config show` and the environment
    /// variables know every key.
    fn default() -> Self {
        Self(
            declared()
                .map(|s| (s.name.to_string(), (s.defaults)()))
                .collect(),
        )
    }
}

impl AnalyserSettings {
    fn get<T: Settings>(&self) -> T {
        let mut table = defaults_of::<T>();
        if let Some(given) = self.0.get(T::NAME) {
            merge(&mut table, given.clone());
        }
        toml::Value::Table(table)
            .try_into()
            .expect("sections are checked against their type when read or set")
    }

    fn set<T: Settings>(&mut self, value: T) {
        self.0.insert(T::NAME.to_string(), table_of(value));
    }
}

impl<'de> Deserialize<'de> for AnalyserSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let given = BTreeMap::<String, toml::Value>::deserialize(d)?;
        let mut sections = BTreeMap::new();
        for (name, value) in given {
            let Some(spec) = declared().find(|s| s.name == name) else {
                let mut known: Vec<&str> = declared().map(|s| s.name).collect();
                known.sort_unstable();
                return Err(D::Error::custom(format!(
                    "unknown field `{name}`: neither a setting nor an analyser's section ({})",
                    known.join(", ")
                )));
            };
            let toml::Value::Table(table) = value else {
                return Err(D::Error::custom(format!("[{name}] must be a table")));
            };
            let table = (spec.normalise)(table)
                .map_err(|e| D::Error::custom(format!("{e}, in [{name}]")))?;
            sections.insert(name, table);
        }
        Ok(Self(sections))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonsConfig {
    /// A face closer than this (Euclidean, dlib embedding) to an enrolled face is a match.
    /// dlib's own operating point (99.38% on LFW); policies can set stricter bands on the
    /// reported distance.
    pub match_threshold: f32,
    /// Stricter thresholds for small faces, whose chips are upscaled: a face whose shorter
    /// side is under `below_px` matches only closer than `match_threshold` (the first entry
    /// that applies, so list them smallest first). Calibrated on the test photographs at 24 to
    /// 60 px (docs/architecture.md, small faces): every other face measured stays at least 0.05
    /// beyond the threshold of its size, and under 32 px, where chips hold least, stricter still.
    pub small_faces: Vec<SmallFaceThreshold>,
}

/// The match threshold for faces under a size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmallFaceThreshold {
    /// Shorter side of the face box, frame pixels.
    pub below_px: f32,
    pub match_threshold: f32,
}

impl PersonsConfig {
    /// The match threshold for a face whose box's shorter side is `px`.
    pub fn threshold_for(&self, px: f32) -> f32 {
        self.small_faces
            .iter()
            .find(|t| px < t.below_px)
            .map_or(self.match_threshold, |t| t.match_threshold)
    }
}

impl Default for PersonsConfig {
    fn default() -> Self {
        Self {
            match_threshold: 0.6,
            small_faces: vec![
                SmallFaceThreshold {
                    below_px: 32.0,
                    match_threshold: 0.5,
                },
                SmallFaceThreshold {
                    below_px: 64.0,
                    match_threshold: 0.55,
                },
            ],
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
    /// A request body (an upload, JSON, a hash file) that sends nothing for this many seconds
    /// is answered 408 (an upload's partial file removed), so a stalled client cannot hold a
    /// connection and disk space indefinitely.
    pub upload_timeout_s: u64,
    /// After its first `body_grace_s` seconds, a request body must have arrived at an average
    /// of at least this many bytes a second, or it is answered 408: a client trickling a byte
    /// every few seconds is cut off instead of holding a connection and a file for hours.
    pub body_min_rate: u64,
    /// Seconds a body may take before `body_min_rate` applies.
    pub body_grace_s: u64,
    /// The most seconds a whole request body may take; 0: `body_grace_s` plus the time
    /// `media.max_file_bytes` takes at `body_min_rate` (512 MB at 64 KiB/s: 8,202 s).
    pub body_deadline_s: u64,
    /// Connections served at once; beyond it, new connections wait in the listen backlog.
    /// Lowered at start to what the file-descriptor limit allows.
    pub max_connections: usize,
    /// Requests with a body (uploads, JSON) being read or answered at once; beyond it, 503
    /// with Retry-After before the body is read. 0: half of `max_connections`. Lowered at
    /// start to what the file-descriptor limit allows (each upload holds a temporary file).
    pub max_uploads: usize,
    /// API keys, stored as sha256 (make one with `clipguard keys new`). None: open, which is
    /// only allowed on a loopback address.
    pub api_keys: Vec<ApiKey>,
    /// Seconds a replica holds an audit job without renewing its lease: after a kill, another
    /// replica (or this one, restarted) resumes the job this long after.
    pub audit_lease_s: u64,
    /// Seconds a replica holds an asynchronous check without renewing its lease: after a kill,
    /// another replica (or this one, restarted) screens the clip this long after.
    pub job_lease_s: u64,
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
            body_min_rate: 64 * 1024,
            body_grace_s: 10,
            body_deadline_s: 0,
            max_connections: 8192,
            max_uploads: 0,
            api_keys: Vec::new(),
            audit_lease_s: 30,
            job_lease_s: 30,
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
    /// Where the decisions of this key's clip checks are pushed when a request names no
    /// `callback_url` of its own (the request's wins), so a pipeline need not repeat it on
    /// every call. Its host must be in `callbacks.allowed_hosts`: the server refuses to
    /// start otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
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
    /// cost, but a picture shown in such a frame alone is never seen, so coverage is then
    /// incomplete whenever frames were skipped. Off by default.
    pub skip_non_reference: bool,
    /// Decode frames no other frame refers to without the loop filter (deblocking): they are
    /// still looked at for cuts and flashes and analysed when picked, a little blockier;
    /// reference frames are decoded exactly, so nothing drifts.
    pub skip_loop_filter_non_reference: bool,
    /// A stretch of the declared duration longer than this (seconds) with no decoded frame
    /// makes coverage incomplete.
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
            skip_non_reference: false,
            skip_loop_filter_non_reference: true,
            max_unseen_s: 0.5,
        }
    }
}

/// OpenTelemetry traces of each check, exported over OTLP/HTTP (protobuf).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracesConfig {
    /// The collector's OTLP/HTTP base URL (`http://otel-collector:4318`); spans are sent to
    /// its `/v1/traces`. None: the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` decides, and with neither set nothing is exported.
    pub endpoint: Option<String>,
}

/// How the service logs (stderr). `RUST_LOG` still chooses the levels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` (one object per line) for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting is also an environment variable: `CLIPGUARD_` then the path of its key in
/// the TOML file, in capitals, sections separated by `__` (`server.bind` is
/// `CLIPGUARD_SERVER__BIND`). Derived from the file's structure, so new settings need no code.
pub const ENV_PREFIX: &str = "CLIPGUARD_";

/// Variables under the prefix that are not settings: the config file's own, and those of the
/// clients, the API test harness and the benchmarks, which share a shell with the service.
const NOT_SETTINGS: &[&str] = &[
    "CLIPGUARD_CONFIG",
    "CLIPGUARD_URL",
    "CLIPGUARD_API_KEY",
    "CLIPGUARD_BIN",
    "CLIPGUARD_SOAK_",
    "CLIPGUARD_BENCH_",
    "CLIPGUARD_TEST_",
    "CLIPGUARD_REQUIRE_POSTGRES",
];

/// Settings with a conventional variable of their own.
pub const ENV_ALIASES: &[(&str, &str)] = &[
    ("ORT_DYLIB_PATH", "runtime.onnxruntime"),
    ("CLIPGUARD_DATABASE_URL", "store.url"),
];

/// Settings that are paths (or lists of paths). A relative one is resolved against the config
/// file's folder when the file sets it, else against the install prefix: never against the
/// working directory, so the service finds its files wherever it is started.
const PATH_SETTINGS: &[&str] = &[
    "data_dir",
    "runtime.onnxruntime",
    "models.manifest",
    "models.dir",
    "policies.dir",
    "server.file_roots",
    "attestation.key_file",
    "c2pa.cert_chain",
    "c2pa.private_key",
    "c2pa.trust_anchors",
    "meaning.cache_dir",
];

/// Keys whose values `config show` hides wherever they are, alone or as a word of the key
/// (`key_password`, `client_secret`); any URL's password is hidden too.
const SECRET_KEYS: &[&str] = &["sha256", "password", "secret", "token"];

/// The folder the default paths (`policies`, `.local/models`...) are relative to: the folder
/// above `bin/` for an installed binary (`/opt/clipguard/bin/clipguard` gives
/// `/opt/clipguard`), else the source tree the binary was built in.
pub fn install_prefix() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let bin = exe.parent()?;
            (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_path_buf))?
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The setting an environment variable names, as a key path, or None for a variable that is
/// not about settings.
pub fn env_setting(var: &str) -> Option<Vec<String>> {
    if let Some((_, key)) = ENV_ALIASES.iter().find(|(v, _)| *v == var) {
        return Some(key.split('.').map(str::to_string).collect());
    }
    let rest = var.strip_prefix(ENV_PREFIX)?;
    if NOT_SETTINGS
        .iter()
        .any(|n| var == *n || (n.ends_with('_') && var.starts_with(n)))
    {
        return None;
    }
    Some(rest.split("__").map(str::to_ascii_lowercase).collect())
}

/// The variable that sets a key path (the inverse of [`env_setting`], aliases aside).
pub fn env_var(key: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", key.join("__").to_ascii_uppercase())
}

impl Config {
    /// Defaults, then the TOML file if given, then environment overrides; relative paths
    /// resolved (see `PATH_SETTINGS`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars_os(), &install_prefix())
    }

    /// [`Config::load`] with the environment and the install prefix given, for tests.
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
        prefix: &Path,
    ) -> Result<Self, ConfigError> {
        let mut tree = defaults_tree();
        resolve_paths(&mut tree, prefix);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.into(),
                error,
            })?;
            let parse = |error| ConfigError::Parse {
                path: path.into(),
                error,
            };
            // Parsed as the typed config first, each analyser's section on its own: a typo is
            // reported with its line.
            for spec in declared() {
                (spec.check_in_file)(&text).map_err(parse)?;
            }
            toml::from_str::<Config>(&text).map_err(parse)?;
            let mut layer: toml::Table = toml::from_str(&text).map_err(parse)?;
            let dir = std::path::absolute(path)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            resolve_paths(&mut layer, &dir);
            merge(&mut tree, layer);
        }
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .filter_map(|(k, v)| Some((env_setting(&k)?, k, v)))
            .collect();
        vars.sort_by(|a, b| a.1.cmp(&b.1));
        for (key, var, value) in vars {
            let value = value.into_string().map_err(|_| ConfigError::Env {
                var: var.clone(),
                reason: "not UTF-8".into(),
            })?;
            let is_path = PATH_SETTINGS.contains(&key.join(".").as_str());
            let parsed = env_value(&value, lookup(&tree, &key), is_path);
            let mut layer = toml::Table::new();
            insert(&mut layer, &key, parsed);
            resolve_paths(&mut layer, prefix);
            let mut candidate = tree.clone();
            merge(&mut candidate, layer);
            // Each variable is tried on its own, so an error names the variable at fault.
            if let Err(e) = toml::Value::Table(candidate.clone()).try_into::<Config>() {
                return Err(env_error(var, &key, e));
            }
            tree = candidate;
        }
        toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Env {
                var: "the environment".into(),
                reason: e.message().to_string(),
            })
    }

    /// The effective configuration as TOML, with API key hashes, passwords, secrets and tokens
    /// (and the password of any URL, e.g. a database's) replaced by `<redacted>`.
    pub fn redacted(&self) -> toml::Table {
        let mut tree = to_tree(self);
        redact_table(&mut tree);
        tree
    }
}

fn to_tree(cfg: &Config) -> toml::Table {
    match toml::Value::try_from(cfg) {
        Ok(toml::Value::Table(t)) => t,
        // Every field of Config serialises to TOML (a test checks it).
        _ => toml::Table::new(),
    }
}

fn defaults_tree() -> toml::Table {
    to_tree(&Config::default())
}

fn lookup<'a>(tree: &'a toml::Table, key: &[String]) -> Option<&'a toml::Value> {
    let (last, sections) = key.split_last()?;
    let mut table = tree;
    for s in sections {
        table = table.get(s)?.as_table()?;
    }
    table.get(last)
}

fn insert(tree: &mut toml::Table, key: &[String], value: toml::Value) {
    let Some((last, sections)) = key.split_last() else {
        return;
    };
    let mut table = tree;
    for s in sections {
        let entry = table
            .entry(s.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(t) = entry else {
            return;
        };
        table = t;
    }
    table.insert(last.clone(), value);
}

/// Tables merge key by key; anything else is replaced.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// An environment value typed like the setting it replaces: strings stay strings (a policy
/// named `2026` is not a number), numbers and booleans are read as TOML, and a list is a TOML
/// array (`["cuda", "cpu"]`), comma-separated (`cuda,cpu`), or for paths colon-separated like
/// `PATH`.
fn env_value(value: &str, current: Option<&toml::Value>, is_path: bool) -> toml::Value {
    let as_toml = || {
        toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    let string = || toml::Value::String(value.to_string());
    match current {
        Some(toml::Value::String(_)) => string(),
        Some(toml::Value::Array(_)) if is_path && !value.trim_start().starts_with('[') => {
            toml::Value::Array(
                std::env::split_paths(value)
                    .map(|p| toml::Value::String(p.to_string_lossy().into_owned()))
                    .collect(),
            )
        }
        Some(toml::Value::Array(_)) if !value.trim_start().starts_with('[') => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => as_toml().unwrap_or_else(string),
    }
}

fn env_error(var: String, key: &[String], e: toml::de::Error) -> ConfigError {
    let reason = e.message().to_string();
    if !reason.starts_with("unknown field") {
        return ConfigError::Env { var, reason };
    }
    let dotted = key.join(".");
    // A name without sections (CLIPGUARD_WORKERS, CLIPGUARD_FACES_MAX_SIDE) is most likely
    // meant for the one setting whose key, or section and key, it spells.
    let mut leaves = Vec::new();
    leaf_keys(&defaults_tree(), &mut Vec::new(), &mut leaves);
    let matches: Vec<&Vec<String>> = leaves
        .iter()
        .filter(|leaf| {
            key.len() == 1
                && (leaf.last() == Some(&key[0])
                    || leaf.len() > 1 && leaf[leaf.len() - 2..].join("_") == key[0])
        })
        .collect();
    let hint = match matches.as_slice() {
        [one] => {
            let parts: Vec<&str> = one.iter().map(String::as_str).collect();
            format!("; did you mean {}?", env_var(&parts))
        }
        _ => String::new(),
    };
    ConfigError::UnknownEnv {
        var,
        key: dotted,
        reason: format!("{reason}{hint}"),
    }
}

fn leaf_keys(table: &toml::Table, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in table {
        path.push(k.clone());
        match v {
            toml::Value::Table(t) => leaf_keys(t, path, out),
            _ => out.push(path.clone()),
        }
        path.pop();
    }
}

fn resolve_paths(tree: &mut toml::Table, base: &Path) {
    let resolve = |v: &mut toml::Value| {
        if let toml::Value::String(s) = v {
            if !s.is_empty() && Path::new(s.as_str()).is_relative() {
                *s = base.join(&*s).to_string_lossy().into_owned();
            }
        }
    };
    for setting in PATH_SETTINGS {
        let key: Vec<String> = setting.split('.').map(str::to_string).collect();
        let Some(value) = lookup_mut(tree, &key) else {
            continue;
        };
        match value {
            toml::Value::Array(items) => items.iter_mut().for_each(resolve),
            v => resolve(v),
        }
    }
}

fn lookup_mut<'a>(tree: &'a mut toml::Table, key: &[String]) -> Option<&'a mut toml::Value> {
    let (last, sections) = key.split_last()?;
    let mut table = tree;
    for s in sections {
        table = table.get_mut(s)?.as_table_mut()?;
    }
    table.get_mut(last)
}

fn redact_table(table: &mut toml::Table) {
    for (k, v) in table.iter_mut() {
        let secret = SECRET_KEYS
            .iter()
            .any(|s| k == s || k.ends_with(&format!("_{s}")) || k.starts_with(&format!("{s}_")));
        if secret {
            *v = toml::Value::String("<redacted>".into());
        } else {
            redact_value(v);
        }
    }
}

fn redact_value(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => redact_table(t),
        toml::Value::Array(items) => items.iter_mut().for_each(redact_value),
        toml::Value::String(s) => {
            if let Some(hidden) = redact_url_password(s) {
                *s = hidden;
            }
        }
        _ => {}
    }
}

/// `scheme://user:password@host...` with the password hidden; None when there is none.
fn redact_url_password(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let (user, _password) = rest[..at].split_once(':')?;
    Some(format!("{scheme}://{user}:<redacted>{}", &rest[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn load(file: Option<&Path>, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_from(file, env(pairs), Path::new("/opt/clipguard"))
    }

    #[test]
    fn variables_override_the_file_typed_like_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clipguard.toml");
        std::fs::write(&file, "[server]\nworkers = 7\nqueue = 3\n").unwrap();
        let cfg = load(
            Some(&file),
            &[
                ("CLIPGUARD_SERVER__WORKERS", "3"),
                ("CLIPGUARD_MEDIA__SAMPLE_FPS", "1.5"),
                ("CLIPGUARD_MEDIA__MAX_DURATION_S", "60"),
                ("CLIPGUARD_RUNTIME__PROVIDERS", "cuda, cpu"),
                ("CLIPGUARD_POLICIES__NAME", "2026"),
                ("CLIPGUARD_TEXT__ENABLED", "false"),
                ("CLIPGUARD_LOG__FORMAT", "json"),
                ("ORT_DYLIB_PATH", "/usr/lib/libonnxruntime.so"),
                // Not settings: the clients' and the benchmarks' variables.
                ("CLIPGUARD_URL", "http://x"),
                ("CLIPGUARD_SOAK_KIND", "720p"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        assert_eq!(cfg.server.workers, 3);
        assert_eq!(cfg.server.queue, 3, "the file's value stays");
        assert_eq!(cfg.media.sample_fps, 1.5);
        assert_eq!(cfg.media.max_duration_s, 60.0);
        assert_eq!(cfg.runtime.providers, ["cuda", "cpu"]);
        assert_eq!(cfg.policies.name, "2026");
        assert_eq!(
            cfg.analysers.0["text"]["enabled"],
            toml::Value::Boolean(false)
        );
        assert_eq!(cfg.log.format, LogFormat::Json);
        assert_eq!(
            cfg.runtime.onnxruntime,
            Path::new("/usr/lib/libonnxruntime.so")
        );
    }

    #[test]
    fn every_setting_has_a_variable() {
        let mut leaves = Vec::new();
        leaf_keys(&defaults_tree(), &mut Vec::new(), &mut leaves);
        assert!(leaves.len() > 40, "{leaves:?}");
        for key in leaves {
            let parts: Vec<&str> = key.iter().map(String::as_str).collect();
            let var = env_var(&parts);
            assert_eq!(env_setting(&var), Some(key.clone()));
            // A value of the right type that differs from the default: the variable must win.
            let (value, expect) = match lookup(&defaults_tree(), &key).unwrap() {
                _ if parts == ["log", "format"] => ("json".into(), toml::Value::from("json")),
                toml::Value::String(_) => ("/elsewhere".into(), toml::Value::from("/elsewhere")),
                toml::Value::Integer(i) => ((i + 1).to_string(), toml::Value::from(i + 1)),
                toml::Value::Float(f) => ((f + 0.5).to_string(), toml::Value::from(f + 0.5)),
                toml::Value::Boolean(b) => ((!b).to_string(), toml::Value::from(!b)),
                toml::Value::Array(_) => ("[]".into(), toml::Value::Array(Vec::new())),
                other => panic!("{var}: unexpected default {other:?}"),
            };
            let cfg = load(None, &[(&var, &value)]).unwrap_or_else(|e| panic!("{var}: {e}"));
            let got = lookup(&to_tree(&cfg), &key).cloned();
            match (got, expect) {
                // f32 settings come back rounded to f32.
                (Some(toml::Value::Float(g)), toml::Value::Float(e)) => {
                    assert!((g - e).abs() < 1e-6, "{var}: {g} != {e}")
                }
                (got, expect) => assert_eq!(got, Some(expect), "{var}"),
            }
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = load(None, &[("CLIPGUARD_RUNTIME__INTRA_THREADS", "many")]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Env { var, .. } if var == "CLIPGUARD_RUNTIME__INTRA_THREADS"),
            "{err}"
        );
        let err = load(None, &[("CLIPGUARD_LOG__FORMAT", "xml")]).unwrap_err();
        assert!(err.to_string().contains("CLIPGUARD_LOG__FORMAT"), "{err}");
    }

    #[test]
    fn an_unknown_variable_is_refused_with_the_likely_name() {
        let err = load(None, &[("CLIPGUARD_SERVER__BNID", "0.0.0.0:80")]).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::UnknownEnv { .. }), "{text}");
        assert!(text.contains("CLIPGUARD_SERVER__BNID"), "{text}");
        assert!(text.contains("server.bnid"), "{text}");
        for (old, new) in [
            ("CLIPGUARD_WORKERS", "CLIPGUARD_SERVER__WORKERS"),
            ("CLIPGUARD_FACES_MAX_SIDE", "CLIPGUARD_FACES__MAX_SIDE"),
            ("CLIPGUARD_POLICIES_DIR", "CLIPGUARD_POLICIES__DIR"),
        ] {
            let err = load(None, &[(old, "1")]).unwrap_err().to_string();
            assert!(
                err.contains(old) && err.contains(&format!("did you mean {new}?")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_typo_in_the_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[media]\n\nmax_duraton_s = 3\n").unwrap();
        let err = load(Some(&file), &[]).unwrap_err().to_string();
        assert!(
            err.contains("max_duraton_s") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn an_analysers_section_is_read_and_checked_like_the_services_own() {
        use crate::analysers::FacesConfig;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nworkers = 2\n\n[faces]\nmax_side = 480\n").unwrap();
        let cfg = load(Some(&file), &[("CLIPGUARD_FACES__THRESHOLD", "0.6")]).unwrap();
        let faces: FacesConfig = cfg.settings();
        assert_eq!(faces.max_side, 480);
        assert_eq!(faces.threshold, 0.6);
        assert_eq!(faces.min_embed_px, FacesConfig::default().min_embed_px);

        std::fs::write(&file, "[server]\nworkers = 2\n\n[faces]\nmax_sid = 3\n").unwrap();
        let err = load(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("max_sid") && err.contains("line 5"), "{err}");
        std::fs::write(&file, "[facez]\nmax_side = 3\n").unwrap();
        let err = load(Some(&file), &[]).unwrap_err().to_string();
        assert!(
            err.contains("facez") && err.contains("faces, hashes"),
            "{err}"
        );
        std::fs::write(&file, "faces = 3\n").unwrap();
        let err = load(Some(&file), &[]).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("faces = 3"), "{err}");

        let mut cfg = Config::default();
        cfg.update_settings(|f: &mut FacesConfig| f.max_side = 640);
        assert_eq!(cfg.settings::<FacesConfig>().max_side, 640);
        assert_eq!(
            to_tree(&cfg)["faces"]["max_side"],
            toml::Value::Integer(640)
        );
    }

    #[test]
    fn every_declared_section_has_its_defaults_in_the_tree() {
        let tree = defaults_tree();
        for spec in declared() {
            let table = tree.get(spec.name).and_then(|v| v.as_table());
            assert!(table.is_some_and(|t| !t.is_empty()), "{}", spec.name);
        }
        assert!(declared().count() >= 7);
    }

    #[test]
    fn relative_paths_follow_the_file_or_the_prefix_never_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clipguard.toml");
        std::fs::write(
            &file,
            "data_dir = \"state\"\n[policies]\ndir = \"/etc/clipguard/policies\"\n\
             [server]\nfile_roots = [\"clips\", \"/srv/clips\"]\n\
             [c2pa]\ncert_chain = \"pki/chain.pem\"\ntrust_anchors = [\"pki/roots.pem\"]\n",
        )
        .unwrap();
        let cfg = load(Some(&file), &[("CLIPGUARD_MODELS__DIR", "weights")]).unwrap();
        let env_roots = load(None, &[("CLIPGUARD_SERVER__FILE_ROOTS", "in:/srv/b")]).unwrap();
        assert_eq!(
            env_roots.server.file_roots,
            [PathBuf::from("/opt/clipguard/in"), PathBuf::from("/srv/b")]
        );
        assert_eq!(cfg.data_dir, dir.path().join("state"));
        assert_eq!(cfg.policies.dir, Path::new("/etc/clipguard/policies"));
        assert_eq!(
            cfg.server.file_roots,
            [dir.path().join("clips"), PathBuf::from("/srv/clips")]
        );
        assert_eq!(cfg.models.dir, Path::new("/opt/clipguard/weights"));
        assert_eq!(
            cfg.c2pa.cert_chain.as_deref(),
            Some(dir.path().join("pki/chain.pem").as_path())
        );
        assert_eq!(cfg.c2pa.trust_anchors, [dir.path().join("pki/roots.pem")]);
        assert_eq!(
            cfg.models.manifest,
            Path::new("/opt/clipguard/models/models.toml")
        );
        assert_eq!(
            cfg.runtime.onnxruntime,
            Path::new("/opt/clipguard/.local/models/libonnxruntime.so.1.31.1")
        );
    }

    #[test]
    fn every_path_setting_exists() {
        let tree = defaults_tree();
        for setting in PATH_SETTINGS {
            let key: Vec<String> = setting.split('.').map(str::to_string).collect();
            // An optional file (no default, such as the attestation key) names a section that
            // exists.
            let section = &key[..key.len() - 1];
            assert!(
                lookup(&tree, &key).is_some()
                    || lookup(&tree, section).is_some_and(|v| v.is_table()),
                "{setting}"
            );
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let mut cfg = Config::default();
        cfg.server.api_keys.push(ApiKey {
            name: "ci".into(),
            role: Role::Checker,
            sha256: "ab".repeat(32),
            callback_url: None,
        });
        let shown = toml::to_string(&cfg.redacted()).unwrap();
        assert!(!shown.contains(&"ab".repeat(32)), "{shown}");
        assert!(
            shown.contains("name = \"ci\"") && shown.contains("<redacted>"),
            "{shown}"
        );

        let mut tree: toml::Table = toml::from_str(
            "[store]\nurl = \"postgres://clipguard:s3cret@db:5432/clipguard?sslmode=require\"\n\
             [c2pa]\nkey_password = \"hunter2\"\nother = \"https://example.com/a@b\"\n",
        )
        .unwrap();
        redact_table(&mut tree);
        let shown = toml::to_string(&tree).unwrap();
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://clipguard:<redacted>@db:5432/clipguard?sslmode=require"),
            "{shown}"
        );
        assert!(shown.contains("https://example.com/a@b"), "{shown}");
    }
}
