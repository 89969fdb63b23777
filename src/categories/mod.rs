//! Categories defined by example images (as Azure Content Safety's custom categories): an
//! admin gives at least three example images of what to catch, and optionally
//! counter-examples of what must not count; their CLIP embeddings are kept, and every frame
//! looked at is scored by its nearest example, counting only where it is nearer an example
//! than every counter-example. No detector for violence, weapons or hate symbols ships in a
//! package, and no CLIP text encoder does either, so categories are defined by pictures.

mod live;
mod store;

pub use live::LiveCategories;
pub use store::Categories;

use crate::vision::clip::cosine;
use crate::vision::{ImageEncoder, VisionError};
use crate::vocab::{ErrorCode, Failure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A category needs this many examples: one picture is a near-duplicate detector, not a
/// category.
pub const MIN_EXAMPLES: usize = 3;
/// Examples and counter-examples each, per category.
pub const MAX_EXAMPLES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum CategoriesError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("no category named {0:?}")]
    NotFound(String),
    #[error("a category named {0:?} exists: delete it first to redefine it")]
    Exists(String),
    #[error("invalid category: {0}")]
    Invalid(String),
    #[error("{path}: cannot read image: {reason}")]
    Image { path: String, reason: String },
    #[error(transparent)]
    Vision(#[from] VisionError),
}

impl Failure for CategoriesError {
    fn code(&self) -> ErrorCode {
        match self {
            CategoriesError::Store(e) => e.code(),
            CategoriesError::NotFound(_) => ErrorCode::NotFound,
            CategoriesError::Exists(_) => ErrorCode::Conflict,
            CategoriesError::Invalid(_) => ErrorCode::InvalidCategory,
            CategoriesError::Image { .. } => ErrorCode::NotImage,
            CategoriesError::Vision(_) => ErrorCode::Inference,
        }
    }
}

impl From<rusqlite::Error> for CategoriesError {
    fn from(e: rusqlite::Error) -> Self {
        CategoriesError::Store(e.into())
    }
}

/// One example image as kept: its hash (the same picture twice counts once) and embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub image_sha256: String,
    pub embedding: Vec<f32>,
}

/// A category to create.
#[derive(Debug, Clone)]
pub struct NewCategory {
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub examples: Vec<Example>,
    pub counter_examples: Vec<Example>,
}

impl NewCategory {
    /// Names are read by policies as `signals.categories.<name>`, so they are identifiers.
    pub fn validate(&self) -> Result<(), CategoriesError> {
        let invalid = |s: String| Err(CategoriesError::Invalid(s));
        if !crate::vision::manifest::is_identifier(&self.name) || self.name.len() > 64 {
            return invalid(format!(
                "name {:?}: use 1-64 lower-case letters, digits and _, starting with a letter \
                 (policies read it as signals.categories.<name>)",
                self.name
            ));
        }
        let distinct = |e: &[Example]| {
            let mut h: Vec<&str> = e.iter().map(|x| x.image_sha256.as_str()).collect();
            h.sort();
            h.dedup();
            h.len()
        };
        let n = distinct(&self.examples);
        if n < MIN_EXAMPLES {
            return invalid(format!(
                "{n} distinct example images; a category needs at least {MIN_EXAMPLES}"
            ));
        }
        if n > MAX_EXAMPLES || distinct(&self.counter_examples) > MAX_EXAMPLES {
            return invalid(format!(
                "at most {MAX_EXAMPLES} examples and {MAX_EXAMPLES} counter-examples"
            ));
        }
        if let Some(e) = self.examples.iter().find(|e| {
            self.counter_examples
                .iter()
                .any(|c| c.image_sha256 == e.image_sha256)
        }) {
            return invalid(format!(
                "image {} is both an example and a counter-example",
                e.image_sha256
            ));
        }
        Ok(())
    }
}

/// A category as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Category {
    pub name: String,
    pub description: String,
    pub examples: usize,
    pub counter_examples: usize,
    pub created_by: String,
    pub created_at: String,
}

/// The category set as screening uses it: immutable, replaced after every change.
#[derive(Debug, Clone, Default)]
pub struct CategorySet {
    /// A digest of every category's name and example images (and the encoder's sha256): the
    /// same set gives the same version on every replica.
    pub version: String,
    pub categories: Vec<Scored>,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub name: String,
    pub examples: Vec<Vec<f32>>,
    pub counter_examples: Vec<Vec<f32>>,
}

/// One frame's standing against one category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameScore {
    /// Cosine to the nearest example.
    pub score: f32,
    /// Cosine to the nearest counter-example (0 when none are defined).
    pub counter_score: f32,
}

