//! The models: ONNX Runtime set-up, one file per model family, and the model manifest.
//!
//! Detectors report what they see; they never decide. Every error is returned, never turned
//! into an empty detection list, so a failed inference cannot read as "nothing found".

pub mod align;
pub mod classify;
pub mod clip;
pub mod embed;
pub mod faces;
pub mod manifest;
pub mod nudity;
pub mod ocr;
pub mod pdq;
pub mod pil;
pub mod preprocess;
pub mod resize;
pub mod runtime;

use crate::vocab::{BBox, ModelInfo, ModelKind};

pub use classify::ImageClassifier;
pub use clip::ImageEncoder;
pub use embed::Embedder;
pub use faces::FaceDetector;
pub use manifest::Manifest;
pub use nudity::NudityDetector;
pub use ocr::TextReader;
pub use runtime::Runtime;

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(
        "cannot load ONNX Runtime from {path}: {reason} (run `make setup`, or set ORT_DYLIB_PATH)"
    )]
    Runtime { path: String, reason: String },
    #[error("model manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    #[error("model file {path} is missing (run `make setup`)")]
    ModelMissing { path: String },
    #[error(
        "model file {path} has sha256 {actual}, the manifest says {expected} (run `make setup`)"
    )]
    ModelHash {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("cannot load model {model}: {reason}")]
    Load { model: String, reason: String },
    #[error("inference failed in {model}: {reason}")]
    Inference { model: String, reason: String },
    #[error("classifier {0:?} is enabled in the config but not declared in the models manifest (declared: {1})")]
    UnknownClassifier(String, String),
    #[error("{model} returned output of unexpected shape {shape:?}")]
    OutputShape { model: String, shape: Vec<i64> },
}

/// The models, loaded once and shared by every screening.
pub struct Vision {
    pub manifest: Manifest,
    pub nudity: NudityDetector,
    pub faces: FaceDetector,
    pub embedder: Embedder,
    /// Loaded only when on-screen text is analysed.
    pub text: Option<TextReader>,
    /// The classifiers enabled in the config, in that order.
    pub classifiers: Vec<ImageClassifier>,
    /// CLIP's image tower, loaded when first needed (a category is defined): 90 MB of weights
    /// that most deployments never use.
    encoder: std::sync::OnceLock<ImageEncoder>,
    /// Held while the encoder loads, so concurrent first uses load it once.
    encoder_loading: std::sync::Mutex<()>,
    runtime: Runtime,
    encoder_batch: usize,
    /// Faces with a shorter box side below this are not embedded (too small to be reliable).
    pub min_embed_px: f32,
}

/// What the analysers' settings ask of the models (batch sizes, detector input sizes, which
/// optional models load), given by the analysers, whose sections hold them.
#[derive(Debug, Clone)]
pub struct VisionOptions {
    pub nudity_batch: usize,
    pub face_max_side: u32,
    pub face_threshold: f32,
    /// Faces with a shorter box side below this are not embedded.
    pub min_embed_px: f32,
    /// The text detector's longer side; None: on-screen text is off and its models stay
    /// unloaded.
    pub text_det_max_side: Option<u32>,
    /// The manifest's classifiers to load, by name.
    pub classifiers: Vec<String>,
    pub classifier_batch: usize,
    pub encoder_batch: usize,
}

