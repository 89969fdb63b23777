//! `cargo bench --bench banks`: PDQ hashing and bank matching on the 10 s 1280x720 H.264 clip
//! of the check bench, before (no banks) and after 1M banked hashes, in one run. Reports
//! medians: the screening with and without hashing in alternating pairs (the extra `pdq`
//! stage), one frame's hashes alone, matching the clip against empty banks and against 1M hashes, the import and the
//! snapshot rebuild, and one lookup in the multi-index against a linear scan of the same hashes.
//!
//! The same library calls as the CLI and the server: `Screener::screen_clip`,
//! `BankSet::match_clip` (what the decision-time bank stage runs), `Banks::import`, `Banks::add`.

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::analysers::HashesConfig;
use clipguard::banks::{Banked, MultiIndex, NewBank};
use clipguard::screen::{Live, Screener};
use clipguard::vocab::{Action, Pdq, Signals};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const BANKED: usize = 1_000_000;
/// Banked hashes per item: the frames of a banked clip.
const PER_ITEM: usize = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Screens the clip and matches it against the banks as they are: the signals, the
/// screening's wall time and the matching's.
fn check(s: &Screener, live: &Live, cfg: &HashesConfig, clip: &Path) -> (Signals, f64, f64) {
    let t = Instant::now();
    let mut signals = s.screen_clip(clip).unwrap();
    let screen = ms(t);
    let t = Instant::now();
    let set = live.banks.current().unwrap();
    let matches = set.match_clip(&signals.frames, cfg.max_distance, cfg.min_quality);
    clipguard::analysers::set_hash_matches(&mut signals, &matches);
    (signals, screen, ms(t))
}

