//! `models/models.toml`: which file each model is, where it came from, and its sha256.
//! Every file is verified at load, so a decision names exactly the weights that made it.

use super::classify::{Activation, ClassifierSpec};
use super::preprocess::Preprocess;
use super::VisionError;
use crate::vocab::{ModelInfo, ModelKind};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
    #[serde(default)]
    data: Vec<DataEntry>,
}

/// A data file a model reads beside its weights (a vocabulary, a generation config).
#[derive(Debug, Clone, Deserialize)]
struct DataEntry {
    name: String,
    file: String,
    sha256: String,
}

#[derive(Debug, Deserialize)]
struct ModelEntry {
    name: String,
    kind: ModelKind,
    file: String,
    sha256: String,
    package: String,
    version: String,
    /// The input recipe of classifiers and image encoders.
    preprocess: Option<Preprocess>,
    /// A classifier's output labels, in order, and what turns outputs into scores.
    labels: Option<Vec<String>>,
    activation: Option<Activation>,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    models: Vec<(ModelInfo, PathBuf)>,
    /// Data files by name, with where they are: verified when asked for (`data_file`), as
    /// most are read by code that has its own copy or is turned off.
    data: Vec<(DataEntry, PathBuf)>,
    classifiers: Vec<(String, ClassifierSpec)>,
    image_embed: Option<Preprocess>,
}