impl Vision {
    pub fn load(cfg: &crate::Config, opts: &VisionOptions) -> Result<Self, VisionError> {
        let runtime = Runtime::init(&cfg.runtime)?;
        let manifest = Manifest::load(&cfg.models.manifest, &cfg.models.dir)?;
        let (n, n_path) = manifest.get(ModelKind::Nudity);
        let nudity = NudityDetector::load(
            &runtime,
            &n.name,
            n_path,
            nudity::INPUT_SIZE,
            opts.nudity_batch,
        )?;
        let (f, f_path) = manifest.get(ModelKind::Faces);
        let faces = FaceDetector::load(
            &runtime,
            &f.name,
            f_path,
            opts.face_max_side,
            opts.face_threshold,
        )?;
        let (e, e_path) = manifest.get(ModelKind::Embed);
        let embedder = Embedder::load(&runtime, &e.name, e_path)?;
        let text = if let Some(max_side) = opts.text_det_max_side {
            let (d, d_path) = manifest.get(ModelKind::TextDetect);
            let (c, c_path) = manifest.get(ModelKind::TextClassify);
            let (r, r_path) = manifest.get(ModelKind::TextRecognize);
            let models = ocr::TextModels {
                det: (&d.name, d_path),
                cls: (&c.name, c_path),
                rec: (&r.name, r_path),
            };
            let limit = ocr::DetLimit::Max(max_side);
            Some(TextReader::load(&runtime, models, limit)?)
        } else {
            None
        };
        let mut classifiers = Vec::new();
        for name in &opts.classifiers {
            let declared = manifest.classifiers();
            let Some((_, spec)) = declared.iter().find(|(n, _)| n == name) else {
                let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
                return Err(VisionError::UnknownClassifier(
                    name.clone(),
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    },
                ));
            };
            let info = manifest
                .by_name(name)
                .expect("declared classifiers are models");
            let path = manifest.verified(info)?;
            classifiers.push(ImageClassifier::load(
                &runtime,
                name,
                path,
                spec.clone(),
                opts.classifier_batch,
            )?);
        }
        Ok(Self {
            manifest,
            nudity,
            faces,
            embedder,
            text,
            classifiers,
            encoder: std::sync::OnceLock::new(),
            encoder_loading: std::sync::Mutex::new(()),
            runtime,
            encoder_batch: opts.encoder_batch,
            min_embed_px: opts.min_embed_px,
        })
    }

    /// The image encoder, loaded on first use; an error if the manifest declares none.
    pub fn encoder(&self) -> Result<&ImageEncoder, VisionError> {
        if let Some(e) = self.encoder.get() {
            return Ok(e);
        }
        let _one = self
            .encoder_loading
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = self.encoder.get() {
            return Ok(e);
        }
        let Some((info, preprocess)) = self.manifest.image_encoder() else {
            return Err(VisionError::Manifest {
                path: "models manifest".into(),
                reason: "no model of kind image_embed (needed for categories)".into(),
            });
        };
        let path = self.manifest.verified(info)?;
        let loaded = ImageEncoder::load(
            &self.runtime,
            &info.name,
            path,
            preprocess.clone(),
            self.encoder_batch,
        )?;
        Ok(self.encoder.get_or_init(|| loaded))
    }

    /// The process's ONNX Runtime set-up, for models loaded beside these (the speech models).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The image encoder's manifest entry, when one is declared.
    pub fn encoder_model(&self) -> Option<&ModelInfo> {
        self.manifest.image_encoder().map(|(m, _)| m)
    }
}

/// Greedy non-maximum suppression over items sorted by descending score: keeps an item unless
/// it overlaps a kept one by more than `iou` (or at least, with `inclusive`).
fn nms<T>(
    mut items: Vec<T>,
    score: impl Fn(&T) -> f32,
    bbox: impl Fn(&T) -> BBox,
    iou: f32,
    inclusive: bool,
) -> Vec<T> {
    items.sort_by(|a, b| score(b).total_cmp(&score(a)));
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        let b = bbox(&item);
        let suppressed = kept.iter().any(|k| {
            let o = bbox(k).iou(&b);
            if inclusive {
                o >= iou
            } else {
                o > iou
            }
        });
        if !suppressed {
            kept.push(item);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = BBox {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox { x: 20.0, ..a }), 0.0);
        let half = a.iou(&BBox { x: 5.0, ..a });
        assert!((half - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_all_disjoint() {
        let boxes = vec![
            (
                0.9,
                BBox {
                    x: 0.0,
                    y: 0.0,
                    w: 10.0,
                    h: 10.0,
                },
            ),
            (
                0.95,
                BBox {
                    x: 1.0,
                    y: 0.0,
                    w: 10.0,
                    h: 10.0,
                },
            ),
            (
                0.5,
                BBox {
                    x: 50.0,
                    y: 50.0,
                    w: 10.0,
                    h: 10.0,
                },
            ),
        ];
        let kept = nms(boxes, |b| b.0, |b| b.1, 0.45, false);
        assert_eq!(
            kept.iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![0.95, 0.5]
        );
    }
}
