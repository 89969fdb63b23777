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
    /// Reads the manifest and verifies each model file under `dir` against its sha256.
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
            let actual = sha256_file(&path)?;
            if actual != m.sha256 {
                return Err(VisionError::ModelHash {
                    path: path.display().to_string(),
                    expected: m.sha256,
                    actual,
                });
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

    /// The image encoder and its recipe, when one is declared.
    pub fn image_encoder(&self) -> Option<(&ModelInfo, &Path, &Preprocess)> {
        let p = self.image_embed.as_ref()?;
        self.models
            .iter()
            .find(|(m, _)| m.kind == ModelKind::ImageEmbed)
            .map(|(m, path)| (m, path.as_path(), p))
    }

    /// A data file by name, verified against its sha256 (None when the manifest has none).
    pub fn data_file(&self, name: &str) -> Result<Option<&Path>, VisionError> {
        let Some((d, path)) = self.data.iter().find(|(d, _)| d.name == name) else {
            return Ok(None);
        };
        let actual = sha256_file(path)?;
        if actual != d.sha256 {
            return Err(VisionError::ModelHash {
                path: path.display().to_string(),
                expected: d.sha256.clone(),
                actual,
            });
        }
        Ok(Some(path))
    }

    /// A model by name.
    pub fn by_name(&self, name: &str) -> Option<(&ModelInfo, &Path)> {
        self.models
            .iter()
            .find(|(m, _)| m.name == name)
            .map(|(m, p)| (m, p.as_path()))
    }

    /// The first model of a kind the manifest may not declare (the speech models).
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
