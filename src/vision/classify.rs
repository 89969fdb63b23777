//! Generic image classifiers: any ONNX model that maps a frame to one score per label, run
//! with the recipe its `models.toml` entry declares. Scores are raw: thresholds belong to the
//! policy.

use super::preprocess::Preprocess;
use super::runtime::{Runtime, SessionPool};
use super::VisionError;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What turns the model's outputs into scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// The outputs are scores already (the model ends in a softmax or a sigmoid).
    None,
    Softmax,
    Sigmoid,
}

impl Activation {
    fn apply(self, row: &mut [f32]) {
        match self {
            Activation::None => {}
            Activation::Sigmoid => row.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Activation::Softmax => {
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                let sum: f32 = row
                    .iter_mut()
                    .map(|v| {
                        *v = (*v - max).exp();
                        *v
                    })
                    .sum();
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
    }
}

/// A classifier as declared: its recipe, labels (in output order) and activation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierSpec {
    pub preprocess: Preprocess,
    pub labels: Vec<String>,
    pub activation: Activation,
}

pub struct ImageClassifier {
    pool: SessionPool,
    spec: ClassifierSpec,
    batch: usize,
}

impl ImageClassifier {
    pub fn load(
        runtime: &Runtime,
        name: &str,
        path: &Path,
        spec: ClassifierSpec,
        batch: usize,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
            spec,
            batch: batch.max(1),
        })
    }

    pub fn name(&self) -> &str {
        self.pool.model()
    }

    pub fn labels(&self) -> &[String] {
        &self.spec.labels
    }

    /// One score per label for each frame, in order.
    pub fn classify(&self, frames: &[&RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.batch) {
            let input = self.spec.preprocess.tensor(chunk);
            let n = self.spec.labels.len();
            all.extend(self.pool.infer(input, |outputs| {
                let out = &outputs[0];
                if out.ndim() != 2 || out.shape()[0] != chunk.len() || out.shape()[1] != n {
                    return Err(VisionError::OutputShape {
                        model: self.name().to_string(),
                        shape: out.shape().iter().map(|&d| d as i64).collect(),
                    });
                }
                Ok(out
                    .rows()
                    .into_iter()
                    .map(|r| {
                        let mut row: Vec<f32> = r.to_vec();
                        self.spec.activation.apply(&mut row);
                        row
                    })
                    .collect::<Vec<_>>())
            })?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations() {
        let mut r = vec![1.0, 2.0, 3.0];
        Activation::Softmax.apply(&mut r);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(r[2] > r[1] && r[1] > r[0]);
        let mut s = vec![0.0, 100.0];
        Activation::Sigmoid.apply(&mut s);
        assert_eq!(s, vec![0.5, 1.0]);
        let mut n = vec![0.25, 0.75];
        Activation::None.apply(&mut n);
        assert_eq!(n, vec![0.25, 0.75]);
    }
}
