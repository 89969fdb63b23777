//! dlib's face recognition ResNet (converted to ONNX by models/convert/dlib_to_onnx.py): a
//! 128-D metric embedding of an aligned 150x150 chip; the same person is below 0.6 apart.

use super::align::CHIP_SIZE;
use super::runtime::{Runtime, SessionPool};
use super::VisionError;
use crate::vocab::Embedding;
use image::RgbImage;
use ndarray::Array4;
use std::path::Path;

pub const EMBEDDING_DIM: usize = 128;

/// dlib's decision threshold: embeddings closer than this are the same person.
pub const SAME_PERSON_DISTANCE: f32 = 0.6;

pub struct Embedder {
    pool: SessionPool,
    batch: usize,
}

impl Embedder {
    pub fn load(runtime: &Runtime, name: &str, path: &Path) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
            batch: 8,
        })
    }

    /// Embeddings of aligned chips, in order. The graph normalises the raw pixels itself.
    pub fn embed(&self, chips: &[RgbImage]) -> Result<Vec<Embedding>, VisionError> {
        let mut all = Vec::with_capacity(chips.len());
        for chunk in chips.chunks(self.batch) {
            let s = CHIP_SIZE as usize;
            let mut input = Array4::<f32>::zeros((chunk.len(), 3, s, s));
            for (b, chip) in chunk.iter().enumerate() {
                for (x, y, p) in chip.enumerate_pixels() {
                    for c in 0..3 {
                        input[[b, c, y as usize, x as usize]] = p.0[c] as f32;
                    }
                }
            }
            self.pool.infer(input, |outputs| {
                let out = &outputs[0];
                if out.shape() != [chunk.len(), EMBEDDING_DIM] {
                    return Err(VisionError::OutputShape {
                        model: self.pool.model().to_string(),
                        shape: out.shape().iter().map(|&d| d as i64).collect(),
                    });
                }
                all.extend(
                    out.outer_iter()
                        .map(|row| Embedding(row.iter().copied().collect())),
                );
                Ok(())
            })?;
        }
        Ok(all)
    }
}
