//! Finding banked hashes near a frame's hash, and matching a clip against bank items.
//!
//! Multi-index hashing: the 256 bits are cut into 16 chunks of 16 bits, and each chunk
//! position has a table from chunk value to the hashes with that value there. Two hashes
//! within distance `d` differ in at most `d / 16` bits (rounded down) in at least one chunk
//! (if every chunk differed in more, the whole would differ in more than `d`), so looking up
//! every value within that radius of each query chunk finds every hash within `d` and nothing
//! is missed. At `d` 31 that is 17 values per chunk, 272 table reads per query, and with 1M
//! banked hashes a few thousand candidates to check with four popcounts each. A BK-tree was
//! not used: at radius 31 of 256 bits it visits most of the tree.

use crate::vocab::{Action, FrameDetections, HashMatch, Pdq};
use std::collections::HashMap;

const CHUNKS: usize = 16;
const VALUES: usize = 1 << 16;

/// The 16 chunks of a hash, from the left of its hex form.
fn chunks(w: &[u64; 4]) -> [u16; CHUNKS] {
    std::array::from_fn(|k| (w[k / 4] >> (48 - 16 * (k % 4))) as u16)
}

fn distance(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Every 16-bit value within `radius` bits of `v`, `v` first.
fn neighbours(v: u16, radius: u32, out: &mut Vec<u16>) {
    fn flip(v: u16, from: u32, left: u32, out: &mut Vec<u16>) {
        if left == 0 {
            return;
        }
        for b in from..16 {
            let w = v ^ (1 << b);
            out.push(w);
            flip(w, b + 1, left - 1, out);
        }
    }
    out.clear();
    out.push(v);
    flip(v, 0, radius, out);
}

/// Hashes indexed for radius search. Per chunk position, the ids of the hashes sorted by
/// that chunk's value, with where each value's run starts (a table of 65,537 offsets).
pub struct MultiIndex {
    hashes: Vec<[u64; 4]>,
    starts: Vec<Vec<u32>>,
    ids: Vec<Vec<u32>>,
}

impl MultiIndex {
    pub fn build(hashes: Vec<[u64; 4]>) -> Self {
        let n = hashes.len();
        let all: Vec<[u16; CHUNKS]> = hashes.iter().map(chunks).collect();
        let mut starts = Vec::with_capacity(CHUNKS);
        let mut ids = Vec::with_capacity(CHUNKS);
        for k in 0..CHUNKS {
            // A counting sort by the chunk's value.
            let mut start = vec![0u32; VALUES + 1];
            for c in &all {
                start[c[k] as usize + 1] += 1;
            }
            for v in 0..VALUES {
                start[v + 1] += start[v];
            }
            let mut next = start.clone();
            let mut order = vec![0u32; n];
            for (i, c) in all.iter().enumerate() {
                let slot = &mut next[c[k] as usize];
                order[*slot as usize] = i as u32;
                *slot += 1;
            }
            starts.push(start);
            ids.push(order);
        }
        Self {
            hashes,
            starts,
            ids,
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Calls `found(id, distance)` once for every indexed hash within `max_distance` of `q`.
    pub fn within(&self, q: &Pdq, max_distance: u32, mut found: impl FnMut(u32, u32)) {
        if self.hashes.is_empty() {
            return;
        }
        let w = q.words();
        let qc = chunks(&w);
        let radius = max_distance / CHUNKS as u32;
        let mut probe = Vec::new();
        for k in 0..CHUNKS {
            neighbours(qc[k], radius, &mut probe);
            for &v in &probe {
                let (a, b) = (
                    self.starts[k][v as usize] as usize,
                    self.starts[k][v as usize + 1] as usize,
                );
                for &id in &self.ids[k][a..b] {
                    let h = &self.hashes[id as usize];
                    let d = distance(&w, h);
                    if d > max_distance {
                        continue;
                    }
                    // Report each hash once: from the first chunk that is within the radius.
                    let hc = chunks(h);
                    let first = (0..CHUNKS)
                        .find(|&j| (qc[j] ^ hc[j]).count_ones() <= radius)
                        .expect("chunk k is within the radius");
                    if first == k {
                        found(id, d);
                    }
                }
            }
        }
    }
}

/// What matching needs to know of a bank.
#[derive(Debug, Clone, PartialEq)]
pub struct BankMeta {
    pub name: String,
    pub source: String,
    pub action: Action,
}

struct Item {
    bank: usize,
    name: String,
    /// Its distinct hashes in the index.
    hashes: u32,
}

/// A snapshot of every bank's hashes (above the quality floor), indexed: what matching runs
/// against. Immutable; replaced when the banks change.
pub struct BankSet {
    banks: Vec<BankMeta>,
    items: Vec<Item>,
    /// The item of each indexed hash.
    item_of: Vec<u32>,
    index: MultiIndex,
}

impl BankSet {
    /// From the banks and their hashes as (bank position, item, hash); a hash repeated within
    /// an item counts once.
    pub fn build(banks: Vec<BankMeta>, entries: Vec<(usize, String, Pdq)>) -> Self {
        let mut items: Vec<Item> = Vec::new();
        let mut item_ids: HashMap<(usize, String), u32> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut hashes = Vec::with_capacity(entries.len());
        let mut item_of = Vec::with_capacity(entries.len());
        for (bank, name, pdq) in entries {
            let id = *item_ids.entry((bank, name.clone())).or_insert_with(|| {
                items.push(Item {
                    bank,
                    name,
                    hashes: 0,
                });
                (items.len() - 1) as u32
            });
            if !seen.insert((id, pdq)) {
                continue;
            }
            items[id as usize].hashes += 1;
            hashes.push(pdq.words());
            item_of.push(id);
        }
        Self {
            banks,
            items,
            item_of,
            index: MultiIndex::build(hashes),
        }
    }

    /// Hashes indexed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The bank items a clip's frames match, vPDQ-style: the clip's distinct frame hashes of
    /// at least `min_quality` (near-duplicate frames carry their original's hash and are left
    /// out) are each looked up within `max_distance`; for each item touched, the share of
    /// those hashes that matched it and the share of its hashes that were matched. Most
    /// severe bank first, then the closest overlap.
    pub fn match_clip(
        &self,
        frames: &[FrameDetections],
        max_distance: u32,
        min_quality: u8,
    ) -> Vec<HashMatch> {
        // Distinct query hashes with the first and last time each was seen.
        let mut query: Vec<(Pdq, f64, f64)> = Vec::new();
        let mut at: HashMap<Pdq, usize> = HashMap::new();
        for f in frames.iter().filter(|f| f.duplicate_of.is_none()) {
            let Some(p) = f.pdq().0.filter(|p| p.quality >= min_quality) else {
                continue;
            };
            match at.get(&p.hash) {
                Some(&i) => query[i].2 = query[i].2.max(f.time_s),
                None => {
                    at.insert(p.hash, query.len());
                    query.push((p.hash, f.time_s, f.time_s));
                }
            }
        }
        if query.is_empty() || self.is_empty() {
            return Vec::new();
        }
        struct Tally {
            frames: u32,
            banked: std::collections::HashSet<u32>,
            best: u32,
            first_s: f64,
            last_s: f64,
            last_query: usize,
        }
        let mut tally: HashMap<u32, Tally> = HashMap::new();
        for (qi, (q, first_s, last_s)) in query.iter().enumerate() {
            self.index.within(q, max_distance, |id, d| {
                let item = self.item_of[id as usize];
                let t = tally.entry(item).or_insert(Tally {
                    frames: 0,
                    banked: Default::default(),
                    best: u32::MAX,
                    first_s: *first_s,
                    last_s: *last_s,
                    last_query: usize::MAX,
                });
                if t.last_query != qi {
                    t.last_query = qi;
                    t.frames += 1;
                    t.first_s = t.first_s.min(*first_s);
                    t.last_s = t.last_s.max(*last_s);
                }
                t.banked.insert(id);
                t.best = t.best.min(d);
            });
        }
        let mut out: Vec<HashMatch> = tally
            .into_iter()
            .map(|(item, t)| {
                let it = &self.items[item as usize];
                let bank = &self.banks[it.bank];
                HashMatch {
                    bank: bank.name.clone(),
                    source: bank.source.clone(),
                    action: bank.action,
                    item: it.name.clone(),
                    frames: t.frames,
                    query_share: f64::from(t.frames) / query.len() as f64,
                    bank_share: t.banked.len() as f64 / f64::from(it.hashes),
                    best_distance: t.best,
                    first_s: t.first_s,
                    last_s: t.last_s,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.action
                .cmp(&a.action)
                .then(
                    b.query_share
                        .max(b.bank_share)
                        .total_cmp(&a.query_share.max(a.bank_share)),
                )
                .then(a.bank.cmp(&b.bank))
                .then(a.item.cmp(&b.item))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::FramePdq;

    fn random(rng: &mut fastrand::Rng) -> [u64; 4] {
        std::array::from_fn(|_| rng.u64(..))
    }

    /// `h` with `n` distinct bits flipped.
    fn flipped(rng: &mut fastrand::Rng, h: [u64; 4], n: usize) -> [u64; 4] {
        let mut bits: Vec<usize> = (0..256).collect();
        rng.shuffle(&mut bits);
        let mut out = h;
        for b in &bits[..n] {
            out[b / 64] ^= 1 << (b % 64);
        }
        out
    }

    #[test]
    fn radius_search_finds_exactly_what_a_linear_scan_finds() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut hashes: Vec<[u64; 4]> = (0..20_000).map(|_| random(&mut rng)).collect();
        let queries: Vec<[u64; 4]> = (0..200).map(|_| random(&mut rng)).collect();
        // Plant neighbours at every distance around the limit, in every part of the hash.
        for (i, q) in queries.iter().enumerate() {
            hashes.push(flipped(&mut rng, *q, i % 40));
        }
        let index = MultiIndex::build(hashes.clone());
        for max in [0, 15, 16, 31, 32] {
            for q in &queries {
                let mut got = Vec::new();
                index.within(&Pdq::from_words(*q), max, |id, d| got.push((id, d)));
                got.sort();
                let want: Vec<(u32, u32)> = hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (i as u32, distance(q, h)))
                    .filter(|(_, d)| *d <= max)
                    .collect();
                assert_eq!(got, want, "max {max}");
            }
        }
    }

    fn frame(index: u64, time_s: f64, hash: [u64; 4], quality: u8) -> FrameDetections {
        let mut f = FrameDetections::new(index, time_s, Vec::new());
        f.parts.set(
            crate::vocab::PDQ_KEY,
            &FramePdq {
                hash: Pdq::from_words(hash),
                quality,
            },
        );
        f
    }

    #[test]
    fn clips_match_items_by_share_of_frames_each_way() {
        let mut rng = fastrand::Rng::with_seed(11);
        let banked: Vec<[u64; 4]> = (0..10).map(|_| random(&mut rng)).collect();
        let image = random(&mut rng);
        let mut entries: Vec<(usize, String, Pdq)> = banked
            .iter()
            .map(|h| (0, "decision:1".to_string(), Pdq::from_words(*h)))
            .collect();
        entries.push((1, "photo".into(), Pdq::from_words(image)));
        entries
            .extend((0..1000).map(|i| (1, format!("noise{i}"), Pdq::from_words(random(&mut rng)))));
        let set = BankSet::build(
            vec![
                BankMeta {
                    name: "blocked".into(),
                    source: "decisions".into(),
                    action: Action::Block,
                },
                BankMeta {
                    name: "te".into(),
                    source: "ThreatExchange".into(),
                    action: Action::Review,
                },
            ],
            entries,
        );
        // A clip showing 5 of the banked clip's frames (altered by up to 20 bits), then 5
        // unrelated frames, one featureless frame (low quality) and a repeat.
        let mut frames: Vec<FrameDetections> = (0..5)
            .map(|i| frame(i, i as f64, flipped(&mut rng, banked[i as usize], 20), 90))
            .collect();
        frames.extend((5..10).map(|i| frame(i, i as f64, random(&mut rng), 90)));
        frames.push(frame(10, 10.0, flipped(&mut rng, banked[9], 2), 10));
        let mut repeat = frames[0].clone();
        repeat.duplicate_of = Some(0);
        frames.push(repeat);
        let got = set.match_clip(&frames, 31, 50);
        assert_eq!(got.len(), 1, "{got:?}");
        let m = &got[0];
        assert_eq!(
            (m.bank.as_str(), m.item.as_str(), m.action),
            ("blocked", "decision:1", Action::Block)
        );
        assert_eq!((m.frames, m.query_share, m.bank_share), (5, 0.5, 0.5));
        assert_eq!((m.first_s, m.last_s), (0.0, 4.0));
        assert!(m.best_distance <= 20);
        // A banked image shown in one frame is all of that item.
        frames.push(frame(11, 11.0, flipped(&mut rng, image, 3), 90));
        let got = set.match_clip(&frames, 31, 50);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[1].item.as_str(),
                got[1].bank_share,
                got[1].best_distance
            ),
            ("photo", 1.0, 3)
        );
        // Beyond the distance, nothing.
        assert!(set.match_clip(&frames, 1, 50).is_empty());
    }
}
