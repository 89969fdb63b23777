//! CLIP's image tower: frames and example images into one joint embedding space, where the
//! cosine of two embeddings says how alike their content is. Categories defined by example
//! images are scored with it (`categories`).

use super::preprocess::Preprocess;
use super::runtime::{Runtime, SessionPool};
use super::VisionError;
use image::RgbImage;
use std::path::Path;

/// CLIP ViT-B/16's joint embedding size.
pub const DIM: usize = 512;

pub struct ImageEncoder {
    pool: SessionPool,
    preprocess: Preprocess,
    batch: usize,
}

impl ImageEncoder {
    pub fn load(
        runtime: &Runtime,
        name: &str,
        path: &Path,
        preprocess: Preprocess,
        batch: usize,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
            preprocess,
            batch: batch.max(1),
        })
    }

    /// Unit-length embeddings of each frame, in order (so a dot product is the cosine).
    pub fn embed(&self, frames: &[&RgbImage]) -> Result<Vec<Vec<f32>>, VisionError> {
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.batch) {
            let input = self.preprocess.tensor(chunk);
            all.extend(self.pool.infer(input, |outputs| {
                let out = &outputs[0];
                if out.ndim() != 2 || out.shape()[0] != chunk.len() || out.shape()[1] != DIM {
                    return Err(VisionError::OutputShape {
                        model: self.pool.model().to_string(),
                        shape: out.shape().iter().map(|&d| d as i64).collect(),
                    });
                }
                Ok(out
                    .rows()
                    .into_iter()
                    .map(|r| unit(r.to_vec()))
                    .collect::<Vec<_>>())
            })?);
        }
        Ok(all)
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