fn main() {
    let runs = 5;
    let clip = common::astronaut_zoom_clip();
    let cfg = common::config();
    let ctx = clipguard::service::Context::open(cfg.clone()).unwrap();
    let service = ctx.service(1, 1).unwrap();
    let (with, live) = (service.screener().clone(), service.live().clone());
    // Without hashing: a screener alone (the default policy, which reads the hash matches,
    // would refuse a service without them).
    let mut off = cfg.clone();
    off.update_settings(|h: &mut HashesConfig| h.enabled = false);
    let (without, _) = clipguard::service::Context::open(off)
        .unwrap()
        .screening()
        .unwrap();

    // Before: no banks. Hashing's cost in alternating pairs, so load from other processes
    // falls on both alike.
    let (mut on_ms, mut off_ms, mut pdq_ms, mut match_ms) = (vec![], vec![], vec![], vec![]);
    let mut signals = None;
    for _ in 0..runs {
        let (s, screen, matching) = check(&with, &live, &cfg.settings(), &clip);
        on_ms.push(screen);
        pdq_ms.push(s.timings.stage_ms("pdq"));
        match_ms.push(matching);
        off_ms.push(check(&without, &live, &cfg.settings(), &clip).1);
        signals = Some(s);
    }
    let signals = signals.unwrap();
    let analysed = signals.sampling.analysed_frames;
    let hashed = signals
        .frames
        .iter()
        .filter(|f| f.duplicate_of.is_none() && f.pdq().0.is_some())
        .count();
    println!(
        "banks bench, 10 s 1280x720 H.264 ({analysed} frames analysed, {hashed} hashed), medians of {runs}:"
    );
    println!(
        "  before (no banks): screening {:.0} ms with hashing, {:.0} ms without; pdq stage {:.1} ms ({:.1} ms a hashed frame); matching {:.3} ms",
        median(on_ms.clone()),
        median(off_ms),
        median(pdq_ms.clone()),
        median(pdq_ms) / hashed as f64,
        median(match_ms)
    );

    // One 720p frame alone, on this thread: the reference-exact hash and the centre's.
    let frame = image::imageops::resize(
        &common::rgb("astronaut.png"),
        1280,
        720,
        image::imageops::FilterType::Triangle,
    );
    let (mut full, mut centre) = (vec![], vec![]);
    for _ in 0..30 {
        let t = Instant::now();
        std::hint::black_box(clipguard::vision::pdq::hash(&frame));
        full.push(ms(t));
        let t = Instant::now();
        std::hint::black_box(clipguard::vision::pdq::hash_centre(&frame));
        centre.push(ms(t));
    }
    println!(
        "  one 1280x720 frame alone: PDQ hash {:.2} ms, centre hash {:.2} ms (medians of 30)",
        median(full),
        median(centre)
    );

    // 1M banked hashes: random ones in items of PER_ITEM (the clip's frames are unrelated to
    // them), imported as a hash file, and the clip's own frames banked as a decision would be.
    let banks = ctx.banks();
    banks
        .create(&NewBank {
            name: "bench".into(),
            source: "generated".into(),
            action: Action::Block,
        })
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(1);
    let mut file = String::with_capacity(BANKED * 80);
    let mut hashes: Vec<[u64; 4]> = Vec::with_capacity(BANKED);
    for i in 0..BANKED {
        let h: [u64; 4] = std::array::from_fn(|_| rng.u64(..));
        hashes.push(h);
        writeln!(file, "{},90,clip-{}", Pdq::from_words(h), i / PER_ITEM).unwrap();
    }
    let t = Instant::now();
    let added = banks.import("bench", file.as_bytes()).unwrap();
    let import_ms = ms(t);
    assert_eq!(added.added as usize, BANKED);
    let own: Vec<Banked> = signals
        .frames
        .iter()
        .filter_map(|f| f.pdq().0)
        .map(|pdq| Banked {
            item: "decision:bench".into(),
            pdq,
        })
        .collect();
    banks.add("bench", &own).unwrap();
    let t = Instant::now();
    assert!(live.banks.refresh().unwrap());
    let rebuild_ms = ms(t);
    println!(
        "  import of {BANKED} hashes (a hash file, one transaction): {:.1} s; snapshot rebuild and index: {:.1} s",
        import_ms / 1e3,
        rebuild_ms / 1e3
    );

    // After: the same clip against 1M banked hashes.
    let (mut on_ms, mut pdq_ms, mut match_ms) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        let (s, screen, matching) = check(&with, &live, &cfg.settings(), &clip);
        let matches = clipguard::analysers::hash_matches(&s);
        assert_eq!(matches[0].item, "decision:bench");
        assert_eq!(matches.len(), 1, "random hashes match nothing");
        on_ms.push(screen);
        pdq_ms.push(s.timings.stage_ms("pdq"));
        match_ms.push(matching);
    }
    println!(
        "  after ({} banked hashes): screening {:.0} ms; pdq stage {:.1} ms; matching {:.2} ms ({:.1} us a frame)",
        BANKED + own.len(),
        median(on_ms),
        median(pdq_ms),
        median(match_ms.clone()),
        median(match_ms) * 1e3 / analysed as f64
    );

    // One lookup at distance 31: the multi-index against a linear scan of the same hashes.
    let index = MultiIndex::build(hashes.clone());
    let queries: Vec<Pdq> = signals
        .frames
        .iter()
        .filter_map(|f| f.pdq().0.map(|p| p.hash))
        .collect();
    let (mut mih, mut scan) = (vec![], vec![]);
    for q in &queries {
        let t = Instant::now();
        let mut n = 0;
        index.within(q, 31, |_, _| n += 1);
        mih.push(ms(t) * 1e3);
        let t = Instant::now();
        let w = q.words();
        let found = hashes
            .iter()
            .filter(|h| {
                h.iter()
                    .zip(&w)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum::<u32>()
                    <= 31
            })
            .count();
        scan.push(ms(t) * 1e3);
        assert_eq!(n, found);
    }
    println!(
        "  one lookup within 31 bits of {BANKED} hashes: multi-index {:.1} us, linear scan {:.0} us (medians of {} frames)",
        median(mih),
        median(scan),
        queries.len()
    );
}