impl Manifest {
    /// Reads the manifest and verifies each model file under `dir` against its sha256, except
    /// the [`DEFERRED`] kinds, which must exist and are verified when loaded.
    pub fn load(manifest: &Path, dir: &Path) -> Result<Self, VisionError> {
        let err = |reason: String| VisionError::Manifest {
            path: manifest.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(manifest).map_err(|e| err(e.to_string()))?;
        let file: ManifestFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut models = Vec::new();
        let mut classifiers = Vec::new();
        let mut image_embed = None;
        for m in file.model {
            let problem = |what: &str| err(format!("model {:?}: {what}", m.name));
            if let Some(p) = &m.preprocess {
                p.check()
                    .map_err(|e| problem(&format!("preprocess: {e}")))?;
            }
            match m.kind {
                ModelKind::Classifier => {
                    if !is_identifier(&m.name) {
                        return Err(problem(
                            "a classifier's name is read by policies as signals.classifiers.<name>: \
                             use lower-case letters, digits and _",
                        ));
                    }
                    let (Some(preprocess), Some(labels), Some(activation)) =
                        (m.preprocess.clone(), m.labels.clone(), m.activation)
                    else {
                        return Err(problem(
                            "a classifier needs preprocess, labels and activation",
                        ));
                    };
                    if labels.is_empty() || labels.iter().any(|l| !is_identifier(l)) {
                        return Err(problem(
                            "labels must be non-empty names of lower-case letters, digits and _",
                        ));
                    }
                    classifiers.push((
                        m.name.clone(),
                        ClassifierSpec {
                            preprocess,
                            labels,
                            activation,
                        },
                    ));
                }
                ModelKind::ImageEmbed => {
                    let Some(p) = m.preprocess.clone() else {
                        return Err(problem("an image encoder needs preprocess"));
                    };
                    image_embed = Some(p);
                }
                _ => {}
            }
            let path = dir.join(&m.file);
            if DEFERRED.contains(&m.kind) {
                if !path.is_file() {
                    return Err(VisionError::ModelMissing {
                        path: path.display().to_string(),
                    });
                }
            } else {
                check_hash(&path, &m.sha256)?;
            }
            let info = ModelInfo {
                name: m.name,
                kind: m.kind,
                sha256: m.sha256,
                source: format!("{}=={}", m.package, m.version),
            };
            models.push((info, path));
        }
        for kind in [
            ModelKind::Nudity,
            ModelKind::Faces,
            ModelKind::Embed,
            ModelKind::TextDetect,
            ModelKind::TextClassify,
            ModelKind::TextRecognize,
        ] {
            if !models.iter().any(|(m, _)| m.kind == kind) {
                return Err(err(format!("no model of kind {kind:?}")));
            }
        }
        let data = file
            .data
            .into_iter()
            .map(|d| {
                let path = dir.join(&d.file);
                (d, path)
            })
            .collect();
        Ok(Self {
            models,
            data,
            classifiers,
            image_embed,
        })
    }

    /// The declared classifiers: name and spec (their files via [`Manifest::path_of`]).
    pub fn classifiers(&self) -> &[(String, ClassifierSpec)] {
        &self.classifiers
    }

    /// The image encoder and its recipe, when one is declared (its file via
    /// [`Manifest::verified`]).
    pub fn image_encoder(&self) -> Option<(&ModelInfo, &Preprocess)> {
        let p = self.image_embed.as_ref()?;
        self.models
            .iter()
            .find(|(m, _)| m.kind == ModelKind::ImageEmbed)
            .map(|(m, _)| (m, p))
    }

    /// A data file by name, verified against its sha256 (None when the manifest has none).
    pub fn data_file(&self, name: &str) -> Result<Option<&Path>, VisionError> {
        let Some((d, path)) = self.data.iter().find(|(d, _)| d.name == name) else {
            return Ok(None);
        };
        check_hash(path, &d.sha256)?;
        Ok(Some(path))
    }

    /// A model of a kind loaded on first use, or only when enabled ([`DEFERRED`]), verified
    /// against its sha256 now: its loader calls this just before reading the file.
    pub fn verified(&self, info: &ModelInfo) -> Result<&Path, VisionError> {
        let (m, path) = self
            .models
            .iter()
            .find(|(m, _)| m.name == info.name)
            .ok_or_else(|| VisionError::Manifest {
                path: "models manifest".into(),
                reason: format!("no model named {:?}", info.name),
            })?;
        if DEFERRED.contains(&m.kind) {
            check_hash(path, &m.sha256)?;
        }
        Ok(path)
    }

    /// A model by name (its file via [`Manifest::verified`]).
    pub fn by_name(&self, name: &str) -> Option<&ModelInfo> {
        self.models
            .iter()
            .find(|(m, _)| m.name == name)
            .map(|(m, _)| m)
    }

    /// The first model of a kind the manifest may not declare (the speech models). A
    /// [`DEFERRED`] kind's file is read through [`Manifest::verified`].
    pub fn find(&self, kind: ModelKind) -> Option<(&ModelInfo, &Path)> {
        self.models
            .iter()
            .find(|(m, _)| m.kind == kind)
            .map(|(m, p)| (m, p.as_path()))
    }

    /// The first model of a kind (load guarantees there is one).
    pub fn get(&self, kind: ModelKind) -> (&ModelInfo, &Path) {
        let (info, path) = self
            .models
            .iter()
            .find(|(m, _)| m.kind == kind)
            .expect("Manifest::load checks every kind is present");
        (info, path)
    }

    pub fn models(&self) -> impl Iterator<Item = &ModelInfo> {
        self.models.iter().map(|(m, _)| m)
    }
}

/// A name CEL reads with a dot: `signals.classifiers.open_nsfw.nsfw`.
pub(crate) fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Kinds whose files are verified when loaded ([`Manifest::verified`]), not at start: Whisper
/// (400 MB, loaded on the first clip with speech), CLIP (loaded when a category is defined),
/// the classifiers (loaded when enabled) and the text encoder (loaded on the first text to
/// score). Hashing them on every start cost about a second
/// of each `clipguard check`.
pub const DEFERRED: [ModelKind; 5] = [
    ModelKind::SpeechEncoder,
    ModelKind::SpeechDecoder,
    ModelKind::ImageEmbed,
    ModelKind::Classifier,
    ModelKind::TextEmbed,
];

fn check_hash(path: &Path, expected: &str) -> Result<(), VisionError> {
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(VisionError::ModelHash {
            path: path.display().to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, VisionError> {
    crate::digest::sha256_file(path).map_err(|_| VisionError::ModelMissing {
        path: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn a_model_loaded_on_first_use_is_verified_then() {
        let dir = tempfile::tempdir().unwrap();
        let model = b"not a model";
        std::fs::write(dir.path().join("m.onnx"), model).unwrap();
        std::fs::write(dir.path().join("w.onnx"), b"tampered").unwrap();
        let good = hex::encode(Sha256::digest(model));
        let mut text = String::new();
        for (kind, file) in [
            ("nudity", "m"),
            ("faces", "m"),
            ("embed", "m"),
            ("text_detect", "m"),
            ("text_classify", "m"),
            ("text_recognize", "m"),
            ("speech_encoder", "w"),
        ] {
            text += &format!(
                "[[model]]\nname = \"{kind}\"\nkind = \"{kind}\"\nfile = \"{file}.onnx\"\n\
                 sha256 = \"{good}\"\npackage = \"p\"\nversion = \"1\"\n"
            );
        }
        let manifest = dir.path().join("models.toml");
        std::fs::write(&manifest, &text).unwrap();
        let m = Manifest::load(&manifest, dir.path()).unwrap();
        assert!(m.verified(m.get(ModelKind::Nudity).0).is_ok());
        let err = m
            .verified(m.get(ModelKind::SpeechEncoder).0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.onnx") && err.contains(&good), "{err}");

        std::fs::remove_file(dir.path().join("w.onnx")).unwrap();
        let err = Manifest::load(&manifest, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("w.onnx"),
            "a missing file is refused at start: {err}"
        );
    }

    #[test]
    fn wrong_hash_names_file_expected_and_actual() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.onnx"), b"not a model").unwrap();
        let manifest = dir.path().join("models.toml");
        let mut text = String::new();
        for kind in [
            "nudity",
            "faces",
            "embed",
            "text_detect",
            "text_classify",
            "text_recognize",
        ] {
            text += &format!(
                "[[model]]\nname = \"{kind}\"\nkind = \"{kind}\"\nfile = \"m.onnx\"\n\
                 sha256 = \"{}\"\npackage = \"p\"\nversion = \"1\"\n",
                "0".repeat(64)
            );
        }
        std::fs::write(&manifest, text).unwrap();
        let err = Manifest::load(&manifest, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.onnx") && err.contains(&"0".repeat(64)),
            "{err}"
        );
        assert!(
            err.contains(&hex::encode(Sha256::digest(b"not a model"))),
            "{err}"
        );
    }
}
