//! The process's one ONNX Runtime environment and pools of sessions.

use super::VisionError;
use crate::config::RuntimeConfig;
use ort::session::{builder::GraphOptimizationLevel, Session};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// ONNX Runtime allows one environment per process; it lives for the whole process.
static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// glibc gives threads their own malloc arenas (up to 8 per core) and returns little of a
/// non-main arena's freed memory to the system. Screening allocates frame and tensor buffers
/// of varying sizes on short-lived decoder and inference threads, in Rust, FFmpeg and ONNX
/// Runtime alike, so a long-running service's RSS crept up with every clip and never
/// plateaued; with few arenas it stays flat (`make soak`). Set before any model is loaded.
const MALLOC_ARENAS: libc::c_int = 2;

fn limit_malloc_arenas() {
    // SAFETY: mallopt only changes allocator settings; M_ARENA_MAX is valid on glibc.
    let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    if ok != 1 {
        tracing::warn!("cannot limit malloc arenas; memory may grow over a long run");
    }
}

/// Handle to the shared environment plus the session settings from configuration.
#[derive(Clone, Debug)]
pub struct Runtime {
    intra_threads: usize,
    sessions_per_model: usize,
    cuda: bool,
}

impl Runtime {
    pub fn init(cfg: &RuntimeConfig) -> Result<Self, VisionError> {
        if ENVIRONMENT.get().is_none() {
            limit_malloc_arenas();
            let err = |reason: String| VisionError::Runtime {
                path: cfg.onnxruntime.display().to_string(),
                reason,
            };
            if !cfg.onnxruntime.exists() {
                return Err(err("file not found".into()));
            }
            let env = ort::init_from(&cfg.onnxruntime)
                .map_err(|e| err(e.to_string()))?
                .with_name("clipguard")
                .with_telemetry(false)
                .build()
                .map_err(|e| err(e.to_string()))?;
            // A concurrent init may have won the race; either environment is the process's one.
            let _ = ENVIRONMENT.set(env);
        }
        for p in &cfg.providers {
            if p != "cpu" && p != "cuda" {
                return Err(VisionError::Runtime {
                    path: cfg.onnxruntime.display().to_string(),
                    reason: format!("unknown execution provider {p:?} (known: cuda, cpu)"),
                });
            }
        }
        let mut cuda = cfg.providers.first().is_some_and(|p| p == "cuda");
        if cuda {
            use ort::ep::ExecutionProvider;
            match ort::ep::CUDA::is_available() {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        "CUDA execution provider is not in this ONNX Runtime library; using CPU"
                    );
                    cuda = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot query the CUDA execution provider; using CPU");
                    cuda = false;
                }
            }
        }
        Ok(Self {
            intra_threads: cfg.intra_threads.max(1),
            sessions_per_model: cfg.sessions_per_model.max(1),
            cuda,
        })
    }

    fn session(&self, model: &str, path: &Path, memory: Memory) -> Result<Session, VisionError> {
        let env = ENVIRONMENT.get().expect("Runtime::init ran");
        let load = |reason: String| VisionError::Load {
            model: model.to_string(),
            reason,
        };
        let builder = Session::builder(env)
            .map_err(|e| load(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| load(e.to_string()))?
            .with_intra_threads(self.intra_threads)
            .map_err(|e| load(e.to_string()))?
            .with_log_level(ort::logging::LogLevel::Error)
            .map_err(|e| load(e.to_string()))?;
        let builder = match memory {
            Memory::Fast => builder,
            Memory::Lean => builder
                .with_prepacking(false)
                .map_err(|e| load(e.to_string()))?
                .with_memory_pattern(false)
                .map_err(|e| load(e.to_string()))?
                .with_execution_providers([ort::ep::CPU::default()
                    .with_arena_allocator(false)
                    .build()])
                .map_err(|e| load(e.to_string()))?,
        };
        if self.cuda {
            let cuda = ort::ep::CUDA::default().build().error_on_failure();
            match builder.clone().with_execution_providers([cuda]) {
                Ok(mut b) => match b.commit_from_file(path) {
                    Ok(s) => return Ok(s),
                    Err(e) => tracing::warn!(model, error = %e, "CUDA session failed; using CPU"),
                },
                Err(e) => tracing::warn!(model, error = %e, "CUDA unavailable; using CPU"),
            }
        }
        let mut builder = builder;
        builder
            .commit_from_file(path)
            .map_err(|e| load(e.to_string()))
    }

    /// A pool of sessions for one model file. One session is created now (so a broken model
    /// fails at start-up); more, up to `sessions_per_model`, only when all are busy, so a
    /// single-user process such as the CLI holds one copy of each model.
    pub fn pool(&self, model: &str, path: &Path) -> Result<SessionPool, VisionError> {
        self.pool_with(model, path, Memory::Fast)
    }

    /// A pool whose sessions are built as `memory` says.
    pub fn pool_with(
        &self,
        model: &str,
        path: &Path,
        memory: Memory,
    ) -> Result<SessionPool, VisionError> {
        let first = Arc::new(Mutex::new(self.session(model, path, memory)?));
        Ok(SessionPool {
            model: model.to_string(),
            path: path.to_path_buf(),
            memory,
            runtime: self.clone(),
            sessions: RwLock::new(vec![first]),
            next: AtomicUsize::new(0),
        })
    }
}