impl FrameScore {
    /// The frame counts for the category only when nearer an example than every
    /// counter-example.
    pub fn counts(&self) -> bool {
        self.score > self.counter_score
    }
}

impl CategorySet {
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    pub(crate) fn new(categories: Vec<Scored>, model_sha256: &str) -> Self {
        let mut h = Sha256::new();
        h.update(model_sha256.as_bytes());
        for c in &categories {
            h.update(b"\0category\0");
            h.update(c.name.as_bytes());
            for (tag, set) in [(b"+", &c.examples), (b"-", &c.counter_examples)] {
                for e in set {
                    h.update(tag);
                    for v in e {
                        h.update(v.to_le_bytes());
                    }
                }
            }
        }
        let version = if categories.is_empty() {
            String::new()
        } else {
            hex::encode(&h.finalize()[..8])
        };
        Self {
            version,
            categories,
        }
    }

    /// Each category's score for one frame embedding, in the set's order.
    pub fn score(&self, embedding: &[f32]) -> Vec<FrameScore> {
        let nearest = |set: &[Vec<f32>]| {
            set.iter()
                .map(|e| cosine(embedding, e))
                .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))))
        };
        self.categories
            .iter()
            .map(|c| FrameScore {
                score: nearest(&c.examples).unwrap_or(0.0),
                counter_score: nearest(&c.counter_examples).unwrap_or(0.0),
            })
            .collect()
    }
}

/// Embeds example images (any format the `image` crate reads), each with its sha256.
pub fn embed_examples(
    encoder: &ImageEncoder,
    paths: &[&Path],
) -> Result<Vec<Example>, CategoriesError> {
    let mut images = Vec::with_capacity(paths.len());
    let mut hashes = Vec::with_capacity(paths.len());
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| CategoriesError::Image {
            path: p.display().to_string(),
            reason: e.to_string(),
        })?;
        hashes.push(hex::encode(Sha256::digest(&bytes)));
        images.push(
            image::load_from_memory(&bytes)
                .map_err(|e| CategoriesError::Image {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?
                .to_rgb8(),
        );
    }
    let refs: Vec<&image::RgbImage> = images.iter().collect();
    let embeddings = encoder.embed(&refs)?;
    Ok(hashes
        .into_iter()
        .zip(embeddings)
        .map(|(image_sha256, embedding)| Example {
            image_sha256,
            embedding,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(tag: &str, v: Vec<f32>) -> Example {
        Example {
            image_sha256: tag.into(),
            embedding: v,
        }
    }

    fn new(name: &str, n: usize) -> NewCategory {
        NewCategory {
            name: name.into(),
            description: String::new(),
            created_by: "admin".into(),
            examples: (0..n)
                .map(|i| example(&format!("e{i}"), vec![1.0]))
                .collect(),
            counter_examples: vec![],
        }
    }

    #[test]
    fn names_and_example_counts_are_checked() {
        assert!(new("weapons", 3).validate().is_ok());
        for bad in ["Weapons", "2guns", "has space", "", "a-b"] {
            let e = new(bad, 3).validate().unwrap_err().to_string();
            assert!(e.contains("lower-case"), "{bad}: {e}");
        }
        let e = new("weapons", 2).validate().unwrap_err().to_string();
        assert!(e.contains("at least 3"), "{e}");
        let mut same = new("weapons", 3);
        same.examples[2].image_sha256 = "e0".into();
        assert!(same
            .validate()
            .unwrap_err()
            .to_string()
            .contains("2 distinct"));
        let mut both = new("weapons", 3);
        both.counter_examples = vec![example("e1", vec![1.0])];
        assert!(both.validate().unwrap_err().to_string().contains("both"));
    }

    #[test]
    fn nearest_example_against_nearest_counter_example() {
        let set = CategorySet::new(
            vec![Scored {
                name: "cat".into(),
                examples: vec![vec![1.0, 0.0], vec![0.6, 0.8]],
                counter_examples: vec![vec![0.0, 1.0]],
            }],
            "m",
        );
        let s = set.score(&[0.8, 0.6]);
        assert!((s[0].score - 0.96).abs() < 1e-6 && (s[0].counter_score - 0.6).abs() < 1e-6);
        assert!(s[0].counts());
        let s = set.score(&[0.0, 1.0]);
        assert!(!s[0].counts(), "{s:?}");
        assert_eq!(set.version.len(), 16);
        assert_eq!(CategorySet::new(vec![], "m").version, "");
    }
}
