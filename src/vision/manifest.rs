//! `models/models.toml`: which file each model is, where it came from, and its sha256.
//! Every file is verified at load, so a decision names exactly the weights that made it.

use super::VisionError;
use crate::vocab::{ModelInfo, ModelKind};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
struct ModelEntry {
    name: String,
    kind: ModelKind,
    file: String,
    sha256: String,
    package: String,
    version: String,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    models: Vec<(ModelInfo, PathBuf)>,
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
        for m in file.model {
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
        Ok(Self { models })
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