/// How a session trades memory for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// ONNX Runtime's defaults: weights prepacked for its matrix kernels (a second copy),
    /// activations from a growing arena planned by memory pattern.
    Fast,
    /// No prepacked copy, no arena, no pattern: for models whose weights dominate (Whisper's
    /// 340 MB). Measured on the CLI checking a clip with speech: peak RSS 863 -> 727 MB, with
    /// no slower transcription than run-to-run noise (docs/speech.md).
    Lean,
}

/// `Session::run` needs `&mut`, so concurrent callers each take a free session; when all are
/// busy and the pool is full, a caller waits on one chosen round-robin.
pub struct SessionPool {
    model: String,
    path: PathBuf,
    memory: Memory,
    runtime: Runtime,
    sessions: RwLock<Vec<Arc<Mutex<Session>>>>,
    next: AtomicUsize,
}

impl SessionPool {
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<R, VisionError>,
    ) -> Result<R, VisionError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let sessions: Vec<_> = self
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let n = sessions.len();
        for i in 0..n {
            if let Ok(mut s) = sessions[(start + i) % n].try_lock() {
                return f(&mut s);
            }
        }
        if n < self.runtime.sessions_per_model {
            let fresh = Arc::new(Mutex::new(self.runtime.session(
                &self.model,
                &self.path,
                self.memory,
            )?));
            let mut guard = fresh.lock().unwrap_or_else(|p| p.into_inner());
            let mut all = self.sessions.write().unwrap_or_else(|p| p.into_inner());
            // Another caller may have grown the pool meanwhile: keep it within bounds.
            if all.len() < self.runtime.sessions_per_model {
                all.push(fresh.clone());
            }
            drop(all);
            return f(&mut guard);
        }
        let mut s = sessions[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    /// Runs the model on one input and hands every output, as f32 arrays in the model's output
    /// order, to `f`, which decodes them while the session is held.
    pub fn infer<R>(
        &self,
        input: ndarray::Array4<f32>,
        f: impl FnOnce(&[ndarray::ArrayViewD<'_, f32>]) -> Result<R, VisionError>,
    ) -> Result<R, VisionError> {
        let tensor = ort::value::Tensor::from_array(input).map_err(|e| self.inference_error(e))?;
        self.with(|session| {
            let outputs = session
                .run(ort::inputs![tensor])
                .map_err(|e| self.inference_error(e))?;
            let arrays = (0..outputs.len())
                .map(|i| {
                    outputs[i]
                        .try_extract_array::<f32>()
                        .map_err(|e| self.inference_error(e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            f(&arrays)
        })
    }

    fn inference_error(&self, e: impl std::fmt::Display) -> VisionError {
        VisionError::Inference {
            model: self.model.clone(),
            reason: e.to_string(),
        }
    }
}
