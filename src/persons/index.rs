//! Nearest-neighbour search over enrolled face embeddings. Exact search is fast enough at this
//! scale (100k faces in a few milliseconds); the trait lets an ANN index replace it.

use crate::vision::embed::EMBEDDING_DIM;
use crate::vocab::Embedding;
use crate::vocab::PersonId;

pub trait FaceIndex: Send + Sync {
    /// The closest enrolled face, if any: its person and the Euclidean distance.
    fn nearest(&self, query: &Embedding) -> Option<(PersonId, f32)>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// All embeddings in one contiguous array, scanned in full.
#[derive(Default)]
pub struct ExactIndex {
    data: Vec<f32>,
    owners: Vec<PersonId>,
}

impl ExactIndex {
    pub fn add(&mut self, person: PersonId, e: &Embedding) {
        debug_assert_eq!(e.0.len(), EMBEDDING_DIM);
        self.data.extend_from_slice(&e.0);
        self.owners.push(person);
    }
}

impl FaceIndex for ExactIndex {
    fn nearest(&self, query: &Embedding) -> Option<(PersonId, f32)> {
        let q: &[f32; EMBEDDING_DIM] = query.0.as_slice().try_into().ok()?;
        let mut best = (usize::MAX, f32::INFINITY);
        for (i, row) in self.data.chunks_exact(EMBEDDING_DIM).enumerate() {
            let row: &[f32; EMBEDDING_DIM] = row.try_into().expect("chunk size");
            // Eight partial sums let the compiler vectorise the loop.
            let mut acc = [0.0f32; 8];
            for (r, qq) in row.chunks_exact(8).zip(q.chunks_exact(8)) {
                for k in 0..8 {
                    let d = r[k] - qq[k];
                    acc[k] += d * d;
                }
            }
            let d2: f32 = acc.iter().sum();
            if d2 < best.1 {
                best = (i, d2);
            }
        }
        (best.0 != usize::MAX).then(|| (self.owners[best.0], best.1.sqrt()))
    }

    fn len(&self) -> usize {
        self.owners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: f32) -> Embedding {
        Embedding(vec![v; EMBEDDING_DIM])
    }

    #[test]
    fn finds_the_closest_and_its_distance() {
        let mut idx = ExactIndex::default();
        assert!(idx.nearest(&e(0.0)).is_none());
        idx.add(1, &e(0.0));
        idx.add(2, &e(1.0));
        let (who, d) = idx.nearest(&e(0.9)).unwrap();
        assert_eq!(who, 2);
        assert!((d - (0.01f32 * EMBEDDING_DIM as f32).sqrt()).abs() < 1e-4);
    }
}
